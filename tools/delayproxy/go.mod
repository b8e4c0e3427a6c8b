module site-storage/tools/delayproxy

go 1.26

"""storagectl: the operators' and support staff's command-line tool for site-storage."""

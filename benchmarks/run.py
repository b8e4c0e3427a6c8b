"""`make bench`: the program benchmark, the verify, media and backup-set ones, then the stack-file one."""

from __future__ import annotations

import sys

from benchmarks import backup_bench, media_bench, program_bench, stackfile_bench, verify_bench


def main(argv: list[str] | None = None) -> int:
    statuses = [
        program_bench.main(argv),
        verify_bench.main(),
        media_bench.main(),
        backup_bench.main(),
        stackfile_bench.main(),
    ]
    return max(statuses)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`make bench`: the program benchmark, the `storagectl verify` and `storagectl media` ones, then the stack-file one."""

from __future__ import annotations

import sys

from benchmarks import media_bench, program_bench, stackfile_bench, verify_bench


def main(argv: list[str] | None = None) -> int:
    statuses = [program_bench.main(argv), verify_bench.main(), media_bench.main(), stackfile_bench.main()]
    return max(statuses)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

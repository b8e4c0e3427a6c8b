"""`make bench`: the program benchmark, the `storagectl verify` benchmark, then the `storagectl media` one."""

from __future__ import annotations

import sys

from benchmarks import media_bench, program_bench, verify_bench


def main(argv: list[str] | None = None) -> int:
    statuses = [program_bench.main(argv), verify_bench.main(), media_bench.main()]
    return max(statuses)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

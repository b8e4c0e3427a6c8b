"""`make bench`: the program benchmark, then the `storagectl verify` benchmark."""

from __future__ import annotations

import sys

from benchmarks import program_bench, verify_bench


def main(argv: list[str] | None = None) -> int:
    statuses = [program_bench.main(argv), verify_bench.main()]
    return max(statuses)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

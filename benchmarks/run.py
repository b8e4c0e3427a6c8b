"""`make bench`: the program benchmark, then the `storagectl verify` benchmark when it exists."""

from __future__ import annotations

import importlib
import importlib.util
import sys

from benchmarks import program_bench

VERIFY_BENCH = "benchmarks.verify_bench"


def main(argv: list[str] | None = None) -> int:
    status = program_bench.main(argv)
    # Another engineer owns the verify benchmark; run it only once it is there.
    if importlib.util.find_spec(VERIFY_BENCH) is not None:
        importlib.import_module(VERIFY_BENCH).main()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

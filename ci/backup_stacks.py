"""Which stacks the scheduled backup workflow backs up: those whose stack file declares site-storage:backups.

    .venv/bin/python ci/backup_stacks.py [--skip local]

prints a JSON list of stack names. Stack files are read with the project's own reader; one that
does not validate is named on stderr and skipped (its previews and deploys fail on their own).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from components.config import ConfigError  # noqa: E402
from storagectl.stack_files import read_stack_file, stack_name  # noqa: E402


def stacks_with_backups(stacks_dir: Path, skip: list[str]) -> list[str]:
    chosen = []
    for path in sorted(stacks_dir.glob("Pulumi.*.yaml")):
        name = stack_name(path)
        if name in skip:
            continue
        try:
            declared = read_stack_file(path).settings().backups is not None
        except ConfigError as error:
            print(f"note: {path.name}: skipped: {error.problems[0]}", file=sys.stderr)
            continue
        if declared:
            chosen.append(name)
    return chosen


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--skip", action="append", default=[], help="a stack never backed up here (repeatable)")
    parser.add_argument("--stacks-dir", type=Path, default=ROOT / "stacks")
    arguments = parser.parse_args(argv)
    print(json.dumps(stacks_with_backups(arguments.stacks_dir, arguments.skip)))


if __name__ == "__main__":
    main()

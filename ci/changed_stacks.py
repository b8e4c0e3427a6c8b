"""Which stacks a change must preview (or deploy): the matrix of the GitHub workflows.

    git diff --name-only --no-renames BASE HEAD | python ci/changed_stacks.py [--skip local]

prints a JSON list of stack names. A stack is chosen when its file stacks/Pulumi.<stack>.yaml
changed; every stack when the program, the components or the policy pack changed; none for
anything else (docs, tests, storagectl). A stack whose file no longer exists is not previewed
(nothing to preview; protected buckets stop any deletion) and is named on stderr.
Standard library only: the workflow runs it before anything is installed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable
from pathlib import Path

ALL_STACKS_PREFIXES = ("components/", "policy/")
ALL_STACKS_FILES = ("__main__.py", "Pulumi.yaml", "pyproject.toml", "uv.lock")
STACK_FILE = re.compile(r"^stacks/Pulumi\.(?P<stack>[A-Za-z0-9_.-]+)\.ya?ml$")


def changes_every_stack(path: str) -> bool:
    return path in ALL_STACKS_FILES or path.startswith(ALL_STACKS_PREFIXES)


def changed_stack(path: str) -> str | None:
    match = STACK_FILE.match(path)
    return match.group("stack") if match else None


def existing_stacks(stacks_dir: Path) -> list[str]:
    """Stacks that have a file in the checked-out tree."""
    names = (changed_stack(f"stacks/{path.name}") for path in stacks_dir.glob("Pulumi.*.y*ml"))
    return sorted(name for name in names if name)


def stacks_to_preview(changed: Iterable[str], existing: Iterable[str], skip: Iterable[str] = ()) -> list[str]:
    """The stacks `changed` paths affect, limited to `existing` ones and without `skip`."""
    paths = [path.strip().removeprefix("./") for path in changed if path.strip()]
    candidates = set(existing) - set(skip)
    if any(changes_every_stack(path) for path in paths):
        return sorted(candidates)
    return sorted({stack for path in paths if (stack := changed_stack(path))} & candidates)


def gone_stacks(changed: Iterable[str], existing: Iterable[str]) -> list[str]:
    """Stacks whose changed file is not in the tree: deleted, or never a stack here."""
    return sorted({stack for path in changed if (stack := changed_stack(path.strip()))} - set(existing))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print the JSON list of stacks that changed paths (stdin) affect.")
    parser.add_argument("--stacks-dir", type=Path, default=Path("stacks"))
    parser.add_argument("--skip", action="append", default=[], help="A stack never previewed or deployed by CI.")
    args = parser.parse_args(argv)
    changed = sys.stdin.read().splitlines()
    existing = existing_stacks(args.stacks_dir)
    for stack in gone_stacks(changed, existing):
        print(f"not previewed: stacks/Pulumi.{stack}.yaml changed but is not in the tree", file=sys.stderr)
    print(json.dumps(stacks_to_preview(changed, existing, args.skip)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

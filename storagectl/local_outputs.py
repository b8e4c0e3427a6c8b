"""Where `storagectl local up` keeps a local stack's outputs, for `settings` and `verify` to read.

The file has exactly the shape of `pulumi stack output --json --show-secrets`, with the local
server's real keys in it, so it is written with mode 0600 under `.local/` (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

from storagectl.stack_files import project_root

LOCAL_DIR = ".local"


def local_outputs_path(stack: str) -> Path:
    return project_root() / LOCAL_DIR / f"outputs-{stack}.json"

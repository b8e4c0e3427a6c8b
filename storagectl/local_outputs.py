"""Where `storagectl local up` keeps a local stack's outputs, for `settings` and `verify` to read.

The file has exactly the shape of `pulumi stack output --json --show-secrets`, with the local
server's real keys in it, so it is written with mode 0600 under `.local/` (git-ignored).
"""

from __future__ import annotations

from pathlib import Path

from components.config import ConfigError, StackSettings
from storagectl.stack_files import project_root

LOCAL_DIR = ".local"


def local_outputs_path(stack: str) -> Path:
    return project_root() / LOCAL_DIR / f"outputs-{stack}.json"


def local_up_command(stack: str) -> str:
    """What provisions a local stack and writes its outputs: the next step wherever they are missing."""
    return f"storagectl local up --stack {stack}"


def is_local_stack(settings: StackSettings) -> bool:
    """A stack `storagectl local` works on: region custom, endpoint on this machine."""
    from storagectl.local.server import is_loopback  # the server module imports this one

    region = settings.region
    return region.kind == "custom" and is_loopback(region.endpoint_url)


def stack_is_local(stack: str) -> bool:
    """Whether stacks/Pulumi.<stack>.yaml is a valid local stack (False when it is missing or invalid)."""
    from storagectl.stack_files import read_stack_file, stack_path

    try:
        return is_local_stack(read_stack_file(stack_path(stack)).settings())
    except ConfigError:
        return False


def applied_by_local_up(stack: str) -> bool:
    """Whether `storagectl local up`, not `pulumi up`, is the stack's next step.

    A local stack can run through the engine too (`make pulumi`, tests/engine): it is `local up`'s
    when `local up` wrote its outputs, or when no Pulumi CLI is here to run anything else.
    """
    from storagectl import pulumi_runner

    if not stack_is_local(stack):
        return False
    return local_outputs_path(stack).is_file() or not pulumi_runner.runner().available()

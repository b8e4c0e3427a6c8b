"""A site's own keys by generation: which exist, under which names, and which one the site's settings carry.

The stack file says which generation is current (`key_generation`, default 1) and what became of
the previous one (`previous_key`: active, inactive or absent, default absent). Generation 1 keeps the
name every site has had since the start (`<site>-key`), so stacks that never rotated see no change;
later generations are new resources (`<site>-key-2`, ...), so a rotation adds one key beside the old
one instead of replacing it, and the old key lives until the stack says it is gone. Names never move,
so no Alias is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

PREVIOUS_KEY_STATES = ("active", "inactive", "absent")
"""active: the previous generation's key still works; inactive: it exists but is refused (AWS only);
absent: it is deleted."""
DEFAULT_PREVIOUS_KEY = "absent"
MAX_KEY_GENERATION = 9999
"""A rotation a quarter for 2,500 years; keeps names short."""
AWS_ACCESS_KEY_TYPE = "aws:iam/accessKey:AccessKey"
EXOSCALE_API_KEY_TYPE = "exoscale:index/iamApiKey:IamApiKey"
KEY_TYPES = frozenset({AWS_ACCESS_KEY_TYPE, EXOSCALE_API_KEY_TYPE})
"""The resources holding a site's own key (components/site_storage.py)."""


def key_resource_name(site: str, generation: int) -> str:
    """The Pulumi name of a site's key of `generation`: `<site>-key` for the first, as before rotation existed."""
    return f"{site}-key" if generation == 1 else f"{site}-key-{generation}"


def exoscale_key_name(identity: str, generation: int) -> str:
    """The Exoscale API key's own name: the site's identity (role name) for the first generation, as before."""
    return identity if generation == 1 else f"{identity}-key-{generation}"


@dataclass(frozen=True)
class DeclaredKey:
    """One key a site's stack entry asks for."""

    generation: int
    current: bool
    """The key the site's settings (DSNs, STORAGES) carry."""
    active: bool
    """False for a previous key the stack keeps but deactivated (AWS status Inactive)."""

    def resource_name(self, site: str) -> str:
        return key_resource_name(site, self.generation)

    @property
    def role(self) -> str:
        return "current" if self.current else "previous"


def declared_keys(generation: int, previous_key: str) -> tuple[DeclaredKey, ...]:
    """The keys a site has, oldest first: the previous generation's (unless absent), then the current one."""
    current = DeclaredKey(generation, current=True, active=True)
    if generation <= 1 or previous_key == "absent":
        return (current,)
    return (DeclaredKey(generation - 1, current=False, active=previous_key == "active"), current)

"""What the engine registered (a `pulumi stack export`) and what the offline preview reports, in one shape.

Each resource is compared by type, name, the site (its parent SiteStorage component's name),
protect, and its inputs. The dynamic provider's own input `__provider` (its pickle, a secret) is
the engine's, not the program's, and numbers compare by value (the wire's 3600.0 is 3600).
"""

from __future__ import annotations

import json
from typing import Any

COMPONENT_TYPE = "site-storage:index:SiteStorage"
ENGINE_INPUTS = frozenset({"__provider"})


def _normal(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _normal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_normal(item) for item in value]
    return value


def _key(resource: dict[str, Any]) -> tuple[str, str]:
    return resource["type"], resource["name"]


def offline_resources(preview_json: str) -> list[dict[str, Any]]:
    """`storagectl preview --json`'s resources."""
    resources = json.loads(preview_json)["resources"]
    shaped = [
        {
            "type": r["type"],
            "name": r["name"],
            "site": r["site"],
            "protect": bool(r["protect"]),
            "inputs": _normal(r["inputs"]),
        }
        for r in resources
    ]
    return sorted(shaped, key=_key)


def registered_resources(state: dict[str, Any]) -> list[dict[str, Any]]:
    """The custom resources in a checkpoint whose parent is a SiteStorage component."""
    resources = state["deployment"].get("resources", [])
    sites = {r["urn"]: r["urn"].rsplit("::", 1)[1] for r in resources if r["type"] == COMPONENT_TYPE}
    shaped = []
    for r in resources:
        if not r.get("custom") or r.get("parent") not in sites:
            continue
        inputs = {key: value for key, value in r.get("inputs", {}).items() if key not in ENGINE_INPUTS}
        shaped.append(
            {
                "type": r["type"],
                "name": r["urn"].rsplit("::", 1)[1],
                "site": sites[r["parent"]],
                "protect": bool(r.get("protect", False)),
                "inputs": _normal(inputs),
            }
        )
    return sorted(shaped, key=_key)

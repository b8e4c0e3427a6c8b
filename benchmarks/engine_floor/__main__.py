"""The engine floor's program (copied with floor_provider.py into the floor project by benchmarks.engine_bench).

It registers the resources the real program registers for the same stack (the same types, names,
parents, protect and inputs, read from resources.json, recorded by the offline evaluation) with
a dynamic provider that does nothing: no config parsing, no component logic, no outputs, no S3.
What the engine, the language host and the dynamic-provider host cost for those resources is
then the floor the real program's runs are divided by.
"""

import json
from pathlib import Path

import pulumi
from floor_provider import Nothing
from pulumi.dynamic import Resource

NOTHING = Nothing()
CLASSES: dict[str, type[Resource]] = {}


def resource_class(token: str) -> type[Resource]:
    """A dynamic resource class whose type token is `token` (`pulumi-python:dynamic/<module>:<Name>`)."""
    if token not in CLASSES:
        module, name = token.split("/", 1)[1].split(":")
        CLASSES[token] = type(name, (Resource,), {}, module=module, name=name)
    return CLASSES[token]


components: dict[str, pulumi.ComponentResource] = {}
for recorded in json.loads(Path("resources.json").read_text(encoding="utf-8")):
    site = recorded["site"]
    if site not in components:
        components[site] = pulumi.ComponentResource("site-storage:index:SiteStorage", site)
    options = pulumi.ResourceOptions(parent=components[site], protect=recorded["protect"])
    resource_class(recorded["type"])(NOTHING, recorded["name"], recorded["inputs"], options)

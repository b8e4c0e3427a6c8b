"""The SDK floor: the recorded resources registered directly under the same mock runtime.

Run as `python -m benchmarks.floor_child RESOURCES.json [--check] [--as-plugin]` in a fresh
process, so its interpreter start-up and imports count like the program's. It runs no
component logic, config parsing or output building: each recorded resource is built with its
SDK class and the recorded inputs, under the harness's own `PreviewMocks` and GC policy.
Generic-S3 resources are `pulumi.dynamic.Resource`s, whose SDK registration pickles their
provider each time. `--as-plugin` registers them instead as plain custom resources of a
package `site-storage-s3`, as a provider plugin's SDK classes would: the other design measured.
`--check` compares what the mock received with the recording, which proves the floor
registers the same inputs.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import sys
from typing import Any

import pulumi
from pulumi.dynamic import Resource as DynamicResource

from components.generic_s3.resources import PROVIDERS, RESOURCE_CLASSES

# The harness's own mocks, so the floor answers exactly like preview does. This also imports
# components.config and ruamel.yaml (~35 ms), which the floor counts: a bias under 1% at 1,000 sites.
from storagectl.offline import PROJECT, PreviewMocks, collections_paused, worker_threads_joined

# Package of a type token -> the Python SDK that implements it.
SDK_MODULES = {"aws": "pulumi_aws", "exoscale": "pulumiverse_exoscale"}
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def resource_class(type_token: str) -> type[pulumi.CustomResource]:
    """`aws:s3/bucket:Bucket` -> pulumi_aws.s3.Bucket; `pulumi:providers:aws` -> pulumi_aws.Provider."""
    package, module_path, class_name = type_token.split(":")
    if package == "pulumi" and module_path == "providers":
        cls: type[pulumi.CustomResource] = importlib.import_module(SDK_MODULES[class_name]).Provider
        return cls
    # `index` resources live at the package root; others in the module before the slash.
    module = module_path.split("/")[0]
    path = SDK_MODULES[package] if module == "index" else f"{SDK_MODULES[package]}.{module}"
    cls = getattr(importlib.import_module(path), class_name)
    return cls


def snake_case(value: Any) -> Any:
    """Wire (camelCase) keys back to the Python names the SDK translates them from.

    Map keys such as tag names go through too; lowercase ones come out unchanged, and
    `--check` would catch one that did not.
    """
    if isinstance(value, dict):
        return {_CAMEL.sub(r"_\1", key).lower(): snake_case(item) for key, item in value.items()}
    if isinstance(value, list):
        return [snake_case(item) for item in value]
    return value


def provider_kwargs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Providers receive non-string inputs JSON-encoded; decode them so the SDK encodes them again."""
    decoded: dict[str, Any] = {}
    for key, value in inputs.items():
        try:
            decoded[key] = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            decoded[key] = value
    return snake_case(decoded)


PLUGIN_PACKAGE = "site-storage-s3"


def register(recorded: list[dict[str, Any]], *, as_plugin: bool = False) -> None:
    # Explicit providers are recorded before the resources that use them, one per package.
    providers: dict[str, pulumi.ProviderResource] = {}
    for entry in recorded:
        token, name, inputs = entry["type"], entry["name"], entry["inputs"]
        if token in PROVIDERS:
            opts = pulumi.ResourceOptions(protect=entry["protect"])
            if as_plugin:
                pulumi.CustomResource(f"{PLUGIN_PACKAGE}:index:{token.rsplit(':', 1)[1]}", name, dict(inputs), opts)
            else:
                # The SDK's own registration, without the typed constructor of components/generic_s3.
                resource = object.__new__(RESOURCE_CLASSES[token])
                DynamicResource.__init__(resource, PROVIDERS[token], name, dict(inputs), opts)
            continue
        cls = resource_class(token)
        if issubclass(cls, pulumi.ProviderResource):
            providers[token.split(":")[2]] = cls(name, **provider_kwargs(inputs))
            continue
        opts = pulumi.ResourceOptions(provider=providers.get(token.split(":")[0]), protect=entry["protect"])
        cls(name, opts=opts, **snake_case(inputs))


def main(argv: list[str]) -> int:
    with open(argv[0], encoding="utf-8") as handle:
        recorded: list[dict[str, Any]] = json.load(handle)
    mocks = PreviewMocks()
    logger = logging.getLogger("site-storage.floor")
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="floor", preview=True, logger=logger)
    # Like the program: the harness's GC policy, and wait until every registration has settled.
    with worker_threads_joined(), collections_paused():
        pulumi.runtime.test(lambda: register(recorded, as_plugin="--as-plugin" in argv))()
    received = [(typ, name, inputs) for typ, name, inputs, custom in mocks.registered if custom]
    if "--check" in argv:
        expected = sorted(
            (entry["type"], entry["name"], json.dumps(entry["inputs"], sort_keys=True)) for entry in recorded
        )
        actual = sorted((typ, name, json.dumps(inputs, sort_keys=True)) for typ, name, inputs in received)
        if expected != actual:
            differ = [pair for pair in zip(expected, actual, strict=False) if pair[0] != pair[1]][:3]
            print(f"floor registered different inputs than recorded, e.g. {differ}", file=sys.stderr)
            return 1
    print(json.dumps({"resources": len(received)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Driving the generic-S3 provider code without the Pulumi engine, the way the engine drives it.

`storagectl local up` and the tests take an offline evaluation's resources and run them
through the same provider classes `pulumi up` runs: check, then diff against the previous
outputs (or, without them, against the live state read from the server, as `pulumi up
--refresh` would), then create or update. Only generic-S3 types are handled; AWS stacks go
through pulumi-aws and the Pulumi CLI. Deleting obeys `protect` like the engine, and the
provider itself refuses to delete a bucket that holds objects.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components.generic_s3.connection import Clients, ProviderError
from components.generic_s3.resources import BUCKET_TYPE, PROVIDER_CLASSES
from storagectl.offline import RecordedResource

CREATE, UPDATE, SAME, DELETE, REFUSED = "create", "update", "same", "delete", "refused"


@dataclass(frozen=True)
class Step:
    """What happened to one resource."""

    name: str
    type: str
    action: str
    detail: str = ""


class ProvisionError(Exception):
    """A resource could not be checked or applied; `problems` holds one line each."""

    def __init__(self, problems: Sequence[str], steps: Sequence[Step] = ()) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)
        self.steps = list(steps)
        """The steps done before the failure."""


def is_generic(resource: RecordedResource) -> bool:
    return resource.type in PROVIDER_CLASSES


def _ordered(resources: Iterable[RecordedResource]) -> list[RecordedResource]:
    """Buckets before their configuration (the program's depends_on), program order otherwise."""
    generic = [resource for resource in resources if is_generic(resource)]
    return sorted(generic, key=lambda resource: resource.type != BUCKET_TYPE)


def _describe(error: Exception) -> str:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"{details.get('Code', 'error')}: {details.get('Message', '')}".rstrip(": ")
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def provision(
    resources: Iterable[RecordedResource],
    clients: Clients,
    previous: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[list[Step], dict[str, dict[str, Any]]]:
    """Create or update every generic-S3 resource; returns the steps and each resource's outputs.

    `previous` maps resource names to the outputs of an earlier run (the engine's state); a
    resource missing from it is read from the server first.
    """
    steps: list[Step] = []
    outputs: dict[str, dict[str, Any]] = {}
    for resource in _ordered(resources):
        provider = PROVIDER_CLASSES[resource.type]().connect(clients)
        checked = provider.check({}, dict(resource.inputs))
        if checked.failures:
            problems = [f"{resource.name}: {failure.property}: {failure.reason}" for failure in checked.failures]
            raise ProvisionError(problems, steps)
        inputs = checked.inputs
        try:
            old = (previous or {}).get(resource.name)
            if old is None:
                live = provider.read(inputs["bucket"], inputs)
                old = live.outs if live.id else None
            if old is None:
                outputs[resource.name] = dict(provider.create(inputs).outs or {})
                steps.append(Step(resource.name, resource.type, CREATE))
                continue
            diff = provider.diff(inputs["bucket"], dict(old), inputs)
            if not diff.changes:
                outputs[resource.name] = dict(old)
                steps.append(Step(resource.name, resource.type, SAME))
                continue
            if diff.replaces:
                raise ProviderError(
                    f"changing {', '.join(diff.replaces)} replaces the resource; do it with the Pulumi CLI"
                )
            outputs[resource.name] = dict(provider.update(inputs["bucket"], dict(old), inputs).outs or {})
            steps.append(Step(resource.name, resource.type, UPDATE))
        except (ProviderError, ClientError, BotoCoreError) as error:
            raise ProvisionError([f"{resource.name}: {_describe(error)}"], steps) from None
    return steps, outputs


def deprovision(resources: Iterable[RecordedResource], clients: Clients) -> list[Step]:
    """Delete the resources, configuration before buckets; a protected bucket is refused, as the engine does."""
    steps: list[Step] = []
    for resource in reversed(_ordered(resources)):
        if resource.protect:
            steps.append(Step(resource.name, resource.type, REFUSED, "protected: unprotect it first"))
            continue
        provider = PROVIDER_CLASSES[resource.type]().connect(clients)
        try:
            provider.delete(resource.inputs["bucket"], dict(resource.inputs))
        except (ProviderError, ClientError, BotoCoreError) as error:
            steps.append(Step(resource.name, resource.type, REFUSED, _describe(error)))
            continue
        steps.append(Step(resource.name, resource.type, DELETE))
    return steps

"""The site-storage rules as pulumi-policy policies (what `policy/__main__.py` packs).

Building these objects starts nothing; only `PolicyPack(...)` starts the analyzer server, so
tests build and call them freely with a stand-in for the stack config.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pulumi
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import (
    UNKNOWN_ARCHIVE_VALUE,
    UNKNOWN_ARRAY_VALUE,
    UNKNOWN_ASSET_VALUE,
    UNKNOWN_BOOLEAN_VALUE,
    UNKNOWN_NUMBER_VALUE,
    UNKNOWN_OBJECT_VALUE,
    UNKNOWN_STRING_VALUE,
)

from policy.access_rules import SECRET_HOLDERS
from policy.model import (
    NAMESPACE,
    STACK_TYPE,
    UNKNOWN,
    PlainResource,
    ResourceContext,
    StackFacts,
    StackView,
    facts_from_config,
    site_of_urn,
)
from policy.site_storage_policies import RESOURCE_RULES, STACK_RULES, ResourceRule, StackRule

PACK_NAME = "site-storage-guardrails"
FactsSource = Callable[[], StackFacts]
_UNKNOWNS = frozenset(
    {
        UNKNOWN_ARCHIVE_VALUE,
        UNKNOWN_ARRAY_VALUE,
        UNKNOWN_ASSET_VALUE,
        UNKNOWN_BOOLEAN_VALUE,
        UNKNOWN_NUMBER_VALUE,
        UNKNOWN_OBJECT_VALUE,
        UNKNOWN_STRING_VALUE,
    }
)
_CONFIG_KEYS = ("region", "endpoint", "protect", "bucket_prefix", "sites")


def facts_from_engine() -> StackFacts:
    """The stack's `site-storage:*` config, which the engine hands every policy pack it runs."""
    config = pulumi.Config(NAMESPACE)
    return facts_from_config({key: config.get(key) for key in _CONFIG_KEYS})


def plain(value: Any) -> Any:
    """pulumi-policy's props as plain dicts and lists; unknown preview values become UNKNOWN.

    Its proxies raise on reading an unknown value, which would turn a check into an advisory
    "cannot run during preview"; the checks treat UNKNOWN as failing instead.
    """
    if isinstance(value, str):
        return UNKNOWN if value in _UNKNOWNS else value
    if isinstance(value, Mapping):
        target = value["__target"] if _is_proxy(value) else value
        return {str(key): plain(target[key]) for key in target}
    if isinstance(value, Sequence):
        target = value["__target"] if _is_proxy(value) else value  # type: ignore[call-overload]
        return [plain(item) for item in target]
    return value


def _is_proxy(value: Any) -> bool:
    return type(value).__module__.startswith("pulumi_policy.")


def _resource_policy(rule: ResourceRule, facts: FactsSource) -> ResourceValidationPolicy:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if args.resource_type not in rule.resource_types:
            return
        context = ResourceContext(
            name=args.name, site=site_of_urn(args.opts.parent), protect=bool(args.opts.protect), stack=facts()
        )
        for message in rule.check(args.resource_type, plain(args.props), context):
            report_violation(message, None)

    return ResourceValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY,
    )


def _parent_urn(resource: PolicyResource) -> str | None:
    return resource.opts.parent or (resource.parent.urn if resource.parent is not None else None)


def stack_view(resources: Sequence[PolicyResource], facts: StackFacts) -> StackView:
    """A StackView of pulumi-policy's stack resources (whose props are their outputs)."""
    plain_resources = [
        PlainResource(
            type=resource.resource_type,
            name=resource.name,
            site=site_of_urn(_parent_urn(resource)),
            inputs=plain(resource.props),
            protect=bool(resource.opts.protect),
        )
        for resource in resources
    ]
    outputs = next((item.inputs for item in plain_resources if item.type == STACK_TYPE), {})
    # Known at the end of `pulumi up`, where stack policies run again; unknown in preview.
    held = (item.inputs.get(SECRET_HOLDERS[item.type]) for item in plain_resources if item.type in SECRET_HOLDERS)
    secrets = frozenset(secret for secret in held if isinstance(secret, str))
    return StackView(resources=plain_resources, outputs=outputs, facts=facts, secrets=secrets)


def _stack_policy(rule: StackRule, facts: FactsSource) -> StackValidationPolicy:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        view = stack_view(args.resources, facts())
        urns = {resource.name: resource.urn for resource in args.resources}
        stack_urn = next((r.urn for r in args.resources if r.resource_type == STACK_TYPE), None)
        for finding in rule.check(view):
            report_violation(finding.message, urns.get(finding.resource, stack_urn))

    return StackValidationPolicy(
        name=rule.name,
        description=rule.description,
        validate=validate,
        enforcement_level=EnforcementLevel.MANDATORY if rule.mandatory else EnforcementLevel.ADVISORY,
    )


def pack_policies(facts: FactsSource = facts_from_engine) -> list[Policy]:
    """Every rule as a pulumi-policy policy; `facts` reads the stack config (tests pass their own)."""
    return [
        *(_resource_policy(rule, facts) for rule in RESOURCE_RULES),
        *(_stack_policy(rule, facts) for rule in STACK_RULES),
    ]

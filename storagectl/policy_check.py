"""`storagectl preview --policy`: the policy pack's checks over the offline evaluation.

The same rule functions the pack runs (policy.site_storage_policies), fed from the mock
runtime's recorded resources instead of pulumi-policy's arguments, so the guardrails hold on
machines without the Pulumi CLI.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console

from policy.model import PlainResource, StackView, facts_from_config, unwrap_secrets, where
from policy.site_storage_policies import RESOURCE_RULES, STACK_RULES
from storagectl.offline import Evaluation
from storagectl.stack_files import SECRET_PLACEHOLDER


@dataclass(frozen=True)
class Violation:
    policy: str
    site: str | None
    resource: str
    """Logical resource name, or the output path for output findings."""
    message: str
    """Names the site (`site acme-live: ...`), as the pack's messages do."""
    mandatory: bool = True

    def line(self) -> str:
        """`policy: site: resource: message`, one line."""
        place = where(self.site)
        body = self.message.removeprefix(f"{place}: ")
        level = "" if self.mandatory else " (advisory)"
        return f"{self.policy}{level}: {place}: {self.resource}: {body}"


def check_evaluation(evaluation: Evaluation, config_values: Mapping[str, Any]) -> list[Violation]:
    """Every rule over one evaluated stack; `config_values` are its `site-storage:*` values."""
    facts = facts_from_config(config_values)
    # The mock monitor keeps secret markers in inputs; the pack sees plain values.
    resources = [
        PlainResource(type=r.type, name=r.name, site=r.site, inputs=unwrap_secrets(r.inputs), protect=r.protect)
        for r in evaluation.resources
    ]
    violations = [
        Violation(rule.name, resource.site, resource.name, message, rule.mandatory)
        for rule in RESOURCE_RULES
        for resource in resources
        if resource.type in rule.resource_types
        for message in rule.check(resource.type, resource.inputs, resource.context(facts))
    ]
    # Offline, every secret (access key secrets, secure: config) is this placeholder.
    view = StackView(resources, evaluation.outputs, facts, secrets=frozenset({SECRET_PLACEHOLDER}))
    violations.extend(
        Violation(rule.name, finding.site, finding.resource, finding.message, rule.mandatory)
        for rule in STACK_RULES
        for finding in rule.check(view)
    )
    return violations


def report(violations: list[Violation], stderr: Console) -> bool:
    """Print one line per violation; True when a mandatory policy failed."""
    for violation in violations:
        stderr.print(violation.line(), markup=False, highlight=False)
    failed = [violation for violation in violations if violation.mandatory]
    if failed:
        stderr.print(f"policy: {len(failed)} mandatory violation(s)", markup=False, highlight=False)
    return bool(failed)

"""Checks on credentials: what a site's IAM policy names, and where secrets may appear."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from policy.model import (
    UNKNOWN,
    Finding,
    ResourceContext,
    StackView,
    as_list,
    field_of,
    policy_document,
    statements,
    where,
)

IAM_POLICY_TYPES = frozenset(
    {
        "aws:iam/userPolicy:UserPolicy",
        "aws:iam/rolePolicy:RolePolicy",
        "aws:iam/groupPolicy:GroupPolicy",
        "aws:iam/policy:Policy",
    }
)
IAM_ATTACHMENT_TYPES = frozenset(
    {
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
        "aws:iam/userPolicyAttachmentsExclusive:UserPolicyAttachmentsExclusive",
    }
)
EXOSCALE_ROLE_TYPES = frozenset({"exoscale:index/iamRole:IamRole"})
SECRET_HOLDERS = {"aws:iam/accessKey:AccessKey": "secret", "exoscale:index/iamApiKey:IamApiKey": "secret"}
"""Resources whose output holds a key's secret, and the property it is in."""
SECRET_OUTPUTS = frozenset({"site_settings", "backup_credential"})
"""Outputs the program exports as secrets (components/program.py); every other output is plain.
pulumi-policy hands a pack secrets already unwrapped, so the pack cannot see secrecy itself."""

_S3_ARN = re.compile(r"^arn:[a-z-]+:s3:::(?P<bucket>[^/]*)(/.*)?$")
_CREDENTIAL_KEY = re.compile(r"secret|password|credential|private_key|token", re.IGNORECASE)
_URL_WITH_KEY = re.compile(r"^[a-z][a-z0-9+.-]*://[^/@\s:]+:[^/@\s]+@", re.IGNORECASE)
_EXOSCALE_BUCKETS = re.compile(r"parameters\.bucket\s*(?:==\s*'(?P<one>[^']*)'|in\s*\[(?P<many>[^\]]*)\])")


def _aws_policy_problems(document: Mapping[str, Any], context: ResourceContext) -> list[str]:
    own = context.stack.site_buckets(context.site) if context.site is not None else None
    messages = []
    for statement in statements(document):
        if field_of(statement, "Effect") == "Deny":
            continue
        for key in ("NotAction", "NotResource"):
            if field_of(statement, key) is not None:
                messages.append(f"{context.where}: the IAM policy allows with {key}, which grants everything else")
        for action in as_list(field_of(statement, "Action")):
            if not isinstance(action, str) or "*" in action:
                messages.append(f"{context.where}: the IAM policy allows {action}; name the actions, never * or s3:*")
        for resource in as_list(field_of(statement, "Resource")):
            match = _S3_ARN.match(resource) if isinstance(resource, str) else None
            bucket = match.group("bucket") if match else None
            if resource == "*" or (bucket is not None and "*" in bucket):
                messages.append(f"{context.where}: the IAM policy names the resource {resource}; name the buckets")
            elif own is not None and bucket not in own:
                allowed = ", ".join(sorted(own)) or "unknown: site-storage:bucket_prefix is not in the stack config"
                messages.append(
                    f"{context.where}: the IAM policy names {resource}, which is not one of the site's buckets "
                    f"({allowed})"
                )
    return messages


def _exoscale_role_problems(policy: Mapping[str, Any], context: ResourceContext) -> list[str]:
    """Exoscale IAM roles: default deny, and every allow rule limited to the site's buckets."""
    own = context.stack.site_buckets(context.site) if context.site is not None else None
    messages = []
    if policy.get("defaultServiceStrategy") != "deny":
        messages.append(f"{context.where}: the Exoscale role's default service strategy is not deny")
    services = policy.get("services")
    for service, spec in services.items() if isinstance(services, Mapping) else []:
        if not isinstance(spec, Mapping) or spec.get("type") == "allow":
            messages.append(f"{context.where}: the Exoscale role allows all of {service}; allow named operations")
            continue
        for rule in as_list(spec.get("rules")):
            if not isinstance(rule, Mapping) or rule.get("action") != "allow":
                continue
            expression = str(rule.get("expression", ""))
            names = [
                name
                for match in _EXOSCALE_BUCKETS.finditer(expression)
                for name in ([match.group("one")] if match.group("one") is not None else [])
                + re.findall(r"'([^']*)'", match.group("many") or "")
            ]
            if not names or "||" in expression:
                messages.append(
                    f"{context.where}: the Exoscale role's allow rule {expression!r} is not limited to named buckets"
                )
            elif own is not None and not set(names) <= own:
                others = ", ".join(sorted(set(names) - own))
                messages.append(f"{context.where}: the Exoscale role names {others}, which are not the site's buckets")
    return messages


def check_iam_site_scope(resource_type: str, inputs: Mapping[str, Any], context: ResourceContext) -> list[str]:
    """A site's credential policy names only its own buckets, no `*` resource, no wildcard action.

    The backup writer's policy (stack-level, `backups-writer-policy`) names the sites' buckets by
    the stack's naming pattern; backup-writer-scoped checks it instead.
    """
    if context.site is None and context.name == "backups-writer-policy":
        return []
    if resource_type in IAM_ATTACHMENT_TYPES:
        if context.site is None:
            return []
        arns = inputs.get("policyArn", inputs.get("policyArns"))
        return [
            f"{context.where}: attaches the managed policy {arns}; a site's credential gets only its own "
            "inline policy, which names its buckets"
        ]
    document = policy_document(inputs.get("policy"))
    if document is None:
        return [
            f"{context.where}: the policy is not readable JSON (or not known until apply), "
            "so its scope cannot be checked"
        ]
    if resource_type in EXOSCALE_ROLE_TYPES:
        return _exoscale_role_problems(document, context)
    return _aws_policy_problems(document, context)


def _leaves(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], Any]]:
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, (*path, str(key)))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, f"[{index}]"))
    else:
        yield path, value


def check_plain_outputs(view: StackView) -> list[Finding]:
    """No credential in a plain output: no known secret, no secret-named field, no URL carrying a key."""
    secrets = {secret for secret in view.secrets if secret and secret != UNKNOWN}
    findings = []
    for name, value in view.outputs.items():
        if name in SECRET_OUTPUTS:
            continue
        for path, leaf in _leaves(value, (name,)):
            # `sites.<slug>...` is per site; other outputs belong to the stack.
            site = path[1] if name == "sites" and len(path) > 1 else None
            keys = path[2:] if site else path[1:]
            shown = ".".join(path).replace(".[", "[")
            if isinstance(leaf, str) and leaf in secrets:
                problem = "holds a secret value"
            elif leaf not in (None, "", False) and any(_CREDENTIAL_KEY.search(key) for key in keys):
                problem = "is a credential field"
            elif isinstance(leaf, str) and _URL_WITH_KEY.match(leaf):
                problem = "holds a URL that carries a key and secret"
            else:
                continue
            findings.append(
                Finding(
                    shown,
                    site,
                    f"{where(site)}: the plain output {shown} {problem}; credentials belong only in the secret "
                    f"output{'s' if len(SECRET_OUTPUTS) > 1 else ''} {', '.join(sorted(SECRET_OUTPUTS))}",
                )
            )
    return findings

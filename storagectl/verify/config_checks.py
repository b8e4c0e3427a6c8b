"""Bucket configuration checks: CORS, public access block, ownership controls, TLS-only policy.

Each check reads the live configuration (with the operator's credentials on AWS, whose site
keys may not read bucket configuration) and compares it with what the stack declares. The
comparisons are plain functions so tests can hold them to configurations moto cannot enforce.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from fnmatch import fnmatchcase
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from components.config import CorsRule
from storagectl.verify.results import (
    CORS,
    FAIL,
    KEY_REJECTED_CODES,
    PASS,
    PRIVATE_ACCESS_BLOCK,
    PRIVATE_OWNERSHIP,
    PRIVATE_TLS_ONLY,
    SKIP,
    CheckResult,
    describe,
    error_code,
    is_refusal,
)

ACCESS_BLOCK_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
OWNERSHIP_DESIGN = "BucketOwnerEnforced"
Verdict = tuple[str, str]
"""(status, reason)."""


def _read(
    site: str, check: str, bucket: str, what: str, call: Callable[[], Any], missing: dict[str, Verdict]
) -> Any | CheckResult:
    """The configuration, or the result to report when it cannot be read or does not exist."""
    try:
        return call()
    except ClientError as error:
        code = error_code(error)
        if code in missing:
            status, reason = missing[code]
            return CheckResult(site, check, status, f"{bucket}: {reason}")
        if is_refusal(error) or code in KEY_REJECTED_CODES:
            return CheckResult(site, check, SKIP, f"cannot read the {what}: {describe(error)}")
        raise


# CORS ------------------------------------------------------------------------------------


def cors_fields(rule: dict[str, Any]) -> dict[str, Any]:
    """An S3 CORSRule in the stack's terms; lists sorted because their order carries no meaning."""
    return {
        "origins": sorted(rule.get("AllowedOrigins", [])),
        "methods": sorted(rule.get("AllowedMethods", [])),
        "headers": sorted(rule.get("AllowedHeaders", [])),
        "expose_headers": sorted(rule.get("ExposeHeaders", [])),
        "max_age_seconds": rule.get("MaxAgeSeconds"),
    }


def declared_cors_fields(cors: CorsRule) -> dict[str, Any]:
    return {
        "origins": sorted(cors.origins),
        "methods": sorted(cors.methods),
        "headers": sorted(cors.headers),
        "expose_headers": sorted(cors.expose_headers),
        "max_age_seconds": cors.max_age_seconds,
    }


def compare_cors(declared: CorsRule | None, rules: list[dict[str, Any]]) -> Verdict:
    if declared is None:
        if not rules:
            return PASS, "no CORS rules, as the stack declares"
        origins = sorted({origin for rule in rules for origin in rule.get("AllowedOrigins", [])})
        shown = ", ".join(origins)
        return FAIL, f"the bucket has {len(rules)} CORS rule(s) (origins {shown}) but the stack declares none"
    want = declared_cors_fields(declared)
    if not rules:
        return FAIL, f"no CORS configuration on the bucket; the stack declares origins {', '.join(want['origins'])}"
    if len(rules) != 1:
        return FAIL, f"the bucket has {len(rules)} CORS rules; the stack declares one"
    live = cors_fields(rules[0])
    differences = [f"{name} is {live[name]}, declared {want[name]}" for name in want if live[name] != want[name]]
    if differences:
        return FAIL, "CORS differs from the stack config: " + "; ".join(differences)
    methods = ", ".join(want["methods"])
    return PASS, f"CORS is live for {', '.join(want['origins'])} ({methods}; max age {want['max_age_seconds']}s)"


def check_cors(site: str, client: Any, bucket: str, declared: CorsRule | None) -> CheckResult:
    none: Verdict = compare_cors(declared, [])
    read = partial(client.get_bucket_cors, Bucket=bucket)
    got = _read(site, CORS, bucket, "CORS configuration", read, {"NoSuchCORSConfiguration": none})
    if isinstance(got, CheckResult):
        return got
    status, reason = compare_cors(declared, got.get("CORSRules", []))
    return CheckResult(site, CORS, status, f"{bucket}: {reason}")


# Private bucket hardening ------------------------------------------------------------------


def compare_access_block(configuration: dict[str, Any]) -> Verdict:
    off = [flag for flag in ACCESS_BLOCK_FLAGS if configuration.get(flag) is not True]
    if off:
        return FAIL, f"public access block flags off: {', '.join(off)}"
    return PASS, "all four public access block flags are on"


def check_access_block(site: str, client: Any, bucket: str) -> CheckResult:
    missing: Verdict = (FAIL, "no public access block: nothing stops a public policy or ACL")
    got = _read(
        site,
        PRIVATE_ACCESS_BLOCK,
        bucket,
        "public access block",
        partial(client.get_public_access_block, Bucket=bucket),
        {"NoSuchPublicAccessBlockConfiguration": missing},
    )
    if isinstance(got, CheckResult):
        return got
    status, reason = compare_access_block(got.get("PublicAccessBlockConfiguration", {}))
    return CheckResult(site, PRIVATE_ACCESS_BLOCK, status, f"{bucket}: {reason}")


def compare_ownership(controls: dict[str, Any]) -> Verdict:
    values = [rule.get("ObjectOwnership") for rule in controls.get("Rules", [])]
    if values == [OWNERSHIP_DESIGN]:
        return PASS, "ACLs are disabled (BucketOwnerEnforced)"
    shown = ", ".join(str(value) for value in values) or "no rule"
    return FAIL, f"object ownership is {shown}; the design is {OWNERSHIP_DESIGN} (ACLs disabled)"


def check_ownership(site: str, client: Any, bucket: str) -> CheckResult:
    missing: Verdict = (FAIL, f"no ownership controls: ACLs are enabled; the design is {OWNERSHIP_DESIGN}")
    got = _read(
        site,
        PRIVATE_OWNERSHIP,
        bucket,
        "ownership controls",
        partial(client.get_bucket_ownership_controls, Bucket=bucket),
        {"OwnershipControlsNotFoundError": missing},
    )
    if isinstance(got, CheckResult):
        return got
    status, reason = compare_ownership(got.get("OwnershipControls", {}))
    return CheckResult(site, PRIVATE_OWNERSHIP, status, f"{bucket}: {reason}")


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _everyone(principal: Any) -> bool:
    if principal == "*":
        return True
    return isinstance(principal, dict) and "*" in _as_list(principal.get("AWS"))


def _covers(patterns: list[Any], arn: str) -> bool:
    return any(isinstance(pattern, str) and fnmatchcase(arn, pattern) for pattern in patterns)


def _denies_without_tls(condition: Any) -> bool:
    if not isinstance(condition, dict):
        return False
    for operator, values in condition.items():
        if operator.lower() != "bool" or not isinstance(values, dict):
            continue
        # Condition keys are case-insensitive in AWS policies.
        for key, value in values.items():
            if key.lower() == "aws:securetransport" and any(str(v).lower() == "false" for v in _as_list(value)):
                return True
    return False


def has_tls_only_deny(policy: dict[str, Any], bucket: str) -> bool:
    """A statement denying every S3 action to everyone on the bucket and its objects without TLS."""
    arns = (f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*")
    for statement in _as_list(policy.get("Statement")):
        if not isinstance(statement, dict) or statement.get("Effect") != "Deny":
            continue
        actions = [action.lower() for action in _as_list(statement.get("Action")) if isinstance(action, str)]
        if not _everyone(statement.get("Principal")) or not {"s3:*", "*"} & set(actions):
            continue
        resources = _as_list(statement.get("Resource"))
        if all(_covers(resources, arn) for arn in arns) and _denies_without_tls(statement.get("Condition")):
            return True
    return False


def check_tls_only(site: str, client: Any, bucket: str) -> CheckResult:
    missing: Verdict = (FAIL, "no bucket policy, so requests without TLS are not denied")
    read = partial(client.get_bucket_policy, Bucket=bucket)
    got = _read(site, PRIVATE_TLS_ONLY, bucket, "bucket policy", read, {"NoSuchBucketPolicy": missing})
    if isinstance(got, CheckResult):
        return got
    try:
        policy = json.loads(got.get("Policy") or "{}")
    except json.JSONDecodeError:
        return CheckResult(site, PRIVATE_TLS_ONLY, FAIL, f"{bucket}: the bucket policy is not JSON")
    if has_tls_only_deny(policy, bucket):
        return CheckResult(site, PRIVATE_TLS_ONLY, PASS, f"{bucket}: the bucket policy denies requests without TLS")
    reason = f"{bucket}: the bucket policy has no Deny of s3:* for everyone when aws:SecureTransport is false"
    return CheckResult(site, PRIVATE_TLS_ONLY, FAIL, reason)

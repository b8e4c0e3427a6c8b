"""The site-storage policies: name, description, what they look at, and their check function.

Resource rules check one resource's inputs (the pack runs them before anything is created);
stack rules look across resources or at the stack's outputs. All are mandatory: a violation
fails `pulumi preview`/`pulumi up` with the pack, and `storagectl preview --policy`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from policy.access_rules import (
    EXOSCALE_ROLE_TYPES,
    IAM_ATTACHMENT_TYPES,
    IAM_POLICY_TYPES,
    check_iam_site_scope,
    check_plain_outputs,
)
from policy.backup_rules import (
    BACKUP_BUCKET_CHECKED_TYPES,
    check_backup_bucket_private,
    check_backup_writer_scope,
)
from policy.bucket_rules import (
    ACCESS_BLOCK_TYPES,
    BUCKET_ACL_TYPES,
    BUCKET_POLICY_TYPES,
    BUCKET_TYPES,
    CORS_TYPES,
    OBJECT_TYPES,
    OWNERSHIP_TYPES,
    check_anonymous_reads,
    check_bucket_protected,
    check_cors_origins,
    check_no_public_write,
    check_private_bucket_controls,
    check_private_bucket_controls_present,
)
from policy.model import Finding, ResourceContext, StackView

ResourceCheck = Callable[[str, Mapping[str, Any], ResourceContext], list[str]]
StackCheck = Callable[[StackView], list[Finding]]


@dataclass(frozen=True)
class ResourceRule:
    name: str
    description: str
    resource_types: frozenset[str]
    """The types the check applies to; others pass untouched."""
    check: ResourceCheck
    mandatory: bool = True


@dataclass(frozen=True)
class StackRule:
    name: str
    description: str
    check: StackCheck
    mandatory: bool = True


RESOURCE_RULES: tuple[ResourceRule, ...] = (
    ResourceRule(
        "private-bucket-access-blocked",
        "Private buckets keep all four public-access-block flags on and ACLs disabled (BucketOwnerEnforced).",
        ACCESS_BLOCK_TYPES | OWNERSHIP_TYPES,
        check_private_bucket_controls,
    ),
    ResourceRule(
        "no-public-write-acl",
        "No bucket or object ACL grants write to everyone or to every AWS account.",
        BUCKET_TYPES | BUCKET_ACL_TYPES | OBJECT_TYPES,
        check_no_public_write,
    ),
    ResourceRule(
        "anonymous-read-public-bucket-only",
        "Only the public bucket allows anonymous reads, and only s3:GetObject.",
        BUCKET_TYPES | BUCKET_POLICY_TYPES | BUCKET_ACL_TYPES,
        check_anonymous_reads,
    ),
    ResourceRule(
        "cors-origins-https",
        "CORS origins are https (http://localhost only on a custom endpoint on this machine); any origin (*) "
        "only for a site that opted in with allow_any_origin.",
        BUCKET_TYPES | CORS_TYPES,
        check_cors_origins,
    ),
    ResourceRule(
        "buckets-protected",
        "Buckets are protected when site-storage:protect is true, and never force_destroy.",
        BUCKET_TYPES,
        check_bucket_protected,
    ),
    ResourceRule(
        "iam-site-scoped",
        "A site's credential policy names only that site's buckets: no * resource, no wildcard action.",
        IAM_POLICY_TYPES | IAM_ATTACHMENT_TYPES | EXOSCALE_ROLE_TYPES,
        check_iam_site_scope,
    ),
    ResourceRule(
        "backup-bucket-private",
        "The stack's backup bucket is never public: no public ACL, grant or policy statement, every public access "
        "block flag on, ACLs disabled.",
        BACKUP_BUCKET_CHECKED_TYPES,
        check_backup_bucket_private,
    ),
    ResourceRule(
        "backup-writer-scoped",
        "The backup writer's policy only reads the stack's site buckets and writes only the backup bucket.",
        IAM_POLICY_TYPES,
        check_backup_writer_scope,
    ),
)

STACK_RULES: tuple[StackRule, ...] = (
    StackRule(
        "private-bucket-access-block-present",
        "Where the region supports them, every private bucket has a public access block and ownership controls.",
        check_private_bucket_controls_present,
    ),
    StackRule(
        "no-credential-in-plain-outputs",
        "No access key secret or other credential reaches a plain (non-secret) stack output.",
        check_plain_outputs,
    ),
)


def rule_names() -> list[str]:
    return [rule.name for rule in RESOURCE_RULES] + [rule.name for rule in STACK_RULES]

"""Checks on buckets: access blocks, ACLs, anonymous reads, CORS, protection.

Each resource check takes (resource type, inputs with camelCase keys, ResourceContext) and
returns one message per problem, each naming the site. Unknown or malformed values fail.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from policy.model import (
    UNKNOWN,
    Finding,
    PlainResource,
    ResourceContext,
    StackView,
    as_list,
    field_of,
    policy_document,
    statements,
    where,
)

# Generic-S3 regions use the project's own dynamic resources (components/generic_s3/resources.py);
# the pack runs in its own virtualenv without the project, so their tokens are written out here.
GENERIC_BUCKET_TYPE = "pulumi-python:dynamic/s3:Bucket"
GENERIC_CORS_TYPE = "pulumi-python:dynamic/s3:BucketCors"
BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "aws:s3/bucketV2:BucketV2", GENERIC_BUCKET_TYPE})
ACCESS_BLOCK_TYPES = frozenset({"aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"})
OWNERSHIP_TYPES = frozenset({"aws:s3/bucketOwnershipControls:BucketOwnershipControls"})
BUCKET_ACL_TYPES = frozenset({"aws:s3/bucketAcl:BucketAcl", "aws:s3/bucketAclV2:BucketAclV2"})
BUCKET_POLICY_TYPES = frozenset({"aws:s3/bucketPolicy:BucketPolicy"})
OBJECT_TYPES = frozenset(
    {
        "aws:s3/bucketObject:BucketObject",
        "aws:s3/BucketObject:BucketObject",
        "aws:s3/bucketObjectv2:BucketObjectv2",
        "aws:s3/objectCopy:ObjectCopy",
    }
)
CORS_TYPES = frozenset(
    {
        "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration",
        "aws:s3/bucketCorsConfigurationV2:BucketCorsConfigurationV2",
        GENERIC_CORS_TYPE,
    }
)

PUBLIC_ACCESS_FLAGS = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
PUBLIC_GRANTEES = {ALL_USERS: "everyone (AllUsers)", AUTHENTICATED_USERS: "any AWS account (AuthenticatedUsers)"}
WRITE_PERMISSIONS = frozenset({"WRITE", "WRITE_ACP", "FULL_CONTROL"})
READ_PERMISSIONS = frozenset({"READ", "READ_ACP", "FULL_CONTROL"})
# Canned ACLs that make a whole bucket listable by others: more than s3:GetObject.
PUBLIC_READ_CANNED = frozenset({"public-read", "authenticated-read"})
_ANY_ORIGIN = re.compile(r"^(\*|[a-z]+://\*(:\d+)?)$")
# Django's runserver on a developer's machine: allowed on stacks whose endpoint is this machine too.
_LOOPBACK_ORIGIN = re.compile(r"^http://(localhost|127\.0\.0\.1)(:\d{1,5})?$")


def check_private_bucket_controls(resource_type: str, inputs: Mapping[str, Any], context: ResourceContext) -> list[str]:
    """A private bucket's access block has all four flags on; its ownership controls disable ACLs."""
    if context.role != "private":
        return []
    if resource_type in ACCESS_BLOCK_TYPES:
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if inputs.get(flag) is not True]
        if off:
            return [
                f"{context.where}: the private bucket's public access block leaves {', '.join(off)} off; "
                "all four flags must be on"
            ]
    if resource_type in OWNERSHIP_TYPES:
        rule = inputs.get("rule")
        ownership = rule.get("objectOwnership") if isinstance(rule, Mapping) else None
        if ownership != "BucketOwnerEnforced":
            return [
                f"{context.where}: the private bucket's ownership controls set {ownership!r}; "
                "ACLs must be disabled with BucketOwnerEnforced"
            ]
    return []


def _belongs_to(resource: PlainResource, bucket: PlainResource) -> bool:
    # Children are named after their bucket (`<site>-private-access-block`); the bucket input
    # is unknown during a real preview of a new bucket, so the name is the reliable link.
    if resource.site == bucket.site and resource.name.startswith(f"{bucket.name}-"):
        return True
    name = bucket.inputs.get("bucket")
    return isinstance(name, str) and resource.inputs.get("bucket") == name


def check_private_bucket_controls_present(view: StackView) -> list[Finding]:
    """Where the region has them, every private bucket has an access block and ownership controls."""
    if not view.facts.access_controls:
        return []
    findings = []
    for bucket in view.resources:
        if bucket.type not in BUCKET_TYPES or bucket.context(view.facts).role != "private":
            continue
        missing = [
            label
            for types, label in ((ACCESS_BLOCK_TYPES, "public access block"), (OWNERSHIP_TYPES, "ownership controls"))
            if not any(other.type in types and _belongs_to(other, bucket) for other in view.resources)
        ]
        if missing:
            findings.append(
                Finding(
                    bucket.name,
                    bucket.site,
                    f"{where(bucket.site)}: private bucket {bucket.inputs.get('bucket', bucket.name)} has no "
                    f"{' and no '.join(missing)}; on this region every private bucket needs both",
                )
            )
    return findings


def _grants(inputs: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """(grantee URI, permission) pairs of every grant shape pulumi-aws has."""
    found: list[tuple[Any, Any]] = []
    # Bucket and ObjectCopy: grants=[{uri, type, permissions: [...]}]
    for grant in as_list(inputs.get("grants")):
        if isinstance(grant, Mapping):
            found.extend((grant.get("uri"), permission) for permission in as_list(grant.get("permissions")))
    # BucketAcl: accessControlPolicy={grants: [{grantee: {uri, type}, permission}]}
    policy = inputs.get("accessControlPolicy")
    if isinstance(policy, Mapping):
        for grant in as_list(policy.get("grants")):
            if isinstance(grant, Mapping):
                grantee = grant.get("grantee")
                uri = grantee.get("uri") if isinstance(grantee, Mapping) else None
                found.append((uri, grant.get("permission")))
    return found


def check_no_public_write(resource_type: str, inputs: Mapping[str, Any], context: ResourceContext) -> list[str]:
    """No canned ACL or grant lets everyone, or every AWS account, write."""
    messages = []
    if inputs.get("acl") == "public-read-write":
        messages.append(f"{context.where}: the canned ACL public-read-write lets anyone write; remove it")
    elif inputs.get("acl") == UNKNOWN:
        messages.append(
            f"{context.where}: the canned ACL is not known until apply, so public write cannot be ruled out"
        )
    for uri, permission in _grants(inputs):
        if uri in PUBLIC_GRANTEES and permission in WRITE_PERMISSIONS:
            messages.append(
                f"{context.where}: an ACL grant gives {PUBLIC_GRANTEES[uri]} {permission}; "
                "no ACL may grant public write"
            )
    return messages


def _public_principal(statement: Mapping[str, Any]) -> bool:
    # Allow with NotPrincipal allows everyone but the named principals.
    if field_of(statement, "NotPrincipal") is not None:
        return True
    principal = field_of(statement, "Principal")
    if principal == "*":
        return True
    return isinstance(principal, Mapping) and any("*" in as_list(value) for value in principal.values())


def _bucket_policy_problems(document: Mapping[str, Any], context: ResourceContext) -> list[str]:
    messages = []
    for statement in statements(document):
        if field_of(statement, "Effect") == "Deny" or not _public_principal(statement):
            continue
        actions = [str(action) for action in as_list(field_of(statement, "Action"))]
        shown = ", ".join(actions) or "NotAction (every other action)"
        if context.role != "public":
            messages.append(
                f"{context.where}: the private bucket's policy lets anyone {shown}; "
                "only the public bucket may allow anonymous reads"
            )
        elif field_of(statement, "NotAction") is not None or {a.lower() for a in actions} != {"s3:getobject"}:
            messages.append(f"{context.where}: the public bucket's policy lets anyone {shown}; allow only s3:GetObject")
        elif field_of(statement, "NotResource") is not None:
            messages.append(f"{context.where}: the public bucket's anonymous read uses NotResource; name the objects")
    return messages


def check_anonymous_reads(resource_type: str, inputs: Mapping[str, Any], context: ResourceContext) -> list[str]:
    """Anonymous access only on the public bucket, only s3:GetObject, only through its bucket policy."""
    messages = []
    if resource_type in BUCKET_POLICY_TYPES or inputs.get("policy") is not None:
        document = policy_document(inputs.get("policy"))
        if document is None:
            messages.append(
                f"{context.where}: the bucket policy is not readable JSON (or not known until apply), "
                "so its anonymous access cannot be checked"
            )
        else:
            messages.extend(_bucket_policy_problems(document, context))
    acl = inputs.get("acl")
    if acl in PUBLIC_READ_CANNED:
        messages.append(
            f"{context.where}: the bucket's canned ACL {acl} lets others list and read it; "
            "public reads go only through the public bucket's s3:GetObject policy"
        )
    for uri, permission in _grants(inputs):
        if uri in PUBLIC_GRANTEES and permission in READ_PERMISSIONS:
            messages.append(
                f"{context.where}: a bucket ACL grant gives {PUBLIC_GRANTEES[uri]} {permission}; "
                "public reads go only through the public bucket's s3:GetObject policy"
            )
    return messages


def check_cors_origins(resource_type: str, inputs: Mapping[str, Any], context: ResourceContext) -> list[str]:
    """CORS origins are https; any-origin only for a site that set allow_any_origin: true; http only
    for localhost and 127.0.0.1, on a stack whose custom endpoint is on this machine.

    A one-label wildcard such as https://*.example.com is a named set of hosts, as the
    stack config allows it, not any origin.
    """
    opted_in = context.site is not None and context.site in context.stack.any_origin_sites
    messages = []
    for rule in as_list(inputs.get("corsRules")):
        origins = as_list(rule.get("allowedOrigins")) if isinstance(rule, Mapping) else [rule]
        for origin in origins:
            if not isinstance(origin, str):
                messages.append(f"{context.where}: the CORS origin {origin!r} is not a readable origin")
            elif _ANY_ORIGIN.match(origin) and not opted_in:
                messages.append(
                    f"{context.where}: the CORS origin {origin} lets any website read the media; "
                    f"the site must opt in with sites.{context.site}.cors.allow_any_origin: true"
                )
            elif _LOOPBACK_ORIGIN.match(origin):
                if not context.stack.on_this_machine:
                    messages.append(
                        f"{context.where}: the CORS origin {origin} is plain http; http://localhost and "
                        "http://127.0.0.1 origins are allowed only on a custom endpoint on this machine "
                        "(127.0.0.1 or localhost); use https://host[:port]"
                    )
            elif origin != "*" and not origin.startswith("https://"):
                messages.append(f"{context.where}: the CORS origin {origin} is not https; use https://host[:port]")
    return messages


def check_bucket_protected(resource_type: str, inputs: Mapping[str, Any], context: ResourceContext) -> list[str]:
    """No `pulumi up` may delete a bucket: protected when the stack says so, never force_destroy."""
    messages = []
    if inputs.get("forceDestroy") not in (False, None):
        messages.append(f"{context.where}: the bucket sets force_destroy, which deletes its media with it")
    if context.stack.protect and not context.protect:
        messages.append(
            f"{context.where}: the bucket is not protected although site-storage:protect is true; "
            "a config change could then delete the site's media"
        )
    return messages

"""Checks on the stack's backup bucket and its writer (components/backups.py, site-storage:backups).

A backup bucket holds every site's media, private halves included, so it is never public in any
way a resource can make it so: no public canned ACL or grant, no bucket policy statement that
lets anyone in, every public-access-block flag on, ACLs disabled. Its resources are the stack's
own (no site) and named `backups-bucket...` (a child-name contract like the sites').

The writer's policy may read the stack's site buckets (`<prefix>-*-public`, `<prefix>-*-private`)
and nothing else of theirs, and write only the backup bucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from policy.bucket_rules import (
    ACCESS_BLOCK_TYPES,
    BUCKET_ACL_TYPES,
    BUCKET_POLICY_TYPES,
    BUCKET_TYPES,
    OWNERSHIP_TYPES,
    PUBLIC_ACCESS_FLAGS,
    PUBLIC_GRANTEES,
    _grants,
    _public_principal,
)
from policy.model import ResourceContext, as_list, field_of, policy_document, statements

BACKUP_BUCKET = "backups-bucket"
"""The backup bucket's logical name; its settings are `backups-bucket-<what>`."""
BACKUP_WRITER_POLICY = "backups-writer-policy"
BACKUP_BUCKET_CHECKED_TYPES = (
    BUCKET_TYPES | BUCKET_ACL_TYPES | BUCKET_POLICY_TYPES | ACCESS_BLOCK_TYPES | OWNERSHIP_TYPES
)
WRITER_READ_ACTIONS = frozenset({"s3:getobject", "s3:listbucket", "s3:getbucketlocation"})
"""All the writer may do on a site's buckets."""
PRIVATE_CANNED = (None, "private", "bucket-owner-full-control")


def is_backup_bucket_resource(context: ResourceContext) -> bool:
    return context.site is None and (context.name == BACKUP_BUCKET or context.name.startswith(f"{BACKUP_BUCKET}-"))


def check_backup_bucket_private(resource_type: str, inputs: Mapping[str, Any], context: ResourceContext) -> list[str]:
    """The backup bucket: no public ACL or grant, no public policy statement, access block on, ACLs disabled."""
    if not is_backup_bucket_resource(context):
        return []
    what = "the backup bucket"
    messages = []
    acl = inputs.get("acl")
    if acl not in PRIVATE_CANNED:
        messages.append(f"the stack: {what} has the canned ACL {acl}; a backup bucket is never public: use private")
    for uri, permission in _grants(inputs):
        if uri in PUBLIC_GRANTEES:
            messages.append(
                f"the stack: {what} grants {PUBLIC_GRANTEES[uri]} {permission}; a backup bucket is never public"
            )
    if resource_type in BUCKET_POLICY_TYPES or inputs.get("policy") is not None:
        document = policy_document(inputs.get("policy"))
        if document is None:
            messages.append(
                f"the stack: {what}'s policy is not readable JSON (or not known until apply), "
                "so it cannot be shown to keep the backups private"
            )
        else:
            for statement in statements(document):
                if field_of(statement, "Effect") != "Deny" and _public_principal(statement):
                    actions = ", ".join(str(a) for a in as_list(field_of(statement, "Action"))) or "NotAction"
                    messages.append(
                        f"the stack: {what}'s policy lets anyone {actions}; a backup bucket is never public"
                    )
    if resource_type in ACCESS_BLOCK_TYPES:
        off = [flag for flag in PUBLIC_ACCESS_FLAGS if inputs.get(flag) is not True]
        if off:
            messages.append(f"the stack: {what}'s public access block leaves {', '.join(off)} off; all four must be on")
    if resource_type in OWNERSHIP_TYPES:
        rule = inputs.get("rule")
        ownership = rule.get("objectOwnership") if isinstance(rule, Mapping) else None
        if ownership != "BucketOwnerEnforced":
            messages.append(f"the stack: {what}'s ownership controls set {ownership!r}; use BucketOwnerEnforced")
    return messages


def check_backup_writer_scope(resource_type: str, inputs: Mapping[str, Any], context: ResourceContext) -> list[str]:
    """The writer reads only the stack's site buckets and writes only the backup bucket."""
    if context.site is not None or context.name != BACKUP_WRITER_POLICY:
        return []
    prefix = context.stack.bucket_prefix
    document = policy_document(inputs.get("policy"))
    if document is None:
        return ["the stack: the backup writer's policy is not readable JSON (or not known until apply)"]
    if prefix is None:
        return ["the stack: the backup writer's policy cannot be checked: site-storage:bucket_prefix is unknown"]
    backup = f"arn:aws:s3:::{prefix}-backups"
    own = {backup, f"{backup}/*"}
    sites = {f"arn:aws:s3:::{prefix}-*-{half}{tail}" for half in ("public", "private") for tail in ("", "/*")}
    messages = []
    for statement in statements(document):
        if field_of(statement, "Effect") == "Deny":
            continue
        for key in ("NotAction", "NotResource"):
            if field_of(statement, key) is not None:
                messages.append(
                    f"the stack: the backup writer's policy allows with {key}, which grants everything else"
                )
        actions = [str(action) for action in as_list(field_of(statement, "Action"))]
        wild = [action for action in actions if "*" in action]
        if wild:
            messages.append(f"the stack: the backup writer's policy allows {', '.join(wild)}; name the actions")
        for resource in as_list(field_of(statement, "Resource")):
            if resource in own:
                continue
            if resource in sites:
                writes = [action for action in actions if action.lower() not in WRITER_READ_ACTIONS]
                if writes:
                    messages.append(
                        f"the stack: the backup writer's policy allows {', '.join(writes)} on {resource}; "
                        "it may only read the sites' buckets"
                    )
                continue
            messages.append(
                f"the stack: the backup writer's policy names {resource}; it may name only the backup bucket "
                f"{prefix}-backups and the stack's site buckets ({prefix}-*-public, {prefix}-*-private)"
            )
    return messages

"""Create what an offline evaluation declares on a moto endpoint, the way the provider would.

Test support only: it lets consumer and verify tests run against buckets, policies and
keys shaped exactly like the ones the component declares. It is not a deployment tool.
`replay_key_update` plays an update between two evaluations that differ in access keys only
(a key rotation), and `inactive_keys_refused` closes moto's gap of accepting Inactive keys.
Generic-S3 resources go through the project's real provider code (storagectl.provision),
with the test's client; the AWS ones are created here the way pulumi-aws would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from moto.iam.access_control import CreateAccessKeyFailure, IAMUserAccessKey

from components.generic_s3.connection import Clients, Credentials
from components.regions import Region
from components.site_keys import AWS_ACCESS_KEY_TYPE, key_resource_name
from storagectl.offline import RecordedResource
from storagectl.provision import is_generic, provision


class ClientsOf(Clients):
    """The provider's clients, all of them this one test client (in-process moto, a server)."""

    def __init__(self, client: Any) -> None:
        super().__init__(Credentials("unused", "unused"))
        self._client = client

    def s3(self, region: Region) -> Any:
        return self._client


@dataclass(frozen=True)
class SiteKey:
    key_id: str
    secret: str


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {"ID": rule["id"], "Status": rule["status"], "Filter": {"Prefix": ""}}
    if "abortIncompleteMultipartUpload" in rule:
        converted["AbortIncompleteMultipartUpload"] = {
            "DaysAfterInitiation": int(rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"])
        }
    if "noncurrentVersionExpiration" in rule:  # the backup bucket's, with object lock
        days = int(rule["noncurrentVersionExpiration"]["noncurrentDays"])
        converted["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
        converted["Expiration"] = {"ExpiredObjectDeleteMarker": True}
    return converted


def _cors_rule(rule: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {
        "AllowedOrigins": rule["allowedOrigins"],
        "AllowedMethods": rule["allowedMethods"],
        "AllowedHeaders": rule.get("allowedHeaders", []),
        "MaxAgeSeconds": int(rule.get("maxAgeSeconds", 0)),
    }
    if rule.get("exposeHeaders"):
        converted["ExposeHeaders"] = rule["exposeHeaders"]
    return converted


def apply_resources(
    resources: list[RecordedResource],
    s3: Any,
    iam: Any | None = None,
    by_resource: dict[str, SiteKey] | None = None,
) -> dict[str, SiteKey]:
    """Create buckets first, then their configuration, then IAM; return each site's current key
    (its newest generation's), and fill `by_resource` with every key by resource name."""
    order = {
        "aws:s3/bucket:Bucket": 0,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 2,
        "aws:iam/user:User": 3,
    }
    created: dict[str, SiteKey] = {} if by_resource is None else by_resource
    provision([resource for resource in resources if is_generic(resource)], ClientsOf(s3))
    for resource in sorted((r for r in resources if not is_generic(r)), key=lambda r: order.get(r.type, 9)):
        inputs = resource.inputs
        kind = resource.type
        if kind == "aws:s3/bucket:Bucket":
            region = s3.meta.region_name
            location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            lock = {"ObjectLockEnabledForBucket": True} if inputs.get("objectLockEnabled") else {}
            s3.create_bucket(Bucket=inputs["bucket"], **location, **lock)
        elif kind == "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
            s3.put_bucket_ownership_controls(
                Bucket=inputs["bucket"],
                OwnershipControls={"Rules": [{"ObjectOwnership": inputs["rule"]["objectOwnership"]}]},
            )
        elif kind == "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
            s3.put_public_access_block(
                Bucket=inputs["bucket"],
                PublicAccessBlockConfiguration={
                    "BlockPublicAcls": inputs["blockPublicAcls"],
                    "IgnorePublicAcls": inputs["ignorePublicAcls"],
                    "BlockPublicPolicy": inputs["blockPublicPolicy"],
                    "RestrictPublicBuckets": inputs["restrictPublicBuckets"],
                },
            )
        elif kind == "aws:s3/bucketPolicy:BucketPolicy":
            s3.put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])
        elif kind == "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
            rule = inputs["rules"][0]
            s3.put_bucket_encryption(
                Bucket=inputs["bucket"],
                ServerSideEncryptionConfiguration={
                    "Rules": [
                        {
                            "ApplyServerSideEncryptionByDefault": {
                                "SSEAlgorithm": rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"]
                            },
                            "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled")),
                        }
                    ]
                },
            )
        elif kind == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
            s3.put_bucket_lifecycle_configuration(
                Bucket=inputs["bucket"],
                LifecycleConfiguration={"Rules": [_lifecycle_rule(rule) for rule in inputs["rules"]]},
            )
        elif kind == "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration":
            s3.put_bucket_cors(
                Bucket=inputs["bucket"],
                CORSConfiguration={"CORSRules": [_cors_rule(rule) for rule in inputs["corsRules"]]},
            )
        elif kind == "aws:iam/user:User" and iam is not None:
            iam.create_user(UserName=inputs["name"], Path=inputs.get("path", "/"))
        elif kind == "aws:iam/userPolicy:UserPolicy" and iam is not None:
            iam.put_user_policy(UserName=inputs["user"], PolicyName=resource.name, PolicyDocument=inputs["policy"])
        elif kind == AWS_ACCESS_KEY_TYPE and iam is not None:
            created[resource.name] = _create_key(iam, inputs)
        elif kind == "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration":
            retention = inputs["rule"]["defaultRetention"]
            s3.put_object_lock_configuration(
                Bucket=inputs["bucket"],
                ObjectLockConfiguration={
                    "ObjectLockEnabled": "Enabled",
                    "Rule": {"DefaultRetention": {"Mode": retention["mode"], "Days": int(retention["days"])}},
                },
            )
        elif kind.startswith(("pulumi:providers:", "exoscale:")):
            continue  # providers create nothing; moto has no Exoscale IAM (tests/test_exoscale_iam.py)
        else:
            raise AssertionError(f"moto_apply does not know how to create {kind}")
    return current_keys(resources, created)


def _create_key(iam: Any, inputs: dict[str, Any]) -> SiteKey:
    """An access key as pulumi-aws creates it: CreateAccessKey, then UpdateAccessKey for a status other than Active."""
    made = iam.create_access_key(UserName=inputs["user"])["AccessKey"]
    if inputs.get("status", "Active") != "Active":
        iam.update_access_key(UserName=inputs["user"], AccessKeyId=made["AccessKeyId"], Status=inputs["status"])
    return SiteKey(made["AccessKeyId"], made["SecretAccessKey"])


def _generation(resource: RecordedResource) -> int:
    """The key generation in a key resource's name (`<site>-key` is 1, `<site>-key-N` is N)."""
    assert resource.site is not None
    return 1 if resource.name == key_resource_name(resource.site, 1) else int(resource.name.rsplit("-", 1)[1])


def current_keys(resources: list[RecordedResource], by_resource: dict[str, SiteKey]) -> dict[str, SiteKey]:
    """Each site's newest generation's key (the one its settings carry) under its slug; a key of
    the stack's own (the backup writer's) under its resource name."""
    newest: dict[str, RecordedResource] = {}
    stack_keys: dict[str, SiteKey] = {}
    for resource in resources:
        if resource.type == AWS_ACCESS_KEY_TYPE and resource.name in by_resource:
            if resource.site is None:
                stack_keys[resource.name] = by_resource[resource.name]
                continue
            held = newest.get(resource.site)
            if held is None or _generation(resource) > _generation(held):
                newest[resource.site] = resource
    return stack_keys | {site: by_resource[resource.name] for site, resource in newest.items()}


def replay_key_update(
    before: list[RecordedResource], after: list[RecordedResource], iam: Any, by_resource: dict[str, SiteKey]
) -> dict[str, SiteKey]:
    """What `pulumi up` does to IAM going from `before` to `after`, which may differ in access keys only.

    New keys are created and changed ones updated during the update; removed ones are deleted at its
    end, as the engine orders deletions. Returns each site's current key; `by_resource` is updated.
    """
    old = {(r.type, r.name): r for r in before}
    new = {(r.type, r.name): r for r in after}
    changed = {key for key in old.keys() & new.keys() if old[key].inputs != new[key].inputs}
    touched = (old.keys() ^ new.keys()) | changed
    assert {kind for kind, _ in touched} <= {AWS_ACCESS_KEY_TYPE}, f"not a key-only update: {sorted(touched)}"
    for key in sorted(new.keys() - old.keys()):
        by_resource[key[1]] = _create_key(iam, new[key].inputs)
    for key in sorted(changed):
        assert set(old[key].inputs) | set(new[key].inputs) <= {"user", "status"}, key
        status = new[key].inputs.get("status", "Active")
        iam.update_access_key(UserName=new[key].inputs["user"], AccessKeyId=by_resource[key[1]].key_id, Status=status)
    for key in sorted(old.keys() - new.keys()):
        iam.delete_access_key(UserName=old[key].inputs["user"], AccessKeyId=by_resource.pop(key[1]).key_id)
    return current_keys(after, by_resource)


def _refusing_inactive_keys(self: Any, account_id: str, partition: str, access_key_id: str, headers: Any) -> None:
    _original_key_lookup(self, account_id, partition, access_key_id, headers)
    for user in self.backend.list_users("/", None, None):
        for access_key in user.access_keys:
            if access_key.access_key_id == access_key_id and access_key.status != "Active":
                raise CreateAccessKeyFailure(reason="InvalidId")


_original_key_lookup = IAMUserAccessKey.__init__


@contextmanager
def inactive_keys_refused() -> Iterator[None]:
    """moto 5.2.5 accepts an access key whatever its status; AWS refuses an Inactive one. Inside this block
    moto refuses it as it refuses a deleted key (S3: 403 InvalidAccessKeyId), checked where IAM enforcement
    looks the key up (so only under enforcement, as for a deleted key)."""
    IAMUserAccessKey.__init__ = _refusing_inactive_keys  # type: ignore[method-assign]
    try:
        yield
    finally:
        IAMUserAccessKey.__init__ = _original_key_lookup  # type: ignore[method-assign]


# moto 5.2.5 evaluates only StringEquals conditions in bucket policies and ignores any other
# operator, so a Deny guarded by `Bool aws:SecureTransport false` denies every request,
# https ones included (moto/iam/policy_conditions.py).
MOTO_EVALUATES_CONDITIONS = frozenset({"StringEquals"})


def has_condition_moto_ignores(resource: RecordedResource) -> bool:
    """A bucket policy with a Deny whose condition moto would treat as always true."""
    if resource.type != "aws:s3/bucketPolicy:BucketPolicy":
        return False
    statements = json.loads(resource.inputs["policy"])["Statement"]
    for statement in statements if isinstance(statements, list) else [statements]:
        operators = set(statement.get("Condition", {}))
        if statement["Effect"] == "Deny" and operators - MOTO_EVALUATES_CONDITIONS:
            return True
    return False


def split_for_moto(resources: list[RecordedResource]) -> tuple[list[RecordedResource], list[RecordedResource]]:
    """(what moto can hold faithfully, the bucket policies it would misjudge)."""
    kept = [resource for resource in resources if not has_condition_moto_ignores(resource)]
    dropped = [resource for resource in resources if has_condition_moto_ignores(resource)]
    return kept, dropped

"""Create what an offline evaluation declares on a moto endpoint, the way the provider would.

Test support only: it lets consumer and verify tests run against buckets, policies and
keys shaped exactly like the ones the component declares. It is not a deployment tool.
Generic-S3 resources go through the project's real provider code (storagectl.provision),
with the test's client; the AWS ones are created here the way pulumi-aws would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from components.generic_s3.connection import Clients, Credentials
from components.regions import Region
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


def apply_resources(resources: list[RecordedResource], s3: Any, iam: Any | None = None) -> dict[str, SiteKey]:
    """Create buckets first, then their configuration, then IAM; return each site's new key."""
    order = {
        "aws:s3/bucket:Bucket": 0,
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls": 1,
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": 2,
        "aws:iam/user:User": 3,
    }
    keys: dict[str, SiteKey] = {}
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
        elif kind == "aws:iam/accessKey:AccessKey" and iam is not None:
            created = iam.create_access_key(UserName=inputs["user"])["AccessKey"]
            # A site's key under its slug; the stack's own (the backup writer's) under its resource name.
            keys[resource.site or resource.name] = SiteKey(created["AccessKeyId"], created["SecretAccessKey"])
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
    return keys


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

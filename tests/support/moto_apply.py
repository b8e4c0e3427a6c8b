"""Create what an offline evaluation declares on a moto endpoint, the way the provider would.

Test support only: it lets consumer and verify tests run against buckets, policies and
keys shaped exactly like the ones the component declares. It is not a deployment tool.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storagectl.offline import RecordedResource


@dataclass(frozen=True)
class SiteKey:
    key_id: str
    secret: str


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    return {
        "ID": rule["id"],
        "Status": rule["status"],
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {
            "DaysAfterInitiation": int(rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"])
        },
    }


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
    for resource in sorted(resources, key=lambda r: order.get(r.type, 9)):
        inputs = resource.inputs
        kind = resource.type
        if kind == "aws:s3/bucket:Bucket":
            region = s3.meta.region_name
            location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
            s3.create_bucket(Bucket=inputs["bucket"], **location)
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
            assert resource.site is not None
            keys[resource.site] = SiteKey(created["AccessKeyId"], created["SecretAccessKey"])
        elif kind == "pulumi:providers:aws":
            continue
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

"""AWS policy documents the component attaches, as plain dicts (serialised by the caller)."""

from __future__ import annotations

from typing import Any

# What django-storages' S3Storage calls: save (PutObject, multipart), open/exists/size
# (GetObject/HeadObject), delete (DeleteObject), listdir (ListBucket). Every upload
# carries the DSN's canned ACL, and AWS asks for s3:PutObjectAcl on a PutObject that
# carries one, so it is allowed too.
SITE_OBJECT_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "s3:PutObjectAcl",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
)
SITE_BUCKET_ACTIONS = ("s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads")


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def site_access_policy(buckets: list[str]) -> dict[str, Any]:
    """IAM policy for one site's credential: its own buckets, nothing else."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "SiteBuckets",
                "Effect": "Allow",
                "Action": list(SITE_BUCKET_ACTIONS),
                "Resource": [bucket_arn(bucket) for bucket in buckets],
            },
            {
                "Sid": "SiteObjects",
                "Effect": "Allow",
                "Action": list(SITE_OBJECT_ACTIONS),
                "Resource": [f"{bucket_arn(bucket)}/*" for bucket in buckets],
            },
        ],
    }


def deny_insecure_transport(bucket: str) -> dict[str, Any]:
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn(bucket), f"{bucket_arn(bucket)}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def public_read_policy(bucket: str) -> dict[str, Any]:
    """Anyone may GET objects of the public bucket; nothing else is public."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicReadObjects",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"{bucket_arn(bucket)}/*",
            }
        ],
    }


def private_bucket_policy(bucket: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [deny_insecure_transport(bucket)]}


# Exoscale IAM names SOS operations after the S3 API calls in kebab case (e.g. get-object).
# What django-storages' S3Storage calls: save (put-object; above s3transfer's threshold the
# multipart calls, and abort when a part fails), open/size (get-object, head-object), exists
# (head-object), delete, listdir (the v1 list-objects paginator). Every upload carries a
# canned ACL; AWS asks for s3:PutObjectAcl then, so put-object-acl is allowed too.
EXOSCALE_DJANGO_OPERATIONS = (
    "get-object",
    "head-object",
    "put-object",
    "put-object-acl",
    "delete-object",
    "list-objects",
    "create-multipart-upload",
    "upload-part",
    "complete-multipart-upload",
    "abort-multipart-upload",
)
# What `storagectl verify` does with the site's key besides: it lists its probe with
# list-objects-v2 and shows an aborted upload left no parts (list-parts). Bucket settings
# (CORS) it reads with the stack's key, so the role gets no get-bucket-* operation.
EXOSCALE_VERIFY_OPERATIONS = ("list-objects-v2", "list-parts")
EXOSCALE_SITE_OPERATIONS = EXOSCALE_DJANGO_OPERATIONS + EXOSCALE_VERIFY_OPERATIONS


def _cel_list(values: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join(f"'{value}'" for value in values) + "]"


def exoscale_role_policy(buckets: list[str]) -> dict[str, Any]:
    """Exoscale IAM role policy: the site's buckets and Django's operations, everything else denied."""
    expression = f"parameters.bucket in {_cel_list(buckets)} && operation in {_cel_list(EXOSCALE_SITE_OPERATIONS)}"
    return {
        "default_service_strategy": "deny",
        "services": {"sos": {"type": "rules", "rules": [{"action": "allow", "expression": expression}]}},
    }

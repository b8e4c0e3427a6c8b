"""Names the project gives to buckets and IAM users, and the S3 bucket naming rules."""

from __future__ import annotations

import re

SITE_SLUG = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_BUCKET_CHARS = re.compile(r"^[a-z0-9.-]+$")
_IP_SHAPED = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
# Source: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def public_bucket_name(prefix: str, slug: str) -> str:
    return f"{prefix}-{slug}-public"


def private_bucket_name(prefix: str, slug: str) -> str:
    return f"{prefix}-{slug}-private"


def iam_user_name(prefix: str, slug: str) -> str:
    # At most 55 characters because the private bucket name built from the same parts fits 63.
    return f"{prefix}-{slug}"


def bucket_name_problem(name: str) -> str | None:
    """The first S3 naming rule `name` breaks, or None when it is a valid bucket name."""
    if not 3 <= len(name) <= 63:
        return f"is {len(name)} characters long; S3 bucket names have 3 to 63"
    if not _BUCKET_CHARS.match(name):
        return "may only hold lowercase letters, digits, hyphens and dots"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must start and end with a lowercase letter or digit"
    if ".." in name:
        return "must not contain two adjacent dots"
    if _IP_SHAPED.match(name):
        return "must not be shaped like an IP address"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"must not start with the reserved prefix {prefix!r}"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"must not end with the reserved suffix {suffix!r}"
    return None

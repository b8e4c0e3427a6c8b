"""Names the project gives to buckets and IAM users, and the S3 bucket and DNS naming rules."""

from __future__ import annotations

import re

SITE_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
"""A site slug is one DNS label (use with fullmatch)."""
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?")
_BUCKET_CHARS = re.compile(r"[a-z0-9.-]+")
_IP_SHAPED = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
# Source: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")
LONGEST_SUFFIX = "-a-private"
"""What the shortest site adds to the prefix in its longer bucket name."""
MAX_BUCKET_PREFIX = 63 - len(LONGEST_SUFFIX)
BUCKET_PREFIX_RULE = (
    "use lowercase letters, digits, hyphens and dots, each dot-separated part starting and ending with a letter "
    f"or digit, at most {MAX_BUCKET_PREFIX} characters"
)
MAX_HOST = 253
MAX_LABEL = 63


def public_bucket_name(prefix: str, slug: str) -> str:
    return f"{prefix}-{slug}-public"


def private_bucket_name(prefix: str, slug: str) -> str:
    return f"{prefix}-{slug}-private"


def backup_bucket_name(prefix: str) -> str:
    """The stack's backup bucket (site-storage:backups): no site's bucket ends in -backups."""
    return f"{prefix}-backups"


def backup_writer_name(prefix: str) -> str:
    """The IAM user that writes backups on AWS; a site's user is <prefix>-<site>, so a site named
    `backups-writer` would clash: such a slug is refused where backups are declared."""
    return f"{prefix}-backups-writer"


def iam_user_name(prefix: str, slug: str) -> str:
    # At most 55 characters because the private bucket name built from the same parts fits 63.
    return f"{prefix}-{slug}"


def host_name_problem(host: str, *, single_label: bool = False) -> str | None:
    """None when `host` is a lowercase DNS name (labels of a-z, 0-9 and inner hyphens, at most 63
    characters each, 253 in all; two labels at least unless `single_label`); else what is wrong:
    the length rule broken, or '' when the caller's own rule (the characters) says it."""
    labels = host.split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        return ""
    if len(host) > MAX_HOST:
        return f"the host name is {len(host)} characters long; DNS allows {MAX_HOST}"
    for label in labels:
        if len(label) > MAX_LABEL:
            return f"the label {label[:20]!r}... is {len(label)} characters long; DNS labels have at most {MAX_LABEL}"
    if len(labels) < 2 and not single_label:
        return "a host name has a dot, as in media.example.com"
    return None


def bucket_prefix_problem(prefix: str) -> str | None:
    """None when bucket names `<prefix>-<site>-public/-private` are valid for every valid slug short enough."""
    if not _BUCKET_CHARS.fullmatch(prefix) or not all(_LABEL.fullmatch(part) for part in prefix.split(".")):
        return BUCKET_PREFIX_RULE
    if len(prefix) > MAX_BUCKET_PREFIX:
        return (
            f"it is {len(prefix)} characters long; at most {MAX_BUCKET_PREFIX}, so that even a one-letter site's "
            "<prefix>-<site>-private fits S3's 63"
        )
    for reserved in _RESERVED_PREFIXES:
        if prefix.startswith(reserved) or f"{prefix}-".startswith(reserved):
            return f"bucket names would start with {reserved!r}, which S3 reserves; {BUCKET_PREFIX_RULE}"
    return None


def bucket_name_problem(name: str) -> str | None:
    """The first S3 naming rule `name` breaks, or None when it is a valid bucket name."""
    if not 3 <= len(name) <= 63:
        return f"is {len(name)} characters long; S3 bucket names have 3 to 63"
    if not _BUCKET_CHARS.fullmatch(name):
        return "may only hold lowercase letters, digits, hyphens and dots"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "must start and end with a lowercase letter or digit"
    if ".." in name:
        return "must not contain two adjacent dots"
    if _IP_SHAPED.fullmatch(name):
        return "must not be shaped like an IP address"
    for prefix in _RESERVED_PREFIXES:
        if name.startswith(prefix):
            return f"must not start with the reserved prefix {prefix!r}"
    for suffix in _RESERVED_SUFFIXES:
        if name.endswith(suffix):
            return f"must not end with the reserved suffix {suffix!r}"
    return None

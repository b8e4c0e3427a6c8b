"""verify's statuses and check ids, in report order: constants only, so `--help` needs no boto3."""

from __future__ import annotations

PASS = "pass"
FAIL = "fail"
SKIP = "skip"
"""Not shown either way, usually because an earlier step failed; counts as not passed."""
NOT_APPLICABLE = "n/a"
"""The stack does not promise it (region capability, no private bucket, shared key)."""

DEPLOYED = "deployed"
PUBLIC_READ_WRITE = "public.read-write"
PUBLIC_ANONYMOUS_READ = "public.anonymous-read"
PUBLIC_ANONYMOUS_LIST = "public.anonymous-list"
PUBLIC_EXISTS = "public.exists"
PUBLIC_LISTDIR = "public.listdir"
PUBLIC_MULTIPART = "public.multipart"
PRIVATE_READ_WRITE = "private.read-write"
PRIVATE_EXISTS = "private.exists"
PRIVATE_LISTDIR = "private.listdir"
PRIVATE_MULTIPART = "private.multipart"
PRIVATE_ANONYMOUS_REFUSED = "private.anonymous-refused"
PRIVATE_ANONYMOUS_LIST = "private.anonymous-list"
PRIVATE_SIGNED_URL = "private.signed-url"
CORS = "cors"
PRIVATE_ACCESS_BLOCK = "private.access-block"
PRIVATE_OWNERSHIP = "private.ownership"
PRIVATE_TLS_ONLY = "private.tls-only"
ISOLATION = "isolation"
ANONYMOUS_LIST_CHECKS = {"public": PUBLIC_ANONYMOUS_LIST, "private": PRIVATE_ANONYMOUS_LIST}
# Per bucket role: what django-storages does besides put/get/delete (exists, listdir, large uploads).
DJANGO_CALL_CHECKS = {
    "public": (PUBLIC_EXISTS, PUBLIC_LISTDIR, PUBLIC_MULTIPART),
    "private": (PRIVATE_EXISTS, PRIVATE_LISTDIR, PRIVATE_MULTIPART),
}
CHECK_ORDER = (
    DEPLOYED,
    PUBLIC_READ_WRITE,
    PUBLIC_EXISTS,
    PUBLIC_LISTDIR,
    PUBLIC_MULTIPART,
    PUBLIC_ANONYMOUS_READ,
    PUBLIC_ANONYMOUS_LIST,
    PRIVATE_READ_WRITE,
    PRIVATE_EXISTS,
    PRIVATE_LISTDIR,
    PRIVATE_MULTIPART,
    PRIVATE_ANONYMOUS_REFUSED,
    PRIVATE_ANONYMOUS_LIST,
    PRIVATE_SIGNED_URL,
    CORS,
    PRIVATE_ACCESS_BLOCK,
    PRIVATE_OWNERSHIP,
    PRIVATE_TLS_ONLY,
    ISOLATION,
)

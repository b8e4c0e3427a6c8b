"""Two ways moto 5.2.5 differs from S3 where storagectl relies on S3's behaviour, closed for the local server.

`storagectl local up` starts moto as the local stack's S3; the tests' moto servers close the
same gaps (tests/support/moto_verify.py). Each patch makes moto do what S3 does, nothing else:

- **Anonymous listing.** moto answers an unsigned GET of a bucket (ListObjects) with its keys
  whatever the bucket's ACL and policy. S3 refuses it (403 AccessDenied) unless the bucket's
  ACL grants everyone READ or its policy allows `s3:ListBucket` to everyone. With the gap
  open, every bucket of the local stack lists its private keys to anyone, and the anonymous
  listing check of `storagectl media` could not tell a leaking bucket from a sound one.
- **When an upload started.** moto's ListMultipartUploads gives every upload the same
  `Initiated` time (2010-11-10T20:48:33Z); S3 gives the time it was created. `storagectl media`
  finds the uploads a killed run started by that time (storagectl/media/upload_journal.py).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from moto.s3.exceptions import S3AccessDeniedError
from moto.s3.models import FakeMultipart
from moto.s3.responses import S3Response

LISTING_PARAMETERS = frozenset(
    {
        "list-type",
        "prefix",
        "delimiter",
        "marker",
        "max-keys",
        "encoding-type",
        "continuation-token",
        "start-after",
        "fetch-owner",
        "versions",
        "key-marker",
        "version-id-marker",
    }
)
"""The query of a ListObjects(V2) or ListObjectVersions request: no sub-resource such as ?acl or ?uploads."""
_EPOCH = "2010-11-10T20:48:33.000Z"
_lock = threading.Lock()
_applied = 0
_originals: dict[str, Any] = {}


def _unsigned(response: Any) -> bool:
    request = response.request
    query = str(getattr(request, "url", "") or "")
    return "Authorization" not in response.headers and "Signature=" not in query and "X-Amz-Signature=" not in query


def _lists_to_anyone(bucket: Any) -> bool:
    from moto.iam.access_control import PermissionResult

    if bucket.acl is not None and bucket.acl.public_read:
        return True
    allowed = bucket.get_permission("s3:ListBucket", f"arn:aws:s3:::{bucket.name}")
    return bool(allowed == PermissionResult.PERMITTED)


def _bucket_get(self: Any, bucket_name: str, querystring: dict[str, Any]) -> Any:
    if _unsigned(self) and set(querystring) <= LISTING_PARAMETERS:
        bucket = self.backend.get_bucket(bucket_name)
        if not _lists_to_anyone(bucket):
            raise S3AccessDeniedError()
    return _originals["_bucket_response_get"](self, bucket_name, querystring)


def _multipart_init(self: Any, *args: Any, **kwargs: Any) -> None:
    _originals["__init__"](self, *args, **kwargs)
    self.storagectl_initiated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _list_multipart_uploads(self: Any) -> Any:
    status, headers, body = S3Response._send_response(_originals["list_multipart_uploads"](self))
    started = {
        upload.id: getattr(upload, "storagectl_initiated", _EPOCH)
        for upload in self.backend.list_multipart_uploads(self.bucket_name).values()
    }
    text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
    for upload_id, when in started.items():
        # Each <Upload> names its id before its time in moto's answer; replace the time that follows the id.
        marker = f"<UploadId>{upload_id}</UploadId>"
        head, found, tail = text.partition(marker)
        if found:
            tail = tail.replace(f"<Initiated>{_EPOCH}</Initiated>", f"<Initiated>{when}</Initiated>", 1)
            text = head + found + tail
    return status, headers, text


def close() -> None:
    """Patch moto in this process for good (the local server's process)."""
    global _applied
    with _lock:
        if _applied == 0:
            _originals["_bucket_response_get"] = S3Response._bucket_response_get
            _originals["list_multipart_uploads"] = S3Response.list_multipart_uploads
            _originals["__init__"] = FakeMultipart.__init__
            S3Response._bucket_response_get = _bucket_get  # type: ignore[method-assign]
            S3Response.list_multipart_uploads = _list_multipart_uploads  # type: ignore[method-assign]
            FakeMultipart.__init__ = _multipart_init  # type: ignore[method-assign]
        _applied += 1


def reopen() -> None:
    global _applied
    with _lock:
        _applied -= 1
        if _applied == 0:
            S3Response._bucket_response_get = _originals["_bucket_response_get"]  # type: ignore[method-assign]
            S3Response.list_multipart_uploads = _originals["list_multipart_uploads"]  # type: ignore[method-assign]
            FakeMultipart.__init__ = _originals["__init__"]  # type: ignore[method-assign]


@contextmanager
def gaps_closed() -> Iterator[None]:
    """The patches for as long as the context is open (in-process moto in the tests)."""
    close()
    try:
        yield
    finally:
        reopen()

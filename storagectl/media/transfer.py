"""Moving one object into its half of the destination, with its metadata and the destination's ACL.

- Bucket to bucket with one key that reads the source and writes the destination on the same
  endpoint: server-side (CopyObject; UploadPartCopy above CopyObject's 5 GiB limit), so the
  bytes never pass through this machine.
- Bucket to bucket otherwise: streamed, one part (PART_SIZE) in memory at a time.
- A local file to a bucket, and a bucket to a local file (written beside its place, then renamed).

Every write sends the destination half's canned ACL (a private half gets `private` or the
owner-only ACL, never a public one) and the source's metadata. Single-part ETags are MD5s, so
each upload's answer is compared with the MD5 of what was sent.
"""

from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from storagectl.media.checksums import MULTIPART_THRESHOLD, PART_SIZE, EtagDigest
from storagectl.media.manifest import Meta
from storagectl.media.stores import PARTIAL_SUFFIX, BucketStore, DirStore, Entry, Store

SERVER_COPY_LIMIT = 5 * 1024**3
"""CopyObject copies up to 5 GiB; larger objects are copied part by part (UploadPartCopy)."""
COPY_PART_SIZE = 512 * 1024**2
DOWNLOAD_CHUNK = 1024 * 1024


class TransferError(Exception):
    """One object could not be moved; the message names it and why."""


@dataclass(frozen=True)
class Moved:
    etag: str
    meta: Meta


def same_endpoint_and_key(source: Store, destination: Store) -> bool:
    return (
        isinstance(source, BucketStore)
        and isinstance(destination, BucketStore)
        and source.identity == destination.identity
    )


def move(source: Store, destination: Store, entry: Entry, meta: Meta | None) -> Moved:
    """Copy `entry` from `source` to the same half and key of `destination`.

    `meta` is what the manifest knows about the object; None reads it from the source.
    """
    if isinstance(source, BucketStore) and isinstance(destination, BucketStore):
        if same_endpoint_and_key(source, destination):
            return _server_side(source, destination, entry, meta)
        return _streamed(source, destination, entry, meta)
    if isinstance(source, DirStore) and isinstance(destination, BucketStore):
        return _upload(source, destination, entry, meta)
    if isinstance(source, BucketStore) and isinstance(destination, DirStore):
        return _download(source, destination, entry)
    raise TransferError(f"{source.label} to {destination.label}: not a supported pair")


def head_meta(store: BucketStore, entry: Entry) -> Meta:
    answer = store.client.head_object(Bucket=store.buckets[entry.kind], Key=store.object_key(entry.kind, entry.key))
    return Meta.from_response(answer)


def _acl(store: BucketStore, kind: str) -> dict[str, str]:
    acl = store.acls.get(kind)
    return {"ACL": acl} if acl else {}


def _target(store: BucketStore, entry: Entry) -> dict[str, str]:
    return {"Bucket": store.buckets[entry.kind], "Key": store.object_key(entry.kind, entry.key)}


def _server_side(source: BucketStore, destination: BucketStore, entry: Entry, meta: Meta | None) -> Moved:
    copy_source = _target(source, entry)
    if meta is None:
        meta = head_meta(source, entry)
    # REPLACE with the known metadata: COPY would keep the source's, which for a backup may be stale.
    arguments = {**_target(destination, entry), **_acl(destination, entry.kind), **meta.request_arguments()}
    if entry.size <= SERVER_COPY_LIMIT:
        answer = destination.client.copy_object(CopySource=copy_source, MetadataDirective="REPLACE", **arguments)
        return Moved(answer["CopyObjectResult"]["ETag"].strip('"'), meta)
    upload = destination.client.create_multipart_upload(**arguments)["UploadId"]
    target = _target(destination, entry)
    try:
        parts = []
        for number, start in enumerate(range(0, entry.size, COPY_PART_SIZE), start=1):
            end = min(entry.size, start + COPY_PART_SIZE) - 1
            answer = destination.client.upload_part_copy(
                **target,
                UploadId=upload,
                PartNumber=number,
                CopySource=copy_source,
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
        etag = _completed(destination, target, upload, parts)
    except BaseException:
        _abort(destination, target, upload)
        raise
    return Moved(etag, meta)


def _streamed(source: BucketStore, destination: BucketStore, entry: Entry, meta: Meta | None) -> Moved:
    answer = source.client.get_object(**_target(source, entry))
    meta = meta or Meta.from_response(answer)
    body = answer["Body"]
    try:
        etag, _ = _put(destination, entry, meta, body, entry.size)
    finally:
        body.close()
    return Moved(etag, meta)


def _upload(source: DirStore, destination: BucketStore, entry: Entry, meta: Meta | None) -> Moved:
    path = source.path(entry.kind, entry.key)
    if meta is None:
        guessed, encoding = mimetypes.guess_type(entry.key)
        meta = Meta(content_type=guessed or "application/octet-stream", content_encoding=encoding)
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        etag, sent = _put(destination, entry, meta, handle, size)
    source.remember_sent(entry, sent)  # a re-run then compares without reading the file again
    return Moved(etag, meta)


def _put(destination: BucketStore, entry: Entry, meta: Meta, body: BinaryIO, size: int) -> tuple[str, str]:
    """PutObject up to MULTIPART_THRESHOLD, else a multipart upload of PART_SIZE parts read one at a time.

    Returns the destination's ETag and the one computed from the bytes sent.
    """
    target = _target(destination, entry)
    arguments = {**target, **_acl(destination, entry.kind), **meta.request_arguments()}
    sent = EtagDigest()
    if size <= MULTIPART_THRESHOLD:
        data = _read_exactly(body, size)
        sent.update(data)
        answer = destination.client.put_object(Body=data, **arguments)
        return _checked(entry, answer["ETag"].strip('"'), sent.etag()), sent.etag()
    upload = destination.client.create_multipart_upload(**arguments)["UploadId"]
    try:
        parts = []
        for number, data in enumerate(_parts(body), start=1):
            answer = destination.client.upload_part(**target, UploadId=upload, PartNumber=number, Body=data)
            sent.update(data)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        etag = _completed(destination, target, upload, parts)
    except BaseException:
        _abort(destination, target, upload)
        raise
    return _checked(entry, etag, sent.etag()), sent.etag()


def _completed(destination: BucketStore, target: dict[str, str], upload: str, parts: list[dict[str, Any]]) -> str:
    """Complete a multipart upload; its object's ETag, from a HEAD where the answer carries none.

    Ceph RGW 16.2 answers CompleteMultipartUpload with an empty <ETag/> (Red Hat bug 2266579),
    which would leave the ETag unchecked and the manifest without one.
    """
    done = destination.client.complete_multipart_upload(**target, UploadId=upload, MultipartUpload={"Parts": parts})
    etag = str(done.get("ETag") or "").strip('"')
    return etag or str(destination.client.head_object(**target)["ETag"]).strip('"')


def _checked(entry: Entry, etag: str, expected: str) -> str:
    # An ETag that is no MD5 at all (SSE-KMS, some gateways) proves nothing either way.
    if len(etag.split("-")[0]) == 32 and etag != expected:
        raise TransferError(f"{entry.kind}/{entry.key}: the destination's ETag {etag} is not the MD5 {expected} sent")
    return etag


def _abort(destination: BucketStore, target: dict[str, str], upload: str) -> None:
    # Best effort: the lifecycle rule for incomplete uploads is the backstop.
    with contextlib.suppress(Exception):
        destination.client.abort_multipart_upload(**target, UploadId=upload)


def _parts(body: BinaryIO) -> Iterator[bytes]:
    while True:
        data = _read_exactly(body, PART_SIZE)
        if not data:
            return
        yield data


def _read_exactly(body: BinaryIO, size: int) -> bytes:
    """Up to `size` bytes; a network stream's read(n) may return fewer before the end."""
    chunks, left = [], size
    while left > 0:
        block = body.read(left)
        if not block:
            break
        chunks.append(block)
        left -= len(block)
    return b"".join(chunks)


def _download(source: BucketStore, destination: DirStore, entry: Entry) -> Moved:
    answer = source.client.get_object(**_target(source, entry))
    path = destination.path(entry.kind, entry.key)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    etag = answer["ETag"].strip('"')
    written = EtagDigest()
    # A single-part object above MULTIPART_THRESHOLD (another tool's PutObject) has a plain MD5
    # ETag, which the part-wise digest of the file does not give: that one is hashed whole too.
    whole = hashlib.md5() if "-" not in etag and entry.size > MULTIPART_THRESHOLD else None
    try:
        with partial.open("wb") as out:
            for block in answer["Body"].iter_chunks(DOWNLOAD_CHUNK):
                written.update(block)
                if whole is not None:
                    whole.update(block)
                out.write(block)
        if "-" not in etag:
            _checked(entry, etag, whole.hexdigest() if whole is not None else written.etag())
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    # The file's time is the object's, so a later push or pull sees which side changed since.
    os.utime(path, (entry.modified, entry.modified))
    destination.remember_written(entry.kind, entry.key, written.etag())
    return Moved(etag, Meta.from_response(answer))

"""Moving one object into its half of the destination, with its metadata and the destination's ACL.

- Bucket to bucket with one key that reads the source and writes the destination on the same
  endpoint: server-side (CopyObject; UploadPartCopy above CopyObject's 5 GiB limit), so the
  bytes never pass through this machine; the copy names the planned ETag (x-amz-copy-source-if-match).
- Bucket to bucket otherwise: streamed, one part (PART_SIZE) in memory at a time.
- A local file to a bucket, and a bucket to a local file (written beside its place, then renamed).

Every read is checked against the plan before the destination gets the object (`integrity`):
a GET asks for the listed ETag (If-Match), and the bytes read must have the planned size and
checksum before the PutObject is sent, the multipart upload completed or the file renamed
into place. A body whose connection breaks is resumed where it broke (a ranged GET of the same
ETag), up to BODY_RESUMES times. Every write sends the destination half's canned ACL (a
private half gets `private` or the owner-only ACL, never a public one) and the source's
metadata. Single-part ETags are MD5s, so each upload's answer is compared with the MD5 of what was sent.

Objects up to crt_client.LARGEST are uploaded and downloaded through the AWS CRT where a run
attached one to the bucket side (`attach_crt`): the same requests at a fifth of botocore's CPU.
Whatever the CRT cannot do, or did not complete, botocore does, and the store's tally says why.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.exceptions import ClientError, IncompleteReadError, ReadTimeoutError, ResponseStreamingError

from storagectl.media import crt_client
from storagectl.media.checksums import MULTIPART_THRESHOLD, PART_SIZE
from storagectl.media.crt_client import CrtFailed, Fetched, Refused
from storagectl.media.integrity import IntegrityError, ReadCheck, is_md5
from storagectl.media.manifest import Meta
from storagectl.media.stores import PARTIAL_SUFFIX, BucketStore, DirStore, Entry, Store
from storagectl.verify import clients
from storagectl.verify.results import error_code

SERVER_COPY_LIMIT = 5 * 1024**3
"""CopyObject copies up to 5 GiB; larger objects are copied part by part (UploadPartCopy)."""
COPY_PART_SIZE = 512 * 1024**2
DOWNLOAD_CHUNK = 1024 * 1024
BODY_RESUMES = 3
"""Times one object's body is resumed after its connection broke, within the run."""
BROKEN_BODY = (ResponseStreamingError, IncompleteReadError, ReadTimeoutError)
"""What botocore raises when a body's connection is reset, cut short or stops arriving."""


class TransferError(Exception):
    """One object could not be moved; the message names it and why."""


@dataclass(frozen=True)
class Moved:
    etag: str
    """The object's ETag on its site (a backup's manifest records it)."""
    copy_etag: str
    """The ETag of the copy just written: the destination's answer, or a local file's in 8 MiB-part form."""
    meta: Meta


class Readable(Protocol):
    def read(self, size: int) -> bytes: ...


def same_endpoint_and_key(source: Store, destination: Store) -> bool:
    return (
        isinstance(source, BucketStore)
        and isinstance(destination, BucketStore)
        and source.identity == destination.identity
    )


def attach_crt(store: BucketStore, connections: int) -> None:
    """Give the store a CRT client for its small objects, or write down why botocore moves them all."""
    if store.credentials is None:
        store.tally.unavailable = "no credentials to hand to the CRT"
        return
    site = store.site
    # An AWS site names no endpoint: botocore resolved the region's, and the CRT goes there too.
    endpoint = site.endpoint_url or str(store.client.meta.endpoint_url)
    signing = crt_client.Signing(
        endpoint, site.region_name, site.addressing_style, site.signature_version, store.credentials
    )
    reason = crt_client.unavailable(signing)
    if reason is None:
        try:
            store.crt = crt_client.CrtClient(
                signing, connections, clients.READ_TIMEOUT_SECONDS, clients.CONNECT_TIMEOUT_SECONDS
            )
        except Exception as error:  # an unreadable CA file, no event loop: botocore still can
            reason = f"the CRT did not start ({getattr(error, 'name', type(error).__name__)})"
    store.tally.unavailable = reason


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
    # The server copies the planned version or refuses (412); moto ignores the condition, S3 and RGW do not.
    condition = {"CopySourceIfMatch": f'"{entry.etag}"'} if entry.etag else {}
    if meta is None:
        meta = _planned(entry, lambda: head_meta(source, entry))
    # REPLACE with the known metadata: COPY would keep the source's, which for a backup may be stale.
    arguments = {**_target(destination, entry), **_acl(destination, entry.kind), **meta.request_arguments()}
    origin = entry.origin_etag or entry.etag or ""
    if entry.size <= SERVER_COPY_LIMIT:
        answer = _planned(
            entry,
            lambda: destination.client.copy_object(
                CopySource=copy_source, MetadataDirective="REPLACE", **condition, **arguments
            ),
        )
        copied = answer["CopyObjectResult"]["ETag"].strip('"')
        if is_md5(entry.etag) and is_md5(copied) and copied != entry.etag:
            # Only a server that ignores the condition gets here (Ceph RGW 16.2 and moto do; S3 answers 412).
            raise IntegrityError(
                f"{entry.kind}/{entry.key}: altered since it was listed (ETag {entry.etag}): the server copied it "
                f"as it is now (ETag {copied}), ignoring x-amz-copy-source-if-match; run again to record it"
            )
        return Moved(origin, copied, meta)
    target = _target(destination, entry)
    upload, token = _created(destination, target, arguments)
    try:
        parts = []
        for number, start in enumerate(range(0, entry.size, COPY_PART_SIZE), start=1):
            end = min(entry.size, start + COPY_PART_SIZE) - 1
            answer = _planned(
                entry,
                lambda start=start, end=end, number=number: destination.client.upload_part_copy(
                    **target,
                    UploadId=upload,
                    PartNumber=number,
                    CopySource=copy_source,
                    CopySourceRange=f"bytes={start}-{end}",
                    **condition,
                ),
            )
            parts.append({"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]})
        etag = _completed(destination, target, upload, parts, token)
    except BaseException:
        _abort(destination, target, upload, token)
        raise
    return Moved(origin, etag, meta)


def _streamed(source: BucketStore, destination: BucketStore, entry: Entry, meta: Meta | None) -> Moved:
    body = ResumableBody(source, entry)
    try:
        etag = _put(destination, entry, meta or body.meta, body, _read_check(entry))
    finally:
        body.close()
    return Moved(entry.origin_etag or entry.etag or etag, etag, meta or body.meta)


def _upload(source: DirStore, destination: BucketStore, entry: Entry, meta: Meta | None) -> Moved:
    path = source.path(entry.kind, entry.key)
    if meta is None:
        guessed, encoding = mimetypes.guess_type(entry.key)
        meta = Meta(content_type=guessed or "application/octet-stream", content_encoding=encoding)
    check = _read_check(entry)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise IntegrityError(f"{entry.kind}/{entry.key}: gone since it was listed; nothing was written") from None
    with handle:
        etag = _put(destination, entry, meta, handle, check)
    sent = check.digest.etag()
    source.remember_sent(entry, sent)  # a re-run then compares without reading the file again
    return Moved(entry.origin_etag or sent, etag, meta)


def _read_check(entry: Entry) -> ReadCheck:
    return ReadCheck(entry.size, entry.planned_etag, own_parts=entry.own_parts)


def _put(destination: BucketStore, entry: Entry, meta: Meta, body: Readable, check: ReadCheck) -> str:
    """PutObject up to MULTIPART_THRESHOLD, else a multipart upload of PART_SIZE parts read one at a time.

    The planned size decides which; the bytes read must match the plan (`check`) before the
    PutObject is sent or the upload completed. Returns the destination's ETag.
    """
    target = _target(destination, entry)
    arguments = {**target, **_acl(destination, entry.kind), **meta.request_arguments()}
    what = f"{entry.kind}/{entry.key}"
    if entry.size <= MULTIPART_THRESHOLD:
        data = _read_exactly(body, entry.size + 1)  # one byte more shows a source longer than planned
        check.update(data)
        check.verify(what)
        sent = check.digest.etag()  # up to MULTIPART_THRESHOLD: the body's MD5
        return _checked(entry, _put_whole(destination, data, arguments, sent), sent)
    destination.tally.moved_by_botocore(OVER_LARGEST)
    upload, token = _created(destination, target, arguments)
    try:
        parts = []
        for number, data in enumerate(_parts(body), start=1):
            check.update(data)
            if check.read > entry.size:
                check.verify(what)
            answer = destination.client.upload_part(**target, UploadId=upload, PartNumber=number, Body=data)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        check.verify(what)  # before the upload becomes an object
        etag = _completed(destination, target, upload, parts, token)
    except BaseException:
        _abort(destination, target, upload, token)
        raise
    return _checked(entry, etag, check.digest.etag())


OVER_LARGEST = f"over {crt_client.LARGEST // 1024**2} MiB"
"""Why botocore moved an object: above it, bandwidth decides, not the client's CPU per request."""


def _put_whole(destination: BucketStore, data: bytes, arguments: dict[str, Any], md5: str) -> str:
    """PutObject of a body held in memory (`md5` its MD5 in hex), through the CRT where it serves;
    the destination's ETag."""
    crt, tally = destination.crt, destination.tally
    if crt is None:
        reason = tally.unavailable or "not a folder-to-bucket run"
    elif len(data) > crt_client.LARGEST:
        reason = OVER_LARGEST
    elif not crt_client.sendable(headers := crt_client.request_headers(arguments)):
        reason = "metadata that is not ASCII"
    else:
        try:
            etag = crt.put(arguments["Bucket"], arguments["Key"], data, headers, md5)
        except Refused as error:
            reason = f"the CRT's request was refused ({error}), botocore tried again"
        except CrtFailed as error:
            reason = _crt_off(destination, error)
        else:
            tally.moved_by_crt()
            return etag
    answer = destination.client.put_object(Body=data, **arguments)
    tally.moved_by_botocore(reason)
    return str(answer["ETag"]).strip('"')


def _crt_off(store: BucketStore, error: CrtFailed) -> str:
    """After a request the CRT got no answer to, botocore moves the rest of the run's objects.

    A server that cannot be reached or a TLS handshake that fails costs the CRT 10-30 s a try
    (s2n delays its failures on purpose; measured 23-42 s with one retry), botocore seconds.
    """
    store.crt = None
    reason = f"the CRT got no answer ({error}): botocore moved it and the rest"
    store.tally.unavailable = store.tally.unavailable or reason
    return reason


def _got_whole(source: BucketStore, entry: Entry) -> Fetched | None:
    """GetObject through the CRT of a small object naming its planned ETag, or None for botocore to do."""
    crt, tally = source.crt, source.tally
    if crt is None:
        tally.moved_by_botocore(tally.unavailable or "not a bucket-to-folder run")
        return None
    if entry.size > crt_client.LARGEST:
        tally.moved_by_botocore(OVER_LARGEST)
        return None
    try:
        got = crt.get(source.buckets[entry.kind], source.object_key(entry.kind, entry.key), entry.etag)
    except Refused as error:
        if error.status == 412:
            raise _altered(entry) from None
        if error.status == 404:
            raise _gone(entry) from None
        tally.moved_by_botocore(f"the CRT's request was refused ({error}), botocore tried again")
        return None
    except CrtFailed as error:
        tally.moved_by_botocore(_crt_off(source, error))
        return None
    tally.moved_by_crt()
    return got


def _created(destination: BucketStore, target: dict[str, str], arguments: dict[str, Any]) -> tuple[str, str | None]:
    """CreateMultipartUpload, written down in the run's journal first (a killed run's is aborted by the next)."""
    journal = destination.journal
    token = journal.begin(destination.identity[0], target["Bucket"], target["Key"]) if journal else None
    upload = str(destination.client.create_multipart_upload(**arguments)["UploadId"])
    if journal is not None and token is not None:
        journal.started(token, upload)
    return upload, token


def _completed(
    destination: BucketStore, target: dict[str, str], upload: str, parts: list[dict[str, Any]], token: str | None
) -> str:
    """Complete a multipart upload; its object's ETag, from a HEAD where the answer carries none.

    Ceph RGW 16.2 answers CompleteMultipartUpload with an empty <ETag/> (Red Hat bug 2266579),
    which would leave the ETag unchecked and the manifest without one.
    """
    done = destination.client.complete_multipart_upload(**target, UploadId=upload, MultipartUpload={"Parts": parts})
    if destination.journal is not None and token is not None:
        destination.journal.ended(token)
    etag = str(done.get("ETag") or "").strip('"')
    return etag or str(destination.client.head_object(**target)["ETag"]).strip('"')


def _checked(entry: Entry, etag: str, expected: str) -> str:
    # An ETag that is no MD5 at all (SSE-KMS, some gateways) proves nothing either way.
    if len(etag.split("-")[0]) == 32 and etag != expected:
        raise TransferError(f"{entry.kind}/{entry.key}: the destination's ETag {etag} is not the MD5 {expected} sent")
    return etag


def _abort(destination: BucketStore, target: dict[str, str], upload: str, token: str | None) -> None:
    # One try: an upload left here stays in the journal, and the next run aborts it.
    try:
        destination.client.abort_multipart_upload(**target, UploadId=upload)
    except ClientError as error:
        if error_code(error) != "NoSuchUpload":
            return
    except Exception:
        return
    if destination.journal is not None and token is not None:
        destination.journal.ended(token)


def _parts(body: Readable) -> Iterator[bytes]:
    while True:
        data = _read_exactly(body, PART_SIZE)
        if not data:
            return
        yield data


def _read_exactly(body: Readable, size: int) -> bytes:
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
    fetched = _got_whole(source, entry)
    body: ResumableBody | None = None
    got: Fetched | ResumableBody
    blocks: Iterable[bytes]
    if fetched is not None:
        got, blocks = fetched, [fetched.body]
    else:
        body = got = ResumableBody(source, entry)
        blocks = body.chunks(DOWNLOAD_CHUNK)
    path = destination.path(entry.kind, entry.key)
    partial = path.with_name(path.name + PARTIAL_SUFFIX)
    check = _read_check(entry)
    try:
        with destination.create(entry.kind, partial) as out:
            for block in blocks:
                check.update(block)
                out.write(block)
        check.verify(f"{entry.kind}/{entry.key}")  # before the file takes its place
        os.replace(partial, path)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if body is not None:
            body.close()
    # The file's time is the object's, so a later push or pull sees which side changed since.
    os.utime(path, (entry.modified, entry.modified))
    written = check.digest.etag()
    destination.remember_written(entry.kind, entry.key, written)
    return Moved(entry.origin_etag or entry.etag or got.etag, written, got.meta)


def _planned(entry: Entry, call: Any) -> Any:
    """Run a request that names the planned ETag; its refusal becomes one line saying the object changed."""
    try:
        return call()
    except ClientError as error:
        code = error_code(error)
        if code in ("PreconditionFailed", "412"):
            raise _altered(entry) from None
        if code in ("NoSuchKey", "404"):
            raise _gone(entry) from None
        raise


def _altered(entry: Entry) -> IntegrityError:
    return IntegrityError(
        f"{entry.kind}/{entry.key}: altered since it was listed (its ETag is no longer {entry.etag}); "
        "nothing was written for it; run again to copy it as it is now"
    )


def _gone(entry: Entry) -> IntegrityError:
    return IntegrityError(f"{entry.kind}/{entry.key}: gone since it was listed; nothing was written for it")


class ResumableBody:
    """The body of one GET of the planned object, read in order; a broken connection is resumed.

    Every GET names the planned ETag (If-Match), so a resumed range is of the same object; when
    the connection breaks (reset, cut short, read timeout), the rest is asked for with a ranged
    GET from the first byte not yet read, up to BODY_RESUMES times.
    """

    def __init__(self, store: BucketStore, entry: Entry) -> None:
        self.store = store
        self.entry = entry
        self.offset = 0
        self.resumes = 0
        answer = self._get(0)
        self.etag = str(answer.get("ETag") or "").strip('"')
        self.meta = Meta.from_response(answer)
        self._body: Any = answer["Body"]

    def _get(self, start: int) -> dict[str, Any]:
        arguments: dict[str, Any] = dict(_target(self.store, self.entry))
        if self.entry.etag:
            arguments["IfMatch"] = f'"{self.entry.etag}"'
        if start:
            arguments["Range"] = f"bytes={start}-"
        answer: dict[str, Any] = _planned(self.entry, lambda: self.store.client.get_object(**arguments))
        return answer

    def _resume(self, error: Exception) -> None:
        with contextlib.suppress(Exception):
            self._body.close()
        if self.resumes >= BODY_RESUMES or self.offset >= self.entry.size:
            raise error
        self.resumes += 1
        self._body = self._get(self.offset)["Body"]

    def read(self, size: int) -> bytes:
        while True:
            try:
                data: bytes = self._body.read(size)
            except BROKEN_BODY as error:
                self._resume(error)
                continue
            self.offset += len(data)
            return data

    def chunks(self, size: int) -> Iterator[bytes]:
        while data := self.read(size):
            yield data

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._body.close()

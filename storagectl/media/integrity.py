"""What a run reads is what it planned from: sizes and checksums, checked before anything is written.

A run plans from a listing (copy, pull, push) or from a backup's manifest (restore). Each
object is then read once, and the bytes read are checked against the plan before the
destination gets them: a PutObject is sent only after its bytes matched, a multipart upload is
completed only after all its parts matched (else aborted), and a download is renamed into place
only after the file matched. What cannot be compared exactly is said here:

- A plain ETag (no `-N`) is the MD5 of the body: compared always (objects above 8 MiB hashed whole too).
- A multipart ETag depends on the part size the uploader chose. It is compared only where this
  project computed it itself with its 8 MiB parts (a manifest's `copy_etag` of a folder backup,
  the checksum cache); elsewhere the size is compared, and reads from a bucket ask for the
  listed ETag (If-Match), so they get the object that was planned or fail.
"""

from __future__ import annotations

import hashlib

from storagectl.media.checksums import MULTIPART_THRESHOLD, EtagDigest


class IntegrityError(Exception):
    """An object is missing or is not what the plan said; nothing was written for it."""


def is_md5(etag: str | None) -> bool:
    return bool(etag) and "-" not in str(etag)


def parts_of(etag: str) -> int:
    return int(etag.rsplit("-", 1)[1]) if "-" in etag else 1


class ReadCheck:
    """Hashes the bytes of one object as they are read; `problem` says how they differ from the plan."""

    def __init__(self, size: int, etag: str | None, *, own_parts: bool) -> None:
        """`etag`: what the plan says the bytes hash to (None: size only); `own_parts`: a multipart
        ETag computed with this project's 8 MiB parts, so comparable."""
        self.size = size
        self.etag = etag or None
        self.digest = EtagDigest()
        self._whole = hashlib.md5() if is_md5(self.etag) and size > MULTIPART_THRESHOLD else None
        self._compare_parts = bool(self.etag) and not is_md5(self.etag) and own_parts

    def update(self, data: bytes | memoryview) -> None:
        self.digest.update(data)
        if self._whole is not None:
            self._whole.update(data)

    @property
    def read(self) -> int:
        return self.digest.size

    def problem(self) -> str | None:
        if self.digest.size != self.size:
            return f"{self.digest.size} bytes read where {self.size} were planned"
        if self.etag is None:
            return None
        if is_md5(self.etag):
            got = self._whole.hexdigest() if self._whole is not None else self.digest.etag()
            return None if got == self.etag else f"its bytes have MD5 {got}, {self.etag} was planned"
        if self._compare_parts and self.digest.etag() != self.etag:
            return f"its bytes have ETag {self.digest.etag()}, {self.etag} was planned"
        return None

    def verify(self, what: str) -> None:
        problem = self.problem()
        if problem:
            raise IntegrityError(f"{what}: altered: {problem}; nothing was written for it")

"""S3-style ETags for local files, computed the way `transfer` uploads them.

A single-part upload's ETag is the MD5 of the body; a multipart upload's is the MD5 of the
parts' MD5s with `-<parts>` appended. `transfer` uploads files larger than
MULTIPART_THRESHOLD in parts of PART_SIZE, so this predicts the ETag S3 will report and an
unchanged file is recognised without downloading anything. One digest (`EtagDigest`) serves
hashing a file, an upload and a download, so the three can never disagree.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

PART_SIZE = 8 * 1024 * 1024
MULTIPART_THRESHOLD = PART_SIZE
"""Objects above this size go in parts: memory per transfer stays at one part."""
_READ = 1024 * 1024


class EtagDigest:
    """The ETag of bytes fed in order: their MD5 up to MULTIPART_THRESHOLD, else the PART_SIZE parts' form.

    Each byte is hashed once: a body of one part has that part's MD5 as its ETag.
    """

    def __init__(self) -> None:
        self._part = hashlib.md5()
        self._in_part = 0
        self._parts: list[bytes] = []
        self.size = 0

    def update(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        self.size += len(view)
        while view:
            take = view[: PART_SIZE - self._in_part]
            self._part.update(take)
            self._in_part += len(take)
            view = view[len(take) :]
            if self._in_part == PART_SIZE:
                self._parts.append(self._part.digest())
                self._part, self._in_part = hashlib.md5(), 0

    def etag(self) -> str:
        parts = self._parts + ([self._part.digest()] if self._in_part or not self._parts else [])
        if self.size <= MULTIPART_THRESHOLD:
            return parts[0].hex()
        return f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}"


def file_etag(path: Path) -> str:
    digest = EtagDigest()
    with path.open("rb") as handle:
        while block := handle.read(_READ):
            digest.update(block)
    return digest.etag()

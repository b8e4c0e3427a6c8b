"""S3-style ETags for local files, computed the way `transfer` uploads them.

A single-part upload's ETag is the MD5 of the body; a multipart upload's is the MD5 of the
parts' MD5s with `-<parts>` appended. `transfer` uploads files larger than
MULTIPART_THRESHOLD in parts of PART_SIZE, so this predicts the ETag S3 will report and an
unchanged file is recognised without downloading anything.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import BinaryIO

PART_SIZE = 8 * 1024 * 1024
MULTIPART_THRESHOLD = PART_SIZE
"""Objects above this size go in parts: memory per transfer stays at one part."""
_READ = 1024 * 1024


def file_etag(path: Path) -> str:
    size = path.stat().st_size
    with path.open("rb") as handle:
        if size <= MULTIPART_THRESHOLD:
            return _md5(handle, size).hexdigest()
        parts = [_md5(handle, PART_SIZE).digest() for _ in range(-(-size // PART_SIZE))]
    return f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}"


def _md5(handle: BinaryIO, limit: int) -> hashlib._Hash:
    digest = hashlib.md5()
    left = limit
    while left > 0:
        block = handle.read(min(_READ, left))
        if not block:
            break
        digest.update(block)
        left -= len(block)
    return digest


def is_multipart(etag: str) -> bool:
    return "-" in etag

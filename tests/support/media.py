"""Shared by the media tests: a media folder with both halves, and reading a bucket back."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

SMALL_FILES = {
    "public": {"uploads/cat.jpg": b"\xff\xd8 a cat", "thumbs/cat.128x128.png": b"\x89PNG thumb", "a b/ü.txt": b"x"},
    "private": {"contracts/terms.pdf": b"%PDF private terms", "invoices/2026/01.csv": b"id,total\n1,2\n"},
}
LARGE_KEY = "videos/big.bin"
LARGE_SIZE = 12 * 1024 * 1024 + 5
"""Above the 8 MiB multipart threshold: two parts."""


def media_folder(root: Path, *, large: bool = False) -> Path:
    for kind, files in SMALL_FILES.items():
        for key, body in files.items():
            path = root / kind / key
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(body)
    if large:
        path = root / "private" / LARGE_KEY
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(bytes(range(256)) * (LARGE_SIZE // 256) + b"tail!")
    return root


def folder_files(root: Path) -> dict[tuple[str, str], bytes]:
    return {
        (kind, path.relative_to(root / kind).as_posix()): path.read_bytes()
        for kind in ("public", "private")
        if (root / kind).is_dir()
        for path in sorted((root / kind).rglob("*"))
        if path.is_file()
    }


def bucket_objects(s3: Any, bucket: str) -> dict[str, bytes]:
    listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listed}


def anonymous_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def summary(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout)
    return document

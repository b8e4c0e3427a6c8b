"""Multipart uploads a media run started, on disk until each is completed or aborted, so a later run can abort them.

A run that is killed (or whose abort fails) leaves incomplete multipart uploads on the server:
invisible to listings, billed as storage, until the bucket's lifecycle rule expires them days
later. S3 cannot find them by tag (ListMultipartUploads returns no tags or metadata), and the
site's own key uploads large files to the same keys, so "every upload under the site's keys"
would also abort a visitor's upload in progress. Instead each run keeps a journal of its own:

- before CreateMultipartUpload, a `begin` line (endpoint, bucket, key, time); after it, the
  upload id; after CompleteMultipartUpload or a successful abort, an `end` line;
- the journal is `.local/media-uploads/run-<pid>-<random>.jsonl`, flock'ed by its run while the
  run lives (the kernel drops the lock when the process dies, also on SIGKILL);
- at the start of every run that writes a bucket, the journals nobody holds are read and each
  upload begun but not ended on that run's destination is aborted: by its id, or, when the
  run died between sending CreateMultipartUpload and writing down the answer, by listing the
  uploads of exactly that key (ListMultipartUploads, prefix = the key) started within 15 minutes
  of the `begin` line (S3 refuses requests whose clock is further off, so the server's time
  is within that of this machine's). Entries for other destinations stay for a run that writes them.

Lines are appended with one write(2) each (O_APPEND), which a killed process never leaves
half-written in the page cache; a partial line (power loss) is skipped.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from storagectl.atomic_files import make_private_dirs

CLOCK_SLACK_SECONDS = 15 * 60
"""S3 refuses requests more than 15 minutes off its clock (RequestTimeTooSkewed)."""
FORGET_AFTER_SECONDS = 8 * 24 * 3600
"""By then the buckets' lifecycle rule (abort incomplete uploads after 7 days) has aborted it."""


@dataclass(frozen=True)
class Pending:
    """An upload a stopped run began and did not end."""

    token: str
    endpoint: str
    bucket: str
    key: str
    began: float
    upload_id: str | None


class UploadJournal:
    """This run's journal: thread-safe, held (flock) until `close`."""

    def __init__(self, directory: Path) -> None:
        make_private_dirs(directory)
        self._fd, self.path = _created_locked(directory)
        self._lock = threading.Lock()
        self._open: set[str] = set()

    def _write(self, line: dict[str, Any]) -> None:
        with self._lock:
            os.write(self._fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())

    def begin(self, endpoint: str, bucket: str, key: str) -> str:
        token = uuid.uuid4().hex
        self._write({"op": "begin", "id": token, "endpoint": endpoint, "bucket": bucket, "key": key, "at": time.time()})
        with self._lock:
            self._open.add(token)
        return token

    def started(self, token: str, upload_id: str) -> None:
        self._write({"op": "upload", "id": token, "upload_id": upload_id})

    def ended(self, token: str) -> None:
        self._write({"op": "end", "id": token})
        with self._lock:
            self._open.discard(token)

    def close(self) -> None:
        """Remove the journal when every upload ended; else keep it (unlocked) for the next run."""
        with self._lock:
            if not self._open:
                self.path.unlink(missing_ok=True)
            os.close(self._fd)


def _created_locked(directory: Path) -> tuple[int, Path]:
    """A new journal, locked before it gets the name other runs look for (so none takes it for a dead run's)."""
    for _ in range(3):
        name = f"run-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        starting = directory / f"{name}.new"
        descriptor = os.open(starting, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            os.rename(starting, directory / f"{name}.jsonl")
        except FileNotFoundError:  # a sweeping run took it for debris in the instant before the lock
            os.close(descriptor)
            continue
        return descriptor, directory / f"{name}.jsonl"
    raise OSError(f"{directory}: could not start an upload journal")


@contextlib.contextmanager
def abandoned(directory: Path) -> Iterator[list[tuple[Path, list[Pending]]]]:
    """The journals of runs that are gone (nobody holds their lock), locked for the caller, with what they left.

    The caller aborts what it can and calls `keep` for the rest.
    """
    held: list[tuple[Path, int]] = []
    found: list[tuple[Path, list[Pending]]] = []
    try:
        for path in sorted(directory.glob("run-*")) if directory.is_dir() else []:
            try:
                descriptor = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(descriptor)  # its run is still going
                continue
            held.append((path, descriptor))
            if path.suffix != ".jsonl":  # a run killed while it started, or a rewrite cut short: debris
                path.unlink(missing_ok=True)
                continue
            path.with_name(path.name + ".rewrite").unlink(missing_ok=True)
            found.append((path, [item for item in _pending(path) if time.time() - item.began < FORGET_AFTER_SECONDS]))
        yield found
    finally:
        for _, descriptor in held:
            os.close(descriptor)


def keep(path: Path, pending: list[Pending]) -> None:
    """Rewrite a stopped run's journal with only `pending` left in it (removed when nothing is)."""
    if not pending:
        path.unlink(missing_ok=True)
        return
    lines = []
    for item in pending:
        lines.append(
            {
                "op": "begin",
                "id": item.token,
                "endpoint": item.endpoint,
                "bucket": item.bucket,
                "key": item.key,
                "at": item.began,
            }
        )
        if item.upload_id:
            lines.append({"op": "upload", "id": item.token, "upload_id": item.upload_id})
    text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    temporary = path.with_name(path.name + ".rewrite")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    fcntl.flock(descriptor, fcntl.LOCK_EX)  # not debris while it is written
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.replace(temporary, path)


def _pending(path: Path) -> list[Pending]:
    begun: dict[str, dict[str, Any]] = {}
    uploads: dict[str, str] = {}
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            token = str(entry["id"])
            op = entry["op"]
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short
        if op == "begin":
            begun[token] = entry
        elif op == "upload":
            uploads[token] = str(entry.get("upload_id") or "")
        elif op == "end":
            begun.pop(token, None)
    pending = []
    for token, entry in begun.items():
        with contextlib.suppress(KeyError, TypeError, ValueError):
            pending.append(
                Pending(
                    token,
                    str(entry["endpoint"]),
                    str(entry["bucket"]),
                    str(entry["key"]),
                    float(entry["at"]),
                    uploads.get(token) or None,
                )
            )
    return pending


def matching_uploads(listed: list[dict[str, Any]], item: Pending) -> list[str]:
    """Upload ids in a ListMultipartUploads answer that `item`'s run may have started (its key, near its time)."""
    ids = []
    for upload in listed:
        initiated = upload.get("Initiated")
        when = initiated.timestamp() if isinstance(initiated, datetime) else None
        if upload.get("Key") == item.key and when is not None and abs(when - item.began) <= CLOCK_SLACK_SECONDS:
            ids.append(str(upload["UploadId"]))
    return ids

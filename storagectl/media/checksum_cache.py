"""A media folder's file checksums, remembered between runs in DIR/.storagectl-checksums.json.

Without it, every push or pull over a folder that is already in step reads every file again
to compute its ETag: seconds for this bench's 250 MB, many minutes for a site's 50 GB. A
remembered ETag is used only while the file's size, mtime, ctime and inode are the ones it was
computed for, as git's index and rsync trust a file's stat: any write, rename or utime changes
at least the ctime. Like git's "racily clean" rule, a file changed less than RACY_SECONDS
before the cache is saved is not remembered, since a second change within the same clock tick
would leave its stat as it was. The cache is only ever an optimisation: a missing, unreadable
or foreign file is ignored and the checksums are computed.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path
from typing import NamedTuple

from storagectl.atomic_files import write_atomic
from storagectl.media.checksums import PART_SIZE

CACHE_NAME = ".storagectl-checksums.json"
VERSION = 1
RACY_SECONDS = 2.0


class Stamp(NamedTuple):
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int

    @classmethod
    def of(cls, facts: os.stat_result) -> Stamp:
        return cls(facts.st_size, facts.st_mtime_ns, facts.st_ctime_ns, facts.st_ino)


class ChecksumCache:
    """{name: (stamp, etag)} for one folder; `name` is `<half>/<key>`. Thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[Stamp, str]] = _load(path)
        self._changed = False
        self._put: set[str] = set()

    def get(self, name: str, stamp: Stamp) -> str | None:
        remembered = self._entries.get(name)
        return remembered[1] if remembered is not None and remembered[0] == stamp else None

    def put(self, name: str, stamp: Stamp, etag: str) -> None:
        with self._lock:
            self._put.add(name)
            if self._entries.get(name) != (stamp, etag):
                self._entries[name] = (stamp, etag)
                self._changed = True

    def forget_except(self, names: set[str], halves: set[str]) -> None:
        """Drop files of `halves` neither in `names` nor put since loading: the cache never outgrows the folder."""
        with self._lock:
            gone = {name for name in self._entries if name.split("/", 1)[0] in halves} - names - self._put
            for name in gone:
                del self._entries[name]
                self._changed = True

    def save(self) -> None:
        """Write the cache if it changed; a folder that cannot take it (read-only) just goes without."""
        with self._lock:
            if not self._changed:
                return
            settled = time.time_ns() - int(RACY_SECONDS * 1e9)
            entries = {
                name: [*stamp, etag]
                for name, (stamp, etag) in sorted(self._entries.items())
                if stamp.ctime_ns < settled and stamp.mtime_ns < settled
            }
            text = json.dumps({"version": VERSION, "part_size": PART_SIZE, "files": entries}, separators=(",", ":"))
            with contextlib.suppress(OSError):  # LockTimeout too: another run is saving it
                write_atomic(self.path, text + "\n", private=True)
                self._changed = False


def _load(path: Path) -> dict[str, tuple[Stamp, str]]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("version") != VERSION or document.get("part_size") != PART_SIZE:
            return {}
        return {
            name: (Stamp(int(size), int(mtime), int(ctime), int(inode)), str(etag))
            for name, (size, mtime, ctime, inode, etag) in document["files"].items()
        }
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return {}

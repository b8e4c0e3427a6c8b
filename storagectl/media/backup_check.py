"""`media verify-backup`: prove a backup complete without restoring it.

A backup is complete when its manifest is there, names the site, and every object it lists is
in the backup with the recorded size and checksum. A folder's files are read and hashed (a
stat would not show a flipped bit); a bucket backup's objects are compared by the ETag the
server computed when it stored them, from one listing. Objects the manifest does not list
are not part of the backup and are named as ignored. What is checked by size only (a
multipart ETag of another part size, in a manifest written before `copy_etag`) is counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from storagectl.media import manifest
from storagectl.media.engine import EXIT_INVALID, MediaError, storage_step
from storagectl.media.integrity import ReadCheck, is_md5
from storagectl.media.manifest import Record
from storagectl.media.stores import DirStore, Entry, Store

READ_BLOCK = 1024 * 1024


@dataclass
class BackupCheck:
    backup: str
    site: str
    objects: int = 0
    bytes: int = 0
    by_checksum: int = 0
    """Objects whose checksum was compared (a folder's files hashed, a bucket's ETags)."""
    size_only: int = 0
    """Objects whose checksum could not be compared (size checked)."""
    missing: list[str] = field(default_factory=list)
    altered: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.missing and not self.altered

    def document(self) -> dict[str, Any]:
        return {
            "backup": self.backup,
            "site": self.site,
            "objects": self.objects,
            "bytes": self.bytes,
            "by_checksum": self.by_checksum,
            "size_only": self.size_only,
            "missing": self.missing,
            "altered": self.altered,
            "ignored": self.ignored,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
        }


def verify_backup(
    store: Store, site: str, concurrency: int, progress: Callable[[str, int], None] | None = None
) -> BackupCheck:
    started = time.perf_counter()
    report = progress or (lambda _what, _amount: None)
    text = storage_step(f"{store.manifest_name()}: reading the manifest", store.read_manifest)
    if text is None:
        raise MediaError(
            [
                f"{store.manifest_name()}: no manifest: {store.label} is not a complete backup "
                "(missing, or interrupted before it finished; run the backup again to complete it)"
            ]
        )
    try:
        found = manifest.parse(text, store.manifest_name())
    except manifest.ManifestError as error:
        raise MediaError([str(error)]) from None
    if found.site != site:
        raise MediaError(
            [f"{store.manifest_name()}: a backup of site {found.site or '(none named)'}, not {site}"], EXIT_INVALID
        )
    result = BackupCheck(store.label, site)
    listed = {kind: storage_step(f"listing {store.label} ({kind})", partial(store.list, kind)) for kind in store.kinds}
    to_read: list[tuple[Record, Entry]] = []
    for (kind, key), record in sorted(found.records.items()):
        result.objects += 1
        result.bytes += record.size
        entry = listed.get(kind, {}).get(key)
        where = f"{kind}/{key}"
        if entry is None:
            result.missing.append(f"{where}: missing (its manifest records {record.size} bytes)")
        elif entry.size != record.size:
            result.altered.append(f"{where}: {entry.size} bytes, its manifest records {record.size}")
        elif isinstance(store, DirStore):
            to_read.append((record, entry))
        else:
            _compare_listed(result, record, entry)
    result.ignored = [
        f"{kind}/{key}"
        for kind, entries in listed.items()
        for key in sorted(entries)
        if (kind, key) not in found.records
    ]
    if isinstance(store, DirStore):
        report("total", len(to_read))
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="verify-backup") as pool:
            for record, problem, compared in pool.map(lambda pair: _hash_file(store, *pair), to_read):
                report("done", record.size)
                if problem:
                    result.altered.append(f"{record.kind}/{record.key}: {problem}")
                if compared:
                    result.by_checksum += 1
                else:
                    result.size_only += 1
    result.seconds = time.perf_counter() - started
    return result


def _compare_listed(result: BackupCheck, record: Record, entry: Entry) -> None:
    expected = record.copy_etag or (record.etag if is_md5(record.etag) and is_md5(entry.etag) else None)
    if expected is None:
        result.size_only += 1
        return
    result.by_checksum += 1
    if entry.etag != expected:
        result.altered.append(f"{record.kind}/{record.key}: ETag {entry.etag}, its manifest records {expected}")


def _hash_file(store: DirStore, record: Record, entry: Entry) -> tuple[Record, str | None, bool]:
    """(record, what is wrong or None, whether a checksum was compared): the file read whole."""
    etag, own_parts = (record.copy_etag, True) if record.copy_etag else (record.etag, False)
    check = ReadCheck(record.size, etag, own_parts=own_parts)
    try:
        with store.path(entry.kind, entry.key).open("rb") as handle:
            while block := handle.read(READ_BLOCK):
                check.update(block)
    except OSError as error:
        return record, f"cannot be read: {error.strerror or error}", False
    compared = is_md5(etag) or own_parts
    return record, check.problem(), compared

"""`storagectl media backup SITE` on a stack with site-storage:backups: one new set in the backup bucket.

1. List the site's two buckets and the blobs already stored for the site.
2. Plan: an object whose (size, ETag) is a stored blob is referenced, not sent; the rest is new.
3. Write the set's `in-progress.json` (the blobs it will reference), so `prune` keeps them.
4. Copy each new body server-side into its blob (the writer reads the site and writes the
   backup bucket on one endpoint: CopyObject, checked against the listed ETag).
5. List the blobs again: a referenced blob that a concurrent prune removed is copied again.
6. Write the manifest last, then remove the marker. A run that fails or is killed before step 6
   leaves an incomplete set, which nothing lists or restores; the next run starts a new set and
   does not send again what this one stored.
7. Anonymous GETs of some blobs and an anonymous listing of the bucket must be refused.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from storagectl.media import privacy, upload_journal
from storagectl.media.backup_sets import (
    BackupTarget,
    BlobStore,
    SetManifest,
    blob_key,
    list_blobs,
    list_sets,
    manifest_key,
    marker_key,
    read_set,
    set_manifest_text,
    set_name,
)
from storagectl.media.engine import Job, MediaError, _clean_leftovers, storage_step
from storagectl.media.integrity import IntegrityError
from storagectl.media.manifest import ManifestError, Meta, Record
from storagectl.media.stores import BucketStore, Entry
from storagectl.media.transfer import head_meta, move
from storagectl.verify.results import describe

Progress = Callable[[str, int], None]


@dataclass
class SetResult:
    site: str
    name: str
    bucket: str
    objects: int = 0
    bytes: int = 0
    new_objects: int = 0
    new_bytes: int = 0
    """What this set sent (copied server-side into new blobs); the rest it references."""
    failed: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)
    checked: int = 0
    listings: int = 0
    privacy_failed: list[str] = field(default_factory=list)
    complete: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.complete and not self.failed and not self.privacy_failed

    def document(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "set": self.name,
            "location": f"s3://{self.bucket}/{manifest_key(self.site, self.name)}",
            "complete": self.complete,
            "objects": self.objects,
            "bytes": self.bytes,
            "new_objects": self.new_objects,
            "new_bytes": self.new_bytes,
            "failed": self.failed,
            "cleaned": self.cleaned,
            "privacy": {"checked": self.checked, "listings": self.listings, "failed": self.privacy_failed},
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
        }


@dataclass(frozen=True)
class Planned:
    entry: Entry
    blob: str
    new: bool


def write_set(
    target: BackupTarget,
    source: BucketStore,
    site: str,
    *,
    now: datetime,
    concurrency: int,
    journal_dir: Path | None,
    record_acls: dict[str, str | None],
    check: str = "sample",
    progress: Progress | None = None,
) -> SetResult:
    started = time.perf_counter()
    report: Progress = progress or (lambda _what, _amount: None)
    name = set_name(now)
    result = SetResult(site, name, target.bucket)
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="backup-set") as pool:
        sets = storage_step(f"listing the backup sets of {site}", lambda: list_sets(target, site))
        if any(info.name == name for info in sets):
            raise MediaError(
                [f"s3://{target.bucket}/{manifest_key(site, name)}: a set of this second exists; run again"]
            )
        previous = _previous(target, [info for info in sets if info.complete])
        halves = {kind: pool.submit(source.list, kind) for kind in source.kinds}
        stored = storage_step(f"listing the stored bodies of {site}", lambda: list_blobs(target, site))
        listed = {kind: storage_step(f"listing {source.label} ({kind})", got.result) for kind, got in halves.items()}
        plan = _plan(site, listed, stored)
        blobs = {(item.entry.kind, item.entry.key): item.blob for item in plan}
        destination = BlobStore(target, site, blobs)
        marker = json.dumps({"site": site, "set": name, "blobs": sorted(set(blobs.values()))}).encode()
        storage_step(
            f"s3://{target.bucket}/{marker_key(site, name)}: starting the set",
            lambda: target.client.put_object(
                Bucket=target.bucket, Key=marker_key(site, name), Body=marker, ContentType="application/json"
            ),
        )
        if journal_dir is not None:
            job = Job("backup", site, source, destination, target.writer, journal_dir=journal_dir)
            result.cleaned = _clean_leftovers(job)
            destination.journal = storage_step(
                f"{journal_dir}: starting this run's upload journal", lambda: upload_journal.UploadJournal(journal_dir)
            )
        try:
            new = _unique_new(plan)
            report("total", len(new))
            copied = _copy(source, destination, new, pool, result, report)
            # A prune that ran between the first listing and the marker may have removed a blob
            # this set references: copy those again, then the manifest may name every one.
            stored = storage_step(f"listing the stored bodies of {site}", lambda: list_blobs(target, site))
            gone = [item for item in plan if not item.new and item.blob not in stored]
            if gone:
                copied.update(_copy(source, destination, _unique_new(gone, force=True), pool, result, report))
                stored = storage_step(f"listing the stored bodies of {site}", lambda: list_blobs(target, site))
        finally:
            if destination.journal is not None:
                destination.journal.close()
                destination.journal = None
        records = _records(source, plan, stored, copied, previous, record_acls, pool, result)
        if not result.failed:
            text = set_manifest_text(
                records,
                blobs,
                site=site,
                source=source.label,
                name=name,
                new=(result.new_objects, result.new_bytes),
            )
            try:
                target.client.put_object(
                    Bucket=target.bucket,
                    Key=manifest_key(site, name),
                    Body=text.encode(),
                    ContentType="application/json",
                )
                result.complete = True
                target.client.delete_object(Bucket=target.bucket, Key=marker_key(site, name))
            except (ClientError, BotoCoreError) as error:
                if not result.complete:
                    result.failed.append(f"{manifest_key(site, name)}: manifest not written: {describe(error)}")
        result.objects = len(records)
        result.bytes = sum(record.size for record in records)
        if check != "none" and result.complete:
            _privacy(destination, plan, check == "all", pool, result)
    result.seconds = time.perf_counter() - started
    return result


def _previous(target: BackupTarget, complete: list[Any]) -> dict[tuple[str, str], Record]:
    """The newest complete set's records (metadata of unchanged objects); an unreadable one is skipped."""
    if not complete:
        return {}
    try:
        found: SetManifest = read_set(target, complete[-1])
    except (ClientError, BotoCoreError, ManifestError, ValueError):
        return {}
    return found.records


def _plan(site: str, listed: dict[str, dict[str, Entry]], stored: dict[str, Entry]) -> list[Planned]:
    plan = []
    for entries in listed.values():
        for _key, entry in sorted(entries.items()):
            blob = blob_key(site, entry.size, entry.etag or "")
            held = stored.get(blob)
            plan.append(Planned(entry, blob, new=held is None or held.size != entry.size))
    return plan


def _unique_new(plan: list[Planned], *, force: bool = False) -> list[Planned]:
    """One copy per new body: two keys with the same content share one blob."""
    seen: dict[str, Planned] = {}
    for item in plan:
        if (item.new or force) and item.blob not in seen:
            seen[item.blob] = item
    return list(seen.values())


def _copy(
    source: BucketStore,
    destination: BlobStore,
    items: list[Planned],
    pool: ThreadPoolExecutor,
    result: SetResult,
    report: Progress,
) -> dict[str, tuple[str, Meta]]:
    """Copy each body into its blob; returns blob -> (the copy's ETag, the object's metadata)."""

    def one(item: Planned) -> tuple[Planned, tuple[str, Meta] | None, str | None]:
        try:
            moved = move(source, destination, item.entry, None)
        except IntegrityError as error:
            return item, None, str(error)
        except Exception as error:
            return item, None, f"{item.entry.kind}/{item.entry.key}: {describe(error)}"
        finally:
            report("done", item.entry.size)
        return item, (moved.copy_etag, moved.meta), None

    copied: dict[str, tuple[str, Meta]] = {}
    for item, done, problem in pool.map(one, items):
        if done is None:
            result.failed.append(problem or f"{item.entry.kind}/{item.entry.key}: failed")
            continue
        copied[item.blob] = done
        result.new_objects += 1
        result.new_bytes += item.entry.size
    return copied


def _records(
    source: BucketStore,
    plan: list[Planned],
    stored: dict[str, Entry],
    copied: dict[str, tuple[str, Meta]],
    previous: dict[tuple[str, str], Record],
    record_acls: dict[str, str | None],
    pool: ThreadPoolExecutor,
    result: SetResult,
) -> list[Record]:
    """One record per object: metadata from this run's copy, the previous set, or a HEAD of the site's object."""

    def meta_of(item: Planned) -> Meta | None:
        entry = item.entry
        if item.blob in copied and item.new:
            return copied[item.blob][1]
        record = previous.get((entry.kind, entry.key))
        if record is not None and record.size == entry.size and record.etag == entry.etag:
            return record.meta
        return None

    def head(item: Planned) -> tuple[Planned, Meta | None, str | None]:
        try:
            return item, head_meta(source, item.entry), None
        except Exception as error:
            return item, None, f"{item.entry.kind}/{item.entry.key}: reading its metadata: {describe(error)}"

    metas: dict[tuple[str, str], Meta] = {}
    unknown = []
    for item in plan:
        meta = meta_of(item)
        if meta is None:
            unknown.append(item)
        else:
            metas[(item.entry.kind, item.entry.key)] = meta
    for item, meta, problem in pool.map(head, unknown):
        if meta is None:
            result.failed.append(problem or f"{item.entry.kind}/{item.entry.key}: no metadata")
        else:
            metas[(item.entry.kind, item.entry.key)] = meta
    records = []
    for item in plan:
        entry = item.entry
        meta = metas.get((entry.kind, entry.key))
        held = stored.get(item.blob)
        copy_etag = held.etag if held is not None else copied.get(item.blob, ("", Meta()))[0]
        if meta is None:
            continue
        if held is None:
            result.failed.append(f"{entry.kind}/{entry.key}: its body {item.blob} is not in the backup bucket")
            continue
        records.append(
            Record(entry.kind, entry.key, entry.size, entry.etag or "", meta, record_acls.get(entry.kind), copy_etag)
        )
    return records


def _privacy(
    destination: BlobStore, plan: list[Planned], everything: bool, pool: ThreadPoolExecutor, result: SetResult
) -> None:
    """A backup bucket refuses anonymous GETs of both halves, and its listing."""
    present: dict[str, list[str]] = {}
    for item in plan:
        present.setdefault(item.entry.kind, []).append(item.entry.key)
    findings = privacy.check(destination, privacy.sample(present, everything), pool.map)
    listed = privacy.listings(destination)
    result.checked = len(findings)
    result.listings = len(listed)
    result.privacy_failed = [finding.line for finding in [*listed, *findings] if not finding.ok]

"""One media run: list both sides, compare, refuse what must not happen, then copy concurrently.

Everything that can refuse a run (an object that cannot be a local file, a half the destination
does not have, destination objects newer than the source) is found before anything is written.
Each object is written whole (PutObject, a completed multipart upload, a renamed local file),
so an interrupted run leaves complete objects and no manifest, and running it again resumes:
finished objects compare unchanged and are skipped.

Concurrency: one thread pool of `concurrency` workers over shared boto3 clients (botocore
clients are thread-safe; verify's `Clients` sizes their connection pools to the workers). At
most LARGE_SLOTS objects larger than SMALL_OBJECT pass through memory at once, so memory stays
bounded by about LARGE_SLOTS x PART_SIZE plus `concurrency` small objects.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from storagectl.media import crt_client, manifest, privacy, upload_journal
from storagectl.media.crt_client import Tally
from storagectl.media.diff import Change, Diff, compare
from storagectl.media.integrity import IntegrityError, is_md5
from storagectl.media.manifest import Meta, Record
from storagectl.media.stores import BucketStore, DirStore, Entry, Store
from storagectl.media.transfer import Moved, attach_crt, head_meta, move, same_endpoint_and_key
from storagectl.verify.results import describe, error_code
from storagectl.wording import counted

DEFAULT_CONCURRENCY = 32
SMALL_OBJECT = 1024 * 1024
LARGE_SLOTS = 4
SHOWN_PER_PROBLEM = 3
EXIT_FAILED = 1
EXIT_INVALID = 2
T = TypeVar("T")


class MediaError(Exception):
    """The run stopped before it wrote anything more; `problems` holds one line each.

    Exit code 2 (EXIT_INVALID): refused before anything was written (bad input, newer objects).
    Exit code 1 (EXIT_FAILED): storage or the folder could not be read or written (unreachable, refused).
    """

    def __init__(self, problems: list[str], exit_code: int = EXIT_INVALID) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.exit_code = exit_code


def storage_step(what: str, call: Callable[[], T]) -> T:
    """A storage call outside any one object's copy: its failure stops the run in one line (no traceback)."""
    try:
        return call()
    except (ClientError, BotoCoreError, OSError) as error:
        raise MediaError([f"{what}: {describe(error)}"], EXIT_FAILED) from None


@dataclass(frozen=True)
class Job:
    command: str
    site: str
    """The slug the manifest is about (the source site; for a restore, the backup's site)."""
    source: Store
    destination: Store
    keys: str
    """Which credentials read and write, in words, for the summary."""
    delete: bool = False
    dry_run: bool = False
    overwrite_newer: bool = False
    check: str = "sample"
    """sample, all or none: anonymous GETs on the destination afterwards."""
    concurrency: int = DEFAULT_CONCURRENCY
    require_manifest: bool = False
    """The source must be a complete backup (restore)."""
    record_acls: dict[str, str | None] = field(default_factory=dict)
    """The ACL each half's objects carry on the site, for manifest records."""
    journal_dir: Path | None = None
    """Where runs write down the multipart uploads they start (upload_journal); None: nowhere."""


@dataclass
class Summary:
    command: str
    source: str
    destination: str
    keys: str
    mode: str
    dry_run: bool
    copied: int = 0
    copied_bytes: int = 0
    unchanged: int = 0
    deleted: int = 0
    failed: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    """Files beside a backup's manifest that it does not list: not part of the backup, not restored."""
    cleaned: list[str] = field(default_factory=list)
    """What a stopped run had left that this one removed (incomplete multipart uploads, partial downloads)."""
    checked: int = 0
    listings: int = 0
    """Buckets whose anonymous listing was tried (it must be refused)."""
    privacy_failed: list[str] = field(default_factory=list)
    privacy_repaired: list[str] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    client: Tally | None = None
    """Between a folder and buckets: which client (awscrt, botocore) moved how many objects, and why."""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.privacy_failed

    def document(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "source": self.source,
            "destination": self.destination,
            "keys": self.keys,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "copied": self.copied,
            "copied_bytes": self.copied_bytes,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "failed": self.failed,
            "ignored": self.ignored,
            "cleaned": self.cleaned,
            "privacy": {
                "checked": self.checked,
                "listings": self.listings,
                "failed": self.privacy_failed,
                "repaired": self.privacy_repaired,
            },
            "changes": self.changes,
            "client": self.client.document() if self.client is not None else None,
            "seconds": round(self.seconds, 3),
            "ok": self.ok,
        }


Progress = Callable[[str, int], None]
"""Called with ("total", objects) once, then ("done", bytes) per object moved or deleted."""


def run(job: Job, progress: Progress | None = None) -> Summary:
    destination = job.destination
    try:
        locking = f"{destination.root}: locking the folder for this run" if isinstance(destination, DirStore) else ""
        if isinstance(destination, DirStore) and not job.dry_run and not storage_step(locking, destination.lock):
            raise MediaError([f"{destination.root}: another storagectl media run is writing it; wait for it"])
        crt_side = _crt_side(job) if not job.dry_run else None
        if crt_side is not None:
            problem = crt_client.choice_problem()
            if problem is not None:
                raise MediaError([problem])
            attach_crt(crt_side, job.concurrency)
        if isinstance(destination, BucketStore) and not job.dry_run and job.journal_dir is not None:
            journal_dir = job.journal_dir
            destination.journal = storage_step(
                f"{journal_dir}: starting this run's upload journal", lambda: upload_journal.UploadJournal(journal_dir)
            )
        return _run(job, progress, crt_side.tally if crt_side is not None else None)
    finally:
        # What a run learnt of a folder's checksums is kept even if it failed; a dry run writes nothing.
        for store in (job.source, job.destination):
            if isinstance(store, DirStore) and not job.dry_run:
                store.save_checksums()
        if isinstance(destination, BucketStore) and destination.journal is not None:
            destination.journal.close()
            destination.journal = None
        if isinstance(destination, DirStore):
            destination.unlock()


def _crt_side(job: Job) -> BucketStore | None:
    """The bucket side of a run between a folder and buckets: its small objects may go through the CRT."""
    if isinstance(job.source, DirStore) and isinstance(job.destination, BucketStore):
        return job.destination
    if isinstance(job.source, BucketStore) and isinstance(job.destination, DirStore):
        return job.source
    return None


def _run(job: Job, progress: Progress | None, client: Tally | None) -> Summary:
    started = time.perf_counter()
    report: Progress = progress or (lambda _what, _amount: None)
    mode = _mode(job.source, job.destination)
    summary = Summary(job.command, job.source.label, job.destination.label, job.keys, mode, job.dry_run)
    summary.client = client
    with ThreadPoolExecutor(max_workers=max(1, job.concurrency), thread_name_prefix="media") as pool:
        known = _source_manifest(job)
        listings = _listings(job, pool)
        damaged: dict[tuple[str, str], str] = {}
        if job.require_manifest:
            listings, damaged, summary.ignored = _planned_from_manifest(job, known, listings)
        diff = storage_step(
            f"comparing {job.source.label} with {job.destination.label}",
            lambda: compare(
                job.source,
                job.destination,
                listings,
                delete=job.delete,
                overwrite_newer=job.overwrite_newer,
                mapper=pool.map,
            ),
        )
        # The destination's copy of a damaged object is all that is left of it: never deleted for it.
        diff.deletes = [change for change in diff.deletes if (change.kind, change.key) not in damaged]
        _refuse(job, diff)
        summary.failed += list(damaged.values())
        summary.changes = [_change(change) for change in [*diff.copies, *diff.deletes]]
        summary.unchanged = len(diff.unchanged)
        if job.dry_run:
            summary.copied = len(diff.copies)
            summary.copied_bytes = sum(change.size for change in diff.copies)
            summary.deleted = len(diff.deletes)
            summary.seconds = time.perf_counter() - started
            return summary
        previous = _destination_manifest(job)
        keeps_manifest = isinstance(job.destination, DirStore) or job.destination.prefix is not None
        stale = keeps_manifest and bool(diff.copies or diff.deletes or previous is None)
        if stale:
            # Until the new one is written, this is an incomplete backup.
            storage_step(
                f"{job.destination.manifest_name()}: removing the old manifest", job.destination.remove_manifest
            )
        summary.cleaned = _clean_leftovers(job)
        report("total", len(diff.copies) + len(diff.deletes))
        records = _copy(job, diff.copies, known, pool, summary, report)
        copied = [(record.kind, record.key) for record in records]  # only what arrived: a failed copy is absent
        _delete(job, diff.deletes, pool, summary, report)
        if keeps_manifest and not summary.failed:
            try:
                records += _unchanged_records(job, diff, known, previous.records if previous else {}, pool)
                if stale or not _says_the_same(previous, records, job):
                    text = manifest.dumps(records, site=job.site, source=job.source.label)
                    job.destination.write_manifest(text)
            except (ClientError, BotoCoreError, OSError) as error:
                summary.failed.append(f"{job.destination.manifest_name()}: manifest not written: {describe(error)}")
        if isinstance(job.destination, BucketStore) and job.check != "none" and job.destination.anonymous:
            present: dict[str, list[str]] = {}
            for kind, key in [*copied, *((entry.kind, entry.key) for entry in diff.unchanged)]:
                present.setdefault(kind, []).append(key)
            findings = privacy.check(job.destination, privacy.sample(present, job.check == "all"), pool.map)
            summary.checked = len(findings)
            summary.privacy_repaired, remaining = privacy.repair(job.destination, findings, pool.map)
            listed = privacy.listings(job.destination)
            summary.listings = len(listed)
            summary.privacy_failed = [finding.line for finding in [*listed, *remaining] if not finding.ok]
    summary.seconds = time.perf_counter() - started
    return summary


def _clean_leftovers(job: Job) -> list[str]:
    """Remove what stopped runs left at this destination: partial downloads, incomplete multipart uploads."""
    destination = job.destination
    if isinstance(destination, DirStore):
        removed = storage_step(f"{destination.root}: removing partial downloads", destination.remove_partials)
        return [f"{path}: a partial download removed" for path in removed]
    if job.journal_dir is None:
        return []
    cleaned: list[str] = []
    endpoint, buckets = destination.identity[0], set(destination.buckets.values())
    with suppress(OSError), upload_journal.abandoned(job.journal_dir) as journals:
        for path, pending in journals:
            left = []
            for item in pending:
                if item.endpoint != endpoint or item.bucket not in buckets:
                    left.append(item)  # another destination's: for a run that writes there
                    continue
                try:
                    aborted = _abort_leftover(destination, item)
                except (ClientError, BotoCoreError):
                    left.append(item)
                    continue
                cleaned += [f"s3://{item.bucket}/{item.key}: an incomplete multipart upload aborted"] * aborted
            with suppress(OSError):
                upload_journal.keep(path, left)
    return cleaned


def _abort_leftover(destination: BucketStore, item: upload_journal.Pending) -> int:
    client = destination.client
    if item.upload_id:
        ids = [item.upload_id]
    else:
        listed = client.list_multipart_uploads(Bucket=item.bucket, Prefix=item.key).get("Uploads", [])
        ids = upload_journal.matching_uploads(listed, item)
    aborted = 0
    for upload_id in ids:
        try:
            client.abort_multipart_upload(Bucket=item.bucket, Key=item.key, UploadId=upload_id)
            aborted += 1
        except ClientError as error:
            if error_code(error) != "NoSuchUpload":  # gone already: completed or aborted after all
                raise
    return aborted


def _mode(source: Store, destination: Store) -> str:
    if same_endpoint_and_key(source, destination):
        return "server-side copy (one key reads the source and writes the destination on one endpoint)"
    if isinstance(source, BucketStore) and isinstance(destination, BucketStore):
        return "streamed through this machine (no one key reads the source and writes the destination)"
    return "uploaded from a local folder" if isinstance(source, DirStore) else "downloaded to a local folder"


def _source_manifest(job: Job) -> dict[tuple[str, str], Record]:
    text = storage_step(f"{job.source.manifest_name()}: reading the manifest", job.source.read_manifest)
    if text is None:
        if job.require_manifest:
            raise MediaError(
                [
                    f"{job.source.manifest_name()}: no manifest: {job.source.label} is not a complete backup "
                    "(missing, or interrupted before it finished; run the backup again to complete it)"
                ]
            )
        return {}
    try:
        return manifest.loads(text, job.source.manifest_name())
    except manifest.ManifestError as error:
        raise MediaError([str(error)]) from None


def _destination_manifest(job: Job) -> manifest.Manifest | None:
    try:
        text = storage_step(f"{job.destination.manifest_name()}: reading the manifest", job.destination.read_manifest)
        return manifest.parse(text, job.destination.manifest_name()) if text is not None else None
    except manifest.ManifestError:
        return None  # rewritten at the end of this run


def _says_the_same(previous: manifest.Manifest | None, records: list[Record], job: Job) -> bool:
    """Whether the manifest already there holds exactly these records for this site and source.

    A no-change pull would otherwise rewrite it whole: 0.69 s of a 1.6 s re-run at 5,000 files
    (profiled, docs/performance.md), nearly all of it making the JSON.
    """
    if previous is None or (previous.site, previous.source) != (job.site, job.source.label):
        return False
    return len(previous.records) == len(records) and all(
        previous.records.get((record.kind, record.key)) == record for record in records
    )


def _listings(job: Job, pool: ThreadPoolExecutor) -> dict[str, tuple[dict[str, Entry], dict[str, Entry]]]:
    # Both sides at once: listing only reads, and a bucket's pages are each a round trip.
    kinds = job.source.kinds
    shared = tuple(kind for kind in kinds if kind in job.destination.kinds)
    listing_there = {kind: pool.submit(job.source.list, kind) for kind in kinds}
    listing_here = {kind: pool.submit(job.destination.list, kind) for kind in shared}
    there = {
        kind: storage_step(f"listing {job.source.label} ({kind})", got.result) for kind, got in listing_there.items()
    }
    problems = []
    for kind in kinds:
        if kind not in job.destination.kinds and there[kind]:
            problems.append(
                f"{job.destination.label}: has no {kind} bucket, and {job.source.label} holds "
                f"{counted(len(there[kind]), kind + ' object')}; nothing was copied"
            )
    if problems:
        raise MediaError(problems)
    here = {
        kind: storage_step(f"listing {job.destination.label} ({kind})", listing.result)
        for kind, listing in listing_here.items()
    }
    return {kind: (there[kind], here[kind]) for kind in shared}


Listings = dict[str, tuple[dict[str, Entry], dict[str, Entry]]]


def _planned_from_manifest(
    job: Job, known: dict[tuple[str, str], Record], listings: Listings
) -> tuple[Listings, dict[tuple[str, str], str], list[str]]:
    """A restore copies what the backup's manifest lists, each object as the manifest records it.

    Returns the planned listings, one line per object the manifest lists that is missing or
    altered in the backup (not restored), and the backup's objects the manifest does not list
    (not part of the backup: ignored).
    """
    planned: Listings = {}
    damaged: dict[tuple[str, str], str] = {}
    ignored: list[str] = []
    for kind, (there, here) in listings.items():
        entries: dict[str, Entry] = {}
        for (half, key), record in sorted(known.items()):
            if half != kind:
                continue
            listed = there.get(key)
            problem = _backup_problem(job.source, record, listed)
            if problem is not None or listed is None:
                damaged[(kind, key)] = f"{kind}/{key}: {problem}; not restored"
                continue
            entries[key] = _planned_entry(job.source, record, listed)
        ignored += [f"{kind}/{key}" for key in sorted(there) if (kind, key) not in known]
        planned[kind] = (entries, here)
    for (kind, key), record in sorted(known.items()):
        if kind not in listings and kind in job.source.kinds:
            damaged[(kind, key)] = f"{kind}/{key}: {_backup_problem(job.source, record, None)}; not restored"
    return planned, damaged, ignored


def _backup_problem(source: Store, record: Record, listed: Entry | None) -> str | None:
    """Why the backup's copy of `record` is not the one its manifest records, from the listing alone."""
    if listed is None:
        return f"missing from the backup (its manifest records {record.size} bytes)"
    if listed.size != record.size:
        return f"altered: {listed.size} bytes in the backup, its manifest records {record.size}"
    if isinstance(source, BucketStore) and listed.etag:
        expected = record.copy_etag or (record.etag if is_md5(record.etag) and is_md5(listed.etag) else None)
        if expected and listed.etag != expected:
            return f"altered: ETag {listed.etag} in the backup, its manifest records {expected}"
    return None


def _planned_entry(source: Store, record: Record, listed: Entry) -> Entry:
    if isinstance(source, DirStore):
        # A folder's file is hashed as it is read: against the copy's ETag (this project's 8 MiB
        # parts, exact) or, in an older manifest, the site's ETag where that is an MD5.
        if record.copy_etag:
            return replace(listed, origin_etag=record.etag, check_etag=record.copy_etag, own_parts=True)
        return replace(listed, origin_etag=record.etag, check_etag=record.etag, own_parts=False)
    return replace(listed, origin_etag=record.etag)  # read with If-Match on the listed (checked) ETag


def _refuse(job: Job, diff: Diff) -> None:
    problems = list(diff.unsafe)
    if diff.newer:
        shown = ", ".join(f"{c.kind}/{c.key}" for c in diff.newer[:SHOWN_PER_PROBLEM])
        more = f" and {len(diff.newer) - SHOWN_PER_PROBLEM} more" if len(diff.newer) > SHOWN_PER_PROBLEM else ""
        one = len(diff.newer) == 1
        problems.append(
            f"{job.destination.label}: {counted(len(diff.newer), 'object')} there "
            f"{'differs' if one else 'differ'} from {job.source.label} and {'is' if one else 'are'} newer "
            f"({shown}{more}); nothing was copied; pass --overwrite-newer to replace {'it' if one else 'them'}"
        )
    if problems:
        raise MediaError(problems)


def _change(change: Change) -> dict[str, Any]:
    return {"action": change.action, "kind": change.kind, "key": change.key, "size": change.size, "why": change.reason}


def _known_meta(job: Job, entry: Entry, known: dict[tuple[str, str], Record]) -> Meta | None:
    record = known.get((entry.kind, entry.key))
    if record is None or record.size != entry.size:
        return None
    # A local file's checksum is not computed for new files; its size is the check there.
    if isinstance(job.source, BucketStore) and record.etag != (entry.origin_etag or entry.etag):
        return None
    return record.meta


def _copy(
    job: Job,
    copies: list[Change],
    known: dict[tuple[str, str], Record],
    pool: ThreadPoolExecutor,
    summary: Summary,
    report: Progress,
) -> list[Record]:
    large = threading.BoundedSemaphore(LARGE_SLOTS)
    server_side = same_endpoint_and_key(job.source, job.destination)

    def one(change: Change) -> tuple[Change, Moved | None, str | None]:
        entry = change.source
        assert entry is not None
        # A large object passes through memory part by part unless the server copies it itself.
        slot = large if entry.size > SMALL_OBJECT and not server_side else nullcontext()
        try:
            with slot:
                moved = move(job.source, job.destination, entry, _known_meta(job, entry, known))
        except IntegrityError as error:
            return change, None, str(error)
        except Exception as error:
            return change, None, f"{change.kind}/{change.key}: {describe(error)}"
        finally:
            report("done", entry.size)
        return change, moved, None

    records = []
    for change, moved, problem in pool.map(one, copies):
        if moved is None:
            summary.failed.append(problem or f"{change.kind}/{change.key}: failed")
            continue
        summary.copied += 1
        summary.copied_bytes += change.size
        records.append(
            Record(
                change.kind, change.key, change.size, moved.etag, moved.meta, _acl(job, change.kind), moved.copy_etag
            )
        )
    return records


def _delete(job: Job, deletes: list[Change], pool: ThreadPoolExecutor, summary: Summary, report: Progress) -> None:
    def one(change: Change) -> str | None:
        try:
            job.destination.delete(change.kind, change.key)  # only ever the destination
        except Exception as error:
            return f"{change.kind}/{change.key}: not deleted: {describe(error)}"
        finally:
            report("done", 0)
        return None

    for problem in pool.map(one, deletes):
        if problem:
            summary.failed.append(problem)
        else:
            summary.deleted += 1


def _unchanged_records(
    job: Job,
    diff: Diff,
    known: dict[tuple[str, str], Record],
    previous: dict[tuple[str, str], Record],
    pool: ThreadPoolExecutor,
) -> list[Record]:
    """Manifest records for objects this run did not copy: from a manifest when it matches, else read."""

    def meta_known(entry: Entry) -> Meta | None:
        meta = _known_meta(job, entry, known)
        if meta is None:
            record = previous.get((entry.kind, entry.key))
            meta = record.meta if record is not None and record.size == entry.size else None
        return Meta() if meta is None and isinstance(job.source, DirStore) else meta

    def copy_etag(entry: Entry) -> str:
        existing = diff.existing[(entry.kind, entry.key)]
        return job.destination.etag(existing)  # a folder's: remembered when the comparison computed it

    def record(entry: Entry, etag: str, meta: Meta) -> Record:
        return Record(entry.kind, entry.key, entry.size, etag, meta, _acl(job, entry.kind), copy_etag(entry))

    def read(entry: Entry) -> Record:
        meta = meta_known(entry)
        if meta is None:
            assert isinstance(job.source, BucketStore)  # a folder's metadata is always "known": none
            meta = head_meta(job.source, entry)
        return record(entry, entry.origin_etag or job.source.etag(entry), meta)

    # Records the manifests and the checksum cache answer are made here; only those that need a
    # HEAD or a file read go to the pool, whose hand-over costs more than such a record.
    records: dict[tuple[str, str], Record] = {}
    pending = []
    for entry in diff.unchanged:
        etag, meta = entry.origin_etag or job.source.known_etag(entry), meta_known(entry)
        existing = diff.existing[(entry.kind, entry.key)]
        if etag is not None and meta is not None and job.destination.known_etag(existing) is not None:
            records[(entry.kind, entry.key)] = record(entry, etag, meta)
        else:
            pending.append(entry)
    for made in pool.map(read, pending):
        records[(made.kind, made.key)] = made
    return [records[(entry.kind, entry.key)] for entry in diff.unchanged]


def _acl(job: Job, kind: str) -> str | None:
    return job.record_acls.get(kind)

"""Backup sets in the stack's backup bucket (site-storage:backups): layout, listing, reading.

Layout, per site, in the one backup bucket:

    <site>/blobs/<size>-<etag>               each distinct object body once (content-addressed)
    <site>/sets/<UTC time>/in-progress.json  written first: the blobs the set will reference
    <site>/sets/<UTC time>/manifest.json     written last: the set is complete when it is there

A set's manifest is a media manifest (storagectl/media/manifest.py: key, half, size, ETag,
metadata, ACL, `copy_etag`) with two additions: each record's `blob` (the object key of its body
in the bucket) and a `set` block (time, objects, bytes, new objects, new bytes). An object whose
body is already stored (same size and ETag on the site as a blob) is not sent again: the new
manifest only references the blob. The blob name comes from the site's listing (size and ETag),
so an unchanged object costs no request at all; a changed one is copied server-side (the writer
reads the site's buckets and writes the backup bucket, on one endpoint) and its bytes never pass
through this machine. Why content-addressed rather than a copy per set: docs/media.md, "Backups".

A set without a manifest is incomplete: never listed, never restored, never counted as kept.
Its `in-progress.json` protects the blobs it will reference from `prune` for a day (a run
that takes longer than that is taken for dead); after that prune removes the marker, and the
blobs no kept set references go with the next sweep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from storagectl.media.manifest import MANIFEST_NAME, ManifestError, Record, parse
from storagectl.media.stores import BucketStore, Entry, pages
from storagectl.verify.plan import SiteTarget
from storagectl.verify.results import error_code

SET_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
SET_TIME = re.compile(r"[0-9]{8}T[0-9]{6}Z")
IN_PROGRESS_NAME = "in-progress.json"
SET_FORMAT = "site-storage/media-backup-set@1"


def utc_now() -> datetime:
    """The clock sets are named by; tests replace it (`backup_sets.clock`) instead of sleeping."""
    return datetime.now(UTC)


clock: Callable[[], datetime] = utc_now


def set_name(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(SET_TIME_FORMAT)


def set_time(name: str) -> datetime | None:
    """The UTC time a set is named by; None when `name` is not a set name."""
    if not SET_TIME.fullmatch(name):
        return None
    try:
        return datetime.strptime(name, SET_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def parse_set_argument(value: str) -> str | None:
    """`latest`, a set name (20261203T020000Z) or an ISO time (2026-12-03T02:00:00Z): the set name or `latest`."""
    if value == "latest" or set_time(value) is not None:
        return value
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return set_name(moment)


def blobs_prefix(site: str) -> str:
    return f"{site}/blobs/"


def sets_prefix(site: str) -> str:
    return f"{site}/sets/"


def blob_key(site: str, size: int, etag: str) -> str:
    return f"{blobs_prefix(site)}{size}-{etag}"


def manifest_key(site: str, name: str) -> str:
    return f"{sets_prefix(site)}{name}/{MANIFEST_NAME}"


def marker_key(site: str, name: str) -> str:
    return f"{sets_prefix(site)}{name}/{IN_PROGRESS_NAME}"


@dataclass(frozen=True)
class BackupTarget:
    """The stack's backup bucket, reached with the backup writer's credentials."""

    bucket: str
    client: Any
    identity: tuple[str, str]
    """(endpoint, credential label): the site stores built with the same client copy server-side."""
    writer: str
    """Which credential writes backups, in words."""
    site: SiteTarget
    """Any site of the stack: its endpoint and addressing style reach the bucket."""


@dataclass(frozen=True)
class SetInfo:
    """One set of one site, as its listing shows it."""

    site: str
    name: str
    time: datetime
    complete: bool
    marker_modified: datetime | None = None
    """When its in-progress marker was written (an incomplete set's age)."""


@dataclass(frozen=True)
class SetManifest:
    info: SetInfo
    records: dict[tuple[str, str], Record]
    blobs: dict[tuple[str, str], str]
    """The blob key of each record."""
    totals: dict[str, int]
    """objects, bytes, new_objects, new_bytes."""
    text: str


def list_sets(target: BackupTarget, site: str) -> list[SetInfo]:
    """Every set of `site`, oldest first: complete (manifest there) or not (only the in-progress marker)."""
    prefix = sets_prefix(site)
    found: dict[str, dict[str, datetime]] = {}
    for page in pages(target.client, Bucket=target.bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            name, _, leaf = item["Key"][len(prefix) :].partition("/")
            if set_time(name) is not None and leaf in (MANIFEST_NAME, IN_PROGRESS_NAME):
                found.setdefault(name, {})[leaf] = item["LastModified"]
    sets = []
    for name, leaves in sorted(found.items()):
        moment = set_time(name)
        assert moment is not None
        sets.append(SetInfo(site, name, moment, MANIFEST_NAME in leaves, leaves.get(IN_PROGRESS_NAME)))
    return sets


def list_backed_up_sites(target: BackupTarget) -> list[str]:
    """The sites with anything in the backup bucket (a removed site's sets are pruned too)."""
    sites: set[str] = set()
    for page in pages(target.client, Bucket=target.bucket, Delimiter="/"):
        sites.update(prefix["Prefix"].rstrip("/") for prefix in page.get("CommonPrefixes", []))
    return sorted(sites)


def read_set(target: BackupTarget, info: SetInfo) -> SetManifest:
    answer = target.client.get_object(Bucket=target.bucket, Key=manifest_key(info.site, info.name))
    text = answer["Body"].read().decode("utf-8")
    return parse_set(text, f"s3://{target.bucket}/{manifest_key(info.site, info.name)}", info)


def parse_set(text: str, where: str, info: SetInfo) -> SetManifest:
    """A set's manifest: a media manifest with each record's blob; ManifestError when it is not one."""
    found = parse(text, where)
    if found.site != info.site:
        raise ManifestError(f"{where}: a backup of site {found.site or '(none named)'}, not {info.site}")
    document = json.loads(text)
    if not isinstance(document.get("set"), dict) or document["set"].get("format") != SET_FORMAT:
        raise ManifestError(f"{where}: not a backup set's manifest (set.format {SET_FORMAT!r} expected)")
    blobs: dict[tuple[str, str], str] = {}
    for index, entry in enumerate(document.get("objects") or []):
        blob = entry.get("blob") if isinstance(entry, dict) else None
        if not isinstance(blob, str) or not blob.startswith(blobs_prefix(info.site)):
            raise ManifestError(f"{where}: objects[{index}].blob is not a blob of site {info.site}")
        blobs[(entry["kind"], entry["key"])] = blob
    totals = {key: int(document["set"].get(key) or 0) for key in ("objects", "bytes", "new_objects", "new_bytes")}
    return SetManifest(info, found.records, blobs, totals, text)


def set_manifest_text(
    records: list[Record], blobs: dict[tuple[str, str], str], *, site: str, source: str, name: str, new: tuple[int, int]
) -> str:
    """The manifest of a set: the media manifest format, plus `blob` per record and the `set` block."""
    from storagectl.media.manifest import dumps

    document = json.loads(dumps(records, site=site, source=source))
    for entry in document["objects"]:
        entry["blob"] = blobs[(entry["kind"], entry["key"])]
    document["set"] = {
        "format": SET_FORMAT,
        "time": name,
        "objects": len(records),
        "bytes": sum(record.size for record in records),
        "new_objects": new[0],
        "new_bytes": new[1],
    }
    return json.dumps(document, indent=1) + "\n"


def list_blobs(target: BackupTarget, site: str) -> dict[str, Entry]:
    """Every stored body of `site`, by object key."""
    blobs: dict[str, Entry] = {}
    for page in pages(target.client, Bucket=target.bucket, Prefix=blobs_prefix(site)):
        for item in page.get("Contents", []):
            key = item["Key"]
            blobs[key] = Entry(
                "blob", key, int(item["Size"]), item["ETag"].strip('"'), item["LastModified"].timestamp()
            )
    return blobs


class BlobStore(BucketStore):
    """The backup bucket as a destination whose object for (half, key) is that object's blob."""

    def __init__(self, target: BackupTarget, site: str, blobs: dict[tuple[str, str], str]) -> None:
        super().__init__(
            f"s3://{target.bucket}/{blobs_prefix(site)}",
            target.client,
            target.identity,
            {"public": target.bucket, "private": target.bucket},
            site=target.site,
            acls={},  # the bucket's own default: its owner's alone
            prefix=blobs_prefix(site),
            anonymous={"public": False, "private": False},
        )
        self.blobs = blobs

    def object_key(self, kind: str, key: str) -> str:
        return self.blobs[(kind, key)]


class SetStore(BucketStore):
    """A complete set as the source of a restore: the engine reads its manifest and each object's blob.

    Listing a half gives the manifest's objects whose blob is there, with the blob's size and
    ETag, so the restore's checks (size, `copy_etag`, If-Match on the listed ETag, the MD5 of
    what is read) hold for sets exactly as for a backup under a prefix.
    """

    def __init__(self, target: BackupTarget, chosen: SetManifest) -> None:
        info = chosen.info
        super().__init__(
            f"s3://{target.bucket}/{sets_prefix(info.site)}{info.name}/",
            target.client,
            target.identity,
            {"public": target.bucket, "private": target.bucket},
            site=target.site,
            acls={},
            prefix=f"{sets_prefix(info.site)}{info.name}/",
            anonymous={"public": False, "private": False},
        )
        self.chosen = chosen
        self._blobs: dict[str, Entry] | None = None
        self._target = target

    def object_key(self, kind: str, key: str) -> str:
        return self.chosen.blobs[(kind, key)]

    def list(self, kind: str) -> dict[str, Entry]:
        if self._blobs is None:
            self._blobs = list_blobs(self._target, self.chosen.info.site)
        listed: dict[str, Entry] = {}
        for (half, key), blob in self.chosen.blobs.items():
            stored = self._blobs.get(blob)
            if half == kind and stored is not None:
                listed[key] = Entry(kind, key, stored.size, stored.etag, stored.modified)
        return listed

    def read_manifest(self) -> str | None:
        return self.chosen.text

    def write_manifest(self, text: str) -> None:
        raise AssertionError("a backup set is never written as a restore's destination")

    def remove_manifest(self) -> None:
        raise AssertionError("a backup set is never written as a restore's destination")

    def delete(self, kind: str, key: str) -> None:
        raise AssertionError("a backup set is never written as a restore's destination")


def choose_set(target: BackupTarget, site: str, wanted: str) -> SetManifest | str:
    """The complete set `wanted` (`latest` or a set name) of `site`, or why there is none (one line)."""
    complete = [info for info in list_sets(target, site) if info.complete]
    if not complete:
        return f"s3://{target.bucket}/{sets_prefix(site)}: site {site} has no complete backup set"
    if wanted == "latest":
        chosen = complete[-1]
    else:
        matching = [info for info in complete if info.name == wanted]
        if not matching:
            names = ", ".join(info.name for info in complete[-5:])
            listing = f"`storagectl media backups {site}`"
            return f"site {site} has no complete backup set {wanted}; the newest: {names} ({listing})"
        chosen = matching[0]
    return read_set(target, chosen)


def exists(target: BackupTarget, key: str) -> bool:
    try:
        target.client.head_object(Bucket=target.bucket, Key=key)
    except ClientError as error:
        if error_code(error) in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True

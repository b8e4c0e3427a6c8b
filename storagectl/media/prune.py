"""`storagectl media prune --stack S`: apply the stack's retention to every site's backup sets.

Per site (every site with anything in the backup bucket, removed sites included):

- keep what `retention.kept` keeps of the complete sets (the newest always);
- never touch a set in progress: an incomplete set younger than STALE_AFTER (by the time in
  its name) keeps its marker, and the blobs its marker names are kept;
- remove the other complete sets (their manifest first, so a set disappears whole from
  listings and restores) and the markers of incomplete sets older than STALE_AFTER;
- then delete the blobs that no kept set and no set in progress references. Markers are read
  again just before (with the manifests of sets completed since), so a backup that started or
  finished meanwhile keeps its blobs; a backup that reused a
  blob deleted in the moment between copies it again before it writes its manifest
  (set_backup step 5). A manifest that cannot be read stops the site's sweep: nothing it might
  reference is deleted.

Deleting is what prune is for, and it deletes only in the backup bucket, only sets the
retention does not keep and bodies nothing kept needs. With Object Lock, a delete leaves a
locked noncurrent version that the bucket's lifecycle rule removes once its retention ends.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from components.config import Retention
from storagectl.media import retention as retention_rules
from storagectl.media.backup_sets import (
    BackupTarget,
    SetInfo,
    list_blobs,
    list_sets,
    manifest_key,
    marker_key,
    read_set,
)
from storagectl.media.manifest import ManifestError
from storagectl.verify.results import describe

STALE_AFTER = timedelta(days=1)


@dataclass
class SitePrune:
    site: str
    kept: dict[str, list[str]] = field(default_factory=dict)
    """Set name -> why it is kept."""
    removed: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    """Incomplete sets older than a day whose marker is removed."""
    in_progress: list[str] = field(default_factory=list)
    blobs_deleted: int = 0
    bytes_deleted: int = 0
    blobs_kept: int = 0
    failed: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "kept": self.kept,
            "removed": self.removed,
            "stale_incomplete_removed": self.stale,
            "in_progress": self.in_progress,
            "objects_deleted": self.blobs_deleted,
            "bytes_deleted": self.bytes_deleted,
            "objects_kept": self.blobs_kept,
            "failed": self.failed,
        }


def prune_site(target: BackupTarget, site: str, retention: Retention, *, now: datetime, dry_run: bool) -> SitePrune:
    result = SitePrune(site)
    try:
        sets = list_sets(target, site)
    except (ClientError, BotoCoreError) as error:
        result.failed.append(f"site {site}: listing its sets: {describe(error)}")
        return result
    complete = [info for info in sets if info.complete]
    incomplete = [info for info in sets if not info.complete]
    young = [info for info in incomplete if info.time > now - STALE_AFTER]
    stale = [info for info in incomplete if info not in young]
    reasons = retention_rules.kept((info.time for info in complete), retention)
    keep = [info for info in complete if info.time in reasons]
    drop = [info for info in complete if info.time not in reasons]
    result.kept = {info.name: reasons[info.time] for info in keep}
    result.removed = [info.name for info in drop]
    result.stale = [info.name for info in stale]
    result.in_progress = [info.name for info in young]

    seen = {info.name for info in complete}
    referenced: set[str] = set()
    for info in keep:
        try:
            referenced.update(read_set(target, info).blobs.values())
        except (ClientError, BotoCoreError, ManifestError, ValueError) as error:
            result.failed.append(
                f"s3://{target.bucket}/{manifest_key(site, info.name)}: cannot be read ({_reason(error)}); "
                f"nothing of site {site} was deleted"
            )
            return result
    if not dry_run:
        for info in drop:
            _delete_keys(target, [manifest_key(site, info.name), marker_key(site, info.name)], result)
        for info in stale:
            _delete_keys(target, [marker_key(site, info.name)], result)
        if result.failed:
            return result
    try:
        blobs = list_blobs(target, site)
        protected = _in_progress_blobs(target, site, now, seen)
    except (ClientError, BotoCoreError, ValueError) as error:
        result.failed.append(f"site {site}: {_reason(error)}; no stored object of it was deleted")
        return result
    if protected is None:
        result.failed.append(
            f"site {site}: a set in progress or just completed cannot be read; no stored object was deleted"
        )
        return result
    needed = referenced | protected
    unneeded = sorted(key for key in blobs if key not in needed)
    result.blobs_kept = len(blobs) - len(unneeded)
    result.blobs_deleted = len(unneeded)
    result.bytes_deleted = sum(blobs[key].size for key in unneeded)
    if not dry_run and unneeded:
        # Read the markers once more: a backup that started since must keep what it references.
        latest = _in_progress_blobs(target, site, now, seen)
        if latest is None:
            result.failed.append(
                f"site {site}: a set in progress or just completed cannot be read; no stored object was deleted"
            )
            return result
        unneeded = [key for key in unneeded if key not in latest]
        result.blobs_deleted = len(unneeded)
        result.bytes_deleted = sum(blobs[key].size for key in unneeded)
        _delete_keys(target, unneeded, result)
    return result


def _in_progress_blobs(target: BackupTarget, site: str, now: datetime, seen: set[str]) -> set[str] | None:
    """The blobs the markers of sets in progress name, and those of sets completed since prune listed
    the complete ones (`seen`): a backup that finished meanwhile removed its marker, and its new
    bodies are referenced by its manifest alone. None when one cannot be read."""
    blobs: set[str] = set()
    for info in list_sets(target, site):
        if info.complete and info.name not in seen:
            try:
                blobs.update(read_set(target, info).blobs.values())
            except (ClientError, BotoCoreError, ManifestError, ValueError):
                return None
            continue
        if info.complete or info.time <= now - STALE_AFTER:
            continue
        try:
            answer = target.client.get_object(Bucket=target.bucket, Key=marker_key(site, info.name))
            document = json.loads(answer["Body"].read())
            blobs.update(str(blob) for blob in document["blobs"])
        except ClientError as error:
            if _missing(error):
                continue  # completed (its manifest written, marker removed) since the listing
            return None
        except (BotoCoreError, ValueError, KeyError, TypeError):
            return None
    return blobs


def _missing(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code", "")) in ("NoSuchKey", "404")


def _delete_keys(target: BackupTarget, keys: list[str], result: SitePrune) -> None:
    # One DeleteObject per key rather than DeleteObjects: moto 5.2.5 authorizes DeleteObjects against the
    # bucket instead of each object, and a daily prune deletes about a day's changes, not thousands.
    for key in keys:
        try:
            target.client.delete_object(Bucket=target.bucket, Key=key)
        except ClientError as error:
            if not _missing(error):
                result.failed.append(f"s3://{target.bucket}/{key}: not deleted: {describe(error)}")
        except BotoCoreError as error:
            result.failed.append(f"s3://{target.bucket}/{key}: not deleted: {describe(error)}")


def _reason(error: Exception) -> str:
    if isinstance(error, ClientError | BotoCoreError):
        return describe(error)
    return str(error)


def prune_all(
    target: BackupTarget, sites: list[str], retention: Retention, *, now: datetime, dry_run: bool
) -> tuple[list[SitePrune], float]:
    started = time.perf_counter()
    results = [prune_site(target, site, retention, now=now, dry_run=dry_run) for site in sites]
    return results, time.perf_counter() - started


def describe_set(info: SetInfo) -> str:
    return f"{info.site}/{info.name}"

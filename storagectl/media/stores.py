"""Where media is: a site's two buckets, a backup under a bucket prefix, or a local folder with two halves.

Every store has the same two halves (`public`, `private`), listed as {key: Entry}. Keys are the
site's object keys; a backup stores them under `<prefix>public/` and `<prefix>private/`, a
local folder under `public/` and `private/`.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

from botocore.exceptions import ClientError

from storagectl.atomic_files import write_atomic
from storagectl.media.checksum_cache import CACHE_NAME, ChecksumCache, Stamp
from storagectl.media.checksums import file_etag
from storagectl.media.crt_client import CrtClient, Tally
from storagectl.media.manifest import KINDS, MANIFEST_NAME
from storagectl.media.upload_journal import UploadJournal
from storagectl.verify.clients import KeyedClient
from storagectl.verify.plan import SiteTarget
from storagectl.verify.results import error_code

PARTIAL_SUFFIX = ".storagectl-partial"
"""A download in progress; renamed into place when complete, ignored by listings."""
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700
"""A folder's private half is its owner's alone, whatever the umask: it holds the site's private media."""


@dataclass(frozen=True)
class Entry:
    kind: str
    key: str
    size: int
    etag: str | None
    """S3's ETag without quotes; None for a local file until `Store.etag` computes it."""
    modified: float
    """Seconds since the epoch."""
    origin_etag: str | None = None
    """From a backup's manifest: the ETag the object has on its site (the copy in the backup may have another)."""
    check_etag: str | None = None
    """What the bytes read must hash to when the plan knows it better than `etag` (a manifest's copy_etag)."""
    own_parts: bool = False
    """`check_etag` was computed with this project's 8 MiB parts, so a multipart one compares too."""

    @property
    def planned_etag(self) -> str | None:
        return self.check_etag if self.check_etag is not None else self.etag


class BucketStore:
    """A site's buckets (prefix empty) or a backup's halves under a prefix of one bucket."""

    def __init__(
        self,
        label: str,
        client: Any,
        identity: tuple[str, str],
        buckets: dict[str, str],
        *,
        site: SiteTarget,
        acls: dict[str, str | None],
        prefix: str | None = None,
        anonymous: dict[str, bool] | None = None,
        credentials: Any = None,
    ) -> None:
        self.label = label
        """For messages: `site acme-live` or `s3://bucket/prefix`."""
        self.client = client
        self.identity = identity
        """(endpoint, key id or `operator`): two stores with the same identity can copy server-side."""
        self.buckets = buckets
        self.site = site
        """The site whose endpoint this store is on (addressing style for anonymous URLs)."""
        self.acls = acls
        """Canned ACL sent with every write, per half; None sends none (the bucket's default applies)."""
        self.prefix = prefix
        """None for a site's own buckets; else a backup under `<prefix>public/` and `<prefix>private/`."""
        self.anonymous = anonymous or {}
        """Per half: True if anyone may read it, False if an anonymous GET must be refused."""
        self.journal: UploadJournal | None = None
        """Where a run writes down the multipart uploads it starts here (see upload_journal)."""
        self.credentials = credentials
        """The botocore Credentials `client` signs with, for the CRT client; None: the CRT is not used."""
        self.crt: CrtClient | None = None
        """Small objects' PUTs and GETs go through it when a run attached one (see crt_client)."""
        self.tally = Tally()

    @property
    def kinds(self) -> tuple[str, ...]:
        return tuple(kind for kind in KINDS if kind in self.buckets)

    def object_key(self, kind: str, key: str) -> str:
        return key if self.prefix is None else f"{self.prefix}{kind}/{key}"

    def list(self, kind: str) -> dict[str, Entry]:
        start = "" if self.prefix is None else f"{self.prefix}{kind}/"
        listed: dict[str, Entry] = {}
        for page in pages(self.client, Bucket=self.buckets[kind], Prefix=start):
            for item in page.get("Contents", []):
                key = item["Key"][len(start) :]
                if self.prefix is not None and key == "":
                    continue
                etag = item["ETag"].strip('"')
                listed[key] = Entry(kind, key, int(item["Size"]), etag, item["LastModified"].timestamp())
        return listed

    def etag(self, entry: Entry) -> str:
        return entry.etag or ""

    def known_etag(self, entry: Entry) -> str | None:
        return self.etag(entry)  # a listing carries every object's ETag: nothing is left to compute

    def delete(self, kind: str, key: str) -> None:
        self.client.delete_object(Bucket=self.buckets[kind], Key=self.object_key(kind, key))

    # The manifest lives beside the backup's halves; a site's own buckets have none.
    def _manifest_location(self) -> tuple[str, str] | None:
        if self.prefix is None:
            return None
        return self.buckets[KINDS[0]], f"{self.prefix}{MANIFEST_NAME}"

    def manifest_name(self) -> str:
        location = self._manifest_location()
        return f"s3://{location[0]}/{location[1]}" if location else self.label

    def read_manifest(self) -> str | None:
        location = self._manifest_location()
        if location is None:
            return None
        try:
            answer = self.client.get_object(Bucket=location[0], Key=location[1])
        except ClientError as error:
            if error_code(error) in ("NoSuchKey", "404"):
                return None
            raise
        return str(answer["Body"].read().decode("utf-8"))

    def write_manifest(self, text: str) -> None:
        location = self._manifest_location()
        if location is not None:  # a PUT is atomic: readers see the old manifest or the new one
            self.client.put_object(
                Bucket=location[0], Key=location[1], Body=text.encode(), ContentType="application/json"
            )

    def remove_manifest(self) -> None:
        location = self._manifest_location()
        if location is not None:
            self.client.delete_object(Bucket=location[0], Key=location[1])


def pages(client: Any, **arguments: Any) -> list[dict[str, Any]]:
    """ListObjectsV2 pages; a site-key handle pages itself, so every page is signed with its key."""
    if isinstance(client, KeyedClient):
        return client.pages("list_objects_v2", **arguments)
    return list(client.get_paginator("list_objects_v2").paginate(**arguments))


class DirStore:
    """A local media folder: DIR/public/<key> and DIR/private/<key>, DIR/media-manifest.json, and the checksum cache."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.label = str(root)
        self.identity = ("local", str(root.resolve()))
        self.checksums = ChecksumCache(root / CACHE_NAME)
        self._stamps: dict[tuple[str, str], Stamp] = {}
        """What `list` saw of each file: a remembered checksum holds only for that stat."""
        self._listed: set[str] = set()
        self._lock: int | None = None

    kinds = KINDS

    def half(self, kind: str) -> Path:
        return self.root / kind

    def path(self, kind: str, key: str) -> Path:
        return self.half(kind).joinpath(*PurePosixPath(key).parts)

    def list(self, kind: str) -> dict[str, Entry]:
        base = self.half(kind)
        listed: dict[str, Entry] = {}
        self._listed.add(kind)
        for folder, _, files in os.walk(base):
            for name in files:
                if name.endswith(PARTIAL_SUFFIX):
                    continue
                path = Path(folder, name)
                facts = path.stat()
                key = path.relative_to(base).as_posix()
                listed[key] = Entry(kind, key, facts.st_size, None, facts.st_mtime)
                self._stamps[(kind, key)] = Stamp.of(facts)
        return listed

    def known_etag(self, entry: Entry) -> str | None:
        """The file's ETag if the cache remembers it for the stat `list` saw, else None (`etag` computes it)."""
        stamp = self._stamps.get((entry.kind, entry.key))
        return self.checksums.get(f"{entry.kind}/{entry.key}", stamp) if stamp is not None else None

    def etag(self, entry: Entry) -> str:
        known = self.known_etag(entry)
        if known is not None:
            return known
        path = self.path(entry.kind, entry.key)
        before = Stamp.of(path.stat())
        etag = file_etag(path)
        if Stamp.of(path.stat()) == before:  # not remembered if the file changed while it was read
            self.checksums.put(f"{entry.kind}/{entry.key}", before, etag)
        return etag

    def remember_sent(self, entry: Entry, etag: str) -> None:
        """The ETag of a file just uploaded whole, for the stat `list` saw before it was read."""
        stamp = self._stamps.get((entry.kind, entry.key))
        if stamp is not None:
            self.checksums.put(f"{entry.kind}/{entry.key}", stamp, etag)

    def remember_written(self, kind: str, key: str, etag: str) -> None:
        """The ETag of a file this run just wrote, for its stat now."""
        self.checksums.put(f"{kind}/{key}", Stamp.of(self.path(kind, key).stat()), etag)

    def save_checksums(self) -> None:
        """Keep what this run learnt; files gone from a listed half are dropped."""
        self.checksums.forget_except({f"{kind}/{key}" for kind, key in self._stamps}, self._listed)
        self.checksums.save()

    def delete(self, kind: str, key: str) -> None:
        self.path(kind, key).unlink(missing_ok=True)

    def create(self, kind: str, path: Path) -> BinaryIO:
        """A new file at `path` in half `kind`, folders made; in the private half owner-only (0600, folders 0700)."""
        private = kind == "private"
        self._folders(kind, path.parent)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE if private else 0o666)
        if private:
            os.fchmod(descriptor, PRIVATE_FILE_MODE)  # the umask can only take bits away; this sets them exactly
        return os.fdopen(descriptor, "wb")

    def _folders(self, kind: str, folder: Path) -> None:
        if kind != "private":
            folder.mkdir(parents=True, exist_ok=True)
            return
        half = self.half(kind)
        self.root.mkdir(parents=True, exist_ok=True)
        for step in [half, *(half / part for part in _steps(folder.relative_to(half)))]:
            try:
                step.mkdir(mode=PRIVATE_DIR_MODE)
            except FileExistsError:
                if step != half:
                    continue
            # The half itself is made owner-only even when it was there already (a folder made by hand).
            with contextlib.suppress(PermissionError):
                os.chmod(step, PRIVATE_DIR_MODE)

    def lock(self) -> bool:
        """Hold an exclusive lock on the folder for this run (flock on the directory); False when another run has it.

        The kernel drops it when the process dies, so a killed run never leaves the folder locked.
        """
        self.root.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return False
        self._lock = descriptor
        return True

    def unlock(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def remove_partials(self) -> tuple[Path, ...]:
        """Downloads a stopped run left half-written (only while `lock` is held: no other run writes them)."""
        removed: tuple[Path, ...] = ()
        for kind in self.kinds:
            for folder, _, files in os.walk(self.half(kind)):
                for name in files:
                    if name.endswith(PARTIAL_SUFFIX):
                        path = Path(folder, name)
                        path.unlink(missing_ok=True)
                        removed += (path,)
        return removed

    def manifest_name(self) -> str:
        return str(self.root / MANIFEST_NAME)

    def read_manifest(self) -> str | None:
        try:
            return (self.root / MANIFEST_NAME).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def write_manifest(self, text: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.root / MANIFEST_NAME, text, private=True)

    def remove_manifest(self) -> None:
        (self.root / MANIFEST_NAME).unlink(missing_ok=True)


Store = BucketStore | DirStore


def _steps(relative: Path) -> list[Path]:
    """a/b/c -> [a, a/b, a/b/c]."""
    parts = relative.parts
    return [Path(*parts[: index + 1]) for index in range(len(parts))]


def unsafe_key(key: str) -> str | None:
    """Why an object key cannot be a file under a media folder, or None."""
    parts = key.split("/")
    if key.startswith("/") or key.endswith("/") or any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' path segment or a leading/trailing '/'"
    if "\\" in key or "\0" in key:
        return "has a backslash or NUL"
    if key.endswith(PARTIAL_SUFFIX):
        return f"ends with {PARTIAL_SUFFIX}"
    return None

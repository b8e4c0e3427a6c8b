"""The manifest of a backup or a pulled media folder: one record per object, written last and atomically.

A destination without a manifest is an incomplete (interrupted) backup: `restore` refuses it,
and running `backup` again resumes it, copying only what is missing or changed. A run that
changes a destination first removes its manifest, so a half-updated backup never looks complete.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

MANIFEST_NAME = "media-manifest.json"
FORMAT = "site-storage/media-manifest@1"
KINDS = ("public", "private")
"""A site's two halves: the public bucket and the private one."""


class ManifestError(Exception):
    """The manifest cannot be used; one line naming the file and what is wrong."""


@dataclass(frozen=True)
class Meta:
    """What S3 keeps with an object besides its bytes, and must survive every copy."""

    content_type: str | None = None
    cache_control: str | None = None
    content_disposition: str | None = None
    content_encoding: str | None = None
    content_language: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    """User metadata (x-amz-meta-*)."""

    @classmethod
    def from_response(cls, answer: dict[str, Any]) -> Meta:
        """From a GetObject or HeadObject answer."""
        return cls(
            content_type=answer.get("ContentType"),
            cache_control=answer.get("CacheControl"),
            content_disposition=answer.get("ContentDisposition"),
            content_encoding=answer.get("ContentEncoding"),
            content_language=answer.get("ContentLanguage"),
            metadata=dict(answer.get("Metadata") or {}),
        )

    def request_arguments(self) -> dict[str, Any]:
        """As PutObject, CreateMultipartUpload and CopyObject (MetadataDirective REPLACE) take them."""
        arguments: dict[str, Any] = {"Metadata": dict(self.metadata)}
        for name, value in (
            ("ContentType", self.content_type),
            ("CacheControl", self.cache_control),
            ("ContentDisposition", self.content_disposition),
            ("ContentEncoding", self.content_encoding),
            ("ContentLanguage", self.content_language),
        ):
            if value is not None:
                arguments[name] = value
        return arguments


@dataclass(frozen=True)
class Record:
    kind: str
    """public or private: which of the site's buckets the object belongs in."""
    key: str
    size: int
    etag: str
    """As S3 reports it, without quotes: the MD5 of the body unless `-N` (multipart) is in it."""
    meta: Meta
    acl: str | None
    """The canned ACL the object carries in its site's bucket, on regions that use object ACLs."""
    copy_etag: str | None = None
    """The ETag of the copy in this backup: a folder's file in this project's 8 MiB-part form, or what a
    backup bucket gave the copy. Restore and verify-backup check the copy
    against it (None in manifests written before it existed: `etag` where comparable)."""

    @property
    def md5(self) -> str | None:
        return None if "-" in self.etag else self.etag


def dumps(records: Iterable[Record], *, site: str, source: str) -> str:
    entries = []
    for record in sorted(records, key=lambda r: (r.kind, r.key)):
        entry = asdict(record)
        entry["md5"] = record.md5
        entries.append(entry)
    return json.dumps({"format": FORMAT, "site": site, "source": source, "objects": entries}, indent=1) + "\n"


@dataclass(frozen=True)
class Manifest:
    site: str
    source: str
    records: dict[tuple[str, str], Record]


def loads(text: str, where: str) -> dict[tuple[str, str], Record]:
    return parse(text, where).records


def parse(text: str, where: str) -> Manifest:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"{where}: not JSON (line {error.lineno}, column {error.colno})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ManifestError(f"{where}: not a media manifest (format {FORMAT!r} expected)")
    records: dict[tuple[str, str], Record] = {}
    for index, entry in enumerate(document.get("objects") or []):
        try:
            meta = Meta(**entry["meta"])
            record = Record(
                entry["kind"],
                entry["key"],
                int(entry["size"]),
                entry["etag"],
                meta,
                entry.get("acl"),
                entry.get("copy_etag"),
            )
        except (KeyError, TypeError, ValueError):
            raise ManifestError(f"{where}: objects[{index}] is not a manifest record") from None
        if record.kind not in KINDS:
            raise ManifestError(f"{where}: objects[{index}].kind is {record.kind!r}; allowed: public, private")
        records[(record.kind, record.key)] = record
    return Manifest(str(document.get("site") or ""), str(document.get("source") or ""), records)

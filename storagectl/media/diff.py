"""What a run changes: each source object is new, changed, unchanged, or would overwrite a newer one.

Unchanged means the same size and the same checksum (ETag; for a local file the ETag S3
would give it, see `checksums`; for a restored backup's object the ETag its manifest records).
When the two ETags are of different forms (one multipart,
the other not, or a different number of parts) they cannot be compared, and the object counts
as unchanged when its copy is at least as new as the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from storagectl.media.stores import DirStore, Entry, Store, unsafe_key

Mapper = Callable[[Callable[[tuple[Entry, Entry]], bool], Iterable[tuple[Entry, Entry]]], Iterable[bool]]


@dataclass(frozen=True)
class Change:
    action: str
    """copy or delete."""
    kind: str
    key: str
    size: int
    reason: str
    """new, changed, newer at the destination (overwritten), or not in the source (deleted)."""
    source: Entry | None = None


@dataclass
class Diff:
    copies: list[Change] = field(default_factory=list)
    deletes: list[Change] = field(default_factory=list)
    unchanged: list[Entry] = field(default_factory=list)
    existing: dict[tuple[str, str], Entry] = field(default_factory=dict)
    """The destination's copy of each unchanged object (its ETag goes into a backup's manifest)."""
    newer: list[Change] = field(default_factory=list)
    """Source objects whose destination copy differs and is newer: refused unless asked to overwrite."""
    unsafe: list[str] = field(default_factory=list)
    """One line per key that cannot be a local file."""


def compare(
    source: Store,
    destination: Store,
    listings: dict[str, tuple[dict[str, Entry], dict[str, Entry]]],
    *,
    delete: bool,
    overwrite_newer: bool,
    mapper: Mapper = map,
) -> Diff:
    """`listings` holds, per half, (source entries, destination entries)."""
    diff = Diff()
    pairs: list[tuple[Entry, Entry]] = []
    for kind, (there, here) in listings.items():
        for key, entry in sorted(there.items()):
            if isinstance(destination, DirStore) and (why := unsafe_key(key)) is not None:
                diff.unsafe.append(f"{source.label}: {kind} object {key!r} {why}: it cannot be a local file")
                continue
            existing = here.get(key)
            if existing is None:
                diff.copies.append(Change("copy", kind, key, entry.size, "new", entry))
            else:
                pairs.append((entry, existing))
        if delete:
            for key, entry in sorted(here.items()):
                if key not in there:
                    diff.deletes.append(Change("delete", kind, key, entry.size, "not in the source"))

    def same(pair: tuple[Entry, Entry]) -> bool:
        entry, existing = pair
        if entry.size != existing.size:
            return False
        mine, theirs = entry.origin_etag or source.etag(entry), destination.etag(existing)
        if _form(mine) == _form(theirs):
            return mine == theirs
        return existing.modified >= entry.modified

    # Only pairs with a checksum still to compute (a local file the cache does not remember) go
    # to `mapper`'s threads; handing it thousands of answered ones costs more than comparing them.
    def answered(pair: tuple[Entry, Entry]) -> bool:
        entry, existing = pair
        return entry.size != existing.size or (
            (entry.origin_etag is not None or source.known_etag(entry) is not None)
            and destination.known_etag(existing) is not None
        )

    pending = [index for index, pair in enumerate(pairs) if not answered(pair)]
    computed = dict(zip(pending, mapper(same, [pairs[index] for index in pending]), strict=True))
    for index, (entry, existing) in enumerate(pairs):
        equal = computed[index] if index in computed else same((entry, existing))
        if equal:
            diff.unchanged.append(entry)
            diff.existing[(entry.kind, entry.key)] = existing
        elif existing.modified > entry.modified and not overwrite_newer:
            diff.newer.append(Change("copy", entry.kind, entry.key, entry.size, "newer at the destination", entry))
        else:
            reason = "newer at the destination (overwritten)" if existing.modified > entry.modified else "changed"
            diff.copies.append(Change("copy", entry.kind, entry.key, entry.size, reason, entry))
    return diff


def _form(etag: str) -> str:
    """`md5` for a single-part ETag, else the number of parts: ETags of one form compare."""
    return etag.rsplit("-", 1)[1] if "-" in etag else "md5"

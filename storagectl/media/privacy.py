"""After a run: anonymous GETs prove that the destination's private objects are refused and public ones load.

This checks the outcome, not the request that was sent: a bucket policy, an ACL left over from
another tool or a region that ignores the ACL would all show up here.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import quote

from storagectl.media.stores import BucketStore
from storagectl.verify.checks import HttpAnswer, bucket_url, http_get

SAMPLE_PRIVATE = 25
SAMPLE_PUBLIC = 5


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    ok: bool
    line: str


def sample(keys: dict[str, list[str]], everything: bool, seed: int | None = None) -> list[tuple[str, str]]:
    """Which objects to GET: all, or a random sample per half (every private one up to SAMPLE_PRIVATE)."""
    chosen: list[tuple[str, str]] = []
    pick = random.Random(seed)
    for kind, names in keys.items():
        limit = len(names) if everything else (SAMPLE_PRIVATE if kind == "private" else SAMPLE_PUBLIC)
        chosen += [(kind, key) for key in (names if len(names) <= limit else pick.sample(names, limit))]
    return chosen


def check(
    store: BucketStore,
    objects: Iterable[tuple[str, str]],
    mapper: Callable[..., Iterable[Finding]] = map,
    get: Callable[[str], HttpAnswer] = http_get,
) -> list[Finding]:
    def one(item: tuple[str, str]) -> Finding:
        kind, key = item
        url = bucket_url(store.site, store.buckets[kind], quote(store.object_key(kind, key)))
        answer = get(url)
        if store.anonymous.get(kind):
            ok = answer.status == 200
            line = f"{kind} object {key}: anonymous GET {url} answered {answer.status or answer.error}, expected 200"
        else:
            ok = answer.status in (401, 403)
            line = f"{kind} object {key}: anonymous GET {url} answered {answer.status or answer.error}: " + (
                "READABLE BY ANYONE" if answer.status == 200 else "expected 403"
            )
        return Finding(kind, key, ok, line)

    return list(mapper(one, list(objects)))

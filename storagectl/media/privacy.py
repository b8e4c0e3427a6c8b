"""After a run: anonymous GETs prove that the destination's private objects are refused and public ones load.

This checks the outcome, not the request that was sent: a bucket policy, an ACL left over from
another tool or a region that ignores the ACL would all show up here. Every bucket written is
also listed anonymously (ListObjectsV2, one key): that must be refused too, for the public
bucket as well, which serves objects and must not hand out an index of them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

from storagectl.media.stores import BucketStore
from storagectl.verify.checks import HttpAnswer, bucket_url, http_get
from storagectl.verify.results import describe

SAMPLE_PRIVATE = 25
SAMPLE_PUBLIC = 5


REPAIRABLE_ACL = "private"
"""The private half's ACL on regions with object ACLs. On AWS the half sends bucket-owner-full-control
to owner-enforced buckets, where no object ACL grants anything: a leak there is the bucket's."""


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str
    ok: bool
    line: str
    leaked: bool = False
    """A private object an anonymous GET loaded."""


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
        return Finding(kind, key, ok, line, leaked=answer.status == 200 and not store.anonymous.get(kind))

    return list(mapper(one, list(objects)))


def listings(store: BucketStore, get: Callable[[str], HttpAnswer] = http_get) -> list[Finding]:
    """An anonymous listing of each of the store's buckets; each must be refused (401/403)."""
    findings = []
    for bucket in sorted(set(store.buckets.values())):
        url = bucket_url(store.site, bucket, "") + "?list-type=2&max-keys=1"
        answer = get(url)
        ok = answer.status in (401, 403)
        line = f"bucket {bucket}: anonymous listing GET {url} answered {answer.status or answer.error}: " + (
            "ITS KEYS ARE LISTED TO ANYONE" if answer.status == 200 else "expected 403"
        )
        findings.append(Finding("bucket", bucket, ok, line))
    return findings


def repair(
    store: BucketStore,
    findings: list[Finding],
    mapper: Callable[..., Iterable[Any]] = map,
    get: Callable[[str], HttpAnswer] = http_get,
) -> tuple[list[str], list[Finding]]:
    """Give each leaked private object the `private` canned ACL again, then GET it anonymously again.

    A run skips an object whose bytes are unchanged, so one another tool made public-read
    (the platform guide's "all the files will become public") would stay readable; on regions
    with object ACLs this puts it back. Elsewhere (AWS), or when the object still loads (a
    bucket policy), or the ACL cannot be set, the finding stands. Returns one line per
    repaired object and the findings that remain.
    """

    def one(finding: Finding) -> tuple[Finding, bool]:
        if not finding.leaked or store.acls.get(finding.kind) != REPAIRABLE_ACL:
            return finding, False
        target = {"Bucket": store.buckets[finding.kind], "Key": store.object_key(finding.kind, finding.key)}
        try:
            store.client.put_object_acl(ACL=REPAIRABLE_ACL, **target)
        except Exception as error:
            return replace(finding, line=f"{finding.line}; setting its ACL back failed: {describe(error)}"), False
        again = check(store, [(finding.kind, finding.key)], get=get)[0]
        return again, again.ok

    repaired, remaining = [], []
    for finding, fixed in mapper(one, [finding for finding in findings if not finding.ok]):
        if fixed:
            repaired.append(
                f"{finding.kind} object {finding.key}: was readable by anyone; its ACL is {REPAIRABLE_ACL} again "
                "and an anonymous GET is refused"
            )
        else:
            remaining.append(finding)
    return repaired, remaining

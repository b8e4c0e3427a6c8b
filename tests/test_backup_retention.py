"""Retention (7 daily, 4 weekly, 12 monthly) over generated calendars; prune never removes what a kept set needs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from components.config import Retention
from storagectl.media import backup_sets
from storagectl.media import prune as prune_module
from storagectl.media.backup_sets import BackupTarget, SetInfo, blob_key, manifest_key, marker_key, set_name
from storagectl.media.manifest import Meta, Record
from storagectl.media.prune import prune_site
from storagectl.media.retention import kept

DIVIO = Retention(daily=7, weekly=4, monthly=12)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def daily(first: str, days: int, hour: int = 2) -> list[datetime]:
    start = at(first) + timedelta(hours=hour)
    return [start + timedelta(days=day) for day in range(days)]


@pytest.mark.parametrize(
    ("times", "retention", "expected"),
    [
        pytest.param([], DIVIO, [], id="no sets"),
        pytest.param([at("2026-03-01T02:00")], Retention(0, 0, 1), ["2026-03-01T02:00"], id="one set"),
        pytest.param(
            # Two sets a day for three days: the newest of each day.
            [at("2026-03-01T02:00"), at("2026-03-01T14:00"), at("2026-03-02T02:00"), at("2026-03-02T14:00")],
            Retention(7, 0, 0),
            ["2026-03-01T14:00", "2026-03-02T14:00"],
            id="newest of each day",
        ),
        pytest.param(
            # 100 daily sets from Thu Jan 1, 2026 to Fri Apr 10. Dailies: Apr 4-10. Weeklies: the newest of ISO
            # weeks 15 (Apr 10), 14 (Sun Apr 5), 13 (Sun Mar 29), 12 (Sun Mar 22). Monthlies: Apr 10, Mar 31, Feb 28,
            # Jan 31 (four months have sets).
            daily("2026-01-01", 100),
            DIVIO,
            [
                "2026-01-31T02:00",
                "2026-02-28T02:00",
                "2026-03-22T02:00",
                "2026-03-29T02:00",
                "2026-03-31T02:00",
                *(f"2026-04-{day:02d}T02:00" for day in range(4, 11)),
            ],
            id="100 days under 7/4/12",
        ),
        pytest.param(
            # Sets every Monday from Jan 6, 2025 to Feb 23, 2026: the 7 dailies are the last 7 Mondays (Jan 12 to
            # Feb 23; the 4 weeklies among them); the 12 monthlies reach back to March 2025, each month's last Monday.
            [at("2025-01-06T02:00") + timedelta(weeks=week) for week in range(60)],
            DIVIO,
            [
                *(f"2026-{day}T02:00" for day in ("01-12", "01-19", "01-26", "02-02", "02-09", "02-16", "02-23")),
                *(f"2025-{day}T02:00" for day in ("03-31", "04-28", "05-26", "06-30", "07-28", "08-25", "09-29")),
                *(f"2025-{day}T02:00" for day in ("10-27", "11-24", "12-29")),
            ],
            id="weekly sets over 60 weeks",
        ),
        pytest.param(
            # A gap: backups stopped for 20 days; the 7 dailies are the 7 last days that have a set.
            daily("2026-05-01", 10) + daily("2026-05-31", 2),
            Retention(7, 0, 0),
            [*(f"2026-05-{day:02d}T02:00" for day in range(6, 11)), "2026-05-31T02:00", "2026-06-01T02:00"],
            id="days without a set use up no count",
        ),
        pytest.param(
            daily("2026-05-01", 3),
            Retention(0, 0, 0),
            ["2026-05-03T02:00"],
            id="the newest is kept whatever the counts",
        ),
    ],
)
def test_retention_keeps_exactly_the_expected_sets(
    times: list[datetime], retention: Retention, expected: list[str]
) -> None:
    assert sorted(moment.isoformat()[:16] for moment in kept(times, retention)) == sorted(expected)


# ---- prune over a generated history, in an in-process moto account -------------------------------------

BUCKET = "acme-media-backups"
SITE = "acme-live"


def _target(client: Any) -> BackupTarget:
    return BackupTarget(bucket=BUCKET, client=client, identity=("moto", "writer"), writer="test", site=None)  # type: ignore[arg-type]


def _write_set(client: Any, name: str, bodies: list[int], *, complete: bool) -> set[str]:
    """A set referencing body numbers `bodies` (each a blob of its own content); returns its blob keys."""
    records, blobs = [], {}
    for index, body in enumerate(bodies):
        data = f"body {body}".encode()
        etag = client.put_object(Bucket=BUCKET, Key=blob_key(SITE, len(data), f"e{body}"), Body=data)["ETag"]
        key = f"file{index}.txt"
        records.append(Record("public", key, len(data), f"e{body}", Meta(), None, etag.strip('"')))
        blobs[("public", key)] = blob_key(SITE, len(data), f"e{body}")
    if complete:
        text = backup_sets.set_manifest_text(records, blobs, site=SITE, source="test", name=name, new=(0, 0))
        client.put_object(Bucket=BUCKET, Key=manifest_key(SITE, name), Body=text.encode())
    else:
        marker = json.dumps({"site": SITE, "set": name, "blobs": sorted(blobs.values())})
        client.put_object(Bucket=BUCKET, Key=marker_key(SITE, name), Body=marker.encode())
    return set(blobs.values())


history = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=400),  # hours after the start, in steps of 6
        st.lists(st.integers(min_value=0, max_value=12), min_size=1, max_size=4),  # the bodies it references
        st.booleans(),  # complete?
    ),
    min_size=1,
    max_size=12,
    unique_by=lambda item: item[0],
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=history, retention=st.builds(Retention, *(st.integers(0, 3) for _ in range(3))))
def test_prune_never_removes_an_object_a_kept_set_or_a_set_in_progress_needs(
    history: list[tuple[int, list[int], bool]], retention: Retention
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    now = start + timedelta(hours=6 * 400 + 1)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        needs: dict[str, set[str]] = {}
        complete: list[str] = []
        for hours, bodies, is_complete in history:
            name = set_name(start + timedelta(hours=6 * hours))
            needs[name] = _write_set(client, name, bodies, complete=is_complete)
            if is_complete:
                complete.append(name)
        result = prune_site(_target(client), SITE, retention, now=now, dry_run=False)
        assert result.failed == []
        present = {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
        in_progress = [
            name
            for name in needs
            if name not in complete and (backup_sets.set_time(name) or start) > now - timedelta(days=1)
        ]
        for name in [*result.kept, *in_progress]:
            assert needs[name] <= present, f"set {name} lost a body it needs"
        assert set(result.kept) == {
            set_name(moment)
            for moment in kept((backup_sets.set_time(n) for n in complete), retention)  # type: ignore[misc]
        }
        if complete:
            assert max(complete) in result.kept, "the newest complete set is always kept"
            assert manifest_key(SITE, max(complete)) in present
        for name in result.removed:
            assert manifest_key(SITE, name) not in present
        # Nothing that no kept set needs is left behind (but what a set in progress protects).
        protected = set().union(*(needs[name] for name in [*result.kept, *in_progress]))
        assert {key for key in present if "/blobs/" in key} == protected


def test_prune_keeps_the_bodies_of_a_set_completed_while_it_ran(monkeypatch: pytest.MonkeyPatch) -> None:
    """A backup that finishes between prune's listing of the sets and its deletes has removed its
    marker; its new bodies are named by its manifest alone, and prune must not delete them."""
    start = datetime(2026, 1, 1, 2, tzinfo=UTC)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for day in range(3):
            _write_set(client, set_name(start + timedelta(days=day)), [day], complete=True)
        racing = set_name(start + timedelta(days=3))
        real_list_blobs = prune_module.list_blobs
        finished: set[str] = set()

        def backup_finishes_meanwhile(target: BackupTarget, site: str) -> dict[str, Any]:
            if not finished:
                finished.update(_write_set(client, racing, [2, 9], complete=True))  # body 9 is new
            return real_list_blobs(target, site)

        monkeypatch.setattr(prune_module, "list_blobs", backup_finishes_meanwhile)
        result = prune_site(_target(client), SITE, Retention(1, 0, 0), now=start + timedelta(days=3), dry_run=False)
        present = {item["Key"] for item in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
        assert result.failed == []
        assert finished <= present, "prune deleted a body of a set that completed while it ran"
        assert blob_key(SITE, len(b"body 0"), "e0") not in present  # what no set needs is still deleted


def test_set_names_and_arguments() -> None:
    assert backup_sets.parse_set_argument("latest") == "latest"
    assert backup_sets.parse_set_argument("20261203T020000Z") == "20261203T020000Z"
    assert backup_sets.parse_set_argument("2026-12-03T03:00:00+01:00") == "20261203T020000Z"
    assert backup_sets.parse_set_argument("backups/acme-live") is None
    assert backup_sets.parse_set_argument("2026-12-03T02:00:00") is None, "a time without a zone is ambiguous"
    assert SetInfo(SITE, "x", datetime(2026, 1, 1, tzinfo=UTC), True).complete

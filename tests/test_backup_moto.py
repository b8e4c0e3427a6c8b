"""Backup sets on moto with IAM enforced: the AWS stack with site-storage:backups, its writer's own key.

Three sets on three injected dates (backup_sets.clock; nothing sleeps), what the second sends,
restores from an older set, an interrupted set, prune over real sets, and the keys: a site key
is refused on the backup bucket, the writer cannot write a site's bucket.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from typer.testing import Result

from storagectl.media import set_backup
from tests.support.backups import (
    BACKUP_BUCKET,
    LIVE,
    STAGE,
    BackupWorld,
    counted_requests,
    deploy_backup_stack,
    ok,
)
from tests.support.media import anonymous_status, bucket_objects, folder_files
from tests.support.moto_verify import iam_enforced

DAY1 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)
DAY3 = DAY1 + timedelta(days=2)
FIRST = {
    ("public", "uploads/cat.jpg"): b"\xff\xd8 a cat",
    ("public", "thumbs/cat.128x128.png"): b"\x89PNG thumb",
    ("private", "contracts/terms.pdf"): b"%PDF private terms, first version",
    ("private", "invoices/2026/01.csv"): b"id,total\n1,2\n",
}


@pytest.fixture
def world(tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> BackupWorld:
    return deploy_backup_stack(tmp_path, moto_endpoint, monkeypatch)


def fill(world: BackupWorld, objects: dict[tuple[str, str], bytes], buckets: tuple[str, str] = LIVE) -> None:
    for (kind, key), body in objects.items():
        world.put(buckets[0] if kind == "public" else buckets[1], key, body, ContentType="application/octet-stream")


def three_sets(world: BackupWorld, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    """Day 1: FIRST; day 2: one object changed, one added; day 3: one deleted. Each set's JSON summary."""
    fill(world, FIRST)
    sets = [ok(world.media("backup", "acme-live", "--json", at=DAY1, monkeypatch=monkeypatch))["sets"][0]]
    world.put(LIVE[1], "contracts/terms.pdf", b"%PDF private terms, second version!")
    world.put(LIVE[0], "uploads/dog.jpg", b"\xff\xd8 a dog")
    sets.append(ok(world.media("backup", "acme-live", "--json", at=DAY2, monkeypatch=monkeypatch))["sets"][0])
    world.s3().delete_object(Bucket=LIVE[0], Key="uploads/cat.jpg")
    sets.append(ok(world.media("backup", "acme-live", "--json", at=DAY3, monkeypatch=monkeypatch))["sets"][0])
    return sets


def test_three_sets_on_three_dates_send_only_what_changed(world: BackupWorld, monkeypatch: pytest.MonkeyPatch) -> None:
    fill(world, FIRST)
    first = ok(world.media("backup", "acme-live", "--json", at=DAY1, monkeypatch=monkeypatch))["sets"][0]
    assert (first["set"], first["complete"], first["objects"], first["new_objects"]) == ("20261201T020000Z", True, 4, 4)
    assert first["new_bytes"] == sum(len(body) for body in FIRST.values())
    changed, added = b"%PDF private terms, second version!", b"\xff\xd8 a dog"
    world.put(LIVE[1], "contracts/terms.pdf", changed)
    world.put(LIVE[0], "uploads/dog.jpg", added)
    with counted_requests() as requests:
        second = ok(world.media("backup", "acme-live", "--json", at=DAY2, monkeypatch=monkeypatch))["sets"][0]
    # Only what changed is sent: two server-side copies of exactly those bytes, nothing streamed or uploaded
    # but the set's own marker and manifest.
    assert (second["objects"], second["new_objects"], second["new_bytes"]) == (5, 2, len(changed) + len(added))
    assert requests["CopyObject"] == 2
    assert requests["PutObject"] == 2, "the in-progress marker and the manifest"
    assert requests["UploadPart"] == requests["UploadPartCopy"] == 0
    world.s3().delete_object(Bucket=LIVE[0], Key="uploads/cat.jpg")
    third = ok(world.media("backup", "acme-live", "--json", at=DAY3, monkeypatch=monkeypatch))["sets"][0]
    assert (third["objects"], third["new_objects"], third["new_bytes"]) == (4, 0, 0)
    listed = ok(world.media("backups", "acme-live", "--json"))
    assert [(row["set"], row["objects"], row["new_objects"]) for row in listed["sets"]] == [
        ("20261201T020000Z", 4, 4),
        ("20261202T020000Z", 5, 2),
        ("20261203T020000Z", 4, 0),
    ]
    assert [row["bytes"] for row in listed["sets"]] == [first["bytes"], second["bytes"], third["bytes"]]
    # Five distinct bodies stored once each, whatever the number of sets.
    stored = world.s3().list_objects_v2(Bucket=BACKUP_BUCKET, Prefix="acme-live/blobs/")["KeyCount"]
    assert stored == 6


def test_restore_from_an_older_set_gives_that_days_bytes_with_private_objects_private(
    world: BackupWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_sets(world, monkeypatch)
    restored = ok(
        world.media(
            "restore", "acme-live", "--from", "20261201T020000Z", "--to-site", "acme-stage", "--json", "--check", "all"
        )
    )
    assert restored["copied"] == 4 and restored["failed"] == [] and restored["privacy"]["failed"] == []
    s3 = world.s3()
    assert bucket_objects(s3, STAGE[0]) == {key: body for (kind, key), body in FIRST.items() if kind == "public"}
    assert bucket_objects(s3, STAGE[1]) == {key: body for (kind, key), body in FIRST.items() if kind == "private"}
    endpoint = world.deployment.endpoint
    assert anonymous_status(f"{endpoint}/{STAGE[1]}/contracts/terms.pdf") == 403
    assert anonymous_status(f"{endpoint}/{STAGE[0]}/uploads/cat.jpg") == 200
    # An ISO time names the same set; `latest` is day 3's, where the cat is gone.
    again = ok(
        world.media("restore", "acme-live", "--from", "2026-12-01T02:00:00Z", "--to-site", "acme-stage", "--json")
    )
    assert again["copied"] == 0 and again["unchanged"] == 4
    # Stage's copies may be newer than the set's bodies (restored a moment ago; S3 times have whole seconds):
    # replacing them is asked for.
    latest = ok(
        world.media(
            "restore",
            "acme-live",
            "--from",
            "latest",
            "--to-site",
            "acme-stage",
            "--json",
            "--delete",
            "--overwrite-newer",
        )
    )
    assert latest["deleted"] == 1
    assert "uploads/cat.jpg" not in bucket_objects(s3, STAGE[0])
    assert bucket_objects(s3, STAGE[1])["contracts/terms.pdf"] == b"%PDF private terms, second version!"


def test_verify_backup_proves_a_set_and_restore_refuses_an_altered_body(
    world: BackupWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_sets(world, monkeypatch)
    checked = ok(world.media("verify-backup", "acme-live", "--from", "20261202T020000Z", "--json"))
    assert (checked["objects"], checked["by_checksum"], checked["ok"]) == (5, 5, True)
    blobs = world.s3().list_objects_v2(Bucket=BACKUP_BUCKET, Prefix="acme-live/blobs/")["Contents"]
    victim = next(item["Key"] for item in blobs if item["Size"] == len(b"\xff\xd8 a dog"))
    world.put(BACKUP_BUCKET, victim, b"\xff\xd8 a cow")  # same size, other bytes
    damaged = world.media("verify-backup", "acme-live", "--from", "latest", "--json")
    assert damaged.exit_code == 1 and "public/uploads/dog.jpg" in " ".join(ok_or(damaged)["altered"])
    restored = world.media("restore", "acme-live", "--from", "latest", "--to-site", "acme-stage", "--json")
    assert restored.exit_code == 1
    assert any("uploads/dog.jpg" in line and "altered" in line for line in ok_or(restored)["failed"])
    assert "uploads/dog.jpg" not in bucket_objects(world.s3(), STAGE[0])


def ok_or(result: Result) -> dict[str, Any]:
    """The JSON summary of a run that failed (exit 1 still prints it)."""
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def test_an_interrupted_set_is_neither_listed_restored_nor_kept(
    world: BackupWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(world, FIRST)
    ok(world.media("backup", "acme-live", "--json", at=DAY1, monkeypatch=monkeypatch))
    world.put(LIVE[0], "uploads/dog.jpg", b"\xff\xd8 a dog")
    world.put(LIVE[0], "uploads/bird.jpg", b"\xff\xd8 a bird")
    real_move = set_backup.move
    calls = []

    def dies_after_one(*args: object) -> object:
        calls.append(args)
        if len(calls) > 1:
            raise ConnectionResetError("the machine went away")
        return real_move(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(set_backup, "move", dies_after_one)
    broken = world.media("backup", "acme-live", "--json", at=DAY2, monkeypatch=monkeypatch)
    assert broken.exit_code == 1
    assert ok_or(broken)["sets"][0]["complete"] is False
    monkeypatch.setattr(set_backup, "move", real_move)
    listed = ok(world.media("backups", "acme-live", "--json"))
    assert [row["set"] for row in listed["sets"]] == ["20261201T020000Z"]
    refused = world.media("restore", "acme-live", "--from", "20261202T020000Z", "--to-site", "acme-stage")
    assert refused.exit_code == 2 and "no complete backup set 20261202T020000Z" in refused.stderr
    # Within a day it is a set in progress: prune leaves its marker and the body it already stored.
    kept = ok(world.media("prune", "--json", at=DAY2 + timedelta(hours=1), monkeypatch=monkeypatch))["sites"][0]
    assert kept["in_progress"] == ["20261202T020000Z"] and kept["objects_deleted"] == 0
    assert list(kept["kept"]) == ["20261201T020000Z"]
    # A day later it is stale: its marker goes, and the body only it wanted with it.
    stale = ok(world.media("prune", "--json", at=DAY3 + timedelta(hours=3), monkeypatch=monkeypatch))["sites"][0]
    assert stale["stale_incomplete_removed"] == ["20261202T020000Z"] and stale["objects_deleted"] == 1
    assert list(stale["kept"]) == ["20261201T020000Z"]
    # The next set completes and sends only what is not stored.
    done = ok(world.media("backup", "acme-live", "--json", at=DAY3 + timedelta(hours=4), monkeypatch=monkeypatch))
    assert done["sets"][0]["new_objects"] == 2


def test_prune_keeps_what_retention_keeps_and_every_kept_set_stays_whole(
    world: BackupWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ten daily sets (Fri Nov 20 to Sun Nov 29, 2026), each changing one object, under the stack's 7/4/12."""
    fill(world, FIRST)
    start = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    for day in range(10):
        world.put(LIVE[0], "uploads/daily.txt", f"day {day}".encode())
        ok(world.media("backup", "acme-live", "--json", at=start + timedelta(days=day), monkeypatch=monkeypatch))
    now = start + timedelta(days=9, hours=1)
    dry = ok(world.media("prune", "--dry-run", "--json", at=now, monkeypatch=monkeypatch))["sites"][0]
    # daily 7: Nov 23-29; weekly: the newest of ISO week 48 (Sun Nov 29) and of week 47 (Sun Nov 22);
    # monthly: Nov 29. Nov 20 and 21 are the older sets of week 47: they go.
    assert sorted(dry["removed"]) == ["20261120T020000Z", "20261121T020000Z"]
    assert ok(world.media("backups", "acme-live", "--json"))["sets"].__len__() == 10, "a dry run removes nothing"
    pruned = ok(world.media("prune", "--json", at=now, monkeypatch=monkeypatch))["sites"][0]
    assert sorted(pruned["removed"]) == sorted(dry["removed"]) and pruned["objects_deleted"] == 2
    remaining = [row["set"] for row in ok(world.media("backups", "acme-live", "--json"))["sets"]]
    assert remaining == sorted(pruned["kept"])
    for name in remaining:
        checked = ok(world.media("verify-backup", "acme-live", "--from", name, "--json"))
        assert checked["ok"] and checked["objects"] == 5, name


def test_site_keys_are_refused_on_the_backup_bucket_and_the_writer_on_site_buckets(
    world: BackupWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(world, FIRST)
    ok(world.media("backup", "acme-live", "--json", at=DAY1, monkeypatch=monkeypatch))
    blob = world.s3().list_objects_v2(Bucket=BACKUP_BUCKET, Prefix="acme-live/blobs/")["Contents"][0]["Key"]
    with iam_enforced():
        for slug in ("acme-live", "acme-stage", "brochure-live"):
            site = world.s3(world.deployment.keys[slug])
            for operation, arguments in (
                ("list_objects_v2", {}),
                ("get_object", {"Key": blob}),
                ("put_object", {"Key": "acme-live/blobs/forged", "Body": b"x"}),
                ("delete_object", {"Key": blob}),
            ):
                with pytest.raises(ClientError) as refused:
                    getattr(site, operation)(Bucket=BACKUP_BUCKET, **arguments)
                assert refused.value.response["Error"]["Code"] == "AccessDenied", slug
        writer = world.s3(world.writer)
        assert (
            writer.get_object(Bucket=LIVE[1], Key="contracts/terms.pdf")["Body"].read()
            == FIRST[("private", "contracts/terms.pdf")]
        )
        for call in (
            lambda: writer.put_object(Bucket=LIVE[0], Key="uploads/cat.jpg", Body=b"overwritten"),
            lambda: writer.delete_object(Bucket=LIVE[1], Key="contracts/terms.pdf"),
        ):
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert anonymous_status(f"{world.deployment.endpoint}/{BACKUP_BUCKET}/{blob}") == 403


def test_backup_without_backups_declared_or_with_both_site_and_all_is_refused(
    world: BackupWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = world.media("backup", "acme-live", "--all")
    assert both.exit_code == 2 and "exactly one of SITE or --all" in both.stderr
    every = ok(world.media("backup", "--all", "--json", at=DAY1, monkeypatch=monkeypatch))
    assert [item["site"] for item in every["sets"]] == ["acme-live", "acme-stage", "brochure-live"]
    assert all(item["complete"] for item in every["sets"])


def test_a_set_is_restorable_by_other_tools_from_its_manifest_alone(
    world: BackupWorld, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What docs/media.md's jq + `aws s3 cp` recipe does: each record's blob, kind and key rebuild the media folder."""
    three_sets(world, monkeypatch)
    s3 = world.s3()
    manifest = json.loads(
        s3.get_object(Bucket=BACKUP_BUCKET, Key="acme-live/sets/20261201T020000Z/media-manifest.json")["Body"].read()
    )
    folder = tmp_path / "restore"
    for record in manifest["objects"]:
        path = folder / record["kind"] / record["key"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(s3.get_object(Bucket=BACKUP_BUCKET, Key=record["blob"])["Body"].read())
    assert folder_files(folder) == FIRST

"""What `storagectl media` reads is what it planned from: a backup's manifest (restore, verify-backup) or a listing.

On a moto server with IAM enforced (the AWS example stack). Each test damages a backup or
changes a source between the listing and the copy, and checks that the run fails naming each
object, that nothing was written for it, and that the rest was copied whole.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from storagectl.media import engine
from storagectl.media.checksums import file_etag
from storagectl.media.manifest import MANIFEST_NAME
from storagectl.media.stores import PARTIAL_SUFFIX
from storagectl.offline import Evaluation
from tests.support.media import LARGE_KEY, SMALL_FILES, bucket_objects, folder_files, media_folder, summary
from tests.support.media_moto import BACKUPS, LIVE, STAGE, deploy_for_media, media
from tests.support.moto_verify import Deployment

SNAPSHOT = f"s3://{BACKUPS}/acme-live/snap"


@pytest.fixture
def deployed(aws_stack: Evaluation, moto_endpoint: str) -> Deployment:
    return deploy_for_media(aws_stack, moto_endpoint)


def pushed(deployed: Deployment, tmp_path: Path, *, large: bool = False) -> Path:
    folder = media_folder(tmp_path / "media", large=large)
    result = media(deployed, tmp_path, "push", "acme-live", str(folder))
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder


def backed_up(deployed: Deployment, tmp_path: Path, *, large: bool = False) -> Path:
    pushed(deployed, tmp_path, large=large)
    backup = tmp_path / "backup"
    result = media(deployed, tmp_path, "backup", "acme-live", "--to", str(backup))
    assert result.exit_code == 0, result.stdout + result.stderr
    return backup


def flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def damage(backup: Path, *, large: bool) -> list[str]:
    """Delete one file, truncate one, change one's bytes (and the large one's) keeping the size; their names."""
    (backup / "private" / "contracts" / "terms.pdf").unlink()
    (backup / "public" / "uploads" / "cat.jpg").write_bytes(b"\xff\xd8")
    flip_a_byte(backup / "public" / "thumbs" / "cat.128x128.png")
    damaged = ["private/contracts/terms.pdf", "public/thumbs/cat.128x128.png", "public/uploads/cat.jpg"]
    if large:
        flip_a_byte(backup / "private" / LARGE_KEY)
        damaged.append(f"private/{LARGE_KEY}")
    return sorted(damaged)


def named(lines: list[str]) -> list[str]:
    return sorted(line.split(": ", 1)[0] for line in lines)


def test_a_restore_writes_nothing_for_objects_missing_or_altered_in_a_folder_backup(
    deployed: Deployment, tmp_path: Path
) -> None:
    backup = backed_up(deployed, tmp_path, large=True)
    damaged = damage(backup, large=True)
    result = media(
        deployed, tmp_path, "restore", "acme-live", "--from", str(backup), "--to-site", "acme-stage", "--json"
    )
    assert result.exit_code == 1, result.stdout + result.stderr
    document = summary(result.stdout)
    assert document["ok"] is False and document["copied"] == 2
    assert named(document["failed"]) == damaged
    reasons = dict(line.split(": ", 1) for line in document["failed"])
    assert reasons["private/contracts/terms.pdf"].startswith("missing from the backup (its manifest records 18 bytes)")
    assert reasons["public/uploads/cat.jpg"].startswith("altered: 2 bytes in the backup, its manifest records 8")
    assert "its bytes have MD5" in reasons["public/thumbs/cat.128x128.png"]
    assert "its bytes have ETag" in reasons[f"private/{LARGE_KEY}"], "a multipart copy checked by its own parts"
    s3 = deployed.s3()
    assert bucket_objects(s3, STAGE[0]) == {"a b/ü.txt": SMALL_FILES["public"]["a b/ü.txt"]}
    assert bucket_objects(s3, STAGE[1]) == {"invoices/2026/01.csv": SMALL_FILES["private"]["invoices/2026/01.csv"]}
    assert s3.list_multipart_uploads(Bucket=STAGE[1]).get("Uploads", []) == [], "the altered upload was aborted"

    text = media(deployed, tmp_path, "restore", "acme-live", "--from", str(backup), "--to-site", "acme-stage")
    assert text.exit_code == 1
    assert "failed: private/contracts/terms.pdf: missing from the backup" in text.stdout
    assert "copied 0 objects (0 bytes), 2 unchanged, 0 deleted, 4 failed" in text.stdout


def test_a_restore_from_a_bucket_backup_refuses_missing_and_altered_objects(
    deployed: Deployment, tmp_path: Path
) -> None:
    pushed(deployed, tmp_path)
    done = media(deployed, tmp_path, "backup", "acme-live", "--to", SNAPSHOT, "--key", "operator")
    assert done.exit_code == 0, done.stdout + done.stderr
    s3 = deployed.s3()
    s3.delete_object(Bucket=BACKUPS, Key="acme-live/snap/private/contracts/terms.pdf")
    s3.put_object(Bucket=BACKUPS, Key="acme-live/snap/public/uploads/cat.jpg", Body=b"\xff\xd8 a dog")  # same size
    result = media(deployed, tmp_path, "restore", "acme-live", "--from", SNAPSHOT, "--to-site", "acme-stage", "--json")
    assert result.exit_code == 1, result.stdout + result.stderr
    failed = summary(result.stdout)["failed"]
    assert named(failed) == ["private/contracts/terms.pdf", "public/uploads/cat.jpg"]
    reasons = dict(line.split(": ", 1) for line in failed)
    assert reasons["public/uploads/cat.jpg"].startswith("altered: ETag ")
    assert set(bucket_objects(s3, STAGE[0])) == {"a b/ü.txt", "thumbs/cat.128x128.png"}
    assert set(bucket_objects(s3, STAGE[1])) == {"invoices/2026/01.csv"}


def test_a_restore_with_delete_keeps_the_destinations_copy_of_a_damaged_object(
    deployed: Deployment, tmp_path: Path
) -> None:
    backup = backed_up(deployed, tmp_path)
    assert media(deployed, tmp_path, "copy", "acme-live", "--to-site", "acme-stage").exit_code == 0
    (backup / "private" / "contracts" / "terms.pdf").unlink()
    result = media(
        deployed,
        tmp_path,
        "restore",
        "acme-live",
        "--from",
        str(backup),
        "--to-site",
        "acme-stage",
        "--delete",
        "--json",
    )
    assert result.exit_code == 1
    assert summary(result.stdout)["deleted"] == 0
    stage = bucket_objects(deployed.s3(), STAGE[1])
    assert stage["contracts/terms.pdf"] == SMALL_FILES["private"]["contracts/terms.pdf"]


def test_a_restore_ignores_files_its_manifest_does_not_list(deployed: Deployment, tmp_path: Path) -> None:
    backup = backed_up(deployed, tmp_path)
    (backup / "public" / "dropped-in-later.txt").write_bytes(b"not part of the backup")
    result = media(
        deployed, tmp_path, "restore", "acme-live", "--from", str(backup), "--to-site", "acme-stage", "--json"
    )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert summary(result.stdout)["ignored"] == ["public/dropped-in-later.txt"]
    assert "dropped-in-later.txt" not in bucket_objects(deployed.s3(), STAGE[0])


def after_listing(monkeypatch: pytest.MonkeyPatch, change: Callable[[], object]) -> None:
    """Run `change` once the run has listed and compared both sides, before it copies anything."""
    original = engine.compare

    def compare_then_change(*args: Any, **kwargs: Any) -> Any:
        diff = original(*args, **kwargs)
        change()
        return diff

    monkeypatch.setattr(engine, "compare", compare_then_change)


def test_a_pull_writes_nothing_for_an_object_altered_after_it_was_listed(
    deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed(deployed, tmp_path)
    operator = deployed.s3(deployed.operator)
    after_listing(monkeypatch, lambda: operator.put_object(Bucket=LIVE[1], Key="contracts/terms.pdf", Body=b"x" * 18))
    target = tmp_path / "pulled"
    result = media(deployed, tmp_path, "pull", "acme-live", str(target), "--json")
    assert result.exit_code == 1, result.stdout + result.stderr
    [failure] = summary(result.stdout)["failed"]
    assert failure.startswith("private/contracts/terms.pdf: altered since it was listed (its ETag is no longer ")
    assert not (target / "private" / "contracts" / "terms.pdf").exists()
    assert not list(target.rglob(f"*{PARTIAL_SUFFIX}"))
    assert not (target / MANIFEST_NAME).exists(), "an incomplete pull has no manifest"
    assert len(folder_files(target)) == 4


def test_a_copy_writes_nothing_for_an_object_deleted_after_it_was_listed(
    deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed(deployed, tmp_path)
    operator = deployed.s3(deployed.operator)
    after_listing(monkeypatch, lambda: operator.delete_object(Bucket=LIVE[0], Key="uploads/cat.jpg"))
    result = media(deployed, tmp_path, "copy", "acme-live", "--to-site", "acme-stage", "--json")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert summary(result.stdout)["failed"] == [
        "public/uploads/cat.jpg: gone since it was listed; nothing was written for it"
    ]
    assert set(bucket_objects(deployed.s3(), STAGE[0])) == {"a b/ü.txt", "thumbs/cat.128x128.png"}


def test_a_push_does_not_upload_a_file_that_shrank_after_it_was_listed(
    deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = media_folder(tmp_path / "media")
    after_listing(monkeypatch, lambda: (folder / "public" / "uploads" / "cat.jpg").write_bytes(b"cut"))
    result = media(deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert result.exit_code == 1
    assert summary(result.stdout)["failed"] == [
        "public/uploads/cat.jpg: altered: 3 bytes read where 8 were planned; nothing was written for it"
    ]
    assert "uploads/cat.jpg" not in bucket_objects(deployed.s3(), LIVE[0])


def test_a_manifest_records_the_etag_of_each_copy(deployed: Deployment, tmp_path: Path) -> None:
    backup = backed_up(deployed, tmp_path, large=True)
    records = json.loads((backup / MANIFEST_NAME).read_text())["objects"]
    assert {(r["kind"], r["key"]): r["copy_etag"] for r in records} == {
        (kind, key): file_etag(backup / kind / key) for kind, key in folder_files(backup)
    }
    live = deployed.s3().head_object(Bucket=LIVE[1], Key=LARGE_KEY)["ETag"].strip('"')
    assert next(r for r in records if r["key"] == LARGE_KEY)["etag"] == live, "etag: the object's on its site"


# verify-backup


def verify_backup(deployed: Deployment, tmp_path: Path, location: str, *args: str) -> Any:
    return media(deployed, tmp_path, "verify-backup", "acme-live", "--from", location, *args)


def test_verify_backup_proves_a_complete_folder_backup_reading_every_file(deployed: Deployment, tmp_path: Path) -> None:
    backup = backed_up(deployed, tmp_path, large=True)
    result = verify_backup(deployed, tmp_path, str(backup))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "backup of site acme-live: complete; manifest lists 6 objects (12.6 MB); checked 6 by checksum" in (
        result.stdout
    )
    document = summary(verify_backup(deployed, tmp_path, str(backup), "--json").stdout)
    assert (document["ok"], document["objects"], document["by_checksum"], document["size_only"]) == (True, 6, 6, 0)


def test_verify_backup_names_every_missing_and_altered_object(deployed: Deployment, tmp_path: Path) -> None:
    backup = backed_up(deployed, tmp_path, large=True)
    damaged = damage(backup, large=True)
    (backup / "public" / "extra.txt").write_bytes(b"extra")
    result = verify_backup(deployed, tmp_path, str(backup), "--json")
    assert result.exit_code == 1, result.stdout + result.stderr
    document = summary(result.stdout)
    assert named(document["missing"]) == ["private/contracts/terms.pdf"]
    assert named(document["altered"]) == [name for name in damaged if name != "private/contracts/terms.pdf"]
    assert document["ignored"] == ["public/extra.txt"]
    text = verify_backup(deployed, tmp_path, str(backup))
    assert "MISSING: private/contracts/terms.pdf: missing (its manifest records 18 bytes)" in text.stdout
    assert "backup of site acme-live: DAMAGED: 1 missing, 3 altered" in text.stdout


def test_verify_backup_of_a_bucket_backup_compares_the_servers_etags(deployed: Deployment, tmp_path: Path) -> None:
    pushed(deployed, tmp_path)
    assert media(deployed, tmp_path, "backup", "acme-live", "--to", SNAPSHOT, "--key", "operator").exit_code == 0
    assert verify_backup(deployed, tmp_path, SNAPSHOT).exit_code == 0
    deployed.s3().put_object(Bucket=BACKUPS, Key="acme-live/snap/private/contracts/terms.pdf", Body=b"y" * 18)
    result = verify_backup(deployed, tmp_path, SNAPSHOT, "--json")
    assert result.exit_code == 1
    [altered] = summary(result.stdout)["altered"]
    assert altered.startswith("private/contracts/terms.pdf: ETag ")


def test_verify_backup_refuses_a_folder_without_a_manifest_or_of_another_site(
    deployed: Deployment, tmp_path: Path
) -> None:
    half = media_folder(tmp_path / "half")
    result = verify_backup(deployed, tmp_path, str(half))
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .endswith(
            "is not a complete backup (missing, or interrupted before it finished; run the backup again to complete it)"
        )
    )
    backup = backed_up(deployed, tmp_path)
    other = media(deployed, tmp_path, "verify-backup", "acme-stage", "--from", str(backup))
    assert other.exit_code == 2
    assert (
        other.stderr.strip().splitlines()[-1] == f"{backup / MANIFEST_NAME}: a backup of site acme-live, not acme-stage"
    )

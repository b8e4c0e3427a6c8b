"""`storagectl media` end to end on a moto server with IAM enforced (the AWS example stack, real keys).

Each site key may touch only its own two buckets (moto checks the user policies), so a run
that used the wrong key would fail here. Private objects are checked anonymously with plain
HTTP after every run that writes a site.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from storagectl.media import checksum_cache, crt_client, engine, stores
from storagectl.media.checksum_cache import CACHE_NAME
from storagectl.media.checksums import PART_SIZE
from storagectl.media.manifest import MANIFEST_NAME
from storagectl.offline import Evaluation
from tests.support.cli_project import plain
from tests.support.media import (
    LARGE_KEY,
    SMALL_FILES,
    bucket_objects,
    folder_files,
    media_folder,
    summary,
)
from tests.support.media_moto import (
    BACKUPS,
    LIVE,
    STAGE,
    anonymous,
    assert_site_holds,
    deploy_for_media,
    media,
)
from tests.support.moto_verify import Deployment, client, iam_enforced


@pytest.fixture
def deployed(aws_stack: Evaluation, moto_endpoint: str) -> Deployment:
    return deploy_for_media(aws_stack, moto_endpoint)


def test_push_then_pull_round_trips_bytes_and_privacy(deployed: Deployment, tmp_path: Path) -> None:
    folder = media_folder(tmp_path / "media", large=True)
    pushed = media(deployed, tmp_path, "push", "acme-live", str(folder), "--json", "--check", "all")
    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    document = summary(pushed.stdout)
    assert document["copied"] == 6 and document["privacy"] == {
        "checked": 6,
        "listings": 2,
        "failed": [],
        "repaired": [],
    }
    assert "acme-live's own key writes acme-live" in pushed.stderr
    assert_site_holds(deployed, LIVE, large=True)
    head = deployed.s3().head_object(Bucket=LIVE[0], Key="uploads/cat.jpg")
    assert head["ContentType"] == "image/jpeg"
    assert "-2" in deployed.s3().head_object(Bucket=LIVE[1], Key=LARGE_KEY)["ETag"], "uploaded in two parts"

    pulled = media(deployed, tmp_path, "pull", "acme-live", str(tmp_path / "copy"), "--json")
    assert pulled.exit_code == 0, pulled.stderr
    assert folder_files(tmp_path / "copy") == folder_files(folder)
    records = json.loads((tmp_path / "copy" / MANIFEST_NAME).read_text())["objects"]
    assert {(r["kind"], r["key"]) for r in records} == set(folder_files(folder))
    assert next(r for r in records if r["key"] == "uploads/cat.jpg")["meta"]["content_type"] == "image/jpeg"

    # Nothing changed: both directions copy nothing.
    again = media(deployed, tmp_path, "push", "acme-live", str(tmp_path / "copy"), "--json")
    assert (summary(again.stdout)["copied"], summary(again.stdout)["unchanged"]) == (0, 6)
    again = media(deployed, tmp_path, "pull", "acme-live", str(tmp_path / "copy"), "--json")
    assert (summary(again.stdout)["copied"], summary(again.stdout)["unchanged"]) == (0, 6)


def test_backup_then_restore_to_another_site_keeps_metadata_and_privacy(deployed: Deployment, tmp_path: Path) -> None:
    s3 = deployed.s3()
    s3.put_object(
        Bucket=LIVE[1],
        Key="contracts/terms.pdf",
        Body=b"%PDF private",
        ContentType="application/pdf",
        CacheControl="private, max-age=60",
        ContentDisposition="attachment",
        Metadata={"owner": "42"},
        ACL="bucket-owner-full-control",
    )
    s3.put_object(Bucket=LIVE[0], Key="logo.svg", Body=b"<svg/>", ContentType="image/svg+xml", CacheControl="max-age=9")
    backup = tmp_path / "backup"
    done = media(deployed, tmp_path, "backup", "acme-live", "--to", str(backup), "--json")
    assert done.exit_code == 0, done.stderr
    manifest = json.loads((backup / MANIFEST_NAME).read_text())
    terms = next(r for r in manifest["objects"] if r["key"] == "contracts/terms.pdf")
    assert terms["kind"] == "private" and terms["size"] == 12 and terms["md5"] == terms["etag"]
    assert terms["meta"]["cache_control"] == "private, max-age=60" and terms["meta"]["metadata"] == {"owner": "42"}
    assert terms["acl"] is None, "AWS buckets here are owner-enforced: no object ACLs"

    restored = media(deployed, tmp_path, "restore", "acme-live", "--from", str(backup), "--to-site", "acme-stage")
    assert restored.exit_code == 0, restored.stdout + restored.stderr
    assert "acme-stage's own key writes acme-stage" in restored.stderr
    head = s3.head_object(Bucket=STAGE[1], Key="contracts/terms.pdf")
    assert (head["ContentType"], head["CacheControl"], head["ContentDisposition"], head["Metadata"]) == (
        "application/pdf",
        "private, max-age=60",
        "attachment",
        {"owner": "42"},
    )
    assert s3.head_object(Bucket=STAGE[0], Key="logo.svg")["CacheControl"] == "max-age=9"
    assert anonymous(deployed, STAGE[1], "contracts/terms.pdf") == 403
    assert anonymous(deployed, STAGE[0], "logo.svg") == 200


def test_backup_to_a_bucket_and_restore_from_it_server_side(deployed: Deployment, tmp_path: Path) -> None:
    folder = media_folder(tmp_path / "media")
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    target = f"s3://{BACKUPS}/acme-live/2026-12-03"
    done = media(deployed, tmp_path, "backup", "acme-live", "--to", target, "--key", "operator", "--json")
    assert done.exit_code == 0, done.stdout + done.stderr
    assert summary(done.stdout)["mode"].startswith("server-side copy")
    assert summary(done.stdout)["privacy"]["failed"] == [], "nothing in the backup bucket is anonymous-readable"
    stored = bucket_objects(deployed.s3(), BACKUPS)
    assert stored["acme-live/2026-12-03/private/contracts/terms.pdf"] == SMALL_FILES["private"]["contracts/terms.pdf"]
    assert f"acme-live/2026-12-03/{MANIFEST_NAME}" in stored

    restored = media(deployed, tmp_path, "restore", "acme-live", "--from", target, "--to-site", "acme-stage", "--json")
    assert restored.exit_code == 0, restored.stdout + restored.stderr
    assert summary(restored.stdout)["mode"].startswith("streamed"), "the operator reads, the stage's key writes"
    assert_site_holds(deployed, STAGE)


def test_copy_live_to_stage_reads_and_writes_with_each_sites_own_key(deployed: Deployment, tmp_path: Path) -> None:
    assert media(deployed, tmp_path, "push", "acme-live", str(media_folder(tmp_path / "media"))).exit_code == 0
    stage_key = deployed.keys["acme-stage"]
    with iam_enforced(), pytest.raises(ClientError) as refused:
        client("s3", deployed.endpoint, deployed.region, stage_key).get_object(
            Bucket=LIVE[1], Key="contracts/terms.pdf"
        )
    assert refused.value.response["Error"]["Code"] == "AccessDenied", "the stage's key cannot read live media"

    copied = media(deployed, tmp_path, "copy", "acme-live", "--to-site", "acme-stage", "--json")
    assert copied.exit_code == 0, copied.stdout + copied.stderr
    assert "acme-live's own key reads acme-live, acme-stage's own key writes acme-stage" in copied.stderr
    assert summary(copied.stdout)["mode"].startswith("streamed")
    assert_site_holds(deployed, STAGE)


def test_copy_with_the_operator_key_is_server_side_and_deletes_only_at_the_destination(
    deployed: Deployment, tmp_path: Path
) -> None:
    assert media(deployed, tmp_path, "push", "acme-live", str(media_folder(tmp_path / "media"))).exit_code == 0
    deployed.s3().put_object(Bucket=STAGE[1], Key="stale.txt", Body=b"old")
    dry = media(
        deployed,
        tmp_path,
        "copy",
        "acme-live",
        "--to-site",
        "acme-stage",
        "--key",
        "operator",
        "--delete",
        "--dry-run",
        "--json",
    )
    assert dry.exit_code == 0, dry.stderr
    changes = {(c["action"], c["kind"], c["key"]) for c in summary(dry.stdout)["changes"]}
    assert ("delete", "private", "stale.txt") in changes and len(changes) == 6
    assert bucket_objects(deployed.s3(), STAGE[0]) == {}, "a dry run writes nothing"

    done = media(
        deployed, tmp_path, "copy", "acme-live", "--to-site", "acme-stage", "--key", "operator", "--delete", "--json"
    )
    assert done.exit_code == 0, done.stderr
    assert summary(done.stdout)["mode"].startswith("server-side copy") and summary(done.stdout)["deleted"] == 1
    assert_site_holds(deployed, STAGE)
    assert_site_holds(deployed, LIVE)


def test_an_interrupted_push_resumes_without_sending_finished_objects(
    deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = media_folder(tmp_path / "media")
    original = engine.move
    sent: list[str] = []

    def interrupted(source: Any, destination: Any, entry: Any, meta: Any) -> Any:
        if entry.key == "contracts/terms.pdf":
            raise ConnectionError("connection reset")
        sent.append(entry.key)
        return original(source, destination, entry, meta)

    monkeypatch.setattr(engine, "move", interrupted)
    first = media(deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert first.exit_code == 1
    assert summary(first.stdout)["failed"] == ["private/contracts/terms.pdf: ConnectionError: connection reset"]
    assert len(sent) == 4

    sent.clear()

    def counted(source: Any, destination: Any, entry: Any, meta: Any) -> Any:
        sent.append(entry.key)
        return original(source, destination, entry, meta)

    monkeypatch.setattr(engine, "move", counted)
    second = media(deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert second.exit_code == 0, second.stdout
    assert sent == ["contracts/terms.pdf"], "only the object that had not arrived is sent again"
    assert_site_holds(deployed, LIVE)


def test_large_objects_copy_part_by_part_server_side(
    deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storagectl.media import transfer

    monkeypatch.setattr(transfer, "SERVER_COPY_LIMIT", 8 * 1024 * 1024)
    monkeypatch.setattr(transfer, "COPY_PART_SIZE", 5 * 1024 * 1024)
    assert media(deployed, tmp_path, "push", "acme-live", str(media_folder(tmp_path / "m", large=True))).exit_code == 0
    done = media(deployed, tmp_path, "copy", "acme-live", "--to-site", "acme-stage", "--key", "operator", "--json")
    assert done.exit_code == 0, done.stdout
    s3 = deployed.s3()
    copied = s3.get_object(Bucket=STAGE[1], Key=LARGE_KEY)
    assert copied["Body"].read() == (tmp_path / "m" / "private" / LARGE_KEY).read_bytes()
    assert copied["ETag"].strip('"').endswith("-3"), "UploadPartCopy in three 5 MiB ranges"
    assert anonymous(deployed, STAGE[1], LARGE_KEY) == 403


def one_line(result: Any) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1]


def test_refuses_an_unknown_site(deployed: Deployment, tmp_path: Path) -> None:
    result = media(deployed, tmp_path, "pull", "nope", str(tmp_path / "x"))
    assert result.exit_code == 2
    assert "sites.nope: no such site in stack aws-eu-central-1 (sites: acme-live, acme-stage, brochure-live)" in (
        result.stderr
    )
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("command", ["push", "pull"])
def test_refuses_an_unknown_transfer_client_before_writing_anything(
    deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    folder = media_folder(tmp_path / "media") if command == "push" else tmp_path / "pulled"
    monkeypatch.setenv(crt_client.CHOICE_VARIABLE, "fast")
    result = media(deployed, tmp_path, command, "acme-live", str(folder))
    assert result.exit_code == 2
    assert one_line(result).endswith(
        "environment variable STORAGECTL_TRANSFER_CLIENT: 'fast' is not a client; allowed: auto, botocore"
    )
    assert "Traceback" not in result.stderr
    assert bucket_objects(deployed.s3(), LIVE[0]) == {}
    assert command == "push" or not any((folder / "public").glob("**/*"))


@pytest.mark.parametrize(("option", "value"), [("--check", "some"), ("--key", "admin")])
def test_refuses_an_unknown_choice_before_reading_anything(
    deployed: Deployment, tmp_path: Path, option: str, value: str
) -> None:
    folder = media_folder(tmp_path / "media")
    result = media(deployed, tmp_path, "push", "acme-live", str(folder), option, value)
    assert result.exit_code == 2
    assert f"Invalid value for '{option}': Value error, '{value}' is not one of" in plain(result.stderr)
    assert "Traceback" not in result.stderr
    assert bucket_objects(deployed.s3(), LIVE[0]) == {}


def test_refuses_a_missing_or_incomplete_backup(deployed: Deployment, tmp_path: Path) -> None:
    missing = media(deployed, tmp_path, "restore", "acme-live", "--from", str(tmp_path / "none"))
    assert missing.exit_code == 2 and "no such folder" in one_line(missing)
    half = media_folder(tmp_path / "half")  # the halves, but no manifest: interrupted
    incomplete = media(deployed, tmp_path, "restore", "acme-live", "--from", str(half))
    assert incomplete.exit_code == 2
    assert one_line(incomplete).endswith(
        "is not a complete backup (missing, or interrupted before it finished; run the backup again to complete it)"
    )
    assert bucket_objects(deployed.s3(), LIVE[0]) == {}


def test_refuses_a_folder_without_the_halves(deployed: Deployment, tmp_path: Path) -> None:
    folder = tmp_path / "flat"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"cat")
    pushed = media(deployed, tmp_path, "push", "acme-live", str(folder))
    assert pushed.exit_code == 2
    assert one_line(pushed) == (
        f"{folder}: has neither public/ nor private/; a media folder keeps the public bucket's files under "
        "public/ and the private bucket's under private/"
    )
    pulled = media(deployed, tmp_path, "pull", "acme-live", str(folder))
    assert pulled.exit_code == 2 and sorted(p.name for p in folder.iterdir()) == ["cat.jpg"]


def test_refuses_private_files_for_a_site_without_a_private_bucket(deployed: Deployment, tmp_path: Path) -> None:
    result = media(deployed, tmp_path, "push", "brochure-live", str(media_folder(tmp_path / "media")))
    assert result.exit_code == 2
    assert one_line(result) == (
        "site brochure-live: has no private bucket, and " + str(tmp_path / "media") + " holds 2 private objects; "
        "nothing was copied"
    )
    assert bucket_objects(deployed.s3(), "acme-media-brochure-live-public") == {}


def test_refuses_to_overwrite_newer_objects_at_the_destination(deployed: Deployment, tmp_path: Path) -> None:
    folder = media_folder(tmp_path / "media")
    backup = tmp_path / "backup"
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    assert media(deployed, tmp_path, "backup", "acme-live", "--to", str(backup)).exit_code == 0
    time.sleep(1.1)  # S3 listings give LastModified to the second
    deployed.s3().put_object(Bucket=LIVE[1], Key="contracts/terms.pdf", Body=b"edited after the backup")
    refused = media(deployed, tmp_path, "restore", "acme-live", "--from", str(backup))
    assert refused.exit_code == 2
    assert one_line(refused) == (
        "site acme-live: 1 object there differs from " + str(backup) + " and is newer (private/contracts/terms.pdf); "
        "nothing was copied; pass --overwrite-newer to replace it"
    )
    assert deployed.s3().get_object(Bucket=LIVE[1], Key="contracts/terms.pdf")["Body"].read() == (
        b"edited after the backup"
    )
    forced = media(deployed, tmp_path, "restore", "acme-live", "--from", str(backup), "--overwrite-newer")
    assert forced.exit_code == 0, forced.stdout
    assert_site_holds(deployed, LIVE)


def test_on_aws_a_readable_private_object_fails_the_run_and_no_acl_is_set(deployed: Deployment, tmp_path: Path) -> None:
    """On AWS the buckets are owner-enforced: no object ACL grants or withdraws anything, so a private
    object that loads is the bucket's doing and an ACL would repair nothing. (moto accepts the
    public-read ACL below, which AWS would refuse; here it only stands in for such a leak.)"""
    folder = media_folder(tmp_path / "media")
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    deployed.s3().put_object_acl(Bucket=LIVE[1], Key="contracts/terms.pdf", ACL="public-read")
    result = media(deployed, tmp_path, "push", "acme-live", str(folder), "--check", "all", "--json")
    assert result.exit_code == 1
    privacy = summary(result.stdout)["privacy"]
    assert privacy["repaired"] == [] and len(privacy["failed"]) == 1
    assert "contracts/terms.pdf" in privacy["failed"][0] and "READABLE BY ANYONE" in privacy["failed"][0]
    assert anonymous(deployed, LIVE[1], "contracts/terms.pdf") == 200, "the run left the object as it found it"


def test_never_prints_a_key(deployed: Deployment, tmp_path: Path) -> None:
    folder = media_folder(tmp_path / "media")
    results = [
        media(deployed, tmp_path, "push", "acme-live", str(folder), "--json"),
        media(deployed, tmp_path, "copy", "acme-live", "--to-site", "acme-stage", "--dry-run"),
        media(deployed, tmp_path, "pull", "nope", str(tmp_path / "x")),
    ]
    printed = "".join(result.stdout + result.stderr for result in results)
    for secret in deployed.secrets():
        assert secret not in printed


# The checksum cache (storagectl/media/checksum_cache.py): a folder already in step is compared
# without reading its files again, and an edit is still noticed.


def remembered(folder: Path) -> dict[str, list[Any]]:
    files: dict[str, list[Any]] = json.loads((folder / CACHE_NAME).read_text())["files"]
    return files


def counted_reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file whose checksum is computed from its bytes, from now on."""
    reads: list[Path] = []
    original = stores.file_etag

    def counted(path: Path) -> str:
        reads.append(path)
        return original(path)

    monkeypatch.setattr(stores, "file_etag", counted)
    return reads


def pushed(deployment: Deployment, tmp_path: Path, *, large: bool = True) -> Path:
    """The media folder, pushed to acme-live once."""
    folder = media_folder(tmp_path / "media", large=large)
    first = media(deployment, tmp_path, "push", "acme-live", str(folder))
    assert first.exit_code == 0, first.stdout + first.stderr
    return folder


@pytest.fixture
def settled_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Files these tests wrote a moment ago count as settled; the rule itself is tested below.
    monkeypatch.setattr(checksum_cache, "RACY_SECONDS", 0.0)


@pytest.mark.usefixtures("settled_at_once")
def test_a_re_run_reads_no_file_yet_notices_an_edit_that_kept_size_and_mtime(
    deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = pushed(deployed, tmp_path)
    assert set(remembered(folder)) == {f"{kind}/{key}" for kind, key in folder_files(folder)}

    reads = counted_reads(monkeypatch)
    again = media(deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert (summary(again.stdout)["copied"], summary(again.stdout)["unchanged"]) == (0, 6)
    assert reads == [], "every checksum came from the cache"

    # Same length, mtime put back: only the ctime (and the bytes) tell.
    path = folder / "private" / "contracts" / "terms.pdf"
    before = path.stat()
    path.write_bytes(b"%PDF PRIVATE TERMS")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    edited = media(deployed, tmp_path, "push", "acme-live", str(folder), "--json", "--overwrite-newer")
    assert edited.exit_code == 0, edited.stdout + edited.stderr
    # "changed" or "newer at the destination": moto's LastModified has whole seconds.
    assert [c["key"] for c in summary(edited.stdout)["changes"]] == ["contracts/terms.pdf"]
    assert reads == [path], "only the edited file was read again"
    assert deployed.s3().get_object(Bucket=LIVE[1], Key="contracts/terms.pdf")["Body"].read() == b"%PDF PRIVATE TERMS"


@pytest.mark.usefixtures("settled_at_once")
def test_files_a_pull_wrote_are_remembered_so_pushing_them_back_reads_none(
    deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pushed(deployed, tmp_path)
    copy = tmp_path / "copy"
    assert media(deployed, tmp_path, "pull", "acme-live", str(copy)).exit_code == 0
    reads = counted_reads(monkeypatch)
    for command in ("push", "pull"):
        again = media(deployed, tmp_path, command, "acme-live", str(copy), "--json")
        assert (summary(again.stdout)["copied"], summary(again.stdout)["unchanged"]) == (0, 6), command
    assert reads == []


def test_a_no_change_pull_leaves_the_manifest_alone_and_any_difference_rewrites_it(
    deployed: Deployment, tmp_path: Path
) -> None:
    pushed(deployed, tmp_path, large=False)
    copy = tmp_path / "copy"
    assert media(deployed, tmp_path, "pull", "acme-live", str(copy)).exit_code == 0
    path = copy / MANIFEST_NAME
    written, inode = path.read_text(), path.stat().st_ino

    # Nothing changed: the file is not replaced (manifests are written to a temp file, then renamed).
    again = media(deployed, tmp_path, "pull", "acme-live", str(copy), "--json")
    assert summary(again.stdout)["copied"] == 0
    assert (path.read_text(), path.stat().st_ino) == (written, inode)

    # A record lost by hand, every file in place: nothing to copy, and the manifest is whole again.
    document = json.loads(written)
    document["objects"] = [entry for entry in document["objects"] if entry["key"] != "uploads/cat.jpg"]
    path.write_text(json.dumps(document), encoding="utf-8")
    again = media(deployed, tmp_path, "pull", "acme-live", str(copy), "--json")
    assert summary(again.stdout)["copied"] == 0
    assert path.read_text() == written

    # A file gone: copied again, and the manifest (removed while the folder was incomplete) written.
    (copy / "public" / "uploads" / "cat.jpg").unlink()
    again = media(deployed, tmp_path, "pull", "acme-live", str(copy), "--json")
    assert summary(again.stdout)["copied"] == 1
    assert path.read_text() == written


def test_files_changed_just_now_are_not_remembered(deployed: Deployment, tmp_path: Path) -> None:
    # Written a moment ago: a second edit in the same clock tick would keep the stat as it is.
    assert remembered(pushed(deployed, tmp_path, large=False)) == {}


@pytest.mark.usefixtures("settled_at_once")
def test_a_dry_run_writes_no_cache_and_a_broken_one_is_ignored(deployed: Deployment, tmp_path: Path) -> None:
    folder = media_folder(tmp_path / "media")
    assert media(deployed, tmp_path, "push", "acme-live", str(folder), "--dry-run").exit_code == 0
    assert not (folder / CACHE_NAME).exists()
    (folder / CACHE_NAME).write_text('{"version": 1, "part_size": 8388608, "files": {"public/uploads/cat.jpg": 1}}')
    pushed = media(deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert pushed.exit_code == 0 and summary(pushed.stdout)["copied"] == 5
    assert len(remembered(folder)) == 5
    assert_site_holds(deployed, LIVE)


def test_predicted_etags_match_the_servers_at_the_multipart_boundary(deployed: Deployment, tmp_path: Path) -> None:
    folder = tmp_path / "media"
    sizes = {"empty.bin": 0, "one-part.bin": PART_SIZE, "two-parts.bin": PART_SIZE + 1}
    for name, size in sizes.items():
        path = folder / "public" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    etags = {name: deployed.s3().head_object(Bucket=LIVE[0], Key=name)["ETag"].strip('"') for name in sizes}
    assert ["-" in etag for etag in etags.values()] == [False, False, True], etags
    (folder / CACHE_NAME).unlink(missing_ok=True)
    again = media(deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert (summary(again.stdout)["copied"], summary(again.stdout)["unchanged"]) == (0, 3), "ETags computed anew"


def test_a_bucket_that_lists_its_keys_to_anyone_fails_the_run(deployed: Deployment, tmp_path: Path) -> None:
    folder = media_folder(tmp_path / "media")
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    deployed.s3().put_bucket_acl(Bucket=LIVE[1], ACL="public-read")  # READ on a bucket is listing
    result = media(deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert result.exit_code == 1, result.stdout + result.stderr
    privacy = summary(result.stdout)["privacy"]
    assert privacy["listings"] == 2
    assert privacy["failed"] == [
        f"bucket {LIVE[1]}: anonymous listing GET {deployed.endpoint}/{LIVE[1]}/?list-type=2&max-keys=1 answered 200: "
        "ITS KEYS ARE LISTED TO ANYONE"
    ]
    text = media(deployed, tmp_path, "push", "acme-live", str(folder))
    assert f"PRIVACY: bucket {LIVE[1]}: anonymous listing" in text.stdout
    assert "anonymous check: 5 objects, 2 bucket listings, 1 wrong" in text.stdout


def test_a_dry_run_counts_what_it_would_copy_and_delete_in_words_and_exact_bytes(
    deployed: Deployment, tmp_path: Path
) -> None:
    folder = media_folder(tmp_path / "media", large=True)
    deployed.s3().put_object(Bucket=LIVE[1], Key="stale.txt", Body=b"old")
    total = sum(len(body) for body in folder_files(folder).values())
    text = media(deployed, tmp_path, "push", "acme-live", str(folder), "--delete", "--dry-run")
    assert text.exit_code == 0, text.stdout + text.stderr
    assert f"would copy private/{LARGE_KEY} (12.6 MB, new)" in text.stdout
    assert "would delete private/stale.txt (3 bytes, not in the source)" in text.stdout
    assert "would copy 6 objects (12.6 MB), 0 unchanged, would delete 1 object, 0 failed" in text.stdout
    document = summary(
        media(deployed, tmp_path, "push", "acme-live", str(folder), "--delete", "--dry-run", "--json").stdout
    )
    assert (document["dry_run"], document["copied"], document["copied_bytes"], document["deleted"]) == (
        True,
        6,
        total,
        1,
    )
    assert bucket_objects(deployed.s3(), LIVE[1]) == {"stale.txt": b"old"}, "a dry run writes nothing"

    one = tmp_path / "one"
    (one / "public").mkdir(parents=True)
    (one / "public" / "a.txt").write_bytes(b"x")
    single = media(deployed, tmp_path, "push", "acme-live", str(one), "--dry-run")
    assert "would copy 1 object (1 byte), 0 unchanged, would delete 0 objects, 0 failed" in single.stdout


def test_refuses_to_write_a_folder_another_run_is_writing(deployed: Deployment, tmp_path: Path) -> None:
    import fcntl

    assert media(deployed, tmp_path, "push", "acme-live", str(media_folder(tmp_path / "media"))).exit_code == 0
    target = tmp_path / "pulled"
    target.mkdir()
    holder = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)  # as a running pull holds it
        result = media(deployed, tmp_path, "pull", "acme-live", str(target))
    finally:
        os.close(holder)
    assert result.exit_code == 2
    assert one_line(result) == f"{target}: another storagectl media run is writing it; wait for it"
    assert list(target.iterdir()) == []
    assert media(deployed, tmp_path, "pull", "acme-live", str(target)).exit_code == 0, "free once the lock is gone"

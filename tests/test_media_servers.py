"""`storagectl media` on the real S3 servers: Ceph RGW 16.2 and SeaweedFS, each test on both.

The moto tests prove the command's logic; these prove it against real servers' object ACLs,
ETags and metadata handling, where a private object that loads anonymously is a real leak.
Every test works on a custom-endpoint stack of three sites (the stack's one key: `storagectl
media` says so), its key a fresh RGW user's or SeaweedFS's plain user `owner` (not the admin),
its buckets created by the provider code exactly as `storagectl local up` does
(storagectl.provision), its outputs written as that command writes them, and the CLI reads them
with `--outputs`. Anonymous reads are plain urllib GETs. Where the servers answer differently,
the test has one version per server.

RGW (ci/ceph_rgw.py) keeps its data in 1 GiB of memory and frees a deleted object's data only
after its garbage collection (within a minute there, two hours by default), so only the tests
about multipart objects write one, and the smallest: 8 MiB and 5 bytes.
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from typer.testing import Result

from components.generic_s3.connection import Clients, Credentials
from storagectl.local.command import evaluation_with_key
from storagectl.media.checksums import PART_SIZE, file_etag
from storagectl.media.manifest import MANIFEST_NAME, Meta, Record, dumps
from storagectl.media.transfer import OVER_LARGEST
from storagectl.provision import provision
from storagectl.stack_files import read_stack_file
from tests.support.cli_project import copy_project, invoke
from tests.support.generic_servers import GenericStack, S3Server
from tests.support.media import (
    LARGE_KEY,
    SMALL_FILES,
    anonymous_status,
    bucket_objects,
    folder_files,
    media_folder,
    summary,
)
from tests.support.rgw import delete_bucket_and_contents, unique_bucket_name
from tests.support.stacks import write_stack

STACK = "server-media"
LIVE, STAGE, PREVIEW = "shop-live", "shop-stage", "shop-preview"
SITES = (LIVE, STAGE, PREVIEW)
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
SHARED_KEY = "the stack's one key (shared by all its sites)"
"""How every run names the key of a custom-endpoint stack: never a site's "own" key."""
NON_ASCII_KEY = "a b/ü.txt"
EXTRA_META = {
    ("private", "contracts/terms.pdf"): Meta(
        content_type="application/pdf",
        cache_control="private, max-age=60",
        content_disposition="attachment",
        metadata={"owner": "42"},
    ),
    ("public", NON_ASCII_KEY): Meta(
        content_type="text/plain; charset=utf-8",
        cache_control="max-age=9",
        content_language="de",
        metadata={"origin": "upload"},
    ),
}
"""What a pulled folder's manifest could carry beyond the type a file name implies."""
LARGE_BODY = bytes(range(256)) * (PART_SIZE // 256) + b"tail!"
"""Just above the multipart threshold: two parts, the smallest object that is uploaded in parts."""


def expected_meta(kind: str, key: str) -> Meta:
    """EXTRA_META, else the type push guesses from the name (what every copy must then keep)."""
    return EXTRA_META.get((kind, key)) or Meta(content_type=mimetypes.guess_type(key)[0] or "application/octet-stream")


class Key(Protocol):
    """A server's user: RGW's RgwUser, SeaweedFS's User."""

    @property
    def access_key(self) -> str: ...

    @property
    def secret_key(self) -> str: ...


@dataclass(frozen=True)
class MediaServer:
    """A real S3 server, with the stack's key and another key with no part in the stack."""

    kind: str
    """`rgw` or `seaweedfs`: the name tests/support/generic_servers.py knows it by."""
    http_endpoint: str
    client: Callable[..., Any]
    owner: Key
    stranger: Key


@pytest.fixture(scope="module", params=["rgw", "seaweedfs"])
def server(request: pytest.FixtureRequest) -> MediaServer:
    """RGW with two users of this module's own (so its buckets are nobody else's), or SeaweedFS with
    its plain users `owner` and `stranger` (each test's buckets have names of their own)."""
    if request.param == "rgw":
        rgw = request.getfixturevalue("rgw")
        owner, stranger = (rgw.user(f"media-{role}{uuid.uuid4().hex[:10]}") for role in ("", "other-"))
        return MediaServer("rgw", rgw.http_endpoint, rgw.client, owner, stranger)
    seaweedfs = request.getfixturevalue("seaweedfs")
    return MediaServer(
        "seaweedfs", seaweedfs.http_endpoint, seaweedfs.client, seaweedfs.user("owner"), seaweedfs.user("stranger")
    )


@dataclass(frozen=True)
class Deployed:
    server: MediaServer
    stack: GenericStack
    outputs: Path

    @property
    def owner(self) -> Key:
        return self.server.owner

    def s3(self, user: Key | None = None) -> Any:
        key = user or self.owner
        return self.server.client(access_key=key.access_key, secret_key=key.secret_key)

    def bucket(self, site: str, kind: str) -> str:
        return self.stack.bucket(site, kind)

    def anonymous(self, site: str, kind: str, key: str) -> int:
        return anonymous_status(f"{self.server.http_endpoint}/{self.bucket(site, kind)}/{quote(key)}")

    def site_key(self, site: str) -> tuple[str, str]:
        options = json.loads(self.outputs.read_text())["site_settings"][site]["STORAGES"]["private"]["OPTIONS"]
        return options["access_key"], options["secret_key"]


@pytest.fixture
def deployed(server: MediaServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    """The sites' buckets on the server (over http: urllib needs no CA) and the outputs file; buckets removed after."""
    owner = server.owner
    project = copy_project(tmp_path / "project", examples=False)
    stack = GenericStack(
        S3Server(server.kind, server.http_endpoint, owner.access_key, owner.secret_key), project.root / "stacks"
    )
    path = write_stack(project.root / "stacks", stack.values({site: {} for site in SITES}), name=STACK)
    evaluation = evaluation_with_key(read_stack_file(path), Credentials(owner.access_key, owner.secret_key))
    provision(evaluation.resources, Clients(Credentials(owner.access_key, owner.secret_key)))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(evaluation.outputs), encoding="utf-8")
    monkeypatch.chdir(project.root)  # the CLI finds the stack file under the project's Pulumi.yaml
    found = Deployed(server, stack, outputs)
    try:
        yield found
    finally:
        s3 = found.s3()
        for site in SITES:
            for kind in ("public", "private"):
                delete_bucket_and_contents(s3, found.bucket(site, kind))


def media(deployed: Deployed, *args: str) -> Result:
    return invoke("media", *args, "--stack", STACK, "--outputs", str(deployed.outputs))


def ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.stdout + result.stderr
    return summary(result.stdout)


def folder_with_manifest(root: Path, *, large: bool = False) -> Path:
    """The media folder (with LARGE_KEY if `large`) and a manifest as `pull` writes one: push sends its metadata."""
    folder = media_folder(root)
    if large:
        (folder / "private" / LARGE_KEY).parent.mkdir(parents=True)
        (folder / "private" / LARGE_KEY).write_bytes(LARGE_BODY)
    records = []
    for (kind, key), body in folder_files(folder).items():
        acl = "public-read" if kind == "public" else "private"
        records.append(Record(kind, key, len(body), file_etag(folder / kind / key), expected_meta(kind, key), acl))
    (folder / MANIFEST_NAME).write_text(dumps(records, site=LIVE, source="test"), encoding="utf-8")
    return folder


def assert_private_and_public(deployed: Deployed, site: str, folder: Path) -> None:
    """Every private object of `folder` refused anonymously (403), every public one served (200)."""
    for kind, key in folder_files(folder):
        expected = 200 if kind == "public" else 403
        assert deployed.anonymous(site, kind, key) == expected, f"{site} {kind}/{key}"


def assert_meta(deployed: Deployed, site: str, folder: Path) -> None:
    """Each object's Content-Type, Cache-Control, Content-Disposition/Language and user metadata, as stored."""
    s3 = deployed.s3()
    for kind, key in folder_files(folder):
        head = s3.head_object(Bucket=deployed.bucket(site, kind), Key=key)
        assert Meta.from_response(head) == expected_meta(kind, key), f"{site} {kind}/{key}"


def public_grants(deployed: Deployed, site: str, kind: str, key: str) -> list[str]:
    grants = deployed.s3().get_object_acl(Bucket=deployed.bucket(site, kind), Key=key)["Grants"]
    return [grant["Permission"] for grant in grants if grant["Grantee"].get("URI") == ALL_USERS]


def test_push_then_pull_round_trips_bytes_metadata_and_privacy(deployed: Deployed, tmp_path: Path) -> None:
    folder = folder_with_manifest(tmp_path / "media", large=True)
    document = ok(media(deployed, "push", LIVE, str(folder), "--json", "--check", "all"))
    assert document["copied"] == 6 and document["privacy"] == {
        "checked": 6,
        "listings": 2,
        "failed": [],
        "repaired": [],
    }
    assert document["keys"] == f"{SHARED_KEY} writes {LIVE}"
    # The five small files went through the CRT's client; the 8 MiB one in parts through botocore.
    assert document["client"] == {"awscrt": 5, "botocore": 1, "botocore_because": {OVER_LARGEST: 1}}
    s3 = deployed.s3()
    assert bucket_objects(s3, deployed.bucket(LIVE, "public")) == SMALL_FILES["public"]
    assert_meta(deployed, LIVE, folder)
    large = s3.head_object(Bucket=deployed.bucket(LIVE, "private"), Key=LARGE_KEY)
    assert large["ETag"].strip('"') == file_etag(folder / "private" / LARGE_KEY), "the multipart ETag, two parts"
    # The server evaluates the object ACL each upload sent: what a browser would get, from a real server.
    assert_private_and_public(deployed, LIVE, folder)
    assert public_grants(deployed, LIVE, "public", NON_ASCII_KEY) == ["READ"]
    assert public_grants(deployed, LIVE, "private", "contracts/terms.pdf") == []

    copy = tmp_path / "copy"
    pulled = ok(media(deployed, "pull", LIVE, str(copy), "--json"))
    assert pulled["copied"] == 6
    assert pulled["client"] == {"awscrt": 5, "botocore": 1, "botocore_because": {OVER_LARGEST: 1}}
    assert folder_files(copy) == folder_files(folder)
    records = {(r["kind"], r["key"]): r for r in json.loads((copy / MANIFEST_NAME).read_text())["objects"]}
    assert set(records) == set(folder_files(folder))
    for kind, key in records:
        assert Meta(**records[kind, key]["meta"]) == expected_meta(kind, key), (kind, key)
    assert {(kind, r["acl"]) for (kind, _), r in records.items()} == {("public", "public-read"), ("private", "private")}


def test_backup_then_restore_to_another_site_keeps_metadata_and_privacy(deployed: Deployed, tmp_path: Path) -> None:
    folder = folder_with_manifest(tmp_path / "media")
    ok(media(deployed, "push", LIVE, str(folder), "--json"))
    # Another tool made a private object public-read on the source before the backup; the server serves it.
    leaked = "invoices/2026/01.csv"
    deployed.s3().put_object_acl(Bucket=deployed.bucket(LIVE, "private"), Key=leaked, ACL="public-read")
    assert deployed.anonymous(LIVE, "private", leaked) == 200

    backup = tmp_path / "backup"
    backed_up = ok(media(deployed, "backup", LIVE, "--to", str(backup), "--json"))
    assert backed_up["copied"] == 5 and backed_up["keys"] == f"{SHARED_KEY} reads {LIVE}; written to {backup}"
    assert folder_files(backup) == folder_files(folder)

    restored = ok(
        media(deployed, "restore", LIVE, "--from", str(backup), "--to-site", STAGE, "--check", "all", "--json")
    )
    assert restored["copied"] == 5 and restored["privacy"] == {
        "checked": 5,
        "listings": 2,
        "failed": [],
        "repaired": [],
    }
    assert restored["keys"] == f"read from disk; {SHARED_KEY} writes {STAGE}"
    assert_meta(deployed, STAGE, folder)
    assert_private_and_public(deployed, STAGE, folder)
    assert public_grants(deployed, STAGE, "private", leaked) == [], "the half's ACL, not the source object's"
    assert deployed.anonymous(LIVE, "private", leaked) == 200, "nothing is ever written on the source"


def test_restore_into_the_leaking_site_itself_makes_the_leaked_object_private_again(
    deployed: Deployed, tmp_path: Path
) -> None:
    """Restoring over the source site skips a private object another tool made public-read (its bytes
    are unchanged: same size and ETag); the anonymous check on the server finds it and gives its ACL back."""
    folder = media_folder(tmp_path / "media")
    ok(media(deployed, "push", LIVE, str(folder), "--json"))
    backup = tmp_path / "backup"
    ok(media(deployed, "backup", LIVE, "--to", str(backup), "--json"))
    private = deployed.bucket(LIVE, "private")
    deployed.s3().put_object_acl(Bucket=private, Key="contracts/terms.pdf", ACL="public-read")
    assert deployed.anonymous(LIVE, "private", "contracts/terms.pdf") == 200

    document = ok(media(deployed, "restore", LIVE, "--from", str(backup), "--check", "all", "--json"))
    assert (document["copied"], document["unchanged"]) == (0, 5)
    assert document["privacy"]["failed"] == []
    [line] = document["privacy"]["repaired"]
    assert line.startswith("private object contracts/terms.pdf: was readable by anyone; its ACL is private again")
    assert deployed.anonymous(LIVE, "private", "contracts/terms.pdf") == 403
    grants = deployed.s3().get_object_acl(Bucket=private, Key="contracts/terms.pdf")["Grants"]
    assert not [grant for grant in grants if grant["Grantee"].get("URI") == ALL_USERS]


def test_a_bucket_policy_that_publishes_the_private_bucket_fails_the_run(deployed: Deployed, tmp_path: Path) -> None:
    """An object ACL cannot undo a bucket policy: the leak stands, and the run says so and exits 1."""
    folder = media_folder(tmp_path / "media")
    ok(media(deployed, "push", LIVE, str(folder), "--json"))
    private = deployed.bucket(LIVE, "private")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{private}/*"}
        ],
    }
    deployed.s3().put_bucket_policy(Bucket=private, Policy=json.dumps(policy))
    try:
        result = media(deployed, "push", LIVE, str(folder), "--check", "all", "--json")
        assert result.exit_code == 1, result.stdout + result.stderr
        document = summary(result.stdout)
        assert document["privacy"]["repaired"] == []
        assert len(document["privacy"]["failed"]) == len(SMALL_FILES["private"])
        assert all("READABLE BY ANYONE" in line for line in document["privacy"]["failed"])
    finally:
        deployed.s3().delete_bucket_policy(Bucket=private)


def test_a_bucket_that_lists_anonymously_fails_the_run(deployed: Deployed, tmp_path: Path) -> None:
    """The server refuses anonymous listings of a bucket with a private ACL, allows them with public-read."""
    folder = media_folder(tmp_path / "media")
    assert ok(media(deployed, "push", LIVE, str(folder), "--json"))["privacy"]["listings"] == 2
    private = deployed.bucket(LIVE, "private")
    deployed.s3().put_bucket_acl(Bucket=private, ACL="public-read")
    try:
        result = media(deployed, "push", LIVE, str(folder), "--json")
        assert result.exit_code == 1, result.stdout + result.stderr
        [line] = summary(result.stdout)["privacy"]["failed"]
        assert line.startswith(f"bucket {private}: anonymous listing GET ") and "ITS KEYS ARE LISTED TO ANYONE" in line
    finally:
        deployed.s3().put_bucket_acl(Bucket=private, ACL="private")


def test_copy_between_sites_with_the_site_keys(deployed: Deployed, tmp_path: Path) -> None:
    """A custom-endpoint stack has one key for all its sites (site-storage:access_key_id): the provider
    creates no users there, so both sites' outputs carry the same key. `--key site` then means one key
    on one endpoint, which copies server-side, and the stage's key can read the live site's private
    bucket: no isolation between these sites is promised (verify's shared_credential). What the server does
    enforce is per user: a key outside the stack is refused.
    """
    folder = folder_with_manifest(tmp_path / "media")
    ok(media(deployed, "push", LIVE, str(folder), "--json"))
    assert deployed.site_key(STAGE) == deployed.site_key(LIVE) == (deployed.owner.access_key, deployed.owner.secret_key)
    key_id, secret = deployed.site_key(STAGE)
    stage_key = deployed.server.client(access_key=key_id, secret_key=secret)
    terms = {"Bucket": deployed.bucket(LIVE, "private"), "Key": "contracts/terms.pdf"}
    assert stage_key.get_object(**terms)["Body"].read() == SMALL_FILES["private"]["contracts/terms.pdf"]
    with pytest.raises(ClientError) as refused:
        deployed.s3(deployed.server.stranger).get_object(**terms)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"

    copied = ok(media(deployed, "copy", LIVE, "--to-site", STAGE, "--json", "--check", "all"))
    assert copied["keys"] == f"{SHARED_KEY} reads {LIVE}, {SHARED_KEY} writes {STAGE}"
    assert copied["mode"].startswith("server-side copy"), "one key, one endpoint: the server copies the bytes itself"
    assert copied["copied"] == 5 and copied["privacy"] == {"checked": 5, "listings": 2, "failed": [], "repaired": []}
    s3 = deployed.s3()
    for kind in ("public", "private"):
        assert bucket_objects(s3, deployed.bucket(STAGE, kind)) == bucket_objects(s3, deployed.bucket(LIVE, kind))
    assert_meta(deployed, STAGE, folder)
    assert_private_and_public(deployed, STAGE, folder)


def copy_with_the_source_replaced_after_listing(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """`media copy` LIVE to STAGE with contracts/terms.pdf replaced on LIVE between the listing and the
    server-side copy: the run must fail (exit 1) on that object alone; returns its failure line."""
    from storagectl.media import engine

    folder = folder_with_manifest(tmp_path / "media")
    ok(media(deployed, "push", LIVE, str(folder), "--json"))
    terms = {"Bucket": deployed.bucket(LIVE, "private"), "Key": "contracts/terms.pdf"}
    original = engine.compare

    def compare_then_replace(*args: Any, **kwargs: Any) -> Any:
        diff = original(*args, **kwargs)
        deployed.s3().put_object(**terms, Body=b"x" * len(SMALL_FILES["private"]["contracts/terms.pdf"]))
        return diff

    monkeypatch.setattr(engine, "compare", compare_then_replace)
    result = media(deployed, "copy", LIVE, "--to-site", STAGE, "--json")
    assert result.exit_code == 1, result.stdout + result.stderr
    document = summary(result.stdout)
    assert document["mode"].startswith("server-side copy")
    [failure] = document["failed"]
    return str(failure)


@pytest.mark.parametrize("server", ["rgw"], indirect=True)
def test_a_server_side_copy_of_an_object_changed_after_the_listing_fails_by_name_on_rgw(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RGW 16.2 ignores x-amz-copy-source-if-match (S3 answers 412; GetObject's If-Match RGW honours):
    the copy of an object replaced since the listing is caught by its ETag afterwards and fails the run."""
    failure = copy_with_the_source_replaced_after_listing(deployed, tmp_path, monkeypatch)
    assert failure.startswith("private/contracts/terms.pdf: altered since it was listed (ETag ")
    assert "ignoring x-amz-copy-source-if-match; run again to record it" in failure
    stage = bucket_objects(deployed.s3(), deployed.bucket(STAGE, "private"))
    assert stage["contracts/terms.pdf"] == b"x" * 18, "what RGW copied: the object as it is now, not a mix"


@pytest.mark.parametrize("server", ["seaweedfs"], indirect=True)
def test_a_server_side_copy_of_an_object_changed_after_the_listing_is_refused_by_seaweedfs(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SeaweedFS honours x-amz-copy-source-if-match as S3 does (412; RGW 16.2 ignores it): the copy of
    an object replaced since the listing is refused by the server, fails the run by name, and the
    destination gets nothing."""
    failure = copy_with_the_source_replaced_after_listing(deployed, tmp_path, monkeypatch)
    assert failure.startswith("private/contracts/terms.pdf: altered since it was listed (its ETag is no longer ")
    assert failure.endswith("nothing was written for it; run again to copy it as it is now")
    assert "contracts/terms.pdf" not in bucket_objects(deployed.s3(), deployed.bucket(STAGE, "private"))


@pytest.fixture
def backup_bucket(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A bucket of the stack's user, who is also the operator here (the AWS credential chain)."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", deployed.owner.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", deployed.owner.secret_key)
    name = unique_bucket_name("media-backups")
    deployed.s3().create_bucket(Bucket=name)
    try:
        yield name
    finally:
        delete_bucket_and_contents(deployed.s3(), name)


BACKUP_PREFIX = f"{LIVE}/2026-12-03"


def backup_to_bucket(deployed: Deployed, bucket: str, folder: Path) -> dict[str, Any]:
    """Push `folder` to the live site, then back the site up into `bucket` with the site key; the backup's summary."""
    ok(media(deployed, "push", LIVE, str(folder), "--json"))
    return ok(media(deployed, "backup", LIVE, "--to", f"s3://{bucket}/{BACKUP_PREFIX}", "--check", "all", "--json"))


def bucket_manifest(deployed: Deployed, bucket: str) -> dict[tuple[str, str], dict[str, Any]]:
    text = deployed.s3().get_object(Bucket=bucket, Key=f"{BACKUP_PREFIX}/{MANIFEST_NAME}")["Body"].read()
    return {(r["kind"], r["key"]): r for r in json.loads(text)["objects"]}


def test_backup_to_a_bucket_is_private_and_restores_to_another_site(
    deployed: Deployed, backup_bucket: str, tmp_path: Path
) -> None:
    folder = folder_with_manifest(tmp_path / "media")
    backed_up = backup_to_bucket(deployed, backup_bucket, folder)
    assert backed_up["keys"] == f"{SHARED_KEY} reads {LIVE}; the operator's credentials write the backup bucket"
    assert backed_up["mode"].startswith("streamed"), "the site key reads, the operator writes"
    # Both halves land with the backup bucket's default ACL: the server refuses even the public half anonymously.
    assert backed_up["privacy"] == {"checked": 5, "listings": 1, "failed": [], "repaired": []}
    stored = f"{deployed.server.http_endpoint}/{backup_bucket}/{BACKUP_PREFIX}"
    assert anonymous_status(f"{stored}/public/uploads/cat.jpg") == 403
    assert anonymous_status(f"{stored}/{MANIFEST_NAME}") == 403
    records = bucket_manifest(deployed, backup_bucket)
    assert set(records) == set(folder_files(folder))
    for kind, key in records:
        assert Meta(**records[kind, key]["meta"]) == expected_meta(kind, key), (kind, key)

    target = f"s3://{backup_bucket}/{BACKUP_PREFIX}"
    restored = ok(media(deployed, "restore", LIVE, "--from", target, "--to-site", STAGE, "--check", "all", "--json"))
    assert restored["keys"] == f"the operator's credentials read the backup; {SHARED_KEY} writes {STAGE}"
    assert restored["copied"] == 5 and restored["privacy"] == {
        "checked": 5,
        "listings": 2,
        "failed": [],
        "repaired": [],
    }
    assert bucket_objects(deployed.s3(), deployed.bucket(STAGE, "private")) == SMALL_FILES["private"]
    assert_meta(deployed, STAGE, folder)
    assert_private_and_public(deployed, STAGE, folder)


def test_a_bucket_backups_manifest_names_each_large_objects_etag(
    deployed: Deployed, backup_bucket: str, tmp_path: Path
) -> None:
    # The manifest names the object's real ETag: RGW 16.2 answers CompleteMultipartUpload with an
    # empty <ETag/> (Red Hat bug 2266579; transfer.py asks with a HEAD), SeaweedFS as S3 does.
    backup_to_bucket(deployed, backup_bucket, folder_with_manifest(tmp_path / "media", large=True))
    stored = deployed.s3().head_object(Bucket=backup_bucket, Key=f"{BACKUP_PREFIX}/private/{LARGE_KEY}")
    assert bucket_manifest(deployed, backup_bucket)[("private", LARGE_KEY)]["etag"] == stored["ETag"].strip('"')


def test_running_every_command_again_copies_nothing(deployed: Deployed, tmp_path: Path) -> None:
    """The multipart object included: its ETag from the server must compare equal to the one computed locally."""
    folder = folder_with_manifest(tmp_path / "media", large=True)
    backup, pulled = tmp_path / "backup", tmp_path / "pulled"
    runs = {
        "push": ("push", LIVE, str(folder)),
        "pull": ("pull", LIVE, str(pulled)),
        "backup": ("backup", LIVE, "--to", str(backup)),
        "restore": ("restore", LIVE, "--from", str(backup), "--to-site", STAGE),
        "copy": ("copy", LIVE, "--to-site", PREVIEW),
    }
    for command, args in runs.items():
        assert ok(media(deployed, *args, "--json"))["copied"] == 6, command
    # Both servers' CopyObject keeps a multipart source's ETag (S3 and moto give a new single-part one;
    # tests/test_seaweedfs_server.py): the
    # copy's re-run then compares ETags, not modification times.
    s3 = deployed.s3()
    etags = {site: s3.head_object(Bucket=deployed.bucket(site, "private"), Key=LARGE_KEY)["ETag"] for site in SITES}
    assert len(set(etags.values())) == 1 and etags[LIVE].strip('"').endswith("-2"), etags
    for command, args in runs.items():
        again = ok(media(deployed, *args, "--json"))
        assert (again["copied"], again["unchanged"], again["failed"]) == (0, 6, []), command
    assert (backup / MANIFEST_NAME).is_file() and (pulled / MANIFEST_NAME).is_file(), "an unchanged run keeps it"

"""Backup sets on Ceph RGW 16.2: a custom-endpoint stack with site-storage:backups, provisioned on RGW.

As in tests/test_media_servers.py: the stack's key is a fresh RGW user's, its buckets (the backup
bucket too) are created by the provider code, and the CLI reads the outputs with --outputs. On a
custom endpoint there is no IAM to create a backup writer: the stack's own key writes backups,
given as the operator's credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), and the sites share
that key, so here "site keys are refused" means: a key from outside the stack is refused, and
anonymous requests are.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner, Result

from ci.ceph_rgw import RgwUser
from components.generic_s3.connection import Clients, Credentials
from storagectl.cli import app
from storagectl.local.command import evaluation_with_key
from storagectl.media import backup_sets
from storagectl.provision import provision
from storagectl.stack_files import read_stack_file
from tests.support.backups import counted_requests
from tests.support.cli_project import copy_project
from tests.support.generic_servers import GenericStack, S3Server
from tests.support.media import anonymous_status, bucket_objects
from tests.support.rgw import Rgw, delete_bucket_and_contents
from tests.support.stacks import write_stack

STACK = "rgw-backups"
LIVE, STAGE = "shop-live", "shop-stage"
DAY1 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
FIRST = {
    ("public", "uploads/cat.jpg"): b"\xff\xd8 a cat",
    ("private", "contracts/terms.pdf"): b"%PDF terms, first version",
    ("private", "invoices/01.csv"): b"id,total\n1,2\n",
}


@pytest.fixture(scope="module")
def owner(rgw: Rgw) -> RgwUser:
    return rgw.user(f"backups-{uuid.uuid4().hex[:10]}")


@dataclass(frozen=True)
class World:
    rgw: Rgw
    owner: RgwUser
    stack: GenericStack
    outputs: Path

    def s3(self, user: RgwUser | None = None) -> Any:
        key = user or self.owner
        return self.rgw.client(access_key=key.access_key, secret_key=key.secret_key)

    @property
    def backup_bucket(self) -> str:
        return f"{self.stack.prefix}-backups"

    def media(self, *args: str, at: datetime | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> Result:
        if at is not None:
            assert monkeypatch is not None
            monkeypatch.setattr(backup_sets, "clock", lambda: at)
        env = {"AWS_ACCESS_KEY_ID": self.owner.access_key, "AWS_SECRET_ACCESS_KEY": self.owner.secret_key}
        command = ["media", *args, "--stack", STACK, "--outputs", str(self.outputs)]
        return CliRunner().invoke(app, command, env={**env, "AWS_PROFILE": None})


@pytest.fixture
def world(rgw: Rgw, owner: RgwUser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    server = S3Server("rgw", rgw.http_endpoint, owner.access_key, owner.secret_key)
    project = copy_project(tmp_path / "project", examples=False)
    stack = GenericStack(server, project.root / "stacks")
    values = stack.values({LIVE: {}, STAGE: {}}, backups={"retention": {"daily": 2, "weekly": 1, "monthly": 1}})
    path = write_stack(project.root / "stacks", values, name=STACK)
    evaluation = evaluation_with_key(read_stack_file(path), Credentials(owner.access_key, owner.secret_key))
    provision(evaluation.resources, Clients(Credentials(owner.access_key, owner.secret_key)))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(evaluation.outputs), encoding="utf-8")
    monkeypatch.chdir(project.root)
    found = World(rgw, owner, stack, outputs)
    try:
        yield found
    finally:
        s3 = found.s3()
        for bucket in [
            found.backup_bucket,
            *(stack.bucket(site, kind) for site in (LIVE, STAGE) for kind in ("public", "private")),
        ]:
            delete_bucket_and_contents(s3, bucket)


def ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.stdout + result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def put(world: World, kind: str, key: str, body: bytes) -> None:
    acl = "public-read" if kind == "public" else "private"
    world.s3().put_object(Bucket=world.stack.bucket(LIVE, kind), Key=key, Body=body, ACL=acl)


def test_sets_on_three_dates_restore_an_older_one_privately_and_prune(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    for (kind, key), body in FIRST.items():
        put(world, kind, key, body)
    first = ok(world.media("backup", LIVE, "--json", at=DAY1, monkeypatch=monkeypatch))["sets"][0]
    assert (first["complete"], first["new_objects"], first["privacy"]["failed"]) == (True, 3, [])
    put(world, "private", "contracts/terms.pdf", b"%PDF terms, second version")
    with counted_requests() as requests:
        second = ok(world.media("backup", LIVE, "--json", at=DAY1 + timedelta(days=1), monkeypatch=monkeypatch))
    assert (second["sets"][0]["new_objects"], second["sets"][0]["new_bytes"]) == (1, len(b"%PDF terms, second version"))
    assert requests["CopyObject"] == 1, "the one changed object, copied by RGW itself"
    put(world, "public", "uploads/dog.jpg", b"\xff\xd8 a dog")
    ok(world.media("backup", LIVE, "--json", at=DAY1 + timedelta(days=2), monkeypatch=monkeypatch))
    listed = ok(world.media("backups", LIVE, "--json"))["sets"]
    assert [(row["objects"], row["new_objects"]) for row in listed] == [(3, 3), (3, 1), (4, 1)]

    restored = ok(
        world.media("restore", LIVE, "--from", "20261201T020000Z", "--to-site", STAGE, "--json", "--check", "all")
    )
    assert restored["copied"] == 3 and restored["privacy"]["failed"] == [] and restored["privacy"]["checked"] == 3
    s3 = world.s3()
    assert (
        bucket_objects(s3, world.stack.bucket(STAGE, "private"))["contracts/terms.pdf"] == b"%PDF terms, first version"
    )
    endpoint = world.rgw.http_endpoint
    assert anonymous_status(f"{endpoint}/{world.stack.bucket(STAGE, 'private')}/contracts/terms.pdf") == 403
    assert anonymous_status(f"{endpoint}/{world.stack.bucket(STAGE, 'public')}/uploads/cat.jpg") == 200

    # daily 2, weekly 1, monthly 1 over Dec 1-3 (Tue-Thu): Dec 2 and 3 stay, Dec 1 goes with its old terms.pdf.
    pruned = ok(world.media("prune", "--json", at=DAY1 + timedelta(days=2, hours=1), monkeypatch=monkeypatch))
    [site] = [item for item in pruned["sites"] if item["site"] == LIVE]
    assert site["removed"] == ["20261201T020000Z"] and site["objects_deleted"] == 1
    for name in site["kept"]:
        assert ok(world.media("verify-backup", LIVE, "--from", name, "--json"))["ok"]


def test_the_backup_bucket_refuses_anonymous_requests_and_keys_from_outside_the_stack(
    world: World, rgw: Rgw, monkeypatch: pytest.MonkeyPatch
) -> None:
    put(world, "private", "contracts/terms.pdf", b"%PDF terms")
    ok(world.media("backup", LIVE, "--json", at=DAY1, monkeypatch=monkeypatch))
    blob = world.s3().list_objects_v2(Bucket=world.backup_bucket, Prefix=f"{LIVE}/blobs/")["Contents"][0]["Key"]
    endpoint = world.rgw.http_endpoint
    assert anonymous_status(f"{endpoint}/{world.backup_bucket}/{blob}") == 403
    assert anonymous_status(f"{endpoint}/{world.backup_bucket}?list-type=2") == 403
    stranger = world.s3(rgw.user(f"backups-other-{uuid.uuid4().hex[:10]}"))
    for operation, arguments in (("list_objects_v2", {}), ("get_object", {"Key": blob})):
        with pytest.raises(ClientError) as refused:
            getattr(stranger, operation)(Bucket=world.backup_bucket, **arguments)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"

"""`storagectl media` on a canned-ACL region: the `local` stack (custom endpoint) after `storagectl local up`.

There, privacy is per object: public objects need `public-read`, and an object copied without
an ACL, or with the source's public one, would be exactly the platform bug this command
exists to avoid. moto evaluates object ACLs for anonymous GETs like S3 does.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import boto3
import pytest

from storagectl.media.manifest import MANIFEST_NAME
from tests.support.cli_project import Project, invoke
from tests.support.local_project import local_project
from tests.support.media import SMALL_FILES, anonymous_status, media_folder, summary

PUBLIC, PRIVATE = "local-media-demo-public", "local-media-demo-private"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture
def local_stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Project, str]]:
    with local_project(tmp_path / "project", monkeypatch) as (project, endpoint):
        assert invoke("local", "up", "--stack", "local").exit_code == 0
        yield project, endpoint


def public_grants(s3: object, bucket: str, key: str) -> list[str]:
    grants = s3.get_object_acl(Bucket=bucket, Key=key)["Grants"]  # type: ignore[attr-defined]
    return [grant["Permission"] for grant in grants if grant["Grantee"].get("URI") == ALL_USERS]


def test_restore_on_a_canned_acl_region_sends_private_and_public_read(local_stack, tmp_path: Path) -> None:
    _, endpoint = local_stack
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    folder = media_folder(tmp_path / "media")
    pushed = invoke("media", "push", "demo", str(folder), "--stack", "local", "--check", "all", "--json")
    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    assert "reading the outputs `storagectl local up --stack local` wrote: .local/outputs-local.json" in pushed.stderr
    backup = tmp_path / "backup"
    assert invoke("media", "backup", "demo", "--stack", "local", "--to", str(backup)).exit_code == 0
    acls = {(r["kind"], r["acl"]) for r in json.loads((backup / MANIFEST_NAME).read_text())["objects"]}
    assert acls == {("public", "public-read"), ("private", "private")}, "the manifest names each object's ACL"

    # Another tool made a private file public since; the restore puts it back private.
    time.sleep(1.1)
    s3.put_object(Bucket=PRIVATE, Key="contracts/terms.pdf", Body=b"leaked", ACL="public-read")
    assert anonymous_status(f"{endpoint}/{PRIVATE}/contracts/terms.pdf") == 200
    restored = invoke(
        "media",
        "restore",
        "demo",
        "--from",
        str(backup),
        "--stack",
        "local",
        "--overwrite-newer",
        "--check",
        "all",
        "--json",
    )
    assert restored.exit_code == 0, restored.stdout + restored.stderr
    assert summary(restored.stdout)["privacy"] == {"checked": 5, "listings": 2, "failed": [], "repaired": []}
    for key, body in SMALL_FILES["private"].items():
        assert s3.get_object(Bucket=PRIVATE, Key=key)["Body"].read() == body
        assert public_grants(s3, PRIVATE, key) == []
        assert anonymous_status(f"{endpoint}/{PRIVATE}/{quote(key)}") == 403
    for key in SMALL_FILES["public"]:
        assert public_grants(s3, PUBLIC, key) == ["READ"]
        assert anonymous_status(f"{endpoint}/{PUBLIC}/{quote(key)}") == 200


def test_a_private_object_another_tool_made_public_is_made_private_again(local_stack, tmp_path: Path) -> None:
    """Its bytes are unchanged, so it is not copied; the anonymous check finds it and gives its ACL back."""
    _, endpoint = local_stack
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    folder = media_folder(tmp_path / "media")
    assert invoke("media", "push", "demo", str(folder), "--stack", "local").exit_code == 0
    s3.put_object_acl(Bucket=PRIVATE, Key="contracts/terms.pdf", ACL="public-read")  # changed behind our back
    assert anonymous_status(f"{endpoint}/{PRIVATE}/contracts/terms.pdf") == 200
    result = invoke("media", "push", "demo", str(folder), "--stack", "local", "--check", "all")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (
        "REPAIRED: private object contracts/terms.pdf: was readable by anyone; its ACL is private again and an "
        "anonymous GET is refused" in result.stdout
    )
    assert "copied 0 objects" in result.stdout and "0 wrong, 1 repaired" in result.stdout
    assert anonymous_status(f"{endpoint}/{PRIVATE}/contracts/terms.pdf") == 403
    assert public_grants(s3, PRIVATE, "contracts/terms.pdf") == []


def test_the_local_server_refuses_anonymous_listings_and_a_bucket_that_lists_fails_the_run(
    local_stack, tmp_path: Path
) -> None:
    """moto lists any bucket to anyone; the server `local up` starts refuses it as S3 does (local/moto_gaps.py)."""
    _, endpoint = local_stack
    folder = media_folder(tmp_path / "media")
    pushed = invoke("media", "push", "demo", str(folder), "--stack", "local", "--json")
    assert pushed.exit_code == 0, pushed.stdout + pushed.stderr
    assert summary(pushed.stdout)["privacy"]["listings"] == 2
    assert anonymous_status(f"{endpoint}/{PRIVATE}?list-type=2") == 403
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").put_bucket_acl(Bucket=PRIVATE, ACL="public-read")
    assert anonymous_status(f"{endpoint}/{PRIVATE}?list-type=2") == 200
    result = invoke("media", "push", "demo", str(folder), "--stack", "local")
    assert result.exit_code == 1
    assert (
        f"PRIVACY: bucket {PRIVATE}: anonymous listing GET {endpoint}/{PRIVATE}/?list-type=2&max-keys=1 answered 200"
        in (result.stdout)
    )

"""`storagectl verify` on Ceph RGW 16.2, where anonymous access is real, not stood in for.

moto lists a bucket to an unsigned GET whatever its ACL (tests/test_local_stack.py); RGW
evaluates the bucket ACL as S3 does. A custom-endpoint stack is provisioned on RGW by the
provider code exactly as `storagectl local up` does (storagectl.provision), with a fresh RGW
user's key, and verify reads its outputs with `--outputs`. Its sites share that key
(`site_credentials: shared`), so isolation is n/a here; tests/test_verify_moto.py covers it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import Result

from ci.ceph_rgw import RgwUser
from components.generic_s3.connection import Clients, Credentials
from storagectl.local.command import evaluation_with_key
from storagectl.provision import provision
from storagectl.stack_files import read_stack_file
from tests.support.cli_project import copy_project, invoke
from tests.support.generic_servers import GenericStack, S3Server
from tests.support.rgw import Rgw, delete_bucket_and_contents
from tests.support.stacks import write_stack

STACK = "rgw-verify"
SITE = "shop-live"
ORIGIN = "https://shop.example"


@pytest.fixture(scope="module")
def owner(rgw: Rgw) -> RgwUser:
    """The stack's key: an RGW user of this module's own, so its buckets are nobody else's."""
    return rgw.user(f"verify-{uuid.uuid4().hex[:10]}")


@dataclass(frozen=True)
class Deployed:
    rgw: Rgw
    owner: RgwUser
    stack: GenericStack
    outputs: Path

    def s3(self) -> Any:
        return self.rgw.client(access_key=self.owner.access_key, secret_key=self.owner.secret_key)

    def bucket(self, kind: str) -> str:
        return self.stack.bucket(SITE, kind)


@pytest.fixture
def deployed(rgw: Rgw, owner: RgwUser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    server = S3Server("rgw", rgw.http_endpoint, owner.access_key, owner.secret_key)
    project = copy_project(tmp_path / "project", examples=False)
    stack = GenericStack(server, project.root / "stacks")
    path = write_stack(project.root / "stacks", stack.values({SITE: {"cors": {"origins": [ORIGIN]}}}), name=STACK)
    credentials = Credentials(owner.access_key, owner.secret_key)
    evaluation = evaluation_with_key(read_stack_file(path), credentials)
    provision(evaluation.resources, Clients(credentials))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(evaluation.outputs), encoding="utf-8")
    monkeypatch.chdir(project.root)  # the CLI finds the stack file under the project's Pulumi.yaml
    found = Deployed(rgw, owner, stack, outputs)
    try:
        yield found
    finally:
        s3 = found.s3()
        for kind in ("public", "private"):
            assert s3.list_objects_v2(Bucket=found.bucket(kind)).get("KeyCount", 0) == 0, "verify left a probe"
            delete_bucket_and_contents(s3, found.bucket(kind))


def verify(deployed: Deployed) -> Result:
    endpoint = deployed.rgw.http_endpoint
    return invoke("verify", "--stack", STACK, "--outputs", str(deployed.outputs), "--endpoint-url", endpoint, "--json")


def records(result: Result) -> dict[str, tuple[str, str]]:
    return {r["check"]: (r["status"], r["reason"]) for r in json.loads(result.stdout)["results"]}


def test_every_check_passes_on_rgw_and_both_buckets_refuse_an_anonymous_listing(deployed: Deployed) -> None:
    result = verify(deployed)
    assert result.exit_code == 0, result.stdout + result.stderr
    found = records(result)
    assert {check for check, (status, _) in found.items() if status not in ("pass", "n/a")} == set()
    for kind in ("public", "private"):
        url = f"{deployed.rgw.http_endpoint}/{deployed.bucket(kind)}/"
        assert found[f"{kind}.anonymous-list"] == ("pass", f"anonymous listing GET {url} was refused (HTTP 403)")
    assert found["cors"][0] == "pass"


@pytest.mark.parametrize("kind", ["public", "private"])
def test_a_bucket_acl_granting_everyone_read_fails_the_anonymous_list_check(deployed: Deployed, kind: str) -> None:
    """Another tool set the bucket's ACL to public-read: RGW lists it to anyone, and verify fails that one check."""
    deployed.s3().put_bucket_acl(Bucket=deployed.bucket(kind), ACL="public-read")
    result = verify(deployed)
    assert result.exit_code == 1
    found = records(result)
    assert {check: status for check, (status, _) in found.items() if status not in ("pass", "n/a")} == {
        f"{kind}.anonymous-list": "fail"
    }
    url = f"{deployed.rgw.http_endpoint}/{deployed.bucket(kind)}/"
    assert found[f"{kind}.anonymous-list"][1] == (
        f"anonymous GET {url} listed the bucket (HTTP 200, 0 object names on the first page): anyone can list it; "
        "its bucket ACL grants everyone READ: set it to private"
    )

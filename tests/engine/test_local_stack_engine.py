"""The `local` example stack run by the real engine against a moto server.

What only the engine decides: the policy pack as the engine runs it, the dynamic provider loaded
from the state and configured with the stack's (encrypted) key, and the plan of a second run.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.support.engine import EngineProject, EngineStack
from tests.support.engine_state import offline_resources, registered_resources
from tests.support.stacks import example_stack

LOCAL_TEXT = example_stack("local").read_text(encoding="utf-8")
BUCKETS = ("local-media-demo-public", "local-media-demo-private")
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture
def local(new_stack: Callable[..., EngineStack], fresh_moto_server: str) -> EngineStack:
    """The local example stack, its endpoint moved to this module's moto server (wiped per test)."""
    return new_stack(LOCAL_TEXT.replace("http://127.0.0.1:5000", fresh_moto_server))


def s3(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def server_view(client: Any) -> dict[str, Any]:
    """Every bucket's ACL grants and CORS rules as the server answers them."""
    view: dict[str, Any] = {}
    for bucket in sorted(b["Name"] for b in client.list_buckets()["Buckets"]):
        grants = client.get_bucket_acl(Bucket=bucket)["Grants"]
        try:
            cors = client.get_bucket_cors(Bucket=bucket)["CORSRules"]
        except client.exceptions.ClientError:
            cors = None
        view[bucket] = {"grants": sorted(json.dumps(g, sort_keys=True) for g in grants), "cors": cors}
    return view


def test_policy_pack_passes_on_the_local_stack_under_the_engine(local: EngineStack) -> None:
    # Before policy/stack_config.py the engine-run pack saw no stack config and refused this stack
    # (protection required, AWS controls expected, the runserver origin refused).
    result = local.pulumi("preview", "--policy-pack", "policy", check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "site-storage-guardrails" in result.stdout
    assert "mandatory" not in result.stdout


def test_up_creates_what_the_stack_declares_and_a_second_plan_changes_nothing(
    local: EngineStack, fresh_moto_server: str
) -> None:
    result = local.up()
    assert result.summary.resource_changes == {"create": 5}
    client = s3(fresh_moto_server)
    view = server_view(client)
    assert sorted(view) == sorted(BUCKETS)
    for bucket in BUCKETS:
        assert not any(ALL_USERS in grant for grant in view[bucket]["grants"]), bucket
    assert view["local-media-demo-public"]["cors"] == [
        {
            "AllowedHeaders": ["*"],
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedOrigins": ["https://localhost:8000", "http://localhost:8000"],
            "MaxAgeSeconds": 3600,
        }
    ]
    assert view["local-media-demo-private"]["cors"] is None
    assert local.preview().change_summary == {"same": 5}
    assert local.refresh().summary.resource_changes == {"same": 5}


def test_offline_preview_registers_exactly_what_the_engine_does(local: EngineStack) -> None:
    offline = offline_resources(local.storagectl("preview", "--stack", local.name, "--json").stdout)
    local.up()
    assert registered_resources(local.state()) == offline


def test_local_up_then_pulumi_up_changes_nothing_on_the_server(local: EngineStack, fresh_moto_server: str) -> None:
    """The engine-less driver (storagectl local up) and the engine leave the same buckets, ACLs and CORS."""
    local.storagectl("local", "up", "--stack", local.name)
    client = s3(fresh_moto_server)
    by_driver = server_view(client)
    result = local.up()  # no state yet: the provider adopts the buckets the driver made
    assert result.summary.resource_changes == {"create": 5}
    assert server_view(client) == by_driver
    assert local.preview().change_summary == {"same": 5}


def test_pulumi_up_then_local_up_changes_nothing(local: EngineStack, fresh_moto_server: str) -> None:
    local.up()
    client = s3(fresh_moto_server)
    by_engine = server_view(client)
    again = local.storagectl("local", "up", "--stack", local.name)
    assert "0 of 3 resources created or updated" in again.stderr
    assert server_view(client) == by_engine


def test_an_existing_bucket_with_media_is_adopted_untouched(local: EngineStack, fresh_moto_server: str) -> None:
    client = s3(fresh_moto_server)
    client.create_bucket(Bucket="local-media-demo-public")
    client.put_object(Bucket="local-media-demo-public", Key="uploads/kept.jpg", Body=b"media bytes")
    local.up()
    kept = client.get_object(Bucket="local-media-demo-public", Key="uploads/kept.jpg")
    assert kept["Body"].read() == b"media bytes"
    assert sorted(b["Name"] for b in client.list_buckets()["Buckets"]) == sorted(BUCKETS)


def test_engine_refuses_a_program_that_breaks_a_policy(engine: EngineProject, tmp_path: Path) -> None:
    """A stand-in program whose bucket is not protected on a protected stack: the engine-run pack stops it."""
    from tests.support.engine_programs import unprotected_bucket_project

    project = unprotected_bucket_project(tmp_path / "bad", engine)
    result = project.pulumi("preview", "--policy-pack", str(engine.root / "policy"), check=False)
    assert result.returncode != 0
    assert "buckets-protected" in result.stdout
    assert "the bucket is not protected although site-storage:protect is true" in result.stdout


def test_a_stack_without_config_is_refused_by_the_program_in_one_line_per_problem(
    new_stack: Callable[..., EngineStack],
) -> None:
    """The engine sends no config at all; the language host hands the program an empty one."""
    empty = new_stack("{}\n")
    result = empty.pulumi("preview", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert f"error: stacks/Pulumi.{empty.name}.yaml: region: is required; use aws-<aws region>" in output
    assert "problem(s) in the stack configuration" in output

"""`storagectl verify` against a faulty network: the fault proxy (tests/support/fault_proxy.py) in front of moto.

The AWS example stack on moto with IAM enforced, verify run through the CLI with the proxy as
its endpoint. Every fault ends in one-line reasons that name the server and what happened
(no traceback); and whatever is lost on the way, no probe object or multipart upload stays on
the server unless a reason names it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from storagectl.cli import app
from storagectl.offline import Evaluation
from storagectl.verify import clients
from storagectl.verify.checks import PROBE_PREFIX
from tests.support.fault_proxy import FaultProxy, Request, Reset, Stall, Status, fraction
from tests.support.moto_verify import Deployment, deploy, iam_enforced, reset_moto

STACK = "aws-eu-central-1"
LIVE_PUBLIC = "acme-media-acme-live-public"
STAGE_PRIVATE = "acme-media-acme-stage-private"


@pytest.fixture
def deployed(aws_stack: Evaluation, moto_endpoint: str) -> Deployment:
    reset_moto(moto_endpoint)
    return deploy(aws_stack, moto_endpoint)


@pytest.fixture
def proxy(deployed: Deployment) -> Iterator[FaultProxy]:
    with FaultProxy(deployed.endpoint) as running:
        yield running


def verify(deployment: Deployment, tmp_path: Path, endpoint: str, *sites: str) -> Any:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(deployment.outputs()), encoding="utf-8")
    operator = deployment.operator
    env = {"AWS_ACCESS_KEY_ID": operator.key_id, "AWS_SECRET_ACCESS_KEY": operator.secret, "AWS_PROFILE": None}
    command = ["verify", *sites, "--stack", STACK, "--outputs", str(outputs), "--endpoint-url", endpoint, "--json"]
    with iam_enforced():
        result = CliRunner().invoke(app, command, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout + result.stderr
    return result


def records(result: Any) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["site"], r["check"]): r for r in json.loads(result.stdout)["results"]}


def left_on_the_server(deployment: Deployment) -> list[str]:
    """Probe objects and multipart uploads under the probe prefix, in every bucket."""
    s3 = deployment.s3()
    left = deployment.leftover_probes()
    for bucket in s3.list_buckets()["Buckets"]:
        uploads = s3.list_multipart_uploads(Bucket=bucket["Name"], Prefix=PROBE_PREFIX).get("Uploads", [])
        left += [f"{bucket['Name']}/{upload['Key']} (upload)" for upload in uploads]
    return left


def remove_named(deployment: Deployment) -> None:
    """Clean up what a test made verify leave (and name), so the next test starts from nothing."""
    s3 = deployment.s3()
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        for item in s3.list_objects_v2(Bucket=name, Prefix=PROBE_PREFIX).get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
        for upload in s3.list_multipart_uploads(Bucket=name, Prefix=PROBE_PREFIX).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])


@pytest.fixture
def no_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(clients, "TOTAL_ATTEMPTS", 1)


@pytest.mark.usefixtures("no_retries")
def test_with_nothing_listening_every_reason_is_one_line_naming_the_endpoint(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    proxy.refuse()
    result = verify(deployed, tmp_path, proxy.url)
    assert result.exit_code == 1
    found = records(result)
    refused = f"cannot connect to {proxy.url}: connection refused (is the server running, is the endpoint right?)"
    assert refused in found[("acme-live", "public.read-write")]["reason"]
    assert refused in found[("acme-live", "cors")]["reason"]
    assert all("\n" not in record["reason"] for record in found.values())
    assert left_on_the_server(deployed) == []


@pytest.mark.usefixtures("no_retries")
def test_a_stalled_server_is_named_with_its_read_timeout(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients, "READ_TIMEOUT_SECONDS", 1)
    proxy.inject(Stall(), lambda request: "authorization" in request.headers, times=None)
    result = verify(deployed, tmp_path, proxy.url)
    assert result.exit_code == 1
    reason = records(result)[("acme-live", "public.read-write")]["reason"]
    assert f"{proxy.url} did not answer within 1 s (read timeout)" in reason
    assert '"None"' not in result.stdout


@pytest.mark.usefixtures("no_retries")
def test_a_server_answering_503_is_named(proxy: FaultProxy, deployed: Deployment, tmp_path: Path) -> None:
    proxy.inject(Status(503), lambda request: "authorization" in request.headers, times=None)
    result = verify(deployed, tmp_path, proxy.url)
    assert result.exit_code == 1
    assert "SlowDown (HTTP 503): injected by the fault proxy" in records(result)[("acme-live", "cors")]["reason"]


def probe_put(request: Request) -> bool:
    """A PutObject of a probe into acme-live's public bucket (not a part of a multipart upload)."""
    return (
        request.method == "PUT"
        and request.path.startswith(f"/{LIVE_PUBLIC}/{PROBE_PREFIX}")
        and "uploadId" not in request.query
    )


def test_a_probe_whose_put_answer_was_lost_is_removed_and_said_so(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    proxy.inject(Reset(after_server=True), probe_put, times=None)  # stored every time, never answered
    result = verify(deployed, tmp_path, proxy.url)
    assert result.exit_code == 1
    record = records(result)[("acme-live", "public.read-write")]
    assert record["status"] == "fail"
    assert "put of the probe object failed: " in record["reason"]
    assert "closed the connection before answering (reset)" in record["reason"]
    assert f"removed s3://{LIVE_PUBLIC}/{PROBE_PREFIX}" in record["reason"]
    assert left_on_the_server(deployed) == []


def test_a_lost_probe_in_a_site_not_checked_is_removed_and_said_in_the_checked_sites_isolation(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    """`verify acme-live` puts a probe into acme-stage's private bucket with acme-stage's key to try acme-live's
    key on it; when that put's answer is lost, the run removes the probe and says so where acme-live is reported."""
    probe = f"/{STAGE_PRIVATE}/{PROBE_PREFIX}"
    proxy.inject(
        Reset(after_server=True),
        # acme-stage's probe, not the object acme-live's key is refused to put there (isolation-...).
        lambda request: (
            request.method == "PUT"
            and request.path.startswith(probe)
            and not request.path.startswith(f"{probe}isolation-")
        ),
        times=None,
    )
    result = verify(deployed, tmp_path, proxy.url, "acme-live")
    found = records(result)
    assert {site for site, _ in found} == {"acme-live"}, "a site not checked is not reported on"
    reason = found[("acme-live", "isolation")]["reason"]
    assert f"{STAGE_PRIVATE} refused list and put; get not checked (acme-stage could not write its probe)" in reason
    assert f"removed s3://{STAGE_PRIVATE}/{PROBE_PREFIX}" in reason, reason
    assert left_on_the_server(deployed) == []


def test_a_probe_that_cannot_be_removed_is_named(proxy: FaultProxy, deployed: Deployment, tmp_path: Path) -> None:
    proxy.inject(Reset(after_server=True), probe_put, times=None)
    proxy.inject(
        Status(503),
        lambda request: request.method == "DELETE" and request.path.startswith(f"/{LIVE_PUBLIC}/{PROBE_PREFIX}"),
        times=None,
    )
    result = verify(deployed, tmp_path, proxy.url)
    reason = records(result)[("acme-live", "public.read-write")]["reason"]
    [left] = [item for item in left_on_the_server(deployed) if item.startswith(LIVE_PUBLIC)]
    assert f"probe object s3://{left} may be left" in reason, reason
    assert "could not be removed: SlowDown (HTTP 503)" in reason
    remove_named(deployed)


def test_an_upload_a_retried_create_left_is_aborted(proxy: FaultProxy, deployed: Deployment, tmp_path: Path) -> None:
    proxy.inject(
        Reset(after_server=True),
        lambda request: (
            request.method == "POST"
            and request.path.startswith(f"/{LIVE_PUBLIC}/{PROBE_PREFIX}")
            and request.query == "uploads"
        ),
    )
    result = verify(deployed, tmp_path, proxy.url)
    record = records(result)[("acme-live", "public.multipart")]
    assert record["status"] == "pass", record
    assert "aborted 1 incomplete multipart upload of s3://" in record["reason"]
    assert left_on_the_server(deployed) == []


def test_resets_on_a_tenth_of_requests_leave_nothing_unnamed(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    proxy.inject(Reset(), fraction(0.05, seed=7), times=None)
    proxy.inject(Reset(after_server=True), fraction(0.05, seed=8), times=None)
    result = verify(deployed, tmp_path, proxy.url)
    assert result.exit_code in (0, 1)
    text = " ".join(record["reason"] for record in records(result).values())
    assert all("\n" not in record["reason"] for record in records(result).values())
    for item in left_on_the_server(deployed):
        assert item.split("/", 1)[1].removesuffix(" (upload)") in text, f"{item} is left and no reason names it"
    remove_named(deployed)

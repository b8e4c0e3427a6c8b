"""`storagectl media` against a faulty network: the fault proxy (tests/support/fault_proxy.py) in front of moto.

Every fault ends in one line naming the server and what happened, with exit code 1 and no
traceback, or is ridden out within the run (botocore's retries, a resumed body); a run that
failed half-way is completed by the next one and leaves no incomplete upload behind.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from storagectl.media import transfer
from storagectl.offline import Evaluation
from storagectl.verify import clients
from tests.support.fault_proxy import (
    Cut,
    Delay,
    FaultProxy,
    Match,
    Reset,
    Stall,
    Status,
    fraction,
    method,
    path_contains,
)
from tests.support.media import LARGE_KEY, SMALL_FILES, bucket_objects, folder_files, media_folder, summary
from tests.support.media_moto import LIVE, deploy_for_media, media
from tests.support.moto_verify import Deployment


@pytest.fixture
def deployed(aws_stack: Evaluation, moto_endpoint: str) -> Deployment:
    return deploy_for_media(aws_stack, moto_endpoint)


@pytest.fixture
def proxy(deployed: Deployment) -> Iterator[FaultProxy]:
    with FaultProxy(deployed.endpoint) as running:
        yield running


@pytest.fixture
def quick_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A stalled server is given up on after 1 s (30 s in real runs), each call tried twice."""
    monkeypatch.setattr(clients, "READ_TIMEOUT_SECONDS", 1)
    monkeypatch.setattr(clients, "TOTAL_ATTEMPTS", 2)


def through(proxy: FaultProxy, deployed: Deployment, tmp_path: Path, *args: str) -> Any:
    return media(deployed, tmp_path, *args, endpoint=proxy.url)


def one_line_failure(result: Any) -> str:
    """The run's last stderr line; it must have ended with an exit code, not an exception."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.stdout + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    return lines[-1]


def commands(folder: Path, target: Path) -> list[tuple[str, ...]]:
    return [
        ("push", "acme-live", str(folder)),
        ("pull", "acme-live", str(target)),
        ("backup", "acme-live", "--to", str(target / "backup")),
    ]


def test_with_nothing_listening_every_command_ends_in_one_line(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    folder = media_folder(tmp_path / "media")
    proxy.refuse()
    for command in commands(folder, tmp_path / "pulled"):
        result = through(proxy, deployed, tmp_path, *command)
        assert result.exit_code == 1, command
        assert one_line_failure(result) == (
            "listing site acme-live (public): cannot connect to "
            f"{proxy.url}: connection refused (is the server running, is the endpoint right?)"
        ), command
    assert not (tmp_path / "pulled").exists() or folder_files(tmp_path / "pulled") == {}


@pytest.mark.usefixtures("quick_timeouts")
def test_a_stalled_server_ends_in_a_read_timeout_that_names_it(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    proxy.inject(Stall(), method("GET"), times=None)
    result = through(proxy, deployed, tmp_path, "pull", "acme-live", str(tmp_path / "pulled"))
    assert result.exit_code == 1
    line = one_line_failure(result)
    assert line.endswith(f"{proxy.url} did not answer within 1 s (read timeout)"), line
    assert "None" not in line


def test_a_server_that_keeps_answering_503_ends_in_one_line(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    proxy.inject(Status(503), method("GET"), times=None)
    result = through(proxy, deployed, tmp_path, "pull", "acme-live", str(tmp_path / "pulled"))
    assert result.exit_code == 1
    assert one_line_failure(result) == (
        "listing site acme-live (public): SlowDown (HTTP 503): injected by the fault proxy"
    )


def test_passing_503s_resets_and_delays_are_ridden_out(proxy: FaultProxy, deployed: Deployment, tmp_path: Path) -> None:
    folder = media_folder(tmp_path / "media")
    proxy.inject(Status(503), method("PUT"), times=2)
    proxy.inject(Reset(after_server=True), path_contains("/contracts/terms.pdf", methods=("PUT",)))
    proxy.inject(Reset(), path_contains("/uploads/cat.jpg", methods=("PUT",)))
    proxy.inject(Delay(0.5), method("GET"), times=3)
    result = through(proxy, deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert summary(result.stdout)["copied"] == 5
    assert bucket_objects(deployed.s3(), LIVE[1]) == SMALL_FILES["private"]


@pytest.mark.parametrize("answer", [Status(503, "SlowDown"), Status(500, "InternalError")], ids=["503", "500"])
def test_a_small_object_the_crt_was_refused_is_sent_by_botocore_and_named(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path, answer: Status
) -> None:
    """A server that answers with an error is no unreachable one: the CRT stays on for the other objects."""
    folder = media_folder(tmp_path / "media")
    # The CRT tries once more after such an answer; both refused, botocore sends the object.
    proxy.inject(answer, path_contains("/uploads/cat.jpg", methods=("PUT",)), times=2)
    result = through(proxy, deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert summary(result.stdout)["client"] == {
        "awscrt": 4,
        "botocore": 1,
        "botocore_because": {f"the CRT's request was refused ({answer.code} {answer.error}), botocore tried again": 1},
    }
    assert bucket_objects(deployed.s3(), LIVE[0]) == SMALL_FILES["public"]


def test_after_a_request_the_crt_got_no_answer_to_botocore_moves_the_rest(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    folder = media_folder(tmp_path / "media")
    # One object at a time: the first PUT's connection is reset (and its retry's), then none is.
    proxy.inject(Reset(), method("PUT"), times=2)
    result = through(proxy, deployed, tmp_path, "push", "acme-live", str(folder), "--json", "--concurrency", "1")
    assert result.exit_code == 0, result.stdout + result.stderr
    client = summary(result.stdout)["client"]
    assert (client["awscrt"], client["botocore"]) == (0, 5)
    [(reason, count)] = client["botocore_because"].items()
    assert count == 5
    assert reason.startswith("the CRT got no answer (") and reason.endswith("): botocore moved it and the rest")
    assert bucket_objects(deployed.s3(), LIVE[0]) == SMALL_FILES["public"]
    assert bucket_objects(deployed.s3(), LIVE[1]) == SMALL_FILES["private"]


def test_a_download_cut_mid_body_is_resumed_within_the_run(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    folder = media_folder(tmp_path / "media", large=True)
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    proxy.inject(Cut(after_bytes=3 * 1024 * 1024), path_contains(LARGE_KEY, methods=("GET",)), times=2)
    result = through(proxy, deployed, tmp_path, "pull", "acme-live", str(tmp_path / "pulled"), "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert folder_files(tmp_path / "pulled") == folder_files(folder)
    ranges = [request.headers.get("range") for request in proxy.seen if LARGE_KEY in request.target]
    assert ranges == [None, "bytes=3145728-", "bytes=6291456-"], "resumed where each cut left off"
    assert all(request.headers.get("if-match") for request in proxy.seen if LARGE_KEY in request.target), (
        "every range of the planned ETag"
    )


def test_a_copy_streamed_through_a_cut_body_is_resumed(proxy: FaultProxy, deployed: Deployment, tmp_path: Path) -> None:
    folder = media_folder(tmp_path / "media", large=True)
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    proxy.inject(Cut(after_bytes=100_000), path_contains(LARGE_KEY, methods=("GET",)))
    result = through(proxy, deployed, tmp_path, "copy", "acme-live", "--to-site", "acme-stage", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    stage = deployed.s3().get_object(Bucket="acme-media-acme-stage-private", Key=LARGE_KEY)["Body"].read()
    assert stage == (folder / "private" / LARGE_KEY).read_bytes()


def test_resets_on_a_tenth_of_requests_leave_nothing_a_second_run_does_not_finish(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(clients, "TOTAL_ATTEMPTS", 1)  # no retries: the resets reach the command
    folder = media_folder(tmp_path / "media", large=True)
    proxy.inject(Reset(), fraction(0.05, seed=20), times=None)
    proxy.inject(Reset(after_server=True), fraction(0.05, seed=21), times=None)
    first = through(proxy, deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert first.exception is None or isinstance(first.exception, SystemExit), first.exception
    assert first.exit_code in (0, 1)
    proxy.clear()
    second = through(proxy, deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert second.exit_code == 0, second.stdout + second.stderr
    s3 = deployed.s3()
    assert bucket_objects(s3, LIVE[0]) == SMALL_FILES["public"]
    assert s3.get_object(Bucket=LIVE[1], Key=LARGE_KEY)["Body"].read() == (folder / "private" / LARGE_KEY).read_bytes()
    assert s3.list_multipart_uploads(Bucket=LIVE[1]).get("Uploads", []) == []


def the_large_objects(verb: str, query: str) -> Match:
    return lambda request: request.method == verb and LARGE_KEY in request.path and query in request.query


def uploads_of(deployed: Deployment, bucket: str) -> list[str]:
    return [upload["Key"] for upload in deployed.s3().list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


@pytest.mark.parametrize(
    "lost",
    [
        pytest.param([("POST", "uploads", Reset(after_server=True))], id="the-answer-to-create-multipart-upload"),
        pytest.param(
            [("PUT", "partNumber=2", Reset()), ("DELETE", "uploadId=", Reset())], id="a-part-and-then-the-abort"
        ),
    ],
)
def test_the_next_run_aborts_the_incomplete_upload_a_failed_run_left(
    proxy: FaultProxy,
    deployed: Deployment,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lost: list[tuple[str, str, Reset]],
) -> None:
    monkeypatch.setattr(clients, "TOTAL_ATTEMPTS", 1)  # no retries: the lost answers reach the command
    folder = media_folder(tmp_path / "media", large=True)
    for verb, query, fault in lost:
        proxy.inject(fault, the_large_objects(verb, query))
    first = through(proxy, deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert first.exit_code == 1, first.stdout + first.stderr
    assert [line.split(":")[0] for line in summary(first.stdout)["failed"]] == [f"private/{LARGE_KEY}"]
    assert summary(first.stdout)["privacy"]["failed"] == [], "an object that did not arrive is not checked"
    assert uploads_of(deployed, LIVE[1]) == [LARGE_KEY], "the server holds the upload the run could not end"

    second = through(proxy, deployed, tmp_path, "push", "acme-live", str(folder), "--json")
    assert second.exit_code == 0, second.stdout + second.stderr
    assert summary(second.stdout)["cleaned"] == [f"s3://{LIVE[1]}/{LARGE_KEY}: an incomplete multipart upload aborted"]
    assert uploads_of(deployed, LIVE[1]) == []
    assert (
        deployed.s3().get_object(Bucket=LIVE[1], Key=LARGE_KEY)["Body"].read()
        == (folder / "private" / LARGE_KEY).read_bytes()
    )


@pytest.mark.usefixtures("quick_timeouts")
def test_a_body_that_stops_arriving_is_resumed_then_named_in_one_line(
    proxy: FaultProxy, deployed: Deployment, tmp_path: Path
) -> None:
    folder = media_folder(tmp_path / "media", large=True)
    assert media(deployed, tmp_path, "push", "acme-live", str(folder)).exit_code == 0
    proxy.inject(Stall(after_bytes=1000), path_contains(LARGE_KEY, methods=("GET",)), times=None)
    result = through(proxy, deployed, tmp_path, "pull", "acme-live", str(tmp_path / "pulled"), "--json")
    assert result.exit_code == 1
    assert summary(result.stdout)["failed"] == [
        f"private/{LARGE_KEY}: the answer's body stopped arriving for 1 s (read timeout)"
    ]
    # A read that times out loses what it had buffered, so each resume starts where the last full read ended.
    asked = [request for request in proxy.seen if LARGE_KEY in request.target]
    assert len(asked) == 1 + transfer.BODY_RESUMES, "resumed three times, then given up"
    assert all(request.headers.get("if-match") for request in asked)
    assert not (tmp_path / "pulled" / "private" / LARGE_KEY).exists()

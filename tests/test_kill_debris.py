"""Commands killed with SIGKILL at random points leave nothing that the next run does not clean.

Each test runs a real `storagectl` process against the local stack (a moto server that
`storagectl local up` starts, on a free port), kills it at a random moment within how long an
uninterrupted run took, then checks what is left and runs the command again. The loops are
bounded (KILLS rounds) and seeded; the seed is in the test's output, so a failure can be replayed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from storagectl.local import server
from storagectl.local.serve import MARKER
from storagectl.media.stores import PARTIAL_SUFFIX
from tests.support.cli_project import Project, invoke
from tests.support.local_project import local_project
from tests.support.media import folder_files, media_folder

KILLS = 5
PUBLIC, PRIVATE = "local-media-demo-public", "local-media-demo-private"
SEED = int(os.environ.get("SITE_STORAGE_KILL_SEED", random.SystemRandom().randrange(1 << 30)))


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Project, str]]:
    with local_project(tmp_path / "project", monkeypatch) as found:
        yield found


def started(root: Path, *args: str) -> subprocess.Popen[bytes]:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    return subprocess.Popen(
        [sys.executable, "-c", "from storagectl.cli import main; main()", *args],
        cwd=root,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def run(root: Path, *args: str) -> float:
    """Run to the end (it must succeed); how long it took."""
    began = time.monotonic()
    process = started(root, *args)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 0, stderr.decode()
    return time.monotonic() - began


def killed_after(root: Path, seconds: float, *args: str) -> None:
    process = started(root, *args)
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    if process.stderr is not None:
        process.stderr.close()


def server_processes(port: int) -> list[int]:
    """Every live `storagectl.local.serve` process for `port`, whoever started it."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            words = (entry / "cmdline").read_bytes().split(b"\0")
            state = (entry / "stat").read_text().split()[2]
        except OSError:
            continue
        if MARKER.encode() in words and str(port).encode() in words and state != "Z":
            found.append(int(entry.name))
    return found


def settled(endpoint: str, port: int) -> None:
    """Wait (bounded) until no server process is between starting and answering."""
    deadline = time.monotonic() + server.START_TIMEOUT_SECONDS
    while server_processes(port) and not server.answers(endpoint) and time.monotonic() < deadline:
        time.sleep(0.2)


def local_debris(root: Path) -> list[str]:
    local = root / ".local"
    return sorted(path.name for path in local.glob("*.tmp")) + sorted(
        path.name for path in local.glob("media-uploads/*")
    )


def test_a_killed_local_up_never_leaves_a_server_that_local_down_cannot_stop(project: tuple[Project, str]) -> None:
    print(f"seed {SEED}")
    draw = random.Random(SEED)
    root, endpoint = project[0].root, project[1]
    port = int(endpoint.rsplit(":", 1)[1])
    whole = run(root, "local", "up", "--stack", "local")
    assert invoke("local", "down", "--stack", "local", "--delete-media").exit_code == 0
    for round_ in range(KILLS):
        moment = draw.uniform(0, whole)
        killed_after(root, moment, "local", "up", "--stack", "local")
        settled(endpoint, port)
        running = server_processes(port)
        recorded = server.recorded_pid(endpoint)
        assert running == ([recorded] if recorded else []), f"round {round_}, killed after {moment:.2f}s: unrecorded"
        if server.answers(endpoint):
            assert recorded is not None, f"round {round_}: a server answers that no record names"
        down = invoke("local", "down", "--stack", "local", "--delete-media")
        assert down.exit_code in (0, 1), down.stderr
        if running:
            assert down.exit_code == 0, f"round {round_}: {down.stderr}"
        assert server_processes(port) == [], f"round {round_}: local down left the server running"
        assert not server.answers(endpoint)
        assert local_debris(root) == [], f"round {round_}"
    # And after all that, local up works as on the first day.
    run(root, "local", "up", "--stack", "local")
    assert server.recorded_pid(endpoint) in server_processes(port)


def large_media(root: Path) -> Path:
    folder = media_folder(root, large=True)
    for index in range(2):
        (folder / "public" / "videos" / f"clip-{index}.bin").parent.mkdir(parents=True, exist_ok=True)
        (folder / "public" / "videos" / f"clip-{index}.bin").write_bytes(os.urandom(9 * 1024 * 1024 + index))
    return folder


def bucket_files(s3: Any) -> dict[tuple[str, str], bytes]:
    files = {}
    for kind, bucket in (("public", PUBLIC), ("private", PRIVATE)):
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            files[(kind, item["Key"])] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return files


def open_uploads(s3: Any) -> list[str]:
    return [
        f"{bucket}/{upload['Key']}"
        for bucket in (PUBLIC, PRIVATE)
        for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    ]


def emptied(s3: Any) -> None:
    for bucket in (PUBLIC, PRIVATE):
        for item in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=item["Key"])


def test_a_killed_media_push_leaves_no_upload_the_next_run_does_not_abort(
    project: tuple[Project, str], tmp_path: Path
) -> None:
    print(f"seed {SEED}")
    draw = random.Random(SEED)
    root, endpoint = project[0].root, project[1]
    assert invoke("local", "up", "--stack", "local").exit_code == 0
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    folder = large_media(tmp_path / "media")
    push = ("media", "push", "demo", str(folder), "--stack", "local", "--concurrency", "4", "--check", "none")
    whole = run(root, *push)
    for round_ in range(KILLS):
        emptied(s3)
        moment = draw.uniform(0, whole)
        killed_after(root, moment, *push)
        run(root, *push)
        assert open_uploads(s3) == [], f"round {round_}, killed after {moment:.2f}s"
        assert bucket_files(s3) == folder_files(folder), f"round {round_}"
        assert local_debris(root) == [], f"round {round_}"


def test_a_killed_media_pull_leaves_no_partial_file_and_the_next_run_completes_it(
    project: tuple[Project, str], tmp_path: Path
) -> None:
    print(f"seed {SEED}")
    draw = random.Random(SEED)
    root = project[0].root
    assert invoke("local", "up", "--stack", "local").exit_code == 0
    folder = large_media(tmp_path / "media")
    run(root, "media", "push", "demo", str(folder), "--stack", "local", "--check", "none")
    whole = 0.0
    for round_ in range(KILLS + 1):
        pulled = tmp_path / f"pulled-{round_}"
        pull = ("media", "pull", "demo", str(pulled), "--stack", "local", "--concurrency", "4")
        if round_ == 0:
            whole = run(root, *pull)
            continue
        moment = draw.uniform(0, whole)
        killed_after(root, moment, *pull)
        run(root, *pull)
        assert not list(pulled.rglob(f"*{PARTIAL_SUFFIX}")), f"round {round_}, killed after {moment:.2f}s"
        assert folder_files(pulled) == folder_files(folder), f"round {round_}"
        check = invoke("media", "verify-backup", "demo", "--from", str(pulled), "--json")
        assert check.exit_code == 0 and json.loads(check.stdout)["ok"], f"round {round_}: {check.stdout}"

"""ci/seaweedfs.py and the `seaweedfs` fixture without a server: errors, the skip, the private files, and
stop touching only its own process.

Every test but the last points the script at a state directory of its own, so a server running for the
other tests is never seen or stopped; SITE_STORAGE_WEED=/nonexistent stands for a machine where
SeaweedFS was never built. The last one starts a server of its own (in its own directory) and checks
what it leaves on disk and on the network.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from ci import seaweedfs as sw
from tests.support.seaweedfs import SeaweedFS, seaweedfs_session

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "ci" / "seaweedfs.py"


@pytest.fixture
def no_weed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SITE_STORAGE_WEED", "/nonexistent/weed")
    monkeypatch.setenv("SITE_STORAGE_SEAWEEDFS_DIR", str(tmp_path / "seaweedfs"))
    monkeypatch.delenv("SITE_STORAGE_REQUIRE_SEAWEEDFS", raising=False)
    return tmp_path / "seaweedfs"


def script(*args: str) -> subprocess.CompletedProcess[str]:
    # The system python3, as CI runs it before the virtualenv exists; the environment comes from the fixture.
    return subprocess.run(["python3", str(SCRIPT), *args], capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not ours, though its command line names an s3.json elsewhere."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(tmp_path / "s3.json")])
    yield process
    process.kill()
    process.wait()


def write_fake_state(directory: Path, pid: int, owner: str = "cli") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    state = sw.SeaweedState(
        http_endpoint="http://127.0.0.1:1",
        access_key="SWEXAMPLE",
        secret_key="it's $ecret",
        users={"owner": {"access_key": "SWOWNER", "secret_key": "o"}},
        region="us-east-1",
        directory=str(directory),
        pid=pid,
        ports={"s3": 1},
        binary="/nonexistent/weed",
        version="version 30GB 4.53 7506e5f91cd6 linux amd64",
        start_seconds=1.5,
        owner=owner,
    )
    (directory / "state.json").write_text(json.dumps(asdict(state)))


def test_start_without_a_built_weed_fails_in_one_line_and_leaves_no_state(no_weed: Path) -> None:
    result = script("start")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("seaweedfs start: SITE_STORAGE_WEED=/nonexistent/weed: not an executable file;")
    assert "make seaweedfs" in result.stderr
    assert not (no_weed / "state.json").exists()


def test_status_without_a_server_exits_non_zero_with_the_reason(no_weed: Path) -> None:
    result = script("status")
    assert result.returncode == 1
    assert result.stderr == f"seaweedfs status: not running: no state in {no_weed / 'state.json'}\n"


def test_status_with_a_process_that_is_not_ours_says_it_is_gone(
    no_weed: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    write_fake_state(no_weed, sleeper.pid)  # alive, but not running with our s3.json: not ours
    result = script("status")
    assert result.returncode == 1
    assert f"weed (pid {sleeper.pid}) is gone" in result.stderr


def test_stop_never_signals_a_process_it_did_not_start(no_weed: Path, sleeper: subprocess.Popen[bytes]) -> None:
    write_fake_state(no_weed, sleeper.pid)
    result = script("stop")
    assert (result.returncode, result.stdout) == (0, "nothing of ours was running\n")
    assert sleeper.poll() is None
    assert not (no_weed / "state.json").exists()


def test_stop_ends_a_recorded_process_that_runs_with_our_config(no_weed: Path) -> None:
    config = no_weed / "s3.json"
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "-s3.config", str(config)])
    try:
        write_fake_state(no_weed, ours.pid)
        result = script("stop")
        assert (result.returncode, result.stdout) == (0, f"stopped weed (pid {ours.pid})\n")
        assert ours.wait(timeout=30) != 0  # ended by our SIGTERM
    finally:
        ours.kill()
        ours.wait()


def test_a_session_never_stops_a_server_started_from_the_command_line(no_weed: Path) -> None:
    write_fake_state(no_weed, 1, owner="cli")
    sw.release(12345)
    assert (no_weed / "state.json").exists()


def test_a_session_started_server_stays_while_another_session_holds_a_lease(
    no_weed: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    write_fake_state(no_weed, 1, owner="session")
    (no_weed / "leases").mkdir()
    (no_weed / "leases" / str(sleeper.pid)).touch()  # another live session
    (no_weed / "leases" / "999999999").touch()  # a session that died without releasing
    sw.release(12345)
    assert (no_weed / "state.json").exists()
    assert sorted(path.name for path in (no_weed / "leases").iterdir()) == [str(sleeper.pid)]
    sleeper.kill()
    sleeper.wait()
    sw.release(sleeper.pid)  # the last session out
    assert not (no_weed / "state.json").exists()


def test_env_lines_quote_values(no_weed: Path) -> None:
    write_fake_state(no_weed, 1)
    state = sw.read_state(sw.layout())
    assert state is not None
    lines = sw.exports(state).splitlines()
    parsed = dict(shlex.split(line)[1].split("=", 1) for line in lines)
    assert parsed["SITE_STORAGE_SEAWEEDFS_SECRET_ACCESS_KEY"] == "it's $ecret"
    assert parsed["SITE_STORAGE_SEAWEEDFS_HTTP_ENDPOINT"] == "http://127.0.0.1:1"


def test_fixture_skips_and_prints_the_reason_without_seaweedfs(no_weed: Path) -> None:
    printed: list[str] = []
    with pytest.raises(pytest.skip.Exception) as skipped:
        next(seaweedfs_session(printed.append))
    assert "SITE_STORAGE_WEED=/nonexistent/weed: not an executable file" in str(skipped.value)
    assert printed == [f"skipping the SeaweedFS tests: {skipped.value}"]


def test_fixture_fails_without_seaweedfs_when_it_is_required(no_weed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITE_STORAGE_REQUIRE_SEAWEEDFS", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        next(seaweedfs_session(lambda line: None))
    assert "not an executable file" in str(failed.value)
    assert "SITE_STORAGE_REQUIRE_SEAWEEDFS=1" in str(failed.value)


def listening_addresses(pid: int) -> set[str]:
    """The local addresses the process's TCP sockets listen on (state 0A in /proc/net/tcp)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd)
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                found.add(fields[1].split(":")[0])
    return found


def test_a_started_server_listens_on_loopback_only_and_keeps_its_keys_private(
    seaweedfs: SeaweedFS, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server of this test's own (its own directory and ports): started, reused, checked, stopped."""
    monkeypatch.setenv("SITE_STORAGE_SEAWEEDFS_DIR", str(tmp_path / "own"))
    started = script("start")
    try:
        assert started.returncode == 0, started.stderr
        state = sw.read_state(sw.layout())
        assert state is not None
        assert f"secret key      {state.secret_key}" in started.stdout
        again = script("start")
        assert again.returncode == 0 and "already running" in again.stdout
        for private in ("state.json", "s3.json"):
            assert stat.S_IMODE((tmp_path / "own" / private).stat().st_mode) == 0o600, private
        assert stat.S_IMODE((tmp_path / "own").stat().st_mode) == 0o700
        # 0100007F is 127.0.0.1 as /proc/net/tcp writes it; nothing on 0.0.0.0 or another address.
        assert listening_addresses(state.pid) == {"0100007F"}
        assert set(state.users) == {"owner", "stranger", "reader"}
        assert len({state.access_key, *(keys["access_key"] for keys in state.users.values())}) == 4
    finally:
        stopped = script("stop")
    assert stopped.stdout.startswith("stopped weed (pid ")
    assert not (tmp_path / "own" / "state.json").exists() and not (tmp_path / "own" / "data").exists()


def test_the_docs_name_the_seaweedfs_version_go_mod_pins() -> None:
    go_mod = (ROOT / "tools" / "seaweedfs" / "go.mod").read_text(encoding="utf-8")
    [pinned] = [line.split()[-1] for line in go_mod.splitlines() if line.startswith("require github.com/seaweedfs/")]
    docs = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    assert f"`{pinned}`" in docs
    assert f"commit {pinned.rsplit('-', 1)[1]}" in docs
    assert "replace github.com/tyler-smith/go-bip39 => github.com/cosmos/go-bip39 v1.0.0" in go_mod


def test_the_go_tools_builder_without_go_says_so_in_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "empty")}
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gobuild.py"), "seaweedfs", "--bin", str(tmp_path / "out" / "bin")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "gobuild.py: Go is not installed; it builds the SeaweedFS S3 server (Go 1.26 or newer)"
    ]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [".build.lock"]


def test_every_go_module_of_the_project_is_pinned_by_a_go_sum() -> None:
    modules = sorted(path.parent for path in (ROOT / "tools").rglob("go.mod"))
    assert {module.name for module in modules} >= {"pulumi", "seaweedfs", "delayproxy"}
    assert [module.name for module in modules if not (module / "go.sum").is_file()] == []


def test_the_go_tools_builder_refuses_a_module_without_go_sum_in_one_line(tmp_path: Path) -> None:
    module = tmp_path / "tool"
    module.mkdir()
    (module / "go.mod").write_text("module example.com/tool\n\ngo 1.26\n", encoding="utf-8")
    (module / "main.go").write_text("package main\n\nfunc main() {}\n", encoding="utf-8")
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT / "tools")!r})
        import gobuild
        binaries = (gobuild.GoBinary("tool", "."),)
        tool = gobuild.GoTool(Path({str(module)!r}), binaries, "the tool", Path(gobuild.__file__))
        gobuild.ensure_built(tool, Path({str(tmp_path / "out" / "bin")!r}), announce="building")
        """
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"gobuild.py: {module / 'go.sum'} is missing: the build of the tool would not be pinned; "
        "run `go mod tidy` in that folder and commit go.sum"
    ]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [".build.lock"]

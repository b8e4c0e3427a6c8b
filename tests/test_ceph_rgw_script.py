"""ci/ceph_rgw.py and the `rgw` fixture without Ceph: errors, the skip, and stop touching only its own processes.

Nothing here starts Ceph: every test points the script at a state directory of its own, so a server
running for the other tests is never seen or stopped.
"""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pytest

from ci import ceph_rgw
from tests.support.rgw import rgw_session

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "ci" / "ceph_rgw.py"


@pytest.fixture
def no_ceph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty binary directory instead of PATH and a state directory of this test's own."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("SITE_STORAGE_CEPH_BIN_DIR", str(bin_dir))
    monkeypatch.setenv("SITE_STORAGE_RGW_DIR", str(tmp_path / "rgw"))
    monkeypatch.delenv("SITE_STORAGE_REQUIRE_RGW", raising=False)
    return tmp_path / "rgw"


def script(*args: str) -> subprocess.CompletedProcess[str]:
    # The system python3, as CI runs it before the virtualenv exists; the environment comes from no_ceph.
    return subprocess.run(["python3", str(SCRIPT), *args], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def sleeper(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process that is not one of ours, though its command line names a ceph.conf elsewhere."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", str(tmp_path / "x.conf")])
    yield process
    process.kill()
    process.wait()


def fake_state(directory: Path, pid: int, owner: str = "cli") -> ceph_rgw.RgwState:
    return ceph_rgw.RgwState(
        http_endpoint="http://127.0.0.1:7480",
        https_endpoint=None,
        https_unavailable_reason="cannot bind 127.0.0.1:443: the port is already in use",
        ca_bundle=None,
        access_key="RGWEXAMPLE",
        secret_key="it's $ecret",
        region="us-east-1",
        directory=str(directory),
        conf=str(directory / "ceph.conf"),
        pids={"ceph-mon": pid, "ceph-osd": pid, "radosgw": pid},
        ceph_version="ceph version 16.2.15",
        start_seconds=12.0,
        owner=owner,
    )


def write_fake_state(directory: Path, pid: int, owner: str = "cli") -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "state.json").write_text(json.dumps(asdict(fake_state(directory, pid, owner))))
    (directory / "ceph.conf").write_text("[global]\n")


def test_missing_binaries_are_named_with_the_packages_to_install(no_ceph: Path) -> None:
    with pytest.raises(ceph_rgw.RgwError) as missing:
        ceph_rgw.find_binaries()
    message = str(missing.value)
    assert "SITE_STORAGE_CEPH_BIN_DIR=" in message
    for binary in ("ceph-mon", "ceph-osd", "radosgw", "radosgw-admin"):
        assert binary in message
    assert "apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common openssl" in message


def test_start_without_ceph_fails_in_one_line_and_leaves_no_state(no_ceph: Path) -> None:
    result = script("start")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("ceph_rgw start: Ceph binaries not found in SITE_STORAGE_CEPH_BIN_DIR=")
    assert not (no_ceph / "state.json").exists()


def test_status_without_a_server_exits_non_zero_with_the_reason(no_ceph: Path) -> None:
    result = script("status")
    assert result.returncode == 1
    assert result.stderr == f"ceph_rgw status: not running: no state in {no_ceph / 'state.json'}\n"


def test_status_with_dead_pids_names_them(no_ceph: Path, sleeper: subprocess.Popen[bytes]) -> None:
    write_fake_state(no_ceph, sleeper.pid)  # alive, but not running our ceph.conf: not ours
    result = script("status")
    assert result.returncode == 1
    assert f"ceph-mon (pid {sleeper.pid})" in result.stderr
    assert "gone" in result.stderr


def test_stop_never_signals_a_process_it_did_not_start(no_ceph: Path, sleeper: subprocess.Popen[bytes]) -> None:
    write_fake_state(no_ceph, sleeper.pid)
    (no_ceph / "run").mkdir()
    (no_ceph / "run" / "mon.a.pid").write_text(f"{sleeper.pid}\n")
    result = script("stop")
    assert (result.returncode, result.stdout) == (0, "nothing of ours was running\n")
    assert sleeper.poll() is None
    assert not (no_ceph / "state.json").exists()


def test_stop_ends_a_recorded_process_that_runs_with_our_conf(no_ceph: Path) -> None:
    conf = no_ceph / "ceph.conf"
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "-c", str(conf)])
    try:
        write_fake_state(no_ceph, ours.pid)
        result = script("stop")
        assert result.returncode == 0
        assert result.stdout == f"stopped radosgw (pid {ours.pid})\n"  # the first one in stop order; the rest is gone
        assert ours.wait(timeout=30) != 0  # ended by our SIGTERM
    finally:
        ours.kill()
        ours.wait()


def test_a_session_never_stops_a_server_started_from_the_command_line(no_ceph: Path) -> None:
    write_fake_state(no_ceph, 1, owner="cli")
    ceph_rgw.release(12345)
    assert (no_ceph / "state.json").exists()


def test_a_session_started_server_stays_while_another_session_holds_a_lease(
    no_ceph: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    write_fake_state(no_ceph, 1, owner="session")
    (no_ceph / "leases").mkdir()
    (no_ceph / "leases" / str(sleeper.pid)).touch()  # another live session
    (no_ceph / "leases" / "999999999").touch()  # a session that died without releasing
    ceph_rgw.release(12345)
    assert (no_ceph / "state.json").exists()
    assert sorted(path.name for path in (no_ceph / "leases").iterdir()) == [str(sleeper.pid)]
    sleeper.kill()
    sleeper.wait()
    ceph_rgw.release(sleeper.pid)  # the last session out
    assert not (no_ceph / "state.json").exists()


def test_a_port_in_use_gives_the_reason_https_is_off() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert ceph_rgw.can_bind(port) == f"cannot bind 127.0.0.1:{port}: the port is already in use"


def test_env_lines_quote_values_and_say_why_there_is_no_https(tmp_path: Path) -> None:
    lines = ceph_rgw.exports(fake_state(tmp_path, 1)).splitlines()
    parsed = dict(shlex.split(line)[1].split("=", 1) for line in lines if line.startswith("export "))
    assert parsed["SITE_STORAGE_RGW_SECRET_ACCESS_KEY"] == "it's $ecret"
    assert parsed["SITE_STORAGE_RGW_HTTPS_ENDPOINT"] == ""
    assert lines[-1] == "# no https endpoint: cannot bind 127.0.0.1:443: the port is already in use"


def test_fixture_skips_and_prints_the_reason_without_ceph(no_ceph: Path) -> None:
    printed: list[str] = []
    with pytest.raises(pytest.skip.Exception) as skipped:
        next(rgw_session(printed.append))
    assert "Ceph binaries not found" in str(skipped.value)
    assert printed == [f"skipping the Ceph RGW tests: {skipped.value}"]


def test_fixture_fails_without_ceph_when_rgw_is_required(no_ceph: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SITE_STORAGE_REQUIRE_RGW", "1")
    with pytest.raises(pytest.fail.Exception) as failed:
        next(rgw_session(lambda line: None))
    assert "Ceph binaries not found" in str(failed.value)
    assert "SITE_STORAGE_REQUIRE_RGW=1" in str(failed.value)

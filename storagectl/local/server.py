"""The local S3 server of a local stack: found running on the stack's endpoint, or started here.

`storagectl local up` starts a moto server (the same one `make local-s3` runs in the
foreground, with the gaps of storagectl/local/moto_gaps.py closed) in the background when
nothing answers on the endpoint. The server process records itself in
`.local/s3-server-<port>.json` before it opens the port (storagectl/local/serve.py), so a
server that answers was always recorded, whenever `local up` is stopped; `local down` stops
only a server so recorded, after checking the pid is still that server. One `local up` at a
time starts a server on a port (a lock beside the record). moto keeps everything in memory:
stopping it loses the media, so `local down` stops it only together with `--delete-media`.
`.local/` and the server's log in it are the owner's only (0700, 0600).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import urllib3

from storagectl.atomic_files import locked, make_private_dirs
from storagectl.local.serve import MARKER, claimed
from storagectl.local_outputs import LOCAL_DIR
from storagectl.stack_files import project_root

START_TIMEOUT_SECONDS = 30
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class ServerError(Exception):
    """The local server could not be found or started; the message is one line."""


@dataclass(frozen=True)
class LocalServer:
    endpoint: str
    pid: int | None
    """The recorded server process (started now or by an earlier `local up`), or None: someone else's server."""
    started_here: bool = False


def is_loopback(endpoint: str) -> bool:
    return (urlsplit(endpoint).hostname or "") in LOOPBACK_HOSTS


def answers(endpoint: str) -> bool:
    """Whether an S3 server answers on `endpoint` (any HTTP answer counts)."""
    try:
        urllib3.request("GET", endpoint, timeout=urllib3.Timeout(connect=2, read=5), retries=False)
    except urllib3.exceptions.HTTPError:
        return False
    return True


def local_folder() -> Path:
    """The project's `.local/` (outputs with keys, server records and logs, upload journals): owner-only (0700)."""
    folder = project_root() / LOCAL_DIR
    make_private_dirs(folder)
    with contextlib.suppress(OSError):
        os.chmod(folder, 0o700)  # one made before, or by hand, is made owner-only too
    return folder


def _port(endpoint: str) -> int:
    return urlsplit(endpoint).port or (443 if endpoint.startswith("https") else 80)


def _record(endpoint: str) -> Path:
    return project_root() / LOCAL_DIR / f"s3-server-{_port(endpoint)}.json"


def _recorded(endpoint: str) -> int | None:
    try:
        return int(json.loads(_record(endpoint).read_text(encoding="utf-8"))["pid"])
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError):
        return None


def recorded_pid(endpoint: str) -> int | None:
    """The pid of the server `local up` started on this endpoint, if that process still runs."""
    pid = _recorded(endpoint)
    return pid if pid is not None and _is_recorded_server(pid, _port(endpoint)) else None


def _is_recorded_server(pid: int, port: int) -> bool:
    """Whether `pid` runs and is the server started for `port` (not a process that reused its pid)."""
    if not _alive(pid):
        return False
    try:
        words = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return not Path("/proc/self").exists()  # no /proc (macOS): the pid check above is all there is
    return MARKER.encode() in words and b"--port" in words and str(port).encode() in words


@contextlib.contextmanager
def _starting(endpoint: str) -> Iterator[None]:
    """One `local up` at a time starts the server of a port; others wait (the kernel drops the lock of a killed one)."""
    lock = local_folder() / f"s3-server-{_port(endpoint)}.lock"
    descriptor = os.open(lock, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def ensure_server(endpoint: str) -> LocalServer:
    """The server on `endpoint`: the one running there, or a moto server started now."""
    with _starting(endpoint):
        if answers(endpoint):
            return LocalServer(endpoint, recorded_pid(endpoint))
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while claimed(_record(endpoint)):
            # Started by a `local up` stopped before it answered: it records itself, then answers.
            recorded = recorded_pid(endpoint)
            if recorded is not None:
                _wait_until_it_answers(endpoint, recorded, None)
                return LocalServer(endpoint, recorded)
            if time.monotonic() > deadline:
                raise ServerError(f"a server for {endpoint} is starting and has not recorded itself; try again")
            time.sleep(0.1)
        _remove_dead_records(endpoint)
        parts = urlsplit(endpoint)
        if parts.scheme != "http" or not parts.port:
            raise ServerError(
                f"nothing answers on {endpoint}, and local up starts servers only on http://127.0.0.1:<port>; "
                "start that server yourself"
            )
        log = local_folder() / f"s3-server-{parts.port}.log"
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.fchmod(descriptor, 0o600)  # it may hold request details; a log made before was 0644
        with os.fdopen(descriptor, "ab") as output:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    MARKER,
                    "--host",
                    parts.hostname or "127.0.0.1",
                    "--port",
                    str(parts.port),
                    "--endpoint",
                    endpoint,
                    "--record",
                    str(_record(endpoint)),
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # outlives this command, like `make local-s3` in another terminal
            )
        _wait_until_it_answers(endpoint, process.pid, process)
        return LocalServer(endpoint, process.pid, started_here=True)


def _remove_dead_records(endpoint: str) -> None:
    """The record of a server that is gone (no live server holds its claim)."""
    _remove_record(endpoint)


def _remove_record(endpoint: str) -> None:
    """Under the record's lock, which also removes a temp file a killed server left beside it."""
    with locked(_record(endpoint), private=True):
        _record(endpoint).unlink(missing_ok=True)


def _wait_until_it_answers(endpoint: str, pid: int, process: subprocess.Popen[bytes] | None) -> None:
    log = project_root() / LOCAL_DIR / f"s3-server-{_port(endpoint)}.log"
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not answers(endpoint):
        gone = process.poll() is not None if process is not None else not _alive(pid)
        if gone or time.monotonic() > deadline:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            if _recorded(endpoint) == pid:
                _remove_record(endpoint)
            raise ServerError(f"the moto server for {endpoint} did not start; see {log}")
        time.sleep(0.2)


def stop_server(endpoint: str) -> bool:
    """Stop the server `local up` started on `endpoint`; False when it started none."""
    pid = recorded_pid(endpoint)
    _remove_record(endpoint)
    if pid is None:
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    try:
        # Reaps it when this very process started it (as in the tests); else it is not our child.
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True

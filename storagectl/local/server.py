"""The local S3 server of a local stack: found running on the stack's endpoint, or started here.

`storagectl local up` starts a moto server (the same one `make local-s3` runs in the
foreground) in the background when nothing answers on the endpoint, and records it in
`.local/` so `local down` stops only a server it started. moto keeps everything in memory:
stopping it loses the media, so `local down` stops it only together with `--delete-media`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import urllib3

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
    """The process this command started, or None when the server was already running."""

    @property
    def started_here(self) -> bool:
        return self.pid is not None


def is_loopback(endpoint: str) -> bool:
    return (urlsplit(endpoint).hostname or "") in LOOPBACK_HOSTS


def answers(endpoint: str) -> bool:
    """Whether an S3 server answers on `endpoint` (any HTTP answer counts)."""
    try:
        urllib3.request("GET", endpoint, timeout=urllib3.Timeout(connect=2, read=5), retries=False)
    except urllib3.exceptions.HTTPError:
        return False
    return True


def _record(endpoint: str) -> Path:
    port = urlsplit(endpoint).port or (443 if endpoint.startswith("https") else 80)
    return project_root() / LOCAL_DIR / f"s3-server-{port}.json"


def recorded_pid(endpoint: str) -> int | None:
    """The pid of the server `local up` started on this endpoint, if it still runs."""
    path = _record(endpoint)
    try:
        pid = int(json.loads(path.read_text(encoding="utf-8"))["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return pid


def ensure_server(endpoint: str) -> LocalServer:
    """The server on `endpoint`: the one running there, or a moto server started now."""
    if answers(endpoint):
        return LocalServer(endpoint, None)
    parts = urlsplit(endpoint)
    if parts.scheme != "http" or not parts.port:
        raise ServerError(
            f"nothing answers on {endpoint}, and local up starts servers only on http://127.0.0.1:<port>; "
            "start that server yourself"
        )
    log = project_root() / LOCAL_DIR / f"s3-server-{parts.port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", parts.hostname or "127.0.0.1", "-p", str(parts.port)],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command, like `make local-s3` in another terminal
        )
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not answers(endpoint):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise ServerError(f"the moto server for {endpoint} did not start; see {log}")
        time.sleep(0.2)
    record = _record(endpoint)
    record.write_text(json.dumps({"pid": process.pid, "endpoint": endpoint}), encoding="utf-8")
    return LocalServer(endpoint, process.pid)


def stop_server(endpoint: str) -> bool:
    """Stop the server `local up` started on `endpoint`; False when it started none."""
    pid = recorded_pid(endpoint)
    _record(endpoint).unlink(missing_ok=True)
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

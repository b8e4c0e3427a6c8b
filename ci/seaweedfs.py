"""A throwaway SeaweedFS S3 server on 127.0.0.1: the fast real S3 server of the tests and benchmarks.

    python3 ci/seaweedfs.py start     # start (or reuse a healthy one), print the endpoint and admin keys
    python3 ci/seaweedfs.py env       # the running server as shell `export` lines
    python3 ci/seaweedfs.py status    # exit 0 when running and answering signed S3, else 1 with the reason
    python3 ci/seaweedfs.py stop      # stop the server this script started, remove its data

One `weed server` process (master, volume server, filer and S3 gateway in one; no WebDAV, IAM
API, Iceberg or Lance endpoints; telemetry off), every port on 127.0.0.1 and free when it starts.
Its binary is the one `make seaweedfs` builds from the pinned Go module (tools/seaweedfs), or
$SITE_STORAGE_WEED. S3 identities and their keys are generated at each start and written, with
the state, only to files readable by their owner (mode 0600): an admin, and plain users (USERS)
for tests that need a key without admin rights. Data lives in
$SITE_STORAGE_SEAWEEDFS_DIR (default /tmp/site-storage-seaweedfs): data/, s3.json, state.json,
log/ (kept after stop).

Imported by the tests (tests/support/seaweedfs.py): a pytest session takes a lease (leases/<pid>)
with start(session=pid), and release(pid) stops a server that sessions started once the last one
is done; a server started here on the command line is left running for `stop`.

Standard library only: CI runs it with the system python3 before the project's virtualenv exists.
Environment: SITE_STORAGE_SEAWEEDFS_DIR, SITE_STORAGE_SEAWEEDFS_PORT (the S3 port),
SITE_STORAGE_SEAWEEDFS_TIMEOUT (seconds to wait for it, default 60), SITE_STORAGE_WEED (the binary).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: python3 ci/seaweedfs.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from ci.ceph_rgw import answers_s3, can_bind, free_port, is_ours, last_line, live_sessions, locked, stop_pid

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = "/tmp/site-storage-seaweedfs"
BUILT_WEED = ROOT / ".tools" / "seaweedfs" / "bin" / "weed"
HOST = "127.0.0.1"
REGION = "us-east-1"
USERS: dict[str, str | None] = {"owner": "t*", "stranger": "stranger-*", "reader": None}
"""Plain identities made at start besides the admin: the bucket names each is confined to, or None.

SeaweedFS does not tie a key to the buckets it created: an identity may do what its actions name,
on any bucket unless an action names the buckets (`Read:t*`). `owner` may create and use the tests'
buckets (their names start with `t`), `stranger` only buckets of its own, so it is refused on
those; `reader` may read and list every bucket, whatever its ACL (tests/test_seaweedfs_server.py
holds that against S3's rule).
"""
PORTS = ("master", "master.grpc", "volume", "volume.grpc", "filer", "filer.grpc", "s3", "s3.grpc")
BUILD_HINT = "build it with `make seaweedfs` (python3 tools/gobuild.py seaweedfs; Go 1.26) or set SITE_STORAGE_WEED"


class SeaweedError(Exception):
    """An expected failure: one line naming the step and where to look."""


@dataclass(frozen=True)
class User:
    name: str
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class SeaweedState:
    """A running server, as state.json records it."""

    http_endpoint: str
    access_key: str
    secret_key: str
    users: dict[str, dict[str, str]]
    """The plain identities: name -> {"access_key", "secret_key"}."""
    region: str
    directory: str
    pid: int
    ports: dict[str, int]
    binary: str
    version: str
    start_seconds: float
    owner: str = "cli"
    """Who started it: "cli" (this script: make seaweedfs-start, CI) or "session" (a pytest session)."""

    @property
    def log(self) -> str:
        return str(Path(self.directory) / "log" / "weed.log")

    def user(self, name: str) -> User:
        keys = self.users[name]
        return User(name, keys["access_key"], keys["secret_key"])


@dataclass(frozen=True)
class Layout:
    root: Path

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def config(self) -> Path:
        return self.root / "s3.json"

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def leases(self) -> Path:
        return self.root / "leases"


def layout() -> Layout:
    return Layout(Path(os.environ.get("SITE_STORAGE_SEAWEEDFS_DIR") or DEFAULT_DIR).resolve())


def wait_timeout() -> float:
    raw = os.environ.get("SITE_STORAGE_SEAWEEDFS_TIMEOUT", "60")
    try:
        return float(raw)
    except ValueError:
        raise SeaweedError(f"SITE_STORAGE_SEAWEEDFS_TIMEOUT={raw!r} is not a number of seconds") from None


def find_weed() -> str:
    """The weed binary: $SITE_STORAGE_WEED, else this checkout's build, else `weed` on PATH."""
    given = os.environ.get("SITE_STORAGE_WEED")
    if given:
        if not os.access(given, os.X_OK):
            raise SeaweedError(f"SITE_STORAGE_WEED={given}: not an executable file; {BUILD_HINT}")
        return given
    if os.access(BUILT_WEED, os.X_OK):
        return str(BUILT_WEED)
    found = shutil.which("weed")
    if found is None:
        missing = BUILT_WEED.relative_to(ROOT)
        raise SeaweedError(f"SeaweedFS is not built: no {missing} and no weed on PATH; {BUILD_HINT}")
    return found


def weed_version(binary: str) -> str:
    try:
        done = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise SeaweedError(f"{binary} version: {error}") from None
    return last_line(done.stdout or done.stderr)


def pick_ports() -> dict[str, int]:
    ports: dict[str, int] = {}
    raw = os.environ.get("SITE_STORAGE_SEAWEEDFS_PORT")
    if raw:
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise SeaweedError(f"SITE_STORAGE_SEAWEEDFS_PORT={raw!r} is not a port number")
        reason = can_bind(int(raw))
        if reason:
            raise SeaweedError(f"s3 port: {reason} (SITE_STORAGE_SEAWEEDFS_PORT)")
        ports["s3"] = int(raw)
    while len(ports) < len(PORTS):
        port = free_port()
        if port not in ports.values():
            ports[next(name for name in PORTS if name not in ports)] = port
    return ports


def new_user(name: str) -> User:
    # 20 and 40 characters, like AWS keys; from the OS's CSPRNG.
    return User(name, "SW" + secrets.token_hex(9).upper(), secrets.token_urlsafe(30)[:40])


def s3_config(admin: User, users: list[User]) -> dict[str, Any]:
    """SeaweedFS's static S3 identities: the admin may do anything; each plain user what a stack's key
    does (create buckets, set their ACLs, CORS and lifecycle, read and write objects), on its buckets only."""
    actions = ["Read", "Write", "List", "Tagging"]
    identities = [{"name": admin.name, "credentials": [keys(admin)], "actions": ["Admin", *actions]}]
    for user in users:
        pattern = USERS[user.name]
        granted = ["Read", "List"] if pattern is None else [f"{action}:{pattern}" for action in ("Admin", *actions)]
        identities.append({"name": user.name, "credentials": [keys(user)], "actions": granted})
    return {"identities": identities}


def keys(user: User) -> dict[str, str]:
    return {"accessKey": user.access_key, "secretKey": user.secret_key}


def write_private(path: Path, text: str) -> None:
    """Written whole, readable by its owner only: these files hold secret keys."""
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    tmp.replace(path)


def command(binary: str, paths: Layout, ports: dict[str, int]) -> list[str]:
    return [
        binary,
        "server",
        f"-ip={HOST}",
        f"-ip.bind={HOST}",
        f"-dir={paths.data}",
        "-master.telemetry=false",  # no call home: this machine reaches no such host
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master.grpc']}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume.grpc']}",
        "-volume.max=0",
        "-filer",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer.grpc']}",
        f"-filer.localSocket={paths.root / 'filer.sock'}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3.grpc']}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-s3.iam=false",
        f"-s3.localSocket={paths.root / 's3.sock'}",
        # Its own argument (is_ours finds the process by it): Go's flags take "-name value" too.
        "-s3.config",
        str(paths.config),
    ]


# --- state ------------------------------------------------------------------------------------------------


def read_state(paths: Layout) -> SeaweedState | None:
    try:
        data: dict[str, Any] = json.loads(paths.state.read_text())
        return SeaweedState(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(paths: Layout, state: SeaweedState) -> None:
    write_private(paths.state, json.dumps(asdict(state), indent=2))


def health(state: SeaweedState) -> str | None:
    """None when the process runs and answers a signed ListBuckets, else why not."""
    if not is_ours(state.pid, str(Layout(Path(state.directory)).config)):
        return f"not running: weed (pid {state.pid}) is gone; read {state.log}"
    reason = answers_s3(state.http_endpoint, state.access_key, state.secret_key, None)
    return f"{reason}; read {state.log}" if reason else None


def status() -> SeaweedState:
    paths = layout()
    state = read_state(paths)
    if state is None:
        raise SeaweedError(f"not running: no state in {paths.state}")
    reason = health(state)
    if reason:
        raise SeaweedError(reason)
    return state


def stop_server(paths: Layout) -> list[str]:
    """Stop the recorded process (only if it still runs with our config) and remove the data."""
    stopped = []
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        pid = int(json.loads(paths.state.read_text())["pid"])
        if is_ours(pid, str(paths.config)):
            stop_pid(pid, str(paths.config))
            stopped.append(f"weed (pid {pid})")
    for path in (paths.data, paths.leases):
        shutil.rmtree(path, ignore_errors=True)
    for file in (paths.state, paths.config, paths.root / "filer.sock", paths.root / "s3.sock"):
        file.unlink(missing_ok=True)
    return stopped


# --- start ------------------------------------------------------------------------------------------------


def start(session: int | None = None) -> tuple[SeaweedState, bool]:
    """The running server (reused when healthy, else started afresh) and whether this call started it.

    `session` is the pid of a pytest session: it takes a lease (see release), and a server it starts
    is owned by the sessions rather than by whoever ran `ci/seaweedfs.py start`.
    """
    paths = layout()
    with locked(paths):
        state = read_state(paths)
        if state is None or health(state) is not None:
            stop_server(paths)  # a stale or half-made server of ours: its leftovers go, start clean
            state = None
        if session is not None:
            paths.leases.mkdir(exist_ok=True)
            (paths.leases / str(session)).touch()
        if state is not None and session is None and state.owner == "session":
            # `start` on a server a pytest session started: from now on it stays when the sessions end.
            state = SeaweedState(**{**asdict(state), "owner": "cli"})
            write_state(paths, state)
        if state is not None:
            return state, False
        try:
            return create(paths, "cli" if session is None else "session"), True
        except OSError as error:
            stop_server(paths)
            raise SeaweedError(f"start in {paths.root}: {error}") from None
        except BaseException:
            stop_server(paths)
            raise


def create(paths: Layout, owner: str) -> SeaweedState:
    began = time.monotonic()
    binary = find_weed()
    version = weed_version(binary)
    timeout = wait_timeout()
    for directory in (paths.data, paths.log):
        directory.mkdir(parents=True, exist_ok=True)
    paths.root.chmod(0o700)
    admin, users = new_user("site-storage-admin"), [new_user(name) for name in USERS]
    write_private(paths.config, json.dumps(s3_config(admin, users), indent=2))
    ports = pick_ports()
    log_file = paths.log / "weed.log"
    with log_file.open("w") as log:
        # Its own session: a Ctrl-C in the shell that started it does not stop it.
        process = subprocess.Popen(
            command(binary, paths, ports),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    endpoint = f"http://{HOST}:{ports['s3']}"
    state = SeaweedState(
        http_endpoint=endpoint,
        access_key=admin.access_key,
        secret_key=admin.secret_key,
        users={user.name: {"access_key": user.access_key, "secret_key": user.secret_key} for user in users},
        region=REGION,
        directory=str(paths.root),
        pid=process.pid,
        ports=ports,
        binary=binary,
        version=version,
        start_seconds=0.0,
        owner=owner,
    )
    write_state(paths, state)  # before waiting: a failed start can still be stopped by its pid
    deadline = time.monotonic() + timeout
    while True:
        reason = answers_s3(endpoint, admin.access_key, admin.secret_key, None)
        if reason is None:
            break
        if process.poll() is not None:
            raise SeaweedError(f"weed server exited {process.returncode}: {tail(log_file)}; read {log_file}")
        if time.monotonic() > deadline:
            raise SeaweedError(f"weed server: not ready after {timeout:.0f}s ({reason}); read {log_file}")
        time.sleep(0.2)
    state = SeaweedState(**{**asdict(state), "start_seconds": round(time.monotonic() - began, 1)})
    write_state(paths, state)
    return state


def tail(log_file: Path) -> str:
    try:
        return last_line(log_file.read_text(errors="replace"))
    except OSError:
        return "no output"


def release(session: int) -> list[str]:
    """End a pytest session's lease; the last session out stops a server that sessions started."""
    paths = layout()
    with locked(paths):
        (paths.leases / str(session)).unlink(missing_ok=True)
        state = read_state(paths)
        if state is None or state.owner != "session" or live_sessions(paths):
            return []
        return stop_server(paths)


def stop() -> list[str]:
    paths = layout()
    if not paths.root.is_dir():
        return []
    with locked(paths):
        return stop_server(paths)


# --- command line -----------------------------------------------------------------------------------------


def summary(state: SeaweedState, started: bool) -> str:
    how = (
        f"started in {state.start_seconds:.1f}s"
        if started
        else f"already running (its start took {state.start_seconds:.1f}s)"
    )
    return "\n".join(
        [
            f"SeaweedFS {how}: {state.version} (pid {state.pid})",
            f"  http endpoint   {state.http_endpoint}",
            f"  access key      {state.access_key}",
            f"  secret key      {state.secret_key}",
            f"  region          {state.region} (path-style addressing)",
            f"  other users     {', '.join(state.users)} (keys in {Path(state.directory) / 'state.json'})",
            f"  state and log   {state.directory} (log: {state.log})",
        ]
    )


def exports(state: SeaweedState) -> str:
    values = {
        "SITE_STORAGE_SEAWEEDFS_HTTP_ENDPOINT": state.http_endpoint,
        "SITE_STORAGE_SEAWEEDFS_ACCESS_KEY_ID": state.access_key,
        "SITE_STORAGE_SEAWEEDFS_SECRET_ACCESS_KEY": state.secret_key,
        "SITE_STORAGE_SEAWEEDFS_REGION": state.region,
        "SITE_STORAGE_SEAWEEDFS_PID": str(state.pid),
    }
    return "\n".join(f"export {name}={shlex.quote(value)}" for name, value in values.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A throwaway SeaweedFS S3 server on 127.0.0.1 for the tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "stop", "status", "env"):
        commands.add_parser(name)
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            state, started = start()
            print(summary(state, started))
        elif args.command == "env":
            print(exports(status()))
        elif args.command == "status":
            state = status()
            print(f"running: {state.http_endpoint} (pid {state.pid}, {state.version})")
        else:
            stopped = stop()
            print(f"stopped {', '.join(stopped)}" if stopped else "nothing of ours was running")
    except (SeaweedError, OSError) as error:
        print(f"seaweedfs {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

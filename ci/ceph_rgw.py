"""A throwaway one-node Ceph cluster with a RADOS Gateway on 127.0.0.1: a real S3 server for the tests.

    python3 ci/ceph_rgw.py start        # start (or reuse a healthy one), print endpoints and admin keys
    python3 ci/ceph_rgw.py env          # the running server as shell `export` lines
    python3 ci/ceph_rgw.py status       # exit 0 when running and answering S3, else 1 with the reason
    python3 ci/ceph_rgw.py user NAME    # an S3 user (created, or the existing one's keys) as JSON
    python3 ci/ceph_rgw.py stop         # stop the daemons this script started, remove the state

One ceph-mon, one ceph-osd on memstore (no disks), one radosgw with the beast frontend: http on
127.0.0.1 (port 7480, or a free one when taken) and https on 127.0.0.1:443 as https://localhost with a
certificate from a CA made at start (when 443 can be bound). Auth none, pool size 1, no systemd: the
daemons fork themselves and leave pid files. Everything lives in $SITE_STORAGE_RGW_DIR (default
/tmp/site-storage-rgw): ceph.conf, mon data, run/ (pids, sockets), log/, tls/, state.json.

Imported by the tests (tests/support/rgw.py): a pytest session takes a lease (leases/<pid>) with
start(session=pid), and release(pid) stops a server that sessions started once the last one is done;
a server started here on the command line is left running for `stop`.

Standard library only: CI runs it with the system python3 before the project's virtualenv exists.
Environment: SITE_STORAGE_RGW_DIR, SITE_STORAGE_RGW_PORT (http port), SITE_STORAGE_RGW_TIMEOUT
(seconds per wait, default 120), SITE_STORAGE_CEPH_BIN_DIR (look for the Ceph binaries only there, not
on PATH; a bogus directory simulates a machine without Ceph).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import errno
import fcntl
import hashlib
import hmac
import json
import os
import re
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

DEFAULT_DIR = "/tmp/site-storage-rgw"
DEFAULT_HTTP_PORT = 7480  # radosgw's own default
HTTPS_PORT = 443
HOST = "127.0.0.1"
REGION = "us-east-1"  # RGW accepts any region in the signature scope; boto3 needs one
ADMIN_USER = "site-storage-admin"
PACKAGES = "radosgw ceph-mon ceph-osd ceph-common openssl"
CEPH_BINARIES = ("ceph", "ceph-mon", "ceph-osd", "radosgw", "radosgw-admin", "monmaptool")
# Stop order: the gateway first, the monitor last (an OSD stopping tells the monitor).
DAEMONS = ("radosgw", "ceph-osd", "ceph-mon")
USER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class RgwError(Exception):
    """An expected failure: one line naming the step and where to look."""


@dataclass(frozen=True)
class RgwState:
    """A running server, as state.json records it."""

    http_endpoint: str
    https_endpoint: str | None
    https_unavailable_reason: str | None
    ca_bundle: str | None
    access_key: str
    secret_key: str
    region: str
    directory: str
    conf: str
    pids: dict[str, int]
    ceph_version: str
    start_seconds: float
    owner: str = "cli"
    """Who started it: "cli" (this script: make rgw, CI) or "session" (a pytest session, stopped by the last one)."""

    @property
    def rgw_log(self) -> str:
        return str(Path(self.directory) / "log" / "client.rgw.log")


@dataclass(frozen=True)
class RgwUser:
    user: str
    access_key: str
    secret_key: str


@dataclass(frozen=True)
class Layout:
    """Where everything of one server lives."""

    root: Path

    @property
    def conf(self) -> Path:
        return self.root / "ceph.conf"

    @property
    def state(self) -> Path:
        return self.root / "state.json"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def log(self) -> Path:
        return self.root / "log"

    @property
    def tls(self) -> Path:
        return self.root / "tls"

    @property
    def mon(self) -> Path:
        return self.root / "mon"

    @property
    def osd(self) -> Path:
        return self.root / "osd"

    @property
    def leases(self) -> Path:
        """One file per pytest session using the server, named by its pid."""
        return self.root / "leases"

    def pid_file(self, daemon: str) -> Path:
        return self.run / f"{CEPH_NAMES[daemon]}.pid"

    def log_file(self, daemon: str) -> Path:
        return self.log / f"{CEPH_NAMES[daemon]}.log"

    def launch_log(self, daemon: str) -> Path:
        """What a daemon printed before it forked (config and early start-up errors)."""
        return self.log / f"{CEPH_NAMES[daemon]}.launch.log"


CEPH_NAMES = {"ceph-mon": "mon.a", "ceph-osd": "osd.0", "radosgw": "client.rgw"}


def layout() -> Layout:
    return Layout(Path(os.environ.get("SITE_STORAGE_RGW_DIR") or DEFAULT_DIR).resolve())


def wait_timeout() -> float:
    raw = os.environ.get("SITE_STORAGE_RGW_TIMEOUT", "120")
    try:
        return float(raw)
    except ValueError:
        raise RgwError(f"SITE_STORAGE_RGW_TIMEOUT={raw!r} is not a number of seconds") from None


# --- binaries ---------------------------------------------------------------------------------------------


def find_binaries() -> dict[str, str]:
    """Absolute paths of the Ceph tools, or one error naming all that are missing and how to install them."""
    bin_dir = os.environ.get("SITE_STORAGE_CEPH_BIN_DIR")
    search = bin_dir if bin_dir is not None else os.environ.get("PATH", os.defpath)
    found = {name: shutil.which(name, path=search) for name in CEPH_BINARIES}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        where = f"SITE_STORAGE_CEPH_BIN_DIR={bin_dir}" if bin_dir is not None else "PATH"
        raise RgwError(
            f"Ceph binaries not found in {where}: {', '.join(missing)}; install the Debian packages: "
            f"apt-get install -y --no-install-recommends {PACKAGES}"
        )
    return {name: path for name, path in found.items() if path is not None}


def run_step(step: str, argv: list[str], log_hint: Path | None, timeout: float = 60) -> str:
    """Run a short command; on failure one line with the step, its last output line and the log to read."""
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise RgwError(f"{step}: no answer after {timeout:.0f}s{read_hint(log_hint)}") from None
    except OSError as error:
        raise RgwError(f"{step}: cannot run {argv[0]}: {error.strerror}") from None
    if result.returncode != 0:
        raise RgwError(
            f"{step}: exit {result.returncode}: {last_line(result.stderr or result.stdout)}{read_hint(log_hint)}"
        )
    return result.stdout


def launch(step: str, argv: list[str], paths: Layout, daemon: str) -> int:
    """Start a daemon that forks itself; return the pid from its pid file.

    Its early output goes to a file, not a pipe: the forked daemon would hold a pipe open.
    """
    launch_log = paths.launch_log(daemon)
    with launch_log.open("w") as out:
        try:
            code = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            raise RgwError(f"{step}: did not fork within 60s; read {launch_log}") from None
    if code.returncode != 0:
        output = launch_log.read_text(errors="replace")
        raise RgwError(f"{step}: exit {code.returncode}: {last_line(output)}; read {paths.log_file(daemon)}")
    pid_file = paths.pid_file(daemon)
    wait_for(step, lambda: pid_file.is_file() and pid_file.read_text().strip().isdigit(), 20, paths.log_file(daemon))
    return int(pid_file.read_text().strip())


def last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def read_hint(path: Path | None) -> str:
    return f"; read {path}" if path else ""


def wait_for(
    step: str, ready: Callable[[], bool], timeout: float, log_file: Path, alive: Callable[[], bool] = lambda: True
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if not alive():
            raise RgwError(f"{step}: the daemon exited; read {log_file}")
        if time.monotonic() > deadline:
            raise RgwError(f"{step}: not ready after {timeout:.0f}s; read {log_file}")
        time.sleep(0.25)


# --- ports and TLS ----------------------------------------------------------------------------------------


def can_bind(port: int) -> str | None:
    """None when 127.0.0.1:port can be bound now, else why not."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError as error:
            if error.errno == errno.EACCES:
                return f"cannot bind {HOST}:{port}: permission denied (ports below 1024 need root)"
            if error.errno == errno.EADDRINUSE:
                return f"cannot bind {HOST}:{port}: the port is already in use"
            return f"cannot bind {HOST}:{port}: {error.strerror}"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def http_port() -> int:
    raw = os.environ.get("SITE_STORAGE_RGW_PORT")
    if raw:
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise RgwError(f"SITE_STORAGE_RGW_PORT={raw!r} is not a port number")
        reason = can_bind(int(raw))
        if reason:
            raise RgwError(f"http port: {reason} (SITE_STORAGE_RGW_PORT)")
        return int(raw)
    return DEFAULT_HTTP_PORT if can_bind(DEFAULT_HTTP_PORT) is None else free_port()


SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def make_certificates(tls: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a server certificate for localhost and 127.0.0.1 signed by it (EC keys: fast)."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RgwError(f"https: openssl not found on PATH; install it: apt-get install -y {PACKAGES}")
    tls.mkdir(mode=0o700, parents=True, exist_ok=True)
    ca, ca_key = tls / "ca.pem", tls / "ca.key"
    cert, key, csr, ext = tls / "server.pem", tls / "server.key", tls / "server.csr", tls / "server.ext"
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    ca_extensions = ["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]
    ca_files = ["-keyout", str(ca_key), "-out", str(ca), "-days", "30"]
    ca_name = ["-subj", "/CN=site-storage throwaway test CA"]
    run_step("https: make the CA", [openssl, "req", "-x509", *ec, *ca_files, *ca_name, *ca_extensions], None)
    server_files = ["-keyout", str(key), "-out", str(csr)]
    run_step("https: make the server key", [openssl, "req", *ec, *server_files, "-subj", "/CN=localhost"], None)
    ext.write_text(SERVER_EXTENSIONS)
    signer = ["-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial"]
    signed = ["-in", str(csr), "-out", str(cert), "-days", "30", "-extfile", str(ext)]
    run_step("https: sign the server certificate", [openssl, "x509", "-req", *signer, *signed], None)
    return ca, cert, key


# --- ceph.conf --------------------------------------------------------------------------------------------


def ceph_conf(paths: Layout, fsid: str, mon_port: int, frontends: str) -> str:
    root = paths.root
    return f"""\
# Written by ci/ceph_rgw.py: a throwaway one-node cluster for tests. Nothing here is durable.
[global]
fsid = {fsid}
mon host = v2:{HOST}:{mon_port}
mon initial members = a
public addr = {HOST}
cluster addr = {HOST}
ms bind msgr1 = false
# No cephx: nothing but this machine can reach it, and there are no keyrings to manage.
auth cluster required = none
auth service required = none
auth client required = none
keyring = /dev/null
# radosgw asks the monitor for the "secure" connection mode only, which auth none cannot provide.
ms mon client mode = crc secure
# One OSD: one copy, few placement groups, no host-level failure domain.
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon warn on pool no redundancy = false
mon warn on insecure global id reclaim allowed = false
# The monitor's store is small; a nearly full /tmp must not stop it.
mon data avail warn = 2
mon data avail crit = 1
# The monitor batches map changes for a second each; radosgw's first start creates four pools, two
# changes each, in a row: 9 s of its 13 s start with the default interval.
paxos propose interval = 0.05
paxos min wait = 0.01
osd objectstore = memstore
memstore device bytes = 1073741824
# Two cores shared with others: few worker threads everywhere.
osd op num shards = 1
osd op num threads per shard = 2
rgw thread pool size = 16
client mount timeout = 30
run dir = {root}/run
admin socket = {root}/run/$name.asok
pid file = {root}/run/$name.pid
log file = {root}/log/$name.log
mon data = {root}/mon/ceph-$id
osd data = {root}/osd/ceph-$id

[client.rgw]
rgw frontends = {frontends}
# Virtual-host style for bucket.localhost; path style for 127.0.0.1 and localhost themselves.
rgw dns name = localhost
# Deleted objects' data is freed after 2 hours by default: repeated test runs would fill the
# 1 GiB memstore first (seen here), so garbage is collected within a minute.
rgw gc obj min wait = 30
rgw gc processor period = 30
"""


def frontends(port: int, tls: tuple[Path, Path, Path] | None) -> str:
    value = f"beast endpoint={HOST}:{port}"
    if tls:
        _, cert, key = tls
        value += f" ssl_endpoint={HOST}:{HTTPS_PORT} ssl_certificate={cert} ssl_private_key={key}"
    return value


# --- S3 health check (SigV4 by hand: no boto3 before the virtualenv exists) -------------------------------


def signed_list_buckets(endpoint: str, access_key: str, secret_key: str, ca_bundle: str | None) -> int:
    """Status of a SigV4-signed ListBuckets (GET /); raises OSError when nothing answers."""
    host = endpoint.split("://", 1)[1]
    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    payload = hashlib.sha256(b"").hexdigest()
    headers = {"host": host, "x-amz-content-sha256": payload, "x-amz-date": amz_date}
    signed = ";".join(sorted(headers))
    canonical = "\n".join(["GET", "/", "", *(f"{k}:{headers[k]}" for k in sorted(headers)), "", signed, payload])
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = f"AWS4{secret_key}".encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={signed}, Signature={signature}"
    )
    request = urllib.request.Request(f"{endpoint}/", headers=headers, method="GET")
    context = ssl.create_default_context(cafile=ca_bundle) if endpoint.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except urllib.error.URLError as error:
        reason = error.reason
        raise OSError(str(reason)) from None


def answers_s3(endpoint: str, access_key: str, secret_key: str, ca_bundle: str | None) -> str | None:
    """None when a signed ListBuckets succeeds, else why not."""
    try:
        status = signed_list_buckets(endpoint, access_key, secret_key, ca_bundle)
    except OSError as error:
        return f"{endpoint} does not answer: {error}"
    return None if status == 200 else f"{endpoint} answered a signed ListBuckets with HTTP {status}"


# --- processes --------------------------------------------------------------------------------------------


def is_ours(pid: int, conf: str) -> bool:
    """True when pid runs with our ceph.conf: a recycled pid of some other process is never signalled."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return conf.encode() in argv


def stop_pid(pid: int, conf: str, grace: float = 10) -> None:
    """SIGTERM, then SIGKILL after `grace` seconds: memstore data is throwaway anyway."""
    if not is_ours(pid, conf):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while is_ours(pid, conf) and time.monotonic() < deadline:
        time.sleep(0.1)
    if is_ours(pid, conf):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while is_ours(pid, conf) and time.monotonic() < deadline + 5:
            time.sleep(0.1)


def recorded_pids(paths: Layout) -> dict[str, int]:
    """Pids from state.json, or from the pid files of a start that failed before writing it."""
    pids: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        pids.update({str(k): int(v) for k, v in json.loads(paths.state.read_text())["pids"].items()})
    for daemon in DAEMONS:
        with contextlib.suppress(OSError, ValueError):
            pids.setdefault(daemon, int(paths.pid_file(daemon).read_text().strip()))
    return pids


def stop_daemons(paths: Layout) -> list[str]:
    """Stop what this directory's state says we started; returns the daemons stopped."""
    pids = recorded_pids(paths)
    conf = str(paths.conf)
    stopped = []
    for daemon in DAEMONS:
        pid = pids.get(daemon)
        if pid is not None and is_ours(pid, conf):
            stop_pid(pid, conf)
            stopped.append(f"{daemon} (pid {pid})")
    return stopped


def remove_state(paths: Layout) -> None:
    """Remove what start made, except the logs (kept for reading after a failure)."""
    for directory in (paths.run, paths.mon, paths.osd, paths.tls, paths.leases):
        shutil.rmtree(directory, ignore_errors=True)
    for file in (paths.state, paths.conf, paths.root / "monmap"):
        file.unlink(missing_ok=True)


class LeasedDirectory(Protocol):
    """What `locked` and `live_sessions` need of a server script's layout (ci/seaweedfs.py's too)."""

    @property
    def root(self) -> Path: ...

    @property
    def leases(self) -> Path: ...


@contextlib.contextmanager
def locked(paths: LeasedDirectory) -> Iterator[None]:
    """One start or stop at a time per directory (two pytest sessions may start together)."""
    paths.root.mkdir(parents=True, exist_ok=True)
    with (paths.root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# --- state ------------------------------------------------------------------------------------------------


def read_state(paths: Layout) -> RgwState | None:
    try:
        data: dict[str, Any] = json.loads(paths.state.read_text())
        return RgwState(**data)
    except (OSError, ValueError, TypeError):
        return None


def write_state(paths: Layout, state: RgwState) -> None:
    # The file holds the admin secret: readable by its owner only.
    tmp = paths.state.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(asdict(state), out, indent=2)
    tmp.replace(paths.state)


def endpoints(state: RgwState) -> list[tuple[str, str | None]]:
    """Each endpoint with the CA bundle that verifies it (None: plain http)."""
    pairs: list[tuple[str, str | None]] = [(state.http_endpoint, None)]
    if state.https_endpoint:
        pairs.append((state.https_endpoint, state.ca_bundle))
    return pairs


def health(state: RgwState) -> str | None:
    """None when every daemon runs and RGW answers signed S3 requests (https too, when it has it)."""
    dead = [f"{daemon} (pid {pid})" for daemon, pid in state.pids.items() if not is_ours(pid, state.conf)]
    if dead:
        return f"not running: {', '.join(dead)} gone; read {Path(state.directory) / 'log'}"
    for endpoint, ca in endpoints(state):
        reason = answers_s3(endpoint, state.access_key, state.secret_key, ca)
        if reason:
            return f"{reason}; read {state.rgw_log}"
    return None


def status() -> RgwState:
    """The running, answering server; RgwError with the reason otherwise."""
    paths = layout()
    state = read_state(paths)
    if state is None:
        raise RgwError(f"not running: no state in {paths.state}")
    reason = health(state)
    if reason:
        raise RgwError(reason)
    return state


# --- start ------------------------------------------------------------------------------------------------


def start(session: int | None = None) -> tuple[RgwState, bool]:
    """The running server (reused when healthy, else started afresh) and whether this call started it.

    `session` is the pid of a pytest session: it takes a lease (see release), and a server it starts
    is owned by the sessions rather than by whoever ran `ci/ceph_rgw.py start`.
    """
    paths = layout()
    with locked(paths):
        state = read_state(paths)
        if state is None or health(state) is not None:
            # A stale or half-made server of ours: stop its leftovers, start clean.
            stop_daemons(paths)
            remove_state(paths)
            state = None
        if session is not None:
            paths.leases.mkdir(exist_ok=True)
            (paths.leases / str(session)).touch()
        if state is not None and session is None and state.owner == "session":
            # `make rgw` on a server a pytest session started: from now on it stays when the sessions end.
            state = RgwState(**{**asdict(state), "owner": "cli"})
            write_state(paths, state)
        if state is not None:
            return state, False
        try:
            return create(paths, "cli" if session is None else "session"), True
        except OSError as error:
            stop_daemons(paths)
            remove_state(paths)
            raise RgwError(f"start in {paths.root}: {error}") from None
        except BaseException:
            stop_daemons(paths)
            remove_state(paths)
            raise


def create(paths: Layout, owner: str) -> RgwState:
    began = time.monotonic()
    binaries = find_binaries()
    timeout = wait_timeout()
    for directory in (paths.run, paths.log, paths.mon, paths.osd / "ceph-0"):
        directory.mkdir(parents=True, exist_ok=True)
    for old_log in paths.log.glob("*"):
        old_log.unlink()
    port, mon_port = http_port(), free_port()
    https_reason = can_bind(HTTPS_PORT)
    tls = None if https_reason else make_certificates(paths.tls)
    fsid = str(uuid.uuid4())
    paths.conf.write_text(ceph_conf(paths, fsid, mon_port, frontends(port, tls)))
    conf = ["-c", str(paths.conf)]

    pids = {"ceph-mon": start_mon(paths, binaries, conf, fsid, mon_port)}
    pids["ceph-osd"] = start_osd(paths, binaries, conf, timeout)
    pids["radosgw"] = launch("start radosgw", [binaries["radosgw"], *conf, "-n", "client.rgw"], paths, "radosgw")
    http = f"http://{HOST}:{port}"
    rgw_log = paths.log_file("radosgw")
    wait_for(
        "radosgw answers http",
        lambda: anonymous_status(http) is not None,
        timeout,
        rgw_log,
        alive(pids["radosgw"], paths),
    )

    admin = create_user_with(binaries, paths, ADMIN_USER)
    state = RgwState(
        http_endpoint=http,
        https_endpoint=None if https_reason else "https://localhost",
        https_unavailable_reason=https_reason,
        ca_bundle=None if tls is None else str(tls[0]),
        access_key=admin.access_key,
        secret_key=admin.secret_key,
        region=REGION,
        directory=str(paths.root),
        conf=str(paths.conf),
        pids=pids,
        ceph_version=last_line(run_step("ceph version", [binaries["ceph"], "--version"], None)),
        start_seconds=0.0,
        owner=owner,
    )
    for endpoint, ca in endpoints(state):
        # A new user reaches the gateway's cache through the cluster: poll, don't sleep.
        wait_for(f"signed ListBuckets on {endpoint}", s3_ready(endpoint, admin, ca), timeout, rgw_log)
    state = RgwState(**{**asdict(state), "start_seconds": round(time.monotonic() - began, 1)})
    write_state(paths, state)
    return state


def s3_ready(endpoint: str, user: RgwUser, ca_bundle: str | None) -> Callable[[], bool]:
    return lambda: answers_s3(endpoint, user.access_key, user.secret_key, ca_bundle) is None


def alive(pid: int, paths: Layout) -> Callable[[], bool]:
    return lambda: is_ours(pid, str(paths.conf))


def start_mon(paths: Layout, binaries: dict[str, str], conf: list[str], fsid: str, mon_port: int) -> int:
    monmap = str(paths.root / "monmap")
    mon_log = paths.log_file("ceph-mon")
    run_step(
        "make the monitor map",
        [
            binaries["monmaptool"],
            "--create",
            "--clobber",
            "--fsid",
            fsid,
            "--addv",
            "a",
            f"[v2:{HOST}:{mon_port}]",
            monmap,
        ],
        None,
    )
    run_step("ceph-mon --mkfs", [binaries["ceph-mon"], *conf, "--mkfs", "-i", "a", "--monmap", monmap], mon_log)
    return launch("start ceph-mon", [binaries["ceph-mon"], *conf, "-i", "a"], paths, "ceph-mon")


def start_osd(paths: Layout, binaries: dict[str, str], conf: list[str], timeout: float) -> int:
    ceph = [binaries["ceph"], *conf, "--connect-timeout", str(int(timeout))]
    mon_log, osd_log = paths.log_file("ceph-mon"), paths.log_file("ceph-osd")
    osd_uuid = str(uuid.uuid4())
    osd_id = run_step("register the OSD (ceph osd new)", [*ceph, "osd", "new", osd_uuid], mon_log, timeout).strip()
    if osd_id != "0":
        raise RgwError(f"register the OSD (ceph osd new): got id {osd_id!r}, expected 0; read {mon_log}")
    run_step("ceph-osd --mkfs", [binaries["ceph-osd"], *conf, "-i", "0", "--mkfs", "--osd-uuid", osd_uuid], osd_log)
    pid = launch("start ceph-osd", [binaries["ceph-osd"], *conf, "-i", "0"], paths, "ceph-osd")

    def osd_up() -> bool:
        out = run_step("ceph osd stat", [*ceph, "osd", "stat", "--format", "json"], mon_log, timeout)
        return int(json.loads(out).get("num_up_osds", 0)) == 1

    wait_for("ceph-osd up", osd_up, timeout, osd_log, alive(pid, paths))
    return pid


def anonymous_status(endpoint: str) -> int | None:
    try:
        with urllib.request.urlopen(f"{endpoint}/", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return None


# --- users ------------------------------------------------------------------------------------------------


def create_user_with(binaries: dict[str, str], paths: Layout, name: str) -> RgwUser:
    """Create the S3 user `name` (radosgw-admin generates its keys); an existing user returns its keys."""
    if not USER_NAME.match(name):
        raise RgwError(f"user name {name!r}: use letters, digits, '_', '-' and '.', at most 64 characters")
    admin = [binaries["radosgw-admin"], "-c", str(paths.conf), "-n", "client.admin"]
    rgw_log = paths.log_file("radosgw")
    info = [*admin, "user", "info", f"--uid={name}"]
    found = subprocess.run(info, capture_output=True, text=True, timeout=60, check=False)
    if found.returncode == 0:
        out = found.stdout
    else:
        # Keys made by radosgw-admin itself: no secret on a command line that `ps` shows.
        create = [*admin, "user", "create", f"--uid={name}", f"--display-name={name}"]
        out = run_step(f"radosgw-admin user create {name}", create, rgw_log)
    keys = [key for key in json.loads(out)["keys"] if key.get("user") == name]
    if not keys:
        raise RgwError(f"radosgw-admin user info {name}: the user has no S3 key; read {rgw_log}")
    return RgwUser(user=name, access_key=keys[0]["access_key"], secret_key=keys[0]["secret_key"])


def create_user(name: str) -> RgwUser:
    """An S3 user on the running server (for tests that need a second, unprivileged key)."""
    state = status()
    with locked(layout()):
        return create_user_with(find_binaries(), Layout(Path(state.directory)), name)


def live_sessions(paths: LeasedDirectory) -> list[int]:
    sessions = []
    for lease in paths.leases.glob("*"):
        with contextlib.suppress(ValueError):
            pid = int(lease.name)
            if Path(f"/proc/{pid}").exists():
                sessions.append(pid)
                continue
        lease.unlink(missing_ok=True)  # a session that died without releasing
    return sessions


def release(session: int) -> list[str]:
    """End a pytest session's lease; the last session out stops a server that sessions started.

    Several sessions (engineers, worktrees) may share one server; none stops it under another's feet,
    and a server started by `ci/ceph_rgw.py start` is never stopped here. Returns what was stopped.
    """
    paths = layout()
    with locked(paths):
        (paths.leases / str(session)).unlink(missing_ok=True)
        state = read_state(paths)
        if state is None or state.owner != "session" or live_sessions(paths):
            return []
        stopped = stop_daemons(paths)
        remove_state(paths)
        return stopped


def stop() -> list[str]:
    """Stop the daemons this directory's state names and remove the state; returns what was stopped."""
    paths = layout()
    if not paths.root.is_dir():
        return []
    with locked(paths):
        stopped = stop_daemons(paths)
        remove_state(paths)
        return stopped


# --- command line -----------------------------------------------------------------------------------------


def summary(state: RgwState, started: bool) -> str:
    how = (
        f"started in {state.start_seconds:.1f}s"
        if started
        else f"already running (its start took {state.start_seconds:.1f}s)"
    )
    https = state.https_endpoint or f"none ({state.https_unavailable_reason})"
    return "\n".join(
        [
            f"Ceph RGW {how}: {state.ceph_version}",
            f"  http endpoint   {state.http_endpoint}",
            f"  https endpoint  {https}",
            f"  CA bundle       {state.ca_bundle or 'none'}",
            f"  access key      {state.access_key}",
            f"  secret key      {state.secret_key}",
            f"  region          {state.region} (path-style addressing)",
            f"  state and logs  {state.directory} (RGW log: {state.rgw_log})",
        ]
    )


def exports(state: RgwState) -> str:
    values = {
        "SITE_STORAGE_RGW_HTTP_ENDPOINT": state.http_endpoint,
        "SITE_STORAGE_RGW_HTTPS_ENDPOINT": state.https_endpoint or "",
        "SITE_STORAGE_RGW_CA_BUNDLE": state.ca_bundle or "",
        "SITE_STORAGE_RGW_ACCESS_KEY_ID": state.access_key,
        "SITE_STORAGE_RGW_SECRET_ACCESS_KEY": state.secret_key,
        "SITE_STORAGE_RGW_REGION": state.region,
    }
    lines = [f"export {name}={shlex.quote(value)}" for name, value in values.items()]
    if state.https_unavailable_reason:
        lines.append(f"# no https endpoint: {state.https_unavailable_reason}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="A throwaway Ceph RGW (S3) on 127.0.0.1 for the tests.")
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("start", "stop", "status", "env"):
        commands.add_parser(name)
    commands.add_parser("user", help="print an S3 user's keys as JSON").add_argument("name")
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            state, started = start()
            print(summary(state, started))
        elif args.command == "env":
            print(exports(status()))
        elif args.command == "status":
            state = status()
            print(f"running: {state.http_endpoint}, https {state.https_endpoint or 'none'}; pids {state.pids}")
        elif args.command == "user":
            print(json.dumps(asdict(create_user(args.name)), indent=2))
        else:
            stopped = stop()
            print(f"stopped {', '.join(stopped)}" if stopped else "nothing of ours was running")
    except RgwError as error:
        print(f"ceph_rgw {args.command}: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # e.g. a state directory it may not write
        print(f"ceph_rgw {args.command}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The 20 ms network in front of a real S3 server: tools/delayproxy, started and stopped for a benchmark.

    with delay_proxy("http://127.0.0.1:8333") as proxy:
        ...  # send requests to proxy.endpoint; proxy.cpu() is its CPU seconds so far

The proxy (Go, standard library only; built once by tools/gobuild.py into .tools/delayproxy/bin)
forwards bytes unchanged on 127.0.0.1 and holds each request 20 ms before passing it on (see its
doc comment: a request is what a client sends after the server last answered on a connection).
benchmarks/slow_s3.py is the moto-side equivalent (the delay inside moto's WSGI app); this one
leaves the server untouched, so any server can sit behind it, and its own CPU is measured apart.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from benchmarks.slow_s3 import DELAY_SECONDS, process_cpu

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class Proxy:
    endpoint: str
    """http://127.0.0.1:<port>: where clients send their requests."""
    pid: int

    def cpu(self) -> float:
        """The proxy's user + system CPU seconds so far (all its threads)."""
        return process_cpu(self.pid) or 0.0


def proxy_binary() -> Path:
    """tools/delayproxy built (seconds the first time, nothing after); its path."""
    built = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "gobuild.py"), "delayproxy", "--print-bin"],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise SystemExit(f"delay proxy: the build failed: {built.stderr.strip()}")
    return Path(built.stdout.strip()) / "delayproxy"


@contextmanager
def delay_proxy(target: str, delay_seconds: float = DELAY_SECONDS) -> Iterator[Proxy]:
    """A delaying proxy in front of `target` (an http:// endpoint on this machine), stopped on exit."""
    parts = urlsplit(target)
    if parts.scheme != "http" or parts.hostname not in ("127.0.0.1", "localhost") or parts.port is None:
        raise SystemExit(f"delay proxy: {target}: only http://127.0.0.1:PORT targets (this machine) are allowed")
    with tempfile.TemporaryDirectory(prefix="delayproxy-") as work:
        port_file = Path(work) / "port"
        command = [
            str(proxy_binary()),
            "-target",
            f"127.0.0.1:{parts.port}",
            "-delay",
            f"{delay_seconds * 1000:g}ms",
            "-port-file",
            str(port_file),
        ]
        with (Path(work) / "log").open("w") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not port_file.is_file():
                if process.poll() is not None or time.monotonic() > deadline:
                    output = (Path(work) / "log").read_text(errors="replace").strip()
                    raise SystemExit(f"delay proxy did not start: {output or 'no output'}")
                time.sleep(0.02)
            yield Proxy(f"http://127.0.0.1:{int(port_file.read_text())}", process.pid)
        finally:
            process.terminate()
            process.wait(timeout=10)

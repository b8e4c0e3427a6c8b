"""A stand-in for S3 over a network: moto in its own process, every request answered after 20 ms.

Shared by benchmarks/verify_bench.py and benchmarks/media_bench.py. On real S3 each request
waits tens of milliseconds on the network; a bare local server answers at once and shares this
machine's cores, so it would measure nothing useful.
"""

from __future__ import annotations

import logging
import os
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DELAY_SECONDS = 0.020
SERVER_START_TIMEOUT_SECONDS = 60


class Delayed:
    """WSGI middleware: every request waits `seconds` before the wrapped app answers it, and is counted."""

    def __init__(self, app: Callable[..., Iterable[bytes]], seconds: float, enabled: Any, count: Any) -> None:
        self.app = app
        self.seconds = seconds
        self.enabled = enabled
        """A multiprocessing Event: off while the stack is set up, on while verify is timed."""
        self.count = count

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if self.enabled.is_set():
            with self.count.get_lock():
                self.count.value += 1
            time.sleep(self.seconds)
        return self.app(environ, start_response)


def serve(ports: Any, delay_enabled: Any, count: Any) -> None:
    """The moto server process: 127.0.0.1, a free port (sent back through `ports`), a thread per connection."""
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from werkzeug.serving import make_server

    from tests.support.moto_verify import moto_gaps_closed

    class KeepAlive(MotoRequestHandler):
        # Like S3: connections stay open between requests, and no small write waits for an ACK.
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

    # moto's dispatcher lists its own package directory on disk for every request, under a lock
    # that serialises all requests; the list never changes, so the stand-in for S3 reads it once.
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with moto_gaps_closed():
        app = Delayed(DomainDispatcherApplication(create_backend_app), DELAY_SECONDS, delay_enabled, count)
        server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=KeepAlive)
        ports.put(server.server_port)
        server.serve_forever()


def post(url: str, body: bytes) -> None:
    # Not form-encoded: moto's API reads the raw body.
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of another process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / 100


@contextmanager
def cores_apart(server_pid: int, enabled: bool = True) -> Iterator[str]:
    """Server and client on a core each while timed, the way a remote S3 would never share ours.

    Left to the scheduler, the two processes migrate between this machine's two cores and
    queue behind each other on either; measured here that cost the concurrent run about a
    third of its time, and single runs varied twice as much. Yields a line for the report.
    """
    if not enabled:
        yield "placement: left to the scheduler (--shared-cores)"
        return
    if not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2:
        yield "placement: left to the scheduler (cannot pin processes to cores here)"
        return
    own = os.sched_getaffinity(0)
    client_core, server_core = sorted(own)[:2]
    os.sched_setaffinity(server_pid, {server_core})
    os.sched_setaffinity(0, {client_core})
    try:
        yield f"placement: verify (client) on core {client_core}, moto (server) on core {server_core}"
    finally:
        os.sched_setaffinity(0, own)

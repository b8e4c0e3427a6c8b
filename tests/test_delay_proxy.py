"""tools/delayproxy through benchmarks/delay_proxy.py: bytes forwarded unchanged, each request held once.

A plain HTTP server on 127.0.0.1 stands behind the proxy. The proxy needs Go to be built (seconds,
once): without Go these tests skip, and fail when SeaweedFS is required (CI, which has Go).
"""

from __future__ import annotations

import http.client
import http.server
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import pytest

from benchmarks.delay_proxy import delay_proxy, proxy_binary
from tests.support.seaweedfs import unavailable

DELAY = 0.05


class Echo(http.server.BaseHTTPRequestHandler):
    """Answers every request with what it received: method, path, Host header and body."""

    protocol_version = "HTTP/1.1"
    seen: ClassVar[list[str]] = []

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.seen.append(self.headers["Host"])
        answer = f"{self.command} {self.path} {self.headers['Host']} ".encode() + body
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def built() -> None:
    if shutil.which("go") is None:
        unavailable("Go is not installed: tools/delayproxy cannot be built")


@pytest.fixture
def origin() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_requests_arrive_unchanged_and_each_waits_the_delay_once(built: None, origin: str) -> None:
    body = os.urandom(200_000)  # several reads on the way: only the first one of a request waits
    with delay_proxy(origin, delay_seconds=DELAY) as proxy:
        port = int(proxy.endpoint.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        started = time.monotonic()
        for number in range(4):  # one kept-alive connection, as an SDK's pool keeps it
            connection.request("PUT", f"/bucket/key-{number}", body=body)
            answer = connection.getresponse().read()
            assert answer == f"PUT /bucket/key-{number} 127.0.0.1:{port} ".encode() + body
        elapsed = time.monotonic() - started
        connection.close()
        assert proxy.cpu() >= 0.0
    assert elapsed >= 4 * DELAY, "every request waits the delay"
    assert Echo.seen[-4:] == [f"127.0.0.1:{port}"] * 4, "the Host header reaches the server as the client sent it"


def test_the_proxy_refuses_to_listen_beyond_loopback(built: None) -> None:
    done = subprocess.run(
        [str(proxy_binary()), "-target", "127.0.0.1:1", "-listen", "0.0.0.0:0"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode != 0
    assert done.stderr.strip() == 'delayproxy: -listen "0.0.0.0:0": only a loopback address is allowed'


def test_delay_proxy_refuses_a_target_off_this_machine() -> None:
    with pytest.raises(SystemExit) as refused, delay_proxy("http://10.0.0.1:80"):
        pass
    assert "only http://127.0.0.1:PORT targets" in str(refused.value)

"""A fault-injecting HTTP/1.1 proxy on 127.0.0.1, standing between a client and an S3 server in the tests.

`FaultProxy(upstream)` listens on a free port of 127.0.0.1 and forwards every request to
`upstream` (a `http://host:port` URL, e.g. a moto server) until told to misbehave:

- `refuse()`: stop listening, so connecting is refused (ECONNREFUSED), as with nothing there;
  `accept()` listens on the same port again.
- `inject(fault, match=..., times=...)`: the next `times` requests that `match` meet `fault`:
  `Delay(seconds)` answers late (the server did act), `Status(503)` answers SlowDown without
  asking the server, `Reset(after_server=...)` resets the connection before the server saw the
  request or after it answered (the answer is lost: the server did act), `Stall()` never
  answers (`Stall(after_bytes)`: after the head and part of the body), `Cut(after_bytes)` sends
  the answer's head and part of its body, then closes.

Requests are read whole (Content-Length or chunked) before a fault is chosen, so a rule can
match the method and path; `Expect: 100-continue` is answered here, so a client never waits
for it. `seen` lists every request. Plain sockets and threads, no dependency: the faults
are what a client meets on a real network, which no in-process mock of botocore shows.
"""

from __future__ import annotations

import contextlib
import random
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

_HEAD_LIMIT = 64 * 1024
_BODYLESS_STATUSES = (204, 304)


@dataclass(frozen=True)
class Request:
    number: int
    """1 for the first request the proxy read, counting all connections."""
    method: str
    target: str
    """Path and query, as sent."""
    headers: dict[str, str]
    """Lower-case names."""

    @property
    def path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> str:
        return self.target.split("?", 1)[1] if "?" in self.target else ""


@dataclass(frozen=True)
class Delay:
    seconds: float


@dataclass(frozen=True)
class Status:
    code: int = 503
    error: str = "SlowDown"


@dataclass(frozen=True)
class Reset:
    after_server: bool = False
    """True: the server gets the request and answers, and the answer is lost (a lost PUT response)."""


@dataclass(frozen=True)
class Stall:
    """Never answer (the client's read timeout ends it); with `after_bytes`, stop mid-body instead."""

    after_bytes: int | None = None


@dataclass(frozen=True)
class Cut:
    after_bytes: int
    """Body bytes sent before the connection is closed (the head always goes out whole)."""


Fault = Delay | Status | Reset | Stall | Cut
Match = Callable[[Request], bool]


@dataclass
class Rule:
    fault: Fault
    match: Match
    times: int | None
    """Requests left to fault; None: every matching request."""
    hits: int = 0


def anything(_request: Request) -> bool:
    return True


def method(*names: str) -> Match:
    return lambda request: request.method in names


def path_contains(text: str, *, methods: tuple[str, ...] = ()) -> Match:
    return lambda request: text in request.target and (not methods or request.method in methods)


def fraction(share: float, seed: int) -> Match:
    """About `share` of all requests, drawn from a seeded generator (repeatable)."""
    draw = random.Random(seed)
    lock = threading.Lock()

    def match(_request: Request) -> bool:
        with lock:
            return draw.random() < share

    return match


@dataclass
class _Exchange:
    head: bytes
    body: bytes
    request: Request
    close: bool


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        assert parts.scheme == "http" and parts.hostname and parts.port, upstream
        self.upstream = (parts.hostname, parts.port)
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._count = 0
        self.seen: list[Request] = []
        self._sockets: set[socket.socket] = set()
        self._closed = threading.Event()
        self._listener: socket.socket | None = None
        self.port = 0
        self._listen()
        self._acceptor: threading.Thread | None = None
        self._start_accepting()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # Faults.

    def inject(self, fault: Fault, match: Match = anything, times: int | None = 1) -> Rule:
        rule = Rule(fault, match, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def refuse(self) -> None:
        """Close the listening socket: connections are refused until `accept`."""
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.close()
        if self._acceptor is not None:
            self._acceptor.join(timeout=5)
        self._drop_connections()

    def accept(self) -> None:
        if self._listener is None:
            self._listen()
            self._start_accepting()

    def close(self) -> None:
        self._closed.set()
        self.refuse()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # Plumbing.

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.2)
        self.port = listener.getsockname()[1]
        self._listener = listener

    def _start_accepting(self) -> None:
        listener = self._listener
        assert listener is not None
        self._acceptor = threading.Thread(target=self._accept_loop, args=(listener,), daemon=True)
        self._acceptor.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self._track(client)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _forget(self, sock: socket.socket | None) -> None:
        if sock is None:
            return
        with self._lock:
            self._sockets.discard(sock)
        with contextlib.suppress(OSError):
            sock.close()

    def _drop_connections(self) -> None:
        with self._lock:
            sockets, self._sockets = set(self._sockets), set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def _choose(self, request: Request) -> Fault | None:
        with self._lock:
            for rule in self._rules:
                if (rule.times is None or rule.hits < rule.times) and rule.match(request):
                    rule.hits += 1
                    return rule.fault
        return None

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        reader = _Reader(client)
        try:
            while not self._closed.is_set():
                exchange = self._read_request(reader, client)
                if exchange is None:
                    return
                fault = self._choose(exchange.request)
                if isinstance(fault, Status):
                    _send_error(client, fault)
                    continue
                if isinstance(fault, Stall) and fault.after_bytes is None:
                    self._closed.wait()
                    return
                if isinstance(fault, Reset) and not fault.after_server:
                    _reset(client)
                    return
                if upstream is None:
                    upstream = socket.create_connection(self.upstream, timeout=60)
                    self._track(upstream)
                upstream.sendall(exchange.head + exchange.body)
                head, body_chunks, close = _read_response(_Reader(upstream), exchange.request.method)
                if isinstance(fault, Reset):
                    _reset(client)
                    return
                if isinstance(fault, Delay):
                    time.sleep(fault.seconds)
                if isinstance(fault, Cut | Stall):
                    client.sendall(head)
                    sent, limit = 0, fault.after_bytes or 0
                    for chunk in body_chunks:
                        take = chunk[: max(0, limit - sent)]
                        if take:
                            client.sendall(take)
                            sent += len(take)
                        if sent >= limit:
                            break
                    if isinstance(fault, Stall):
                        self._closed.wait()  # the head and part of the body, then nothing
                    return
                client.sendall(head)
                for chunk in body_chunks:
                    client.sendall(chunk)
                if close or exchange.close:
                    return
        except OSError:
            return
        finally:
            self._forget(upstream)
            self._forget(client)

    def _read_request(self, reader: _Reader, client: socket.socket) -> _Exchange | None:
        head = reader.until(b"\r\n\r\n")
        if head is None:
            return None
        lines = head.decode("latin-1").split("\r\n")
        verb, target, _version = lines[0].split(" ", 2)
        headers = _headers(lines[1:])
        kept = [line for line in lines[1:] if line and not line.lower().startswith("expect:")]
        if headers.get("expect", "").lower() == "100-continue":
            client.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = b"".join(_body(reader, headers, bodyless=False))
        with self._lock:
            self._count += 1
            request = Request(self._count, verb, target, headers)
            self.seen.append(request)
        raw_head = "\r\n".join([lines[0], *kept]).encode("latin-1") + b"\r\n\r\n"
        return _Exchange(raw_head, body, request, headers.get("connection", "").lower() == "close")


class _Reader:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = b""

    def _fill(self) -> bool:
        data = self.sock.recv(256 * 1024)
        if not data:
            return False
        self.buffer += data
        return True

    def until(self, marker: bytes) -> bytes | None:
        while marker not in self.buffer:
            if len(self.buffer) > _HEAD_LIMIT or not self._fill():
                return None
        head, self.buffer = self.buffer.split(marker, 1)
        return head + marker

    def exactly(self, size: int) -> Iterator[bytes]:
        while size > 0:
            if not self.buffer and not self._fill():
                raise ConnectionError("the peer closed mid-body")
            take, self.buffer = self.buffer[:size], self.buffer[size:]
            size -= len(take)
            yield take

    def rest(self) -> Iterator[bytes]:
        if self.buffer:
            yield self.buffer
            self.buffer = b""
        while self._fill():
            yield self.buffer
            self.buffer = b""


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


def _body(reader: _Reader, headers: dict[str, str], *, bodyless: bool, to_close: bool = False) -> Iterator[bytes]:
    """The raw body bytes (chunked framing kept), as they are to be forwarded."""
    if bodyless:
        return
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = reader.until(b"\r\n")
            if size_line is None:
                raise ConnectionError("the peer closed mid-chunk")
            yield size_line
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers, then the empty line
                    trailer = reader.until(b"\r\n")
                    if trailer is None:
                        raise ConnectionError("the peer closed in the trailers")
                    yield trailer
                    if trailer == b"\r\n":
                        return
            yield from reader.exactly(size + 2)
    elif "content-length" in headers:
        yield from reader.exactly(int(headers["content-length"]))
    elif to_close:
        yield from reader.rest()


def _read_response(reader: _Reader, request_method: str) -> tuple[bytes, list[bytes], bool]:
    while True:
        head = reader.until(b"\r\n\r\n")
        if head is None:
            raise ConnectionError("the server closed without answering")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        if 100 <= status < 200:
            continue
        headers = _headers(lines[1:])
        bodyless = request_method == "HEAD" or status in _BODYLESS_STATUSES
        framed = "content-length" in headers or "chunked" in headers.get("transfer-encoding", "").lower()
        close = headers.get("connection", "").lower() == "close" or lines[0].startswith("HTTP/1.0")
        body = list(_body(reader, headers, bodyless=bodyless, to_close=not framed))
        return head, body, close or (not bodyless and not framed)


def _send_error(client: socket.socket, fault: Status) -> None:
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{fault.error}</Code>'
        f"<Message>injected by the fault proxy</Message></Error>"
    ).encode()
    head = (
        f"HTTP/1.1 {fault.code} {fault.error}\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    client.sendall(head + body)


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a middlebox or a crashed server does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()

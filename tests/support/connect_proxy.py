"""An HTTPS_PROXY for the tests: a CONNECT-only tunnelling proxy on 127.0.0.1 that writes down every tunnel.

`ConnectProxy()` listens on a free port; `url` is what HTTPS_PROXY takes. Each CONNECT is
answered 200 and piped to its target (or 403 while `refusing`); `tunnels` lists the
`host:port` of every tunnel asked for. It sees no plaintext: the client's TLS runs through the
tunnel to the server, as through a company proxy.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from types import TracebackType

_HEAD_LIMIT = 16 * 1024


class ConnectProxy:
    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.tunnels: list[str] = []
        self.refusing = False
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        threading.Thread(target=self._serve, daemon=True, name="connect-proxy").start()

    def __enter__(self) -> ConnectProxy:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for connection in list(self._open):
                with contextlib.suppress(OSError):
                    connection.close()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._tunnel, args=(client,), daemon=True).start()

    def _tunnel(self, client: socket.socket) -> None:
        with self._lock:
            self._open.add(client)
        try:
            head = b""
            while b"\r\n\r\n" not in head and len(head) < _HEAD_LIMIT:
                block = client.recv(4096)
                if not block:
                    return
                head += block
            method, target, *_ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            if method != "CONNECT":
                client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
                return
            with self._lock:
                self.tunnels.append(target)
            if self.refusing:
                client.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                return
            host, _, port = target.rpartition(":")
            upstream = socket.create_connection((host, int(port)), timeout=30)
            with self._lock:
                self._open.add(upstream)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(client, upstream)
        except (OSError, ValueError):
            return
        finally:
            with self._lock:
                for connection in [c for c in self._open if c is client or c.fileno() == -1]:
                    self._open.discard(connection)
            with contextlib.suppress(OSError):
                client.close()


def _pipe(one: socket.socket, other: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    with selectors.DefaultSelector() as selector:
        selector.register(one, selectors.EVENT_READ, other)
        selector.register(other, selectors.EVENT_READ, one)
        try:
            while True:
                for key, _ in selector.select(timeout=60):
                    source: socket.socket = key.fileobj  # type: ignore[assignment]
                    data = source.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        finally:
            other.close()

"""CPU per request of an S3 server: small PUT, GET, HEAD and a 1,000-key ListObjectsV2 page.

    python -m benchmarks.server_cpu --endpoint URL --pid PID [--pid PID ...] [--requests N]

The server's CPU is read from /proc/<pid>/stat (user + system, all its threads) before and after
each phase, for every process named by --pid (Ceph RGW is three: radosgw, ceph-osd, ceph-mon), so
what other work on a shared machine does in the meantime does not count, as wall time would.
Keys: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.

The client is kept cheap so it never bounds the server: every request is signed (SigV4 in the
Authorization header, as SDKs send it) before its phase starts, so botocore's cost stays out of
the timed part, and sent over plain http.client connections kept alive, from --threads threads.
The client's own CPU per request is printed too.
An idle phase of the same length as the PUT phase gives the server's background CPU (timers,
heartbeats), which is reported, not subtracted. Objects are 1 KiB; a bucket of its own is
created and, with its objects, deleted at the end.

With --proxy the requests go through the 20 ms delay proxy (benchmarks/delay_proxy.py) and its
CPU per request is measured the same way (use more --threads: each request then waits 20 ms).

Prints a table and one JSON line (the figures) as its last line.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import sys
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import boto3
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config

from benchmarks.delay_proxy import delay_proxy

OBJECT_SIZE = 1024
LIST_PAGE = 1000
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pids: Sequence[int]) -> float:
    """User + system CPU seconds of the processes (all their threads), from /proc."""
    total = 0.0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Phase:
    name: str
    requests: int
    seconds: float
    server_cpu: float
    client_cpu: float
    proxy_cpu: float = 0.0

    @property
    def server_ms(self) -> float:
        return 1000 * self.server_cpu / max(1, self.requests)

    @property
    def client_ms(self) -> float:
        return 1000 * self.client_cpu / max(1, self.requests)

    @property
    def proxy_ms(self) -> float:
        return 1000 * self.proxy_cpu / max(1, self.requests)


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None = None


def send_all(requests: Sequence[Request], threads: int) -> None:
    """Send every request over keep-alive connections; any status but 2xx stops the run."""
    parts = urlsplit(requests[0].url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    errors: list[str] = []
    next_index = iter(range(len(requests)))
    lock = threading.Lock()

    def worker() -> None:
        connection = http.client.HTTPConnection(host, port, timeout=60)
        while not errors:
            with lock:
                index = next(next_index, None)
            if index is None:
                break
            request = requests[index]
            target = urlsplit(request.url)
            path = target.path + (f"?{target.query}" if target.query else "")
            connection.request(request.method, path, body=request.body, headers=request.headers)
            answer = connection.getresponse()
            answer.read()
            if not 200 <= answer.status < 300:
                errors.append(f"{request.method} {path.split('?')[0]}: HTTP {answer.status}")
        connection.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    if errors:
        raise SystemExit(f"server_cpu: {errors[0]}")


def timed(name: str, requests: Sequence[Request], pids: Sequence[int], threads: int, proxy: Sequence[int]) -> Phase:
    server, client, relay, started = process_cpu(pids), own_cpu(), process_cpu(proxy), time.perf_counter()
    send_all(requests, threads)
    return Phase(
        name,
        len(requests),
        time.perf_counter() - started,
        process_cpu(pids) - server,
        own_cpu() - client,
        process_cpu(proxy) - relay,
    )


def idle(seconds: float, pids: Sequence[int]) -> Phase:
    server = process_cpu(pids)
    time.sleep(seconds)
    return Phase("idle (same length as PUT)", 0, seconds, process_cpu(pids) - server, 0.0)


def measure(
    endpoint: str, pids: Sequence[int], count: int, pages: int, threads: int, proxy: Sequence[int] = ()
) -> list[Phase]:
    """The phases, sent to `endpoint` (the server, or a delay proxy whose pid is in `proxy`)."""
    s3: Any = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    bucket = f"cpu-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    keys = [f"thumbs/{index % 50:02d}/img-{index:06d}.jpg" for index in range(max(count, LIST_PAGE))]
    body = os.urandom(OBJECT_SIZE)

    signer = S3SigV4Auth(s3._request_signer._credentials.get_frozen_credentials(), "s3", s3.meta.region_name)

    def signed(method: str, path: str, query: str = "") -> Request:
        """Signed in the Authorization header (SigV4, payload hash included), as an SDK sends it."""
        url = f"{endpoint}/{bucket}/{quote(path)}" + (f"?{query}" if query else "")
        payload = body if method == "PUT" else None
        request = AWSRequest(method=method, url=url, data=payload or b"")
        signer.add_auth(request)
        headers = dict(request.headers.items())
        if payload is not None:
            headers["Content-Length"] = str(len(payload))
        return Request(method, url, headers, payload)

    phases: list[Phase] = []
    try:
        puts = [signed("PUT", key) for key in keys]
        phases.append(timed("PUT 1 KiB", puts, pids, threads, proxy))
        phases.append(idle(phases[0].seconds, pids))
        gets = [signed("GET", key) for key in keys[:count]]
        phases.append(timed("GET 1 KiB", gets, pids, threads, proxy))
        heads = [signed("HEAD", key) for key in keys[:count]]
        phases.append(timed("HEAD", heads, pids, threads, proxy))
        listing = [signed("GET", "", f"list-type=2&max-keys={LIST_PAGE}") for _ in range(pages)]
        phases.append(timed(f"LIST page of {LIST_PAGE} keys", listing, pids, threads, proxy))
    finally:
        for start in range(0, len(keys), 1000):
            s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key} for key in keys[start : start + 1000]]})
        s3.delete_bucket(Bucket=bucket)
    return phases


def report(label: str, phases: Sequence[Phase], print_line: Callable[[str], None] = print) -> None:
    print_line(f"{label}: server CPU per request from /proc (all its processes), client CPU beside it")
    proxied = any(phase.proxy_cpu for phase in phases)
    extra = f" {'proxy ms/req':>13}" if proxied else ""
    print_line(
        f"{'phase':<28} {'requests':>8} {'seconds':>8} {'req/s':>7} {'server ms/req':>14} {'client ms/req':>14}{extra}"
    )
    for phase in phases:
        rate = phase.requests / phase.seconds if phase.requests else 0.0
        server = f"{phase.server_ms:.3f}" if phase.requests else f"{phase.server_cpu:.2f} s"
        client = f"{phase.client_ms:.3f}" if phase.requests else "-"
        proxy = (f" {phase.proxy_ms:>13.3f}" if phase.requests else f" {'-':>13}") if proxied else ""
        print_line(
            f"{phase.name:<28} {phase.requests:>8} {phase.seconds:>8.2f} {rate:>7.0f} {server:>14} {client:>14}{proxy}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.server_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--pid", type=int, action="append", required=True, help="a server process (repeatable)")
    parser.add_argument("--label", default="server")
    parser.add_argument("--requests", type=int, default=2000, help="PUTs, GETs and HEADs each (default 2000)")
    parser.add_argument("--pages", type=int, default=50, help="1,000-key list pages (default 50)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--proxy", action="store_true", help="send through the 20 ms delay proxy (benchmarks/delay_proxy.py)"
    )
    args = parser.parse_args(argv)
    if args.proxy:
        with delay_proxy(args.endpoint) as proxy:
            phases = measure(proxy.endpoint, args.pid, args.requests, args.pages, args.threads, [proxy.pid])
    else:
        phases = measure(args.endpoint, args.pid, args.requests, args.pages, args.threads)
    report(args.label, phases)
    print(json.dumps({"label": args.label, "phases": [asdict(phase) for phase in phases]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

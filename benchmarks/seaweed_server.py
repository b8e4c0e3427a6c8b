"""A SeaweedFS server of the benchmark's own: temp data, free ports on 127.0.0.1, stopped on exit.

    with seaweed_server() as server:
        ...  # server.endpoint, server.access_key/secret_key (its admin), server.cpu(), server.requests()

Never the shared test server (ci/seaweedfs.py's, /tmp/site-storage-seaweedfs): a benchmark that
empties buckets and measures CPU must have the process to itself. The command line is
ci/seaweedfs.py's (same binary, same flags) plus a Prometheus metrics port, which gives the S3
requests the server answered (`SeaweedFS_s3_request_total`, summed over its labels): the
count the bench divides CPU by, read from the server, not guessed from the client.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.slow_s3 import process_cpu
from ci import seaweedfs
from ci.ceph_rgw import answers_s3, free_port, stop_pid

START_TIMEOUT_SECONDS = 60
REQUEST_METRIC = "SeaweedFS_s3_request_total"


def s3_requests(metrics: str) -> int:
    """The S3 requests answered so far: the sum of every `SeaweedFS_s3_request_total{...}` sample.

    Prometheus text format: `# HELP`/`# TYPE` comments, then `name{labels} value` lines; the
    counter has one sample per (type, code, bucket), so the total is their sum.
    """
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(REQUEST_METRIC) and line[len(REQUEST_METRIC) : len(REQUEST_METRIC) + 1] in ("{", " "):
            total += float(line.rsplit(maxsplit=1)[1])
    return int(total)


@dataclass(frozen=True)
class Server:
    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    pid: int
    metrics_url: str
    version: str

    def cpu(self) -> float:
        """User + system CPU seconds of the weed process (master, volume, filer and S3 gateway in one)."""
        return process_cpu(self.pid) or 0.0

    def requests(self) -> int:
        with urllib.request.urlopen(self.metrics_url, timeout=30) as answer:
            return s3_requests(answer.read().decode())


@contextmanager
def seaweed_server() -> Iterator[Server]:
    with tempfile.TemporaryDirectory(prefix="bench-seaweedfs-") as work:
        paths = seaweedfs.Layout(Path(work))
        try:
            binary = seaweedfs.find_weed()
            version = seaweedfs.weed_version(binary)
        except seaweedfs.SeaweedError as error:
            raise SystemExit(f"SeaweedFS for the benchmark: {error}") from None
        for directory in (paths.data, paths.log):
            directory.mkdir(parents=True)
        admin = seaweedfs.new_user("bench-admin")
        seaweedfs.write_private(paths.config, json.dumps(seaweedfs.s3_config(admin, []), indent=2))
        ports = {name: free_port() for name in seaweedfs.PORTS}
        metrics_port = free_port()
        command = [
            *seaweedfs.command(binary, paths, ports),
            f"-metricsIp={seaweedfs.HOST}",
            f"-metricsPort={metrics_port}",
        ]
        log_file = paths.log / "weed.log"
        with log_file.open("w") as log:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        endpoint = f"http://{seaweedfs.HOST}:{ports['s3']}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while (reason := answers_s3(endpoint, admin.access_key, admin.secret_key, None)) is not None:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"SeaweedFS did not start ({reason}): {seaweedfs.tail(log_file)}")
                time.sleep(0.2)
            yield Server(
                endpoint,
                admin.access_key,
                admin.secret_key,
                process.pid,
                f"http://{seaweedfs.HOST}:{metrics_port}/metrics",
                version,
            )
        finally:
            stop_pid(process.pid, str(paths.config))
            process.wait(timeout=30)

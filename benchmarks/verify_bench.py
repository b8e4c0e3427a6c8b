"""Benchmark: `storagectl verify` serial against concurrent, on moto answering every request after 20 ms.

On real S3 each request waits tens of milliseconds on the network; a bare local server
answers at once and shares this machine's cores, so it would measure nothing useful. The moto
server here runs in its own process behind a WSGI middleware that sleeps 20 ms before each
answer, standing in for the network. Both runs check the same deployed sites in one go, with
moto enforcing IAM, and must pass every check (or the figures would describe a broken run).

What limits the concurrent run is CPU: botocore on the client side and moto on the server side
each spend a few milliseconds per request. The report prints that CPU beside the times, so a
figure measured on a busy machine can be told from one measured on an idle one.

Run: `python -m benchmarks.verify_bench [--sites N]` (`make bench` calls `main()`).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.config import parse_settings
from storagectl.offline import evaluate_values
from storagectl.verify.outputs import parse_outputs
from storagectl.verify.plan import Credentials, VerifyPlan, build_plan
from storagectl.verify.runner import DEFAULT_CONCURRENCY, run_checks

SITES = 60
DELAY_SECONDS = 0.020
STACK = "verify-bench"
SERVER_START_TIMEOUT_SECONDS = 60


def stack_values(sites: int) -> dict[str, Any]:
    """N AWS sites, all with a private bucket, every third with CORS (as `read_stack_file` returns values)."""
    return {
        "region": "aws-eu-central-1",
        "bucket_prefix": "bench-media",
        "protect": True,
        "max_sites": sites,
        "sites": {
            f"site-{index:03d}": {"cors": {"origins": [f"https://www.site{index}.example"]}} if index % 3 == 0 else {}
            for index in range(sites)
        },
    }


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


def _post(url: str, body: bytes) -> None:
    # Not form-encoded: moto's API reads the raw body.
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def _process_cpu(pid: int) -> float | None:
    """User + system CPU seconds of another process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / 100


@dataclass(frozen=True)
class Run:
    concurrency: int
    seconds: float
    requests: int
    client_cpu: float
    server_cpu: float | None


def timed_run(plan: VerifyPlan, concurrency: int, operator: Credentials, server_pid: int, count: Any) -> Run:
    requests, client_cpu, server_cpu = count.value, time.process_time(), _process_cpu(server_pid)
    started = time.perf_counter()
    results = run_checks(plan, concurrency=concurrency, operator=operator)
    seconds = time.perf_counter() - started
    failed = [f"{r.site} {r.check}: {r.status}: {r.reason}" for r in results if not r.ok]
    if failed:
        raise SystemExit(
            "verify did not pass on the benchmark stack, figures would mean nothing:\n" + "\n".join(failed)
        )
    server_after = _process_cpu(server_pid)
    return Run(
        concurrency,
        seconds,
        count.value - requests,
        time.process_time() - client_cpu,
        server_after - server_cpu if server_after is not None and server_cpu is not None else None,
    )


def report(sites: int, runs: list[Run]) -> None:
    print(f"storagectl verify: {sites} sites on moto (own process), every request answered after 20 ms, IAM enforced")
    print(f"{'concurrency':>11} {'seconds':>8} {'sites/s':>8} {'requests':>9} {'client CPU':>11} {'server CPU':>11}")
    for run in runs:
        server = f"{run.server_cpu:>10.2f}s" if run.server_cpu is not None else f"{'?':>11}"
        print(
            f"{run.concurrency:>11} {run.seconds:>8.2f} {sites / run.seconds:>8.2f} {run.requests:>9} "
            f"{run.client_cpu:>10.2f}s {server}"
        )
    serial, concurrent = runs
    print(f"speed-up at concurrency {concurrent.concurrency}: {serial.seconds / concurrent.seconds:.1f}x (target 8x)")
    if concurrent.server_cpu is not None:
        cpu = concurrent.client_cpu + concurrent.server_cpu
        per_request = 1000 * cpu / max(1, concurrent.requests)
        print(
            f"concurrent run: {per_request:.1f} ms CPU per request (client + server) against 20 ms of waiting; "
            f"{cpu:.1f}s CPU in {concurrent.seconds:.1f}s = {cpu / concurrent.seconds:.1f} cores busy"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.verify_bench", description=__doc__)
    parser.add_argument("--sites", type=int, default=SITES, help=f"sites to deploy and verify (default {SITES})")
    sites = max(2, parser.parse_args(argv or []).sites)

    from tests.support.moto_verify import deploy

    values = stack_values(sites)
    settings = parse_settings(values, stack=STACK, source="benchmarks/verify_bench.py")
    evaluation = evaluate_values(settings, values, frozenset())

    context = multiprocessing.get_context("spawn")
    ports = context.Queue()
    delay_enabled = context.Event()
    count = context.Value("l", 0)
    server = context.Process(target=serve, args=(ports, delay_enabled, count), daemon=True)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{ports.get(timeout=SERVER_START_TIMEOUT_SECONDS)}"
        deployment = deploy(evaluation, endpoint)
        _post(f"{endpoint}/moto-api/reset-auth", b"0")  # from now on moto enforces IAM
        outputs = parse_outputs(deployment.outputs(), source="benchmark", stack=STACK)
        plan = build_plan(settings, outputs, (), endpoint)
        operator = Credentials(deployment.operator.key_id, deployment.operator.secret)
        pid = server.pid or 0
        # botocore's models load once per process: outside the timings.
        timed_run(build_plan(settings, outputs, [plan.sites[0].slug], endpoint), 1, operator, pid, count)
        delay_enabled.set()
        runs = [timed_run(plan, concurrency, operator, pid, count) for concurrency in (1, DEFAULT_CONCURRENCY)]
    finally:
        server.terminate()
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
            server.join(timeout=10)
    report(sites, runs)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])

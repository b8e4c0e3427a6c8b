"""Benchmark: `storagectl verify` serial against concurrent, on moto answering every request after 20 ms.

On real S3 each request waits tens of milliseconds on the network; a bare local server
answers at once and shares this machine's cores, so it would measure nothing useful. The moto
server here runs in its own process behind a WSGI middleware that sleeps 20 ms before each
answer, standing in for the network. Both runs check the same deployed sites in one go, with
moto enforcing IAM, and must pass every check (or the figures would describe a broken run).

What limits the concurrent run is CPU: botocore on the client side and moto on the server side
each spend one to two milliseconds per request. The report prints that CPU beside the times, so
a figure measured on a busy machine can be told from one measured on an idle one. Serial and
concurrent runs alternate, three of each by default, and the speed-up is the ratio of their
medians: on a shared virtual machine single runs vary by 10-20%.

While timed, client and server run on a core each (see `cores_apart`); `--shared-cores` leaves
them to the scheduler, for comparison.

Run: `python -m benchmarks.verify_bench [--sites N] [--repeats N] [--shared-cores]` (`make bench`
calls `main()`).
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import time
from dataclasses import dataclass
from typing import Any

from benchmarks.slow_s3 import SERVER_START_TIMEOUT_SECONDS, cores_apart, post, process_cpu, serve
from components.config import parse_settings
from storagectl.offline import evaluate_values
from storagectl.verify.outputs import parse_outputs
from storagectl.verify.plan import Credentials, VerifyPlan, build_plan
from storagectl.verify.runner import DEFAULT_CONCURRENCY, run_checks

SITES = 60
REPEATS = 3
TARGET_SPEED_UP = 8.0
STACK = "verify-bench"


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


@dataclass(frozen=True)
class Run:
    concurrency: int
    seconds: float
    requests: int
    client_cpu: float
    server_cpu: float | None


def timed_run(plan: VerifyPlan, concurrency: int, operator: Credentials, server_pid: int, count: Any) -> Run:
    requests, client_cpu, server_cpu = count.value, time.process_time(), process_cpu(server_pid)
    started = time.perf_counter()
    results = run_checks(plan, concurrency=concurrency, operator=operator)
    seconds = time.perf_counter() - started
    failed = [f"{r.site} {r.check}: {r.status}: {r.reason}" for r in results if not r.ok]
    if failed:
        raise SystemExit(
            "verify did not pass on the benchmark stack, figures would mean nothing:\n" + "\n".join(failed)
        )
    server_after = process_cpu(server_pid)
    return Run(
        concurrency,
        seconds,
        count.value - requests,
        time.process_time() - client_cpu,
        server_after - server_cpu if server_after is not None and server_cpu is not None else None,
    )


def speed_up(runs: list[Run]) -> tuple[float, float, float]:
    """Median serial seconds, median concurrent seconds, and their ratio."""
    serial = statistics.median(run.seconds for run in runs if run.concurrency == 1)
    concurrent = statistics.median(run.seconds for run in runs if run.concurrency != 1)
    return serial, concurrent, serial / concurrent


def report(sites: int, runs: list[Run]) -> None:
    """Prints the runs, the speed-up and its verdict (a benchmark measures: a missed target is not an error)."""
    print(f"storagectl verify: {sites} sites on moto (own process), every request answered after 20 ms, IAM enforced")
    print(f"{'concurrency':>11} {'seconds':>8} {'sites/s':>8} {'requests':>9} {'client CPU':>11} {'server CPU':>11}")
    for run in runs:
        server = f"{run.server_cpu:>10.2f}s" if run.server_cpu is not None else f"{'?':>11}"
        print(
            f"{run.concurrency:>11} {run.seconds:>8.2f} {sites / run.seconds:>8.2f} {run.requests:>9} "
            f"{run.client_cpu:>10.2f}s {server}"
        )
    serial, concurrent, ratio = speed_up(runs)
    concurrency = max(run.concurrency for run in runs)
    met = ratio >= TARGET_SPEED_UP
    print(
        f"speed-up at concurrency {concurrency}: {ratio:.1f}x (median {serial:.2f}s / median {concurrent:.2f}s; "
        f"target {TARGET_SPEED_UP:.0f}x: {'PASS' if met else 'FAIL'})"
    )
    concurrent_runs = [run for run in runs if run.concurrency != 1 and run.server_cpu is not None]
    if concurrent_runs:
        cpu = statistics.median(run.client_cpu + (run.server_cpu or 0.0) for run in concurrent_runs)
        seconds = statistics.median(run.seconds for run in concurrent_runs)
        per_request = 1000 * cpu / max(1, concurrent_runs[0].requests)
        print(
            f"concurrent runs (medians): {per_request:.1f} ms CPU per request (client + server) against 20 ms of "
            f"waiting; {cpu:.1f}s CPU in {seconds:.1f}s = {cpu / seconds:.1f} cores busy"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.verify_bench", description=__doc__)
    parser.add_argument("--sites", type=int, default=SITES, help=f"sites to deploy and verify (default {SITES})")
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"runs of each kind (default {REPEATS})")
    parser.add_argument(
        "--shared-cores", action="store_true", help="leave client and server to the scheduler instead of a core each"
    )
    arguments = parser.parse_args(argv or [])
    sites, repeats = max(2, arguments.sites), max(1, arguments.repeats)

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
        post(f"{endpoint}/moto-api/reset-auth", b"0")  # from now on moto enforces IAM
        outputs = parse_outputs(deployment.outputs(), source="benchmark", stack=STACK)
        plan = build_plan(settings, outputs, (), endpoint)
        operator = Credentials(deployment.operator.key_id, deployment.operator.secret)
        pid = server.pid or 0
        # Outside the timings: botocore's models load once per process, and moto imports and
        # compiles what a request needs the first time; two sites take every path (isolation too).
        warm_up = build_plan(settings, outputs, [site.slug for site in plan.sites[:2]], endpoint)
        timed_run(warm_up, 1, operator, pid, count)
        delay_enabled.set()
        with cores_apart(pid, enabled=not arguments.shared_cores) as placement:
            runs = [
                timed_run(plan, concurrency, operator, pid, count)
                for _ in range(repeats)
                for concurrency in (1, DEFAULT_CONCURRENCY)
            ]
    finally:
        server.terminate()
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
            server.join(timeout=10)
    report(sites, runs)
    print(placement)
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))

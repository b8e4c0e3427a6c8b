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

`--servers moto,seaweedfs` (the default) runs the same measurement on SeaweedFS too: a server of
the bench's own (benchmarks/seaweed_server.py) behind the 20 ms delay proxy, with a
custom-endpoint stack of the same sites whose buckets the provider code creates. There every site
uses the stack's one key (SeaweedFS's admin key: a custom endpoint has no IAM to make per-site
keys), so verify's isolation checks do not apply and each site takes fewer requests than on moto;
the speed-up is measured the same way. Its requests are the server's own count (Prometheus).

Run: `python -m benchmarks.verify_bench [--sites N] [--repeats N] [--concurrency N] [--shared-cores] [--servers ...]`
(`make bench` calls `main()`). Figures and targets: `.bench/verify.json`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.placement import Sides
from benchmarks.placement import cores_apart as pinned_apart
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
SERVERS = ("moto", "seaweedfs")
SCHEDULER = "placement: left to the scheduler (--shared-cores)"
RESULTS = Path(__file__).resolve().parent.parent / ".bench" / "verify.json"


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


def custom_stack_values(sites: int, endpoint: str, key_id: str, secret: str) -> dict[str, Any]:
    """The same sites on a custom endpoint, every site with the stack's one key."""
    aws = stack_values(sites)
    return {
        "region": "custom",
        "endpoint": endpoint,
        "path_style": True,
        "bucket_prefix": "bench",
        "access_key_id": key_id,
        "secret_access_key": secret,
        "max_sites": sites,
        "sites": aws["sites"],
    }


@dataclass(frozen=True)
class Run:
    concurrency: int
    seconds: float
    requests: int
    client_cpu: float
    server_cpu: float | None
    proxy_cpu: float = 0.0


@dataclass
class Setup:
    """A server with the stack deployed: what verify checks, and how a run is measured."""

    name: str
    description: str
    plan: VerifyPlan
    warm_up: VerifyPlan
    operator: Credentials
    sides: Sides
    placement: Callable[[bool], Any]
    """A context manager factory: client and server on a core each (or not, with --shared-cores)."""
    delay: Callable[[], None] = field(default=lambda: None)
    """Turns the 20 ms on after the warm-up (moto's is in-process; the proxy's is always on)."""


def timed_run(plan: VerifyPlan, concurrency: int, operator: Credentials, sides: Sides) -> Run:
    requests, client_cpu, server_cpu, proxy_cpu = (
        sides.requests(),
        time.process_time(),
        sides.server_cpu(),
        sides.proxy_cpu(),
    )
    started = time.perf_counter()
    results = run_checks(plan, concurrency=concurrency, operator=operator)
    seconds = time.perf_counter() - started
    failed = [f"{r.site} {r.check}: {r.status}: {r.reason}" for r in results if not r.ok]
    if failed:
        raise SystemExit(
            "verify did not pass on the benchmark stack, figures would mean nothing:\n" + "\n".join(failed)
        )
    return Run(
        concurrency,
        seconds,
        sides.requests() - requests,
        time.process_time() - client_cpu,
        sides.server_cpu() - server_cpu,
        sides.proxy_cpu() - proxy_cpu,
    )


def speed_up(runs: list[Run]) -> tuple[float, float, float]:
    """Median serial seconds, median concurrent seconds, and their ratio."""
    serial = statistics.median(run.seconds for run in runs if run.concurrency == 1)
    concurrent = statistics.median(run.seconds for run in runs if run.concurrency != 1)
    return serial, concurrent, serial / concurrent


def report(sites: int, runs: list[Run], description: str) -> None:
    """Prints the runs, the speed-up and its verdict (a benchmark measures: a missed target is not an error)."""
    print(f"storagectl verify: {sites} sites on {description}")
    print(
        f"{'concurrency':>11} {'seconds':>8} {'sites/s':>8} {'requests':>9} {'client CPU':>11} {'server CPU':>11}"
        f" {'proxy CPU':>10}"
    )
    for run in runs:
        server = f"{run.server_cpu:>10.2f}s" if run.server_cpu is not None else f"{'?':>11}"
        print(
            f"{run.concurrency:>11} {run.seconds:>8.2f} {sites / run.seconds:>8.2f} {run.requests:>9} "
            f"{run.client_cpu:>10.2f}s {server} {run.proxy_cpu:>9.2f}s"
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
        client_busy = statistics.median(run.client_cpu / run.seconds for run in concurrent_runs)
        server_busy = statistics.median(
            ((run.server_cpu or 0.0) + run.proxy_cpu) / run.seconds for run in concurrent_runs
        )
        print(
            f"concurrent runs (medians): {per_request:.1f} ms CPU per request (client + server) against 20 ms of "
            f"waiting; {cpu:.1f}s CPU in {seconds:.1f}s = {cpu / seconds:.1f} cores busy "
            f"(client core {client_busy:.0%}, server core {server_busy:.0%} with the proxy)"
        )


def summary(sites: int, runs: list[Run], setup: Setup, placement: str) -> dict[str, Any]:
    """One server's figures for .bench/verify.json."""
    serial, concurrent, ratio = speed_up(runs)
    concurrent_runs = [run for run in runs if run.concurrency != 1]
    return {
        "description": setup.description,
        "placement": placement,
        "sites": sites,
        "runs": [asdict(run) for run in runs],
        "serial_median_seconds": round(serial, 3),
        "concurrent_median_seconds": round(concurrent, 3),
        "speed_up": round(ratio, 2),
        "met": ratio >= TARGET_SPEED_UP,
        "concurrent_client_core_busy": round(statistics.median(r.client_cpu / r.seconds for r in concurrent_runs), 3),
        "concurrent_server_core_busy": round(
            statistics.median(((r.server_cpu or 0.0) + r.proxy_cpu) / r.seconds for r in concurrent_runs), 3
        ),
        "requests_per_run": concurrent_runs[0].requests,
    }


@contextmanager
def moto_setup(sites: int) -> Iterator[Setup]:
    """moto with the 20 ms inside and IAM enforced, the AWS stack's sites deployed with keys of their own."""
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
        pid = server.pid or 0
        yield Setup(
            name="moto",
            description="moto (own process), every request answered after 20 ms, IAM enforced",
            plan=plan,
            # Two sites take every path (isolation too).
            warm_up=build_plan(settings, outputs, [site.slug for site in plan.sites[:2]], endpoint),
            operator=Credentials(deployment.operator.key_id, deployment.operator.secret),
            sides=Sides(lambda: int(count.value), lambda: process_cpu(pid) or 0.0),
            placement=lambda enabled: cores_apart(pid, enabled=enabled),
            delay=delay_enabled.set,
        )
    finally:
        server.terminate()
        server.join(timeout=10)
        if server.is_alive():
            server.kill()
            server.join(timeout=10)


@contextmanager
def seaweedfs_setup(sites: int) -> Iterator[Setup]:
    """A SeaweedFS of the bench's own behind the 20 ms proxy, the sites on a custom-endpoint stack."""
    import boto3
    from botocore.config import Config

    from benchmarks.delay_proxy import delay_proxy
    from benchmarks.seaweed_server import seaweed_server
    from components.generic_s3.connection import Clients
    from components.generic_s3.connection import Credentials as ProviderCredentials
    from storagectl.provision import provision

    with seaweed_server() as server, delay_proxy(server.endpoint) as proxy:
        values = custom_stack_values(sites, server.endpoint, server.access_key, server.secret_key)
        settings = parse_settings(
            values, stack=STACK, source="benchmarks/verify_bench.py", secret_keys=frozenset({"secret_access_key"})
        )
        evaluation = evaluate_values(settings, values, frozenset({"secret_access_key"}))
        provision(evaluation.resources, Clients(ProviderCredentials(server.access_key, server.secret_key)))
        outputs = parse_outputs(evaluation.outputs, source="benchmark", stack=STACK)
        plan = build_plan(settings, outputs, (), proxy.endpoint)
        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=server.access_key,
            aws_secret_access_key=server.secret_key,
            config=Config(s3={"addressing_style": "path"}),
        )
        for site in plan.sites:
            for bucket in (site.public, site.private):
                if bucket is not None:
                    # SeaweedFS grows a volume for a bucket's first object (seconds): not while timed.
                    s3.put_object(Bucket=bucket.name, Key="warm-up", Body=b"x")
                    s3.delete_object(Bucket=bucket.name, Key="warm-up")
        pids = [server.pid, proxy.pid]
        yield Setup(
            name="seaweedfs",
            description=(
                "SeaweedFS (one `weed server` process) behind the delay proxy, 20 ms per request, "
                "custom-endpoint stack (the stack's one key: no isolation checks)"
            ),
            plan=plan,
            warm_up=build_plan(settings, outputs, [site.slug for site in plan.sites[:2]], proxy.endpoint),
            operator=Credentials(server.access_key, server.secret_key),
            sides=Sides(server.requests, server.cpu, proxy.cpu),
            placement=lambda enabled: (
                pinned_apart(pids) if enabled else nullcontext("placement: left to the scheduler")
            ),
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.verify_bench", description=__doc__)
    parser.add_argument("--sites", type=int, default=SITES, help=f"sites to deploy and verify (default {SITES})")
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"runs of each kind (default {REPEATS})")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help=f"of the concurrent runs (default {DEFAULT_CONCURRENCY}, verify's own default)",
    )
    parser.add_argument(
        "--shared-cores", action="store_true", help="leave client and server to the scheduler instead of a core each"
    )
    parser.add_argument(
        "--servers", default=",".join(SERVERS), help=f"comma-separated, run in this order (default {','.join(SERVERS)})"
    )
    arguments = parser.parse_args(argv or [])
    sites, repeats, concurrency = max(2, arguments.sites), max(1, arguments.repeats), max(2, arguments.concurrency)
    servers = [name.strip() for name in arguments.servers.split(",") if name.strip()]
    if not servers or any(name not in SERVERS for name in servers):
        parser.error(f"--servers {arguments.servers}: allowed are {', '.join(SERVERS)}")

    started, load = datetime.now(UTC), os.getloadavg()
    document: dict[str, Any] = {
        "bench": "verify",
        "command": "python -m benchmarks.verify_bench" + (f" {' '.join(argv)}" if argv else ""),
        "started": started.isoformat(timespec="seconds"),
        "load_average_at_start": [round(value, 2) for value in load],
        "cores": os.cpu_count(),
        "concurrency": concurrency,
        "target_speed_up": TARGET_SPEED_UP,
        "servers": {},
    }
    for name in servers:
        with ExitStack() as stack:
            setup = stack.enter_context(moto_setup(sites) if name == "moto" else seaweedfs_setup(sites))
            # Outside the timings: botocore's models load once per process, and the server does
            # the first time's work (moto imports and compiles) of what a request needs.
            timed_run(setup.warm_up, 1, setup.operator, setup.sides)
            setup.delay()
            with setup.placement(not arguments.shared_cores) as placement:
                runs = [
                    timed_run(setup.plan, workers, setup.operator, setup.sides)
                    for _ in range(repeats)
                    for workers in (1, concurrency)
                ]
        report(sites, runs, setup.description)
        print(placement)
        document["servers"][name] = summary(sites, runs, setup, placement)
    document["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"figures and targets: .bench/{RESULTS.name}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))

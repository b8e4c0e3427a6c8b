"""Client CPU per request of candidate S3 clients, against one server (not adopted: measured for issue 19).

    python -m benchmarks.client_cpu --endpoint URL [--objects N] [--size BYTES] [--concurrency N]
                                    [--clients botocore,s3transfer-crt,awscrt,obstore] [--proxy]

Each client runs in its own interpreter (benchmarks/client_cpu_child.py) from `.venv-clients/`, a
virtualenv made here with pinned packages (git-ignored): the project's boto3 and botocore with
botocore's `crt` extra (awscrt, as `boto3[crt]` installs it) and obstore. The clients:

- botocore: boto3's client as `storagectl media` uses it (storagectl's Clients configuration, one
  client shared by a pool of threads), PutObject with a canned ACL and Content-Type, GetObject,
  HeadObject.
- s3transfer-crt: boto3[crt]'s transfer manager (s3transfer.crt.CRTTransferManager): botocore
  serialises each request, the AWS CRT signs and sends it.
- awscrt: the CRT's S3 client driven directly, each request built by hand (the least Python per
  request an awscrt-based engine could have).
- obstore: Rust's object_store behind asyncio (no canned-ACL option: its PUTs carry none).

The server's CPU is not measured here (benchmarks/server_cpu.py does that); with --proxy the
requests go through the 20 ms delay proxy, as they would over a network. Keys:
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.delay_proxy import delay_proxy

ROOT = Path(__file__).resolve().parent.parent
CLIENTS_VENV = ROOT / ".venv-clients"
PACKAGES = ("boto3==1.44.5", "botocore[crt]==1.44.8", "obstore==0.12.1")
"""botocore's crt extra pins awscrt (0.38.0 for botocore 1.44.8)."""
ALL_CLIENTS = ("botocore", "s3transfer-crt", "awscrt", "obstore")


def clients_python() -> Path:
    python = CLIENTS_VENV / "bin" / "python"
    stamp = CLIENTS_VENV / f".installed-{'-'.join(PACKAGES)}"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(CLIENTS_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", *PACKAGES], check=True)
        stamp.touch()
    return python


def admin_client(endpoint: str) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
    )


def empty_and_delete(s3: Any, bucket: str) -> None:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
    s3.delete_bucket(Bucket=bucket)


def run_client(python: Path, client: str, endpoint: str, objects: int, size: int, concurrency: int) -> dict[str, Any]:
    s3 = admin_client(endpoint)
    bucket = f"client-cpu-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    try:
        done = subprocess.run(
            [
                str(python),
                "-m",
                "benchmarks.client_cpu_child",
                client,
                endpoint,
                bucket,
                str(objects),
                str(size),
                str(concurrency),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )
    finally:
        empty_and_delete(s3, bucket)
    if done.returncode != 0:
        tail = " | ".join(done.stderr.strip().splitlines()[-2:])
        return {"client": client, "error": tail}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def report(results: list[dict[str, Any]], objects: int, size: int, concurrency: int, via: str) -> None:
    print(f"client CPU per request: {objects} objects of {size} bytes, {concurrency} in flight, {via}")
    print(f"{'client':<16} {'PUT ms':>8} {'GET ms':>8} {'HEAD ms':>8} {'PUT req/s':>10} {'GET req/s':>10}")
    for result in results:
        if "error" in result:
            print(f"{result['client']:<16} failed: {result['error']}")
            continue
        phases = result["phases"]
        print(
            f"{result['client']:<16} {_ms(phases, 'put'):>8} {_ms(phases, 'get'):>8} {_ms(phases, 'head'):>8}"
            f" {_rate(phases, 'put'):>10} {_rate(phases, 'get'):>10}"
        )


def _ms(phases: dict[str, Any], name: str) -> str:
    phase = phases.get(name)
    return f"{1000 * phase['cpu'] / phase['requests']:.3f}" if phase else "-"


def _rate(phases: dict[str, Any], name: str) -> str:
    phase = phases[name]
    return f"{phase['requests'] / phase['seconds']:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.client_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--objects", type=int, default=2000)
    parser.add_argument("--size", type=int, default=4096, help="bytes per object (default 4096)")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--clients", default=",".join(ALL_CLIENTS), help=f"comma-separated, of {', '.join(ALL_CLIENTS)}"
    )
    parser.add_argument(
        "--proxy", action="store_true", help="through the 20 ms delay proxy (benchmarks/delay_proxy.py)"
    )
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.clients.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in ALL_CLIENTS]
    if unknown:
        parser.error(f"--clients: unknown {', '.join(unknown)}; allowed: {', '.join(ALL_CLIENTS)}")
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        if not os.environ.get(variable):
            parser.error(f"{variable} is not set: the server's keys come from the environment")
    python = clients_python()
    with ExitStack() as stack:
        endpoint = args.endpoint
        if args.proxy:
            endpoint = stack.enter_context(delay_proxy(args.endpoint)).endpoint
        results = [run_client(python, name, endpoint, args.objects, args.size, args.concurrency) for name in chosen]
    report(results, args.objects, args.size, args.concurrency, "through the 20 ms proxy" if args.proxy else "direct")
    print(json.dumps({"objects": args.objects, "size": args.size, "concurrency": args.concurrency, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

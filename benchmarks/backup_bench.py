"""Benchmark: backup sets (`storagectl media backup` on a stack with site-storage:backups), first and second.

The server is the media bench's stand-in for S3 over a network (benchmarks/slow_s3.py: moto in
its own process, 20 ms per request, requests counted). The site holds SMALL_OBJECTS files of
1-64 KiB (4 in 5 public). The first backup makes a set of everything; then 1% of the files
change and the second backup runs. Targets: the second takes at most 10% of the first's wall
time and sends or copies at most 1% of its bytes. The other design is measured on the same
data: a set that is a whole copy of the previous one (server-side CopyObject of every object
under a new prefix) plus the changed objects, as `aws s3 sync`-readable trees would need.

Results: `.bench/backup.json` (figures and targets). Run: `python -m benchmarks.backup_bench [--small N]`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.slow_s3 import SERVER_START_TIMEOUT_SECONDS, process_cpu, serve

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / ".bench" / "backup.json"
SMALL_OBJECTS = 5000
CHANGED_SHARE = 0.01
STACK = "bench-backups"
SITE = "acme-live"
BUCKETS = {"public": "acme-media-acme-live-public", "private": "acme-media-acme-live-private"}
BACKUP_BUCKET = "acme-media-backups"
TARGET_TIME_SHARE = 0.10
TARGET_BYTES_SHARE = 0.01


def project(work: Path) -> Path:
    """A project with the AWS example stack plus site-storage:backups, for the CLI to read."""
    root = work / "project"
    (root / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
    text = (ROOT / "stacks" / "Pulumi.aws-eu-central-1.yaml").read_text(encoding="utf-8")
    extra = "  site-storage:backups:\n    retention: {daily: 7, weekly: 4, monthly: 12}\n"
    (root / "stacks" / f"Pulumi.{STACK}.yaml").write_text(text.replace("config:\n", f"config:\n{extra}", 1))
    return root


def fill(s3: Any, count: int, seed: int = 1) -> dict[tuple[str, str], int]:
    pick = random.Random(seed)
    objects = {}
    for index in range(count):
        kind = "private" if index % 5 == 0 else "public"
        objects[(kind, f"thumbs/{index:05d}.jpg")] = pick.randint(1024, 64 * 1024)

    def put(item: tuple[tuple[str, str], int]) -> None:
        (kind, key), size = item
        s3.put_object(Bucket=BUCKETS[kind], Key=key, Body=os.urandom(size))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, objects.items()))
    return objects


def timed_backup(command: list[str], cwd: Path, env: dict[str, str], count: Any, server_pid: int) -> dict[str, Any]:
    """One backup run: its wall time, requests, what it sent, and whose CPU the time went to."""
    before = count.value
    server_before = process_cpu(server_pid) or 0.0
    client_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    server_cpu = (process_cpu(server_pid) or 0.0) - server_before
    client_cpu = _children_cpu() - client_before
    if done.returncode != 0:
        raise SystemExit(f"backup failed ({done.returncode}): {done.stderr[-2000:]}")
    document = json.loads(done.stdout)["sets"][0]
    return {
        "seconds": round(seconds, 2),
        "requests": count.value - before,
        "objects": document["objects"],
        "bytes": document["bytes"],
        "sent_objects": document["new_objects"],
        "sent_bytes": document["new_bytes"],
        # Busy shares of one core: the server (moto) near 1.0 means the run waits on its CPU.
        "client_cpu_seconds": round(client_cpu, 2),
        "server_cpu_seconds": round(server_cpu, 2),
        "client_busy": round(client_cpu / seconds, 2),
        "server_busy": round(server_cpu / seconds, 2),
    }


def _children_cpu() -> float:
    """User + system CPU seconds of this process's finished children (the storagectl runs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def copy_per_set(s3: Any, first: str, second: str, changed: set[tuple[str, str]], count: Any) -> dict[str, Any]:
    """The other design's second set: CopyObject of every unchanged object of the first set, then the changed ones."""
    before = count.value
    started = time.perf_counter()
    listed = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BACKUP_BUCKET, Prefix=first):
        listed += [(item["Key"], item["Size"]) for item in page.get("Contents", [])]

    def copy(item: tuple[str, int]) -> int:
        key, size = item
        s3.copy_object(
            Bucket=BACKUP_BUCKET, Key=second + key[len(first) :], CopySource={"Bucket": BACKUP_BUCKET, "Key": key}
        )
        return size

    with ThreadPoolExecutor(32) as pool:
        copied_bytes = sum(pool.map(copy, listed))
        sent = sum(
            pool.map(
                lambda item: (
                    s3.copy_object(
                        Bucket=BACKUP_BUCKET,
                        Key=f"{second}{item[0]}/{item[1]}",
                        CopySource={"Bucket": BUCKETS[item[0]], "Key": item[1]},
                    )
                    and 1
                ),
                sorted(changed),
            )
        )
    return {
        "seconds": round(time.perf_counter() - started, 2),
        "requests": count.value - before,
        "copied_objects": len(listed) + sent,
        "copied_bytes": copied_bytes,
        "stored_bytes_per_set": copied_bytes,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.backup_bench", description=__doc__)
    parser.add_argument("--small", type=int, default=SMALL_OBJECTS, help=f"files on the site (default {SMALL_OBJECTS})")
    arguments = parser.parse_args(argv or [])

    from storagectl.offline import evaluate
    from storagectl.stack_files import read_stack_file
    from tests.support.moto_verify import deploy

    work = Path(tempfile.mkdtemp(prefix="backup-bench-"))
    context = multiprocessing.get_context("spawn")
    ports, delay_enabled, count = context.Queue(), context.Event(), context.Value("l", 0)
    server = context.Process(target=serve, args=(ports, delay_enabled, count), daemon=True)
    server.start()
    assert server.pid is not None
    server_pid = server.pid
    try:
        root = project(work)
        endpoint = f"http://127.0.0.1:{ports.get(timeout=SERVER_START_TIMEOUT_SECONDS)}"
        deployment = deploy(evaluate(read_stack_file(root / "stacks" / f"Pulumi.{STACK}.yaml")), endpoint)
        outputs = deployment.outputs()
        outputs["backup_credential"] = ["testing", "testing"]  # IAM is not enforced here: moto's root key
        (work / "outputs.json").write_text(json.dumps(outputs), encoding="utf-8")
        s3 = deployment.s3()
        objects = fill(s3, max(1, arguments.small))
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        command = [str(Path(sys.executable).parent / "storagectl"), "media", "backup", SITE, "--json"]
        command += ["--stack", STACK, "--outputs", str(work / "outputs.json"), "--endpoint-url", endpoint]
        delay_enabled.set()
        first = timed_backup(command, root, env, count, server_pid)
        delay_enabled.clear()
        pick = random.Random(2)
        changed = set(pick.sample(sorted(objects), max(1, int(len(objects) * CHANGED_SHARE))))
        for kind, key in changed:
            s3.put_object(Bucket=BUCKETS[kind], Key=key, Body=os.urandom(objects[(kind, key)]))
        time.sleep(1.1)  # sets are named by the second: the next one must not share the first's name
        delay_enabled.set()
        second = timed_backup(command, root, env, count, server_pid)
        # The other design, on the same data: the second set a whole tree copied from the first one
        # (here the first set's bodies, one per file), plus the changed files.
        alternative = copy_per_set(s3, f"{SITE}/blobs/", "copy-design/second/", changed, count)
    finally:
        server.terminate()
        server.join(timeout=10)
        shutil.rmtree(work, ignore_errors=True)
    time_share = second["seconds"] / first["seconds"]
    bytes_share = second["sent_bytes"] / first["sent_bytes"]
    results: dict[str, Any] = {
        "files": len(objects),
        "changed": len(changed),
        "first": first,
        "second": second,
        "second_vs_first": {"time": round(time_share, 4), "bytes": round(bytes_share, 4)},
        "targets": {"time": TARGET_TIME_SHARE, "bytes": TARGET_BYTES_SHARE},
        "met": {"time": time_share <= TARGET_TIME_SHARE, "bytes": bytes_share <= TARGET_BYTES_SHARE},
        "copy_per_set_design_second": alternative,
        "note": "moto stand-in, 20 ms per request (benchmarks/slow_s3.py), one run on a shared 2-core machine",
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(results, indent=2))
    return 0 if all(results["met"].values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Client and server on a core each while a benchmark is timed, and what is read on the server's side.

Shared by benchmarks/media_bench.py and benchmarks/verify_bench.py (their SeaweedFS runs: a Go
server and the delay proxy, processes with threads running already). benchmarks/slow_s3.py's
`cores_apart` pins one thread of one process, enough for moto's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Sides:
    """How a run is measured beyond the tool itself: the server's request count and CPU, the proxy's CPU."""

    requests: Callable[[], int]
    server_cpu: Callable[[], float]
    proxy_cpu: Callable[[], float] = lambda: 0.0


def core_pair() -> tuple[int, int] | None:
    """The client's core and the server's (the first two this process may use), None with fewer than two."""
    if not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2:
        return None
    client_core, server_core = sorted(os.sched_getaffinity(0))[:2]
    return client_core, server_core


def core_times(stat: str, core: int) -> tuple[float, float]:
    """(busy, total) jiffies of one core from /proc/stat's text: busy is all but idle and iowait.

    A core's busy time counts every process on it, this benchmark's and anyone else's on a shared
    machine: a core busy near 100% while the tool's own share is lower was taken by others.
    """
    for line in stat.splitlines():
        name, *fields = line.split()
        if name == f"cpu{core}":
            values = [float(value) for value in fields[:8]]
            idle = values[3] + values[4]
            return sum(values) - idle, sum(values)
    raise ValueError(f"/proc/stat has no line for cpu{core}")


def read_core_times(core: int) -> tuple[float, float]:
    return core_times(Path("/proc/stat").read_text(), core)


def core_busy(before: tuple[float, float], after: tuple[float, float]) -> float:
    """Share of the time between two readings the core was busy."""
    total = after[1] - before[1]
    return (after[0] - before[0]) / total if total > 0 else 0.0


def threads_of(pid: int) -> list[int]:
    try:
        return [int(task.name) for task in Path(f"/proc/{pid}/task").iterdir()]
    except OSError:
        return [pid]


@contextmanager
def cores_apart(server_pids: list[int]) -> Iterator[str]:
    """The tools on one core, the server (every thread; and the proxy) on the other, as a remote S3 would be.

    Like benchmarks/slow_s3.py's, for processes with threads running already (Go's): affinity is
    per thread on Linux, and threads created later inherit their creator's.
    """
    pair = core_pair()
    if pair is None:
        yield "placement: left to the scheduler (cannot pin processes to cores here)"
        return
    own = os.sched_getaffinity(0)
    client_core, server_core = pair
    for pid in server_pids:
        for thread in threads_of(pid):
            with suppress(OSError):  # a thread that ended meanwhile
                os.sched_setaffinity(thread, {server_core})
    os.sched_setaffinity(0, {client_core})
    try:
        yield f"placement: the tools on core {client_core}, the server (and proxy) on core {server_core}"
    finally:
        os.sched_setaffinity(0, own)

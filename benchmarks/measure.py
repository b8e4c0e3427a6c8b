"""Run one benchmark child in a fresh interpreter and measure it from process start to end."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sample:
    seconds: float
    """Wall time from spawning the interpreter until it has exited."""
    cpu_seconds: float
    """User + system time of the child alone; less disturbed by other load than wall time."""
    max_rss_mb: float
    result: dict[str, Any]
    """The JSON line the child printed (resource counts), to check runs are comparable."""


class ChildFailed(RuntimeError):
    pass


def run_module(module: str, args: Sequence[str], cwd: Path) -> Sample:
    """`python -m module args...`, reaped with wait4 so the rusage is this child's own."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", module, *args], cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
        # Popen did not reap the child itself; tell it, so it never waits on a reused pid.
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if process.returncode != 0:
            tail = err.read().decode(errors="replace").strip().splitlines()[-5:]
            raise ChildFailed(f"{module} {' '.join(args)} exited {process.returncode}: " + " | ".join(tail))
        lines = out.read().decode().strip().splitlines()
    return Sample(
        seconds=seconds,
        cpu_seconds=usage.ru_utime + usage.ru_stime,
        # Linux reports ru_maxrss in KiB.
        max_rss_mb=usage.ru_maxrss / 1024,
        result=json.loads(lines[-1]) if lines else {},
    )


@dataclass(frozen=True)
class Summary:
    """Medians over repeated runs, with the spread to judge the noise."""

    seconds: float
    cpu_seconds: float
    max_rss_mb: float
    seconds_range: tuple[float, float]

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> Summary:
        walls = [sample.seconds for sample in samples]
        return cls(
            seconds=statistics.median(walls),
            cpu_seconds=statistics.median(sample.cpu_seconds for sample in samples),
            max_rss_mb=statistics.median(sample.max_rss_mb for sample in samples),
            seconds_range=(min(walls), max(walls)),
        )

"""Benchmark: `storagectl preview` on the largest valid stack file and on the worst malformed ones.

The largest valid file is as big as the limits let it be: max_sites' ceiling of 1,000 AWS sites
(the program benchmark's mix: a third with CORS, a fifth without a private bucket, a seventh
with a media domain), padded with comment lines of the longest allowed length up to just under
the size limit. The malformed ones are each the worst of a kind the stack-file reader bounds: an
alias bomb (9**10 values if expanded), nesting 8,000 deep, a file at the size limit that is not
UTF-8 at its end, a file of the same size holding only over-long lines' worth of comments, and
1,000 sites each with one origin that is not allowed (1,000 problem lines). Each run is a fresh
`storagectl preview --config FILE --json`, timed from start to exit, with its peak memory (max
RSS); a malformed file must end in exit 2, the valid one in exit 0.

Run: `python -m benchmarks.stackfile_bench [--repeats N]` (`make bench` calls `main()`); results
go to .bench/stackfiles/results.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ruamel.yaml import YAML

from benchmarks.stacks import stack_values
from components.config import MAX_SITES_LIMIT
from storagectl.stack_files import MAX_LINE_CHARS, MAX_STACK_FILE_BYTES

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = ROOT / ".bench" / "stackfiles"
STORAGECTL = Path(sys.executable).parent / "storagectl"
REPEATS = 3


@dataclass(frozen=True)
class Result:
    name: str
    bytes: int
    exit_code: int
    seconds: float
    """Median wall time from spawning storagectl until it exited."""
    seconds_range: tuple[float, float]
    max_rss_mb: float
    """Median peak resident memory."""
    stderr_lines: int


def _yaml_text(values: dict[str, object]) -> str:
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.width = 4096
    buffer = io.StringIO()
    yaml.dump({"config": {f"site-storage:{key}": value for key, value in values.items()}}, buffer)
    return buffer.getvalue()


def largest_valid() -> bytes:
    text = _yaml_text(stack_values(MAX_SITES_LIMIT, "aws"))
    comment = "# " + "c" * (MAX_LINE_CHARS - 2) + "\n"
    room = MAX_STACK_FILE_BYTES - len(text.encode()) - 1
    return (comment * (room // len(comment)) + text).encode()


def alias_bomb() -> bytes:
    lines = ["config:", "  site-storage:region: aws-eu-central-1", "  bomb:", "    l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"    l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 11)]
    return ("\n".join(lines) + "\n").encode()


def deep_nesting() -> bytes:
    return (_yaml_text({"region": "aws-eu-central-1"}) + "  deep: " + "[" * 8000 + "]" * 8000 + "\n").encode()


def not_utf8_at_the_end() -> bytes:
    valid = largest_valid()
    return valid[: MAX_STACK_FILE_BYTES - 2] + b"\xff\n"


def only_comments() -> bytes:
    comment = "# " + "c" * (MAX_LINE_CHARS - 2) + "\n"
    return (comment * (MAX_STACK_FILE_BYTES // len(comment))).encode()


def many_problems() -> bytes:
    values = stack_values(MAX_SITES_LIMIT, "aws")
    for index, site in enumerate(values["sites"].values()):
        site["cors"] = {"origins": [f"http://www.site{index}.example/"]}
    return _yaml_text(values).encode()


CASES: dict[str, tuple[Callable[[], bytes], int]] = {
    "largest valid (1,000 AWS sites, 1 MiB)": (largest_valid, 0),
    "alias bomb (9**10 values expanded)": (alias_bomb, 2),
    "nesting 8,000 deep": (deep_nesting, 2),
    "1 MiB, not UTF-8 at the end": (not_utf8_at_the_end, 2),
    "1 MiB of comments": (only_comments, 2),
    "1,000 problem lines": (many_problems, 2),
}


def run_preview(path: Path) -> tuple[int, float, float, int]:
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(
            [str(STORAGECTL), "preview", "--json", "--config", path.name], cwd=path.parent, stdout=out, stderr=err
        )
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = len(err.read().splitlines())
    return process.returncode, seconds, usage.ru_maxrss / 1024, lines


def measure(name: str, make: Callable[[], bytes], repeats: int) -> Result:
    WORKDIR.mkdir(parents=True, exist_ok=True)
    content = make()
    # Alone in its folder: the bucket-clash check reads every stack file beside the one previewed.
    folder = WORKDIR / f"case-{list(CASES).index(name)}"
    folder.mkdir(exist_ok=True)
    path = folder / "Pulumi.bench.yaml"
    path.write_bytes(content)
    runs = [run_preview(path) for _ in range(repeats)]
    walls = [run[1] for run in runs]
    return Result(
        name=name,
        bytes=len(content),
        exit_code=runs[0][0],
        seconds=statistics.median(walls),
        seconds_range=(min(walls), max(walls)),
        max_rss_mb=statistics.median(run[2] for run in runs),
        stderr_lines=runs[0][3],
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.stackfile_bench", description=__doc__)
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"runs of each file (default {REPEATS})")
    arguments = parser.parse_args(argv or [])
    results = []
    failed = False
    print("storagectl preview --json --config FILE: time from start to exit (median) and peak memory (max RSS)")
    print(f"{'file':<42} {'bytes':>9} {'exit':>4} {'seconds':>8} {'range':>13} {'peak MB':>8} {'lines':>6}")
    for name, (make, expected) in CASES.items():
        result = measure(name, make, max(1, arguments.repeats))
        results.append(result)
        low, high = result.seconds_range
        print(
            f"{name:<42} {result.bytes:>9,} {result.exit_code:>4} {result.seconds:>8.2f} {low:>6.2f}-{high:<6.2f} "
            f"{result.max_rss_mb:>8.0f} {result.stderr_lines:>6}"
        )
        if result.exit_code != expected:
            print(f"  expected exit {expected}: the figures above describe a wrong run")
            failed = True
    report = {"python": sys.version.split()[0], "results": [asdict(result) for result in results]}
    (WORKDIR / "results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

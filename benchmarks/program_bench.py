"""Benchmark: the real program at 100 and 1,000 sites against the SDK floor, on AWS and Exoscale.

For each stack kind and size, generated stack values go through what `storagectl preview`
runs (validation, then `__main__.py` under the mock runtime), each run in a fresh interpreter
so imports and start-up count. The floor registers the very same resources (recorded once
from the real run: type, name, inputs) straight through their SDK classes under the same
mocks. Program and floor runs alternate, so background load on this shared machine hits
both alike, and each figure is the median of the repeats.

On the Exoscale kind the generic-S3 resources are dynamic resources; a third run per repeat
registers them as a provider plugin's plain custom resources would be (`floor_child
--as-plugin`), which measures what the other provider design would cost the program.

Run: `python -m benchmarks.program_bench [--kinds aws,exoscale] [--sizes 100,1000] [--repeats 3]`.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.measure import Sample, Summary, run_module
from benchmarks.stacks import KINDS, stack_document

ROOT = Path(__file__).resolve().parent.parent
WORKDIR = ROOT / ".bench" / "program"
SIZES = (100, 1000)
REPEATS = 3
TARGET_SITES = 1000
TIME_TARGET = 1.5
MEMORY_TARGET = 1.3


@dataclass(frozen=True)
class SizeResult:
    kind: str
    sites: int
    resources: int
    program: Summary
    floor: Summary
    plugin_floor: Summary | None = None
    """Exoscale only: the floor with the generic-S3 resources as a provider plugin's resources."""

    @property
    def time_ratio(self) -> float:
        return self.program.seconds / self.floor.seconds

    @property
    def cpu_ratio(self) -> float:
        return self.program.cpu_seconds / self.floor.cpu_seconds

    @property
    def memory_ratio(self) -> float:
        return self.program.max_rss_mb / self.floor.max_rss_mb


def bench_size(kind: str, sites: int, repeats: int, console: Console, *, first: bool) -> SizeResult:
    WORKDIR.mkdir(parents=True, exist_ok=True)
    values = WORKDIR / f"values-{kind}-{sites}.json"
    recorded = WORKDIR / f"resources-{kind}-{sites}.json"
    values.write_text(json.dumps(stack_document(sites, kind)), encoding="utf-8")
    label = f"{kind} {sites} sites"
    if first:
        console.print(f"[dim]{label}: warm-up run (untimed, fills the OS file cache)[/dim]")
        run_module("benchmarks.program_child", [str(values)], ROOT)

    program: list[Sample] = []
    floor: list[Sample] = []
    plugin: list[Sample] = []
    for repeat in range(1, repeats + 1):
        console.print(f"[dim]{label}: run {repeat}/{repeats} (program, then floor)[/dim]")
        # The first run also records the floor's resources: a JSON dump, well under 1% of the run.
        record = ["--record", str(recorded)] if repeat == 1 else []
        program.append(run_module("benchmarks.program_child", [str(values), *record], ROOT))
        if repeat == 1 and first:
            # Untimed proof that the floor registers what the program did; the code is the same at every size.
            checked = run_module("benchmarks.floor_child", [str(recorded), "--check"], ROOT)
            count = checked.result["resources"]
            console.print(f"[dim]{label}: floor check passed: {count:,} resources, same inputs[/dim]")
        floor.append(run_module("benchmarks.floor_child", [str(recorded)], ROOT))
        if kind == "exoscale":
            plugin.append(run_module("benchmarks.floor_child", [str(recorded), "--as-plugin"], ROOT))
    counts = {sample.result["resources"] for sample in (*program, *floor, *plugin)}
    if len(counts) != 1:
        raise RuntimeError(f"{label}: runs registered different resource counts {sorted(counts)}")
    return SizeResult(
        kind, sites, counts.pop(), Summary.of(program), Summary.of(floor), Summary.of(plugin) if plugin else None
    )


def results_table(results: list[SizeResult]) -> Table:
    table = Table(title="Program vs SDK floor (medians; each run a fresh process)")
    columns = ("stack", "sites", "resources", "s/site", "floor s/site", "time x", "MB", "floor MB", "memory x")
    for column in columns:
        table.add_column(column, justify="right")
    table.add_column("CPU x", justify="right", style="dim")
    table.add_column("wall s (min-max)", justify="right", style="dim")
    table.add_column("plugin s/site", justify="right")
    for result in results:
        program, floor, plugin = result.program, result.floor, result.plugin_floor
        table.add_row(
            result.kind,
            f"{result.sites:,}",
            f"{result.resources:,}",
            f"{program.seconds / result.sites:.4f}",
            f"{floor.seconds / result.sites:.4f}",
            f"{result.time_ratio:.2f}",
            f"{program.max_rss_mb:.0f}",
            f"{floor.max_rss_mb:.0f}",
            f"{result.memory_ratio:.2f}",
            f"{result.cpu_ratio:.2f}",
            f"{program.seconds:.1f} ({program.seconds_range[0]:.1f}-{program.seconds_range[1]:.1f})",
            f"{plugin.seconds / result.sites:.4f}" if plugin else "-",
        )
    return table


def verdicts(results: list[SizeResult]) -> list[tuple[str, float, float, bool]]:
    """(what, measured, target, met) for the targets at 1,000 sites, per stack kind."""
    found = []
    for target in (result for result in results if result.sites == TARGET_SITES):
        found += [
            (f"{target.kind} time", target.time_ratio, TIME_TARGET, target.time_ratio <= TIME_TARGET),
            (f"{target.kind} peak memory", target.memory_ratio, MEMORY_TARGET, target.memory_ratio <= MEMORY_TARGET),
        ]
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.program_bench", description=__doc__)
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated stack kinds ({', '.join(KINDS)})")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated site counts")
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"timed runs per size (default {REPEATS})")
    options = parser.parse_args(argv or [])
    sizes = [int(size) for size in options.sizes.split(",")]
    kinds = [kind for kind in options.kinds.split(",") if kind]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        parser.error(f"--kinds: {', '.join(unknown)} is not a stack kind; use {', '.join(KINDS)}")

    # Wide enough for the table when piped (Rich assumes 80 columns without a terminal).
    console = Console(width=max(Console().width, 120))
    started = datetime.datetime.now().astimezone()
    load_before = os.getloadavg()[0]
    repeats = max(1, options.repeats)
    runs = [(kind, sites) for kind in kinds for sites in sizes]
    results = [bench_size(kind, sites, repeats, console, first=index == 0) for index, (kind, sites) in enumerate(runs)]
    load_after = os.getloadavg()[0]

    console.print(results_table(results))
    for what, measured, target, met in verdicts(results):
        verdict = "[green]PASS[/green]" if met else "[red]FAIL[/red]"
        console.print(f"target at {TARGET_SITES:,} sites: {what} <= {target}x floor: {measured:.2f}x {verdict}")
    for result in results:
        if result.plugin_floor is not None:
            ratio = result.floor.seconds / result.plugin_floor.seconds
            memory = result.floor.max_rss_mb / result.plugin_floor.max_rss_mb
            console.print(
                f"{result.kind} {result.sites:,} sites: dynamic-resource floor / plugin-resource floor: "
                f"{ratio:.2f}x time, {memory:.2f}x memory"
            )
    console.print(
        f"[dim]{started:%Y-%m-%d %H:%M %Z}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{options.repeats} timed runs per size; load average {load_before:.1f} before, {load_after:.1f} after "
        "(other work on this machine adds noise to wall times; ratios come from alternating runs)[/dim]"
    )
    report = {
        "date": started.isoformat(timespec="minutes"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_average": [load_before, load_after],
        "results": [asdict(result) for result in results],
    }
    (WORKDIR / "results.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

"""Benchmark: the real Pulumi engine on a 200-site custom-endpoint stack against moto, and its floor.

The program runs are `pulumi preview`, a first `pulumi up`, a no-op `pulumi up`, and a one-site
CORS change through `storagectl cors enable --apply` (a targeted `pulumi up`). The **engine floor**
is the same resources (types, names, parents, protect, inputs, recorded by the offline
evaluation) registered by a trivial program with a do-nothing dynamic provider
(benchmarks/engine_floor/), through the same built CLI, the same file backend and the
same machine, in the same run. Preview and no-op up runs alternate with the floor's, `--repeats`
of each, and ratios are of medians. The moto server runs in its own process; CPU is the pulumi
process tree's (the engine, the language host, the program and the dynamic-provider host).

Targets: preview and no-op up within 1.5x of the floor; the targeted change updates exactly one
resource and takes no longer than the no-op up. Also shown: the offline (mock runtime) preview
of the same stack. Figures go to stdout and to .bench/engine.json.

Run: `python -m benchmarks.engine_bench [--sites N] [--repeats N] [--output FILE]` (`make bench`
calls `main()`). The run stops, with no figures, if the floor's first up creates a different number
of resources than the program's, or a no-op up changes anything.
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from benchmarks.stacks import site_settings

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / ".bench" / "engine.json"
SITES = 200
REPEATS = 3
TARGET_RATIO = 1.5
PASSPHRASE = "bench"
CHANGED_SITE = "site-0001"  # no CORS yet in the mix: the change adds a rule (one resource)


@dataclass(frozen=True)
class Timing:
    seconds: float
    cpu_seconds: float


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def timed(argv: Sequence[str], cwd: Path, env: dict[str, str]) -> tuple[Timing, str]:
    """Run a command to the end; wall time, and CPU of it and every descendant it waited for."""
    with tempfile.TemporaryFile() as out:
        started = time.perf_counter()
        process = subprocess.Popen(list(argv), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])} exited {process.returncode}:\n{text[-3000:]}")
    return Timing(seconds, usage.ru_utime + usage.ru_stime), text


def stack_text(count: int, endpoint: str) -> str:
    sites = {f"site-{index:04d}": site_settings(index) for index in range(count)}
    for site in sites.values():
        site.pop("media_domain", None)  # a media domain needs https; the endpoint is moto's http
    values = {
        "site-storage:region": "custom",
        "site-storage:endpoint": endpoint,
        "site-storage:path_style": True,
        "site-storage:bucket_prefix": "bench-engine",
        "site-storage:max_sites": count,
        "site-storage:access_key_id": "testing",
        "site-storage:sites": sites,
    }
    out = io.StringIO()
    YAML().dump({"config": values}, out)  # block style: storagectl edits it (cors enable)
    return out.getvalue()


def pulumi_bin() -> Path:
    built = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "pulumi" / "build.py"), "--print-bin"],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        raise SystemExit(f"no Pulumi CLI for the engine bench: {built.stderr.strip()}")
    return Path(built.stdout.strip())


def environment(bin_dir: Path, work: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("PULUMI_")}
    env.update(
        PATH=os.pathsep.join([str(bin_dir), str(ROOT / ".venv" / "bin"), env.get("PATH", "")]),
        PULUMI_HOME=str(work / "home"),
        PULUMI_BACKEND_URL=(work / "state").as_uri(),
        PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        NO_COLOR="1",
    )
    (work / "home").mkdir(exist_ok=True)
    (work / "state").mkdir(exist_ok=True)
    return env


def projects(work: Path, text: str) -> tuple[Path, Path]:
    """The program's project copy and the floor's project, each with the bench stack."""
    from tests.support.engine import copy_project

    program = copy_project(work / "program")
    (program / "stacks" / "Pulumi.bench.yaml").write_text(text, encoding="utf-8")
    floor = work / "floor"
    (floor / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", floor / "Pulumi.yaml")
    (floor / ".venv").symlink_to(ROOT / ".venv")
    for name in ("__main__.py", "floor_provider.py"):
        shutil.copy(ROOT / "benchmarks" / "engine_floor" / name, floor / name)
    (floor / "stacks" / "Pulumi.floor.yaml").write_text(text, encoding="utf-8")
    return program, floor


def record_resources(program: Path, floor: Path, env: dict[str, str]) -> tuple[int, Timing]:
    """The offline preview's resources, for the floor to register; and the offline preview's time."""
    storagectl = str(ROOT / ".venv" / "bin" / "storagectl")
    timing, text = timed([storagectl, "preview", "--stack", "bench", "--json"], program, env)
    document = json.loads(text[text.index("{") : text.rindex("}") + 1])
    resources = document["resources"]
    (floor / "resources.json").write_text(json.dumps(resources), encoding="utf-8")
    return len(resources), timing


def last_changes(pulumi: str, project: Path, stack: str, env: dict[str, str]) -> dict[str, int]:
    """The engine's own count of what the stack's latest update did."""
    history = json.loads(timed([pulumi, "stack", "history", "--json", "--stack", stack], project, env)[1])
    return dict(history[0].get("resourceChanges") or {})


def median(timings: list[Timing]) -> Timing:
    return Timing(statistics.median(t.seconds for t in timings), statistics.median(t.cpu_seconds for t in timings))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.engine_bench", description=__doc__)
    parser.add_argument("--sites", type=int, default=SITES)
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where the figures go as JSON")
    args = parser.parse_args(argv)
    bin_dir = pulumi_bin()
    pulumi = str(bin_dir / "pulumi")
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    moto = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    work = Path(tempfile.mkdtemp(prefix="engine-bench."))
    try:
        _wait_for(port)
        env = environment(bin_dir, work)
        program, floor = projects(work, stack_text(args.sites, endpoint))
        stacks = (("bench", program), ("floor", floor))
        for stack, project in stacks:
            timed([pulumi, "stack", "init", stack], project, env)
            timed(
                [pulumi, "config", "set", "--secret", "site-storage:secret_access_key", "testing", "--stack", stack],
                project,
                env,
            )
        count, offline = record_resources(program, floor, env)
        runs: dict[str, list[Timing]] = {key: [] for key in ("preview", "floor preview", "no-op up", "floor no-op up")}
        first_up, _ = timed([pulumi, "up", "--yes", "--stack", "bench"], program, env)
        floor_first_up, _ = timed([pulumi, "up", "--yes", "--stack", "floor"], floor, env)
        created = {name: last_changes(pulumi, where, name, env).get("create") for name, where in stacks}
        if created["bench"] != created["floor"]:
            raise SystemExit(f"the floor created other resources than the program ({created}): no floor")
        for _ in range(args.repeats):
            for label, project, stack, command in (
                ("preview", program, "bench", "preview"),
                ("floor preview", floor, "floor", "preview"),
                ("no-op up", program, "bench", "up"),
                ("floor no-op up", floor, "floor", "up"),
            ):
                extra = ["--yes"] if command == "up" else []
                timing, _ = timed([pulumi, command, *extra, "--stack", stack], project, env)
                if command == "up" and set(last_changes(pulumi, project, stack, env)) != {"same"}:
                    raise SystemExit(f"the no-op up of {stack} changed something; the figures would mean nothing")
                runs[label].append(timing)
        storagectl = str(ROOT / ".venv" / "bin" / "storagectl")
        change_argv = [storagectl, "cors", "enable", CHANGED_SITE, "--origin", "https://changed.example"]
        targeted, _ = timed([*change_argv, "--stack", "bench", "--apply"], program, env)
        changes = last_changes(pulumi, program, "bench", env)
    finally:
        moto.terminate()
        moto.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
    return report(args.sites, count, offline, first_up, floor_first_up, runs, targeted, changes, args.output)


def _wait_for(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise SystemExit(f"moto did not start on port {port}")


def report(
    sites: int,
    count: int,
    offline: Timing,
    first_up: Timing,
    floor_first_up: Timing,
    runs: dict[str, list[Timing]],
    targeted: Timing,
    changes: dict[str, int],
    output: Path,
) -> int:
    preview, floor_preview = median(runs["preview"]), median(runs["floor preview"])
    no_op, floor_no_op = median(runs["no-op up"]), median(runs["floor no-op up"])
    checks = {
        "preview within 1.5x of the floor": preview.seconds / floor_preview.seconds <= TARGET_RATIO,
        "no-op up within 1.5x of the floor": no_op.seconds / floor_no_op.seconds <= TARGET_RATIO,
        "targeted change updates exactly one resource": sum(v for k, v in changes.items() if k != "same") == 1,
        "targeted change no slower than the no-op up": targeted.seconds <= no_op.seconds,
    }
    rows = [
        ("offline preview (mock runtime, storagectl)", offline, None),
        ("pulumi preview", preview, floor_preview),
        ("first pulumi up", first_up, floor_first_up),
        ("no-op pulumi up", no_op, floor_no_op),
        ("cors enable --apply (one site)", targeted, None),
    ]
    print(f"engine: {sites} sites, {count} resources, custom endpoint on moto (own process); medians where repeated")
    print(f"{'run':44} {'seconds':>8} {'CPU s':>8} {'floor s':>8} {'x floor':>8}")
    for label, timing, floor in rows:
        ratio = f"{timing.seconds / floor.seconds:8.2f}" if floor else f"{'':8}"
        floor_seconds = f"{floor.seconds:8.2f}" if floor else f"{'':8}"
        print(f"{label:44} {timing.seconds:8.2f} {timing.cpu_seconds:8.2f} {floor_seconds} {ratio}")
    print(f"targeted update's resource changes (pulumi stack history): {changes}")
    for name, met in checks.items():
        print(f"target: {name}: {'PASS' if met else 'FAIL'}")
    output.parent.mkdir(parents=True, exist_ok=True)
    document: dict[str, Any] = {
        "bench": "engine",
        "when": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "sites": sites,
        "resources": count,
        "runs": {label: asdict(timing) for label, timing, _ in rows},
        "floor": {
            "pulumi preview": asdict(floor_preview),
            "first pulumi up": asdict(floor_first_up),
            "no-op pulumi up": asdict(floor_no_op),
        },
        "targeted_resource_changes": changes,
        "targets": checks,
    }
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

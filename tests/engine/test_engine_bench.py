"""The engine bench itself, on a small stack: its floor registers what the program registers, and
the one-site change it times is one resource (the figures in docs/performance.md depend on both)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.engine import EngineProject

ROOT = Path(__file__).resolve().parents[2]


def test_engine_bench_floor_matches_the_program_and_the_targeted_change_is_one_resource(
    engine: EngineProject, tmp_path: Path
) -> None:
    output = tmp_path / "engine.json"
    command = [sys.executable, "-m", "benchmarks.engine_bench", "--sites", "3", "--repeats", "1"]
    done = subprocess.run(
        [*command, "--output", str(output)], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    # The bench stops without figures when the floor's first up creates other resources than the
    # program's, or a no-op up changes something; at 3 sites its timing targets may go either way.
    assert output.exists(), done.stdout + done.stderr
    document = json.loads(output.read_text(encoding="utf-8"))
    assert document["sites"] == 3 and document["resources"] > 3
    changed = {kind: count for kind, count in document["targeted_resource_changes"].items() if kind != "same"}
    assert sum(changed.values()) == 1, document["targeted_resource_changes"]
    assert set(document["runs"]) >= {"pulumi preview", "first pulumi up", "no-op pulumi up"}
    assert "target: targeted change updates exactly one resource: PASS" in done.stdout

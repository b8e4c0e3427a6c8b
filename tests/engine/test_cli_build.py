"""The CLI `make pulumi` built: its version is the pinned one, and building again does nothing."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.engine import BUILT_BIN, EngineProject
from tests.support.stacks import ROOT


def test_the_built_cli_prints_the_pinned_version_and_a_second_build_does_nothing(engine: EngineProject) -> None:
    if engine.bin_dir != BUILT_BIN:
        pytest.skip(f"the engine tests use {engine.bin_dir}/pulumi, not this project's build")
    go_mod = (ROOT / "tools" / "pulumi" / "go.mod").read_text(encoding="utf-8")
    pinned = re.search(r"github\.com/pulumi/pulumi/pkg/v3 (v\S+)", go_mod)
    assert pinned
    version = subprocess.run([str(BUILT_BIN / "pulumi"), "version"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == pinned.group(1)
    before = (BUILT_BIN / "pulumi").stat().st_mtime_ns
    again = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "pulumi" / "build.py"), "--force"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert again.stderr.strip() == f"{BUILT_BIN} is up to date"
    assert (BUILT_BIN / "pulumi").stat().st_mtime_ns == before

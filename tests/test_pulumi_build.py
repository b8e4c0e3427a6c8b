"""tools/pulumi: the pinned Pulumi CLI build, and what makes the engine tests use one CLI or another."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.support.stacks import ROOT

BUILD = ROOT / "tools" / "pulumi" / "build.py"
GO_MOD = (ROOT / "tools" / "pulumi" / "go.mod").read_text(encoding="utf-8")


def _version(text: str, module: str) -> tuple[int, ...]:
    match = re.search(rf"^\s*(?:require\s+)?{re.escape(module)} v(\d+)\.(\d+)\.(\d+)\s*$", text, re.M)
    assert match, module
    return tuple(int(part) for part in match.groups())


def test_the_cli_and_its_sdk_module_are_pinned_at_one_version_no_older_than_the_python_sdk() -> None:
    cli = _version(GO_MOD, "github.com/pulumi/pulumi/pkg/v3")
    assert _version(GO_MOD, "github.com/pulumi/pulumi/sdk/v3") == cli
    python_sdk = re.search(r'"pulumi==(\d+)\.(\d+)\.(\d+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert python_sdk
    # A CLI runs programs of its own and older SDKs; 3.272's Go module is not served (docs/testing.md).
    assert cli >= tuple(int(part) for part in python_sdk.groups())


def test_a_pulumi_on_path_is_used_instead_of_building(tmp_path: Path) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pulumi").write_text("#!/bin/sh\necho v3.999.0\n", encoding="utf-8")
    (fake / "pulumi").chmod(0o755)
    env = {**os.environ, "PATH": f"{fake}{os.pathsep}{os.environ['PATH']}"}
    result = subprocess.run(
        [sys.executable, str(BUILD), "--print-bin"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(fake)
    assert f"using the Pulumi CLI on PATH: {fake / 'pulumi'}" in result.stderr


def test_without_go_the_build_says_so_in_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "empty")}  # neither pulumi nor go
    result = subprocess.run(
        [sys.executable, str(BUILD), "--bin", str(tmp_path / "out" / "bin")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    no_go = "build.py: Go is not installed; it builds the Pulumi CLI (Go 1.26 or newer)"
    assert result.stderr.strip().splitlines() == [no_go]
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [".build.lock"]

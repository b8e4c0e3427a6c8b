"""The real Pulumi engine for tests: the CLI `make pulumi` builds (or one on PATH), a project copy, a backend per test.

Each test gets its own stack in its own file backend (`file://` in tmp), the passphrase secrets
provider, no update check, no plugin downloads, and nothing beyond 127.0.0.1. The engine runs the
project's real program (`__main__.py`, `components/`) and policy pack from a copy of the project,
whose `.venv` (and `policy/.venv`) is the repository's virtualenv; the copy has no pyproject.toml,
so a real Pulumi CLI's host (toolchain uv) has nothing to `uv sync` and leaves that virtualenv
alone. storagectl runs from the repository's virtualenv with the copy as its project.

Without a CLI the engine tests skip, printing why once; SITE_STORAGE_REQUIRE_ENGINE=1 (set by
.ci/run) makes that a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from tests.support.requirement import Requirement
from tests.support.stacks import ROOT

REQUIREMENT = Requirement("SITE_STORAGE_REQUIRE_ENGINE")
required = REQUIREMENT.required
unavailable = REQUIREMENT.unavailable
BIN_VARIABLE = "SITE_STORAGE_PULUMI_BIN"
BUILT_BIN = ROOT / ".pulumi" / "bin"
PASSPHRASE = "local"
"""The `local` example stack's secrets passphrase; the tests' stacks use it too."""
PROJECT_FILES = ("Pulumi.yaml", "__main__.py")
PROJECT_TREES = ("components", "policy")
COMMAND_TIMEOUT = 600


def cli_bin() -> tuple[Path | None, str]:
    """The folder holding the `pulumi` to use, or None and why there is none."""
    explicit = os.environ.get(BIN_VARIABLE)
    if explicit:
        folder = Path(explicit)
        if (folder / "pulumi").is_file():
            return folder, ""
        return None, f"{BIN_VARIABLE}={explicit} holds no pulumi"
    if (BUILT_BIN / "pulumi").is_file() and (BUILT_BIN / "pulumi-language-python").is_file():
        return BUILT_BIN, ""
    on_path = shutil.which("pulumi")
    if on_path:
        return Path(on_path).resolve().parent, ""
    return None, "no Pulumi CLI: `make pulumi` builds one into .pulumi/bin (Go 1.26 and the Go module proxy)"


def copy_project(destination: Path) -> Path:
    """The program, its components and the policy pack, with the repository's virtualenv linked in."""
    destination.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", ".venv")
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, destination / name)
    for name in PROJECT_TREES:
        shutil.copytree(ROOT / name, destination / name, ignore=ignore)
    venv = ROOT / ".venv"
    (destination / ".venv").symlink_to(venv)
    # The pack's runtime options name its own virtualenv; the project's has the same pins
    # (pulumi, pulumi-policy; tests/test_policy_pack.py keeps policy/requirements.txt equal).
    (destination / "policy" / ".venv").symlink_to(venv)
    (destination / "stacks").mkdir()
    return destination


@dataclass(frozen=True)
class EngineProject:
    """A project copy the engine runs, and the CLI that runs it."""

    root: Path
    bin_dir: Path
    home: Path

    def env(self, backend: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("PULUMI_", "AWS_REQUEST_CHECKSUM", "AWS_RESPONSE_CHECKSUM"))
        }
        env.update(
            PATH=os.pathsep.join([str(self.bin_dir), str(ROOT / ".uv" / "bin"), env.get("PATH", "")]),
            PULUMI_HOME=str(self.home),
            PULUMI_BACKEND_URL=backend.as_uri(),
            PULUMI_CONFIG_PASSPHRASE=PASSPHRASE,
            PULUMI_SKIP_UPDATE_CHECK="true",
            PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
            PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK="true",
            NO_COLOR="1",
        )
        env.update(extra or {})
        return env

    def stack(self, name: str, text: str, backend: Path) -> EngineStack:
        """A new stack `name` of this project: its stack file written, the stack created in `backend`."""
        backend.mkdir(parents=True, exist_ok=True)
        path = self.root / "stacks" / f"Pulumi.{name}.yaml"
        path.write_text(text, encoding="utf-8")
        stack = EngineStack(self, name, backend)
        stack.pulumi("stack", "init", name, stack=False)
        return stack


@dataclass
class EngineStack:
    """One stack of the project copy in its own backend."""

    project: EngineProject
    name: str
    backend: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return self.project.root / "stacks" / f"Pulumi.{self.name}.yaml"

    @property
    def env(self) -> dict[str, str]:
        return self.project.env(self.backend, self.extra_env)

    def run(
        self, argv: Sequence[str], *, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        completed = subprocess.run(
            list(argv),
            cwd=self.project.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            input=input,
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv[:3])} ... exited {completed.returncode}\n"
                f"stdout:\n{completed.stdout[-4000:]}\nstderr:\n{completed.stderr[-4000:]}"
            )
        return completed

    def pulumi(self, *args: str, check: bool = True, stack: bool = True) -> subprocess.CompletedProcess[str]:
        """`pulumi ARGS --stack NAME`, as an operator types it (`stack=False` leaves --stack out)."""
        argv = [str(self.project.bin_dir / "pulumi"), *args, *(("--stack", self.name) if stack else ())]
        return self.run(argv, check=check)

    def storagectl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run([str(ROOT / ".venv" / "bin" / "storagectl"), *args], check=check)

    def automation(self) -> auto.Stack:
        """The same stack through the Pulumi Automation API (typed results: summaries, outputs)."""
        workspace = auto.LocalWorkspace(
            work_dir=str(self.project.root),
            pulumi_home=str(self.project.home),
            env_vars=self.env,
            pulumi_command=auto.PulumiCommand(root=str(self.project.bin_dir.parent), skip_version_check=True),
        )
        return auto.Stack.select(self.name, workspace)

    def up(self, **options: Any) -> auto.UpResult:
        return self.automation().up(on_output=_quiet, **options)

    def preview(self, **options: Any) -> auto.PreviewResult:
        return self.automation().preview(on_output=_quiet, **options)

    def refresh(self, **options: Any) -> auto.RefreshResult:
        return self.automation().refresh(on_output=_quiet, **options)

    def state(self) -> dict[str, Any]:
        """`pulumi stack export`: the checkpoint as the backend holds it."""
        return json.loads(self.pulumi("stack", "export").stdout)

    def last_update_changes(self) -> dict[str, int]:
        """The engine's own count of what the stack's most recent update did (`pulumi stack history`)."""
        history = json.loads(self.pulumi("stack", "history", "--json").stdout)
        return dict(history[0].get("resourceChanges") or {})


def _quiet(line: str) -> None:
    del line


def stack_name(hint: str) -> str:
    """A stack name (and bucket-prefix-safe slug) from a test name."""
    slug = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")
    return slug[:30].strip("-") or "stack"


def engine_project(tmp_root: Path, report: Callable[[str], None]) -> EngineProject:
    """The session's project copy; skips (or fails when required) without a CLI."""
    bin_dir, reason = cli_bin()
    if bin_dir is None:
        if not required():
            report(f"skipping the engine tests: {reason}")
        unavailable(reason)
    assert bin_dir is not None
    root = copy_project(tmp_root / "project")
    home = tmp_root / "pulumi-home"
    home.mkdir()
    return EngineProject(root=root, bin_dir=bin_dir, home=home)

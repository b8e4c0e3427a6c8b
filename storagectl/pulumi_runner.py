"""The only place storagectl runs the `pulumi` CLI.

Kept thin on purpose: commands build the argument list, a runner executes it. Tests swap
the runner for a double (`use_runner`) that records the exact command, so the `--apply`
and `settings` paths are tested without a Pulumi CLI, which cannot be installed here.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

PULUMI = "pulumi"
INSTALL_HINT = (
    "install it from https://www.pulumi.com/docs/iac/download-install/, or build it here with `make pulumi` "
    "(then put .pulumi/bin on PATH)"
)


@dataclass(frozen=True)
class RunResult:
    returncode: int
    stdout: str = ""
    """Captured output; empty when the command printed straight to the terminal."""
    stderr: str = ""


class PulumiRunner(Protocol):
    def available(self) -> bool:
        """Whether the Pulumi CLI can be run on this machine."""
        ...

    def run(self, args: Sequence[str], *, cwd: Path, capture: bool) -> RunResult:
        """Run `pulumi <args>` in `cwd`; `capture` keeps the output instead of showing it."""
        ...


class CliRunner:
    """Runs the real `pulumi` executable found on PATH."""

    def available(self) -> bool:
        return shutil.which(PULUMI) is not None

    def run(self, args: Sequence[str], *, cwd: Path, capture: bool) -> RunResult:
        executable = shutil.which(PULUMI) or PULUMI
        # Never through a shell: URNs hold `$`, and args are passed as a list.
        completed = subprocess.run([executable, *args], cwd=cwd, capture_output=capture, text=True, check=False)
        return RunResult(completed.returncode, completed.stdout or "", completed.stderr or "")


_runner: PulumiRunner = CliRunner()


def runner() -> PulumiRunner:
    return _runner


@contextmanager
def use_runner(replacement: PulumiRunner) -> Iterator[PulumiRunner]:
    """Run the commands inside the block against `replacement` (tests)."""
    global _runner
    previous, _runner = _runner, replacement
    try:
        yield replacement
    finally:
        _runner = previous


def target_args(urns: Sequence[str]) -> list[str]:
    return [part for urn in urns for part in ("--target", urn)]


def preview_args(stack: str, urns: Sequence[str]) -> list[str]:
    return ["preview", "--stack", stack, *target_args(urns)]


APPLY_NOW = ("--yes", "--skip-preview")
"""What `--apply` adds: no prompt (the flag is the go-ahead; scripts have no terminal to answer one) and
one pass instead of a preview pass and then the update (each change is printed as it is made)."""


def up_args(stack: str, urns: Sequence[str], *, now: bool = False) -> list[str]:
    """`pulumi up` of these resources; `now` applies at once (APPLY_NOW)."""
    return ["up", "--stack", stack, *(APPLY_NOW if now else ()), *target_args(urns)]


def stack_output_args(stack: str) -> list[str]:
    return ["stack", "output", "--json", "--show-secrets", "--stack", stack]


def command_line(args: Sequence[str], *, wrap: bool = False) -> str:
    """`pulumi <args>` as a shell line to copy; `wrap` puts each --target on its own line."""
    words = [PULUMI, *args]
    if not wrap or "--target" not in words:
        return shlex.join(words)
    first = words.index("--target")
    parts = [shlex.join(words[:first])]
    parts += [f"--target {shlex.quote(urn)}" for urn in words[first + 1 :: 2]]
    return " \\\n    ".join(parts)

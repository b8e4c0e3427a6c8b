"""For the storagectl support-command tests: a throwaway project copy, a Pulumi runner double.

The commands edit `stacks/Pulumi.<stack>.yaml` under the directory holding Pulumi.yaml,
so every test works on a copy in tmp_path and the repository's stacks stay untouched.
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from typer.testing import CliRunner, Result

from storagectl.cli import app
from storagectl.offline import evaluate
from storagectl.pulumi_runner import RunResult
from storagectl.stack_files import read_stack_file
from tests.support.stacks import ROOT, STACKS


@dataclass(frozen=True)
class Project:
    root: Path

    def stack_file(self, name: str) -> Path:
        return self.root / "stacks" / f"Pulumi.{name}.yaml"

    def stack_bytes(self, name: str) -> bytes:
        return self.stack_file(name).read_bytes()


def copy_project(destination: Path, *, examples: bool = True) -> Project:
    """Pulumi.yaml and (unless `examples` is false) the example stacks, copied to `destination`."""
    (destination / "stacks").mkdir(parents=True)
    shutil.copy(ROOT / "Pulumi.yaml", destination / "Pulumi.yaml")
    for stack in STACKS.glob("Pulumi.*.yaml") if examples else ():
        shutil.copy(stack, destination / "stacks" / stack.name)
    return Project(destination)


def shop_project(destination: Path, *, examples: bool = True) -> Project:
    """`copy_project` plus the shop stack (SHOP_STACK) the support-command tests edit."""
    project = copy_project(destination, examples=examples)
    project.stack_file("shop").write_text(SHOP_STACK, encoding="utf-8")
    return project


@dataclass
class RecordingRunner:
    """Stands in for the Pulumi CLI: records each command, answers with a canned result."""

    is_available: bool = True
    result: RunResult = field(default_factory=lambda: RunResult(0))
    calls: list[tuple[list[str], Path, bool]] = field(default_factory=list)

    def available(self) -> bool:
        return self.is_available

    def run(self, args: Sequence[str], *, cwd: Path, capture: bool) -> RunResult:
        self.calls.append((list(args), cwd, capture))
        return self.result


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def printed_commands(stdout: str) -> list[list[str]]:
    """The `pulumi ...` commands a command printed as its next step, as argument lists."""
    joined = stdout.replace(" \\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.startswith("  pulumi ")]


def engine_urns(stack_path: Path, site: str) -> list[str]:
    """URNs of `site`'s component and resources, as the mock monitor formed them.

    Independent of storagectl's own URN code: the monitor builds URNs from each
    registration's parent. It prefixes top-level resources with the root stack's type,
    which the real engine leaves out, so that part is dropped.
    """
    evaluation = evaluate(read_stack_file(stack_path))
    names = {resource.name for resource in evaluation.site_resources(site)}
    monitor = runtime_settings.get_monitor()
    assert isinstance(monitor, MockMonitor)
    urns = []
    for urn in monitor.get_registered_resources():
        urn = urn.replace("::pulumi:pulumi:Stack$", "::")
        qualified_type, name = urn.split("::")[2:4]
        if (qualified_type == "site-storage:index:SiteStorage" and name == site) or (
            qualified_type.startswith("site-storage:index:SiteStorage$") and name in names
        ):
            urns.append(urn)
    return urns


SHOP_STACK = """\
# Shop stack: the comments below must survive every edit.
config:
  site-storage:region: aws-eu-central-1
  site-storage:bucket_prefix: shop-media   # bucket names start with this
  site-storage:sites:
    # The live shop; its JavaScript loads fonts from the media bucket.
    shop-live:
      media_domain: media.shop.example
      cors:
        origins:
          - https://www.shop.example   # the storefront
        methods: [GET, HEAD]
    shop-stage:
      private: false
    # The blog: public media only.
    blog:
      private: false
# End of the shop stack.
"""
"""An AWS stack with comments in every awkward place, written as `shop` into test projects."""


def plain(text: str) -> str:
    """Text without Typer's error box and line wrapping, for matching usage errors."""
    return " ".join(text.replace("│", " ").split())

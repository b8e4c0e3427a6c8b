"""Stand-in programs for engine tests that need what the real program never does (a policy violation)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from tests.support.engine import EngineProject, EngineStack
from tests.support.stacks import ROOT, example_stack

UNPROTECTED_BUCKET_PROGRAM = '''\
"""One site whose public bucket is registered without protect, on a stack that asks for protection."""
import pulumi

from components.generic_s3.connection import region_props
from components.generic_s3.resources import Bucket
from components.regions import resolve_region


class SiteStorage(pulumi.ComponentResource):
    def __init__(self, name: str) -> None:
        super().__init__("site-storage:index:SiteStorage", name)
        region = region_props(resolve_region("custom", endpoint="http://127.0.0.1:9", path_style=True))
        Bucket(f"{name}-public", region=region, bucket=f"bad-media-{name}-public",
               opts=pulumi.ResourceOptions(parent=self, protect=False))
        self.register_outputs({})


SiteStorage("demo")
'''


def unprotected_bucket_project(root: Path, engine: EngineProject) -> EngineStack:
    """A project whose program breaks `buckets-protected`; its stack keeps the pack's default, protect on."""
    (root / "stacks").mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(
        "name: site-storage\n"
        "runtime:\n  name: python\n  options:\n"
        f"    toolchain: pip\n    virtualenv: {ROOT / '.venv'}\n"
        "stackConfigDir: stacks\n",
        encoding="utf-8",
    )
    (root / "__main__.py").write_text(UNPROTECTED_BUCKET_PROGRAM, encoding="utf-8")
    local = example_stack("local").read_text(encoding="utf-8")
    stack_text = (
        local.replace("http://127.0.0.1:5000", "http://127.0.0.1:9")
        .replace("local-media", "bad-media")
        .replace("  site-storage:protect: false\n", "")
    )
    project = dataclasses.replace(engine, root=root)
    return project.stack("bad", stack_text, root / "state")

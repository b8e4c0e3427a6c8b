"""Backup sets in the tests: a stack that declares site-storage:backups, deployed on moto, and a clock to inject."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.client import BaseClient
from typer.testing import CliRunner, Result

from storagectl.cli import app
from storagectl.media import backup_sets
from storagectl.offline import evaluate
from storagectl.stack_files import read_stack_file
from tests.support.cli_project import copy_project
from tests.support.moto_apply import SiteKey
from tests.support.moto_verify import Deployment, deploy, iam_enforced, reset_moto
from tests.support.stacks import example_stack

STACK = "aws-backups"
BACKUP_BUCKET = "acme-media-backups"
LIVE = ("acme-media-acme-live-public", "acme-media-acme-live-private")
STAGE = ("acme-media-acme-stage-public", "acme-media-acme-stage-private")
WRITER_KEY = "backups-writer-key"
BACKUPS_YAML = "  site-storage:backups:\n    retention: {daily: 7, weekly: 4, monthly: 12}\n"


def write_backup_stack(project_root: Path, extra: str = BACKUPS_YAML, name: str = STACK) -> Path:
    """The AWS example stack with site-storage:backups (Divio's 7/4/12), as `stacks/Pulumi.<name>.yaml`."""
    text = example_stack("aws-eu-central-1").read_text(encoding="utf-8").replace("config:\n", f"config:\n{extra}", 1)
    path = project_root / "stacks" / f"Pulumi.{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@dataclass
class BackupWorld:
    deployment: Deployment
    project: Path
    outputs: Path

    @property
    def writer(self) -> SiteKey:
        return self.deployment.keys[WRITER_KEY]

    def s3(self, key: SiteKey | None = None) -> Any:
        return self.deployment.s3(key) if key is not None else self.deployment.s3()

    def put(self, bucket: str, key: str, body: bytes, **extra: Any) -> None:
        self.s3().put_object(Bucket=bucket, Key=key, Body=body, **extra)

    def media(self, *args: str, at: datetime | None = None, monkeypatch: pytest.MonkeyPatch | None = None) -> Result:
        """`storagectl media ARGS --stack aws-backups` with IAM enforced; `at` is the clock the run sees."""
        if at is not None:
            assert monkeypatch is not None
            monkeypatch.setattr(backup_sets, "clock", lambda: at)
        command = ["media", *args, "--stack", STACK, "--outputs", str(self.outputs)]
        command += ["--endpoint-url", self.deployment.endpoint]
        # No operator credentials at all: the backup writer's key comes from the outputs.
        env = {"AWS_ACCESS_KEY_ID": "nobody", "AWS_SECRET_ACCESS_KEY": "nothing", "AWS_PROFILE": None}
        with iam_enforced():
            return CliRunner().invoke(app, command, env=env)


def deploy_backup_stack(tmp_path: Path, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> BackupWorld:
    """The stack's buckets, keys and backup bucket on moto, as the program declares them; the CLI in its project."""
    reset_moto(moto_endpoint)
    project = copy_project(tmp_path / "project", examples=False).root
    evaluation = evaluate(read_stack_file(write_backup_stack(project)))
    deployment = deploy(evaluation, moto_endpoint)
    outputs = deployment.outputs()
    writer = deployment.keys[WRITER_KEY]
    outputs["backup_credential"] = [writer.key_id, writer.secret]
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs), encoding="utf-8")
    monkeypatch.chdir(project)
    return BackupWorld(deployment, project, path)


def ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.stdout + result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@contextmanager
def counted_requests() -> Iterator[Counter[str]]:
    """Every S3 operation botocore sends in this process, by name (what a run costs in requests)."""
    counts: Counter[str] = Counter()
    original = BaseClient._make_api_call

    def counting(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        counts[operation] += 1
        return original(self, operation, params)

    BaseClient._make_api_call = counting
    try:
        yield counts
    finally:
        BaseClient._make_api_call = original

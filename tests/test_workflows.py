"""The GitHub workflows, checked offline: the workflow JSON schema and what each job must do."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = ROOT / ".github" / "workflows"
PREVIEW = WORKFLOWS / "preview.yml"
DEPLOY = WORKFLOWS / "deploy.yml"
BACKUP = WORKFLOWS / "backup.yml"
CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def load(path: Path) -> dict[str, Any]:
    # The safe loader reads `on:` as the string "on" (YAML 1.2), as GitHub does.
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def step_using(job: dict[str, Any], action: str) -> dict[str, Any]:
    [step] = [step for step in job["steps"] if str(step.get("uses", "")).startswith(f"{action}@")]
    return step


def runs(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) for step in job["steps"])


@pytest.mark.parametrize("path", [PREVIEW, DEPLOY, BACKUP], ids=lambda path: path.name)
def test_workflow_matches_the_github_workflow_schema(path: Path) -> None:
    result = schema_check(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_refuses_a_broken_workflow(tmp_path: Path) -> None:
    # Without this, a schema check that accepts anything would pass the test above.
    broken = tmp_path / "broken.yml"
    broken.write_text(PREVIEW.read_text(encoding="utf-8").replace("runs-on:", "runs_on:", 1), encoding="utf-8")
    assert schema_check(broken).returncode != 0


def test_preview_runs_tests_then_previews_each_changed_stack_with_the_policy_pack() -> None:
    workflow = load(PREVIEW)
    assert set(workflow["on"]) == {"pull_request"}
    jobs = workflow["jobs"]
    assert "make test" in runs(jobs["test"])
    assert "ci/changed_stacks.py" in runs(jobs["changes"])
    assert jobs["changes"]["outputs"]["stacks"] == "${{ steps.matrix.outputs.stacks }}"
    preview = jobs["preview"]
    assert set(preview["needs"]) == {"test", "changes"}
    assert preview["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.changes.outputs.stacks) }}"
    assert preview["if"] == "needs.changes.outputs.stacks != '[]'"
    assert preview["permissions"] == {"contents": "read", "id-token": "write", "pull-requests": "write"}
    pulumi = step_using(preview, "pulumi/actions")["with"]
    assert pulumi["command"] == "preview"
    assert pulumi["policyPacks"] == "policy"
    assert pulumi["comment-on-pr"] is True
    assert pulumi["stack-name"] == "${{ matrix.stack }}"
    assert set(jobs["previews-passed"]["needs"]) == {"test", "changes", "preview"}


def test_deploy_runs_up_for_changed_stacks_behind_the_production_environment() -> None:
    workflow = load(DEPLOY)
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    jobs = workflow["jobs"]
    assert "make test" in runs(jobs["test"])
    assert "ci/changed_stacks.py" in runs(jobs["changes"])
    up = jobs["up"]
    assert up["environment"] == "production"
    assert set(up["needs"]) == {"test", "changes"}
    assert up["permissions"]["id-token"] == "write"
    pulumi = step_using(up, "pulumi/actions")["with"]
    assert (pulumi["command"], pulumi["policyPacks"]) == ("up", "policy")


@pytest.mark.parametrize("path", [PREVIEW, DEPLOY], ids=lambda path: path.name)
def test_credentials_come_from_oidc_vars_and_secrets_never_from_the_file(path: Path) -> None:
    workflow = load(path)
    job = workflow["jobs"]["preview" if path == PREVIEW else "up"]
    aws = step_using(job, "aws-actions/configure-aws-credentials")["with"]
    assert aws["role-to-assume"] == "${{ vars.AWS_ROLE_ARN }}"
    assert not {"aws-access-key-id", "aws-secret-access-key"} & set(aws)
    env = step_using(job, "pulumi/actions")["env"]
    assert env["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    for name in ("EXOSCALE_API_KEY", "EXOSCALE_API_SECRET"):
        assert f"secrets.{name}" in env[name]
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"AKIA[0-9A-Z]{16}|EXO[0-9a-f]{24}|arn:aws:iam::\d{12}", text)


@pytest.mark.parametrize("path", [PREVIEW, DEPLOY, BACKUP], ids=lambda path: path.name)
def test_actions_are_pinned_to_major_versions(path: Path) -> None:
    uses = [step["uses"] for job in load(path)["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", use) for use in uses), uses


def test_backup_runs_on_a_schedule_backup_then_prune_for_each_stack_with_backups() -> None:
    workflow = load(BACKUP)
    assert set(workflow["on"]) == {"schedule", "workflow_dispatch"}
    [cron] = [entry["cron"] for entry in workflow["on"]["schedule"]]
    assert re.fullmatch(r"\d+ \d+ \* \* \*", cron), "once a day"
    jobs = workflow["jobs"]
    assert "ci/backup_stacks.py" in runs(jobs["stacks"])
    job = jobs["backup"]
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert job["concurrency"] == {"group": "backup-${{ matrix.stack }}", "cancel-in-progress": False}
    commands = runs(job)
    backup = commands.index("storagectl media backup --all --stack")
    assert backup < commands.index("storagectl media prune --stack"), "prune only after the day's backup"
    assert "pulumi stack output --json --show-secrets" in commands


def test_backup_sets_credentials_up_as_deploy_does() -> None:
    """The same OIDC role, region, backend and passphrase as deploy.yml; nothing secret in the file."""
    backup_job, deploy_job = load(BACKUP)["jobs"]["backup"], load(DEPLOY)["jobs"]["up"]
    aws = step_using(backup_job, "aws-actions/configure-aws-credentials")["with"]
    deploy_aws = step_using(deploy_job, "aws-actions/configure-aws-credentials")["with"]
    assert {key: aws[key] for key in ("role-to-assume", "aws-region")} == {
        key: deploy_aws[key] for key in ("role-to-assume", "aws-region")
    }
    assert backup_job["permissions"] == {"contents": "read", "id-token": "write"}
    assert backup_job["environment"] == deploy_job["environment"] == "production"
    [step] = [step for step in backup_job["steps"] if "storagectl media backup" in str(step.get("run", ""))]
    assert step["env"]["PULUMI_CONFIG_PASSPHRASE"] == "${{ secrets.PULUMI_CONFIG_PASSPHRASE }}"
    assert step["env"]["PULUMI_BACKEND_URL"] == "${{ vars.PULUMI_BACKEND_URL }}"
    assert not re.search(r"AKIA[0-9A-Z]{16}|EXO[0-9a-f]{24}|arn:aws:iam::\d{12}", BACKUP.read_text(encoding="utf-8"))


def test_backup_stacks_lists_the_stacks_that_declare_backups(tmp_path: Path) -> None:
    from tests.support.backups import write_backup_stack

    (tmp_path / "stacks").mkdir()
    for example in ("aws-eu-central-1", "local"):
        (tmp_path / "stacks" / f"Pulumi.{example}.yaml").write_bytes(
            (ROOT / "stacks" / f"Pulumi.{example}.yaml").read_bytes()
        )
    write_backup_stack(tmp_path)
    (tmp_path / "stacks" / "Pulumi.broken.yaml").write_text("config:\n  site-storage:region: mars\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "ci" / "backup_stacks.py"),
            "--stacks-dir",
            str(tmp_path / "stacks"),
            "--skip",
            "local",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout) == ["aws-backups"]
    assert "Pulumi.broken.yaml: skipped" in done.stderr

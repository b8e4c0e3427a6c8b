"""The GitHub workflows, checked offline: the workflow JSON schema and what each job must do."""

from __future__ import annotations

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


@pytest.mark.parametrize("path", [PREVIEW, DEPLOY], ids=lambda path: path.name)
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


@pytest.mark.parametrize("path", [PREVIEW, DEPLOY], ids=lambda path: path.name)
def test_actions_are_pinned_to_major_versions(path: Path) -> None:
    uses = [step["uses"] for job in load(path)["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses
    assert all(re.fullmatch(r"[\w.-]+/[\w.-]+@v\d+", use) for use in uses), uses

"""ci/changed_stacks.py: which stacks the workflows preview (and deploy) for a set of changed paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ci.changed_stacks import existing_stacks, gone_stacks, stacks_to_preview

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "ci" / "changed_stacks.py"
EXISTING = ["aws-eu-central-1", "exoscale-ch-gva-2", "local"]


def test_existing_stacks_are_the_stack_files_in_the_tree() -> None:
    assert set(existing_stacks(ROOT / "stacks")) >= set(EXISTING)


def test_a_stack_file_change_previews_only_that_stack() -> None:
    assert stacks_to_preview(["stacks/Pulumi.exoscale-ch-gva-2.yaml"], EXISTING) == ["exoscale-ch-gva-2"]


def test_two_stack_files_and_docs_preview_the_two_stacks() -> None:
    changed = ["README.md", "stacks/Pulumi.local.yaml", "stacks/Pulumi.aws-eu-central-1.yaml"]
    assert stacks_to_preview(changed, EXISTING) == ["aws-eu-central-1", "local"]


@pytest.mark.parametrize(
    "path",
    [
        "components/site_storage.py",
        "components/regions.py",
        "policy/bucket_rules.py",
        "policy/requirements.txt",
        "__main__.py",
        "Pulumi.yaml",
        "pyproject.toml",
        "uv.lock",
        "./components/config.py",
    ],
)
def test_program_component_or_policy_changes_preview_every_stack(path: str) -> None:
    assert stacks_to_preview([path, "stacks/Pulumi.local.yaml"], EXISTING) == sorted(EXISTING)


@pytest.mark.parametrize(
    "changed",
    [
        ["README.md"],
        ["README.md", "docs/operations.md"],
        ["tests/test_policy_rules.py", "storagectl/cli.py", "Makefile", "ci/changed_stacks.py"],
        ["stacks/README.md"],
        [],
        ["", "   "],
    ],
)
def test_docs_tests_and_tools_preview_nothing(changed: list[str]) -> None:
    assert stacks_to_preview(changed, EXISTING) == []


def test_a_deleted_stack_file_is_not_previewed_but_named() -> None:
    remaining = ["aws-eu-central-1", "local"]
    changed = ["stacks/Pulumi.exoscale-ch-gva-2.yaml"]
    assert stacks_to_preview(changed, remaining) == []
    assert gone_stacks(changed, remaining) == ["exoscale-ch-gva-2"]
    # With a component change too, every remaining stack, still not the deleted one.
    assert stacks_to_preview([*changed, "components/site_storage.py"], remaining) == remaining


@pytest.mark.parametrize("path", ["stacks/Pulumi.nope.yaml", "stacks/Pulumi..yaml", "stacks/sub/Pulumi.local.yaml"])
def test_an_unknown_stack_is_not_previewed(path: str) -> None:
    assert stacks_to_preview([path], EXISTING) == []


def test_yml_extension_counts_as_a_stack_file() -> None:
    assert stacks_to_preview(["stacks/Pulumi.local.yml"], EXISTING) == ["local"]


def test_skipped_stacks_are_never_chosen() -> None:
    assert stacks_to_preview(["components/x.py"], EXISTING, skip=["local"]) == ["aws-eu-central-1", "exoscale-ch-gva-2"]
    assert stacks_to_preview(["stacks/Pulumi.local.yaml"], EXISTING, skip=["local"]) == []


def run_script(stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--stacks-dir", str(ROOT / "stacks"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )


def test_script_prints_the_matrix_as_json() -> None:
    result = run_script("components/site_storage.py\nREADME.md\n", "--skip", "local")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == sorted(set(existing_stacks(ROOT / "stacks")) - {"local"})


def test_script_prints_an_empty_matrix_for_docs_and_names_gone_stacks() -> None:
    result = run_script("README.md\nstacks/Pulumi.retired.yaml\n")
    assert result.returncode == 0
    assert json.loads(result.stdout) == []
    assert "stacks/Pulumi.retired.yaml changed but is not in the tree" in result.stderr

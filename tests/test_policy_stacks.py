"""Every policy over every example stack as the mock runtime evaluates it, and what breaks them.

Also `storagectl preview --policy`, which runs the same checks: exit 0 on every example stack,
exit 1 with one line per violation when a resource set breaks a policy.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

import storagectl.offline
from policy.site_storage_policies import RESOURCE_RULES
from storagectl.cli import app
from storagectl.offline import Evaluation, RecordedResource
from storagectl.policy_check import Violation, check_evaluation
from storagectl.stack_files import StackFile, read_stack_file

ROOT = Path(__file__).resolve().parent.parent
STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
AWS = ROOT / "stacks" / "Pulumi.aws-eu-central-1.yaml"


@pytest.fixture
def evaluated(example: Callable[[str], Evaluation]) -> dict[str, tuple[StackFile, Evaluation]]:
    """Every example stack's file and evaluation (conftest evaluates each once per session)."""
    stacks = {}
    for path in STACK_FILES:
        stack_file = read_stack_file(path)
        stacks[stack_file.stack] = (stack_file, example(stack_file.stack))
    return stacks


def with_resource(evaluation: Evaluation, name: str, **changes: object) -> Evaluation:
    """A copy of the evaluation with one recorded resource changed."""
    resources = [dataclasses.replace(r, **changes) if r.name == name else r for r in evaluation.resources]  # type: ignore[arg-type]
    assert resources != evaluation.resources, f"no resource {name}"
    return dataclasses.replace(evaluation, resources=resources)


def resource(evaluation: Evaluation, name: str) -> RecordedResource:
    return next(r for r in evaluation.resources if r.name == name)


def test_example_stacks_are_all_here() -> None:
    assert {path.name for path in STACK_FILES} >= {
        "Pulumi.aws-eu-central-1.yaml",
        "Pulumi.exoscale-ch-gva-2.yaml",
        "Pulumi.local.yaml",
    }


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda path: path.stem)
def test_every_policy_passes_on_every_example_stack(stack_file: Path, evaluated) -> None:
    stack, evaluation = evaluated[read_stack_file(stack_file).stack]
    violations = check_evaluation(evaluation, stack.values)
    assert violations == [], "\n".join(violation.line() for violation in violations)


def test_the_examples_exercise_every_resource_policy(evaluated) -> None:
    # "All pass" means something only if every rule found resources to look at.
    types = {r.type for _, evaluation in evaluated.values() for r in evaluation.resources}
    for rule in RESOURCE_RULES:
        assert types & rule.resource_types, f"{rule.name} checked nothing in the example stacks"


def test_refuses_a_private_access_block_with_one_flag_off(evaluated) -> None:
    stack, evaluation = evaluated["aws-eu-central-1"]
    name = "acme-live-private-access-block"
    inputs = {**resource(evaluation, name).inputs, "restrictPublicBuckets": False}
    [violation] = check_evaluation(with_resource(evaluation, name, inputs=inputs), stack.values)
    assert violation == Violation(
        "private-bucket-access-blocked",
        "acme-live",
        name,
        "site acme-live: the private bucket's public access block leaves restrictPublicBuckets off; "
        "all four flags must be on",
    )
    assert violation.line() == (
        "private-bucket-access-blocked: site acme-live: acme-live-private-access-block: "
        "the private bucket's public access block leaves restrictPublicBuckets off; all four flags must be on"
    )


def test_refuses_a_private_bucket_that_lost_its_access_block(evaluated) -> None:
    stack, evaluation = evaluated["aws-eu-central-1"]
    resources = [r for r in evaluation.resources if r.name != "acme-stage-private-access-block"]
    violations = check_evaluation(dataclasses.replace(evaluation, resources=resources), stack.values)
    assert [(v.policy, v.site, v.resource) for v in violations] == [
        ("private-bucket-access-block-present", "acme-stage", "acme-stage-private")
    ]


def test_refuses_an_unprotected_bucket_of_a_protected_stack(evaluated) -> None:
    stack, evaluation = evaluated["exoscale-ch-gva-2"]
    broken = with_resource(evaluation, "geneva-live-private", protect=False)
    [violation] = check_evaluation(broken, stack.values)
    assert (violation.policy, violation.site) == ("buckets-protected", "geneva-live")


def test_refuses_a_site_policy_naming_another_sites_bucket(evaluated) -> None:
    stack, evaluation = evaluated["aws-eu-central-1"]
    name = "acme-live-access-policy"
    policy = resource(evaluation, name).inputs["policy"].replace("acme-live-private", "acme-stage-private")
    violations = check_evaluation(with_resource(evaluation, name, inputs={"policy": policy}), stack.values)
    assert {(v.policy, v.site, v.resource) for v in violations} == {("iam-site-scoped", "acme-live", name)}
    assert all("arn:aws:s3:::acme-media-acme-stage-private" in v.message for v in violations)


def test_refuses_public_read_on_a_private_bucket(evaluated) -> None:
    stack, evaluation = evaluated["aws-eu-central-1"]
    name = "acme-live-private-policy"
    document = json.loads(resource(evaluation, name).inputs["policy"])
    document["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::x/*"}
    )
    inputs = {**resource(evaluation, name).inputs, "policy": json.dumps(document)}
    [violation] = check_evaluation(with_resource(evaluation, name, inputs=inputs), stack.values)
    assert (violation.policy, violation.site) == ("anonymous-read-public-bucket-only", "acme-live")


def test_refuses_any_origin_cors_without_the_sites_opt_in(evaluated) -> None:
    stack, evaluation = evaluated["local"]
    name = "demo-public-cors"
    rules = [{**resource(evaluation, name).inputs["corsRules"][0], "allowedOrigins": ["*"]}]
    inputs = {**resource(evaluation, name).inputs, "corsRules": rules}
    [violation] = check_evaluation(with_resource(evaluation, name, inputs=inputs), stack.values)
    assert (violation.policy, violation.site) == ("cors-origins-https", "demo")
    opted_in = {**stack.values, "sites": {"demo": {"cors": {"origins": ["*"], "allow_any_origin": True}}}}
    assert check_evaluation(with_resource(evaluation, name, inputs=inputs), opted_in) == []


def test_refuses_a_credential_in_the_plain_sites_output(evaluated) -> None:
    stack, evaluation = evaluated["aws-eu-central-1"]
    leaked = json.loads(json.dumps(evaluation.outputs))
    leaked["sites"]["acme-stage"]["default_storage_dsn"] = evaluation.outputs["site_settings"]["acme-stage"][
        "default_storage_dsn"
    ]
    [violation] = check_evaluation(dataclasses.replace(evaluation, outputs=leaked), stack.values)
    assert (violation.policy, violation.site, violation.resource) == (
        "no-credential-in-plain-outputs",
        "acme-stage",
        "sites.acme-stage.default_storage_dsn",
    )


# --- storagectl preview --policy ----------------------------------------------------------------


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda path: path.stem)
def test_preview_policy_passes_on_every_example_stack(stack_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["preview", "--policy", "--stack", read_stack_file(stack_file).stack])
    assert result.exit_code == 0, result.output
    assert "policy:" not in result.stderr


def test_preview_policy_exits_1_with_one_line_per_violation(evaluated, monkeypatch: pytest.MonkeyPatch) -> None:
    _, evaluation = evaluated["aws-eu-central-1"]
    broken = with_resource(evaluation, "brochure-live-public", protect=False, inputs={"forceDestroy": True})
    monkeypatch.setattr(storagectl.offline, "evaluate", lambda stack_file: broken)
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["preview", "--policy", "--json", "--stack", "aws-eu-central-1"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["stack"] == "aws-eu-central-1"  # the preview itself still prints
    lines = result.stderr.splitlines()
    assert any(
        line.startswith("buckets-protected: site brochure-live: brochure-live-public: the bucket sets")
        for line in lines
    )
    assert (
        "buckets-protected: site brochure-live: brochure-live-public: the bucket is not protected although "
        "site-storage:protect is true; a config change could then delete the site's media"
    ) in lines
    assert lines[-1] == "policy: 2 mandatory violation(s)"


def test_preview_without_policy_does_not_check(evaluated, monkeypatch: pytest.MonkeyPatch) -> None:
    _, evaluation = evaluated["aws-eu-central-1"]
    broken = with_resource(evaluation, "brochure-live-public", protect=False)
    monkeypatch.setattr(storagectl.offline, "evaluate", lambda stack_file: broken)
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(app, ["preview", "--json", "--stack", "aws-eu-central-1"])
    assert result.exit_code == 0


def test_the_pack_knows_the_generic_s3_types_by_their_real_tokens() -> None:
    """The pack runs without the project installed, so it spells the dynamic types out itself."""
    from components.generic_s3.resources import BUCKET_TYPE, CORS_TYPE
    from policy.bucket_rules import GENERIC_BUCKET_TYPE, GENERIC_CORS_TYPE

    assert (GENERIC_BUCKET_TYPE, GENERIC_CORS_TYPE) == (BUCKET_TYPE, CORS_TYPE)


def test_refuses_a_public_bucket_acl_on_a_generic_bucket(evaluated) -> None:
    stack, evaluation = evaluated["exoscale-ch-gva-2"]
    name = "geneva-live-private"
    broken = with_resource(evaluation, name, inputs={**resource(evaluation, name).inputs, "acl": "public-read"})
    [violation] = check_evaluation(broken, stack.values)
    assert (violation.policy, violation.site, violation.resource) == (
        "anonymous-read-public-bucket-only",
        "geneva-live",
        name,
    )

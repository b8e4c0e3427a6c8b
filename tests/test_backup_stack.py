"""site-storage:backups in the stack: config validation, what the program declares, the preview, the policy pack."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from components.backups import backup_writer_policy
from components.policies import private_bucket_policy
from policy.backup_rules import check_backup_bucket_private, check_backup_writer_scope
from policy.model import ResourceContext, StackFacts
from storagectl.cli import app
from storagectl.offline import evaluate
from storagectl.policy_check import check_evaluation
from storagectl.stack_files import read_stack_file
from tests.support.backups import BACKUPS_YAML, write_backup_stack
from tests.support.cli_project import copy_project
from tests.support.stacks import named

FACTS = StackFacts(bucket_prefix="acme-media")
BUCKET_CONTEXT = ResourceContext(name="backups-bucket", site=None, protect=True, stack=FACTS)
POLICY_CONTEXT = ResourceContext(name="backups-bucket-policy", site=None, stack=FACTS)
WRITER_CONTEXT = ResourceContext(name="backups-writer-policy", site=None, stack=FACTS)


def preview(path: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["preview", "--config", str(path), *args])


def refused(path: Path) -> list[str]:
    """`storagectl preview --config PATH` through the console script: exit 2, the lines it printed."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "storagectl"), "preview", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stdout + result.stderr
    return result.stderr.strip().splitlines()


def test_the_preview_shows_the_backup_bucket_its_policy_and_the_writer(tmp_path: Path) -> None:
    lock = BACKUPS_YAML + "    object_lock: {mode: compliance, days: 14}\n"
    path = write_backup_stack(copy_project(tmp_path, examples=False).root, lock)
    result = preview(path, "--policy")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert (
        "backups: bucket acme-media-backups (private, protected, object lock compliance 14 days); keeps the newest "
        "set of each of the last 7 days, 4 weeks, 12 months; written by IAM user acme-media-backups-writer"
    ) in result.stdout
    assert "public access block: blockPublicAcls True, ignorePublicAcls True, blockPublicPolicy True" in result.stdout
    document = json.loads(preview(path, "--json").stdout)["backups"]
    assert document["bucket_policy"] == private_bucket_policy("acme-media-backups")
    assert document["writer_policy"] == backup_writer_policy("acme-media", "acme-media-backups")
    evaluation = evaluate(read_stack_file(path))
    bucket = named(evaluation, "backups-bucket")
    assert (bucket.inputs["objectLockEnabled"], bucket.protect, bucket.inputs["forceDestroy"]) == (True, True, False)
    assert named(evaluation, "backups-bucket-object-lock").inputs["rule"]["defaultRetention"] == {
        "mode": "COMPLIANCE",
        "days": 14,
    }
    assert evaluation.outputs["backups"]["retention"] == {"daily": 7, "weekly": 4, "monthly": 12}
    # The writer's key is only in the secret output, never a site's settings.
    assert set(evaluation.outputs) >= {"backups", "backup_credential"}
    assert "backups" not in evaluation.outputs["site_settings"]


def test_without_the_key_there_is_no_backup_bucket(aws_stack: Any) -> None:
    assert "backups" not in aws_stack.outputs
    assert not [resource for resource in aws_stack.resources if resource.name.startswith("backups")]


def test_a_custom_stack_writes_backups_with_its_own_key_and_a_private_bucket_acl(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "stacks" / "Pulumi.local.yaml").read_text(encoding="utf-8")
    path = copy_project(tmp_path, examples=False).root / "stacks" / "Pulumi.local.yaml"
    path.write_text(text.replace("config:\n", "config:\n  site-storage:backups: {}\n", 1), encoding="utf-8")
    evaluation = evaluate(read_stack_file(path))
    assert evaluation.outputs["backups"]["writer"] == "the stack's key (access_key_id)"
    assert "backup_credential" not in evaluation.outputs
    assert named(evaluation, "backups-bucket").inputs["acl"] == "private"
    assert check_evaluation(evaluation, read_stack_file(path).values) == []


@pytest.mark.parametrize(
    ("backups", "expected"),
    [
        ("{retention: {daily: -1}}", "backups.retention.daily: -1 is not allowed; use a whole number from 0 to 1000"),
        ("{retention: {hourly: 24}}", "backups.retention.hourly: unknown key; allowed keys: daily, weekly, monthly"),
        ("{retention: {daily: 0, weekly: 0, monthly: 0}}", "keep at least one set"),
        ("{object_lock: {mode: forever}}", "backups.object_lock.mode: 'forever' is not allowed; use governance or"),
        ("{object_lock: {days: 0}}", "backups.object_lock.days: 0 is not allowed; use a whole number from 1 to 36500"),
        ("{keep: 7}", "backups.keep: unknown key; allowed keys: retention, object_lock"),
        ("[7, 4, 12]", "backups: [7, 4, 12] is not allowed; use a mapping with retention and object_lock"),
    ],
)
def test_refuses_bad_backup_settings_in_one_line_naming_the_key(tmp_path: Path, backups: str, expected: str) -> None:
    path = write_backup_stack(copy_project(tmp_path, examples=False).root, f"  site-storage:backups: {backups}\n")
    lines = refused(path)
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ") and expected in lines[0], lines


def test_refuses_object_lock_where_the_region_catalog_has_none(tmp_path: Path) -> None:
    text = (Path(__file__).parent.parent / "stacks" / "Pulumi.local.yaml").read_text(encoding="utf-8")
    path = copy_project(tmp_path, examples=False).root / "stacks" / "Pulumi.local.yaml"
    extra = "  site-storage:backups: {object_lock: {days: 7}}\n"
    path.write_text(text.replace("config:\n", f"config:\n{extra}", 1), encoding="utf-8")
    [line] = refused(path)
    assert "backups.object_lock: " in line and "region custom has no S3 Object Lock" in line


def test_the_components_backup_bucket_passes_the_rule() -> None:
    assert check_backup_bucket_private("aws:s3/bucket:Bucket", {"bucket": "acme-media-backups"}, BUCKET_CONTEXT) == []
    policy = {"policy": json.dumps(private_bucket_policy("acme-media-backups"))}
    assert check_backup_bucket_private("aws:s3/bucketPolicy:BucketPolicy", policy, POLICY_CONTEXT) == []


@pytest.mark.parametrize(
    ("resource_type", "name", "inputs", "expected"),
    [
        ("aws:s3/bucket:Bucket", "backups-bucket", {"acl": "public-read"}, "canned ACL public-read"),
        ("pulumi-python:dynamic/s3:Bucket", "backups-bucket", {"acl": "authenticated-read"}, "authenticated-read"),
        (
            "aws:s3/bucketPolicy:BucketPolicy",
            "backups-bucket-policy",
            {
                "policy": json.dumps(
                    {"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}
                )
            },
            "policy lets anyone s3:GetObject",
        ),
        (
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "backups-bucket-access-block",
            {"blockPublicAcls": True, "ignorePublicAcls": True, "blockPublicPolicy": False},
            "leaves blockPublicPolicy, restrictPublicBuckets off",
        ),
        (
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "backups-bucket-ownership",
            {"rule": {"objectOwnership": "ObjectWriter"}},
            "'ObjectWriter'; use BucketOwnerEnforced",
        ),
    ],
)
def test_the_policy_pack_refuses_a_public_backup_bucket(
    resource_type: str, name: str, inputs: dict[str, Any], expected: str
) -> None:
    context = ResourceContext(name=name, site=None, stack=FACTS)
    messages = check_backup_bucket_private(resource_type, inputs, context)
    assert len(messages) == 1 and expected in messages[0] and "the backup bucket" in messages[0], messages


def test_the_policy_pack_refuses_a_public_backup_bucket_in_a_whole_stack(tmp_path: Path) -> None:
    """`preview --policy` over the real program, with the bucket's policy made public after the fact."""
    path = write_backup_stack(copy_project(tmp_path, examples=False).root)
    evaluation = evaluate(read_stack_file(path))
    policy = named(evaluation, "backups-bucket-policy")
    document = json.loads(policy.inputs["policy"])
    document["Statement"].append({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:ListBucket"})
    policy.inputs["policy"] = json.dumps(document)
    violations = check_evaluation(evaluation, read_stack_file(path).values)
    assert {violation.policy for violation in violations} >= {"backup-bucket-private"}
    assert any("a backup bucket is never public" in violation.line() for violation in violations)


def test_the_writer_policy_passes_its_rule_and_a_wider_one_is_refused() -> None:
    good = {"policy": json.dumps(backup_writer_policy("acme-media", "acme-media-backups"))}
    assert check_backup_writer_scope("aws:iam/userPolicy:UserPolicy", good, WRITER_CONTEXT) == []
    document = backup_writer_policy("acme-media", "acme-media-backups")
    document["Statement"][0]["Action"].append("s3:PutObject")
    document["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::other/*"})
    messages = check_backup_writer_scope(
        "aws:iam/userPolicy:UserPolicy", {"policy": json.dumps(document)}, WRITER_CONTEXT
    )
    assert any("s3:PutObject on arn:aws:s3:::acme-media-*-public" in message for message in messages)
    assert any("names arn:aws:s3:::other/*" in message for message in messages)


def test_the_docs_state_the_limits_names_and_defaults_the_code_applies() -> None:
    from components.config import OBJECT_LOCK_DAYS_LIMIT, RETENTION_LIMIT, Retention
    from storagectl.media.backup_sets import IN_PROGRESS_NAME, SET_TIME_FORMAT
    from storagectl.media.manifest import MANIFEST_NAME
    from storagectl.media.privacy import SAMPLE_PRIVATE, SAMPLE_PUBLIC
    from storagectl.media.prune import STALE_AFTER

    docs = Path(__file__).resolve().parent.parent / "docs"
    configuration = " ".join((docs / "configuration.md").read_text(encoding="utf-8").split())
    media = " ".join((docs / "media.md").read_text(encoding="utf-8").split())
    default = Retention()
    assert f"| {default.daily}, {default.weekly}, {default.monthly} |" in configuration
    assert f"whole numbers 0 to {RETENTION_LIMIT}" in configuration
    assert f"1 to {OBJECT_LOCK_DAYS_LIMIT}" in configuration
    assert f"<site>/sets/<UTC time>/{IN_PROGRESS_NAME}" in media and f"<site>/sets/<UTC time>/{MANIFEST_NAME}" in media
    assert STALE_AFTER.days == 1 and "started less than a day ago" in media
    assert f"anonymous GETs of up to {SAMPLE_PRIVATE + SAMPLE_PUBLIC} bodies" in media
    assert datetime(2026, 12, 1, 2, tzinfo=UTC).strftime(SET_TIME_FORMAT) == "20261201T020000Z"
    assert "(`20261201T020000Z`;" in media

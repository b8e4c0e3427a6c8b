"""`storagectl verify` on the Exoscale example stack (per-site IAM roles), on a moto server.

moto has neither Exoscale IAM nor a server that refuses boto3's default checksums; both are
stood in for (tests/support/s3_stand_ins.py): every site key is held to its role's rule as the
evaluation declares it, and every request carrying a default checksum is refused, as the
region catalog says Exoscale does. The stack's own key (the operator's) has no role.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage
from typer.testing import CliRunner

from components.policies import EXOSCALE_SITE_OPERATIONS
from storagectl.cli import app
from storagectl.offline import Evaluation
from tests.conftest import cached_evaluation
from tests.support.moto_apply import SiteKey, apply_resources
from tests.support.moto_verify import client, outputs_with_keys, reset_moto
from tests.support.s3_stand_ins import ExoscaleIam, Role, default_checksums_refused, exoscale_iam
from tests.support.stacks import options_with_credentials

STACK = "exoscale-ch-gva-2"
REGION = "ch-gva-2"
ROLE = "exoscale:index/iamRole:IamRole"
STACK_KEY = SiteKey("EXOstackkey0000000000000", "stack-secret")
SITE_KEYS = {
    "zurich-live": SiteKey("EXOzurich000000000000000", "zurich/secret+1"),
    "geneva-live": SiteKey("EXOgeneva000000000000000", "geneva/secret+2"),
}
BUCKET_CHECKS = ("read-write", "exists", "listdir", "multipart")
EVERY_CHECK = {
    **{
        (site, f"{role}.{check}"): "pass"
        for site in SITE_KEYS
        for role in ("public", "private")
        for check in BUCKET_CHECKS
    },
    **{
        (site, check): "pass"
        for site in SITE_KEYS
        for check in (
            "public.anonymous-read",
            "public.anonymous-list",
            "private.anonymous-refused",
            "private.anonymous-list",
            "private.signed-url",
            "cors",
            "isolation",
        )
    },
    **{
        (site, check): "n/a"
        for site in SITE_KEYS
        for check in ("private.access-block", "private.ownership", "private.tls-only")
    },
}
# Allowed, though nothing here shows it used: AWS asks for s3:PutObjectAcl on an upload carrying an
# ACL, and whether Exoscale names such an upload put-object-acl cannot be checked here.
ALLOWED_UNSEEN = {"put-object-acl"}


@pytest.fixture(scope="module")
def evaluation() -> Evaluation:
    return cached_evaluation(STACK)


def roles(evaluation: Evaluation) -> dict[str, Role]:
    """Each site key's role, from the role the evaluation declares for its site."""
    declared = {str(r.site): Role.from_policy(r.inputs["policy"]) for r in evaluation.resources if r.type == ROLE}
    return {SITE_KEYS[site].key_id: role for site, role in declared.items()}


def without(role: Role, operation: str) -> Role:
    assert operation in role.operations
    return Role(role.buckets, role.operations - {operation})


@pytest.fixture
def deployed(evaluation: Evaluation, moto_endpoint: str) -> Iterator[str]:
    reset_moto(moto_endpoint)
    apply_resources(evaluation.resources, client("s3", moto_endpoint, REGION))
    yield moto_endpoint
    s3 = client("s3", moto_endpoint, REGION)
    for bucket in s3.list_buckets()["Buckets"]:
        name = bucket["Name"]
        assert s3.list_objects_v2(Bucket=name).get("Contents", []) == [], f"objects left in {name}"
        assert s3.list_multipart_uploads(Bucket=name).get("Uploads", []) == [], f"uploads left in {name}"


def run_verify(
    evaluation: Evaluation, endpoint: str, tmp_path: Path, operator: SiteKey = STACK_KEY, **change: Any
) -> Any:
    document = outputs_with_keys(evaluation.outputs, SITE_KEYS)
    for site_settings in document["site_settings"].values():
        site_settings.update(change)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(document), encoding="utf-8")
    env = {"AWS_ACCESS_KEY_ID": operator.key_id, "AWS_SECRET_ACCESS_KEY": operator.secret, "AWS_PROFILE": None}
    command = ["verify", "--stack", STACK, "--outputs", str(outputs), "--endpoint-url", endpoint, "--json"]
    return CliRunner().invoke(app, command, env=env)


def records(result: Any) -> dict[tuple[str, str], tuple[str, str]]:
    return {(r["site"], r["check"]): (r["status"], r["reason"]) for r in json.loads(result.stdout)["results"]}


def not_passed(result: Any) -> dict[tuple[str, str], str]:
    return {key: status for key, (status, _) in records(result).items() if status not in ("pass", "n/a")}


def own_operations(iam: ExoscaleIam, evaluation: Evaluation) -> set[str]:
    """Operations the site keys used on their own buckets (refused tries on other sites' left out)."""
    key_roles = roles(evaluation)
    return {operation for key, bucket, operation in iam.seen if bucket in key_roles[key].buckets}


def test_every_check_passes_with_the_declared_roles_and_strict_checksums(
    evaluation: Evaluation, deployed: str, tmp_path: Path
) -> None:
    """Site keys held to their roles, default checksums refused: verify passes, because its site
    clients use the `environment` the settings carry (when_required), and reads CORS with the
    stack's key: no site key ever asked for a bucket setting."""
    with exoscale_iam(roles(evaluation)) as iam, default_checksums_refused():
        result = run_verify(evaluation, deployed, tmp_path)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert {key: status for key, (status, _) in records(result).items()} == EVERY_CHECK
    assert not any(operation.startswith("get-bucket-") for _, _, operation in iam.seen)
    assert "checksums when_required" in records(result)[("geneva-live", "public.multipart")][1]


def test_settings_without_the_checksum_environment_fail_on_a_strict_server(
    evaluation: Evaluation, deployed: str, tmp_path: Path
) -> None:
    """The same stack with `environment` dropped from the settings: verify's site clients then use
    boto3's defaults, as the site's would, and every upload is refused, exactly as the site's."""
    with exoscale_iam(roles(evaluation)), default_checksums_refused():
        result = run_verify(evaluation, deployed, tmp_path, environment={})
    failed = not_passed(result)
    for site in SITE_KEYS:
        assert failed[(site, "public.read-write")] == failed[(site, "private.read-write")] == "fail"
        reason = records(result)[(site, "public.read-write")][1]
        assert "put of the probe object failed: InvalidRequest (HTTP 400): checksum headers are not supported" in reason
    assert result.exit_code == 1


def test_the_sites_key_may_not_read_cors_so_the_stacks_key_does(
    evaluation: Evaluation, deployed: str, tmp_path: Path
) -> None:
    """What verify did before: bucket settings read with a site's key, which its role refuses."""
    with exoscale_iam(roles(evaluation)), default_checksums_refused():
        result = run_verify(evaluation, deployed, tmp_path, operator=SITE_KEYS["zurich-live"])
    assert not_passed(result) == {(site, "cors"): "skip" for site in SITE_KEYS}
    assert records(result)[("zurich-live", "cors")][1].startswith("cannot read the CORS configuration: AccessDenied")


def test_roles_allow_what_django_storages_and_verify_call_and_nothing_more(
    evaluation: Evaluation, deployed: str, tmp_path: Path
) -> None:
    """The operations seen from a verify run and from django-storages itself (save, a multipart
    save above s3transfer's 8 MiB threshold, exists, listdir, open, size, url, delete) with a
    site's key are the role's operations; ALLOWED_UNSEEN names the one allowed without being seen."""
    with exoscale_iam(roles(evaluation)) as iam, default_checksums_refused():
        result = run_verify(evaluation, deployed, tmp_path)
        assert result.exit_code == 0, result.stdout
        verify_calls = own_operations(iam, evaluation)
        iam.seen.clear()
        options = evaluation.outputs["site_settings"]["geneva-live"]["STORAGES"]["private"]["OPTIONS"]
        key = SITE_KEYS["geneva-live"]
        config = {**options_with_credentials(options, key.key_id, key.secret), "endpoint_url": deployed}
        environment = evaluation.outputs["site_settings"]["geneva-live"]["environment"]
        with pytest.MonkeyPatch.context() as patch:
            for name, value in environment.items():
                patch.setenv(name, value)
            storage = S3Storage(**{**config, "addressing_style": "path"})
            small = storage.save("docs/a.txt", ContentFile(b"a"))
            large = storage.save("docs/big.bin", ContentFile(b"b" * (9 * 1024 * 1024)))
            assert storage.exists(small) and not storage.exists("docs/missing.txt")
            assert sorted(storage.listdir("docs")[1]) == ["a.txt", "big.bin"]
            assert storage.open(small).read() == b"a" and storage.size(large) == 9 * 1024 * 1024
            assert "X-Amz-Signature=" in storage.url(small)
            storage.delete(small)
            storage.delete(large)
        django_calls = own_operations(iam, evaluation)
    assert {"create-multipart-upload", "upload-part", "complete-multipart-upload"} <= django_calls
    assert set(EXOSCALE_SITE_OPERATIONS) == verify_calls | django_calls | ALLOWED_UNSEEN
    assert not ALLOWED_UNSEEN & (verify_calls | django_calls)


@pytest.mark.parametrize(
    ("operation", "failing"),
    [
        ("head-object", ("exists", "multipart")),  # multipart reads the completed object's size back
        ("list-objects", ("listdir",)),
        ("upload-part", ("multipart",)),
        ("complete-multipart-upload", ("multipart",)),
        ("abort-multipart-upload", ("multipart",)),
        ("list-parts", ("multipart",)),
    ],
)
def test_a_role_without_the_operation_fails_the_matching_checks(
    evaluation: Evaluation, deployed: str, tmp_path: Path, operation: str, failing: tuple[str, ...]
) -> None:
    """geneva-live's role loses one operation: exactly the checks making that call fail, on both buckets."""
    key_roles = roles(evaluation)
    geneva = SITE_KEYS["geneva-live"].key_id
    key_roles[geneva] = without(key_roles[geneva], operation)
    with exoscale_iam(key_roles), default_checksums_refused():
        result = run_verify(evaluation, deployed, tmp_path)
        if operation == "abort-multipart-upload":  # the stuck uploads are named; the stack's key removes them
            s3 = client("s3", deployed, REGION, STACK_KEY)
            for bucket in ("helvetia-media-geneva-live-public", "helvetia-media-geneva-live-private"):
                for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
                    s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    assert not_passed(result) == {
        ("geneva-live", f"{role}.{check}"): "fail" for role in ("public", "private") for check in failing
    }
    for role in ("public", "private"):
        assert "(HTTP 403)" in records(result)[("geneva-live", f"{role}.{failing[0]}")][1]

"""`storagectl verify` end to end against a moto server on 127.0.0.1, over real HTTP.

The AWS example stack is evaluated offline, created on moto by tests/support/moto_apply.py,
and verify runs through the CLI with an outputs file holding the real moto keys and with moto
enforcing IAM (signatures, user policies). Then one thing at a time is broken and exactly the
checks that depend on it must stop passing. What moto does not enforce is said per test;
tests/support/moto_verify.py names the two moto gaps it closes (TLS-only deny, unsigned
requests under IAM enforcement).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from storagectl.cli import app
from storagectl.offline import Evaluation
from tests.support.moto_apply import SiteKey, apply_resources
from tests.support.moto_verify import (
    ROOT_KEY,
    Deployment,
    client,
    deploy,
    iam_enforced,
    outputs_with_keys,
    reset_moto,
)

STACK = "aws-eu-central-1"
LIVE_PUBLIC = "acme-media-acme-live-public"
LIVE_PRIVATE = "acme-media-acme-live-private"
PUBLIC_DJANGO_CALLS = ("public.exists", "public.listdir", "public.multipart")
PRIVATE_DJANGO_CALLS = ("private.exists", "private.listdir", "private.multipart")
PUBLIC_CHECKS = ("public.read-write", *PUBLIC_DJANGO_CALLS, "public.anonymous-read")
PRIVATE_CHECKS = ("private.read-write", *PRIVATE_DJANGO_CALLS, "private.anonymous-refused", "private.signed-url")
HARDENING = ("private.access-block", "private.ownership", "private.tls-only")
LISTINGS = ("public.anonymous-list", "private.anonymous-list")
"""Unsigned listings: refused by S3, and by moto only with tests/support/moto_verify.py's third patch."""
EVERY_CHECK_PASSES = {
    **{
        (site, check): "pass"
        for site in ("acme-live", "acme-stage")
        for check in (*PUBLIC_CHECKS, *PRIVATE_CHECKS, *LISTINGS, "cors", *HARDENING, "isolation")
    },
    **{("brochure-live", check): "pass" for check in (*PUBLIC_CHECKS, "public.anonymous-list", "cors")},
    **{("brochure-live", check): "n/a" for check in (*PRIVATE_CHECKS, "private.anonymous-list", *HARDENING)},
    ("brochure-live", "isolation"): "pass",
}


@pytest.fixture
def deployed(aws_stack: Evaluation, moto_endpoint: str) -> Iterator[Deployment]:
    reset_moto(moto_endpoint)
    deployment = deploy(aws_stack, moto_endpoint)
    yield deployment
    # Every run, passing or not, must leave no probe object behind.
    assert deployment.leftover_probes() == []


def run_verify(
    deployment: Deployment, tmp_path: Path, *args: str, as_json: bool = True, operator: SiteKey | None = None
) -> Any:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(deployment.outputs()), encoding="utf-8")
    operator = operator or deployment.operator
    env = {
        "AWS_ACCESS_KEY_ID": operator.key_id,
        "AWS_SECRET_ACCESS_KEY": operator.secret,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
        "AWS_DEFAULT_PROFILE": None,
    }
    command = ["verify", "--stack", STACK, "--outputs", str(outputs), "--endpoint-url", deployment.endpoint, *args]
    with iam_enforced():
        return CliRunner().invoke(app, [*command, *(["--json"] if as_json else [])], env=env)


def statuses(result: Any) -> dict[tuple[str, str], str]:
    document = json.loads(result.stdout)
    return {(record["site"], record["check"]): record["status"] for record in document["results"]}


def reasons(result: Any) -> dict[tuple[str, str], str]:
    document = json.loads(result.stdout)
    return {(record["site"], record["check"]): record["reason"] for record in document["results"]}


def not_passed(result: Any) -> dict[tuple[str, str], str]:
    return {key: status for key, status in statuses(result).items() if status not in ("pass", "n/a")}


def test_every_check_passes_on_a_fresh_deployment(deployed: Deployment, tmp_path: Path) -> None:
    """All checks pass with IAM enforced by moto: each key works on its own buckets only."""
    result = run_verify(deployed, tmp_path)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert statuses(result) == EVERY_CHECK_PASSES
    why = reasons(result)
    assert (
        "(--endpoint-url given: used the bucket URL, not MEDIA_URL https://media.acme.example/)"
        in (why[("acme-live", "public.anonymous-read")])
    )
    assert why[("acme-stage", "isolation")].startswith(
        "acme-live's private bucket acme-media-acme-live-private refused"
    )
    assert json.loads(result.stdout)["ok"] is True


def test_removed_cors_fails_only_the_cors_check(deployed: Deployment, tmp_path: Path) -> None:
    deployed.s3().delete_bucket_cors(Bucket=LIVE_PUBLIC)
    result = run_verify(deployed, tmp_path)
    assert result.exit_code == 1
    assert not_passed(result) == {("acme-live", "cors"): "fail"}
    assert reasons(result)[("acme-live", "cors")] == (
        f"{LIVE_PUBLIC}: no CORS configuration on the bucket; the stack declares origins "
        "https://acme.example, https://www.acme.example"
    )


def test_changed_cors_names_each_difference(deployed: Deployment, tmp_path: Path) -> None:
    rule = {"AllowedOrigins": ["https://www.acme.example"], "AllowedMethods": ["GET"], "MaxAgeSeconds": 60}
    deployed.s3().put_bucket_cors(Bucket=LIVE_PUBLIC, CORSConfiguration={"CORSRules": [rule]})
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("acme-live", "cors"): "fail"}
    reason = reasons(result)[("acme-live", "cors")]
    assert "origins is ['https://www.acme.example'], declared ['https://acme.example', 'https://www.acme.example']" in (
        reason
    )
    assert "methods is ['GET'], declared ['GET', 'HEAD']" in reason
    assert "headers is [], declared ['*']" in reason
    assert "max_age_seconds is 60, declared 3600" in reason


def test_cors_on_a_site_that_declares_none_fails(deployed: Deployment, tmp_path: Path) -> None:
    rule = {"AllowedOrigins": ["https://evil.example"], "AllowedMethods": ["GET"]}
    deployed.s3().put_bucket_cors(Bucket="acme-media-brochure-live-public", CORSConfiguration={"CORSRules": [rule]})
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("brochure-live", "cors"): "fail"}
    assert "(origins https://evil.example) but the stack declares none" in reasons(result)[("brochure-live", "cors")]


def test_deleted_access_block_fails_only_the_access_block_check(deployed: Deployment, tmp_path: Path) -> None:
    """Reads the configuration only: moto 5.2.5 ignores public access blocks when it serves requests."""
    deployed.s3().delete_public_access_block(Bucket=LIVE_PRIVATE)
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("acme-live", "private.access-block"): "fail"}
    assert "no public access block" in reasons(result)[("acme-live", "private.access-block")]


def test_weakened_access_block_names_the_flags_off(deployed: Deployment, tmp_path: Path) -> None:
    flags = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": False,
    }
    deployed.s3().put_public_access_block(Bucket=LIVE_PRIVATE, PublicAccessBlockConfiguration=flags)
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("acme-live", "private.access-block"): "fail"}
    assert reasons(result)[("acme-live", "private.access-block")].endswith(
        "public access block flags off: BlockPublicPolicy, RestrictPublicBuckets"
    )


def test_public_policy_on_the_private_bucket_is_caught_anonymously(deployed: Deployment, tmp_path: Path) -> None:
    """A public-read statement added beside the TLS-only deny: an anonymous GET now succeeds.

    On AWS the access block would refuse this policy (BlockPublicPolicy); moto 5.2.5 ignores
    the block, which lets the test show the live anonymous check catching a public private bucket.
    """
    s3 = deployed.s3()
    policy = json.loads(s3.get_bucket_policy(Bucket=LIVE_PRIVATE)["Policy"])
    policy["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{LIVE_PRIVATE}/*"}
    )
    s3.put_bucket_policy(Bucket=LIVE_PRIVATE, Policy=json.dumps(policy))
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("acme-live", "private.anonymous-refused"): "fail"}
    assert (
        "returned the private probe (HTTP 200): the private bucket is readable by anyone"
        in (reasons(result)[("acme-live", "private.anonymous-refused")])
    )


def test_removed_public_read_policy_fails_anonymous_read_and_probe_is_removed(
    deployed: Deployment, tmp_path: Path
) -> None:
    """The anonymous GET fails after the probe was written; the fixture checks the probe is gone."""
    deployed.s3().delete_bucket_policy(Bucket=LIVE_PUBLIC)
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("acme-live", "public.anonymous-read"): "fail"}
    assert "answered HTTP 403: public media would not load" in reasons(result)[("acme-live", "public.anonymous-read")]


def test_ownership_with_acls_enabled_fails_the_ownership_check(deployed: Deployment, tmp_path: Path) -> None:
    controls = {"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    deployed.s3().put_bucket_ownership_controls(Bucket=LIVE_PRIVATE, OwnershipControls=controls)
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("acme-live", "private.ownership"): "fail"}
    assert "object ownership is ObjectWriter" in reasons(result)[("acme-live", "private.ownership")]


def test_missing_tls_only_deny_fails_the_tls_check(deployed: Deployment, tmp_path: Path) -> None:
    """Reads the policy only: moto cannot tell TLS from plain requests (see tests/support/moto_verify.py)."""
    deployed.s3().delete_bucket_policy(Bucket=LIVE_PRIVATE)
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("acme-live", "private.tls-only"): "fail"}
    assert "no bucket policy" in reasons(result)[("acme-live", "private.tls-only")]


def test_deleted_site_key_fails_its_read_write_checks(deployed: Deployment, tmp_path: Path) -> None:
    """moto rejects the deleted key (InvalidAccessKeyId); checks that need its probe are skipped."""
    iam = deployed.iam()
    iam.delete_access_key(UserName="acme-media-acme-stage", AccessKeyId=deployed.keys["acme-stage"].key_id)
    result = run_verify(deployed, tmp_path, "--isolation", "every")  # the whole stack is a ring by default
    assert result.exit_code == 1
    assert not_passed(result) == {
        ("acme-stage", "public.read-write"): "fail",
        **{("acme-stage", check): "skip" for check in (*PUBLIC_DJANGO_CALLS, "public.anonymous-read")},
        ("acme-stage", "private.read-write"): "fail",
        **{("acme-stage", check): "skip" for check in PRIVATE_CHECKS[1:]},
        ("acme-stage", "isolation"): "skip",
        # The other keys are tried on acme-stage's bucket, which now holds no probe to get.
        ("acme-live", "isolation"): "skip",
        ("brochure-live", "isolation"): "skip",
    }
    why = reasons(result)
    assert "put of the probe object failed: InvalidAccessKeyId (HTTP 403)" in why[("acme-stage", "public.read-write")]
    assert "acme-stage's key was rejected (InvalidAccessKeyId)" in why[("acme-stage", "isolation")]
    assert why[("acme-live", "isolation")].endswith(
        "refused list and put; get not checked (acme-stage could not write its probe)"
    )
    assert why[("brochure-live", "isolation")] == (
        "acme-stage's private bucket acme-media-acme-stage-private refused list and put; get not checked "
        "(acme-stage could not write its probe); refused by the private buckets of acme-live"
    )


def test_widened_site_policy_fails_isolation(deployed: Deployment, tmp_path: Path) -> None:
    """moto enforces the user's inline policy: with s3:* on every bucket, the key reaches acme-stage's."""
    everything = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    deployed.iam().put_user_policy(
        UserName="acme-media-acme-live", PolicyName="acme-live-access-policy", PolicyDocument=json.dumps(everything)
    )
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("acme-live", "isolation"): "fail"}
    assert reasons(result)[("acme-live", "isolation")] == (
        "this site's key may list, put, get in acme-stage's private bucket acme-media-acme-stage-private: "
        "its policy reaches beyond its own buckets"
    )


def test_objects_only_widening_is_caught_by_the_get(deployed: Deployment, tmp_path: Path) -> None:
    """GetObject on every bucket, nothing else widened: only the get of the other site's probe shows it."""
    policy = json.loads(
        next(r for r in deployed.evaluation.resources if r.name == "acme-live-access-policy").inputs["policy"]
    )
    policy["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"})
    deployed.iam().put_user_policy(
        UserName="acme-media-acme-live", PolicyName="acme-live-access-policy", PolicyDocument=json.dumps(policy)
    )
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {("acme-live", "isolation"): "fail"}
    assert reasons(result)[("acme-live", "isolation")].startswith("this site's key may get in acme-stage's")


def test_operator_without_read_permission_skips_configuration_checks(deployed: Deployment, tmp_path: Path) -> None:
    """A site key stands in for an operator who may not read the other buckets' configuration.

    Every configuration check is reported as not shown (skip), none as passed, and the run fails.
    """
    result = run_verify(deployed, tmp_path, operator=deployed.keys["brochure-live"])
    assert result.exit_code == 1
    configuration = {(site, check) for site in ("acme-live", "acme-stage") for check in ("cors", *HARDENING)}
    assert not_passed(result) == {key: "skip" for key in configuration | {("brochure-live", "cors")}}
    assert reasons(result)[("acme-live", "cors")].startswith("cannot read the CORS configuration: AccessDenied")


def test_selected_site_only_is_checked_and_its_key_is_tried_on_the_other_sites(
    deployed: Deployment, tmp_path: Path
) -> None:
    """`verify SITE` reports on SITE alone, and its key meets every other private bucket of the stack
    (a probe put there with that site's own key, removed after: the fixture finds none left)."""
    result = run_verify(deployed, tmp_path, "acme-live")
    assert result.exit_code == 0, result.stdout
    checked = statuses(result)
    assert {site for site, _ in checked} == {"acme-live"}
    assert checked[("acme-live", "isolation")] == "pass"
    assert reasons(result)[("acme-live", "isolation")] == (
        "acme-stage's private bucket acme-media-acme-stage-private refused this site's key (list, put, get)"
    )
    alone = run_verify(deployed, tmp_path, "brochure-live")
    assert alone.exit_code == 0, alone.stdout
    assert reasons(alone)[("brochure-live", "isolation")] == (
        "the private buckets of all 2 other sites refused this site's key (list, put, get): acme-live, acme-stage"
    )


def test_verify_site_fails_when_its_key_reads_another_sites_private_bucket(
    deployed: Deployment, tmp_path: Path
) -> None:
    """acme-live's key may get objects everywhere; only acme-live is verified, and it fails (exit 1).

    The get needs an object: acme-stage is not verified, so its own key put the probe acme-live's key read.
    """
    policy = json.loads(
        next(r for r in deployed.evaluation.resources if r.name == "acme-live-access-policy").inputs["policy"]
    )
    policy["Statement"].append({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::*/*"})
    deployed.iam().put_user_policy(
        UserName="acme-media-acme-live", PolicyName="acme-live-access-policy", PolicyDocument=json.dumps(policy)
    )
    result = run_verify(deployed, tmp_path, "acme-live")
    assert result.exit_code == 1
    assert not_passed(result) == {("acme-live", "isolation"): "fail"}
    assert reasons(result)[("acme-live", "isolation")] == (
        "this site's key may get in acme-stage's private bucket acme-media-acme-stage-private: "
        "its policy reaches beyond its own buckets"
    )
    # The whole stack verified: the same failure, and the other sites still pass.
    everyone = run_verify(deployed, tmp_path)
    assert not_passed(everyone) == {("acme-live", "isolation"): "fail"}


def _allow_anonymous_listing(deployment: Deployment, bucket: str) -> None:
    s3 = deployment.s3()
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except s3.exceptions.from_code("NoSuchBucketPolicy"):
        policy = {"Version": "2012-10-17", "Statement": []}
    policy["Statement"].append(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


@pytest.mark.parametrize(
    ("bucket", "check"), [(LIVE_PUBLIC, "public.anonymous-list"), (LIVE_PRIVATE, "private.anonymous-list")]
)
def test_a_bucket_anyone_may_list_fails_its_anonymous_list_check(
    deployed: Deployment, tmp_path: Path, bucket: str, check: str
) -> None:
    """s3:ListBucket for everyone in the bucket policy: an unsigned GET of the bucket lists it, the check fails.

    moto evaluates the policy for an unsigned listing only with tests/support/moto_verify.py's third patch.
    """
    _allow_anonymous_listing(deployed, bucket)
    result = run_verify(deployed, tmp_path)
    assert result.exit_code == 1
    assert not_passed(result) == {("acme-live", check): "fail"}
    reason = reasons(result)[("acme-live", check)]
    assert reason.startswith(f"anonymous GET {deployed.endpoint}/{bucket}/ listed the bucket (HTTP 200, ")
    assert reason.endswith("on the first page): anyone can list it"), "AWS: a bucket policy may grant it, no ACL note"


def test_serial_and_concurrent_runs_agree(deployed: Deployment, tmp_path: Path) -> None:
    serial = run_verify(deployed, tmp_path, "--concurrency", "1")
    concurrent = run_verify(deployed, tmp_path, "--concurrency", "3")
    assert statuses(serial) == statuses(concurrent) == EVERY_CHECK_PASSES


def test_credentials_never_appear_in_the_output(deployed: Deployment, tmp_path: Path) -> None:
    """Passing and failing runs, table and JSON: no key id or secret of any site or the operator."""
    iam = deployed.iam()
    iam.delete_access_key(UserName="acme-media-acme-stage", AccessKeyId=deployed.keys["acme-stage"].key_id)
    runs = [run_verify(deployed, tmp_path), run_verify(deployed, tmp_path, as_json=False)]
    assert [run.exit_code for run in runs] == [1, 1]
    assert "NOT all checks passed" in runs[1].stdout
    for run in runs:
        printed = run.stdout + run.stderr
        for secret in deployed.secrets():
            assert secret not in printed


def test_custom_region_stack_checks_what_the_region_supports(
    local_stack: Evaluation, moto_endpoint: str, tmp_path: Path
) -> None:
    """The `local` example stack (custom endpoint, one shared key, public read by canned ACL).

    moto does not enforce IAM here: the stack's key is moto's default one, as with
    `make local-s3`. Public read rests on the `public-read` ACL each upload carries, which moto
    honours for anonymous GETs; hardening checks the region lacks are n/a, not passed or failed.
    """
    reset_moto(moto_endpoint)
    apply_resources(local_stack.resources, client("s3", moto_endpoint, "us-east-1"))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(outputs_with_keys(local_stack.outputs, {"demo": ROOT_KEY})), encoding="utf-8")
    command = ["verify", "--stack", "local", "--outputs", str(outputs), "--endpoint-url", moto_endpoint, "--json"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert statuses(result) == {
        **{("demo", check): "pass" for check in (*PUBLIC_CHECKS, *PRIVATE_CHECKS, *LISTINGS, "cors")},
        ("demo", "private.access-block"): "n/a",
        ("demo", "private.ownership"): "n/a",
        ("demo", "private.tls-only"): "n/a",
        ("demo", "isolation"): "n/a",
    }
    why = reasons(result)
    assert why[("demo", "public.read-write")].startswith("local-media-demo-public: put (acl public-read)")
    assert why[("demo", "private.access-block")] == "region custom has no public access blocks"
    assert why[("demo", "isolation")] == (
        "the stack's sites share one key (site_credentials: shared): isolation is not promised"
    )


def test_a_probe_the_key_may_not_delete_is_named_in_the_reason(deployed: Deployment, tmp_path: Path) -> None:
    """moto enforces the missing s3:DeleteObject: verify tries again in `finally`, then says where the probe is."""
    policy = json.loads(
        next(r for r in deployed.evaluation.resources if r.name == "brochure-live-access-policy").inputs["policy"]
    )
    for statement in policy["Statement"]:
        statement["Action"] = [action for action in statement["Action"] if action != "s3:DeleteObject"]
    deployed.iam().put_user_policy(
        UserName="acme-media-brochure-live",
        PolicyName="brochure-live-access-policy",
        PolicyDocument=json.dumps(policy),
    )
    result = run_verify(deployed, tmp_path)
    assert not_passed(result) == {
        ("brochure-live", "public.read-write"): "fail",
        ("brochure-live", "public.multipart"): "fail",
    }
    why = reasons(result)
    assert "delete of the probe object failed: AccessDenied" in why[("brochure-live", "public.read-write")]
    assert "delete of the completed object failed: AccessDenied" in why[("brochure-live", "public.multipart")]
    leftovers = deployed.leftover_probes()
    assert len(leftovers) == 2
    for leftover in leftovers:
        check = "public.multipart" if leftover.endswith("-multipart.bin") else "public.read-write"
        assert f"probe object s3://{leftover} could not be removed" in why[("brochure-live", check)]
        deployed.s3().delete_object(Bucket=leftover.split("/", 1)[0], Key=leftover.split("/", 1)[1])


def _without_action(deployment: Deployment, site: str, action: str) -> None:
    """The site's IAM policy as declared, less one action (moto enforces the user policy)."""
    policy = json.loads(
        next(r for r in deployment.evaluation.resources if r.name == f"{site}-access-policy").inputs["policy"]
    )
    for statement in policy["Statement"]:
        statement["Action"] = [granted for granted in statement["Action"] if granted != action]
    deployment.iam().put_user_policy(
        UserName=f"acme-media-{site}", PolicyName=f"{site}-access-policy", PolicyDocument=json.dumps(policy)
    )


def _abort_stuck_uploads(deployment: Deployment) -> list[str]:
    s3 = deployment.s3()
    stuck = []
    for bucket in (b["Name"] for b in s3.list_buckets()["Buckets"]):
        for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
            stuck.append(f"{bucket}/{upload['Key']}")
    return stuck


def _both(*checks: str) -> dict[tuple[str, str], str]:
    return {("acme-stage", f"{role}.{check}"): "fail" for role in ("public", "private") for check in checks}


@pytest.mark.parametrize(
    ("action", "failing", "denied"),
    [
        ("s3:AbortMultipartUpload", _both("multipart"), "abort failed: AccessDenied"),
        ("s3:ListMultipartUploadParts", _both("multipart"), "list of the aborted upload's parts failed: AccessDenied"),
        # moto answers a missing key 404 without s3:ListBucket (AWS: 403, see test_verify_logic.py).
        ("s3:ListBucket", _both("read-write", "listdir"), "ListObjects (v1) failed: AccessDenied"),
        # (moto serves presigned URLs without IAM, tests/support/moto_verify.py: signed-url still passes.)
        ("s3:GetObject", _both("read-write", "exists", "multipart"), "HeadObject of the probe failed: 403 (HTTP 403)"),
    ],
)
def test_a_policy_without_the_action_fails_the_matching_django_checks(
    deployed: Deployment, tmp_path: Path, action: str, failing: dict[tuple[str, str], str], denied: str
) -> None:
    """acme-stage's IAM policy loses one action: the checks making that call fail, on both buckets."""
    _without_action(deployed, "acme-stage", action)
    result = run_verify(deployed, tmp_path)
    stuck = _abort_stuck_uploads(deployed)
    assert not_passed(result) == failing
    why = reasons(result)
    check = next(check for _, check in failing if not check.endswith("read-write"))
    assert denied in why[("acme-stage", check)]
    if action == "s3:AbortMultipartUpload":  # named in the reason, removed here with the root key
        assert len(stuck) == 2 and all(f"multipart upload of s3://{name}" in " ".join(why.values()) for name in stuck)
    else:
        assert stuck == []

"""The real __main__.py under the Pulumi mock runtime, for every example stack and region kind.

What each site gets (resource types and the properties that make a bucket public or private),
the IAM policy's scope, protection of every bucket, the outputs and their secrecy, and the
shared-credential warning. Credential *sharing* is tested on the `local` (custom) stack only:
Exoscale sites get keys of their own (tests/test_exoscale_iam.py).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pulumi
import pytest
from google.protobuf.json_format import MessageToDict
from pulumi.runtime import rpc
from pulumi.runtime.sync_await import _sync_await

from components.regions import resolve_region
from storagectl.offline import Evaluation, evaluate
from storagectl.stack_files import SECRET_PLACEHOLDER, read_stack_file
from tests.support.stacks import (
    ACCESS_BLOCK,
    ACCESS_KEY,
    BUCKET,
    CORS,
    ENCRYPTION,
    EXAMPLE_STACKS,
    GENERIC_BUCKET,
    GENERIC_CORS,
    GENERIC_ENCRYPTION,
    GENERIC_LIFECYCLE,
    IAM_USER,
    LIFECYCLE,
    OWNERSHIP,
    POLICY,
    SECRET_SIG,
    USER_POLICY,
    buckets_of,
    example_stack,
    named,
    of_type,
    write_stack,
)

AWS_SITES = {"acme-live", "acme-stage", "brochure-live"}
BUCKET_SETUP = (OWNERSHIP, ACCESS_BLOCK, POLICY, ENCRYPTION, LIFECYCLE)


def _types(evaluation: Evaluation, site: str) -> list[str]:
    return sorted(resource.type for resource in evaluation.site_resources(site))


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _policy_of(evaluation: Evaluation, name: str) -> dict[str, Any]:
    return json.loads(named(evaluation, name).inputs["policy"])


# --- evaluation itself ---------------------------------------------------------------------


def test_evaluations_do_not_leak_between_stacks(example: Callable[[str], Evaluation]) -> None:
    """Evaluating A, then B, then A again gives A's exact result: the global mock runtime
    keeps no state (config, resources, warnings, mocked key ids) from one evaluation to the
    next, which is what lets conftest cache evaluations per session."""

    def fresh(stack: str) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
        evaluation = evaluate(read_stack_file(example_stack(stack)))
        return [r.as_dict() for r in evaluation.resources], evaluation.outputs, evaluation.warnings

    first = fresh("aws-eu-central-1")
    local = fresh("local")
    exoscale = fresh("exoscale-ch-gva-2")
    again = fresh("aws-eu-central-1")
    assert again == first
    assert fresh("local") == local
    assert fresh("exoscale-ch-gva-2") == exoscale
    cached = example("aws-eu-central-1")
    assert ([r.as_dict() for r in cached.resources], cached.outputs, cached.warnings) == first
    assert not first[2], "the AWS stack must not inherit the local stack's warning"


def test_resources_come_in_program_order(aws_stack: Evaluation) -> None:
    """`preview --json` lists resources in the order the program declares them (provider,
    then site by site as configured, each bucket before its settings), not in the
    run-to-run varying order the mock monitor completes them in."""
    names = [resource.name for resource in aws_stack.resources]
    assert aws_stack.resources[0].type == "pulumi:providers:aws"
    order = ["acme-live", "acme-stage", "brochure-live"]
    sites = [order.index(resource.site or "") for resource in aws_stack.resources[1:]]
    assert sites == sorted(sites)
    for index, name in enumerate(names):
        for role in ("public", "private"):
            site = name.split(f"-{role}-")[0]
            if f"-{role}-" in name and site in order:
                assert names.index(f"{site}-{role}") < index, name


# --- AWS -----------------------------------------------------------------------------------


def test_aws_sites_get_buckets_settings_and_an_iam_user(aws_stack: Evaluation) -> None:
    """Exactly the resources the catalog promises on AWS, per site."""
    bucket = [BUCKET, *BUCKET_SETUP]
    iam = [IAM_USER, USER_POLICY, ACCESS_KEY]
    assert _types(aws_stack, "acme-live") == sorted(bucket * 2 + [CORS] + iam)
    assert _types(aws_stack, "acme-stage") == sorted(bucket * 2 + [CORS] + iam)
    assert _types(aws_stack, "brochure-live") == sorted(bucket + iam)
    providers = [r for r in aws_stack.resources if r.site is None]
    assert [(r.type, r.name) for r in providers] == [("pulumi:providers:aws", "aws-eu-central-1")]
    assert providers[0].inputs["region"] == "eu-central-1"
    assert "accessKey" not in providers[0].inputs, "AWS stacks use the operator's credential chain"


def test_aws_public_bucket_is_readable_by_anyone_through_its_policy_only(aws_stack: Evaluation) -> None:
    """ACLs off, the access block leaves room for exactly one public grant (the policy), and
    the policy grants anonymous s3:GetObject on the bucket's objects and nothing else."""
    for site in AWS_SITES:
        bucket = aws_stack.outputs["sites"][site]["public_bucket"]
        assert named(aws_stack, f"{site}-public").inputs["bucket"] == bucket
        ownership = named(aws_stack, f"{site}-public-ownership").inputs
        assert ownership == {"bucket": bucket, "rule": {"objectOwnership": "BucketOwnerEnforced"}}
        block = named(aws_stack, f"{site}-public-access-block").inputs
        assert block == {
            "bucket": bucket,
            "blockPublicAcls": True,
            "ignorePublicAcls": True,
            "blockPublicPolicy": False,
            "restrictPublicBuckets": False,
        }
        document = _policy_of(aws_stack, f"{site}-public-policy")
        assert named(aws_stack, f"{site}-public-policy").inputs["bucket"] == bucket
        [statement] = _statements(document)
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] == "*"
        assert _as_list(statement["Action"]) == ["s3:GetObject"]
        assert _as_list(statement["Resource"]) == [f"arn:aws:s3:::{bucket}/*"]
        assert "Condition" not in statement


def test_aws_private_bucket_blocks_everything_public_and_refuses_plain_http(aws_stack: Evaluation) -> None:
    """All four access-block flags, ACLs off, and a policy whose only statements deny
    requests made without TLS (on the bucket and its objects); it allows nothing."""
    for site in ("acme-live", "acme-stage"):
        bucket = aws_stack.outputs["sites"][site]["private_bucket"]
        assert bucket == f"acme-media-{site}-private"
        ownership = named(aws_stack, f"{site}-private-ownership").inputs
        assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
        block = named(aws_stack, f"{site}-private-access-block").inputs
        flags = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
        assert {flag: block[flag] for flag in flags} == dict.fromkeys(flags, True)
        statements = _statements(_policy_of(aws_stack, f"{site}-private-policy"))
        assert statements and all(s["Effect"] == "Deny" for s in statements)
        [deny] = statements
        assert deny["Principal"] == "*"
        assert _as_list(deny["Action"]) == ["s3:*"]
        assert set(_as_list(deny["Resource"])) == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}
        assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert not [r for r in aws_stack.site_resources("brochure-live") if "private" in r.name]


def test_aws_buckets_are_encrypted_and_abort_stale_multipart_uploads(aws_stack: Evaluation) -> None:
    """Every AWS bucket: default SSE, and a whole-bucket rule aborting multipart uploads after 7 days."""
    buckets = {r.inputs["bucket"] for r in of_type(aws_stack.resources, BUCKET)}
    assert len(buckets) == 5
    encrypted = {r.inputs["bucket"]: r.inputs["rules"] for r in of_type(aws_stack.resources, ENCRYPTION)}
    assert set(encrypted) == buckets
    for rules in encrypted.values():
        [rule] = rules
        assert rule["applyServerSideEncryptionByDefault"]["sseAlgorithm"] in ("AES256", "aws:kms")
    lifecycles = {r.inputs["bucket"]: r.inputs["rules"] for r in of_type(aws_stack.resources, LIFECYCLE)}
    assert set(lifecycles) == buckets
    for rules in lifecycles.values():
        [rule] = rules
        assert rule["status"] == "Enabled"
        assert rule["filter"] == {}, "an empty filter covers the whole bucket"
        assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_cors_rules_exist_only_for_sites_that_ask_and_match_the_stack_file(aws_stack: Evaluation) -> None:
    """A CORS resource on the public bucket of each site with `cors`, carrying the configured
    origins, methods, headers and max age (defaults filled in); none for other sites."""
    cors = {r.site: r.inputs for r in of_type(aws_stack.resources, CORS)}
    assert set(cors) == {"acme-live", "acme-stage"}
    assert cors["acme-live"] == {
        "bucket": "acme-media-acme-live-public",
        "corsRules": [
            {
                "allowedOrigins": ["https://www.acme.example", "https://acme.example"],
                "allowedMethods": ["GET", "HEAD"],
                "allowedHeaders": ["*"],
                "maxAgeSeconds": 3600,
            }
        ],
    }
    [stage] = cors["acme-stage"]["corsRules"]
    assert stage["allowedMethods"] == ["GET", "HEAD", "PUT"]
    assert stage["maxAgeSeconds"] == 600
    assert "exposeHeaders" not in stage
    assert aws_stack.outputs["sites"]["brochure-live"]["cors"] is None


def test_cors_expose_headers_reach_the_rule(tmp_path: Path) -> None:
    """expose_headers given in the stack file end up in the rule (and only then)."""
    path = write_stack(
        tmp_path,
        {
            "region": "aws-eu-west-1",
            "bucket_prefix": "acme",
            "sites": {"shop": {"cors": {"origins": ["https://*.shop.example"], "expose_headers": ["ETag"]}}},
        },
    )
    [rule] = of_type(evaluate(read_stack_file(path)).resources, CORS)[0].inputs["corsRules"]
    assert rule["exposeHeaders"] == ["ETag"]
    assert rule["allowedOrigins"] == ["https://*.shop.example"]


def test_public_policy_waits_for_the_access_block(monkeypatch: pytest.MonkeyPatch, aws_stack: Evaluation) -> None:
    """AWS refuses a public bucket policy while the bucket's access block still blocks public
    policies (new buckets start fully blocked), so the policy must depend on the access block."""
    depends: dict[str, list[str]] = {}
    original = pulumi.runtime.register_stack_transformation

    def capture(args: pulumi.ResourceTransformationArgs) -> None:
        dependencies = args.opts.depends_on or []
        listed = dependencies if isinstance(dependencies, list) else [dependencies]
        depends[args.name] = [d.pulumi_resource_name for d in listed if isinstance(d, pulumi.Resource)]
        return None

    def register_both(transformation: Any) -> None:
        original(transformation)
        original(capture)

    monkeypatch.setattr(pulumi.runtime, "register_stack_transformation", register_both)
    evaluate(read_stack_file(example_stack("aws-eu-central-1")))
    for site in AWS_SITES:
        assert f"{site}-public-access-block" in depends[f"{site}-public-policy"]


def test_iam_policy_is_scoped_to_the_sites_own_buckets(aws_stack: Evaluation) -> None:
    """Parse each site's inline policy: only Allow statements, only named s3 actions (no `*`),
    bucket actions on the site's bucket ARNs and object actions on their `/*`, nothing else."""
    bucket_actions = {"s3:ListBucket", "s3:GetBucketLocation", "s3:ListBucketMultipartUploads"}
    for site in AWS_SITES:
        facts = aws_stack.outputs["sites"][site]
        own = [facts["public_bucket"]] + ([facts["private_bucket"]] if facts["private_bucket"] else [])
        user = named(aws_stack, f"{site}-user").inputs
        assert user["name"] == f"acme-media-{site}"
        policy = named(aws_stack, f"{site}-access-policy").inputs
        assert policy["user"] == user["name"]
        assert named(aws_stack, f"{site}-key").inputs["user"] == user["name"]
        allowed: set[str] = set()
        for statement in _statements(json.loads(policy["policy"])):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement
            actions = _as_list(statement["Action"])
            resources = _as_list(statement["Resource"])
            for action in actions:
                assert action.startswith("s3:") and "*" not in action, action
            for resource in resources:
                assert resource != "*"
                bucket, _, rest = resource.removeprefix("arn:aws:s3:::").partition("/")
                assert resource.startswith("arn:aws:s3:::") and bucket in own, resource
                assert rest in ("", "*"), resource
                # A bucket action on an object ARN (or the reverse) would silently grant nothing.
                assert all((a in bucket_actions) == (rest == "") for a in actions), statement
            allowed.update(f"{a} {r}" for a in actions for r in resources)
        for bucket in own:
            for needed in ("s3:GetObject", "s3:PutObject", "s3:PutObjectAcl", "s3:DeleteObject"):
                assert f"{needed} arn:aws:s3:::{bucket}/*" in allowed
            assert f"s3:ListBucket arn:aws:s3:::{bucket}" in allowed


def test_iam_policy_allows_put_object_acl_because_every_upload_carries_an_acl(aws_stack: Evaluation) -> None:
    """AWS rule (moto does not check it): a PutObject that carries x-amz-acl also needs
    s3:PutObjectAcl. Every DSN and STORAGES block sends an ACL, so the policy must allow it
    on every bucket the site uploads to."""
    for site, settings in aws_stack.outputs["site_settings"].items():
        granted = {
            resource
            for statement in _statements(_policy_of(aws_stack, f"{site}-access-policy"))
            if "s3:PutObjectAcl" in _as_list(statement["Action"])
            for resource in _as_list(statement["Resource"])
        }
        for alias in ("default", "private"):
            if alias in settings["STORAGES"]:
                options = settings["STORAGES"][alias]["OPTIONS"]
                assert options["default_acl"], "uploads carry an ACL"
                assert f"arn:aws:s3:::{options['bucket_name']}/*" in granted


# --- protection ----------------------------------------------------------------------------


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_no_bucket_is_ever_force_destroyed(example: Callable[[str], Evaluation], stack: str) -> None:
    """force_destroy is false on every pulumi-aws bucket; the generic-S3 provider has no such
    input at all (it never empties a bucket: tests/test_generic_provider_moto.py)."""
    buckets = buckets_of(example(stack).resources)
    assert buckets
    assert [r.inputs.get("forceDestroy", False) for r in buckets] == [False] * len(buckets)
    assert all("forceDestroy" not in r.inputs for r in buckets if r.type == GENERIC_BUCKET)


@pytest.mark.parametrize("stack", ["aws-eu-central-1", "exoscale-ch-gva-2"])
def test_protection_reaches_every_bucket(example: Callable[[str], Evaluation], stack: str) -> None:
    """With protect true (explicit on AWS, the default on Exoscale) every bucket is protected,
    so removing a site makes `pulumi up` fail instead of deleting its media."""
    evaluation = example(stack)
    assert evaluation.settings.protect is True
    buckets = buckets_of(evaluation.resources)
    expected = sum(1 + bool(facts["private_bucket"]) for facts in evaluation.outputs["sites"].values())
    assert len(buckets) == expected
    assert all(bucket.protect for bucket in buckets), [b.name for b in buckets if not b.protect]


def test_protect_defaults_to_true_and_false_is_honoured(tmp_path: Path, local_stack: Evaluation) -> None:
    """A stack that leaves protect out gets protected buckets; the local stack's
    `protect: false` really unprotects its buckets (the flag reaches the resources both ways)."""
    path = write_stack(tmp_path, {"region": "aws-us-east-1", "bucket_prefix": "acme", "sites": {"a": {}, "b": {}}})
    buckets = of_type(evaluate(read_stack_file(path)).resources, BUCKET)
    assert len(buckets) == 4 and all(b.protect for b in buckets)
    local = of_type(local_stack.resources, GENERIC_BUCKET)
    assert len(local) == 2 and not any(b.protect for b in local)


# --- generic S3 ----------------------------------------------------------------------------

# What each catalog capability makes the component create, on AWS and on generic S3.
AWS_CAPABILITY_RESOURCES = {
    "ownership_controls": OWNERSHIP,
    "public_access_block": ACCESS_BLOCK,
    "bucket_policies": POLICY,
    "encryption": ENCRYPTION,
    "iam": IAM_USER,
}


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_a_stack_gets_exactly_what_its_region_supports(example: Callable[[str], Evaluation], stack: str) -> None:
    """Per the region catalog: each capability's resource exists iff the region has it; lifecycle
    rules iff the stack has them on (on by default only where the region says so); bucket tags
    only where they can be read back; generic-S3 stacks have no pulumi-aws resource at all."""
    evaluation = example(stack)
    capabilities = evaluation.settings.region.capabilities
    present = {r.type for r in evaluation.resources}
    lifecycle = evaluation.settings.lifecycle
    assert lifecycle == capabilities.lifecycle_default
    if evaluation.settings.region.kind == "aws":
        for capability, type_ in AWS_CAPABILITY_RESOURCES.items():
            assert (type_ in present) == getattr(capabilities, capability), (capability, type_)
        assert (LIFECYCLE in present) == lifecycle
        assert not any(type_.startswith("pulumi-python:") for type_ in present)
    else:
        assert (GENERIC_ENCRYPTION in present) == capabilities.encryption
        assert (GENERIC_LIFECYCLE in present) == lifecycle
        assert not any(type_.startswith("aws:") for type_ in present), sorted(present)
    for bucket in buckets_of(evaluation.resources):
        assert ("tags" in bucket.inputs) == capabilities.bucket_tags


def test_generic_resources_hold_region_and_bucket_but_no_credential(example: Callable[[str], Evaluation]) -> None:
    """Generic-S3 resources carry their region (for the provider to resolve in the catalog) and
    their bucket, never a key: the provider reads the key from the stack config at deploy time."""
    for stack in ("exoscale-ch-gva-2", "local"):
        evaluation = example(stack)
        region = evaluation.settings.region
        generic = [r for r in evaluation.resources if r.type.startswith("pulumi-python:dynamic/s3:")]
        assert generic
        for resource in generic:
            assert resource.inputs["region"] == {
                "id": region.id,
                "endpoint": region.endpoint_url,
                "signingRegion": region.signing_region,
                "pathStyle": region.path_style,
                "signature": region.signature,
            }
            text = json.dumps(resource.inputs)
            assert SECRET_PLACEHOLDER not in text and SECRET_SIG not in text
            assert str(evaluation.settings.access_key_id) not in text
        assert all(r.inputs["acl"] == "private" for r in of_type(evaluation.resources, GENERIC_BUCKET))


def test_exoscale_sites_get_buckets_cors_and_canned_acls_only(exoscale_stack: Evaluation) -> None:
    """Exoscale: buckets, SSE configuration and CORS at sos-ch-gva-2.exo.io; no ownership
    controls, access blocks, AWS policies or tags (catalog), lifecycle only when opted in;
    public read comes from the DSN's canned public-read ACL, the private DSN uploads private."""
    region = resolve_region("exoscale-ch-gva-2")
    assert not any((region.capabilities.ownership_controls, region.capabilities.bucket_policies))
    assert not region.capabilities.lifecycle_default
    s3_types = sorted(r.type for r in exoscale_stack.resources if r.type.startswith("pulumi-python:"))
    assert s3_types == sorted([GENERIC_BUCKET] * 4 + [GENERIC_ENCRYPTION] * 4 + [GENERIC_CORS])
    buckets = {r.inputs["bucket"] for r in of_type(exoscale_stack.resources, GENERIC_BUCKET)}
    assert buckets == {
        "helvetia-media-zurich-live-public",
        "helvetia-media-zurich-live-private",
        "helvetia-media-geneva-live-public",
        "helvetia-media-geneva-live-private",
    }
    [cors] = of_type(exoscale_stack.resources, GENERIC_CORS)
    assert (cors.site, cors.inputs["bucket"]) == ("zurich-live", "helvetia-media-zurich-live-public")
    assert cors.inputs["corsRules"] == [
        {
            "allowedOrigins": ["https://www.zurich.example"],
            "allowedMethods": ["GET", "HEAD"],
            "allowedHeaders": ["*"],
            "maxAgeSeconds": 3600,
        }
    ]
    assert [r.type for r in exoscale_stack.resources if r.type.startswith("pulumi:providers:")] == [
        "pulumi:providers:exoscale"
    ], "no pulumi-aws provider on a generic-S3 stack"

    for slug, settings in exoscale_stack.outputs["site_settings"].items():
        facts = exoscale_stack.outputs["sites"][slug]
        assert facts["endpoint_url"] == "https://sos-ch-gva-2.exo.io"
        public_dsn, private_dsn = settings["default_storage_dsn"], settings["private_storage_dsn"]
        assert f"@{facts['public_bucket']}.sos-ch-gva-2.exo.io/?" in public_dsn
        assert f"@{facts['private_bucket']}.sos-ch-gva-2.exo.io/?" in private_dsn
        assert "acl=public-read" in public_dsn and "qs_auth" not in public_dsn
        assert "acl=private" in private_dsn and "qs_auth=true" in private_dsn
        options = settings["STORAGES"]["default"]["OPTIONS"]
        assert (options["default_acl"], options["region_name"]) == ("public-read", "ch-gva-2")
        assert settings["STORAGES"]["private"]["OPTIONS"]["default_acl"] == "private"
    assert exoscale_stack.outputs["region_notes"], "operators must see the Exoscale limits"


def test_local_stack_gets_buckets_and_cors_on_its_endpoint(local_stack: Evaluation) -> None:
    """custom: buckets and CORS (lifecycle is opt-in) on the given endpoint with path style, and
    no provider resource: the stack's key reaches the provider code through the stack config."""
    assert _types(local_stack, "demo") == sorted([GENERIC_BUCKET, GENERIC_BUCKET, GENERIC_CORS])
    assert not [r for r in local_stack.resources if r.type.startswith("pulumi:providers:")]
    [bucket, *_] = of_type(local_stack.resources, GENERIC_BUCKET)
    assert bucket.inputs["region"]["endpoint"] == "http://127.0.0.1:5000"
    assert bucket.inputs["region"]["pathStyle"] is True


def test_lifecycle_opt_in_reaches_generic_buckets(tmp_path: Path) -> None:
    """site-storage:lifecycle: true on a custom endpoint gives each bucket the abort rule."""
    path = write_stack(
        tmp_path,
        {
            "region": "custom",
            "endpoint": "https://minio.example.com",
            "bucket_prefix": "lab",
            "lifecycle": True,
            "access_key_id": "k",
            "secret_access_key": "s",
            "sites": {"a": {}},
        },
    )
    rules = [r.inputs["rules"] for r in of_type(evaluate(read_stack_file(path)).resources, GENERIC_LIFECYCLE)]
    expected = [
        {"id": "abort-incomplete-multipart-uploads", "status": "Enabled", "abortIncompleteMultipartUploadDays": 7}
    ]
    assert rules == [expected, expected]


# --- credentials and warnings --------------------------------------------------------------


def test_local_sites_share_the_stacks_key_and_preview_warns_once(local_stack: Evaluation) -> None:
    """On a custom endpoint every site gets the stack's access_key_id, and the preview warns
    exactly once that the sites share it."""
    options = local_stack.outputs["site_settings"]["demo"]["STORAGES"]["default"]["OPTIONS"]
    assert (options["access_key"], options["secret_key"]) == ("testing", SECRET_PLACEHOLDER)
    assert local_stack.warnings == [
        "stack local: the 1 site(s) on custom share one credential (site-storage:access_key_id); "
        "any site can read every other site's private files"
    ]


def test_shared_credential_warning_is_once_per_stack_not_per_site(tmp_path: Path) -> None:
    """Three sites on one custom endpoint: one warning naming all three, and each site's
    settings carry the same key."""
    path = write_stack(
        tmp_path,
        {
            "region": "custom",
            "endpoint": "https://minio.example.com",
            "bucket_prefix": "lab",
            "access_key_id": "minio-key",
            "secret_access_key": "x",
            "sites": {"one": {}, "two": {}, "three": {"private": False}},
        },
        name="lab",
    )
    evaluation = evaluate(read_stack_file(path))
    assert len(evaluation.warnings) == 1
    assert evaluation.warnings[0].startswith("stack lab: the 3 site(s) on custom share one credential")
    keys = {s["STORAGES"]["default"]["OPTIONS"]["access_key"] for s in evaluation.outputs["site_settings"].values()}
    assert keys == {"minio-key"}


def test_aws_sites_each_get_their_own_key_and_no_warning(aws_stack: Evaluation) -> None:
    """AWS: the key in each site's settings is its own IAM access key (mocked id), no warning."""
    keys = {s["STORAGES"]["default"]["OPTIONS"]["access_key"] for s in aws_stack.outputs["site_settings"].values()}
    assert len(keys) == len(AWS_SITES)
    assert all(key.startswith("AKIA") and len(key) == 20 for key in keys)
    assert aws_stack.warnings == []


# --- outputs -------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_outputs_give_every_site_its_facts_and_settings(example: Callable[[str], Evaluation], stack: str) -> None:
    """region, endpoint_url, per-site facts and per-site Django settings for every configured site."""
    evaluation = example(stack)
    outputs = evaluation.outputs
    assert set(outputs) == {"region", "endpoint_url", "region_notes", "sites", "site_settings"}
    assert outputs["region"] == evaluation.settings.region.id
    assert outputs["endpoint_url"] == evaluation.settings.region.endpoint_url
    slugs = {site.slug for site in evaluation.settings.sites}
    assert set(outputs["sites"]) == set(outputs["site_settings"]) == slugs
    for slug in slugs:
        facts = outputs["sites"][slug]
        assert facts["public_bucket"] == f"{evaluation.settings.bucket_prefix}-{slug}-public"
        settings = outputs["site_settings"][slug]
        assert set(settings) >= {
            "default_storage_dsn",
            "private_storage_dsn",
            "STORAGES",
            "MEDIA_URL",
            "THUMBNAIL_DEFAULT_STORAGE",
        }
        assert settings["MEDIA_URL"] == facts["media_url"]
        assert set(settings["STORAGES"]) >= {"default", "easy_thumbnails", "staticfiles"}
        assert ("private" in settings["STORAGES"]) == (facts["private_bucket"] is not None)
        assert (settings["private_storage_dsn"] is None) == (
            facts["private_bucket"] is None or facts["dsn_unavailable_reason"] is not None
        )


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_sites_output_holds_no_credential(example: Callable[[str], Evaluation], stack: str) -> None:
    """The readable `sites` output carries neither a key id nor a secret (nor a DSN)."""
    evaluation = example(stack)
    text = json.dumps(evaluation.outputs["sites"])
    for settings in evaluation.outputs["site_settings"].values():
        for storage in settings["STORAGES"].values():
            options = storage.get("OPTIONS", {})
            if options:
                assert options["access_key"] not in text
                assert options["secret_key"] not in text
    assert SECRET_PLACEHOLDER not in text
    assert "s3://" not in text
    for facts in evaluation.outputs["sites"].values():
        words = ("key", "secret", "password", "token", "credential")
        assert not [k for k in facts if k.endswith("_dsn") or any(w in k for w in words)], sorted(facts)


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_site_settings_reach_the_engine_as_a_secret_and_facts_do_not(stack: str) -> None:
    """Serialise the exported stack outputs exactly as the SDK sends them to the engine:
    `site_settings` (holding keys) carries Pulumi's secret signature, so `pulumi stack output`
    hides it without --show-secrets; region, endpoint and site facts stay readable."""
    evaluate(read_stack_file(example_stack(stack)))
    root = pulumi.runtime.settings.get_root_resource()
    assert root is not None
    outputs = root.outputs  # type: ignore[attr-defined]
    assert isinstance(outputs["site_settings"], pulumi.Output)
    assert _sync_await(outputs["site_settings"].is_secret()) is True
    wire = MessageToDict(_sync_await(rpc.serialize_properties(dict(outputs), {})))
    assert SECRET_SIG in wire["site_settings"]
    for name in ("region", "endpoint_url", "region_notes", "sites"):
        assert SECRET_SIG not in json.dumps(wire[name]), name


def test_the_program_loads_no_s3_client_library() -> None:
    """Every `pulumi preview`/`up` runs the program; only the provider host calls S3 (boto3 costs ~0.5 s to load)."""
    import subprocess
    import sys

    code = "import components.program, sys; print(sorted(m for m in ('boto3', 'botocore.config') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert result.stdout.strip() == "[]"

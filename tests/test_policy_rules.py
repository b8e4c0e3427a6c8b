"""Each policy check called directly with plain data: what it lets through, what it refuses.

No PolicyPack here (constructing one starts the analyzer's gRPC server); the pack wraps
these same functions (tests/test_policy_pack.py).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.policies import private_bucket_policy, public_read_policy, site_access_policy
from policy.access_rules import check_iam_site_scope, check_plain_outputs
from policy.bucket_rules import (
    ALL_USERS,
    AUTHENTICATED_USERS,
    PUBLIC_ACCESS_FLAGS,
    check_anonymous_reads,
    check_bucket_protected,
    check_cors_origins,
    check_no_public_write,
    check_private_bucket_controls,
    check_private_bucket_controls_present,
)
from policy.model import UNKNOWN, PlainResource, ResourceContext, StackFacts, StackView

SITE = "acme-live"
PUBLIC = "acme-media-acme-live-public"
PRIVATE = "acme-media-acme-live-private"
FACTS = StackFacts(
    protect=True, access_controls=True, any_origin_sites=frozenset({"open-site"}), bucket_prefix="acme-media"
)

BUCKET = "aws:s3/bucket:Bucket"
ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
BUCKET_ACL = "aws:s3/bucketAcl:BucketAcl"
CORS = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
EXOSCALE_ROLE = "exoscale:index/iamRole:IamRole"


def ctx(name: str, site: str | None = SITE, *, protect: bool = False, facts: StackFacts = FACTS) -> ResourceContext:
    return ResourceContext(name=name, site=site, protect=protect, stack=facts)


def all_flags(value: Any = True) -> dict[str, Any]:
    return {flag: value for flag in PUBLIC_ACCESS_FLAGS}


# --- private buckets: access block flags and ownership controls ---------------------------------


def test_private_access_block_with_all_four_flags_passes() -> None:
    assert check_private_bucket_controls(ACCESS_BLOCK, all_flags(), ctx(f"{SITE}-private-access-block")) == []


@pytest.mark.parametrize("flag", PUBLIC_ACCESS_FLAGS)
def test_refuses_private_access_block_with_a_flag_off(flag: str) -> None:
    inputs = {**all_flags(), flag: False}
    [message] = check_private_bucket_controls(ACCESS_BLOCK, inputs, ctx(f"{SITE}-private-access-block"))
    assert message.startswith(f"site {SITE}: ")
    assert f"leaves {flag} off" in message


def test_refuses_private_access_block_whose_flags_are_unknown_until_apply() -> None:
    [message] = check_private_bucket_controls(ACCESS_BLOCK, all_flags(UNKNOWN), ctx(f"{SITE}-private-access-block"))
    assert all(flag in message for flag in PUBLIC_ACCESS_FLAGS)


def test_public_bucket_access_block_may_leave_policy_flags_off_for_its_read_policy() -> None:
    inputs = {**all_flags(), "blockPublicPolicy": False, "restrictPublicBuckets": False}
    assert check_private_bucket_controls(ACCESS_BLOCK, inputs, ctx(f"{SITE}-public-access-block")) == []


def test_a_bucket_not_named_as_the_public_one_counts_as_private() -> None:
    inputs = {**all_flags(), "blockPublicPolicy": False}
    assert check_private_bucket_controls(ACCESS_BLOCK, inputs, ctx("extra-access-block"))
    assert check_private_bucket_controls(ACCESS_BLOCK, inputs, ctx("x-public-access-block", site=None))


def test_private_ownership_controls_must_disable_acls() -> None:
    enforced = {"rule": {"objectOwnership": "BucketOwnerEnforced"}}
    assert check_private_bucket_controls(OWNERSHIP, enforced, ctx(f"{SITE}-private-ownership")) == []
    [message] = check_private_bucket_controls(
        OWNERSHIP, {"rule": {"objectOwnership": "ObjectWriter"}}, ctx(f"{SITE}-private-ownership")
    )
    assert message.startswith(f"site {SITE}: ") and "'ObjectWriter'" in message and "BucketOwnerEnforced" in message


def _private_bucket_set(*, access_block: bool = True, ownership: bool = True) -> list[PlainResource]:
    resources = [
        PlainResource(BUCKET, f"{SITE}-private", SITE, {"bucket": PRIVATE}, protect=True),
        PlainResource(BUCKET, f"{SITE}-public", SITE, {"bucket": PUBLIC}, protect=True),
    ]
    if access_block:
        resources.append(PlainResource(ACCESS_BLOCK, f"{SITE}-private-access-block", SITE, all_flags()))
    if ownership:
        resources.append(
            PlainResource(
                OWNERSHIP, f"{SITE}-private-ownership", SITE, {"rule": {"objectOwnership": "BucketOwnerEnforced"}}
            )
        )
    return resources


def test_private_bucket_with_access_block_and_ownership_controls_passes() -> None:
    assert check_private_bucket_controls_present(StackView(_private_bucket_set(), {}, FACTS)) == []


def test_controls_found_by_bucket_input_when_named_differently() -> None:
    resources = _private_bucket_set(access_block=False)
    resources.append(PlainResource(ACCESS_BLOCK, "renamed-block", None, {**all_flags(), "bucket": PRIVATE}))
    assert check_private_bucket_controls_present(StackView(resources, {}, FACTS)) == []


@pytest.mark.parametrize(
    ("access_block", "ownership", "missing"),
    [(False, True, "public access block"), (True, False, "ownership controls"), (False, False, "public access block")],
)
def test_refuses_private_bucket_without_its_controls(access_block: bool, ownership: bool, missing: str) -> None:
    view = StackView(_private_bucket_set(access_block=access_block, ownership=ownership), {}, FACTS)
    [finding] = check_private_bucket_controls_present(view)
    assert (finding.resource, finding.site) == (f"{SITE}-private", SITE)
    assert finding.message.startswith(f"site {SITE}: private bucket {PRIVATE} has no {missing}")


def test_regions_without_access_controls_need_none() -> None:
    facts = StackFacts(access_controls=False, bucket_prefix="acme-media")
    view = StackView(_private_bucket_set(access_block=False, ownership=False), {}, facts)
    assert check_private_bucket_controls_present(view) == []


# --- public write through ACLs ------------------------------------------------------------------


@pytest.mark.parametrize("acl", [None, "private", "bucket-owner-full-control", "public-read"])
def test_acls_without_public_write_pass(acl: str | None) -> None:
    assert check_no_public_write(BUCKET, {"acl": acl}, ctx(f"{SITE}-public")) == []


def test_refuses_canned_public_read_write() -> None:
    [message] = check_no_public_write("aws:s3/bucketObjectv2:BucketObjectv2", {"acl": "public-read-write"}, ctx("x"))
    assert message.startswith(f"site {SITE}: ") and "public-read-write" in message


@pytest.mark.parametrize("permission", ["WRITE", "WRITE_ACP", "FULL_CONTROL"])
@pytest.mark.parametrize("grantee", [ALL_USERS, AUTHENTICATED_USERS])
def test_refuses_bucket_grants_of_public_write(grantee: str, permission: str) -> None:
    inputs = {"grants": [{"type": "Group", "uri": grantee, "permissions": ["READ", permission]}]}
    [message] = check_no_public_write(BUCKET, inputs, ctx(f"{SITE}-public"))
    assert message.startswith(f"site {SITE}: ") and permission in message


def test_refuses_bucket_acl_resource_granting_authenticated_users_write() -> None:
    inputs = {
        "accessControlPolicy": {
            "grants": [{"grantee": {"type": "Group", "uri": AUTHENTICATED_USERS}, "permission": "WRITE"}],
            "owner": {"id": "owner"},
        }
    }
    [message] = check_no_public_write(BUCKET_ACL, inputs, ctx(f"{SITE}-private-acl"))
    assert "any AWS account (AuthenticatedUsers) WRITE" in message


def test_refuses_an_acl_unknown_until_apply() -> None:
    [message] = check_no_public_write(BUCKET, {"acl": UNKNOWN}, ctx(f"{SITE}-public"))
    assert message.startswith(f"site {SITE}: the canned ACL is not known until apply")


def test_write_grants_to_a_named_account_pass() -> None:
    inputs = {"grants": [{"type": "CanonicalUser", "id": "abc", "permissions": ["FULL_CONTROL"]}]}
    assert check_no_public_write(BUCKET, inputs, ctx(f"{SITE}-private")) == []


# --- anonymous reads ----------------------------------------------------------------------------


def test_public_bucket_read_policy_of_the_component_passes() -> None:
    inputs = {"bucket": PUBLIC, "policy": json.dumps(public_read_policy(PUBLIC))}
    assert check_anonymous_reads(BUCKET_POLICY, inputs, ctx(f"{SITE}-public-policy")) == []


def test_private_bucket_tls_deny_policy_of_the_component_passes() -> None:
    inputs = {"bucket": PRIVATE, "policy": json.dumps(private_bucket_policy(PRIVATE))}
    assert check_anonymous_reads(BUCKET_POLICY, inputs, ctx(f"{SITE}-private-policy")) == []


@pytest.mark.parametrize("principal", ["*", {"AWS": "*"}, {"AWS": ["arn:aws:iam::1:root", "*"]}])
def test_refuses_anonymous_read_on_the_private_bucket(principal: Any) -> None:
    document = public_read_policy(PRIVATE)
    document["Statement"][0]["Principal"] = principal
    [message] = check_anonymous_reads(BUCKET_POLICY, {"policy": json.dumps(document)}, ctx(f"{SITE}-private-policy"))
    assert message.startswith(f"site {SITE}: the private bucket's policy lets anyone s3:GetObject")


def test_refuses_not_principal_allow_on_the_private_bucket() -> None:
    statement = {"Effect": "Allow", "NotPrincipal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:GetObject"}
    document = {"Version": "2012-10-17", "Statement": [statement]}
    assert check_anonymous_reads(BUCKET_POLICY, {"policy": document}, ctx(f"{SITE}-private-policy"))


@pytest.mark.parametrize("actions", ["s3:*", "s3:ListBucket", ["s3:GetObject", "s3:PutObject"], "*"])
def test_refuses_public_bucket_policy_allowing_more_than_get_object(actions: Any) -> None:
    document = public_read_policy(PUBLIC)
    document["Statement"][0]["Action"] = actions
    [message] = check_anonymous_reads(BUCKET_POLICY, {"policy": json.dumps(document)}, ctx(f"{SITE}-public-policy"))
    assert message.startswith(f"site {SITE}: the public bucket's policy lets anyone") and "s3:GetObject" in message


def test_refuses_public_bucket_policy_with_not_action() -> None:
    statement = {"Effect": "Allow", "Principal": "*", "NotAction": "s3:DeleteObject", "Resource": "*"}
    policy = {"Version": "2012-10-17", "Statement": statement}
    assert check_anonymous_reads(BUCKET_POLICY, {"policy": policy}, ctx(f"{SITE}-public-policy"))


def test_grants_to_named_principals_are_not_anonymous() -> None:
    statement = {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::1:root"}, "Action": "s3:*", "Resource": "*"}
    policy = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    assert check_anonymous_reads(BUCKET_POLICY, {"policy": policy}, ctx(f"{SITE}-private-policy")) == []


def test_refuses_a_bucket_policy_unknown_until_apply() -> None:
    [message] = check_anonymous_reads(BUCKET_POLICY, {"policy": UNKNOWN}, ctx(f"{SITE}-private-policy"))
    assert message.startswith(f"site {SITE}: the bucket policy is not readable JSON")


def test_checks_a_policy_set_inline_on_the_bucket() -> None:
    inline = {"bucket": PRIVATE, "policy": json.dumps(public_read_policy(PRIVATE))}
    assert check_anonymous_reads(BUCKET, inline, ctx(f"{SITE}-private"))
    assert check_anonymous_reads(BUCKET, {"bucket": PRIVATE}, ctx(f"{SITE}-private")) == []


@pytest.mark.parametrize("acl", ["public-read", "authenticated-read"])
def test_refuses_canned_bucket_acl_that_makes_a_bucket_listable(acl: str) -> None:
    [message] = check_anonymous_reads(BUCKET, {"bucket": PUBLIC, "acl": acl}, ctx(f"{SITE}-public"))
    assert message.startswith(f"site {SITE}: ") and acl in message


def test_refuses_bucket_acl_grant_of_public_read() -> None:
    inputs = {"accessControlPolicy": {"grants": [{"grantee": {"uri": ALL_USERS}, "permission": "READ"}]}}
    [message] = check_anonymous_reads(BUCKET_ACL, inputs, ctx(f"{SITE}-private-acl"))
    assert "everyone (AllUsers) READ" in message


# --- CORS ---------------------------------------------------------------------------------------


def cors(*origins: str) -> dict[str, Any]:
    return {"corsRules": [{"allowedOrigins": list(origins), "allowedMethods": ["GET"]}]}


def test_https_origins_pass() -> None:
    inputs = cors("https://www.acme.example", "https://localhost:8000", "https://*.acme.example")
    assert check_cors_origins(CORS, inputs, ctx(f"{SITE}-public-cors")) == []


@pytest.mark.parametrize("origin", ["http://www.acme.example", "ftp://acme.example", "www.acme.example"])
def test_refuses_origins_that_are_not_https(origin: str) -> None:
    [message] = check_cors_origins(CORS, cors(origin), ctx(f"{SITE}-public-cors"))
    assert message == f"site {SITE}: the CORS origin {origin} is not https; use https://host[:port]"


LOCAL_FACTS = StackFacts(protect=False, access_controls=False, bucket_prefix="local-media", on_this_machine=True)


@pytest.mark.parametrize("origin", ["http://localhost:8000", "http://127.0.0.1:8000", "http://localhost"])
def test_loopback_http_origins_pass_on_a_stack_whose_endpoint_is_this_machine(origin: str) -> None:
    assert check_cors_origins(CORS, cors(origin), ctx("demo-public-cors", site="demo", facts=LOCAL_FACTS)) == []


@pytest.mark.parametrize("origin", ["http://localhost:8000", "http://127.0.0.1"])
def test_refuses_loopback_http_origins_on_any_other_stack(origin: str) -> None:
    [message] = check_cors_origins(CORS, cors(origin), ctx(f"{SITE}-public-cors"))
    assert message == (
        f"site {SITE}: the CORS origin {origin} is plain http; http://localhost and http://127.0.0.1 origins are "
        "allowed only on a custom endpoint on this machine (127.0.0.1 or localhost); use https://host[:port]"
    )


def test_a_local_stack_still_refuses_other_http_origins() -> None:
    [message] = check_cors_origins(
        CORS, cors("http://localhost.attacker.example"), ctx("demo-public-cors", site="demo", facts=LOCAL_FACTS)
    )
    assert message.endswith("is not https; use https://host[:port]")


@pytest.mark.parametrize("origin", ["*", "https://*", "https://*:8443"])
def test_refuses_any_origin_without_opt_in(origin: str) -> None:
    [message] = check_cors_origins(CORS, cors(origin), ctx(f"{SITE}-public-cors"))
    assert message.startswith(f"site {SITE}: the CORS origin {origin} lets any website read the media")
    assert f"sites.{SITE}.cors.allow_any_origin: true" in message


def test_any_origin_passes_for_a_site_that_opted_in() -> None:
    assert check_cors_origins(CORS, cors("*"), ctx("open-site-public-cors", site="open-site")) == []
    # Opting in to any origin does not make plain http acceptable.
    assert check_cors_origins(CORS, cors("http://x.example"), ctx("open-site-public-cors", site="open-site"))


def test_checks_cors_rules_set_inline_on_the_bucket() -> None:
    assert check_cors_origins(BUCKET, cors("*"), ctx(f"{SITE}-public"))


# --- protection ---------------------------------------------------------------------------------


def test_protected_bucket_passes() -> None:
    assert check_bucket_protected(BUCKET, {"forceDestroy": False}, ctx(f"{SITE}-public", protect=True)) == []


def test_refuses_unprotected_bucket_when_the_stack_says_protect() -> None:
    [message] = check_bucket_protected(BUCKET, {"forceDestroy": False}, ctx(f"{SITE}-private", protect=False))
    assert message.startswith(f"site {SITE}: the bucket is not protected although site-storage:protect is true")


def test_unprotected_bucket_passes_when_the_stack_does_not_protect() -> None:
    facts = StackFacts(protect=False, bucket_prefix="acme-media")
    assert check_bucket_protected(BUCKET, {"forceDestroy": False}, ctx(f"{SITE}-private", facts=facts)) == []


@pytest.mark.parametrize("protect", [True, False])
def test_refuses_force_destroy_whatever_the_stack_says(protect: bool) -> None:
    facts = StackFacts(protect=protect, bucket_prefix="acme-media")
    messages = check_bucket_protected(BUCKET, {"forceDestroy": True}, ctx(f"{SITE}-private", protect=True, facts=facts))
    assert messages == [f"site {SITE}: the bucket sets force_destroy, which deletes its media with it"]


# --- IAM scope ----------------------------------------------------------------------------------


def iam(document: dict[str, Any]) -> dict[str, Any]:
    return {"user": "acme-media-acme-live", "policy": json.dumps(document)}


def test_the_components_site_policy_passes() -> None:
    assert check_iam_site_scope(USER_POLICY, iam(site_access_policy([PUBLIC, PRIVATE])), ctx(f"{SITE}-access")) == []


def test_refuses_another_sites_bucket() -> None:
    document = site_access_policy([PUBLIC, "acme-media-acme-stage-private"])
    messages = check_iam_site_scope(USER_POLICY, iam(document), ctx(f"{SITE}-access"))
    assert len(messages) == 2  # the bucket ARN and its objects ARN
    assert all(
        m.startswith(f"site {SITE}: the IAM policy names arn:aws:s3:::acme-media-acme-stage-private") for m in messages
    )


@pytest.mark.parametrize("resource", ["*", "arn:aws:s3:::*", "arn:aws:s3:::acme-media-*/*"])
def test_refuses_wildcard_resources(resource: str) -> None:
    document = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}],
    }
    [message] = check_iam_site_scope(USER_POLICY, iam(document), ctx(f"{SITE}-access"))
    assert message == f"site {SITE}: the IAM policy names the resource {resource}; name the buckets"


@pytest.mark.parametrize("action", ["s3:*", "*", "s3:Get*"])
def test_refuses_wildcard_actions(action: str) -> None:
    document = site_access_policy([PUBLIC])
    document["Statement"][1]["Action"] = [action]
    [message] = check_iam_site_scope(USER_POLICY, iam(document), ctx(f"{SITE}-access"))
    assert message.startswith(f"site {SITE}: the IAM policy allows {action}")


def test_refuses_not_action() -> None:
    document = {"Statement": {"Effect": "Allow", "NotAction": "iam:*", "Resource": f"arn:aws:s3:::{PUBLIC}"}}
    [message] = check_iam_site_scope(USER_POLICY, iam(document), ctx(f"{SITE}-access"))
    assert "NotAction" in message


def test_deny_statements_may_use_wildcards() -> None:
    document = site_access_policy([PUBLIC])
    document["Statement"].append({"Effect": "Deny", "Action": "s3:*", "Resource": "*"})
    assert check_iam_site_scope(USER_POLICY, iam(document), ctx(f"{SITE}-access")) == []


def test_refuses_site_policy_when_the_bucket_prefix_is_unknown() -> None:
    facts = StackFacts(bucket_prefix=None)
    messages = check_iam_site_scope(USER_POLICY, iam(site_access_policy([PUBLIC])), ctx(f"{SITE}-access", facts=facts))
    assert messages and all("bucket_prefix is not in the stack config" in m for m in messages)


def test_refuses_managed_policy_attached_to_a_site() -> None:
    inputs = {"user": "acme-media-acme-live", "policyArn": "arn:aws:iam::aws:policy/AmazonS3FullAccess"}
    [message] = check_iam_site_scope("aws:iam/userPolicyAttachment:UserPolicyAttachment", inputs, ctx(f"{SITE}-extra"))
    assert message.startswith(f"site {SITE}: attaches the managed policy arn:aws:iam::aws:policy/AmazonS3FullAccess")


def test_stack_level_policy_needs_no_site_buckets_but_no_wildcards() -> None:
    document = site_access_policy(["acme-media-backups"])
    assert check_iam_site_scope(USER_POLICY, iam(document), ctx("backup", site=None)) == []
    document["Statement"][0]["Resource"] = "*"
    assert check_iam_site_scope(USER_POLICY, iam(document), ctx("backup", site=None))


def exoscale_role(expression: str, *, default: str = "deny", service_type: str = "rules") -> dict[str, Any]:
    rules = [{"action": "allow", "expression": expression}]
    return {"policy": {"defaultServiceStrategy": default, "services": {"sos": {"type": service_type, "rules": rules}}}}


def test_exoscale_role_naming_the_sites_buckets_passes() -> None:
    expression = f"parameters.bucket in ['{PUBLIC}', '{PRIVATE}'] && operation in ['get-object']"
    assert check_iam_site_scope(EXOSCALE_ROLE, exoscale_role(expression), ctx(f"{SITE}-role")) == []


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("parameters.bucket == 'acme-media-acme-stage-private'", "names acme-media-acme-stage-private"),
        ("operation in ['get-object']", "is not limited to named buckets"),
        (f"parameters.bucket in ['{PUBLIC}'] || true", "is not limited to named buckets"),
    ],
)
def test_refuses_exoscale_role_beyond_the_sites_buckets(expression: str, expected: str) -> None:
    [message] = check_iam_site_scope(EXOSCALE_ROLE, exoscale_role(expression), ctx(f"{SITE}-role"))
    assert message.startswith(f"site {SITE}: the Exoscale role") and expected in message


def test_refuses_exoscale_role_that_allows_by_default_or_a_whole_service() -> None:
    expression = f"parameters.bucket in ['{PUBLIC}']"
    [default] = check_iam_site_scope(EXOSCALE_ROLE, exoscale_role(expression, default="allow"), ctx(f"{SITE}-role"))
    assert "default service strategy is not deny" in default
    [service] = check_iam_site_scope(
        EXOSCALE_ROLE, exoscale_role(expression, service_type="allow"), ctx(f"{SITE}-role")
    )
    assert "allows all of sos" in service


# --- credentials in plain outputs ---------------------------------------------------------------

SECRET = "PREVIEW_SECRET_NOT_REAL"


def outputs(**site_extra: Any) -> dict[str, Any]:
    facts = {
        "public_bucket": PUBLIC,
        "private_bucket": PRIVATE,
        "media_url": "https://media.acme.example/",
        **site_extra,
    }
    dsn = f"s3://AKIAEXAMPLE:{SECRET}@{PUBLIC}.s3.eu-central-1.amazonaws.com/"
    return {
        "region": "aws-eu-central-1",
        "region_notes": ["a note"],
        "sites": {SITE: facts},
        "site_settings": {SITE: {"default_storage_dsn": dsn, "secret_key": SECRET}},
    }


def test_outputs_with_credentials_only_in_the_secret_output_pass() -> None:
    assert check_plain_outputs(StackView([], outputs(), FACTS, secrets=frozenset({SECRET}))) == []


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ({"secret_key": "abc"}, "is a credential field"),
        ({"storages": {"OPTIONS": {"secret_access_key": "abc"}}}, "is a credential field"),
        ({"dsn": "s3://AKIAEXAMPLE:abc@bucket.example/"}, "holds a URL that carries a key and secret"),
        ({"note": SECRET}, "holds a secret value"),
    ],
)
def test_refuses_a_credential_in_the_plain_sites_output(extra: dict[str, Any], problem: str) -> None:
    [finding] = check_plain_outputs(StackView([], outputs(**extra), FACTS, secrets=frozenset({SECRET})))
    assert finding.site == SITE
    assert finding.message.startswith(f"site {SITE}: the plain output sites.{SITE}.")
    assert problem in finding.message and "site_settings" in finding.message


def test_refuses_a_known_secret_in_a_stack_level_output() -> None:
    document = {**outputs(), "debug": [SECRET]}
    [finding] = check_plain_outputs(StackView([], document, FACTS, secrets=frozenset({SECRET})))
    assert (finding.resource, finding.site) == ("debug[0]", None)
    assert finding.message.startswith("the stack: the plain output debug[0] holds a secret value")


def test_empty_credential_fields_and_unknown_secrets_are_not_findings() -> None:
    view = StackView([], outputs(secret_key=None, token=""), FACTS, secrets=frozenset({UNKNOWN, ""}))
    assert check_plain_outputs(view) == []

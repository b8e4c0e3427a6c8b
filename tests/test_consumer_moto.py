"""Django uploads through the stack's settings, against moto, then reads as a browser would.

What moto 5.2.5 really enforces, and so what these tests exercise:
- Bucket policies on every object request: the public-read policy is what lets an anonymous
  GET of an AWS upload succeed (the control test removes it and the GET is refused).
- Object ACLs for anonymous GETs (Exoscale and custom: public-read vs private uploads).
- Signed URLs (a private object is refused unsigned and served signed).
- IAM user policies and SigV4 signatures, with `enable_iam_authentication`: the AWS uploads
  run as the site's own IAM key, so its policy must allow them and the DSN's percent-encoded
  secret must decode to the right one.
- CORS: the preflight answer for a configured origin, and a refusal for a foreign one.

What moto does not enforce, and where the AWS rule is held instead:
- ACLs on BucketOwnerEnforced buckets (moto accepts any): test_consumer_settings.py asserts
  every AWS ACL is none or bucket-owner-full-control.
- s3:PutObjectAcl for uploads carrying an ACL (moto does not ask): test_program_stacks.py
  asserts the policy allows it.
- Public access blocks (moto ignores them on writes): asserted on the declared flags.
- The private bucket's TLS-only Deny: moto ignores its Bool condition and so denies every
  request, https included (shown below). The AWS private-bucket flows therefore run with
  everything declared except that one policy; the policy itself is checked in
  test_program_stacks.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django_storage_url import get_storage
from moto.core import enable_iam_authentication
from storages.backends.s3 import S3Storage

from storagectl.offline import Evaluation, evaluate
from storagectl.stack_files import read_stack_file
from tests.conftest import MotoAws
from tests.support.moto_apply import SiteKey, apply_resources, split_for_moto
from tests.support.stacks import example_stack, named, options_with_credentials, with_credentials

AWS_ENDPOINT = "s3.eu-central-1.amazonaws.com"
BODY = b"\x89PNG media bytes"


def _s3_url(bucket: str, name: str) -> str:
    """The object's plain S3 URL (what a CDN in front of a media_domain would fetch)."""
    return f"https://{bucket}.{AWS_ENDPOINT}/{name}"


def _anonymous_get(url: str) -> requests.Response:
    return requests.get(url, timeout=10)


def _apply_aws(evaluation: Evaluation, moto: MotoAws) -> dict[str, SiteKey]:
    """Everything the AWS stack declares, except the TLS-only denies moto would misjudge."""
    kept, dropped = split_for_moto(evaluation.resources)
    assert sorted(r.name for r in dropped) == ["acme-live-private-policy", "acme-stage-private-policy"]
    return apply_resources(kept, moto.s3, moto.iam)


def _dsn_storage(evaluation: Evaluation, site: str, which: str, key: SiteKey) -> Any:
    return get_storage(with_credentials(evaluation.outputs["site_settings"][site][which], key.key_id, key.secret))


def _storages_storage(evaluation: Evaluation, site: str, alias: str, key: SiteKey) -> S3Storage:
    options = evaluation.outputs["site_settings"][site]["STORAGES"][alias]["OPTIONS"]
    return S3Storage(**options_with_credentials(options, key.key_id, key.secret))


# --- AWS -----------------------------------------------------------------------------------


def test_aws_public_uploads_through_the_dsn_are_readable_by_anyone(aws_stack: Evaluation, moto_aws: MotoAws) -> None:
    """Each site uploads with its own IAM key through its DEFAULT_STORAGE_DSN (ACL
    bucket-owner-full-control, accepted), and an anonymous GET of the file succeeds. The
    object itself grants nobody but the owner: public read comes from the bucket policy."""
    keys = _apply_aws(aws_stack, moto_aws)
    for site, facts in aws_stack.outputs["sites"].items():
        storage = _dsn_storage(aws_stack, site, "default_storage_dsn", keys[site])
        with enable_iam_authentication():
            name = storage.save("uploads/logo.png", ContentFile(BODY))
        response = _anonymous_get(_s3_url(facts["public_bucket"], name))
        assert response.status_code == 200, (site, response.text)
        assert response.content == BODY
        # url() is MEDIA_URL + name (addressing_style=virtual in the DSN), and without a media domain it loads.
        assert storage.url(name) == facts["media_url"] + name
        if facts["media_url"].endswith(f".{AWS_ENDPOINT}/"):
            assert _anonymous_get(storage.url(name)).content == BODY
        grants = moto_aws.s3.get_object_acl(Bucket=facts["public_bucket"], Key=name)["Grants"]
        assert [g["Grantee"]["Type"] for g in grants] == ["CanonicalUser"], "no per-object public grant"


def test_without_the_read_policy_anonymous_reads_fail(aws_stack: Evaluation, moto_aws: MotoAws) -> None:
    """Control for the test above: moto does enforce anonymous access, and the public-read
    policy is the only thing making AWS media public."""
    keys = _apply_aws(aws_stack, moto_aws)
    storage = _dsn_storage(aws_stack, "acme-stage", "default_storage_dsn", keys["acme-stage"])
    name = storage.save("uploads/logo.png", ContentFile(BODY))
    bucket = "acme-media-acme-stage-public"
    assert _anonymous_get(_s3_url(bucket, name)).status_code == 200
    moto_aws.s3.delete_bucket_policy(Bucket=bucket)
    assert _anonymous_get(_s3_url(bucket, name)).status_code == 403


def test_aws_private_files_are_refused_anonymously_and_served_signed(aws_stack: Evaluation, moto_aws: MotoAws) -> None:
    """Upload through PRIVATE_STORAGE_DSN with the site's key; the unsigned URL is refused,
    storage.url() (signed, qs_auth=true) serves it. Runs without the TLS-only Deny (see the
    module docstring); everything else on the private bucket is as declared."""
    keys = _apply_aws(aws_stack, moto_aws)
    for site in ("acme-live", "acme-stage"):
        storage = _dsn_storage(aws_stack, site, "private_storage_dsn", keys[site])
        with enable_iam_authentication():
            name = storage.save("invoices/2024-01.pdf", ContentFile(b"private"))
        signed = storage.url(name)
        assert "X-Amz-Signature=" in signed
        assert _anonymous_get(signed.split("?")[0]).status_code == 403
        assert _anonymous_get(_s3_url(f"acme-media-{site}-private", name)).status_code == 403
        response = _anonymous_get(signed)
        assert response.status_code == 200 and response.content == b"private"


def test_aws_storages_block_uploads_and_serves_like_the_dsns(aws_stack: Evaluation, moto_aws: MotoAws) -> None:
    """Same flows through STORAGES["default"] and ["private"] (virtual-host addressing):
    url() of a public file is MEDIA_URL + name and anyone can GET it; the private one only signed."""
    keys = _apply_aws(aws_stack, moto_aws)
    settings = aws_stack.outputs["site_settings"]["acme-stage"]
    default = _storages_storage(aws_stack, "acme-stage", "default", keys["acme-stage"])
    private = _storages_storage(aws_stack, "acme-stage", "private", keys["acme-stage"])
    with enable_iam_authentication():
        public_name = default.save("a.txt", ContentFile(b"public"))
        private_name = private.save("b.txt", ContentFile(b"private"))
        assert default.exists(public_name) and private.exists(private_name)
    assert default.url(public_name) == settings["MEDIA_URL"] + public_name
    assert _anonymous_get(default.url(public_name)).content == b"public"
    assert _anonymous_get(private.url(private_name).split("?")[0]).status_code == 403
    assert _anonymous_get(private.url(private_name)).content == b"private"


def test_a_sites_key_cannot_reach_another_sites_buckets(aws_stack: Evaluation, moto_aws: MotoAws) -> None:
    """moto enforces the IAM policy: acme-stage's key may not write or read acme-live's
    buckets, while its own work (previous tests) is allowed."""
    keys = _apply_aws(aws_stack, moto_aws)
    owner = _dsn_storage(aws_stack, "acme-live", "private_storage_dsn", keys["acme-live"])
    name = owner.save("secret.txt", ContentFile(b"acme-live only"))
    intruder_dsn = aws_stack.outputs["site_settings"]["acme-live"]["private_storage_dsn"]
    intruder = get_storage(with_credentials(intruder_dsn, keys["acme-stage"].key_id, keys["acme-stage"].secret))
    with enable_iam_authentication():
        with pytest.raises(ClientError) as write:
            intruder.save("planted.txt", ContentFile(b"x"))
        assert write.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(ClientError) as read:
            intruder.open(name).read()
        assert read.value.response["Error"]["Code"] in ("AccessDenied", "403")
        assert owner.open(name).read() == b"acme-live only"


def test_moto_cannot_evaluate_the_tls_only_deny(aws_stack: Evaluation, moto_aws: MotoAws) -> None:
    """Why the private flows above run without the private bucket's policy: with it applied,
    moto refuses even the site's https upload, because it ignores the Bool
    aws:SecureTransport condition (AWS would allow https). If this starts failing, moto has
    learned the condition: apply the full policy in the private-bucket tests."""
    keys = apply_resources(aws_stack.resources, moto_aws.s3, moto_aws.iam)
    storage = _dsn_storage(aws_stack, "acme-stage", "private_storage_dsn", keys["acme-stage"])
    assert storage.endpoint_url.startswith("https://")
    with pytest.raises(ClientError) as error:
        storage.save("x.txt", ContentFile(b"x"))
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    deny = json.loads(named(aws_stack, "acme-stage-private-policy").inputs["policy"])["Statement"][0]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_cors_preflight_answers_configured_origins_only(aws_stack: Evaluation, moto_aws: MotoAws) -> None:
    """acme-stage's rule (GET, HEAD, PUT; max age 600) answers its origin's preflight; a
    foreign origin is refused. (moto answers loosely beyond that, so nothing more is claimed.)"""
    _apply_aws(aws_stack, moto_aws)
    url = _s3_url("acme-media-acme-stage-public", "font.woff2")
    allowed = requests.options(
        url, headers={"Origin": "https://stage.acme.example", "Access-Control-Request-Method": "PUT"}, timeout=10
    )
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://stage.acme.example"
    assert allowed.headers["Access-Control-Allow-Methods"] == "GET, HEAD, PUT"
    assert allowed.headers["Access-Control-Max-Age"] == "600"
    foreign = requests.options(
        url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, timeout=10
    )
    assert foreign.status_code == 403


# --- Exoscale ------------------------------------------------------------------------------


def test_exoscale_dsns_upload_public_read_and_private_objects(exoscale_stack: Evaluation, moto_exoscale: Any) -> None:
    """The Exoscale DSNs on moto at https://sos-ch-gva-2.exo.io: the public upload carries the
    canned public-read ACL and anyone can GET it; the private upload carries `private`, is
    refused anonymously and served by its signed URL. The per-site Exoscale IAM keys are not
    exercised (moto has no Exoscale IAM, and runs without authentication here)."""
    apply_resources(exoscale_stack.resources, moto_exoscale)
    key = SiteKey("EXOtestkey", "test/secret+with=chars")
    for site, facts in exoscale_stack.outputs["sites"].items():
        public = _dsn_storage(exoscale_stack, site, "default_storage_dsn", key)
        name = public.save("uploads/photo.jpg", ContentFile(BODY))
        grants = moto_exoscale.get_object_acl(Bucket=facts["public_bucket"], Key=name)["Grants"]
        assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"} in [
            g["Grantee"] for g in grants
        ]
        bare = f"https://sos-ch-gva-2.exo.io/{facts['public_bucket']}/{name}"
        assert _anonymous_get(bare).content == BODY
        private = _dsn_storage(exoscale_stack, site, "private_storage_dsn", key)
        secret_name = private.save("contracts/c.pdf", ContentFile(b"private"))
        assert _anonymous_get(f"https://sos-ch-gva-2.exo.io/{facts['private_bucket']}/{secret_name}").status_code == 403
        assert _anonymous_get(private.url(secret_name)).content == b"private"


def test_exoscale_public_read_comes_from_the_acl(exoscale_stack: Evaluation, moto_exoscale: Any) -> None:
    """Control: the same public bucket refuses an anonymous GET of an object uploaded without
    public-read, so the GET above succeeded because of the DSN's ACL."""
    apply_resources(exoscale_stack.resources, moto_exoscale)
    moto_exoscale.put_object(Bucket="helvetia-media-geneva-live-public", Key="no-acl.txt", Body=b"x")
    assert _anonymous_get("https://sos-ch-gva-2.exo.io/helvetia-media-geneva-live-public/no-acl.txt").status_code == 403


# --- local (custom endpoint, moto server) --------------------------------------------------


@pytest.fixture
def local_on_server(fresh_moto_server: str, tmp_path: Path) -> Evaluation:
    """The `local` example stack, pointed at this test's moto server instead of port 5000."""
    text = example_stack("local").read_text(encoding="utf-8")
    assert "http://127.0.0.1:5000" in text
    path = tmp_path / "Pulumi.local.yaml"
    path.write_text(text.replace("http://127.0.0.1:5000", fresh_moto_server), encoding="utf-8")
    evaluation = evaluate(read_stack_file(path))
    s3 = boto3.client("s3", endpoint_url=fresh_moto_server, region_name="us-east-1")
    apply_resources(evaluation.resources, s3)
    return evaluation


def test_local_storages_block_works_end_to_end(local_on_server: Evaluation) -> None:
    """With the stack's own key and path-style addressing over http: a public upload
    (public-read) is at MEDIA_URL + name for anyone; a private upload (private) only signed.
    The moto server checks no credentials, so the key itself is not exercised here."""
    settings = local_on_server.outputs["site_settings"]["demo"]
    assert settings["default_storage_dsn"] is None, "http endpoints get no DSN"
    default = S3Storage(**settings["STORAGES"]["default"]["OPTIONS"])
    private = S3Storage(**settings["STORAGES"]["private"]["OPTIONS"])
    name = default.save("media/a.css", ContentFile(b"body{}"))
    assert default.url(name) == settings["MEDIA_URL"] + name
    assert _anonymous_get(default.url(name)).content == b"body{}"
    secret = private.save("media/b.txt", ContentFile(b"private"))
    assert _anonymous_get(private.url(secret).split("?")[0]).status_code == 403
    assert _anonymous_get(private.url(secret)).content == b"private"


def test_local_cors_preflight(local_on_server: Evaluation) -> None:
    """The demo site's origin gets its preflight answered with the configured methods."""
    url = local_on_server.outputs["site_settings"]["demo"]["MEDIA_URL"] + "font.woff2"
    response = requests.options(
        url, headers={"Origin": "https://localhost:8000", "Access-Control-Request-Method": "GET"}, timeout=10
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "https://localhost:8000"
    assert response.headers["Access-Control-Allow-Methods"] == "GET, HEAD"

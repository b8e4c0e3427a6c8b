"""The generic-S3 provider code against real S3 servers: a moto server, Ceph RGW 16.2 and SeaweedFS.

From a generic stack file: every site's buckets, bucket ACLs, CORS and lifecycle are created
by the provider; an added CORS origin is exactly one PutBucketCors on that bucket; a no-op
plan makes no call; protected buckets and buckets holding objects are not deleted; and the
SDK's own dynamic-provider host (what `pulumi up` runs) drives the same code over gRPC.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from components.generic_s3.resources import BUCKET_TYPE, CORS_TYPE, LIFECYCLE_TYPE, PROVIDER_CLASSES
from storagectl.offline import Evaluation
from storagectl.provision import CREATE, DELETE, REFUSED, SAME, UPDATE, deprovision, provision
from tests.support.dynamic_host import dynamic_host, secret
from tests.support.generic_servers import GenericStack, S3Server

SITES: dict[str, Any] = {
    "shop": {"cors": {"origins": ["https://shop.example"], "methods": ["GET", "HEAD", "PUT"]}},
    "blog": {},
    "flyer": {"private": False},
}
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture(params=["moto", "rgw", "seaweedfs"])
def server(request: pytest.FixtureRequest) -> S3Server:
    """A moto server, Ceph RGW 16.2 (tests/support/rgw.py) and SeaweedFS (tests/support/seaweedfs.py);
    the real servers skip, saying why, where they cannot run."""
    if request.param == "moto":
        endpoint = request.getfixturevalue("fresh_moto_server")
        return S3Server("moto", endpoint, "testing", "testing")
    if request.param == "seaweedfs":
        seaweedfs = request.getfixturevalue("seaweedfs")
        return S3Server("seaweedfs", seaweedfs.http_endpoint, seaweedfs.access_key, seaweedfs.secret_key)
    rgw = request.getfixturevalue("rgw")
    return S3Server("rgw", rgw.http_endpoint, rgw.access_key, rgw.secret_key)


@pytest.fixture
def stack(server: S3Server, tmp_path: Path) -> GenericStack:
    return GenericStack(server, tmp_path)


def _by_name(evaluation: Evaluation) -> dict[str, Any]:
    return {resource.name: resource for resource in evaluation.resources}


def test_provision_creates_every_sites_buckets_acls_cors_and_lifecycle(stack: GenericStack) -> None:
    evaluation = stack.evaluate(SITES, lifecycle=True)
    steps, _ = provision(evaluation.resources, stack.clients())
    assert {step.action for step in steps} == {CREATE}
    assert len(steps) == len([r for r in evaluation.resources if r.type.startswith("pulumi-python:")])
    s3 = stack.server.client()
    names = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    expected = {stack.bucket(site, role) for site in SITES for role in ("public", "private")}
    expected.discard(stack.bucket("flyer", "private"))
    assert expected <= names and stack.bucket("flyer", "private") not in names
    for bucket in expected:
        grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
        assert not [g for g in grants if g["Grantee"].get("URI") == ALL_USERS], f"{bucket} is listable by anyone"
        [rule] = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7
        with pytest.raises(ClientError) as tags:
            s3.get_bucket_tagging(Bucket=bucket)
        assert tags.value.response["Error"]["Code"] == "NoSuchTagSet", "generic buckets get no tags"
    [cors] = s3.get_bucket_cors(Bucket=stack.bucket("shop", "public"))["CORSRules"]
    assert cors["AllowedOrigins"] == ["https://shop.example"]
    assert sorted(cors["AllowedMethods"]) == ["GET", "HEAD", "PUT"]
    for site in ("blog", "flyer"):
        with pytest.raises(ClientError) as none:
            s3.get_bucket_cors(Bucket=stack.bucket(site, "public"))
        assert none.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"


def test_adding_a_cors_origin_is_exactly_that_buckets_cors_call(stack: GenericStack) -> None:
    first = stack.evaluate(SITES, lifecycle=True)
    _, outputs = provision(first.resources, stack.clients())
    widened = {
        **SITES,
        "shop": {"cors": {**SITES["shop"]["cors"], "origins": ["https://shop.example", "https://m.shop.example"]}},
    }
    second = stack.evaluate(widened, lifecycle=True)
    stack.log.clear()
    steps, _ = provision(second.resources, stack.clients(), previous=outputs)
    assert [(step.name, step.action) for step in steps if step.action != SAME] == [("shop-public-cors", UPDATE)]
    assert stack.log.calls == [("PutBucketCors", stack.bucket("shop", "public"))]
    [cors] = stack.server.client().get_bucket_cors(Bucket=stack.bucket("shop", "public"))["CORSRules"]
    assert sorted(cors["AllowedOrigins"]) == ["https://m.shop.example", "https://shop.example"]


def test_a_no_op_plan_makes_no_call_and_a_refresh_only_reads(stack: GenericStack) -> None:
    evaluation = stack.evaluate(SITES, lifecycle=True)
    _, outputs = provision(evaluation.resources, stack.clients())
    stack.log.clear()
    steps, _ = provision(evaluation.resources, stack.clients(), previous=outputs)
    assert {step.action for step in steps} == {SAME}
    assert stack.log.calls == []
    steps, _ = provision(evaluation.resources, stack.clients())
    assert {step.action for step in steps} == {SAME}
    assert stack.log.calls and stack.log.writes() == []


def test_refresh_finds_and_repairs_a_bucket_made_public_by_hand(stack: GenericStack) -> None:
    evaluation = stack.evaluate({"blog": {}})
    provision(evaluation.resources, stack.clients())
    s3 = stack.server.client()
    s3.put_bucket_acl(Bucket=stack.bucket("blog", "private"), ACL="public-read")
    stack.log.clear()
    steps, outputs = provision(evaluation.resources, stack.clients())
    assert [(s.name, s.action) for s in steps if s.action != SAME] == [("blog-private", UPDATE)]
    assert stack.log.writes() == [("PutBucketAcl", stack.bucket("blog", "private"))]
    grants = s3.get_bucket_acl(Bucket=stack.bucket("blog", "private"))["Grants"]
    assert not [g for g in grants if g["Grantee"].get("URI") == ALL_USERS]
    assert outputs["blog-private"]["acl"] == "private"


def test_protected_buckets_refuse_deletion_and_no_bucket_is_emptied(stack: GenericStack) -> None:
    protected = stack.evaluate({"blog": {}}, protect=True)
    provision(protected.resources, stack.clients())
    s3 = stack.server.client()
    steps = deprovision(protected.resources, stack.clients())
    assert {(step.name, step.action) for step in steps} == {("blog-public", REFUSED), ("blog-private", REFUSED)}
    assert all("protected" in step.detail for step in steps)

    unprotected = stack.evaluate({"blog": {}}, protect=False)
    s3.put_object(Bucket=stack.bucket("blog", "public"), Key="media/photo.jpg", Body=b"keep me")
    steps = deprovision(unprotected.resources, stack.clients())
    actions = {step.name: step for step in steps}
    assert actions["blog-private"].action == DELETE
    assert actions["blog-public"].action == REFUSED
    assert "holds objects" in actions["blog-public"].detail and "never empties" in actions["blog-public"].detail
    body = s3.get_object(Bucket=stack.bucket("blog", "public"), Key="media/photo.jpg")["Body"].read()
    assert body == b"keep me"
    names = {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    assert stack.bucket("blog", "private") not in names


def test_the_sdks_dynamic_host_runs_the_provider_as_pulumi_up_would(stack: GenericStack) -> None:
    """Configure with the stack config (key as a secret), then check, create, diff, update, read
    and delete over gRPC against `python -m pulumi.dynamic`."""
    evaluation = stack.evaluate({"shop": SITES["shop"]}, protect=False)
    resources = _by_name(evaluation)
    bucket, cors = resources["shop-public"], resources["shop-public-cors"]
    name = stack.bucket("shop", "public")
    with dynamic_host() as host:
        host.configure(
            {
                "site-storage:access_key_id": stack.server.key_id,
                "site-storage:secret_access_key": secret(stack.server.secret),
            }
        )
        checked = host.check(BUCKET_TYPE, bucket.name, bucket.inputs)
        assert list(checked.failures) == []
        bad = host.check(BUCKET_TYPE, bucket.name, {**bucket.inputs, "acl": "public-read"})
        assert [(f.property, f.reason) for f in bad.failures] == [
            ("acl", "'public-read' is not allowed; buckets get private")
        ]
        bucket_id, bucket_outs = host.create(BUCKET_TYPE, bucket.name, bucket.inputs)
        assert bucket_id == name and bucket_outs["acl"] == "private"
        cors_id, cors_outs = host.create(CORS_TYPE, cors.name, cors.inputs)
        s3 = stack.server.client()
        assert s3.get_bucket_cors(Bucket=name)["CORSRules"][0]["AllowedOrigins"] == ["https://shop.example"]

        assert host.diff(CORS_TYPE, cors.name, cors_id, cors_outs, cors.inputs).changes == 1  # DIFF_NONE
        rules = [{**cors.inputs["corsRules"][0], "allowedOrigins": ["https://shop.example", "https://b.example"]}]
        widened = {**cors.inputs, "corsRules": rules}
        diff = host.diff(CORS_TYPE, cors.name, cors_id, cors_outs, widened)
        assert diff.changes == 2 and list(diff.replaces) == []  # DIFF_SOME, in place
        renamed = host.diff(BUCKET_TYPE, bucket.name, bucket_id, bucket_outs, {**bucket.inputs, "bucket": "x-other"})
        assert list(renamed.replaces) == ["bucket"]
        host.update(CORS_TYPE, cors.name, cors_id, cors_outs, widened)
        live = s3.get_bucket_cors(Bucket=name)["CORSRules"][0]["AllowedOrigins"]
        assert sorted(live) == ["https://b.example", "https://shop.example"]

        read_id, read_outs = host.read(BUCKET_TYPE, bucket.name, bucket_id, bucket_outs)
        assert read_id == name and read_outs["acl"] == "private"
        s3.put_object(Bucket=name, Key="a.txt", Body=b"x")
        with pytest.raises(Exception, match="holds objects"):
            host.delete(BUCKET_TYPE, bucket.name, bucket_id, bucket_outs)
        assert s3.get_object(Bucket=name, Key="a.txt")["Body"].read() == b"x"
        host.delete(CORS_TYPE, cors.name, cors_id, cors_outs)
        with pytest.raises(ClientError):
            s3.get_bucket_cors(Bucket=name)


def test_changing_the_lifecycle_days_is_one_lifecycle_call(stack: GenericStack) -> None:
    evaluation = stack.evaluate({"blog": {}}, lifecycle=True)
    _, outputs = provision(evaluation.resources, stack.clients())
    lifecycle = _by_name(evaluation)["blog-public-lifecycle"]
    assert lifecycle.type == LIFECYCLE_TYPE
    changed = [{**rule, "abortIncompleteMultipartUploadDays": 3} for rule in lifecycle.inputs["rules"]]
    edited = [
        dataclasses.replace(r, inputs={**r.inputs, "rules": changed}) if r is lifecycle else r
        for r in evaluation.resources
    ]
    stack.log.clear()
    provision(edited, stack.clients(), previous=outputs)
    assert stack.log.calls == [("PutBucketLifecycleConfiguration", stack.bucket("blog", "public"))]
    [rule] = stack.server.client().get_bucket_lifecycle_configuration(Bucket=stack.bucket("blog", "public"))["Rules"]
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 3


def test_a_public_upload_reads_anonymously_and_a_private_one_only_signed(stack: GenericStack) -> None:
    """What the buckets are for, on the provider's buckets: the DSN's canned public-read upload
    is public, a private upload is refused anonymously and served by a presigned URL."""
    evaluation = stack.evaluate({"blog": {}})
    provision(evaluation.resources, stack.clients())
    s3 = stack.server.client()
    public, private = stack.bucket("blog", "public"), stack.bucket("blog", "private")
    s3.put_object(Bucket=public, Key="p.txt", Body=b"public", ACL="public-read")
    s3.put_object(Bucket=private, Key="s.txt", Body=b"secret", ACL="private")
    assert requests.get(f"{stack.server.endpoint}/{public}/p.txt", timeout=10).content == b"public"
    assert requests.get(f"{stack.server.endpoint}/{private}/s.txt", timeout=10).status_code == 403
    url = s3.generate_presigned_url("get_object", Params={"Bucket": private, "Key": "s.txt"}, ExpiresIn=60)
    assert requests.get(url, timeout=10).content == b"secret"


def test_create_adopts_a_bucket_the_key_already_owns(stack: GenericStack) -> None:
    """`pulumi up` after `pulumi state delete` (or an interrupted create): Create meets the
    existing bucket, keeps its objects and sets the declared bucket ACL."""
    evaluation = stack.evaluate({"blog": {}})
    bucket = _by_name(evaluation)["blog-public"]
    s3 = stack.server.client()
    s3.create_bucket(Bucket=stack.bucket("blog", "public"))
    s3.put_bucket_acl(Bucket=stack.bucket("blog", "public"), ACL="public-read")
    s3.put_object(Bucket=stack.bucket("blog", "public"), Key="old.jpg", Body=b"old media")
    provider = PROVIDER_CLASSES[BUCKET_TYPE]().connect(stack.clients())
    created = provider.create(dict(bucket.inputs))
    assert created.id == stack.bucket("blog", "public")
    assert s3.get_object(Bucket=stack.bucket("blog", "public"), Key="old.jpg")["Body"].read() == b"old media"
    grants = s3.get_bucket_acl(Bucket=stack.bucket("blog", "public"))["Grants"]
    assert not [g for g in grants if g["Grantee"].get("URI") == ALL_USERS]

"""The AWS example stack on a moto server with IAM enforced, for the media tests: deploy it, run `storagectl media`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

from typer.testing import CliRunner

from storagectl.cli import app
from storagectl.offline import Evaluation
from tests.support.media import LARGE_KEY, SMALL_FILES, anonymous_status, bucket_objects
from tests.support.moto_apply import SiteKey
from tests.support.moto_verify import Deployment, deploy, iam_enforced, reset_moto

STACK = "aws-eu-central-1"
LIVE = ("acme-media-acme-live-public", "acme-media-acme-live-private")
STAGE = ("acme-media-acme-stage-public", "acme-media-acme-stage-private")
BACKUPS = "acme-media-backups"
MEDIA_OPERATOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": ["arn:aws:s3:::*", "arn:aws:s3:::*/*"]}],
}


def deploy_for_media(aws_stack: Evaluation, moto_endpoint: str) -> Deployment:
    """The stack's buckets and keys, an operator who may do anything in S3, and a bucket for backups."""
    reset_moto(moto_endpoint)
    deployment = deploy(aws_stack, moto_endpoint)
    iam = deployment.iam()
    iam.create_user(UserName="media-operator")
    iam.put_user_policy(UserName="media-operator", PolicyName="s3", PolicyDocument=json.dumps(MEDIA_OPERATOR_POLICY))
    created = iam.create_access_key(UserName="media-operator")["AccessKey"]
    deployment.operator = SiteKey(created["AccessKeyId"], created["SecretAccessKey"])
    deployment.s3().create_bucket(Bucket=BACKUPS, CreateBucketConfiguration={"LocationConstraint": deployment.region})
    return deployment


def media(
    deployment: Deployment, tmp_path: Path, *args: str, operator: SiteKey | None = None, endpoint: str | None = None
) -> Any:
    """`storagectl media ARGS` through the CLI, IAM enforced; `endpoint` (a proxy) instead of moto's own."""
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(deployment.outputs()), encoding="utf-8")
    key = operator or deployment.operator
    env = {"AWS_ACCESS_KEY_ID": key.key_id, "AWS_SECRET_ACCESS_KEY": key.secret, "AWS_PROFILE": None}
    command = [
        "media",
        *args,
        "--stack",
        STACK,
        "--outputs",
        str(outputs),
        "--endpoint-url",
        endpoint or deployment.endpoint,
    ]
    with iam_enforced():
        return CliRunner().invoke(app, command, env=env)


def anonymous(deployment: Deployment, bucket: str, key: str) -> int:
    return anonymous_status(f"{deployment.endpoint}/{bucket}/{quote(key)}")


def assert_site_holds(deployment: Deployment, buckets: tuple[str, str], large: bool = False) -> None:
    s3 = deployment.s3()
    public, private = bucket_objects(s3, buckets[0]), bucket_objects(s3, buckets[1])
    assert public == SMALL_FILES["public"]
    assert {key: body for key, body in private.items() if key != LARGE_KEY} == SMALL_FILES["private"]
    assert (LARGE_KEY in private) == large
    for key in public:
        assert anonymous(deployment, buckets[0], key) == 200, key
    for key in private:
        assert anonymous(deployment, buckets[1], key) == 403, key

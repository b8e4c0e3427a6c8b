"""moto set up for `storagectl verify`: a deployed stack with real moto keys, IAM enforced.

Shared by tests/test_verify_*.py and benchmarks/verify_bench.py. Resources are created by
tests/support/moto_apply.py exactly as an offline evaluation declares them.

moto 5.2.5 differs from S3 in three ways that would make verify's data-path checks meaningless,
so `moto_gaps_closed` patches exactly those three (and nothing else):

1. It evaluates a conditional Deny in a bucket policy as unconditional, so the private bucket's
   TLS-only deny (`Bool aws:SecureTransport false`) refuses every object request. The test
   server speaks plain http standing in for an https endpoint, so the patch evaluates bucket
   policies as S3 does for a request over TLS: that one statement does not apply.
2. With IAM enforcement on, it answers unsigned requests (an anonymous GET, a presigned URL)
   with HTTP 500, because its IAM check reads an Authorization header. The patch skips the IAM
   check for such requests; moto's bucket-policy and object-ACL evaluation still decides them,
   as S3's does for anonymous requests. moto never verifies presigned URL signatures.
3. It lists a bucket to an unsigned GET whatever its ACL and policy say: the only check on a
   listing is the IAM one, which moto skips while IAM is not enforced (and the patch above skips
   for unsigned requests). The patch refuses an unsigned listing (AccessDenied, 403) unless the
   bucket policy allows s3:ListBucket or the bucket ACL grants everyone READ, as S3 does.
   The local server's own patch (storagectl/local/moto_gaps.py, applied here too) refuses the
   same listings in moto's bucket GET; this one also covers ListMultipartUploads and a bucket
   policy that denies s3:ListBucket over a public-read ACL.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import boto3
from moto import settings as moto_settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.exceptions import AccessDeniedError
from moto.iam.access_control import IAMPolicy, PermissionResult
from moto.s3.exceptions import MissingBucket
from moto.s3.models import FakeBucket
from moto.s3.responses import S3Response
from moto.server import ThreadedMotoServer

from storagectl.local.moto_gaps import gaps_closed as local_server_gaps_closed
from storagectl.offline import Evaluation
from storagectl.stack_files import SECRET_PLACEHOLDER
from storagectl.verify.checks import PROBE_PREFIX
from tests.support.moto_apply import SiteKey, apply_resources

ROOT_KEY = SiteKey("testing", "testing")
"""moto's default key: valid only while IAM is not enforced (setting up and breaking things)."""
# What an operator needs to read bucket configuration (docs/support.md, "Verifying live storage").
OPERATOR_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": [
                "s3:GetBucketCORS",
                "s3:GetBucketPolicy",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetBucketOwnershipControls",
                # moto 5.2.5 authorizes GetPublicAccessBlock and GetBucketOwnershipControls as s3:ListBucket.
                "s3:ListBucket",
            ],
            "Resource": "arn:aws:s3:::*",
        }
    ],
}


def _only_without_tls(statement: dict[str, Any]) -> bool:
    return statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}


def _permission_over_tls(self: FakeBucket, action: str, resource: str) -> Any:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    document = json.loads(self.policy)
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    kept = [statement for statement in statements if not _only_without_tls(statement)]
    if not kept:
        return PermissionResult.NEUTRAL
    return IAMPolicy(json.dumps({**document, "Statement": kept})).is_action_permitted(action, resource)


_original_authorize = ActionAuthenticatorMixin._authenticate_and_authorize_action


LISTINGS = frozenset({"ListBucket", "ListBucketVersions", "ListBucketMultipartUploads"})
"""moto's names for the bucket GETs that list what a bucket holds."""


def _refuse_anonymous_listing(response: Any, resource: str) -> None:
    """S3's rule for an unsigned listing: allowed only by the bucket policy or a public-read bucket ACL."""
    if not isinstance(response, S3Response) or response.data.get("Action") not in LISTINGS:
        return
    if any(name in response.querystring for name in ("X-Amz-Signature", "Signature")):
        return  # presigned: moto serves those without IAM (gap 2)
    bucket_name = resource.rpartition(":::")[2]
    if not bucket_name or "/" in bucket_name or bucket_name == "*":
        return
    try:
        bucket = response.backend.get_bucket(bucket_name)
    except MissingBucket:
        return  # moto answers NoSuchBucket itself
    permission = bucket.get_permission("s3:ListBucket", f"arn:aws:s3:::{bucket_name}")
    # (moto's policy evaluation ignores Principal: this project's policies grant only Principal "*".)
    if permission == PermissionResult.PERMITTED:
        return
    if permission != PermissionResult.DENIED and bucket.acl is not None and bucket.acl.public_read:
        return
    raise AccessDeniedError(user_arn="anonymous", action="s3:ListBucket")


def _authorize_signed_only(self: Any, iam_request_cls: type, resource: str = "*") -> None:
    if "Authorization" not in self.headers:
        _refuse_anonymous_listing(self, resource)
        return None
    return _original_authorize(self, iam_request_cls, resource)


@contextmanager
def moto_gaps_closed() -> Iterator[None]:
    """Apply the three patches described in the module docstring, and those the local server applies
    (storagectl/local/moto_gaps.py: anonymous listings, upload start times); undo them on exit."""
    original_permission = FakeBucket.get_permission
    FakeBucket.get_permission = _permission_over_tls  # type: ignore[method-assign]
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authorize_signed_only  # type: ignore[method-assign]
    try:
        with local_server_gaps_closed():
            yield
    finally:
        FakeBucket.get_permission = original_permission  # type: ignore[method-assign]
        ActionAuthenticatorMixin._authenticate_and_authorize_action = _original_authorize  # type: ignore[method-assign]


@contextmanager
def iam_enforced() -> Iterator[None]:
    """moto checks every request's signature and IAM policies (it does not by default)."""
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    ActionAuthenticatorMixin.request_count = 0
    try:
        yield
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = previous


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port) in this process; yields its endpoint URL."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(endpoint: str) -> None:
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST", data=b"")
    with urllib.request.urlopen(request, timeout=30) as answer:
        answer.read()


def client(service: str, endpoint: str, region: str, key: SiteKey = ROOT_KEY) -> Any:
    return boto3.session.Session().client(
        service,
        endpoint_url=endpoint,
        region_name=region,
        aws_access_key_id=key.key_id,
        aws_secret_access_key=key.secret,
    )


def outputs_with_keys(outputs: dict[str, Any], keys: dict[str, SiteKey]) -> dict[str, Any]:
    """The evaluation's stack outputs with each site's placeholder key replaced by its moto key."""
    document: dict[str, Any] = json.loads(json.dumps(outputs))
    for slug, block in document["site_settings"].items():
        fake = block["STORAGES"]["default"]["OPTIONS"]["access_key"]
        real = keys[slug]
        pair = f"{quote(real.key_id, safe='')}:{quote(real.secret, safe='')}"

        def swap(value: Any, fake: str = fake, real: SiteKey = real, pair: str = pair) -> Any:
            if isinstance(value, dict):
                return {key: swap(item) for key, item in value.items()}
            if isinstance(value, list):
                return [swap(item) for item in value]
            if value == fake:
                return real.key_id
            if value == SECRET_PLACEHOLDER:
                return real.secret
            if isinstance(value, str):
                return value.replace(f"{fake}:{SECRET_PLACEHOLDER}", pair)
            return value

        document["site_settings"][slug] = swap(block)
    return document


@dataclass
class Deployment:
    """A stack's resources on moto, as `pulumi up` would have left them."""

    endpoint: str
    region: str
    evaluation: Evaluation
    keys: dict[str, SiteKey]
    operator: SiteKey

    def s3(self, key: SiteKey = ROOT_KEY) -> Any:
        return client("s3", self.endpoint, self.region, key)

    def iam(self) -> Any:
        return client("iam", self.endpoint, self.region)

    def outputs(self) -> dict[str, Any]:
        return outputs_with_keys(self.evaluation.outputs, self.keys)

    def secrets(self) -> list[str]:
        return [value for key in [*self.keys.values(), self.operator] for value in (key.key_id, key.secret)]

    def leftover_probes(self) -> list[str]:
        """Objects verify left behind (read with the root key: call while IAM is not enforced)."""
        s3 = self.s3()
        leftovers = []
        for bucket in s3.list_buckets()["Buckets"]:
            listed = s3.list_objects_v2(Bucket=bucket["Name"], Prefix=PROBE_PREFIX).get("Contents", [])
            leftovers += [f"{bucket['Name']}/{item['Key']}" for item in listed]
        return leftovers


def deploy(evaluation: Evaluation, endpoint: str) -> Deployment:
    """Create the evaluation's resources and an operator who may read bucket configuration."""
    region = evaluation.settings.region.signing_region
    iam = client("iam", endpoint, region)
    keys = apply_resources(evaluation.resources, client("s3", endpoint, region), iam)
    iam.create_user(UserName="operator")
    iam.put_user_policy(UserName="operator", PolicyName="read-config", PolicyDocument=json.dumps(OPERATOR_POLICY))
    created = iam.create_access_key(UserName="operator")["AccessKey"]
    operator = SiteKey(created["AccessKeyId"], created["SecretAccessKey"])
    return Deployment(endpoint=endpoint, region=region, evaluation=evaluation, keys=keys, operator=operator)

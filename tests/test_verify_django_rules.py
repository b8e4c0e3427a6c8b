"""What verify's Django checks hold a server to, where moto 5.2.5 is silent.

AWS answers HeadObject of a missing key with 403 instead of 404 when the caller may not list
the bucket (s3:ListBucket), https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
("Permissions"); moto answers 404 either way. So the rule is held here on its own: through
django-storages (a 403 breaks every save with file_overwrite=False), through verify's check,
and on the policies the component writes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage

from components.policies import bucket_arn
from storagectl.offline import Evaluation
from storagectl.verify import django_calls
from storagectl.verify.checks import Probe
from storagectl.verify.results import FAIL, PASS
from tests.support.stacks import USER_POLICY, of_type


def _forbidden(operation: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": "403", "Message": "Forbidden"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, operation
    )


def test_django_storages_cannot_save_when_a_missing_key_answers_403() -> None:
    """The real library: with file_overwrite=False, save() asks exists() first, which raises on 403."""
    storage = S3Storage(bucket_name="shop-public", access_key="k", secret_key="s", region_name="eu-central-1")
    storage.file_overwrite = False
    with Stubber(storage.connection.meta.client) as stub:
        stub.add_client_error("head_object", service_error_code="403", http_status_code=403)
        with pytest.raises(ClientError):
            storage.save("uploads/a.txt", ContentFile(b"a"))
    with Stubber(storage.connection.meta.client) as stub:
        stub.add_client_error("head_object", service_error_code="404", http_status_code=404)
        assert storage.exists("uploads/a.txt") is False


class HeadOnly:
    """A site client whose HeadObject answers as S3 would for a key without s3:ListBucket."""

    def __init__(self, missing_status: int) -> None:
        self.missing_status = missing_status

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        if Key.endswith("-absent.txt"):
            if self.missing_status == 403:
                raise _forbidden("HeadObject")
            raise ClientError({"Error": {"Code": "404"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "HeadObject")
        return {"ContentLength": 1}


def test_refuses_a_missing_key_that_answers_403() -> None:
    result = django_calls.exists("shop", "public", HeadOnly(403), Probe.new("shop-public"))
    assert result.status == FAIL
    assert result.check == "public.exists"
    assert "HeadObject of a missing key answered 403 (HTTP 403): Forbidden, not 404" in result.reason
    assert "every upload with file_overwrite=False fails" in result.reason


def test_a_missing_key_answering_404_passes() -> None:
    result = django_calls.exists("shop", "private", HeadOnly(404), Probe.new("shop-private"))
    assert (result.status, result.check) == (PASS, "private.exists")


def test_every_site_policy_lets_aws_answer_404_for_a_missing_key(aws_stack: Evaluation) -> None:
    """Wherever a site key may GetObject, it may also ListBucket that bucket, so AWS answers 404."""
    policies = of_type(aws_stack.resources, USER_POLICY)
    assert len(policies) == 3
    for resource in policies:
        statements = json.loads(resource.inputs["policy"])["Statement"]
        readable = {
            arn.removesuffix("/*")
            for statement in statements
            if "s3:GetObject" in statement["Action"]
            for arn in statement["Resource"]
        }
        listable = {
            arn for statement in statements if "s3:ListBucket" in statement["Action"] for arn in statement["Resource"]
        }
        assert readable and readable <= listable, resource.name
        assert all(arn.startswith(bucket_arn("acme-media-")) for arn in readable)

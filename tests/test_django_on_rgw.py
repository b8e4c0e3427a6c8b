"""A Django site on Ceph RGW 16.2, as deployed by the provider code, through both consumer routes.

The stack's endpoint is RGW's `https://localhost` (port 443, a throwaway CA), the only kind of
local endpoint a DSN can describe: django-storage-url always speaks https and drops ports.
The provider creates the buckets; the site then uploads through its STORAGES block and through
its DSN with the key and settings from the stack outputs; anyone reads the public file at
MEDIA_URL; the private file is refused anonymously and served by its signed URL. And the
trap the settings exist for: boto3's default checksums are refused by RGW over https.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django_storage_url import get_storage
from storages.backends.s3 import S3Storage

from components.generic_s3.connection import Clients, Credentials
from storagectl.local.command import evaluation_with_key
from storagectl.offline import Evaluation
from storagectl.provision import provision
from storagectl.stack_files import read_stack_file
from tests.support.generic_servers import GenericStack, S3Server
from tests.support.rgw import Rgw
from tests.support.stacks import write_stack

BODY = b"\xff\xd8 a photo from the shop"


@pytest.fixture
def deployed(rgw: Rgw, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Evaluation, Rgw]]:
    """The stack on RGW over https, provisioned, its outputs with RGW's real key; boto3 trusts the CA."""
    endpoint = rgw.endpoint("https")
    stack = GenericStack(S3Server("rgw", endpoint, rgw.access_key, rgw.secret_key), tmp_path)
    path = write_stack(tmp_path, stack.values({"shop": {}}), name="rgw")
    evaluation = evaluation_with_key(read_stack_file(path), Credentials(rgw.access_key, rgw.secret_key))
    monkeypatch.setenv("AWS_CA_BUNDLE", str(rgw.ca_bundle))
    provision(evaluation.resources, Clients(Credentials(rgw.access_key, rgw.secret_key)))
    yield evaluation, rgw


def _settings(evaluation: Evaluation) -> dict[str, Any]:
    return evaluation.outputs["site_settings"]["shop"]


def _anonymous(url: str, rgw: Rgw) -> requests.Response:
    return requests.get(url, timeout=10, verify=rgw.ca_bundle)


@pytest.fixture
def site_environment(deployed: tuple[Evaluation, Rgw], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment the outputs tell the site to set (the checksum modes on generic S3)."""
    environment = dict(_settings(deployed[0])["environment"])
    assert environment == {
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def _round_trip(public: Any, private: Any, media_url: str, rgw: Rgw) -> None:
    name = public.save("uploads/photo.jpg", ContentFile(BODY))
    assert media_url.startswith("https://localhost/")
    assert _anonymous(media_url + name, rgw).content == BODY
    assert public.exists(name) and not public.exists("uploads/never-written.jpg")
    secret_name = private.save("contracts/offer.pdf", ContentFile(b"private terms"))
    bare = media_url.replace(public.bucket_name, private.bucket_name) + secret_name
    assert _anonymous(bare, rgw).status_code == 403
    assert _anonymous(private.url(secret_name), rgw).content == b"private terms"


def test_storages_block_uploads_reads_and_signs_on_rgw(deployed: tuple[Evaluation, Rgw], site_environment) -> None:
    evaluation, rgw = deployed
    storages = _settings(evaluation)["STORAGES"]
    public = S3Storage(**storages["default"]["OPTIONS"])
    private = S3Storage(**storages["private"]["OPTIONS"])
    _round_trip(public, private, _settings(evaluation)["MEDIA_URL"], rgw)


def test_dsn_route_uploads_reads_and_signs_on_rgw(deployed: tuple[Evaluation, Rgw], site_environment) -> None:
    """django-storage-url builds the storages from the DSNs alone (https://localhost, path style)."""
    evaluation, rgw = deployed
    settings = _settings(evaluation)
    assert settings["default_storage_dsn"] and settings["private_storage_dsn"], "https on 443 can be a DSN"
    public, private = get_storage(settings["default_storage_dsn"]), get_storage(settings["private_storage_dsn"])
    public.file_overwrite = private.file_overwrite = settings["AWS_S3_FILE_OVERWRITE"]
    _round_trip(public, private, settings["MEDIA_URL"], rgw)


def test_without_the_checksum_environment_rgw_refuses_the_upload(
    deployed: tuple[Evaluation, Rgw], monkeypatch: pytest.MonkeyPatch
) -> None:
    """boto3's default (when_supported) sends an aws-chunked CRC32 trailer with no Content-Length;
    RGW 16.2 answers 411 MissingContentLength over https, so every Django upload would fail."""
    evaluation, _ = deployed
    for name in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
        monkeypatch.delenv(name, raising=False)
    public = S3Storage(**_settings(evaluation)["STORAGES"]["default"]["OPTIONS"])
    with pytest.raises(ClientError) as refused:
        public.save("uploads/photo.jpg", ContentFile(BODY))
    assert refused.value.response["Error"]["Code"] == "MissingContentLength"

"""A Django site on SeaweedFS, as deployed by the provider code, through its STORAGES block over http.

The stack's endpoint is SeaweedFS's plain `http://127.0.0.1:<port>`: a DSN cannot describe it
(django-storage-url always speaks https and drops ports), so the outputs carry no DSNs and the
site uses the STORAGES block, as the `local` stack does on moto; the https DSN route is proven on
RGW (tests/test_django_on_rgw.py). The provider creates the buckets with the stack's key (a plain
SeaweedFS user, not the admin); the site uploads with the key and settings from the outputs;
anyone reads the public file at MEDIA_URL; the private file is refused anonymously and served by
its signed URL.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage

from components.generic_s3.connection import Clients, Credentials
from storagectl.local.command import evaluation_with_key
from storagectl.offline import Evaluation
from storagectl.provision import provision
from storagectl.stack_files import read_stack_file
from tests.support.generic_servers import GenericStack, S3Server
from tests.support.rgw import delete_bucket_and_contents
from tests.support.seaweedfs import SeaweedFS
from tests.support.stacks import write_stack

BODY = b"\xff\xd8 a photo from the shop"


@pytest.fixture
def deployed(seaweedfs: SeaweedFS, tmp_path: Path) -> Iterator[Evaluation]:
    """The stack on SeaweedFS over http, provisioned with the plain user `owner`; buckets removed after."""
    owner = seaweedfs.user("owner")
    stack = GenericStack(S3Server("seaweedfs", seaweedfs.http_endpoint, owner.access_key, owner.secret_key), tmp_path)
    path = write_stack(tmp_path, stack.values({"shop": {}}), name="seaweedfs")
    credentials = Credentials(owner.access_key, owner.secret_key)
    evaluation = evaluation_with_key(read_stack_file(path), credentials)
    provision(evaluation.resources, Clients(credentials))
    yield evaluation
    s3 = seaweedfs.client(access_key=owner.access_key, secret_key=owner.secret_key)
    for role in ("public", "private"):
        delete_bucket_and_contents(s3, stack.bucket("shop", role))


def _settings(evaluation: Evaluation) -> dict[str, Any]:
    return evaluation.outputs["site_settings"]["shop"]


@pytest.fixture
def site_environment(deployed: Evaluation, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The environment the outputs tell the site to set (the checksum modes on generic S3)."""
    environment = dict(_settings(deployed)["environment"])
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def test_storages_block_uploads_reads_and_signs_on_seaweedfs(
    deployed: Evaluation, seaweedfs: SeaweedFS, site_environment: dict[str, str]
) -> None:
    settings = _settings(deployed)
    assert site_environment == {
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
    }
    storages = settings["STORAGES"]
    public = S3Storage(**storages["default"]["OPTIONS"])
    private = S3Storage(**storages["private"]["OPTIONS"])
    media_url = settings["MEDIA_URL"]
    assert media_url.startswith(f"{seaweedfs.http_endpoint}/")

    name = public.save("uploads/photo.jpg", ContentFile(BODY))
    assert requests.get(media_url + name, timeout=10).content == BODY
    assert public.exists(name) and not public.exists("uploads/never-written.jpg")
    secret_name = private.save("contracts/offer.pdf", ContentFile(b"private terms"))
    bare = media_url.replace(public.bucket_name, private.bucket_name) + secret_name
    assert requests.get(bare, timeout=10).status_code == 403
    assert requests.get(private.url(secret_name), timeout=10).content == b"private terms"


def test_an_http_endpoint_gets_no_dsn_only_the_storages_block(deployed: Evaluation) -> None:
    """django-storage-url cannot say http or a port: the outputs leave the DSNs out rather than lie."""
    settings = _settings(deployed)
    assert settings["default_storage_dsn"] is None and settings["private_storage_dsn"] is None
    assert settings["STORAGES"]["default"]["OPTIONS"]["endpoint_url"].startswith("http://127.0.0.1:")

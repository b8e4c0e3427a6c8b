"""What DSN sites must set beside their DSN, through the real libraries against moto.

django-storage-url hands django-storages no file_overwrite and no client config, so a DSN site
takes both from its settings and environment: `AWS_S3_FILE_OVERWRITE` (django-storages' default
replaces an existing file) and, on generic S3, botocore's checksum variables. aldryn-django's
`S3MediaStorage` is a django-storage-url `S3Storage` that changes neither (aldryn-django 5.1.5.0
pins Django 5.1.5, so it cannot be installed beside this project's Django 5.2).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django.test import override_settings
from django_storage_url import get_storage
from moto.core import enable_iam_authentication
from storages.backends.s3 import S3Storage

from storagectl.offline import Evaluation, evaluate
from storagectl.stack_files import read_stack_file
from tests.conftest import MotoAws
from tests.support.cli_project import invoke
from tests.support.moto_apply import apply_resources, split_for_moto
from tests.support.s3_stand_ins import default_checksums_refused
from tests.support.stacks import example_stack, options_with_credentials, with_credentials

NAME = "uploads/logo.png"


def _read(storage: Any, name: str) -> bytes:
    with storage.open(name) as file:
        return bytes(file.read())


def _save_twice(storage: Any) -> tuple[str, str]:
    first = storage.save(NAME, ContentFile(b"first upload"))
    second = storage.save(NAME, ContentFile(b"second upload"))
    return first, second


def test_dsn_and_storages_sites_both_keep_an_existing_file(aws_stack: Evaluation, moto_aws: MotoAws) -> None:
    """acme-stage's key, IAM enforced: the DSN storage (with the AWS_S3_FILE_OVERWRITE the outputs
    carry) and STORAGES["default"] both give the second upload of a name a new name."""
    kept, _ = split_for_moto(aws_stack.resources)
    key = apply_resources(kept, moto_aws.s3, moto_aws.iam)["acme-stage"]
    settings = aws_stack.outputs["site_settings"]["acme-stage"]
    assert settings["AWS_S3_FILE_OVERWRITE"] is False
    with override_settings(AWS_S3_FILE_OVERWRITE=settings["AWS_S3_FILE_OVERWRITE"]):
        dsn = get_storage(with_credentials(settings["default_storage_dsn"], key.key_id, key.secret))
    storages = S3Storage(**options_with_credentials(settings["STORAGES"]["default"]["OPTIONS"], key.key_id, key.secret))
    for storage in (dsn, storages):
        storage.delete(NAME)
        with enable_iam_authentication():
            first, second = _save_twice(storage)
            assert first == NAME and second != NAME, type(storage)
            assert _read(storage, first) == b"first upload"
            assert _read(storage, second) == b"second upload"
        storage.delete(first)
        storage.delete(second)


def test_a_dsn_without_the_setting_replaces_the_file(aws_stack: Evaluation, moto_aws: MotoAws) -> None:
    """Control: django-storage-url alone (django-storages' default file_overwrite=True) loses the first file."""
    kept, _ = split_for_moto(aws_stack.resources)
    key = apply_resources(kept, moto_aws.s3, moto_aws.iam)["acme-stage"]
    dsn = get_storage(
        with_credentials(
            aws_stack.outputs["site_settings"]["acme-stage"]["default_storage_dsn"], key.key_id, key.secret
        )
    )
    with enable_iam_authentication():
        first, second = _save_twice(dsn)
        assert first == second == NAME
        assert _read(dsn, NAME) == b"second upload"


def test_exoscale_dsn_uploads_with_the_checksum_environment_only(
    exoscale_stack: Evaluation, moto_exoscale: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a server refusing boto3's default checksums, the DSN storage's upload is refused until the
    process has the `environment` the outputs carry (botocore reads it for every client)."""
    apply_resources(exoscale_stack.resources, moto_exoscale)
    settings = exoscale_stack.outputs["site_settings"]["geneva-live"]
    environment = settings["environment"]
    assert environment == {
        "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
        "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
    }
    dsn = with_credentials(settings["default_storage_dsn"], "EXOtestkey", "test/secret")
    with default_checksums_refused():
        for name in environment:
            monkeypatch.delenv(name, raising=False)
        with pytest.raises(ClientError) as refused:
            get_storage(dsn).save("a.txt", ContentFile(b"a"))
        assert refused.value.response["Error"]["Code"] == "InvalidRequest"
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        storage = get_storage(dsn)
        name = storage.save("a.txt", ContentFile(b"a"))
        assert _read(storage, name) == b"a"


def test_aws_sites_keep_botocores_default_checksums(aws_stack: Evaluation) -> None:
    for settings in aws_stack.outputs["site_settings"].values():
        assert settings["environment"] == {}


def test_python_settings_give_storages_a_client_config_with_the_checksum_modes(
    fresh_moto_server: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`storagectl settings --format python` for the local stack (custom endpoint): each S3 alias's
    OPTIONS get a real botocore Config, with the signature and addressing style it would otherwise
    lose, and STORAGES["default"] uploads to a server refusing default checksums with no variable set."""
    import json

    text = example_stack("local").read_text(encoding="utf-8").replace("http://127.0.0.1:5000", fresh_moto_server)
    path = tmp_path / "Pulumi.local.yaml"
    path.write_text(text, encoding="utf-8")
    evaluation = evaluate(read_stack_file(path))
    apply_resources(evaluation.resources, boto3.client("s3", endpoint_url=fresh_moto_server, region_name="us-east-1"))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(evaluation.outputs), encoding="utf-8")
    result = invoke("settings", "demo", "--outputs", str(outputs), "--format", "python")
    assert result.exit_code == 0, result.stderr
    for name in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
        # setenv first: monkeypatch then removes what the module sets once the test is over.
        monkeypatch.setenv(name, "unset")
        monkeypatch.delenv(name)
    module: dict[str, Any] = {}
    exec(compile(result.stdout, "storage_settings.py", "exec"), module)
    for name in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
        monkeypatch.delenv(name)  # set by the module for DSN storages; the Config must do without
    options = module["STORAGES"]["default"]["OPTIONS"]
    config = options["client_config"]
    assert isinstance(config, Config)
    assert config.request_checksum_calculation == config.response_checksum_validation == "when_required"
    assert (config.signature_version, config.s3) == ("s3v4", {"addressing_style": "path"})
    assert module["STORAGES"]["private"]["OPTIONS"]["client_config"].s3 == {"addressing_style": "path"}
    assert module["AWS_S3_FILE_OVERWRITE"] is False
    with default_checksums_refused():
        storage = S3Storage(**options)
        name = storage.save("media/a.css", ContentFile(b"body{}"))
        assert _read(storage, name) == b"body{}"
        without = S3Storage(**{key: value for key, value in options.items() if key != "client_config"})
        with pytest.raises(ClientError):
            without.save("media/b.css", ContentFile(b"body{}"))

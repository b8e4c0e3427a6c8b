"""Stack files for tests: the example stacks, and stack files written from plain mappings."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from components.generic_s3 import resources as generic
from storagectl.offline import Evaluation, RecordedResource

ROOT = Path(__file__).resolve().parent.parent.parent
STACKS = ROOT / "stacks"
EXAMPLE_STACKS = ("aws-eu-central-1", "exoscale-ch-gva-2", "local")
SECRET_SIG = "4dabf18193072939515e22adb298388d"
"""The key Pulumi marks a serialized secret with (`pulumi.runtime.rpc._special_sig_key`)."""

BUCKET = "aws:s3/bucket:Bucket"
OWNERSHIP = "aws:s3/bucketOwnershipControls:BucketOwnershipControls"
ACCESS_BLOCK = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
POLICY = "aws:s3/bucketPolicy:BucketPolicy"
ENCRYPTION = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
LIFECYCLE = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
CORS = "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration"
IAM_USER = "aws:iam/user:User"
USER_POLICY = "aws:iam/userPolicy:UserPolicy"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
GENERIC_BUCKET = generic.BUCKET_TYPE
GENERIC_CORS = generic.CORS_TYPE
GENERIC_LIFECYCLE = generic.LIFECYCLE_TYPE
GENERIC_ENCRYPTION = generic.ENCRYPTION_TYPE
BUCKET_TYPES = (BUCKET, GENERIC_BUCKET)


def example_stack(name: str) -> Path:
    return STACKS / f"Pulumi.{name}.yaml"


def write_stack(
    directory: Path,
    values: Mapping[str, Any],
    *,
    name: str = "test",
    secure: tuple[str, ...] = ("secret_access_key",),
    other_config: Mapping[str, Any] | None = None,
) -> Path:
    """Write `stacks/Pulumi.<name>.yaml`-style file from namespace-stripped `values`.

    Keys named in `secure` are written as `{secure: ...}` the way `pulumi config set --secret`
    stores them (the ciphertext is a dummy: preview never decrypts). JSON is valid YAML.
    """
    config: dict[str, Any] = {}
    for key, value in values.items():
        config[f"site-storage:{key}"] = {"secure": "v1:TESTnonce:TESTciphertext=="} if key in secure else value
    config.update(other_config or {})
    path = directory / f"Pulumi.{name}.yaml"
    path.write_text(json.dumps({"config": config}, indent=2) + "\n", encoding="utf-8")
    return path


def of_type(resources: list[RecordedResource], type_: str) -> list[RecordedResource]:
    return [resource for resource in resources if resource.type == type_]


def buckets_of(resources: list[RecordedResource]) -> list[RecordedResource]:
    """Every bucket, pulumi-aws's and the generic-S3 provider's alike."""
    return [resource for resource in resources if resource.type in BUCKET_TYPES]


def named(evaluation: Evaluation, name: str) -> RecordedResource:
    matches = [resource for resource in evaluation.resources if resource.name == name]
    assert len(matches) == 1, f"{len(matches)} resources named {name}"
    return matches[0]


def with_credentials(dsn: str, key_id: str, secret: str) -> str:
    """The DSN with its (placeholder) credentials replaced, percent-encoded like the program does."""
    assert dsn.startswith("s3://") and "@" in dsn
    return re.sub(r"^s3://[^@]*@", lambda _: f"s3://{quote(key_id, safe='')}:{quote(secret, safe='')}@", dsn)


def options_with_credentials(options: Mapping[str, Any], key_id: str, secret: str) -> dict[str, Any]:
    return {**options, "access_key": key_id, "secret_key": secret}


MINIMAL_AWS: dict[str, Any] = {"region": "aws-eu-central-1", "bucket_prefix": "acme-media", "sites": {"acme-live": {}}}
"""The smallest valid AWS stack's values (write_stack's form): tests build bad ones from it."""
MINIMAL_CUSTOM: dict[str, Any] = {
    "region": "custom",
    "endpoint": "https://minio.example.com",
    "bucket_prefix": "lab",
    "access_key_id": "minio-key",
    "secret_access_key": "placeholder",
    "sites": {"one": {}},
}
"""The smallest valid custom-endpoint stack's values."""

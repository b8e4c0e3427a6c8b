"""The generic-S3 resources a program declares, backed by the provider code in `providers`.

Dynamic resources: the engine runs them through the `pulumi-python` provider that ships
with every Pulumi CLI, which unpickles the provider class by reference (it is imported from
this package in the project's virtualenv) and calls `configure` with the stack's config.
Their type tokens are `pulumi-python:dynamic/s3:<Name>`.

Inputs are camelCase, as pulumi-aws's are on the wire, so the policy pack reads both alike.
"""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.generic_s3.providers import (
    BucketCorsProvider,
    BucketEncryptionProvider,
    BucketLifecycleProvider,
    BucketProvider,
    S3Provider,
)

MODULE = "s3"


class Bucket(Resource, module=MODULE, name="Bucket"):
    """A bucket with a canned bucket ACL (private: public read is per object, see BUCKET_ACLS)."""

    bucket: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        region: dict[str, Any],
        bucket: str,
        acl: str = "private",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(PROVIDERS[BUCKET_TYPE], name, {"region": region, "bucket": bucket, "acl": acl}, opts)


class BucketCors(Resource, module=MODULE, name="BucketCors"):
    """CORS rules of a bucket; rules use pulumi-aws's camelCase field names."""

    def __init__(
        self,
        name: str,
        *,
        region: dict[str, Any],
        bucket: str,
        cors_rules: list[dict[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"region": region, "bucket": bucket, "corsRules": cors_rules}
        super().__init__(PROVIDERS[CORS_TYPE], name, props, opts)


class BucketLifecycle(Resource, module=MODULE, name="BucketLifecycle"):
    """Lifecycle rules of a bucket: `{id, status, abortIncompleteMultipartUploadDays}` each."""

    def __init__(
        self,
        name: str,
        *,
        region: dict[str, Any],
        bucket: str,
        rules: list[dict[str, Any]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(PROVIDERS[LIFECYCLE_TYPE], name, {"region": region, "bucket": bucket, "rules": rules}, opts)


class BucketEncryption(Resource, module=MODULE, name="BucketEncryption"):
    """Default server-side encryption of a bucket."""

    def __init__(
        self,
        name: str,
        *,
        region: dict[str, Any],
        bucket: str,
        sse_algorithm: str = "AES256",
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {"region": region, "bucket": bucket, "sseAlgorithm": sse_algorithm}
        super().__init__(PROVIDERS[ENCRYPTION_TYPE], name, props, opts)


def type_token(resource_class: type[Resource]) -> str:
    return f"pulumi-python:{resource_class._resource_type_name}"


BUCKET_TYPE = type_token(Bucket)
CORS_TYPE = type_token(BucketCors)
LIFECYCLE_TYPE = type_token(BucketLifecycle)
ENCRYPTION_TYPE = type_token(BucketEncryption)
PROVIDER_CLASSES: dict[str, type[S3Provider]] = {
    BUCKET_TYPE: BucketProvider,
    CORS_TYPE: BucketCorsProvider,
    LIFECYCLE_TYPE: BucketLifecycleProvider,
    ENCRYPTION_TYPE: BucketEncryptionProvider,
}
RESOURCE_CLASSES: dict[str, type[Resource]] = {
    type_token(cls): cls for cls in (Bucket, BucketCors, BucketLifecycle, BucketEncryption)
}
# One stateless instance per type: each resource pickles it again (~60 bytes, a class reference).
PROVIDERS: dict[str, S3Provider] = {token: cls() for token, cls in PROVIDER_CLASSES.items()}

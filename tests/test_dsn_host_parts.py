"""`dsn_host_parts` against the real django-storage-url, and DSNs that must not be written.

The project writes DSNs only where django-storage-url reads them back as meant; the mirror
decides that, so it must agree with the library on every kind of host.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django_storage_url import get_storage

from components.django_settings import dsn_host_parts, dsn_unavailable_reason
from components.regions import EXOSCALE_ZONES, resolve_region
from storagectl.offline import Evaluation, evaluate
from storagectl.stack_files import read_stack_file
from tests.support.stacks import write_stack

AWS_REGIONS = ("eu-central-1", "us-east-1", "us-gov-west-1", "ap-southeast-2", "il-central-1", "eu-south-2")
HOSTS = [
    # AWS regional endpoints, with plain and dotted bucket names.
    *(f"acme-media-site-public.s3.{region}.amazonaws.com" for region in AWS_REGIONS),
    "acme.media-site-public.s3.eu-central-1.amazonaws.com",
    "a.b.c-public.s3.us-east-1.amazonaws.com",
    # Legacy and special AWS forms the library knows.
    "acme-public.s3.amazonaws.com",
    "acme-public.s3-eu-west-1.amazonaws.com",
    "acme-public.s3-fips.us-gov-west-1.amazonaws.com",
    "acme-public.s3.dualstack.eu-central-1.amazonaws.com",
    "acme-public.s3-accesspoint.eu-central-1.amazonaws.com",
    "acme-public.s3.control.eu-central-1.amazonaws.com",
    # Exoscale zones.
    *(f"helvetia-site-public.sos-{zone}.exo.io" for zone in EXOSCALE_ZONES),
    "helvetia.media-site-public.sos-ch-gva-2.exo.io",
    # Custom endpoints with 1 to 4 labels.
    "lab-one-public.localhost",
    "lab-one-public.example.com",
    "lab-one-public.minio.example.com",
    "lab-one-public.s3-eu-1.minio.example.com",
    "lab-one-public.objects.eu-west.example.com",
    "lab-one-public.ceph-zone-a.example.net",
    # Bucket names that contain the library's needles.
    "acme.s3-media-public.s3.eu-central-1.amazonaws.com",
    "acme.s3.media-public.sos-ch-gva-2.exo.io",
    "lab.s3-x-public.minio.example.com",
]


@pytest.mark.parametrize("host", HOSTS)
def test_mirror_reads_hosts_exactly_like_django_storage_url(host: str) -> None:
    """(bucket, endpoint host, region) from our mirror == what the library's storage gets."""
    storage = get_storage(f"s3://KEY:SECRET@{host}/?auth=s3v4&acl=private")
    endpoint = urlsplit(storage.endpoint_url)
    assert endpoint.scheme == "https"
    real = (storage.bucket_name, endpoint.netloc, storage.region_name)
    assert dsn_host_parts(host) == real


@pytest.mark.parametrize("host", HOSTS)
@pytest.mark.parametrize("region_name", ["us-east-1", "ch-gva-2"])
def test_mirror_honours_region_name_exactly_where_the_library_does(host: str, region_name: str) -> None:
    """With `region_name=` in the DSN the library overrides its region guess, but only for
    hosts without an S3 marker; the mirror must agree on which."""
    storage = get_storage(f"s3://KEY:SECRET@{host}/?auth=s3v4&region_name={region_name}")
    real = (storage.bucket_name, urlsplit(storage.endpoint_url).netloc, storage.region_name)
    assert dsn_host_parts(host, region_name) == real


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        (
            "http://127.0.0.1:5000",
            "django-storage-url always uses https, but the endpoint http://127.0.0.1:5000 is http",
        ),
        (
            "http://minio.example.com",
            "django-storage-url always uses https, but the endpoint http://minio.example.com is http",
        ),
        (
            "https://minio.example.com:9000",
            "django-storage-url drops ports, but the endpoint https://minio.example.com:9000 needs port 9000",
        ),
        (
            "https://objects.eu-west.example.com",
            "django-storage-url would read host lab-one-public.objects.eu-west.example.com as bucket "
            "'lab-one-public.objects', endpoint 'eu-west.example.com', region 'us-east-1' instead of "
            "'lab-one-public', 'objects.eu-west.example.com', 'us-east-1'",
        ),
        (
            "https://s3-eu-1.minio.example.com",
            "django-storage-url would read host lab-one-public.s3-eu-1.minio.example.com as bucket "
            "'lab-one-public', endpoint 's3-eu-1.minio.example.com', region 'eu-1' instead of "
            "'lab-one-public', 's3-eu-1.minio.example.com', 'us-east-1'",
        ),
    ],
)
def test_endpoints_the_library_cannot_express_get_no_dsn_and_a_reason(endpoint: str, reason: str) -> None:
    region = resolve_region("custom", endpoint=endpoint, path_style=True)
    assert dsn_unavailable_reason(region, "lab-one-public") == reason


def test_a_bucket_name_holding_a_needle_gets_no_dsn() -> None:
    """`acme.s3-media-public` on AWS: the library would split at `.s3-` inside the bucket name."""
    region = resolve_region("aws-eu-central-1")
    reason = dsn_unavailable_reason(region, "acme.s3-media-public")
    assert reason is not None and "as bucket 'acme'" in reason
    assert dsn_unavailable_reason(region, "acme.media-public") is None


@pytest.mark.parametrize(
    "region_id", [*(f"aws-{region}" for region in AWS_REGIONS), *(f"exoscale-{zone}" for zone in EXOSCALE_ZONES)]
)
def test_every_catalog_region_gets_dsns(region_id: str) -> None:
    """Catalog endpoints are https without a port and split correctly: DSNs are always written."""
    region = resolve_region(region_id)
    assert dsn_unavailable_reason(region, "acme-media-site-public") is None
    assert dsn_unavailable_reason(region, "acme.media-site-private") is None


def test_a_custom_endpoint_the_library_reads_right_gets_a_working_dsn(tmp_path: Path) -> None:
    """Wasabi-style `s3.<region>.<domain>` with the matching signing region: the DSN is written,
    and the library reads back the stack's bucket, endpoint and region from it."""
    path = write_stack(
        tmp_path,
        {
            "region": "custom",
            "endpoint": "https://s3.eu-west-1.wasabisys.com",
            "signing_region": "eu-west-1",
            "bucket_prefix": "lab",
            "access_key_id": "wasabi-key",
            "secret_access_key": "x",
            "sites": {"one": {}},
        },
    )
    settings = evaluate(read_stack_file(path)).outputs["site_settings"]["one"]
    storage = get_storage(settings["default_storage_dsn"])
    assert (storage.bucket_name, storage.endpoint_url, storage.region_name) == (
        "lab-one-public",
        "https://s3.eu-west-1.wasabisys.com/",
        "eu-west-1",
    )


@pytest.mark.parametrize(
    ("endpoint", "signing_region"),
    [("https://minio.example.com", "us-east-1"), ("https://storage.lab", "eu-west-1"), ("https://ceph", "default")],
)
def test_a_custom_host_without_region_gets_a_dsn_naming_it(tmp_path: Path, endpoint: str, signing_region: str) -> None:
    """MinIO/Ceph hosts carry no region the library can guess; the DSN names it with
    `region_name=`, and django-storage-url reads back exactly the stack's bucket, endpoint
    and signing region (rather than region None, which botocore would fill from whatever
    AWS_DEFAULT_REGION the Django host happens to have)."""
    path = write_stack(
        tmp_path,
        {
            "region": "custom",
            "endpoint": endpoint,
            "signing_region": signing_region,
            "bucket_prefix": "lab",
            "access_key_id": "minio-key",
            "secret_access_key": "x",
            "sites": {"one": {}},
        },
    )
    evaluation = evaluate(read_stack_file(path))
    settings = evaluation.outputs["site_settings"]["one"]
    assert evaluation.outputs["sites"]["one"]["dsn_unavailable_reason"] is None
    for dsn, bucket in (
        (settings["default_storage_dsn"], "lab-one-public"),
        (settings["private_storage_dsn"], "lab-one-private"),
    ):
        assert f"region_name={signing_region}" in dsn
        storage = get_storage(dsn)
        assert (storage.bucket_name, storage.endpoint_url, storage.region_name) == (
            bucket,
            f"{endpoint}/",
            signing_region,
        )


def test_catalog_dsns_need_no_region_name(example: Callable[[str], Evaluation]) -> None:
    """AWS and Exoscale hosts name their region themselves; their DSNs stay minimal."""
    for stack in ("aws-eu-central-1", "exoscale-ch-gva-2"):
        for settings in example(stack).outputs["site_settings"].values():
            assert "region_name" not in settings["default_storage_dsn"]


def test_stack_outputs_null_dsns_with_the_reason(tmp_path: Path) -> None:
    """Through the whole program: a custom endpoint with a port gets null DSNs, the reason in
    the readable facts, and still a full STORAGES block and MEDIA_URL."""
    path = write_stack(
        tmp_path,
        {
            "region": "custom",
            "endpoint": "https://minio.example.com:9000",
            "bucket_prefix": "lab",
            "access_key_id": "minio-key",
            "secret_access_key": "x",
            "sites": {"one": {}},
        },
    )
    evaluation = evaluate(read_stack_file(path))
    settings = evaluation.outputs["site_settings"]["one"]
    assert settings["default_storage_dsn"] is None
    assert settings["private_storage_dsn"] is None
    assert evaluation.outputs["sites"]["one"]["dsn_unavailable_reason"] == (
        "django-storage-url drops ports, but the endpoint https://minio.example.com:9000 needs port 9000"
    )
    assert settings["STORAGES"]["default"]["OPTIONS"]["endpoint_url"] == "https://minio.example.com:9000"
    assert settings["MEDIA_URL"] == "https://lab-one-public.minio.example.com:9000/"

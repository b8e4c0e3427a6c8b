"""The stack's Django settings read by the real consumers, offline (no S3 contacted).

Every DSN goes through `django_storage_url.get_storage`, every STORAGES alias through
`storages.backends.s3.S3Storage(**OPTIONS)` and Django's own `storages` handler, and the
result is compared with the stack's facts: bucket, endpoint, region, custom domain, the
ACL every upload will carry, URL signing and MEDIA_URL against storage.url().
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from django.utils.module_loading import import_string
from django_storage_url import get_storage
from storages.backends.s3 import S3Storage

from storagectl.offline import Evaluation, evaluate
from storagectl.stack_files import read_stack_file
from tests.support.stacks import EXAMPLE_STACKS, OWNERSHIP, of_type, write_stack

NAME = "uploads/2024/photo.jpg"
# AWS: a bucket with ACLs disabled (BucketOwnerEnforced) accepts a PUT with no ACL or with
# exactly this one, and refuses any other with AccessControlListNotSupported.
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/about-object-ownership.html
ACLS_A_BUCKET_OWNER_ENFORCED_BUCKET_ACCEPTS = {None, "bucket-owner-full-control"}


def _sites(evaluation: Evaluation) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    return [
        (slug, evaluation.outputs["sites"][slug], settings)
        for slug, settings in evaluation.outputs["site_settings"].items()
    ]


def _bucket_and_key(url: str, endpoint_host: str) -> tuple[str, str]:
    """Which bucket and key a URL addresses, virtual-host or path style, on `endpoint_host`."""
    parts = urlsplit(url)
    if parts.netloc == endpoint_host:
        bucket, _, key = parts.path.lstrip("/").partition("/")
        return bucket, key
    assert parts.netloc.endswith("." + endpoint_host), url
    return parts.netloc[: -len(endpoint_host) - 1], parts.path.lstrip("/")


def _expected_acls(evaluation: Evaluation) -> tuple[str, str]:
    """(public, private) upload ACLs for the region: owner-only where ACLs are off, else canned."""
    if evaluation.settings.region.capabilities.ownership_controls:
        return "bucket-owner-full-control", "bucket-owner-full-control"
    return "public-read", "private"


@pytest.mark.parametrize("stack", ["aws-eu-central-1", "exoscale-ch-gva-2"])
def test_dsns_configure_django_storage_url_as_the_stack_says(example: Callable[[str], Evaluation], stack: str) -> None:
    """Bucket, endpoint, region, custom domain, ACL and signing, as django-storage-url builds them."""
    evaluation = example(stack)
    region = evaluation.settings.region
    public_acl, private_acl = _expected_acls(evaluation)
    for _slug, facts, settings in _sites(evaluation):
        public = get_storage(settings["default_storage_dsn"])
        assert public.bucket_name == facts["public_bucket"]
        assert public.endpoint_url == f"https://{region.endpoint_host}/"
        assert public.region_name == region.signing_region
        assert public.object_parameters == {"ACL": public_acl}
        assert public.querystring_auth is False
        media_domain = facts["media_url"].removeprefix("https://").rstrip("/")
        has_domain = not media_domain.endswith(region.endpoint_host)
        assert public.custom_domain == (media_domain if has_domain else None)
        url = public.url(NAME)
        assert "X-Amz-Signature" not in url and "Signature=" not in url
        # The DSN's addressing_style=virtual: left at auto, botocore would build a path-style URL
        # (https://<endpoint>/<bucket>/...) that no CSP rule or prefix check written for MEDIA_URL matches.
        assert url == settings["MEDIA_URL"] + NAME
        if not has_domain:
            assert _bucket_and_key(url, region.endpoint_host) == (facts["public_bucket"], NAME)
            assert urlsplit(url).netloc == f"{facts['public_bucket']}.{region.endpoint_host}", "virtual-hosted"
        # aldryn-django (3.2.14 and later) sets MEDIA_URL to the DSN storage's base_url whenever
        # DEFAULT_STORAGE_DSN is set: the same URL as the output's MEDIA_URL.
        assert public.base_url == settings["MEDIA_URL"]

        if facts["private_bucket"] is None:
            assert settings["private_storage_dsn"] is None
            continue
        private = get_storage(settings["private_storage_dsn"])
        assert private.bucket_name == facts["private_bucket"]
        assert private.endpoint_url == public.endpoint_url
        assert private.region_name == region.signing_region
        assert private.object_parameters == {"ACL": private_acl}
        assert private.custom_domain is None, "a custom domain would switch signing off"
        assert private.querystring_auth is True
        signed = private.url(NAME)
        assert _bucket_and_key(signed.split("?")[0], region.endpoint_host) == (facts["private_bucket"], NAME)
        query = parse_qs(urlsplit(signed).query)
        assert query["X-Amz-Credential"][0].split("/")[2] == region.signing_region
        assert "X-Amz-Signature" in query


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_storages_block_configures_s3storage_as_the_stack_says(
    example: Callable[[str], Evaluation], stack: str
) -> None:
    """Each alias's OPTIONS accepted by S3Storage as-is; url() of the default storage is
    MEDIA_URL + name; the private storage signs its URLs."""
    evaluation = example(stack)
    region = evaluation.settings.region
    public_acl, private_acl = _expected_acls(evaluation)
    for _slug, facts, settings in _sites(evaluation):
        storages = settings["STORAGES"]
        assert storages["easy_thumbnails"] == storages["default"]
        default = S3Storage(**storages["default"]["OPTIONS"])
        assert default.bucket_name == facts["public_bucket"]
        assert default.endpoint_url == region.endpoint_url
        assert default.region_name == region.signing_region
        assert default.default_acl == public_acl
        assert default.querystring_auth is False
        assert default.file_overwrite is False, "an upload must never replace another site user's file"
        assert default.url(NAME) == settings["MEDIA_URL"] + NAME
        if facts["private_bucket"] is None:
            assert "private" not in storages
            continue
        private = S3Storage(**storages["private"]["OPTIONS"])
        assert private.bucket_name == facts["private_bucket"]
        assert private.default_acl == private_acl
        assert private.custom_domain is None
        assert private.querystring_auth is True
        signed = private.url(NAME)
        assert "X-Amz-Signature=" in signed
        assert signed.startswith(f"{urlsplit(region.endpoint_url).scheme}://")
        assert _bucket_and_key(signed.split("?")[0], region.endpoint_host) == (facts["private_bucket"], NAME)


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_django_resolves_the_aliases_and_easy_thumbnails_uses_the_public_bucket(
    example: Callable[[str], Evaluation], stack: str
) -> None:
    """With the block as settings: Django's storages handler builds each alias;
    easy-thumbnails >= 2.10 reads the `easy_thumbnails` alias and older ones the legacy
    THUMBNAIL_DEFAULT_STORAGE path, and both land in the public bucket."""
    from django.core.files.storage import storages
    from easy_thumbnails.storage import get_storage as thumbnail_storage

    evaluation = example(stack)
    for _slug, facts, settings in _sites(evaluation):
        with override_settings(
            STORAGES=settings["STORAGES"],
            MEDIA_URL=settings["MEDIA_URL"],
            THUMBNAIL_DEFAULT_STORAGE=settings["THUMBNAIL_DEFAULT_STORAGE"],
        ):
            assert isinstance(storages["default"], S3Storage)
            assert storages["default"].bucket_name == facts["public_bucket"]
            thumbnails = thumbnail_storage()
            assert isinstance(thumbnails, S3Storage) and thumbnails.bucket_name == facts["public_bucket"]
            legacy = import_string(settings["THUMBNAIL_DEFAULT_STORAGE"])()
            assert legacy.bucket_name == facts["public_bucket"]
            assert legacy.url(NAME) == settings["MEDIA_URL"] + NAME
            if facts["private_bucket"]:
                assert storages["private"].bucket_name == facts["private_bucket"]


def test_every_aws_upload_acl_is_one_a_bucket_with_acls_disabled_accepts(aws_stack: Evaluation) -> None:
    """AWS rule, encoded because moto 5.2.5 accepts any ACL on a BucketOwnerEnforced bucket:
    every AWS bucket has ACLs disabled, so every ACL a DSN or STORAGES block sends must be
    none or bucket-owner-full-control, or AWS refuses every upload."""
    enforced = {r.inputs["bucket"] for r in of_type(aws_stack.resources, OWNERSHIP)}
    assert all(
        r.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced" for r in of_type(aws_stack.resources, OWNERSHIP)
    )
    checked = 0
    for _slug, _facts, settings in _sites(aws_stack):
        for dsn in (settings["default_storage_dsn"], settings["private_storage_dsn"]):
            if dsn is not None:
                storage = get_storage(dsn)
                assert storage.bucket_name in enforced
                assert storage.object_parameters.get("ACL") in ACLS_A_BUCKET_OWNER_ENFORCED_BUCKET_ACCEPTS
                checked += 1
        for alias in settings["STORAGES"].values():
            options = alias.get("OPTIONS")
            if options:
                assert options["bucket_name"] in enforced
                assert options["default_acl"] in ACLS_A_BUCKET_OWNER_ENFORCED_BUCKET_ACCEPTS
                checked += 1
    assert checked >= 5 + 8, "3 public and 2 private DSNs, 8 S3 aliases"


def test_a_media_domain_disables_signing_and_only_the_public_storage_uses_it(aws_stack: Evaluation) -> None:
    """`domain=` only on the public DSN of the site with media_domain; S3Storage then builds
    unsigned URLs on that domain, which is why the private DSN never carries one."""
    settings = aws_stack.outputs["site_settings"]["acme-live"]
    assert "domain=media.acme.example" in settings["default_storage_dsn"]
    assert "domain=" not in settings["private_storage_dsn"]
    for slug in ("acme-stage", "brochure-live"):
        assert "domain=" not in aws_stack.outputs["site_settings"][slug]["default_storage_dsn"]
    public = get_storage(settings["default_storage_dsn"])
    assert public.url(NAME) == f"https://media.acme.example/{NAME}"
    signed_on_domain = S3Storage(**{**settings["STORAGES"]["default"]["OPTIONS"], "querystring_auth": True})
    assert "Signature" not in signed_on_domain.url(NAME), "django-storages never signs custom-domain URLs"


@pytest.mark.parametrize(
    ("region", "extra"),
    [
        ("aws-eu-central-1", {}),
        ("exoscale-ch-gva-2", {"site_credentials": "shared", "access_key_id": "EXO0", "secret_access_key": "x"}),
        ("custom", {"endpoint": "https://minio.example.com", "access_key_id": "k", "secret_access_key": "x"}),
    ],
)
def test_dotted_bucket_names_get_a_media_url_their_certificate_covers(
    tmp_path: Path, region: str, extra: dict[str, Any]
) -> None:
    """`acme.media-<site>-public` as a host label would sit two levels under the endpoint,
    outside its wildcard TLS certificate. botocore addresses it path style, and MEDIA_URL
    must match what the storage's url() really produces."""
    path = write_stack(tmp_path, {"region": region, "bucket_prefix": "acme.media", "sites": {"shop": {}}, **extra})
    evaluation = evaluate(read_stack_file(path))
    settings = evaluation.outputs["site_settings"]["shop"]
    endpoint_host = evaluation.settings.region.endpoint_host
    media_host = urlsplit(settings["MEDIA_URL"]).netloc
    assert media_host == endpoint_host, settings["MEDIA_URL"]
    assert S3Storage(**settings["STORAGES"]["default"]["OPTIONS"]).url(NAME) == settings["MEDIA_URL"] + NAME
    if settings["default_storage_dsn"]:
        dsn_storage = get_storage(settings["default_storage_dsn"])
        assert dsn_storage.bucket_name == "acme.media-shop-public"
        assert dsn_storage.url(NAME) == settings["MEDIA_URL"] + NAME, "django-storage-url goes path style for dots"
        # Its base_url (aldryn-django's MEDIA_URL) keeps the dotted host: docs/django-settings.md says so.
        assert urlsplit(dsn_storage.base_url).netloc == f"acme.media-shop-public.{endpoint_host}"


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_private_thumbnails_alias_is_the_private_bucket_with_signed_urls(
    example: Callable[[str], Evaluation], stack: str
) -> None:
    """`easy_thumbnails_private` (for ThumbnailerImageField(thumbnail_storage=...)) only where there is a
    private bucket, built by Django's handler as the private storage: its bucket, its ACL, signed URLs."""
    from django.core.files.storage import storages

    evaluation = example(stack)
    _public_acl, private_acl = _expected_acls(evaluation)
    for _slug, facts, settings in _sites(evaluation):
        if facts["private_bucket"] is None:
            assert "easy_thumbnails_private" not in settings["STORAGES"]
            continue
        assert settings["STORAGES"]["easy_thumbnails_private"] == settings["STORAGES"]["private"]
        with override_settings(STORAGES=settings["STORAGES"]):
            thumbnails = storages["easy_thumbnails_private"]
            assert isinstance(thumbnails, S3Storage)
            assert (thumbnails.bucket_name, thumbnails.default_acl) == (facts["private_bucket"], private_acl)
            assert thumbnails.querystring_auth is True and "X-Amz-Signature=" in thumbnails.url(NAME)

"""What a Django site needs to use its buckets: storage URLs (DSNs) and a STORAGES block.

DSNs follow the format django-storage-url (and aldryn-django's DEFAULT_STORAGE_DSN) reads:
`s3://KEY:SECRET@<bucket>.<endpoint host>/?auth=s3v4&...`. That library takes bucket,
endpoint and region apart from the host name itself, always talks https and drops any port,
so an endpoint it would misread gets no DSN (with the reason) instead of a wrong one.
`dsn_host_parts` mirrors its parsing; tests hold it to the real library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from components.regions import Region

S3_BACKEND = "storages.backends.s3.S3Storage"
# easy-thumbnails < 2.10 takes a dotted path; Django's DefaultStorage is the lazy object
# behind STORAGES["default"], so thumbnails land in the public bucket next to their sources.
LEGACY_THUMBNAIL_STORAGE = "django.core.files.storage.DefaultStorage"
PRIVATE_THUMBNAILS_ALIAS = "easy_thumbnails_private"
"""Thumbnails of private images: the private bucket, signed URLs (ThumbnailerImageField(thumbnail_storage=...))."""
# botocore reads these from the process environment for every client it builds, so they reach
# django-storage-url's storages (which take no client config) and STORAGES alike.
CHECKSUM_ENVIRONMENT = ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION")
BOTOCORE_DEFAULT_CHECKSUMS = "when_supported"

# The needles django-storage-url looks for, in its order (django_storage_url/backends/s3.py).
_AWS_STYLE_NEEDLES = (
    ".s3-accesspoint-fips.dualstack.",
    ".s3-fips.dualstack.",
    ".s3-accesspoint.dualstack.",
    ".s3.dualstack.",
    ".s3-accesspoint.",
    ".s3-fips.",
    ".s3-",
    ".s3.",
)


@dataclass(frozen=True)
class BucketAccess:
    """How Django reaches one bucket."""

    bucket: str
    acl: str
    """The canned ACL django-storages sends with every upload."""
    signed_urls: bool
    custom_domain: str | None = None


def dsn_host_parts(host: str, region_name: str | None = None) -> tuple[str, str, str | None]:
    """(bucket, storage host, region) as django-storage-url reads them from a DSN host and its
    `region_name=` argument, which the library honours only for hosts without an S3 marker."""
    for needle in _AWS_STYLE_NEEDLES:
        bucket, marker, rest = host.partition(needle)
        if not marker:
            continue
        region: str | None = rest.split(".", 1)[0]
        if region == "amazonaws":
            region = None
        elif region in ("control", "control-fips"):
            continue
        return bucket, marker.lstrip(".") + rest, region
    labels = host.rsplit(".", 3)
    guessed = labels[1].partition("-")[2] if len(labels) > 1 else ""
    return labels[0], ".".join(labels[1:]), (guessed if region_name is None else region_name) or None


def _dsn_region_name(region: Region, bucket: str) -> str | None:
    """The `region_name=` a DSN must carry: only where the library would guess the region
    wrong (e.g. None for minio.example.com, whose signing region is us-east-1)."""
    host = f"{bucket}.{urlsplit(region.endpoint_url).hostname}"
    return None if dsn_host_parts(host)[2] == region.signing_region else region.signing_region


def dsn_unavailable_reason(region: Region, bucket: str) -> str | None:
    """Why no DSN can describe `bucket` on `region` correctly, or None when one can."""
    parts = urlsplit(region.endpoint_url)
    if parts.scheme != "https":
        return f"django-storage-url always uses https, but the endpoint {region.endpoint_url} is {parts.scheme}"
    if parts.port is not None:
        return f"django-storage-url drops ports, but the endpoint {region.endpoint_url} needs port {parts.port}"
    host = f"{bucket}.{parts.hostname}"
    read = dsn_host_parts(host, _dsn_region_name(region, bucket))
    if read != (bucket, parts.hostname, region.signing_region):
        return (
            f"django-storage-url would read host {host} as bucket {read[0]!r}, endpoint {read[1]!r}, "
            f"region {read[2]!r} instead of {bucket!r}, {parts.hostname!r}, {region.signing_region!r}"
        )
    return None


def storage_dsn(region: Region, access: BucketAccess, key_id: str, secret: str) -> str:
    query: dict[str, str] = {"auth": region.signature, "acl": access.acl}
    if access.custom_domain:
        query["domain"] = access.custom_domain
    if access.signed_urls:
        query["qs_auth"] = "true"
    if region.path_style:
        query["addressing_style"] = "path"
    elif "." not in access.bucket:
        # Left at auto, botocore builds path-style URLs for the explicit endpoint django-storage-url
        # passes; MEDIA_URL (and the storage's base_url, which aldryn-django makes MEDIA_URL) is
        # virtual-hosted. Dotted names stay path style on both sides (see media_url).
        query["addressing_style"] = "virtual"
    region_name = _dsn_region_name(region, access.bucket)
    if region_name:
        query["region_name"] = region_name
    credentials = f"{quote(key_id, safe='')}:{quote(secret, safe='')}"
    return f"s3://{credentials}@{access.bucket}.{region.endpoint_host}/?{urlencode(query)}"


def media_url(region: Region, bucket: str, media_domain: str | None) -> str:
    if media_domain:
        return f"https://{media_domain}/"
    parts = urlsplit(region.endpoint_url)
    # A dotted bucket name as a host label breaks the endpoint's wildcard TLS certificate, so
    # botocore (and so django-storages' url()) addresses such buckets path style; so does this.
    if region.path_style or "." in bucket:
        return f"{parts.scheme}://{parts.netloc}/{bucket}/"
    return f"{parts.scheme}://{bucket}.{parts.netloc}/"


def storage_options(region: Region, access: BucketAccess, key_id: str, secret: str) -> dict[str, Any]:
    """django-storages S3Storage OPTIONS for one bucket."""
    return {
        "bucket_name": access.bucket,
        "access_key": key_id,
        "secret_key": secret,
        "endpoint_url": region.endpoint_url,
        "region_name": region.signing_region,
        "signature_version": region.signature,
        "addressing_style": "path" if region.path_style else "virtual",
        "default_acl": access.acl,
        "querystring_auth": access.signed_urls,
        "custom_domain": access.custom_domain,
        "file_overwrite": False,
    }


def checksum_environment(region: Region) -> dict[str, str]:
    """The environment variables botocore needs on this region, none where its defaults work.

    boto3 >= 1.36 sends a CRC checksum with every upload (an aws-chunked trailer) and asks for
    checksums on downloads; servers that refuse them need both set to when_required.
    """
    mode = region.capabilities.checksums
    return {} if mode == BOTOCORE_DEFAULT_CHECKSUMS else dict.fromkeys(CHECKSUM_ENVIRONMENT, mode)


def storages_block(
    region: Region,
    public: BucketAccess,
    private: BucketAccess | None,
    key_id: str,
    secret: str,
) -> dict[str, Any]:
    """The Django >= 4.2 STORAGES mapping, with MEDIA_URL, the legacy thumbnail setting and what DSN sites
    must set themselves: django-storage-url passes no file_overwrite (django-storages' default replaces an
    existing file) and no client config."""
    default = {"BACKEND": S3_BACKEND, "OPTIONS": storage_options(region, public, key_id, secret)}
    storages: dict[str, Any] = {
        "default": default,
        "easy_thumbnails": default,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    if private is not None:
        storages["private"] = {"BACKEND": S3_BACKEND, "OPTIONS": storage_options(region, private, key_id, secret)}
        storages[PRIVATE_THUMBNAILS_ALIAS] = storages["private"]
    return {
        "STORAGES": storages,
        "MEDIA_URL": media_url(region, public.bucket, public.custom_domain),
        "THUMBNAIL_DEFAULT_STORAGE": LEGACY_THUMBNAIL_STORAGE,
        "AWS_S3_FILE_OVERWRITE": False,
        "environment": checksum_environment(region),
    }

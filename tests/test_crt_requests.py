"""The CRT client addresses each object exactly where botocore would: same host, same encoded path.

storagectl/media/crt_client.py builds its requests by hand; a key encoded differently would be
another object (or a signature mismatch), so each case is compared with the URL botocore itself
sends for the same bucket and key, caught before it leaves (no server needed), for path-style
(custom endpoints) and virtual-hosted (AWS, the endpoint botocore resolves for the region).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.credentials
import pytest
from botocore.awsrequest import AWSResponse

from storagectl.media import crt_client
from storagectl.media.stores import BucketStore
from storagectl.media.transfer import attach_crt
from storagectl.verify.plan import BucketTarget, Credentials, SiteTarget

KEYS = [
    "uploads/cat.jpg",
    "a b/ü.txt",
    "plus+and%percent/~tilde",
    "thumbs/img 01.128x128.jpg",
    "quotes'\"and(parens)&amp;=eq",
    "dir//double/./dot/../x",
    "日本/写真.png",
]
BUCKET = "acme-live-public"


class _EmptyBody:
    def stream(self, **_: Any) -> Any:
        yield b""


def sent_by_botocore(client: Any, **arguments: Any) -> Any:
    """The request botocore sends for a PutObject, caught before it leaves (answered 200 here)."""
    sent: list[Any] = []

    def catch(request: Any, **_: Any) -> AWSResponse:
        sent.append(request)
        return AWSResponse(request.url, 200, {"ETag": '"0"'}, _EmptyBody())

    client.meta.events.register_first("before-send.s3.PutObject", catch)
    try:
        client.put_object(Body=b"x", **arguments)
    finally:
        client.meta.events.unregister("before-send.s3.PutObject", catch)
    return sent[0]


def botocore_url(client: Any, bucket: str, key: str) -> tuple[str, str]:
    parts = urlsplit(sent_by_botocore(client, Bucket=bucket, Key=key).url)
    return parts.netloc, parts.path


def store_for(endpoint: str, style: str, client: Any) -> BucketStore:
    site = SiteTarget(
        slug="acme-live",
        endpoint_url=endpoint,
        region_name="eu-central-1",
        signature_version="s3v4",
        addressing_style=style,
        credentials=Credentials("AKIDEXAMPLE", "secret"),
        public=BucketTarget(BUCKET, "public-read"),
        private=None,
        media_url="",
        cors=None,
    )
    store = BucketStore(
        "site acme-live",
        client,
        (endpoint, "test"),
        {"public": BUCKET},
        site=site,
        acls={"public": "public-read"},
        credentials=botocore.credentials.Credentials("AKIDEXAMPLE", "secret"),
    )
    attach_crt(store, 2)
    return store


@pytest.mark.parametrize(
    ("endpoint", "style"),
    [("http://127.0.0.1:7480", "path"), ("https://sos-ch-gva-2.exo.io", "path"), ("", "virtual")],
    ids=["local-path", "custom-path", "aws-virtual"],
)
def test_the_crt_sends_each_key_where_botocore_does(endpoint: str, style: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(crt_client.CHOICE_VARIABLE, raising=False)
    client = boto3.client(
        "s3",
        region_name="eu-central-1",
        endpoint_url=endpoint or None,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=botocore.config.Config(s3={"addressing_style": style}),
    )
    store = store_for(endpoint, style, client)
    assert store.crt is not None, store.tally.unavailable
    if not endpoint:
        assert store.crt.signing.endpoint_url == "https://s3.eu-central-1.amazonaws.com"
    for key in KEYS:
        assert store.crt.place(BUCKET, key) == botocore_url(client, BUCKET, key), key


PUT_ARGUMENTS: dict[str, Any] = {
    "ACL": "private",
    "ContentType": "application/pdf",
    "CacheControl": "private, max-age=60",
    "ContentDisposition": "attachment",
    "ContentEncoding": "gzip",
    "ContentLanguage": "de",
    "Metadata": {"owner": "42"},
}
"""Every PutObject argument storagectl sends that becomes a header."""


def test_request_headers_are_botocores_names_for_its_arguments() -> None:
    headers = crt_client.request_headers({"Bucket": BUCKET, "Key": "k", **PUT_ARGUMENTS})
    # What botocore serialises for the same PutObject arguments (its own serializer, no network).
    # when_required: with the default, botocore would add an aws-chunked CRC32 trailer (not a header's name).
    client = boto3.client(
        "s3",
        region_name="eu-central-1",
        aws_access_key_id="a",
        aws_secret_access_key="b",
        config=botocore.config.Config(request_checksum_calculation="when_required"),
    )
    request = sent_by_botocore(client, Bucket=BUCKET, Key="k", **PUT_ARGUMENTS)
    sent = {
        name.lower(): value.decode() if isinstance(value, bytes) else value for name, value in request.headers.items()
    }
    for name, value in headers:
        assert sent[name.lower()] == value, name

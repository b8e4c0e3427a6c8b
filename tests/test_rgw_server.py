"""What a real Ceph RGW 16.2 (pacific) does with the S3 calls this project and its Django sites make.

Each test records one measured behaviour of the server started by ci/ceph_rgw.py (the `rgw` fixture);
docs/testing.md quotes them. Where RGW refuses something, the test
asserts the refusal and its error code, so a newer Ceph that behaves differently fails here first.
Every test works in buckets of its own (tests/support/rgw.py: unique_bucket_name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage

from tests.support.rgw import Rgw, delete_bucket_and_contents, unique_bucket_name

SCHEMES = ["http", "https"]
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
ORIGIN = "https://www.acme.example"
CORS_RULE = {
    "AllowedOrigins": [ORIGIN],
    "AllowedMethods": ["GET", "PUT"],
    "AllowedHeaders": ["*"],
    "ExposeHeaders": ["ETag"],
    "MaxAgeSeconds": 3600,
}
ABORT_RULE = {
    "ID": "abort-incomplete-multipart-uploads",
    "Status": "Enabled",
    "Filter": {"Prefix": ""},
    "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
}
# boto3's default since 1.36, and the setting that sends checksums only where an API demands one.
BOTO3_DEFAULT = {"request_checksum_calculation": "when_supported", "response_checksum_validation": "when_supported"}
WHEN_REQUIRED = {"request_checksum_calculation": "when_required", "response_checksum_validation": "when_required"}
PART = b"p" * (5 * 1024 * 1024)  # S3's smallest part but the last


def sent_headers(request: Any) -> dict[str, str]:
    """A botocore request's headers, lower-case names and text values."""
    return {
        name.lower(): value.decode() if isinstance(value, bytes) else str(value)
        for name, value in request.headers.items()
    }


def error_code(error: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    response: dict[str, Any] = error.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def new_bucket(rgw: Rgw, request: pytest.FixtureRequest) -> Iterator[Callable[[], str]]:
    """Creates buckets named after the test (unique per call) with the admin key; removes them afterwards."""
    s3 = rgw.client()
    made: list[str] = []

    def make() -> str:
        name = unique_bucket_name(request.node.name)
        s3.create_bucket(Bucket=name)
        made.append(name)
        return name

    yield make
    for name in made:
        delete_bucket_and_contents(s3, name)


@pytest.fixture
def bucket(new_bucket: Callable[[], str]) -> str:
    return new_bucket()


def multipart_upload(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    """Two parts through the low-level calls, as s3transfer sends them; returns CompleteMultipartUpload's answer."""
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    parts = []
    for number, body in ((1, PART), (2, b"tail")):
        answer = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body)
        part = {"PartNumber": number, "ETag": answer["ETag"]}
        part.update({name: value for name, value in answer.items() if name.startswith("Checksum")})
        parts.append(part)
    return s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts})


def anonymous_get(rgw: Rgw, scheme: str, bucket: str, key: str) -> requests.Response:
    """A plain GET without credentials, as a browser fetches MEDIA_URL."""
    return requests.get(f"{rgw.endpoint(scheme)}/{bucket}/{key}", verify=rgw.verify(scheme), timeout=30)


def preflight(rgw: Rgw, bucket: str, origin: str, method: str) -> requests.Response:
    headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "content-type",
    }
    return requests.options(f"{rgw.http_endpoint}/{bucket}/media/a.jpg", headers=headers, timeout=30)


def cors_headers(response: requests.Response) -> dict[str, str]:
    return {
        name.lower(): value for name, value in response.headers.items() if name.lower().startswith("access-control-")
    }


# --- buckets and ACLs ------------------------------------------------------------------------------------


def test_http_endpoint_is_on_127_0_0_1_and_answers_anonymous_list_buckets(rgw: Rgw) -> None:
    assert rgw.http_endpoint.startswith("http://127.0.0.1:")
    answer = requests.get(f"{rgw.http_endpoint}/", timeout=30)
    assert answer.status_code == 200
    assert "<ListAllMyBucketsResult" in answer.text  # anonymous ListBuckets: an empty list, not an error


def test_create_bucket_is_listed_and_its_acl_grants_only_the_owner(rgw: Rgw, bucket: str) -> None:
    s3 = rgw.client()
    assert bucket in [entry["Name"] for entry in s3.list_buckets()["Buckets"]]
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert grants == [
        {
            "Grantee": {"Type": "CanonicalUser", "ID": "site-storage-admin", "DisplayName": "site-storage-admin"},
            "Permission": "FULL_CONTROL",
        }
    ]
    assert not [grant for grant in grants if grant["Grantee"].get("URI") == ALL_USERS]


def test_create_bucket_again_by_its_owner_succeeds_and_location_is_the_zonegroup(rgw: Rgw, bucket: str) -> None:
    # AWS outside us-east-1 answers BucketAlreadyOwnedByYou here; RGW 16.2 answers 200, like us-east-1.
    s3 = rgw.client()
    assert s3.create_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == "default"


def test_delete_of_a_non_empty_bucket_is_refused_with_bucket_not_empty_409(rgw: Rgw, bucket: str) -> None:
    s3 = rgw.client()
    s3.put_object(Bucket=bucket, Key="media/keep.txt", Body=b"keep")
    with pytest.raises(ClientError) as refused:
        s3.delete_bucket(Bucket=bucket)
    assert error_code(refused) == ("BucketNotEmpty", 409)
    assert s3.get_object(Bucket=bucket, Key="media/keep.txt")["Body"].read() == b"keep"


# --- public and private objects --------------------------------------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_public_read_object_is_served_anonymously(rgw: Rgw, bucket: str, scheme: str) -> None:
    rgw.client(scheme).put_object(Bucket=bucket, Key="media/a.txt", Body=b"public bytes", ACL="public-read")
    answer = anonymous_get(rgw, scheme, bucket, "media/a.txt")
    assert (answer.status_code, answer.content) == (200, b"public bytes")


def test_virtual_host_style_for_bucket_dot_localhost_is_served(rgw: Rgw, bucket: str) -> None:
    # ceph.conf sets rgw dns name = localhost. The name <bucket>.localhost itself need not resolve
    # (here it does not), so the request goes to 127.0.0.1 with that Host header.
    rgw.client().put_object(Bucket=bucket, Key="media/v.txt", Body=b"virtual host", ACL="public-read")
    answer = requests.get(f"{rgw.http_endpoint}/media/v.txt", headers={"Host": f"{bucket}.localhost"}, timeout=30)
    assert (answer.status_code, answer.content) == (200, b"virtual host")


def test_public_read_object_acl_grants_all_users_read(rgw: Rgw, bucket: str) -> None:
    s3 = rgw.client()
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"x", ACL="public-read")
    grants = s3.get_object_acl(Bucket=bucket, Key="a.txt")["Grants"]
    assert {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"} in grants


def test_https_certificate_is_for_localhost_and_trusted_only_through_the_ca_bundle(rgw: Rgw, bucket: str) -> None:
    endpoint = rgw.endpoint("https")
    assert endpoint == "https://localhost"  # port 443: a DSN can name it
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{endpoint}/", timeout=30)  # the system trust store does not know the throwaway CA
    assert rgw.ca_bundle is not None
    assert requests.get(f"{endpoint}/", verify=rgw.ca_bundle, timeout=30).status_code == 200
    # The certificate names 127.0.0.1 too.
    assert requests.get(f"https://127.0.0.1/{bucket}?acl", verify=rgw.ca_bundle, timeout=30).status_code == 403


@pytest.mark.parametrize("scheme", SCHEMES)
def test_private_object_is_refused_anonymously_403_and_served_by_a_presigned_url(
    rgw: Rgw, bucket: str, scheme: str
) -> None:
    s3 = rgw.client(scheme)
    s3.put_object(Bucket=bucket, Key="private/b.txt", Body=b"private bytes", ACL="private")
    refused = anonymous_get(rgw, scheme, bucket, "private/b.txt")
    assert refused.status_code == 403
    assert "<Code>AccessDenied</Code>" in refused.text
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "private/b.txt"}, ExpiresIn=300)
    served = requests.get(url, verify=rgw.verify(scheme), timeout=30)
    assert (served.status_code, served.content) == (200, b"private bytes")


# --- CORS ------------------------------------------------------------------------------------------------


def test_cors_put_get_delete_round_trip(rgw: Rgw, bucket: str) -> None:
    s3 = rgw.client()
    with pytest.raises(ClientError) as before:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_code(before) == ("NoSuchCORSConfiguration", 404)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE]})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [CORS_RULE]
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as after:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_code(after) == ("NoSuchCORSConfiguration", 404)


def test_cors_preflight_for_an_allowed_origin_and_method_answers_200_with_the_rule(rgw: Rgw, bucket: str) -> None:
    rgw.client().put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE]})
    answer = preflight(rgw, bucket, ORIGIN, "PUT")
    assert answer.status_code == 200
    # Only the requested method is echoed, and the requested headers (AllowedHeaders is "*").
    assert cors_headers(answer) == {
        "access-control-allow-origin": ORIGIN,
        "access-control-allow-methods": "PUT",
        "access-control-allow-headers": "content-type",
        "access-control-expose-headers": "ETag",
        "access-control-max-age": "3600",
    }


@pytest.mark.parametrize(
    ("origin", "method"),
    [("https://evil.example", "GET"), (ORIGIN, "DELETE")],
    ids=["disallowed-origin", "disallowed-method"],
)
def test_cors_preflight_for_a_disallowed_origin_or_method_is_refused_403_without_cors_headers(
    rgw: Rgw, bucket: str, origin: str, method: str
) -> None:
    rgw.client().put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE]})
    answer = preflight(rgw, bucket, origin, method)
    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code>" in answer.text
    assert cors_headers(answer) == {}


def test_cors_preflight_on_a_bucket_without_cors_is_refused_403(rgw: Rgw, bucket: str) -> None:
    answer = preflight(rgw, bucket, ORIGIN, "GET")
    assert answer.status_code == 403
    assert "<Code>AccessDenied</Code>" in answer.text
    assert cors_headers(answer) == {}


def test_cors_headers_on_a_get_only_for_an_allowed_origin(rgw: Rgw, bucket: str) -> None:
    s3 = rgw.client()
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE]})
    s3.put_object(Bucket=bucket, Key="media/a.jpg", Body=b"jpg", ACL="public-read")
    url = f"{rgw.http_endpoint}/{bucket}/media/a.jpg"
    allowed = requests.get(url, headers={"Origin": ORIGIN}, timeout=30)
    assert allowed.status_code == 200
    assert cors_headers(allowed)["access-control-allow-origin"] == ORIGIN
    other = requests.get(url, headers={"Origin": "https://evil.example"}, timeout=30)
    # The object is still served (CORS is the browser's check); just without CORS headers.
    assert (other.status_code, cors_headers(other)) == (200, {})


# --- lifecycle and tags ----------------------------------------------------------------------------------


def test_lifecycle_abort_incomplete_multipart_upload_round_trip_comes_back_with_prefix_not_filter(
    rgw: Rgw, bucket: str
) -> None:
    s3 = rgw.client()
    with pytest.raises(ClientError) as before:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_code(before) == ("NoSuchLifecycleConfiguration", 404)
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [ABORT_RULE]})
    # RGW 16.2 stores Filter {Prefix: ""} as the legacy top-level Prefix and answers with that.
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == [
        {
            "ID": "abort-incomplete-multipart-uploads",
            "Prefix": "",
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]
    s3.delete_bucket_lifecycle(Bucket=bucket)
    with pytest.raises(ClientError) as after:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_code(after) == ("NoSuchLifecycleConfiguration", 404)


def test_bucket_tagging_put_get_round_trip(rgw: Rgw, bucket: str) -> None:
    s3 = rgw.client()
    with pytest.raises(ClientError) as before:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_code(before) == ("NoSuchTagSet", 404)
    tags = [{"Key": "site", "Value": "acme"}, {"Key": "env", "Value": "live"}]
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags})
    assert sorted(s3.get_bucket_tagging(Bucket=bucket)["TagSet"], key=lambda tag: tag["Key"]) == sorted(
        tags, key=lambda tag: tag["Key"]
    )


@pytest.mark.parametrize("scheme", SCHEMES)
def test_s3_control_list_tags_for_resource_is_not_answered_rgw_reads_it_as_bucket_v20180820(
    rgw: Rgw, bucket: str, scheme: str
) -> None:
    """pulumi-aws >= 7.13 reads bucket tags this way; RGW 16.2 has no S3 Control API at all.

    botocore sends S3 Control to <account id>.<endpoint host>, which does not even resolve for
    127.0.0.1 or localhost; sent to the endpoint itself (the hook below), RGW takes the API's path
    /v20180820/tags/<arn> for a GetObject in a bucket named v20180820.
    """
    s3control = rgw.client(scheme, service="s3control")
    urls: list[str] = []

    def to_the_endpoint(request: Any, **_: Any) -> None:
        urls.append(request.url)
        request.url = request.url.replace("//123456789012.", "//", 1)

    s3control.meta.events.register("before-sign.s3-control", to_the_endpoint)
    with pytest.raises(ClientError) as refused:
        s3control.list_tags_for_resource(AccountId="123456789012", ResourceArn=f"arn:aws:s3:::{bucket}")
    assert urls[0].startswith(scheme + "://123456789012.")
    assert error_code(refused) == ("NoSuchBucket", 404)
    assert refused.value.response["Error"]["BucketName"] == "v20180820"


# --- boto3 1.44's checksums ------------------------------------------------------------------------------


def test_default_checksums_put_object_over_https_is_refused_missing_content_length_411(rgw: Rgw, bucket: str) -> None:
    """boto3's default (when_supported) sends uploads over https as aws-chunked with a CRC32 trailer.

    That is Transfer-Encoding: chunked, Content-Encoding: aws-chunked, x-amz-content-sha256:
    STREAMING-UNSIGNED-PAYLOAD-TRAILER and no Content-Length; RGW 16.2 refuses it. So every upload a
    Django site makes over https with default boto3 settings fails: clients need when_required.
    """
    s3 = rgw.client("https", **BOTO3_DEFAULT)
    sent: list[dict[str, str]] = []
    s3.meta.events.register("before-send.s3.PutObject", lambda request, **_: sent.append(sent_headers(request)))
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="media/a.txt", Body=b"hello")
    assert error_code(refused) == ("MissingContentLength", 411)
    assert sent[0]["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    assert sent[0]["x-amz-trailer"] == "x-amz-checksum-crc32"
    assert sent[0]["transfer-encoding"] == "chunked"
    assert "content-length" not in sent[0]
    assert rgw.client("https").list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_default_checksums_multipart_over_https_create_works_upload_part_is_refused_411(rgw: Rgw, bucket: str) -> None:
    s3 = rgw.client("https", **BOTO3_DEFAULT)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="big.bin")["UploadId"]
    with pytest.raises(ClientError) as refused:
        s3.upload_part(Bucket=bucket, Key="big.bin", UploadId=upload_id, PartNumber=1, Body=PART)
    assert error_code(refused) == ("MissingContentLength", 411)
    s3.abort_multipart_upload(Bucket=bucket, Key="big.bin", UploadId=upload_id)


def test_default_checksums_over_http_work_because_the_crc32_goes_in_a_header_which_rgw_ignores(
    rgw: Rgw, bucket: str
) -> None:
    """Over plain http botocore signs the payload and sends x-amz-checksum-crc32 as a header.

    RGW 16.2 accepts that but never checks it: a wrong CRC32 is stored without complaint, and no
    checksum comes back on PutObject, UploadPart or GetObject (ChecksumMode=ENABLED). Content-MD5, by
    contrast, is checked (BadDigest).
    """
    s3 = rgw.client("http", **BOTO3_DEFAULT)
    put = s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello")
    assert not [name for name in put if name.startswith("Checksum")]
    assert multipart_upload(s3, bucket, "big.bin")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ContentLength"] == len(PART) + 4
    s3.put_object(Bucket=bucket, Key="wrong-crc.txt", Body=b"hello", ChecksumCRC32="AAAAAA==")
    got = s3.get_object(Bucket=bucket, Key="wrong-crc.txt", ChecksumMode="ENABLED")
    assert got["Body"].read() == b"hello"
    assert not [name for name in got if name.startswith("Checksum")]
    with pytest.raises(ClientError) as bad_md5:
        s3.put_object(Bucket=bucket, Key="wrong-md5.txt", Body=b"hello", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert error_code(bad_md5) == ("BadDigest", 400)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_default_checksums_put_bucket_cors_and_delete_objects_work(rgw: Rgw, bucket: str, scheme: str) -> None:
    """These bodies are small and never streamed: botocore sends a CRC32 header (no Content-MD5), RGW takes it."""
    s3 = rgw.client(scheme, **BOTO3_DEFAULT)
    sent: list[dict[str, str]] = []
    s3.meta.events.register("before-send.s3.DeleteObjects", lambda request, **_: sent.append(sent_headers(request)))
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE]})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == [CORS_RULE]
    admin = rgw.client()
    for key in ("a.txt", "b.txt"):
        admin.put_object(Bucket=bucket, Key=key, Body=b"x")
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a.txt"}, {"Key": "b.txt"}]})
    assert sorted(item["Key"] for item in deleted["Deleted"]) == ["a.txt", "b.txt"]
    assert "content-md5" not in sent[0]
    assert "x-amz-checksum-crc32" in sent[0]
    assert admin.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


@pytest.mark.parametrize("scheme", SCHEMES)
def test_when_required_checksums_work_for_put_object_multipart_cors_and_delete_objects(
    rgw: Rgw, bucket: str, scheme: str
) -> None:
    s3 = rgw.client(scheme, **WHEN_REQUIRED)
    s3.put_object(Bucket=bucket, Key="a.txt", Body=b"hello", ACL="public-read")
    assert s3.get_object(Bucket=bucket, Key="a.txt")["Body"].read() == b"hello"
    assert multipart_upload(s3, bucket, "big.bin")["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ContentLength"] == len(PART) + 4
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [CORS_RULE]})
    deleted = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "a.txt"}, {"Key": "big.bin"}]})
    assert sorted(item["Key"] for item in deleted["Deleted"]) == ["a.txt", "big.bin"]
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_django_storages_save_over_https_fails_with_boto3_defaults_and_works_with_when_required(
    rgw: Rgw, bucket: str
) -> None:
    """django-storages 1.14.6 builds its client with botocore's defaults unless given client_config."""
    endpoint = rgw.endpoint("https")
    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint,
        "access_key": rgw.access_key,
        "secret_key": rgw.secret_key,
        "region_name": rgw.region,
        "verify": rgw.ca_bundle,
        "default_acl": "public-read",
        "file_overwrite": False,
    }
    with pytest.raises(ClientError) as refused:
        S3Storage(**options, addressing_style="path").save("media/a.txt", ContentFile(b"django"))
    assert error_code(refused) == ("MissingContentLength", 411)
    config = Config(s3={"addressing_style": "path"}, signature_version="s3v4", **WHEN_REQUIRED)
    storage = S3Storage(**options, client_config=config)
    name = storage.save("media/a.txt", ContentFile(b"django"))
    assert anonymous_get(rgw, "https", bucket, name).content == b"django"


def test_buckets_of_different_tests_do_not_collide(rgw: Rgw, new_bucket: Callable[[], str]) -> None:
    first, second = new_bucket(), new_bucket()
    assert first != second
    names = {entry["Name"] for entry in rgw.client().list_buckets()["Buckets"]}
    assert {first, second} <= names


def test_a_second_user_gets_its_own_keys_and_no_access_to_the_admins_bucket(rgw: Rgw, bucket: str) -> None:
    other = rgw.user("site-storage-test-other")
    assert other.access_key != rgw.access_key
    assert rgw.user("site-storage-test-other") == other  # asking again returns the same keys
    s3 = rgw.client(access_key=other.access_key, secret_key=other.secret_key)
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=bucket, Key="intruder.txt", Body=b"x")
    assert error_code(refused) == ("AccessDenied", 403)


def test_list_parts_of_an_aborted_upload_answers_no_such_key_not_no_such_upload(rgw: Rgw, bucket: str) -> None:
    """S3 (and moto) answer NoSuchUpload; verify's multipart check takes both (storagectl/verify/django_calls.py)."""
    s3 = rgw.client()
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="aborted.bin")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted.bin", UploadId=upload_id, PartNumber=1, Body=b"tail")
    s3.abort_multipart_upload(Bucket=bucket, Key="aborted.bin", UploadId=upload_id)
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=bucket, Key="aborted.bin", UploadId=upload_id)
    assert error_code(gone) == ("NoSuchKey", 404)

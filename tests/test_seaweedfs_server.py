"""What SeaweedFS 4.53 (the pinned `weed server`, ci/seaweedfs.py) does, where the project relies on it.

Facts the provider code, `storagectl media` and a Django site need (bucket ACLs, canned object ACLs
served or refused anonymously, CORS with preflights, lifecycle, multipart, checksums), and, where it
answers differently from S3, the documented AWS rule beside what SeaweedFS does, one test each:
- CopyObject keeps a multipart source's ETag; S3 gives the copy the MD5 of its data.
- CreateBucket of a bucket its owner already has: 409 BucketAlreadyOwnedByYou; S3 in us-east-1: 200.
- A key is not bound to the buckets it owns: a key whose actions name no bucket reads every bucket,
  private objects included, whatever their ACLs; S3 refuses a key the ACLs grant nothing.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.rgw import delete_bucket_and_contents, unique_bucket_name
from tests.support.seaweedfs import SeaweedFS

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
PART = 5 * 1024 * 1024
CORS = {
    "CORSRules": [
        {
            "AllowedOrigins": ["https://shop.example"],
            "AllowedMethods": ["GET", "PUT"],
            "AllowedHeaders": ["*"],
            "MaxAgeSeconds": 300,
        }
    ]
}


@pytest.fixture
def s3(seaweedfs: SeaweedFS) -> Any:
    """The plain user `owner`: what a stack's key is on this server."""
    owner = seaweedfs.user("owner")
    return seaweedfs.client(access_key=owner.access_key, secret_key=owner.secret_key)


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    name = unique_bucket_name("seaweedfs-facts")
    s3.create_bucket(Bucket=name)
    yield name
    delete_bucket_and_contents(s3, name)


def anonymous(seaweedfs: SeaweedFS, bucket: str, key: str, method: str = "GET") -> requests.Response:
    return requests.request(method, f"{seaweedfs.http_endpoint}/{bucket}/{key}", timeout=10)


def multipart(s3: Any, bucket: str, key: str, acl: str) -> str:
    """A two-part object (5 MiB + 1 byte) with a canned ACL; returns CompleteMultipartUpload's ETag."""
    upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ACL=acl)["UploadId"]
    parts = []
    for number, body in ((1, b"a" * PART), (2, b"t")):
        etag = s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body)["ETag"]
        parts.append({"PartNumber": number, "ETag": etag})
    answer = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
    return str(answer["ETag"])


def test_the_endpoint_is_on_127_0_0_1_and_refuses_an_anonymous_list_buckets(seaweedfs: SeaweedFS) -> None:
    assert seaweedfs.http_endpoint.startswith("http://127.0.0.1:")
    assert requests.get(f"{seaweedfs.http_endpoint}/", timeout=10).status_code == 403
    assert "4.53" in seaweedfs.version


def test_a_new_buckets_acl_grants_only_its_owner_and_private_is_accepted(s3: Any, bucket: str) -> None:
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert [(g["Grantee"].get("ID"), g["Permission"]) for g in grants] == [("owner", "FULL_CONTROL")]
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    assert not [g for g in s3.get_bucket_acl(Bucket=bucket)["Grants"] if g["Grantee"].get("URI") == ALL_USERS]


def test_public_read_objects_are_served_anonymously_and_private_ones_refused(
    seaweedfs: SeaweedFS, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="p.txt", Body=b"public", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="s.txt", Body=b"secret", ACL="private")
    s3.put_object(Bucket=bucket, Key="n.txt", Body=b"no acl sent")
    assert anonymous(seaweedfs, bucket, "p.txt").content == b"public"
    grants = s3.get_object_acl(Bucket=bucket, Key="p.txt")["Grants"]
    assert [g["Permission"] for g in grants if g["Grantee"].get("URI") == ALL_USERS] == ["READ"]
    for key in ("s.txt", "n.txt"):
        assert anonymous(seaweedfs, bucket, key).status_code == 403, key
        assert anonymous(seaweedfs, bucket, key, "HEAD").status_code == 403, key
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "s.txt"}, ExpiresIn=60)
    assert requests.get(url, timeout=10).content == b"secret"
    assert requests.get(f"{seaweedfs.http_endpoint}/{bucket}?list-type=2", timeout=10).status_code == 403


def test_put_object_acl_publishes_and_unpublishes_an_object(seaweedfs: SeaweedFS, s3: Any, bucket: str) -> None:
    """What storagectl media's privacy repair relies on: a private ACL takes effect at once."""
    s3.put_object(Bucket=bucket, Key="s.txt", Body=b"secret", ACL="private")
    s3.put_object_acl(Bucket=bucket, Key="s.txt", ACL="public-read")
    assert anonymous(seaweedfs, bucket, "s.txt").status_code == 200
    s3.put_object_acl(Bucket=bucket, Key="s.txt", ACL="private")
    assert anonymous(seaweedfs, bucket, "s.txt").status_code == 403


def test_a_bucket_policy_for_anyone_publishes_private_objects_until_it_is_deleted(
    seaweedfs: SeaweedFS, s3: Any, bucket: str
) -> None:
    s3.put_object(Bucket=bucket, Key="s.txt", Body=b"secret", ACL="private")
    statement = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]}))
    assert anonymous(seaweedfs, bucket, "s.txt").status_code == 200
    s3.delete_bucket_policy(Bucket=bucket)
    assert anonymous(seaweedfs, bucket, "s.txt").status_code == 403


def test_multipart_objects_keep_their_canned_acl_and_the_multipart_etag(
    seaweedfs: SeaweedFS, s3: Any, bucket: str
) -> None:
    public_etag = multipart(s3, bucket, "public.bin", "public-read")
    assert public_etag.strip('"').endswith("-2")
    assert s3.head_object(Bucket=bucket, Key="public.bin")["ETag"] == public_etag
    multipart(s3, bucket, "private.bin", "private")
    assert anonymous(seaweedfs, bucket, "public.bin", "HEAD").status_code == 200
    assert anonymous(seaweedfs, bucket, "private.bin", "HEAD").status_code == 403
    assert s3.get_object(Bucket=bucket, Key="private.bin", Range="bytes=0-3")["Body"].read() == b"aaaa"


def test_list_parts_of_an_aborted_upload_answers_no_such_upload_as_s3_does(s3: Any, bucket: str) -> None:
    upload = s3.create_multipart_upload(Bucket=bucket, Key="gone.bin")["UploadId"]
    s3.abort_multipart_upload(Bucket=bucket, Key="gone.bin", UploadId=upload)
    with pytest.raises(ClientError) as gone:
        s3.list_parts(Bucket=bucket, Key="gone.bin", UploadId=upload)
    assert gone.value.response["Error"]["Code"] == "NoSuchUpload"


def test_cors_round_trips_and_preflights_answer_only_the_allowed_origin(
    seaweedfs: SeaweedFS, s3: Any, bucket: str
) -> None:
    with pytest.raises(ClientError) as none:
        s3.get_bucket_cors(Bucket=bucket)
    assert none.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == CORS["CORSRules"]
    s3.put_object(Bucket=bucket, Key="p.txt", Body=b"public", ACL="public-read")
    url = f"{seaweedfs.http_endpoint}/{bucket}/p.txt"
    allowed = requests.options(
        url, headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "PUT"}, timeout=10
    )
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    refused = requests.options(
        url, headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}, timeout=10
    )
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    s3.delete_bucket_cors(Bucket=bucket)
    with pytest.raises(ClientError) as deleted:
        s3.get_bucket_cors(Bucket=bucket)
    assert deleted.value.response["Error"]["Code"] == "NoSuchCORSConfiguration"


def test_lifecycle_abort_incomplete_uploads_round_trips_with_its_filter(s3: Any, bucket: str) -> None:
    """Unlike RGW 16.2, which answers the legacy top-level Prefix instead of the Filter it was sent."""
    rule = {
        "ID": "abort-incomplete-uploads",
        "Status": "Enabled",
        "Filter": {"Prefix": ""},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == [rule]


def test_boto3_default_checksums_are_accepted_stored_and_checked_over_http(seaweedfs: SeaweedFS, bucket: str) -> None:
    """boto3's default (when_supported) CRC32 is kept and answered back, and a wrong one is refused."""
    owner = seaweedfs.user("owner")
    default = seaweedfs.client(
        access_key=owner.access_key,
        secret_key=owner.secret_key,
        request_checksum_calculation="when_supported",
        response_checksum_validation="when_supported",
    )
    crc = base64.b64encode((zlib.crc32(b"hello") & 0xFFFFFFFF).to_bytes(4, "big")).decode()
    assert default.put_object(Bucket=bucket, Key="d.txt", Body=b"hello")["ChecksumCRC32"] == crc
    assert default.head_object(Bucket=bucket, Key="d.txt", ChecksumMode="ENABLED")["ChecksumCRC32"] == crc
    wrong = base64.b64encode((zlib.crc32(b"other") & 0xFFFFFFFF).to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as refused:
        default.put_object(Bucket=bucket, Key="w.txt", Body=b"hello", ChecksumCRC32=wrong)
    assert refused.value.response["Error"]["Code"] == "BadDigest"


def test_a_key_confined_to_other_buckets_is_refused(seaweedfs: SeaweedFS, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="s.txt", Body=b"secret", ACL="private")
    stranger = seaweedfs.user("stranger")
    other = seaweedfs.client(access_key=stranger.access_key, secret_key=stranger.secret_key)
    for call in (
        lambda: other.get_object(Bucket=bucket, Key="s.txt"),
        lambda: other.put_object(Bucket=bucket, Key="x.txt", Body=b"x"),
        lambda: other.list_objects_v2(Bucket=bucket),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"


# --- where SeaweedFS differs from S3: the AWS rule, and what SeaweedFS does ---------------------------------


def test_copy_of_a_multipart_object_keeps_its_multipart_etag_where_s3_gives_the_md5(s3: Any, bucket: str) -> None:
    """AWS: an object created by PUT, POST or Copy (SSE-S3 or plaintext) has an ETag that is the MD5 of
    its data (https://docs.aws.amazon.com/AmazonS3/latest/API/API_Object.html, ETag); a CopyObject of a
    multipart object therefore gets a plain MD5. SeaweedFS copies the source's `-2` ETag, as RGW does:
    storagectl media's re-runs then compare ETags, never assume the copy's ETag is an MD5."""
    source_etag = multipart(s3, bucket, "big.bin", "private")
    copied = s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource={"Bucket": bucket, "Key": "big.bin"})
    assert copied["CopyObjectResult"]["ETag"] == source_etag
    assert source_etag.strip('"').endswith("-2")


def test_creating_a_bucket_its_owner_has_is_409_where_s3_us_east_1_answers_200(s3: Any, bucket: str) -> None:
    """AWS CreateBucket: BucketAlreadyOwnedByYou (409) in every Region except us-east-1, where S3
    answers 200 OK and resets the bucket's ACLs
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html). SeaweedFS signs as
    us-east-1 and answers 409; the provider code takes either as its own bucket."""
    with pytest.raises(ClientError) as again:
        s3.create_bucket(Bucket=bucket)
    assert (again.value.response["Error"]["Code"], again.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "BucketAlreadyOwnedByYou",
        409,
    )
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] is None


def test_a_key_whose_actions_name_no_bucket_reads_private_objects_where_s3_refuses(
    seaweedfs: SeaweedFS, s3: Any, bucket: str
) -> None:
    """AWS: access to an object needs a grant in its ACL or a policy; a private object's ACL grants
    only its owner, so another account's key gets 403 AccessDenied
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html). SeaweedFS authorises
    authenticated keys by their identity's actions alone: `reader` (Read and List, no bucket named)
    reads and lists anyone's bucket. Keys must be confined by naming buckets in their actions, as
    ci/seaweedfs.py does for `owner` and `stranger`."""
    s3.put_object(Bucket=bucket, Key="s.txt", Body=b"secret", ACL="private")
    grants = s3.get_object_acl(Bucket=bucket, Key="s.txt")["Grants"]
    assert [g["Grantee"].get("ID") for g in grants] == ["owner"]
    reader = seaweedfs.user("reader")
    anyone = seaweedfs.client(access_key=reader.access_key, secret_key=reader.secret_key)
    assert anyone.get_object(Bucket=bucket, Key="s.txt")["Body"].read() == b"secret"
    assert [item["Key"] for item in anyone.list_objects_v2(Bucket=bucket)["Contents"]] == ["s.txt"]

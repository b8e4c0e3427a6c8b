"""What an S3 server does of what this project needs: one line per check, as the server answers it.

    python -m benchmarks.s3_features --endpoint URL     # keys: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY

How the candidate servers of issue 19 were compared (docs/testing.md, docs/generic-s3.md): bucket
and object ACLs, anonymous reads of public-read and private objects, PutObjectAcl, presigned URLs,
CORS with preflights, lifecycle, bucket policies, multipart ETags, CopyObject, checksums. It
creates one bucket of its own and deletes it, with its objects, at the end. Not a test: servers
that lack a feature are reported, not failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Callable
from typing import Any

import boto3
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
CORS = {
    "CORSRules": [
        {"AllowedOrigins": ["https://shop.example"], "AllowedMethods": ["GET", "PUT"], "AllowedHeaders": ["*"]}
    ]
}
LIFECYCLE = {
    "Rules": [
        {
            "ID": "abort",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
        }
    ]
}


def client(endpoint: str, **config: Any) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
    )


def check(name: str, call: Callable[[], Any]) -> None:
    try:
        answer = call()
    except ClientError as error:
        code, status = error.response["Error"].get("Code"), error.response["ResponseMetadata"]["HTTPStatusCode"]
        print(f"{name}: {code} ({status})")
        return
    if isinstance(answer, dict):
        answer = {key: value for key, value in answer.items() if key != "ResponseMetadata"} or None
    print(f"{name}: {'ok' if answer is None else answer}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.s3_features", description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    endpoint = parser.parse_args(argv).endpoint
    s3 = client(endpoint, request_checksum_calculation="when_required", response_checksum_validation="when_required")
    bucket = f"t-features-{uuid.uuid4().hex[:8]}"

    def anonymous(key: str, method: str = "GET", **headers: str) -> requests.Response:
        return requests.request(method, f"{endpoint}/{bucket}/{key}", headers=headers, timeout=10)

    def grants(key: str | None = None) -> list[str]:
        answer = s3.get_object_acl(Bucket=bucket, Key=key) if key else s3.get_bucket_acl(Bucket=bucket)
        return [f"{g['Grantee'].get('URI') or g['Grantee'].get('ID')}:{g['Permission']}" for g in answer["Grants"]]

    def multipart(key: str) -> str:
        upload = s3.create_multipart_upload(Bucket=bucket, Key=key, ACL="private")["UploadId"]
        parts = [
            {
                "PartNumber": n,
                "ETag": s3.upload_part(Bucket=bucket, Key=key, UploadId=upload, PartNumber=n, Body=b)["ETag"],
            }
            for n, b in ((1, b"a" * 5 * 1024 * 1024), (2, b"t"))
        ]
        done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts})
        return f"complete {done.get('ETag')!r}, head {s3.head_object(Bucket=bucket, Key=key)['ETag']!r}"

    s3.create_bucket(Bucket=bucket)
    try:
        check("create the same bucket again", lambda: s3.create_bucket(Bucket=bucket) and None)
        check("bucket ACL", grants)
        check("put bucket ACL private", lambda: s3.put_bucket_acl(Bucket=bucket, ACL="private") and None)
        s3.put_object(Bucket=bucket, Key="public.txt", Body=b"public", ACL="public-read")
        s3.put_object(Bucket=bucket, Key="private.txt", Body=b"secret", ACL="private")
        check("public-read object ACL", lambda: grants("public.txt"))
        print(f"anonymous GET public-read: {anonymous('public.txt').status_code}")
        print(f"anonymous GET private: {anonymous('private.txt').status_code}")
        check(
            "PutObjectAcl public-read", lambda: s3.put_object_acl(Bucket=bucket, Key="private.txt", ACL="public-read")
        )
        print(f"anonymous GET after PutObjectAcl public-read: {anonymous('private.txt').status_code}")
        check("PutObjectAcl private", lambda: s3.put_object_acl(Bucket=bucket, Key="private.txt", ACL="private"))
        print(f"anonymous GET after PutObjectAcl private: {anonymous('private.txt').status_code}")
        for version in ("s3", "s3v4"):
            signed = client(endpoint, signature_version=version).generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": "private.txt"}, ExpiresIn=60
            )
            print(f"presigned GET ({version}): {requests.get(signed, timeout=10).status_code}")
        check("put CORS", lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS))
        check("get CORS", lambda: s3.get_bucket_cors(Bucket=bucket)["CORSRules"])
        for origin in ("https://shop.example", "https://other.example"):
            answer = anonymous("public.txt", "OPTIONS", Origin=origin, **{"Access-Control-Request-Method": "GET"})
            print(f"preflight from {origin}: {answer.status_code} {answer.headers.get('Access-Control-Allow-Origin')}")
        check(
            "put lifecycle",
            lambda: s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=LIFECYCLE),
        )
        check("get lifecycle", lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"])
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
            ],
        }
        check("put bucket policy", lambda: s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy)))
        print(f"anonymous GET private under the policy: {anonymous('private.txt').status_code}")
        check("delete bucket policy", lambda: s3.delete_bucket_policy(Bucket=bucket))
        check("multipart ETag", lambda: multipart("big.bin"))
        check(
            "CopyObject of it",
            lambda: s3.copy_object(Bucket=bucket, Key="copy.bin", CopySource=f"{bucket}/big.bin")["CopyObjectResult"][
                "ETag"
            ],
        )
        default = client(endpoint)  # boto3's default checksums (when_supported)
        check(
            "PutObject with boto3's default checksums",
            lambda: default.put_object(Bucket=bucket, Key="d.txt", Body=b"d").get("ChecksumCRC32"),
        )
    finally:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})
        s3.delete_bucket(Bucket=bucket)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

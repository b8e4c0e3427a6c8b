"""The fault proxy (tests/support/fault_proxy.py) does to boto3 what each fault promises, against moto.

The media and verify fault tests rely on these: if a fault stopped reaching the client, they
would pass for the wrong reason.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from tests.support.fault_proxy import Cut, Delay, FaultProxy, Reset, Stall, Status, method, path_contains

BUCKET = "fault-proxy-bucket"


@pytest.fixture
def proxy(fresh_moto_server: str) -> Iterator[FaultProxy]:
    with FaultProxy(fresh_moto_server) as running:
        yield running


def s3(proxy: FaultProxy, *, attempts: int = 1, read_timeout: float = 5) -> Any:
    config = Config(
        retries={"mode": "standard", "total_max_attempts": attempts}, read_timeout=read_timeout, connect_timeout=2
    )
    return boto3.client(
        "s3",
        endpoint_url=proxy.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )


def test_passes_requests_through_unchanged(proxy: FaultProxy) -> None:
    client = s3(proxy)
    client.create_bucket(Bucket=BUCKET)
    body = bytes(range(256)) * 8192  # 2 MiB: boto3 sends Expect: 100-continue
    client.put_object(Bucket=BUCKET, Key="a/b.bin", Body=body)
    assert client.get_object(Bucket=BUCKET, Key="a/b.bin")["Body"].read() == body
    assert [request.method for request in proxy.seen] == ["PUT", "PUT", "GET"]


def test_refuse_makes_connecting_fail_until_accept(proxy: FaultProxy) -> None:
    client = s3(proxy)
    proxy.refuse()
    with pytest.raises(EndpointConnectionError):
        client.list_buckets()
    proxy.accept()
    assert client.list_buckets()["Buckets"] == []


def test_status_answers_without_asking_the_server(proxy: FaultProxy) -> None:
    client = s3(proxy)
    proxy.inject(Status(503), method("PUT"))
    with pytest.raises(ClientError) as error:
        client.create_bucket(Bucket=BUCKET)
    assert error.value.response["Error"]["Code"] == "SlowDown"
    assert client.list_buckets()["Buckets"] == [], "the server never saw the request"


def test_reset_after_the_server_loses_the_answer_of_a_request_that_was_done(proxy: FaultProxy) -> None:
    client = s3(proxy)
    client.create_bucket(Bucket=BUCKET)
    proxy.inject(Reset(after_server=True), path_contains("/lost.txt", methods=("PUT",)))
    with pytest.raises(ConnectionClosedError):
        client.put_object(Bucket=BUCKET, Key="lost.txt", Body=b"stored anyway")
    assert client.get_object(Bucket=BUCKET, Key="lost.txt")["Body"].read() == b"stored anyway"


def test_reset_before_the_server_means_it_never_happened(proxy: FaultProxy) -> None:
    client = s3(proxy)
    client.create_bucket(Bucket=BUCKET)
    proxy.inject(Reset(), path_contains("/never.txt", methods=("PUT",)))
    with pytest.raises(ConnectionClosedError):
        client.put_object(Bucket=BUCKET, Key="never.txt", Body=b"x")
    assert client.list_objects_v2(Bucket=BUCKET).get("KeyCount") == 0


def test_delay_and_stall_end_in_a_read_timeout(proxy: FaultProxy) -> None:
    client = s3(proxy, read_timeout=0.5)
    proxy.inject(Delay(1.5), method("GET"))
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        client.list_buckets()
    proxy.inject(Stall(), method("GET"))
    with pytest.raises(ReadTimeoutError):
        client.list_buckets()
    assert time.monotonic() - started < 10
    assert client.list_buckets()["Buckets"] == []


def test_cut_breaks_a_body_mid_way(proxy: FaultProxy) -> None:
    client = s3(proxy)
    client.create_bucket(Bucket=BUCKET)
    client.put_object(Bucket=BUCKET, Key="big.bin", Body=bytes(100_000))
    proxy.inject(Cut(after_bytes=40_000), path_contains("/big.bin", methods=("GET",)))
    answer = client.get_object(Bucket=BUCKET, Key="big.bin")
    with pytest.raises(ResponseStreamingError):
        answer["Body"].read()

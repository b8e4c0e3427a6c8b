"""One S3 client's CPU per request, in its own interpreter (benchmarks/client_cpu.py runs it).

    python -m benchmarks.client_cpu_child CLIENT ENDPOINT BUCKET COUNT SIZE CONCURRENCY

CLIENT is botocore, s3transfer-crt, awscrt or obstore. Keys: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
It PUTs COUNT objects of SIZE bytes (canned ACL `private` and a Content-Type, as `storagectl media`
sends them on a custom endpoint), GETs them back (checking every body), and, where the client has
a call for it, HEADs them; CONCURRENCY requests in flight. Each phase's CPU is this process's user
+ system time (every thread, native ones included) around that phase alone, so imports and
start-up do not count. Prints one JSON line. Imports only the client under test and the standard
library: it runs in .venv-clients, which holds awscrt and obstore beside the project's boto3 pins.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import resource
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

REGION = "us-east-1"
CONTENT_TYPE = "image/jpeg"


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def phase(name: str, count: int, run: Callable[[], object], results: dict[str, Any]) -> None:
    started, wall = cpu(), time.perf_counter()
    run()
    results[name] = {"requests": count, "cpu": cpu() - started, "seconds": time.perf_counter() - wall}


def keys(count: int) -> list[str]:
    return [f"thumbs/{index % 50:02d}/img-{index:06d}.jpg" for index in range(count)]


def botocore_client(endpoint: str, concurrency: int) -> Any:
    """As storagectl's Clients make them for a custom endpoint (storagectl/verify/clients.py)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=concurrency,
            parameter_validation=False,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def run_botocore(endpoint: str, bucket: str, names: list[str], body: bytes, concurrency: int) -> dict[str, Any]:
    client = botocore_client(endpoint, concurrency)
    results: dict[str, Any] = {}
    with ThreadPoolExecutor(concurrency) as pool:

        def put(key: str) -> None:
            client.put_object(Bucket=bucket, Key=key, Body=body, ACL="private", ContentType=CONTENT_TYPE)

        def get(key: str) -> None:
            assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == body

        def head(key: str) -> None:
            assert client.head_object(Bucket=bucket, Key=key)["ContentLength"] == len(body)

        phase("put", len(names), lambda: list(pool.map(put, names)), results)
        phase("get", len(names), lambda: list(pool.map(get, names)), results)
        phase("head", len(names), lambda: list(pool.map(head, names)), results)
    return results


def crt_credentials() -> Any:
    from awscrt.auth import AwsCredentialsProvider

    return AwsCredentialsProvider.new_static(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])


def run_s3transfer_crt(endpoint: str, bucket: str, names: list[str], body: bytes, concurrency: int) -> dict[str, Any]:
    """boto3[crt]: s3transfer's CRT transfer manager (botocore serialises each request, the CRT signs and sends)."""
    import botocore.session
    from botocore.config import Config
    from s3transfer.crt import BotocoreCRTRequestSerializer, CRTTransferManager, create_s3_crt_client

    session = botocore.session.get_session()
    crt_client = create_s3_crt_client(REGION, crt_credentials(), use_ssl=endpoint.startswith("https:"))
    serializer = BotocoreCRTRequestSerializer(
        session,
        {
            "endpoint_url": endpoint,
            "region_name": REGION,
            "config": Config(s3={"addressing_style": "path"}, request_checksum_calculation="when_required"),
        },
    )
    results: dict[str, Any] = {}
    extra = {"ACL": "private", "ContentType": CONTENT_TYPE}  # copied per call: upload adds to it
    with CRTTransferManager(crt_client, serializer) as manager:

        def in_batches(submit: Callable[[str], Any]) -> None:
            for start in range(0, len(names), concurrency * 4):
                futures = [submit(key) for key in names[start : start + concurrency * 4]]
                for future in futures:
                    future.result()

        phase(
            "put",
            len(names),
            lambda: in_batches(lambda k: manager.upload(io.BytesIO(body), bucket, k, dict(extra))),
            results,
        )
        sinks: dict[str, io.BytesIO] = {}

        def download(key: str) -> Any:
            sinks[key] = io.BytesIO()
            return manager.download(bucket, key, sinks[key])

        phase("get", len(names), lambda: in_batches(download), results)
        assert all(sink.getvalue() == body for sink in sinks.values())
    return results


def run_awscrt(endpoint: str, bucket: str, names: list[str], body: bytes, concurrency: int) -> dict[str, Any]:
    """The CRT's S3 client driven directly: each request built by hand, signed and sent by the CRT."""
    from awscrt.http import HttpHeaders, HttpRequest
    from awscrt.io import ClientBootstrap, DefaultHostResolver, EventLoopGroup
    from awscrt.s3 import S3Client, S3RequestTlsMode, S3RequestType

    parts = urlsplit(endpoint)
    host = parts.netloc
    loops = EventLoopGroup()
    client = S3Client(
        bootstrap=ClientBootstrap(loops, DefaultHostResolver(loops)),
        region=REGION,
        credential_provider=crt_credentials(),
        tls_mode=S3RequestTlsMode.ENABLED if parts.scheme == "https" else S3RequestTlsMode.DISABLED,
        part_size=8 * 1024 * 1024,
    )
    results: dict[str, Any] = {}
    received: dict[str, bytearray] = {}

    def put(key: str) -> Any:
        headers = HttpHeaders(
            [
                ("Host", host),
                ("Content-Length", str(len(body))),
                ("Content-Type", CONTENT_TYPE),
                ("x-amz-acl", "private"),
            ]
        )
        request = HttpRequest("PUT", f"/{bucket}/{key}", headers, io.BytesIO(body))
        return client.make_request(request=request, type=S3RequestType.PUT_OBJECT).finished_future

    def get(key: str) -> Any:
        sink = received.setdefault(key, bytearray())
        request = HttpRequest("GET", f"/{bucket}/{key}", HttpHeaders([("Host", host)]))
        return client.make_request(
            request=request, type=S3RequestType.GET_OBJECT, on_body=lambda chunk, **_: sink.extend(chunk)
        ).finished_future

    def in_batches(submit: Callable[[str], Any]) -> None:
        for start in range(0, len(names), concurrency):
            futures = [submit(key) for key in names[start : start + concurrency]]
            for future in futures:
                future.result()

    phase("put", len(names), lambda: in_batches(put), results)
    phase("get", len(names), lambda: in_batches(get), results)
    assert all(bytes(value) == body for value in received.values())
    return results


def run_obstore(endpoint: str, bucket: str, names: list[str], body: bytes, concurrency: int) -> dict[str, Any]:
    """obstore (Rust's object_store): async, its own HTTP client and signer; no canned-ACL option."""
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        bucket,
        endpoint=endpoint,
        region=REGION,
        access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    results: dict[str, Any] = {}

    async def bounded(job: Callable[[str], Any]) -> None:
        gate = asyncio.Semaphore(concurrency)

        async def one(key: str) -> None:
            async with gate:
                await job(key)

        await asyncio.gather(*(one(key) for key in names))

    async def put(key: str) -> None:
        await obstore.put_async(store, key, body, attributes={"Content-Type": CONTENT_TYPE})

    async def get(key: str) -> None:
        answer = await obstore.get_async(store, key)
        assert bytes(await answer.bytes_async()) == body

    async def head(key: str) -> None:
        assert (await obstore.head_async(store, key))["size"] == len(body)

    phase("put", len(names), lambda: asyncio.run(bounded(put)), results)
    phase("get", len(names), lambda: asyncio.run(bounded(get)), results)
    phase("head", len(names), lambda: asyncio.run(bounded(head)), results)
    return results


CLIENTS = {
    "botocore": run_botocore,
    "s3transfer-crt": run_s3transfer_crt,
    "awscrt": run_awscrt,
    "obstore": run_obstore,
}


def main(argv: list[str]) -> int:
    client, endpoint, bucket, count, size, concurrency = argv
    body = os.urandom(int(size))
    results = CLIENTS[client](endpoint, bucket, keys(int(count)), body, int(concurrency))
    print(json.dumps({"client": client, "phases": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

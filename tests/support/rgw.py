"""The real Ceph RGW for tests: the `rgw` session fixture's value and its life cycle (ci/ceph_rgw.py).

The fixture reuses a running server (`make rgw`, or .ci/run's), starts one otherwise and then stops it
at the end of the session, unless another pytest session (another worktree on this machine) still
uses it: then the last session to end stops it. It skips, printing why, when no server can be started (no Ceph packages,
not allowed to run them); with SITE_STORAGE_REQUIRE_RGW=1 (CI) it fails instead.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from botocore.config import Config

from ci import ceph_rgw
from tests.support.requirement import Requirement

REQUIREMENT = Requirement("SITE_STORAGE_REQUIRE_RGW")
required = REQUIREMENT.required
unavailable = REQUIREMENT.unavailable


@dataclass(frozen=True)
class Rgw:
    """A running Ceph RGW and its admin S3 user."""

    http_endpoint: str
    https_endpoint: str | None
    https_unavailable_reason: str | None
    ca_bundle: str | None
    access_key: str
    # Kept out of repr: test reports print dataclasses they compare.
    secret_key: str = field(repr=False)
    region: str = "us-east-1"

    @classmethod
    def from_state(cls, state: ceph_rgw.RgwState) -> Rgw:
        return cls(
            http_endpoint=state.http_endpoint,
            https_endpoint=state.https_endpoint,
            https_unavailable_reason=state.https_unavailable_reason,
            ca_bundle=state.ca_bundle,
            access_key=state.access_key,
            secret_key=state.secret_key,
            region=state.region,
        )

    def endpoint(self, scheme: str) -> str:
        """The http or https endpoint; skips (fails when required) if the server has no https."""
        if scheme == "http":
            return self.http_endpoint
        if self.https_endpoint is None:
            unavailable(f"Ceph RGW has no https endpoint: {self.https_unavailable_reason}")
        assert self.https_endpoint is not None
        return self.https_endpoint

    def verify(self, scheme: str) -> str | bool:
        """What requests and boto3 take as `verify=` for the scheme: the throwaway CA for https."""
        return (self.ca_bundle or True) if scheme == "https" else True

    def client(
        self,
        scheme: str = "http",
        *,
        request_checksum_calculation: str = "when_required",
        response_checksum_validation: str = "when_required",
        access_key: str | None = None,
        secret_key: str | None = None,
        service: str = "s3",
    ) -> Any:
        """A boto3 client (admin keys unless given), path style, no retries.

        Checksums default to when_required, which RGW 16.2 accepts everywhere; boto3's own default,
        when_supported, breaks uploads over https (see tests/test_rgw_server.py).
        """
        return boto3.client(
            service,
            endpoint_url=self.endpoint(scheme),
            region_name=self.region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            verify=self.verify(scheme),
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                request_checksum_calculation=request_checksum_calculation,
                response_checksum_validation=response_checksum_validation,
            ),
        )

    def user(self, name: str) -> ceph_rgw.RgwUser:
        """Another S3 user on this server (created once; later calls return the same keys)."""
        return ceph_rgw.create_user(name)


def unique_bucket_name(hint: str) -> str:
    """A bucket name of its own per call: tests share one server and may run in any order."""
    slug = re.sub(r"[^a-z0-9-]+", "-", hint.lower()).strip("-")[:40].strip("-") or "bucket"
    return f"t-{slug}-{uuid.uuid4().hex[:10]}"


def delete_bucket_and_contents(s3: Any, bucket: str) -> None:
    """Remove every object, pending multipart upload and the bucket itself; a missing bucket is fine."""
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                s3.delete_object(Bucket=bucket, Key=item["Key"])
        for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
        s3.delete_bucket(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        pass


def terminal_printer(config: pytest.Config) -> Callable[[str], None]:
    """Prints a line on pytest's terminal past output capturing (a skip's reason shows without -rs)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None or capture is None:
        return print

    def write(line: str) -> None:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)

    return write


def rgw_session(report: Callable[[str], None]) -> Iterator[Rgw]:
    """The session's Rgw: reused or started (stopped by the last session out); `report` prints a skip's reason."""
    state: ceph_rgw.RgwState | None = None
    reason = ""
    try:
        state, _ = ceph_rgw.start(session=os.getpid())
    except (ceph_rgw.RgwError, OSError) as error:
        reason = f"Ceph RGW cannot be started: {error}"
    if state is None:
        # Outside the except block: the skip or failure then carries no chained traceback.
        if not required():
            report(f"skipping the Ceph RGW tests: {reason}")
        unavailable(reason)
        return
    try:
        yield Rgw.from_state(state)
    finally:
        # Stops the server only if a session started it and no other session still uses it.
        ceph_rgw.release(os.getpid())

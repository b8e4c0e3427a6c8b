"""The real SeaweedFS S3 server for tests: the `seaweedfs` session fixture's value and its life cycle.

The fixture reuses a running server (`make seaweedfs-start`, or .ci/run's), starts one otherwise and
then stops it at the end of the session, unless another pytest session (another worktree on this
machine) still uses it: then the last session to end stops it. It skips, printing why once, when no
server can be started (SeaweedFS not built: `make seaweedfs`); with SITE_STORAGE_REQUIRE_SEAWEEDFS=1
(CI) it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.config import Config

from ci import seaweedfs
from tests.support.requirement import Requirement

REQUIREMENT = Requirement("SITE_STORAGE_REQUIRE_SEAWEEDFS")
required = REQUIREMENT.required
unavailable = REQUIREMENT.unavailable


@dataclass(frozen=True)
class SeaweedFS:
    """A running SeaweedFS S3 gateway, its admin key and its plain users."""

    http_endpoint: str
    access_key: str
    # Kept out of repr: test reports print dataclasses they compare.
    secret_key: str = field(repr=False)
    users: dict[str, seaweedfs.User] = field(repr=False, default_factory=dict)
    region: str = "us-east-1"
    version: str = ""

    @classmethod
    def from_state(cls, state: seaweedfs.SeaweedState) -> SeaweedFS:
        return cls(
            http_endpoint=state.http_endpoint,
            access_key=state.access_key,
            secret_key=state.secret_key,
            users={name: state.user(name) for name in state.users},
            region=state.region,
            version=state.version,
        )

    def user(self, name: str) -> seaweedfs.User:
        """A plain identity made at start (`owner`, `stranger`): no admin rights."""
        return self.users[name]

    def client(
        self,
        *,
        access_key: str | None = None,
        secret_key: str | None = None,
        request_checksum_calculation: str = "when_required",
        response_checksum_validation: str = "when_required",
    ) -> Any:
        """A boto3 client (admin keys unless given), path style, no retries."""
        return boto3.client(
            "s3",
            endpoint_url=self.http_endpoint,
            region_name=self.region,
            aws_access_key_id=access_key or self.access_key,
            aws_secret_access_key=secret_key or self.secret_key,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                request_checksum_calculation=request_checksum_calculation,
                response_checksum_validation=response_checksum_validation,
            ),
        )


def seaweedfs_session(report: Callable[[str], None]) -> Iterator[SeaweedFS]:
    """The session's server: reused or started (stopped by the last session out); `report` prints a skip's reason."""
    state: seaweedfs.SeaweedState | None = None
    reason = ""
    try:
        state, _ = seaweedfs.start(session=os.getpid())
    except (seaweedfs.SeaweedError, OSError) as error:
        reason = f"SeaweedFS cannot be started: {error}"
    if state is None:
        # Outside the except block: the skip or failure then carries no chained traceback.
        if not required():
            report(f"skipping the SeaweedFS tests: {reason}")
        unavailable(reason)
        return
    try:
        yield SeaweedFS.from_state(state)
    finally:
        # Stops the server only if a session started it and no other session still uses it.
        seaweedfs.release(os.getpid())

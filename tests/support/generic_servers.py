"""Real S3 servers for the generic-S3 provider tests: a moto server, and Ceph RGW where it runs.

A test gets a `GenericSite` world: a stack file of region custom pointed at the server, its
offline evaluation, and the provider's clients with the server's key and a call recorder.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from components.generic_s3.connection import Clients, Credentials
from storagectl.offline import Evaluation, evaluate
from storagectl.stack_files import read_stack_file
from tests.support.stacks import write_stack


@dataclass(frozen=True)
class S3Server:
    name: str
    endpoint: str
    key_id: str
    secret: str = field(repr=False)

    def client(self) -> Any:
        """An admin client for checking what the provider did (path style, checksums when required)."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            config=Config(
                s3={"addressing_style": "path"},
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )


@dataclass
class CallLog:
    """Every S3 call the provider makes: (operation, bucket)."""

    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def __call__(self, operation: str, bucket: str | None) -> None:
        self.calls.append((operation, bucket))

    def writes(self) -> list[tuple[str, str | None]]:
        return [call for call in self.calls if not call[0].startswith(("Get", "Head", "List"))]

    def clear(self) -> None:
        self.calls.clear()


@dataclass
class GenericStack:
    """A custom-endpoint stack on `server`, written to `directory`, evaluated offline."""

    server: S3Server
    directory: Path
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:10]}")
    log: CallLog = field(default_factory=CallLog)

    def values(self, sites: dict[str, Any], **extra: Any) -> dict[str, Any]:
        return {
            "region": "custom",
            "endpoint": self.server.endpoint,
            "path_style": True,
            "bucket_prefix": self.prefix,
            "access_key_id": self.server.key_id,
            "secret_access_key": "placeholder",
            "sites": sites,
            **extra,
        }

    def evaluate(self, sites: dict[str, Any], **extra: Any) -> Evaluation:
        return evaluate(read_stack_file(write_stack(self.directory, self.values(sites, **extra), name="generic")))

    def clients(self) -> Clients:
        return Clients(Credentials(self.server.key_id, self.server.secret), observe=self.log)

    def bucket(self, site: str, role: str) -> str:
        return f"{self.prefix}-{site}-{role}"

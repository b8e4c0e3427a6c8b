"""Where the provider code talks to, and with which key: region props, credentials, boto3 clients.

A resource carries its region as plain props (`region_props`); the provider resolves them
through the region catalog again, so the catalog, not the resource, decides what may be
called and how (addressing, signature, checksums). The key comes from the stack config the
engine hands the provider (`configure`), never from resource inputs, so no state holds it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config

from components.config import NAMESPACE
from components.regions import Region, UnknownRegion, resolve_region

ACCESS_KEY_CONFIG = f"{NAMESPACE}:access_key_id"
SECRET_KEY_CONFIG = f"{NAMESPACE}:secret_access_key"
CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 60
CallObserver = Callable[[str, str | None], None]
"""Told (operation name, bucket) before every S3 call: how tests see exactly what was called."""


class ProviderError(Exception):
    """A refusal or failure of the provider code; its message is the one line the operator sees."""


@dataclass(frozen=True)
class Credentials:
    key_id: str
    secret: str = field(repr=False)

    @classmethod
    def from_config(cls, get: Callable[[str], Any]) -> Credentials | None:
        """The stack's S3 key from config values (`get(full key)`), or None when it is not there."""
        key_id, secret = get(ACCESS_KEY_CONFIG), get(SECRET_KEY_CONFIG)
        if isinstance(key_id, str) and key_id and isinstance(secret, str) and secret:
            return cls(key_id, secret)
        return None


def region_props(region: Region) -> dict[str, Any]:
    """What a resource records about its region: enough to resolve it in the catalog again."""
    return {
        "id": region.id,
        "endpoint": region.endpoint_url,
        "signingRegion": region.signing_region,
        "pathStyle": region.path_style,
        "signature": region.signature,
    }


def region_of(props: Mapping[str, Any]) -> Region:
    """The catalog's entry for a resource's `region` props."""
    raw = props.get("region")
    if not isinstance(raw, Mapping) or not isinstance(raw.get("id"), str):
        raise ProviderError(f"region: {raw!r} is not a region record; expected keys id, endpoint, ...")
    try:
        return resolve_region(
            raw["id"],
            endpoint=raw.get("endpoint"),
            signing_region=raw.get("signingRegion"),
            path_style=bool(raw.get("pathStyle")),
            signature=raw.get("signature"),
        )
    except UnknownRegion:
        raise ProviderError(f"region: {raw['id']!r} is not in the region catalog (components/regions.py)") from None


def client_config(region: Region) -> Config:
    # boto3 and botocore load only where a client is built (the provider host, storagectl): the
    # program itself never calls S3, and importing them cost every preview and update half a second.
    from botocore.config import Config

    checksums = region.capabilities.checksums
    return Config(
        signature_version=region.signature,
        s3={"addressing_style": "path" if region.path_style else "virtual"},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": 5},
        # Servers that refuse boto3's default CRC trailers get checksums only where S3 demands them.
        request_checksum_calculation=checksums,
        response_checksum_validation=checksums,
        user_agent_extra="site-storage-provider",
    )


class Clients:
    """One boto3 S3 client per (endpoint, key), shared by the provider's threads (clients are thread-safe)."""

    def __init__(self, credentials: Credentials, observe: CallObserver | None = None) -> None:
        self.credentials = credentials
        self._observe = observe
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, str, bool, str], Any] = {}

    def s3(self, region: Region) -> Any:
        key = (region.endpoint_url, region.signing_region, region.path_style, region.signature)
        with self._lock:  # building clients touches the shared botocore session: one at a time
            client = self._clients.get(key)
            if client is None:
                import boto3

                client = self._clients[key] = boto3.session.Session().client(
                    "s3",
                    endpoint_url=region.endpoint_url,
                    region_name=region.signing_region,
                    aws_access_key_id=self.credentials.key_id,
                    aws_secret_access_key=self.credentials.secret,
                    config=client_config(region),
                )
                if self._observe is not None:
                    client.meta.events.register("provide-client-params.s3.*", self._observed)
        return client

    def _observed(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        assert self._observe is not None
        self._observe(model.name, params.get("Bucket"))

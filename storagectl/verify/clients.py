"""boto3 clients for verify: built per worker thread, never shared across threads.

CPU, not the network, is what limits a concurrent run on a small machine, and boto3 spends
most of it building clients: a new session parses the S3 service model (~0.1 s), a new client
~10 ms, and each client's first call of an operation more. So:
- one botocore data loader (it only reads and caches JSON files) serves every session;
- each thread keeps one client per role and endpoint and switches the key that client signs
  with before handing it out. That is safe because a site's checks run start to end in one
  thread, and a handle is used only until the next `for_key` call with the same role.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

from storagectl.verify.plan import Credentials, SiteTarget

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 30
_loader_lock = threading.Lock()
_shared_loader: botocore.loaders.Loader | None = None


def _loader() -> botocore.loaders.Loader:
    global _shared_loader
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = botocore.loaders.create_loader()
        return _shared_loader


def _core_session(credentials: Credentials | None) -> botocore.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _loader())
    if credentials is not None:
        core.set_credentials(credentials.key_id, credentials.secret)
    return core


def new_session(credentials: Credentials | None = None) -> boto3.session.Session:
    """A boto3 session on the shared loader; without credentials, the default credential chain."""
    return boto3.session.Session(botocore_session=_core_session(credentials))


class _Slot:
    """One thread's client for one role and endpoint, with the credentials object it signs with."""

    def __init__(self, site: SiteTarget, credentials: Credentials) -> None:
        core = _core_session(credentials)
        self.signing = core.get_credentials()
        self.client = boto3.session.Session(botocore_session=core).client(
            "s3", endpoint_url=site.endpoint_url, region_name=site.region_name, config=_config(site)
        )

    def use(self, credentials: Credentials) -> Any:
        self.signing.access_key = credentials.key_id
        self.signing.secret_key = credentials.secret
        return self.client


class Clients:
    """Hands each thread S3 clients for a site's key or for the operator's credentials."""

    def __init__(self, operator: Credentials | None = None) -> None:
        self._operator = operator
        """None: the default AWS credential chain (environment, AWS_PROFILE, ...), as `pulumi up` uses."""
        self._local = threading.local()

    def for_key(self, site: SiteTarget, credentials: Credentials, role: str = "site") -> Any:
        """A client signing with `credentials` on the site's endpoint, valid until the next call for `role`."""
        slots: dict[tuple[str, ...], _Slot] = self._local.__dict__.setdefault("slots", {})
        key = (role, *_endpoint_key(site))
        slot = slots.get(key)
        if slot is None:
            slot = slots[key] = _Slot(site, credentials)
        return slot.use(credentials)

    def operator(self, site: SiteTarget) -> Any:
        """A client with the operator's credentials, cached per thread and endpoint."""
        cache: dict[tuple[str, ...], Any] = self._local.__dict__.setdefault("operators", {})
        key = _endpoint_key(site)
        client = cache.get(key)
        if client is None:
            session = new_session(self._operator)
            client = cache[key] = session.client(
                "s3", endpoint_url=site.endpoint_url, region_name=site.region_name, config=_config(site)
            )
        return client


def _endpoint_key(site: SiteTarget) -> tuple[str, str, str, str]:
    return (site.endpoint_url, site.region_name, site.addressing_style, site.signature_version)


def _config(site: SiteTarget) -> Config:
    return Config(
        signature_version=site.signature_version,
        s3={"addressing_style": site.addressing_style},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": 3},
        user_agent_extra="storagectl-verify",
        # The request shapes are fixed and known good; validating them costs CPU on every call.
        parameter_validation=False,
        # The probe round trip compares the bytes itself; checksums would only add CPU per request.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )

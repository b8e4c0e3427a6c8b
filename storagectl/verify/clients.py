"""boto3 clients for verify: one per endpoint and role, shared by every worker thread.

CPU, not the network, is what limits a concurrent run on a small machine, and building boto3
clients is expensive: a session registers some hundred event handlers and parses the model
JSON, a client builds its service model and class (~10 ms each, three times that while other
threads compete for the GIL). A client per thread and key spent a third of a 16-thread run's
CPU on that. So:
- one botocore data loader (it only reads and caches JSON files) serves every session;
- botocore clients are thread-safe, and one client serves every thread;
- the site keys' client signs each request with the key its calling thread chose last
  (`ThreadKey`, kept thread-local), so one client signs for every site. A handle from
  `for_key` chooses its key before each call, so handles for different keys may be used
  interleaved in one thread and at once in many.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import boto3
import botocore.credentials
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
    SSLError,
)

from storagectl.verify.plan import Credentials, SiteTarget

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 30
TOTAL_ATTEMPTS = 4
"""Per call: the first try and three retries of what botocore's standard mode retries (5xx, 429, resets)."""
DEFAULT_POOL_CONNECTIONS = 16
SITE_KEYS_METHOD = "storagectl-site-keys"
"""How botocore names where the site keys' credentials come from."""
_loader_lock = threading.Lock()
_shared_loader: botocore.loaders.Loader | None = None


def _loader() -> botocore.loaders.Loader:
    """One botocore data loader per process: it parses the S3 model and endpoint JSON once (~0.1 s)."""
    global _shared_loader
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = botocore.loaders.create_loader()
        return _shared_loader


def _session() -> botocore.session.Session:
    core = botocore.session.get_session()
    core.register_component("data_loader", _loader())
    return core


class NoKeyChosen(RuntimeError):
    """A request was signed on a thread that had not chosen a key: a bug in verify, never a site's fault."""


class ThreadKey(botocore.credentials.Credentials):
    """Credentials that are, on each thread, the key that thread chose last with `choose`.

    botocore signs every request with `get_frozen_credentials()` of the client's credentials,
    in the thread that makes the request, so the signature carries the calling thread's key.
    """

    def __init__(self) -> None:
        super().__init__("", "", method=SITE_KEYS_METHOD)
        self._chosen = threading.local()

    def choose(self, credentials: Credentials) -> None:
        self._chosen.key = botocore.credentials.ReadOnlyCredentials(credentials.key_id, credentials.secret, None)

    def get_frozen_credentials(self) -> botocore.credentials.ReadOnlyCredentials:
        key: botocore.credentials.ReadOnlyCredentials | None = getattr(self._chosen, "key", None)
        if key is None:
            raise NoKeyChosen("a site-key request was signed before its thread chose a key")
        return key


class _ThreadKeyProvider(botocore.credentials.CredentialProvider):
    METHOD = SITE_KEYS_METHOD

    def __init__(self, credentials: ThreadKey) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> ThreadKey:
        return self._credentials


WRITES = frozenset({"put_object", "copy_object", "complete_multipart_upload"})
UPLOAD_CALLS = frozenset({"create_multipart_upload", "complete_multipart_upload", "abort_multipart_upload"})


class ProbeLedger:
    """What verify may have left on the server, written down as it happens, so the run can remove it at the end.

    Every write of a key under `prefix` is noted before it is sent and crossed out when a
    DeleteObject of it succeeds, or when the write was refused outright (a 4xx answer: nothing
    was written). A write whose answer was lost (reset, timeout, a 5xx after retries) stays
    noted: the server may have done it. A multipart upload is noted with its id and crossed out
    when completed or aborted; one whose CreateMultipartUpload was retried or failed is noted as
    uncertain: an earlier attempt may have started an upload whose id never arrived. Thread-safe.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._lock = threading.Lock()
        self._objects: set[tuple[str, str]] = set()
        self._uploads: dict[tuple[str, str], set[str]] = {}
        self._uncertain: set[tuple[str, str]] = set()

    def noted(self, operation: str, arguments: dict[str, Any]) -> tuple[str, str] | None:
        key = arguments.get("Key")
        if not isinstance(key, str) or not key.startswith(self.prefix):
            return None
        place = (str(arguments.get("Bucket")), key)
        if operation in WRITES:
            with self._lock:
                self._objects.add(place)
        return place

    def answered(
        self, operation: str, place: tuple[str, str], arguments: dict[str, Any], answer: Any, error: Exception | None
    ) -> None:
        with self._lock:
            removed = operation == "delete_object" and error is None
            # A retried CompleteMultipartUpload answers NoSuchUpload when its first try completed it.
            if removed or (operation in WRITES and _refused_outright(error) and not _no_such_upload(error)):
                self._objects.discard(place)
            if operation == "create_multipart_upload":
                if error is None:
                    self._uploads.setdefault(place, set()).add(str(answer["UploadId"]))
                if error is not None or _retried(answer):
                    self._uncertain.add(place)
            elif operation in UPLOAD_CALLS and (error is None or _no_such_upload(error)):
                self._uploads.get(place, set()).discard(str(arguments.get("UploadId")))

    def left(self) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """(objects that may exist, keys with multipart uploads that may be open): what to remove at the end."""
        with self._lock:
            uploads = {place for place, ids in self._uploads.items() if ids} | self._uncertain
            return sorted(self._objects), sorted(uploads)


def _retried(answer: Any) -> bool:
    return bool(isinstance(answer, dict) and answer.get("ResponseMetadata", {}).get("RetryAttempts"))


def _refused_outright(error: Exception | None) -> bool:
    if not isinstance(error, ClientError):
        return False
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status is not None and 400 <= int(status) < 500


def _no_such_upload(error: Exception | None) -> bool:
    return isinstance(error, ClientError) and error.response.get("Error", {}).get("Code") == "NoSuchUpload"


class KeyedClient:
    """The shared site-keys client, signing every call made through this handle with one key.

    Only calls made through the handle choose its key; a paginator or waiter taken from it
    would sign with whatever its thread chose last, so verify makes direct calls and pages
    through `pages`. With a `ProbeLedger`, every write under its prefix is written down.
    """

    def __init__(
        self, client: Any, signing: ThreadKey, credentials: Credentials, ledger: ProbeLedger | None = None
    ) -> None:
        self._client = client
        self._signing = signing
        self._credentials = credentials
        self._ledger = ledger

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute
        ledger = self._ledger

        def signed_with_this_key(*args: Any, **kwargs: Any) -> Any:
            self._signing.choose(self._credentials)
            place = ledger.noted(name, kwargs) if ledger is not None else None
            if place is None:
                return attribute(*args, **kwargs)
            assert ledger is not None
            try:
                answer = attribute(*args, **kwargs)
            except Exception as error:
                ledger.answered(name, place, kwargs, None, error)
                raise
            ledger.answered(name, place, kwargs, answer, None)
            return answer

        return signed_with_this_key

    def pages(self, operation: str, **kwargs: Any) -> list[dict[str, Any]]:
        """Every page of a botocore paginator (as django-storages' listdir uses), signed with this key.

        The paginator calls the shared client itself, in this thread, with nothing chosen in between.
        """
        self._signing.choose(self._credentials)
        return list(self._client.get_paginator(operation).paginate(**kwargs))

    def __repr__(self) -> str:  # never the key: handles end up in tracebacks
        return f"KeyedClient({self._client.meta.endpoint_url})"


EndpointKey = tuple[str, str, str, str, str, str]
OPERATOR_CHECKSUMS = "when_required"
"""The operator's client only reads bucket configuration: checksums would only add CPU per request."""


class Clients:
    """Hands out S3 clients for a site's key or for the operator's credentials, safe to share across threads."""

    def __init__(
        self,
        operator: Credentials | None = None,
        pool_connections: int = DEFAULT_POOL_CONNECTIONS,
        ledger: ProbeLedger | None = None,
    ) -> None:
        self._operator = operator
        self.ledger = ledger
        """Where site-key writes of probe objects are written down (verify); None: nowhere (media)."""
        """None: the default AWS credential chain (environment, AWS_PROFILE, ...), as `pulumi up` uses."""
        self._pool_connections = max(1, pool_connections)
        """Connections kept open per client: one per worker thread, or threads would wait for a connection."""
        self._lock = threading.Lock()
        self._signing = ThreadKey()
        self._site_keys: dict[EndpointKey, Any] = {}
        self._operators: dict[EndpointKey, Any] = {}

    def for_key(self, site: SiteTarget, credentials: Credentials) -> KeyedClient:
        """A client on the site's endpoint, with the site's checksum settings, signing every call with `credentials`."""
        checksums = (site.request_checksums, site.response_checksums)
        client = self._shared(self._site_keys, site, self._site_keys_session, checksums)
        return KeyedClient(client, self._signing, credentials, self.ledger)

    def operator(self, site: SiteTarget) -> Any:
        """A client with the operator's credentials on the site's endpoint."""
        return self._shared(self._operators, site, self._operator_session, (OPERATOR_CHECKSUMS, OPERATOR_CHECKSUMS))

    def operator_credentials(self) -> botocore.credentials.Credentials | None:
        """What `operator` clients sign with (the default chain when none were given); None: none found."""
        return self._operator_session().get_credentials()

    def _shared(
        self,
        cache: dict[EndpointKey, Any],
        site: SiteTarget,
        session: Callable[[], botocore.session.Session],
        checksums: tuple[str, str],
    ) -> Any:
        key = (*_endpoint_key(site), *checksums)
        client = cache.get(key)
        if client is not None:
            return client
        # botocore sessions are not thread-safe: clients are built one at a time.
        with self._lock:
            client = cache.get(key)
            if client is None:
                client = cache[key] = boto3.session.Session(botocore_session=session()).client(
                    "s3",
                    endpoint_url=site.endpoint_url,
                    region_name=site.region_name,
                    config=_config(site, self._pool_connections, checksums),
                )
        return client

    def _site_keys_session(self) -> botocore.session.Session:
        core = _session()
        core.register_component(
            "credential_provider", botocore.credentials.CredentialResolver([_ThreadKeyProvider(self._signing)])
        )
        return core

    def _operator_session(self) -> botocore.session.Session:
        core = _session()
        if self._operator is not None:
            core.set_credentials(self._operator.key_id, self._operator.secret)
        return core


def _endpoint_key(site: SiteTarget) -> tuple[str, str, str, str]:
    return (site.endpoint_url, site.region_name, site.addressing_style, site.signature_version)


def _config(site: SiteTarget, pool_connections: int, checksums: tuple[str, str]) -> Config:
    return Config(
        signature_version=site.signature_version,
        s3={"addressing_style": site.addressing_style},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "total_max_attempts": TOTAL_ATTEMPTS},
        max_pool_connections=pool_connections,
        user_agent_extra="storagectl-verify",
        # The request shapes are fixed and known good; validating them costs CPU on every call.
        parameter_validation=False,
        # As the site's own clients do: a server that refuses boto3's default checksums must show up here.
        request_checksum_calculation=checksums[0],
        response_checksum_validation=checksums[1],
    )


def transport_reason(error: BotoCoreError) -> str | None:
    """One line for a call that got no usable answer (refused, timed out, reset, cut), or None.

    botocore's own messages quote the full request URL, and for a body that stops arriving
    they say `Read timeout on endpoint URL: "None"`; this names the server and what happened.
    """
    where = _origin(error.kwargs.get("endpoint_url"))
    cause = str(error.kwargs.get("error") or "")
    if isinstance(error, ConnectTimeoutError):
        return f"connecting to {where} timed out after {CONNECT_TIMEOUT_SECONDS} s"
    if isinstance(error, SSLError):
        return f"TLS with {where} failed: {_last_clause(cause)}"
    if isinstance(error, EndpointConnectionError):
        if "refused" in cause.lower():
            return f"cannot connect to {where}: connection refused (is the server running, is the endpoint right?)"
        if "name or service not known" in cause.lower() or "nodename nor servname" in cause.lower():
            return f"cannot connect to {where}: its host name does not resolve"
        return f"cannot connect to {where}: {_last_clause(cause) or 'no connection'}"
    if isinstance(error, ReadTimeoutError):
        if where == "the endpoint":  # raised while a body was read: botocore has no URL there
            return f"the answer's body stopped arriving for {READ_TIMEOUT_SECONDS} s (read timeout)"
        return f"{where} did not answer within {READ_TIMEOUT_SECONDS} s (read timeout)"
    if isinstance(error, ConnectionClosedError):
        return f"{where} closed the connection before answering (reset)"
    if isinstance(error, ResponseStreamingError | IncompleteReadError):
        return "the connection broke while the answer's body was read (reset or cut short)"
    return None


def _origin(url: object) -> str:
    """scheme://host[:port] of a request URL: the path and query (a presigned signature) stay out of messages."""
    if not isinstance(url, str) or not url or url == "None":
        return "the endpoint"
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else "the endpoint"


def _last_clause(text: str) -> str:
    """`<urllib3...object at 0x..>: Failed to establish a new connection: [Errno 113] No route to host` -> the end."""
    return text.rsplit(": ", 1)[-1].strip().rstrip(")").strip() if text else ""

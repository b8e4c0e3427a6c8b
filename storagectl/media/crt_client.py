"""Small objects' PUT and GET through the AWS CRT's S3 client (awscrt), at a fifth of botocore's CPU.

Why: with the GIL, the client's CPU per request caps how many requests a second one process
makes. Measured (`python -m benchmarks.client_cpu`, 2,000 x 4 KiB on SeaweedFS): botocore 1.3 ms
per request, s3transfer's CRT manager 0.83 ms, awscrt driven directly 0.15-0.3 ms. A site's
media is mostly thumbnails, so its push and pull are mostly such requests.

What it serves: one request per object of at most LARGEST bytes, the body whole in memory (as
the engine already holds small objects), signed with SigV4 by the CRT with the same key,
endpoint, region and addressing as the botocore client, every header the botocore path sends
(canned ACL, metadata, content headers) and a Content-MD5 the server checks. TLS trusts what
botocore would trust (AWS_CA_BUNDLE, the config file's ca_bundle, else botocore's own bundle);
proxies come from HTTPS_PROXY/HTTP_PROXY/NO_PROXY, which the CRT reads as botocore does.

What it leaves to botocore (`unavailable` names why, and the run's output says so): signature
version 2, a proxy reached over https or with credentials (not tried with the CRT), and
STORAGECTL_TRANSFER_CLIENT=botocore. Larger objects always go through botocore (multipart, the
upload journal, ranged resumes); a request the CRT could not complete is done again by botocore.
"""

from __future__ import annotations

import base64
import io
import os
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from storagectl.botocore_network import ca_bundle, proxy_for
from storagectl.media.manifest import Meta

LARGEST = 1024 * 1024
"""Objects up to this size go through the CRT: above it, bandwidth, not per-request CPU, decides."""
ANSWERED_ERRORS = {
    "AWS_ERROR_S3_SLOW_DOWN": (503, "SlowDown"),
    "AWS_ERROR_S3_INTERNAL_ERROR": (500, "InternalError"),
}
"""The CRT's errors that stand for an HTTP answer (awscrt 0.38.0): a server that answers is not unreachable."""
CHOICE_VARIABLE = "STORAGECTL_TRANSFER_CLIENT"
CHOICES = ("auto", "botocore")
RETRIES = 1
"""The CRT retries a failed request once; then botocore does it again with its own retries and messages."""


class CrtFailed(Exception):
    """The CRT got no usable answer; the caller does the request again through botocore."""


class Refused(Exception):
    """The server answered with an HTTP error status (botocore's error code where the body names one)."""

    def __init__(self, status: int, code: str) -> None:
        super().__init__(f"{status} {code}")
        self.status = status
        self.code = code


@dataclass(frozen=True)
class Signing:
    """Where requests go and who signs them: what the botocore client uses, in the CRT's terms."""

    endpoint_url: str
    region: str
    addressing_style: str
    signature_version: str
    credentials: Any
    """A botocore Credentials object (refreshable ones are read again for each request)."""


@dataclass
class Tally:
    """How many objects each client moved in a run, and why botocore took over where it did."""

    crt: int = 0
    botocore: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    unavailable: str | None = None
    """Why no CRT client serves this store at all (None: one does, or none was tried)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def moved_by_crt(self) -> None:
        with self._lock:
            self.crt += 1

    def moved_by_botocore(self, reason: str) -> None:
        with self._lock:
            self.botocore += 1
            self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def document(self) -> dict[str, Any]:
        return {"awscrt": self.crt, "botocore": self.botocore, "botocore_because": dict(self.reasons)}

    def line(self) -> str:
        """For the run's output: which client moved how many objects, and why botocore did where it did."""
        from storagectl.wording import counted

        parts = [f"awscrt {counted(self.crt, 'object')}"] if self.crt or not self.botocore else []
        parts += [f"botocore {counted(count, 'object')} ({why})" for why, count in sorted(self.reasons.items())]
        return "client: " + "; ".join(parts)


def choice_problem() -> str | None:
    """One line when STORAGECTL_TRANSFER_CLIENT holds something else than auto or botocore."""
    choice = os.environ.get(CHOICE_VARIABLE, "")
    if choice in ("", *CHOICES):
        return None
    return f"environment variable {CHOICE_VARIABLE}: {choice!r} is not a client; allowed: {', '.join(CHOICES)}"


def unavailable(signing: Signing) -> str | None:
    """Why the CRT cannot serve this endpoint exactly as botocore would, or None."""
    if os.environ.get(CHOICE_VARIABLE) == "botocore":
        return f"{CHOICE_VARIABLE}=botocore"
    if signature_version_of(signing) != "s3v4":
        return f"signature version {signing.signature_version} (the CRT signs SigV4 only)"
    try:
        import awscrt.s3  # noqa: F401
    except ImportError:
        return "awscrt is not installed"
    scheme = urlsplit(signing.endpoint_url).scheme
    proxy = proxy_for(signing.endpoint_url)
    if proxy is not None:
        parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        if parts.scheme != "http":
            return f"the {scheme} proxy is reached over {parts.scheme} (not tried with the CRT)"
        if parts.username or parts.password:
            return "the proxy takes credentials (not handed to the CRT)"
    return None


def signature_version_of(signing: Signing) -> str:
    return "s3v4" if signing.signature_version in ("s3v4", "v4", "") else signing.signature_version


class CrtClient:
    """One CRT S3 client for one endpoint and key; thread-safe (each call waits on its own request)."""

    def __init__(
        self, signing: Signing, connections: int, timeout_seconds: float, connect_timeout_seconds: int
    ) -> None:
        from awscrt.auth import AwsCredentials, AwsCredentialsProvider
        from awscrt.io import ClientBootstrap, ClientTlsContext, DefaultHostResolver, EventLoopGroup, TlsContextOptions
        from awscrt.s3 import S3Client, S3RequestTlsMode, S3RetryConfig

        self.signing = signing
        self.timeout_seconds = timeout_seconds
        parts = urlsplit(signing.endpoint_url)
        self._https = parts.scheme == "https"
        self._netloc = parts.netloc
        self._base_path = parts.path.rstrip("/")
        credentials = signing.credentials

        def current() -> Any:
            frozen = credentials.get_frozen_credentials()
            return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)

        tls = None
        if self._https:
            options = TlsContextOptions()
            options.override_default_trust_store_from_path(ca_filepath=ca_bundle())
            tls = ClientTlsContext(options).new_connection_options()
        loops = EventLoopGroup(2)
        self._client = S3Client(
            bootstrap=ClientBootstrap(loops, DefaultHostResolver(loops)),
            region=signing.region,
            credential_provider=AwsCredentialsProvider.new_delegate(current),
            tls_mode=S3RequestTlsMode.ENABLED if self._https else S3RequestTlsMode.DISABLED,
            tls_connection_options=tls,
            max_active_connections_override=max(1, connections),
            retry_config=S3RetryConfig(max_retries=RETRIES),
            connect_timeout_ms=connect_timeout_seconds * 1000,
        )

    def place(self, bucket: str, key: str) -> tuple[str, str]:
        path = quote(key, safe="/~")
        if self.signing.addressing_style == "virtual":
            return f"{bucket}.{self._netloc}", f"{self._base_path}/{path}"
        return self._netloc, f"{self._base_path}/{bucket}/{path}"

    def put(self, bucket: str, key: str, body: bytes, headers: list[tuple[str, str]], md5: str) -> str:
        """PutObject with `request_headers`' headers and the body's MD5 (hex, as the caller hashed it) sent
        as Content-MD5, which the server checks; the ETag answered, without quotes."""
        from awscrt.http import HttpHeaders, HttpRequest

        host, path = self.place(bucket, key)
        sent = [
            ("Host", host),
            ("Content-Length", str(len(body))),
            ("Content-MD5", base64.b64encode(bytes.fromhex(md5)).decode()),
            *headers,
        ]
        answer = self._send(HttpRequest("PUT", path, HttpHeaders(sent), io.BytesIO(body)), "PutObject", None)
        return answer.header("etag").strip('"')

    def get(self, bucket: str, key: str, if_match: str | None) -> Fetched:
        """GetObject of the whole object, naming the planned ETag."""
        from awscrt.http import HttpHeaders, HttpRequest

        host, path = self.place(bucket, key)
        headers = [("Host", host)]
        if if_match:
            headers.append(("If-Match", f'"{if_match}"'))
        body = bytearray()
        answer = self._send(HttpRequest("GET", path, HttpHeaders(headers)), "GetObject", body)
        return Fetched(answer.header("etag").strip('"'), answer.meta(), bytes(body))

    def _send(self, request: Any, operation: str, body: bytearray | None) -> Answer:
        from awscrt.exceptions import AwsCrtError
        from awscrt.s3 import S3RequestType, S3ResponseError

        answer = Answer()

        def on_headers(status_code: int, headers: list[tuple[str, str]], **_: Any) -> None:
            answer.status, answer.headers = status_code, headers

        def on_body(chunk: bytes, **_: Any) -> None:
            if body is not None:
                body.extend(chunk)

        sent = self._client.make_request(
            type=S3RequestType.DEFAULT,
            operation_name=operation,
            request=request,
            on_headers=on_headers,
            on_body=on_body,
        )
        try:
            sent.finished_future.result(self.timeout_seconds)
        except S3ResponseError as error:
            raise Refused(error.status_code, error_code_of(error.body)) from None
        except AwsCrtError as error:
            # The CRT reports some answers as errors of its own (a 503 SlowDown: AWS_ERROR_S3_SLOW_DOWN).
            if error.name in ANSWERED_ERRORS:
                raise Refused(*ANSWERED_ERRORS[error.name]) from None
            raise CrtFailed(error.name) from None
        except TimeoutError:
            sent.cancel()
            raise CrtFailed(f"no answer within {self.timeout_seconds:g} s") from None
        return answer


@dataclass(frozen=True)
class Fetched:
    """A whole object as one GET answered it."""

    etag: str
    meta: Meta
    body: bytes


@dataclass
class Answer:
    status: int = 0
    headers: list[tuple[str, str]] = field(default_factory=list)

    def header(self, name: str) -> str:
        return next((value for key, value in self.headers if key.lower() == name), "")

    def meta(self) -> Meta:
        """As botocore's GetObject answer gives them (user metadata names in lower case)."""
        values = {key.lower(): value for key, value in self.headers}
        answer: dict[str, Any] = {
            name: values[header.lower()] for name, header in _HEADERS.items() if header.lower() in values
        }
        answer["Metadata"] = {
            key[len(META_PREFIX) :]: value for key, value in values.items() if key.startswith(META_PREFIX)
        }
        return Meta.from_response(answer)


META_PREFIX = "x-amz-meta-"
_HEADERS = {
    "ACL": "x-amz-acl",
    "ContentType": "Content-Type",
    "CacheControl": "Cache-Control",
    "ContentDisposition": "Content-Disposition",
    "ContentEncoding": "Content-Encoding",
    "ContentLanguage": "Content-Language",
}


def request_headers(arguments: dict[str, Any]) -> list[tuple[str, str]]:
    """botocore's PutObject arguments as the headers botocore sends for them."""
    headers = [(_HEADERS[name], str(value)) for name, value in arguments.items() if name in _HEADERS]
    headers += [(f"{META_PREFIX}{name}", value) for name, value in arguments.get("Metadata", {}).items()]
    return headers


def sendable(headers: list[tuple[str, str]]) -> bool:
    """Whether every header is ASCII: botocore encodes other text its own way, so those objects stay with it."""
    return all(value.isascii() and name.isascii() for name, value in headers)


def error_code_of(body: bytes | None) -> str:
    """The <Code> of an S3 error body, or an empty string."""
    text = (body or b"")[:4096].decode("utf-8", "replace")
    start = text.find("<Code>")
    end = text.find("</Code>", start)
    return text[start + 6 : end] if start >= 0 and end > start else ""

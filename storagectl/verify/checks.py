"""Data-path checks: what a site's key, an anonymous visitor and a signed URL can do.

Every check that needs an object works on a probe object written for the run and removed
afterwards, also when a check fails (see `bucket_round_trip`).
"""

from __future__ import annotations

import functools
import socket
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from storagectl.botocore_network import ca_bundle, proxy_for
from storagectl.verify.plan import BucketTarget, SiteTarget
from storagectl.verify.results import (
    ANONYMOUS_LIST_CHECKS,
    FAIL,
    ISOLATION,
    KEY_REJECTED_CODES,
    PASS,
    PRIVATE_ANONYMOUS_REFUSED,
    PRIVATE_READ_WRITE,
    PRIVATE_SIGNED_URL,
    PUBLIC_ANONYMOUS_READ,
    PUBLIC_READ_WRITE,
    SKIP,
    CheckResult,
    describe,
    error_code,
    http_status,
    is_refusal,
)

PROBE_PREFIX = "storagectl-verify/"
HTTP_TIMEOUT_SECONDS = 30
HTTP_CONNECTIONS_PER_HOST = 64
"""Kept-alive connections per host for anonymous GETs: enough for verify's largest --concurrency."""
SIGNED_URL_EXPIRY_SECONDS = 300
_MAX_BODY = 1 << 20


@dataclass
class Probe:
    bucket: str
    key: str
    body: bytes
    written: bool = False

    @classmethod
    def new(cls, bucket: str) -> Probe:
        token = uuid.uuid4().hex
        return cls(bucket, f"{PROBE_PREFIX}{token}.txt", f"storagectl verify probe {token}\n".encode())


@dataclass(frozen=True)
class HttpAnswer:
    status: int | None
    body: bytes = b""
    error: str | None = None


# Shared by every worker thread (urllib3 pools are thread-safe) and kept alive between
# requests: a new connection per GET costs both ends CPU that a concurrent run is short of.
# They trust the CA and take the proxy botocore does, so a custom endpoint behind a private CA
# or a company proxy answers these GETs as it answers the signed ones.
@functools.cache
def _anonymous(ca_bundle: str, proxy: str | None) -> urllib3.PoolManager:
    settings: dict[str, Any] = {
        "maxsize": HTTP_CONNECTIONS_PER_HOST,
        "headers": {"User-Agent": "storagectl-verify"},
        "timeout": urllib3.Timeout(connect=HTTP_TIMEOUT_SECONDS, read=HTTP_TIMEOUT_SECONDS),
        "retries": urllib3.Retry(total=2, redirect=5, raise_on_redirect=False),
        "ca_certs": ca_bundle,
    }
    return urllib3.ProxyManager(proxy, **settings) if proxy else urllib3.PoolManager(**settings)


def http_get(url: str) -> HttpAnswer:
    """A plain GET, as a browser or CDN would send it: no credentials, no signing, redirects followed."""
    try:
        answer = _anonymous(ca_bundle(), proxy_for(url)).request("GET", url, preload_content=False)
        complete = False
        try:
            body = answer.read(_MAX_BODY)
            complete = not answer.read(1)
        finally:
            if complete:
                answer.release_conn()
            else:  # a body larger than a probe could ever be is not worth reading to reuse the connection
                answer.close()
    except urllib3.exceptions.HTTPError as error:
        reason = error.reason if isinstance(error, urllib3.exceptions.MaxRetryError) else error
        text = str(reason).splitlines()[0] if str(reason) else type(reason).__name__
        return HttpAnswer(None, error=text)
    return HttpAnswer(answer.status, body if answer.status == 200 else b"")


def resolves(host: str) -> bool:
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return False
    return True


def bucket_url(site: SiteTarget, bucket: str, key: str) -> str:
    parts = urlsplit(site.endpoint_url)
    if site.addressing_style == "path":
        return f"{parts.scheme}://{parts.netloc}/{bucket}/{key}"
    return f"{parts.scheme}://{bucket}.{parts.netloc}/{key}"


def public_url(site: SiteTarget, key: str, resolve: Callable[[str], bool] = resolves) -> tuple[str, str]:
    """The URL Django builds for `key` (MEDIA_URL + key), or the bucket URL with the reason why."""
    media = site.media_url
    if site.endpoint_overridden:
        note = f" (--endpoint-url given: used the bucket URL, not MEDIA_URL {media})"
        return bucket_url(site, site.public.name, key), note
    host = urlsplit(media).hostname
    if not host:
        return bucket_url(site, site.public.name, key), " (no MEDIA_URL in the outputs: used the bucket URL)"
    if not resolve(host):
        note = f" (MEDIA_URL host {host} does not resolve: used the bucket URL)"
        return bucket_url(site, site.public.name, key), note
    return media.rstrip("/") + "/" + key, ""


PresentCheck = tuple[str, str, Callable[[Probe], CheckResult]]
"""(site, check, run): a check that needs the probe object to exist."""


def guarded(site: str, check: str, run: Callable[..., CheckResult], *args: Any) -> CheckResult:
    """Any error inside a check becomes that check's failure; one broken site never stops the run."""
    try:
        return run(*args)
    except NoCredentialsError as error:
        return CheckResult(site, check, SKIP, f"not checked: {describe(error)}")
    except Exception as error:
        return CheckResult(site, check, FAIL, f"could not run: {describe(error)}")


def bucket_round_trip(
    site: str, role: str, client: Any, bucket: BucketTarget, present: Sequence[PresentCheck] = ()
) -> tuple[CheckResult, dict[tuple[str, str], CheckResult]]:
    """Put, get and list a probe with the site's key, run `present` while it exists, delete it.

    Returns the read-write result and the results of `present` (missing when the probe could
    not be written). The probe is removed in `finally` whatever happened.
    """
    check = PUBLIC_READ_WRITE if role == "public" else PRIVATE_READ_WRITE
    probe = Probe.new(bucket.name)
    done: dict[tuple[str, str], CheckResult] = {}
    failures: list[str] = []

    def step(name: str, run: Callable[[], str | None]) -> None:
        try:
            problem = run()
        except (ClientError, BotoCoreError) as error:
            problem = f"{name} of the probe object failed: {describe(error)}"
        if problem:
            failures.append(problem)

    def put() -> None:
        client.put_object(Bucket=bucket.name, Key=probe.key, Body=probe.body, ACL=bucket.acl, ContentType="text/plain")
        probe.written = True

    def get() -> str | None:
        body = client.get_object(Bucket=bucket.name, Key=probe.key)["Body"].read()
        return None if body == probe.body else "get returned other bytes than were put"

    def listed() -> str | None:
        items = client.list_objects_v2(Bucket=bucket.name, Prefix=probe.key).get("Contents", [])
        return None if probe.key in {item["Key"] for item in items} else "list did not show the probe object"

    def delete() -> None:
        client.delete_object(Bucket=bucket.name, Key=probe.key)
        probe.written = False

    try:
        step("put", put)
        if probe.written:
            # A failed get or list does not stop the others: each check says what it saw.
            step("get", get)
            step("list", listed)
            for owner, name, run in present:
                done[(owner, name)] = guarded(owner, name, run, probe)
            step("delete", delete)
    finally:
        leftover = _remove(client, probe) if probe.written else None
    if leftover:
        failures.append(leftover)
    failure = "; ".join(failures) or None
    if failure:
        return CheckResult(site, check, FAIL, f"{bucket.name}: {failure}"), done
    reason = f"{bucket.name}: put (acl {bucket.acl}), get, list and delete of a probe object succeeded"
    return CheckResult(site, check, PASS, reason), done


def _remove(client: Any, probe: Probe) -> str | None:
    try:
        client.delete_object(Bucket=probe.bucket, Key=probe.key)
    except (ClientError, BotoCoreError) as error:
        return f"probe object s3://{probe.bucket}/{probe.key} could not be removed: {describe(error)}"
    probe.written = False
    return None


def anonymous_read(site: SiteTarget, probe: Probe, get: Callable[[str], HttpAnswer] = http_get) -> CheckResult:
    url, note = public_url(site, probe.key)
    answer = get(url)
    check = PUBLIC_ANONYMOUS_READ
    if answer.error is not None:
        return CheckResult(site.slug, check, FAIL, f"anonymous GET {url} failed: {answer.error}{note}")
    if answer.status == 200 and answer.body == probe.body:
        return CheckResult(site.slug, check, PASS, f"anonymous GET {url} returned the probe{note}")
    if answer.status == 200:
        return CheckResult(site.slug, check, FAIL, f"anonymous GET {url} returned other content than the probe{note}")
    reason = f"anonymous GET {url} answered HTTP {answer.status}: public media would not load{note}"
    return CheckResult(site.slug, check, FAIL, reason)


def anonymous_refused(site: SiteTarget, probe: Probe, get: Callable[[str], HttpAnswer] = http_get) -> CheckResult:
    url = bucket_url(site, probe.bucket, probe.key)
    answer = get(url)
    check = PRIVATE_ANONYMOUS_REFUSED
    if answer.error is not None:
        return CheckResult(site.slug, check, SKIP, f"anonymous GET {url} did not get an answer: {answer.error}")
    if answer.status in (401, 403):
        return CheckResult(site.slug, check, PASS, f"anonymous GET {url} was refused (HTTP {answer.status})")
    if answer.status == 200:
        reason = f"anonymous GET {url} returned the private probe (HTTP 200): the private bucket is readable by anyone"
        return CheckResult(site.slug, check, FAIL, reason)
    return CheckResult(site.slug, check, FAIL, f"anonymous GET {url} answered HTTP {answer.status}, expected 403")


def anonymous_list(
    site: SiteTarget,
    role: str,
    bucket: BucketTarget,
    acl_note: Callable[[], str] = lambda: "",
    get: Callable[[str], HttpAnswer] = http_get,
) -> CheckResult:
    """A plain GET of the bucket URL, as anyone could send it: S3 answers it with a listing unless it refuses.

    A public bucket serves objects, not an index of them; a private one neither. `acl_note` says,
    for a listing that succeeded, what the bucket's ACL grants (read only then: it costs a request).
    """
    check = ANONYMOUS_LIST_CHECKS[role]
    url = bucket_url(site, bucket.name, "")
    answer = get(url)
    if answer.error is not None:
        return CheckResult(site.slug, check, SKIP, f"anonymous listing GET {url} did not get an answer: {answer.error}")
    if answer.status in (401, 403):
        return CheckResult(site.slug, check, PASS, f"anonymous listing GET {url} was refused (HTTP {answer.status})")
    if answer.status == 200:
        listed = answer.body.count(b"<Key>")
        names = f"{listed} object name{'' if listed == 1 else 's'}"
        reason = f"anonymous GET {url} listed the bucket (HTTP 200, {names} on the first page): anyone can list it"
        return CheckResult(site.slug, check, FAIL, reason + acl_note())
    reason = f"anonymous listing GET {url} answered HTTP {answer.status}, expected 403"
    return CheckResult(site.slug, check, FAIL, reason)


PUBLIC_GRANTEES = frozenset(
    {"http://acs.amazonaws.com/groups/global/AllUsers", "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}
)


def bucket_acl_note(client: Any, bucket: str) -> str:
    """What the bucket ACL grants anyone, for a listing that succeeded; empty when it cannot be read."""
    try:
        grants = client.get_bucket_acl(Bucket=bucket).get("Grants", [])
    except (ClientError, BotoCoreError):
        return ""
    public = sorted(
        {
            grant.get("Permission", "")
            for grant in grants
            if grant.get("Grantee", {}).get("URI") in PUBLIC_GRANTEES
            and grant.get("Permission") in ("READ", "FULL_CONTROL")
        }
    )
    if public:
        return f"; its bucket ACL grants everyone {', '.join(public)}: set it to private"
    return (
        "; its bucket ACL grants anonymous users nothing, so this server ignores bucket ACLs on listings "
        "(moto 5.2.5 does without IAM enforcement; Ceph RGW and S3 refuse)"
    )


def signed_url(site: SiteTarget, client: Any, probe: Probe, get: Callable[[str], HttpAnswer] = http_get) -> CheckResult:
    # The signed URL carries the key id: it never goes into a reason.
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": probe.bucket, "Key": probe.key}, ExpiresIn=SIGNED_URL_EXPIRY_SECONDS
    )
    answer = get(url)
    check = PRIVATE_SIGNED_URL
    if answer.status == 200 and answer.body == probe.body:
        return CheckResult(site.slug, check, PASS, "a presigned GET URL (as Django's private storage builds) worked")
    what = answer.error or f"HTTP {answer.status}" + (" with other content" if answer.status == 200 else "")
    return CheckResult(site.slug, check, FAIL, f"a presigned GET URL for the probe failed ({what})")


def isolation(
    attacker: SiteTarget, client: Any, target: SiteTarget, probe: Probe | None, cleanup: Any | None = None
) -> CheckResult:
    """`attacker`'s key must be refused on `target`'s private bucket: list, put, and get of its probe.

    Recorded under the attacker: a widened policy on its key is what this catches.
    """
    assert target.private is not None
    bucket = target.private.name
    check = ISOLATION
    refused: list[str] = []
    allowed: list[str] = []
    unexpected: list[str] = []
    stray = f"{PROBE_PREFIX}isolation-{uuid.uuid4().hex}.txt"
    operations: list[tuple[str, Callable[[], Any]]] = [
        ("list", lambda: client.list_objects_v2(Bucket=bucket, MaxKeys=1)),
        ("put", lambda: client.put_object(Bucket=bucket, Key=stray, Body=b"isolation probe")),
    ]
    if probe is not None:
        operations.append(("get", lambda: client.get_object(Bucket=bucket, Key=probe.key)["Body"].read()))
    for name, operation in operations:
        try:
            operation()
        except ClientError as error:
            if error_code(error) in KEY_REJECTED_CODES:
                reason = f"{attacker.slug}'s key was rejected ({error_code(error)}): isolation cannot be shown"
                return CheckResult(attacker.slug, check, SKIP, reason, target.slug)
            if is_refusal(error):
                refused.append(name)
            else:
                unexpected.append(f"{name}: {error_code(error)} (HTTP {http_status(error)})")
            continue
        allowed.append(name)
        if name == "put":
            _remove_stray(bucket, stray, client, cleanup)
    where = f"{target.slug}'s private bucket {bucket}"
    if allowed:
        reason = f"this site's key may {', '.join(allowed)} in {where}: its policy reaches beyond its own buckets"
        return CheckResult(attacker.slug, check, FAIL, reason, target.slug)
    if unexpected:
        reason = f"{where} answered {'; '.join(unexpected)} instead of AccessDenied: refusal not shown"
        return CheckResult(attacker.slug, check, SKIP, reason, target.slug)
    if probe is None:
        reason = f"{where} refused list and put; get not checked ({target.slug} could not write its probe)"
        return CheckResult(attacker.slug, check, SKIP, reason, target.slug)
    reason = f"{where} refused this site's key ({', '.join(refused)})"
    return CheckResult(attacker.slug, check, PASS, reason, target.slug)


def _remove_stray(bucket: str, key: str, *clients: Any) -> None:
    for client in clients:
        if client is None:
            continue
        try:
            client.delete_object(Bucket=bucket, Key=key)
            return
        except (ClientError, BotoCoreError):
            continue

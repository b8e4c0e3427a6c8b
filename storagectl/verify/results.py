"""Check results, the check ids in report order, and one-line descriptions of S3 errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from storagectl.verify.check_ids import (  # noqa: F401 (re-exported: the checks import them from here)
    ANONYMOUS_LIST_CHECKS,
    CHECK_ORDER,
    CORS,
    DEPLOYED,
    DJANGO_CALL_CHECKS,
    FAIL,
    ISOLATION,
    NOT_APPLICABLE,
    PASS,
    PRIVATE_ACCESS_BLOCK,
    PRIVATE_ANONYMOUS_LIST,
    PRIVATE_ANONYMOUS_REFUSED,
    PRIVATE_EXISTS,
    PRIVATE_LISTDIR,
    PRIVATE_MULTIPART,
    PRIVATE_OWNERSHIP,
    PRIVATE_READ_WRITE,
    PRIVATE_SIGNED_URL,
    PRIVATE_TLS_ONLY,
    PUBLIC_ANONYMOUS_LIST,
    PUBLIC_ANONYMOUS_READ,
    PUBLIC_EXISTS,
    PUBLIC_LISTDIR,
    PUBLIC_MULTIPART,
    PUBLIC_READ_WRITE,
    SKIP,
)

# The key itself was rejected: nothing about permissions can be concluded.
KEY_REJECTED_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken", "InvalidClientTokenId"}
)


@dataclass(frozen=True)
class CheckResult:
    site: str
    check: str
    status: str
    """PASS, FAIL, SKIP or NOT_APPLICABLE: `status` in the JSON records and in the table alike."""
    reason: str
    subject: str = ""
    """The other site an isolation result is about (one per site tried); merged away before printing."""

    @property
    def ok(self) -> bool:
        return self.status in (PASS, NOT_APPLICABLE)

    def as_dict(self) -> dict[str, Any]:
        return {"site": self.site, "check": self.check, "status": self.status, "reason": self.reason}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code") or http_status(error) or "error")


def http_status(error: ClientError) -> int | None:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return int(status) if status is not None else None


def is_refusal(error: ClientError) -> bool:
    """Access denied by policy (not a rejected key, not a missing bucket)."""
    code = error_code(error)
    return code == "AccessDenied" or (http_status(error) == 403 and code not in KEY_REJECTED_CODES)


def describe(error: BaseException) -> str:
    """One line naming what went wrong; S3 messages never carry the secret (report.py redacts anyway)."""
    if isinstance(error, ClientError):
        message = str(error.response.get("Error", {}).get("Message") or "").strip()
        status = http_status(error)
        text = f"{error_code(error)} (HTTP {status})" if status else error_code(error)
        return f"{text}: {message}" if message and message != error_code(error) else text
    if isinstance(error, NoCredentialsError):
        return "no operator credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID as for `pulumi up`)"
    if isinstance(error, BotoCoreError):
        from storagectl.verify.clients import transport_reason  # boto3 is not loaded for every describe

        return transport_reason(error) or f"{type(error).__name__}: {error}"
    return f"{type(error).__name__}: {error}".splitlines()[0]

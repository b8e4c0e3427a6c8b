"""What AWS IAM says about a site's access keys: status, creation and last use, matched to the stack's generations.

Read with the operator's credentials from the default AWS chain (as `pulumi up` and `storagectl verify`
use them): ListAccessKeys and GetAccessKeyLastUsed on the site's IAM user. botocore's own endpoint
settings apply (`AWS_ENDPOINT_URL_IAM` points the calls at a stand-in such as moto).

Which live key is which generation: the stack file says how many keys a site should have, and each
new generation's key is created after the one before it, so the live keys sorted by creation date
line up with the declared ones, oldest first. When the counts differ an update is pending: a key
too many is the oldest (a retired key not deleted yet), a key too few is the newest (a rotation not
applied yet). Two keys created in the same second cannot be told apart this way (status says so).
Key ids are shown shortened (AKIA...WXYZ); secrets are never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.site_keys import DeclaredKey

CONNECT_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 30
ATTEMPTS = 4


class KeyUsageError(Exception):
    """IAM could not be read; the message is one line without any key."""


@dataclass(frozen=True)
class LiveKey:
    """One access key as IAM reports it."""

    key_id: str
    status: str
    """Active or Inactive."""
    created: datetime | None
    last_used: datetime | None
    """None: never used (IAM's LastUsedDate is absent)."""
    last_used_service: str | None
    last_used_region: str | None

    @property
    def shown_id(self) -> str:
        return shorten_key_id(self.key_id)

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.shown_id,
            "status": self.status,
            "created": _iso(self.created),
            "last_used": _iso(self.last_used),
            "last_used_service": self.last_used_service,
            "last_used_region": self.last_used_region,
        }


def shorten_key_id(key_id: str) -> str:
    """The first and last four characters, enough to tell keys apart in IAM's console and CloudTrail."""
    return f"{key_id[:4]}...{key_id[-4:]}" if len(key_id) > 12 else "..."


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def iam_client(region_name: str) -> Any:
    """An IAM client with the operator's credentials; the region picks the partition's IAM endpoint."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        retries={"mode": "standard", "max_attempts": ATTEMPTS},
        user_agent_extra="site-storage-keys-status",
    )
    return boto3.session.Session().client("iam", region_name=region_name, config=config)


def _known(value: Any) -> str | None:
    # IAM answers "N/A" for a key never used.
    return value if isinstance(value, str) and value and value != "N/A" else None


def live_keys(client: Any, user_name: str) -> list[LiveKey]:
    """The user's access keys, oldest first, each with its last use; KeyUsageError when IAM refuses or fails."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        listed = client.list_access_keys(UserName=user_name)["AccessKeyMetadata"]
        keys = []
        for entry in listed:
            used = client.get_access_key_last_used(AccessKeyId=entry["AccessKeyId"])["AccessKeyLastUsed"]
            keys.append(
                LiveKey(
                    key_id=entry["AccessKeyId"],
                    status=str(entry.get("Status", "")),
                    created=entry.get("CreateDate"),
                    last_used=used.get("LastUsedDate"),
                    last_used_service=_known(used.get("ServiceName")),
                    last_used_region=_known(used.get("Region")),
                )
            )
    except NoCredentialsError:
        raise KeyUsageError(
            "no AWS credentials found (the default chain: environment, AWS_PROFILE, SSO, instance role); "
            "IAM's key facts need the operator's credentials"
        ) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        raise KeyUsageError(f"IAM refused ({details.get('Code', 'error')}): {details.get('Message', '')}") from None
    except BotoCoreError as error:
        raise KeyUsageError(f"IAM did not answer: {error}") from None
    return sorted(keys, key=lambda key: (key.created is None, key.created or datetime.min))


@dataclass(frozen=True)
class Matched:
    """The declared keys, each with its live key (None: not created yet), and live keys the stack does not declare."""

    pairs: list[tuple[DeclaredKey, LiveKey | None]]
    undeclared: list[LiveKey]


def match(declared: Sequence[DeclaredKey], live: Sequence[LiveKey]) -> Matched:
    """Line declared keys (oldest first) up with live keys (oldest first); see the module docstring."""
    if len(live) >= len(declared):
        extra = len(live) - len(declared)
        return Matched(list(zip(declared, live[extra:], strict=True)), list(live[:extra]))
    padded: list[LiveKey | None] = [*live, *([None] * (len(declared) - len(live)))]
    return Matched(list(zip(declared, padded, strict=True)), [])

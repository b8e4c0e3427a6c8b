"""The plain data every site-storage policy check reads.

No pulumi or pulumi_policy import here: the pack fills these from pulumi-policy's arguments,
`storagectl preview --policy` from the mock runtime's recorded resources, tests by hand.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

NAMESPACE = "site-storage"
SITE_COMPONENT_TYPE = "site-storage:index:SiteStorage"
STACK_TYPE = "pulumi:pulumi:Stack"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost")
UNKNOWN = "<unknown until apply>"
"""Stands in for a value the engine cannot know during preview; checks treat it as failing."""
SECRET_SIGNATURE = ("4dabf18193072939515e22adb298388d", "1b47061264138c4ac30d75fd1eb44270")
"""How the Pulumi wire format marks a secret value: {sig key: secret sig, "value": ...}."""


@dataclass(frozen=True)
class StackFacts:
    """What the stack configuration says, as far as the policies need it."""

    protect: bool = True
    """site-storage:protect; left out, true, as in the program."""
    access_controls: bool = True
    """The region has S3 public access blocks and ownership controls (AWS). Unknown counts as
    true, so a stack whose config the pack cannot read fails closed."""
    any_origin_sites: frozenset[str] = frozenset()
    """Sites whose cors sets allow_any_origin: true."""
    bucket_prefix: str | None = None
    """site-storage:bucket_prefix; None when unknown, and then no bucket counts as a site's own."""
    on_this_machine: bool = False
    """The region is custom with its endpoint on 127.0.0.1 or localhost (a developer's local S3), where
    http://localhost and http://127.0.0.1 CORS origins are allowed. Unknown counts as false."""

    def site_buckets(self, site: str) -> frozenset[str]:
        """The site's two bucket names: the naming contract of components/naming.py."""
        if self.bucket_prefix is None:
            return frozenset()
        return frozenset({f"{self.bucket_prefix}-{site}-public", f"{self.bucket_prefix}-{site}-private"})


def _flag(value: Any, default: bool) -> bool:
    # Stack files hold real booleans; the engine hands top-level scalars over as text.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    return default


def _mapping(value: Any) -> Mapping[str, Any]:
    # The engine hands objects over as JSON text.
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return {}
    return value if isinstance(value, Mapping) else {}


def facts_from_config(values: Mapping[str, Any]) -> StackFacts:
    """StackFacts from namespace-stripped `site-storage:*` values (a stack file or the engine's).

    The pack learns opt-ins from the stack config, the same keys the program reads: CORS
    configuration resources carry no tags, and generic-S3 buckets carry none at all.
    """
    region = values.get("region")
    opted_in = set()
    for slug, site in _mapping(values.get("sites")).items():
        cors = site.get("cors") if isinstance(site, Mapping) else None
        if isinstance(cors, Mapping) and _flag(cors.get("allow_any_origin"), False):
            opted_in.add(str(slug))
    prefix = values.get("bucket_prefix")
    endpoint = values.get("endpoint")
    local = region == "custom" and isinstance(endpoint, str) and _loopback_endpoint(endpoint)
    return StackFacts(
        # A malformed protect value counts as true: the check then demands protection.
        protect=_flag(values.get("protect"), True),
        # Only AWS regions (aws-<region>) have public access blocks and ownership controls.
        access_controls=not isinstance(region, str) or region.startswith("aws-"),
        any_origin_sites=frozenset(opted_in),
        bucket_prefix=prefix if isinstance(prefix, str) and prefix else None,
        on_this_machine=local,
    )


def _loopback_endpoint(endpoint: str) -> bool:
    # As components/regions.py's Region.on_this_machine; the pack's virtualenv lacks the project.
    try:
        host = urlsplit(endpoint).hostname
    except ValueError:
        return False
    return host in LOOPBACK_HOSTS


@dataclass(frozen=True)
class ResourceContext:
    """Where a resource sits: its logical name, its site and options, and the stack's facts."""

    name: str
    """Logical name, e.g. `acme-live-private-access-block` (child names are a contract)."""
    site: str | None
    """Slug of the SiteStorage component the resource belongs to; None for stack-level resources."""
    protect: bool = False
    stack: StackFacts = field(default_factory=StackFacts)

    @property
    def role(self) -> str:
        """`public` for the site's public bucket and its configuration, else `private`.

        Private is the default: anything not named as a site's public bucket counts as private.
        """
        if self.site is not None:
            public = f"{self.site}-public"
            if self.name == public or self.name.startswith(f"{public}-"):
                return "public"
        return "private"

    @property
    def where(self) -> str:
        return where(self.site)


def where(site: str | None) -> str:
    """How a message names the site; resources outside any site belong to the stack."""
    return f"site {site}" if site else "the stack"


@dataclass(frozen=True)
class PlainResource:
    """One resource as the stack-wide checks see it."""

    type: str
    name: str
    site: str | None
    inputs: Mapping[str, Any]
    protect: bool = False

    def context(self, stack: StackFacts) -> ResourceContext:
        return ResourceContext(name=self.name, site=self.site, protect=self.protect, stack=stack)


@dataclass(frozen=True)
class StackView:
    """Everything a stack-wide check reads."""

    resources: Sequence[PlainResource]
    outputs: Mapping[str, Any]
    """The stack's exported outputs, secret or not (pulumi-policy unwraps secrets)."""
    facts: StackFacts = field(default_factory=StackFacts)
    secrets: frozenset[str] = frozenset()
    """Secret values the caller knows (preview placeholders, access key secrets once applied)."""


@dataclass(frozen=True)
class Finding:
    """A stack-wide check's violation: which resource, which site, what is wrong."""

    resource: str
    site: str | None
    message: str


def unwrap_secrets(value: Any) -> Any:
    """Secret markers replaced by their values: the mock monitor keeps them, pulumi-policy does not."""
    if isinstance(value, Mapping):
        if value.get(SECRET_SIGNATURE[0]) == SECRET_SIGNATURE[1] and "value" in value:
            return unwrap_secrets(value["value"])
        return {str(key): unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [unwrap_secrets(item) for item in value]
    return value


def as_list(value: Any) -> list[Any]:
    """IAM documents allow a single value or a list wherever a list goes."""
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


def policy_document(value: Any) -> Mapping[str, Any] | None:
    """A policy document from its JSON text or object form; None when absent or unreadable."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return None
    return value if isinstance(value, Mapping) else None


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = document.get("Statement", document.get("statement"))
    return [statement for statement in as_list(found) if isinstance(statement, Mapping)]


def field_of(statement: Mapping[str, Any], key: str) -> Any:
    """A statement field by its IAM name, also in the lower-case form of pulumi-aws's PolicyDocument."""
    return statement.get(key, statement.get(key[0].lower() + key[1:]))


def site_of_urn(parent_urn: str | None) -> str | None:
    """The site slug when the parent URN is a SiteStorage component (`...::<type>::<slug>`)."""
    if not parent_urn:
        return None
    parts = parent_urn.split("::", 3)
    if len(parts) != 4:
        return None
    parent_type = parts[2].rsplit("$", 1)[-1]
    return parts[3] if parent_type == SITE_COMPONENT_TYPE else None

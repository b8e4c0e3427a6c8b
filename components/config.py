"""The stack configuration operators write, validated into one typed object.

`parse_settings` is the only reader of `site-storage:*` values: the Pulumi program feeds it
the engine's config, `storagectl` feeds it a stack file (storagectl.stack_files). Every
problem becomes one line naming the file, the key path, the bad value and what is allowed,
and all problems are reported together, so an operator fixes a stack file in one pass.

The two callers hand values over in different forms and the rules are written for both: the
engine passes each top-level value as the text written in the file (`"true"`, `"600"`, `""`
for a key with no value) and objects (`sites`) as JSON, storagectl passes YAML's types. A
key written with no value (`protect:`, `protect: ~`, `region: ""`) is refused in both, naming
the key: the engine cannot tell such a key from an empty text, and treating it as absent
would turn `sites: ~` into a plan to delete every site. Nothing is trimmed: a value must be
exactly right as written (`"aws-eu-central-1\n"` is not a region).

Validation is hand-written rather than a pydantic model (measured: docs/configuration.md,
"Why the validation is hand-written"): the contract is one line per problem with the exact
key path (`sites.acme-live.cors.origins[1]`) and the allowed values, and checks that need the
region or the prefix (bucket names, capabilities) sit beside the ones that do not.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from components.naming import (
    BUCKET_PREFIX_RULE,
    SITE_SLUG,
    backup_bucket_name,
    bucket_name_problem,
    bucket_prefix_problem,
    host_name_problem,
    private_bucket_name,
    public_bucket_name,
)
from components.regions import Region, UnknownRegion, allowed_region_ids, resolve_region, unknown_region_hint
from components.site_keys import (
    DEFAULT_PREVIOUS_KEY,
    MAX_KEY_GENERATION,
    PREVIOUS_KEY_STATES,
    DeclaredKey,
    declared_keys,
)

NAMESPACE = "site-storage"
CORS_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
DEFAULT_MAX_SITES = 200
MAX_SITES_LIMIT = 1000
"""The most sites a stack may hold: the size the program is benchmarked at (docs/performance.md)."""
MAX_AGE_LIMIT = 2_147_483_647
"""S3 stores a CORS rule's MaxAgeSeconds as a 32-bit integer."""
BUCKET_QUOTA_LIMIT = 1_000_000
"""The most buckets an AWS account can have; no provider here allows more."""
EXOSCALE_KEY = "exoscale:key"
EXOSCALE_SECRET = "exoscale:secret"
SECRET_CONFIG_KEYS = (f"{NAMESPACE}:secret_access_key", EXOSCALE_SECRET, "aws:secretKey", "aws:token")
"""Every config key this project or its providers read that holds a secret: in a stack file each must be
a `secure:` value (`pulumi config set --secret`), on every region."""
ORIGIN_RULE = "use https://host[:port] (one * at most), or * with allow_any_origin: true"
LOOPBACK_ORIGIN_RULE = (
    "http origins are allowed only as http://localhost[:port] or http://127.0.0.1[:port], and only on region "
    "custom with an endpoint on this machine (127.0.0.1 or localhost)"
)
ENDPOINT_RULE = "use http(s)://host[:port] with no path or query"
_ORIGIN = re.compile(r"https://(?P<host>[^:/?#@\[\]\s]+)(?::(?P<port>[0-9]{1,5}))?")
_LOOPBACK_ORIGIN = re.compile(r"http://(?:localhost|127\.0\.0\.1)(?::(?P<port>[0-9]{1,5}))?")
_ENDPOINT = re.compile(r"(?:https?)://(?P<host>\[[^\[\]/?#@\s]+\]|[^:/?#@\[\]\s]+)(?::(?P<port>[0-9]{1,5}))?/?")
_ANY_PORT = re.compile(r"[a-z]+://[^/?#@\[\]]*(?:\[[^\]]*\])?:(?P<port>[^/?#@\[\]:]*)/?")
"""Any text where a port goes, to name a port that is not a number (`:-1`, `:abc`)."""
_IPV4_SHAPED = re.compile(r"[0-9.]+")
_HEADER = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+")
_SIGNING_REGION = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
# AWS ids are [A-Z0-9], Exoscale's EXO + hex, RGW's and MinIO's letters and digits; never YAML or JSON
# syntax, which is what a list or mapping written for the key would arrive as (the engine's text).
_KEY_ID = re.compile(r"[A-Za-z0-9._~+=@/-]{1,128}")
_DIGITS = re.compile(r"-?[0-9]{1,40}")
_TEXT_SECRET = re.compile(r"[^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?")
"""A secret: no control characters, no leading or trailing space (a newline from `... < file`)."""


@dataclass(frozen=True)
class CorsRule:
    """One CORS rule on a site's public bucket."""

    origins: tuple[str, ...]
    """Allowed origins, `https://host[:port]`; `*` only with allow_any_origin; `http://localhost[:port]` and
    `http://127.0.0.1[:port]` only on a custom endpoint on this machine."""
    methods: tuple[str, ...] = ("GET", "HEAD")
    headers: tuple[str, ...] = ("*",)
    """Request headers a preflight may ask for; left out, any."""
    expose_headers: tuple[str, ...] = ()
    """Response headers scripts may read; left out, none beyond the simple ones."""
    max_age_seconds: int = 3600
    """How long browsers cache a preflight answer."""
    allow_any_origin: bool = False
    """Must be true for `*` to appear in origins: any website may then read the media."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "origins": list(self.origins),
            "methods": list(self.methods),
            "headers": list(self.headers),
            "expose_headers": list(self.expose_headers),
            "max_age_seconds": self.max_age_seconds,
        }


@dataclass(frozen=True)
class SiteConfig:
    """What one site asks for."""

    slug: str
    private: bool = True
    """Create the private bucket; left out, true."""
    media_domain: str | None = None
    """Host that MEDIA_URL uses instead of the bucket host; left out, the bucket host."""
    cors: CorsRule | None = None
    """CORS rule on the public bucket; left out, no CORS rules at all."""
    key_generation: int = 1
    """Which generation of the site's own key is current (the one its settings carry); left out, 1."""
    previous_key: str = DEFAULT_PREVIOUS_KEY
    """What became of generation key_generation - 1's key: active, inactive (AWS only) or absent (deleted)."""

    @property
    def keys(self) -> tuple[DeclaredKey, ...]:
        """The site's own keys, oldest first (components/site_keys.py)."""
        return declared_keys(self.key_generation, self.previous_key)

    @property
    def rotating(self) -> bool:
        """The previous generation's key still exists (active or inactive)."""
        return len(self.keys) > 1


@dataclass(frozen=True)
class Retention:
    """How many backup sets `storagectl media prune` keeps: the newest in each of the last N days, weeks, months."""

    daily: int = 7
    weekly: int = 4
    monthly: int = 12


@dataclass(frozen=True)
class ObjectLock:
    """S3 Object Lock on the backup bucket: every object version is kept at least `days` after it is written."""

    mode: str = "governance"
    """governance (an identity with s3:BypassGovernanceRetention can still delete) or compliance (nobody can)."""
    days: int = 30


@dataclass(frozen=True)
class BackupSettings:
    """site-storage:backups: the stack's backup bucket and how long its sets are kept."""

    retention: Retention = field(default_factory=Retention)
    object_lock: ObjectLock | None = None
    """None: no object lock (the default); only where the region catalog has object_lock."""


@dataclass(frozen=True)
class StackSettings:
    """Everything the program needs from one stack, validated."""

    stack: str
    source: str
    """The stack file the values came from, for messages."""
    region: Region
    bucket_prefix: str
    protect: bool = True
    max_sites: int = DEFAULT_MAX_SITES
    access_key_id: str | None = None
    secret_access_key: str | None = None
    """The shared key's secret on regions without IAM; a placeholder in offline preview."""
    sites: tuple[SiteConfig, ...] = field(default_factory=tuple)
    site_credentials: str = "iam"
    """iam (AWS users), exoscale-iam (Exoscale role and API key per site) or shared (the stack's key)."""
    exoscale_key: str | None = None
    """The Exoscale provider's API key (`exoscale:key`), with exoscale-iam only."""
    exoscale_secret: str | None = None
    lifecycle: bool = True
    """Abort incomplete multipart uploads after 7 days (site-storage:lifecycle; default: the region's)."""
    backups: BackupSettings | None = None
    """site-storage:backups: a backup bucket for scheduled media backups; None (the default): none."""

    def public_bucket(self, slug: str) -> str:
        return public_bucket_name(self.bucket_prefix, slug)

    def private_bucket(self, slug: str) -> str:
        return private_bucket_name(self.bucket_prefix, slug)

    @property
    def backup_bucket(self) -> str | None:
        return backup_bucket_name(self.bucket_prefix) if self.backups is not None else None

    @property
    def shares_one_credential(self) -> bool:
        return self.site_credentials == "shared"


class ConfigError(Exception):
    """The configuration has problems; `problems` holds one line each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def show(value: Any) -> str:
    """A short, unambiguous rendering of a config value for messages."""
    if isinstance(value, str):
        text = repr(value[:100])
    else:
        try:
            text = json.dumps(value, default=str)
        except (ValueError, RecursionError):
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def engine_text(value: Any) -> str:
    """A config value as the Pulumi engine hands it to the program: top-level scalars as the text written
    (`true`, `600`; a key with no value as ``), objects and lists as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    text = getattr(value, "yaml_text", None)  # a float keeps the text it was written as (1e3, not 1000.0)
    if isinstance(text, str):
        return text
    if isinstance(value, Mapping | list):
        return json.dumps(value)
    return str(value)


def is_empty(value: Any) -> bool:
    """A key written with no value: `key:`/`key: ~` (None here, `""` from the engine) or `key: ""`."""
    return value is None or value == ""


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []
        self.empty: set[str] = set()

    def bad(self, path: str, value: Any, allowed: str) -> None:
        self.lines.append(f"{self.source}: {path}: {show(value)} is not allowed; {allowed}")

    def missing(self, path: str, allowed: str) -> None:
        if path not in self.empty:
            self.lines.append(f"{self.source}: {path}: is required; {allowed}")

    def unknown_keys(self, path: str, mapping: Mapping[str, Any], known: Sequence[str]) -> None:
        for key in mapping:
            if key not in known:
                where = f"{path}.{key}" if path else str(key)
                self.lines.append(f"{self.source}: {where}: unknown key; allowed keys: {', '.join(known)}")

    def without_empty(self, path: str, mapping: Mapping[str, Any], rules: Mapping[str, str]) -> dict[str, Any]:
        """`mapping` without its known keys that have no value, each of which is reported."""
        kept = {}
        for key, value in mapping.items():
            if key in rules and is_empty(value):
                where = f"{path}.{key}" if path else key
                self.empty.add(where)
                self.lines.append(f"{self.source}: {where}: has no value; {rules[key]}")
            else:
                kept[key] = value
        return kept


TOP_LEVEL_KEYS = (
    "region",
    "endpoint",
    "signing_region",
    "path_style",
    "signature",
    "bucket_prefix",
    "protect",
    "max_sites",
    "bucket_quota",
    "lifecycle",
    "site_credentials",
    "access_key_id",
    "secret_access_key",
    "backups",
    "sites",
)
SITE_KEYS = ("private", "media_domain", "cors", "key_generation", "previous_key")
CORS_KEYS = ("origins", "allow_any_origin", "methods", "headers", "expose_headers", "max_age_seconds")
CUSTOM_ONLY_KEYS = ("endpoint", "signing_region", "path_style", "signature")
_LEAVE_OUT = "or leave the key out for the default"
TOP_LEVEL_RULES = {
    "region": f"use {allowed_region_ids()}",
    "endpoint": f"{ENDPOINT_RULE} (region custom only)",
    "signing_region": f"use a region name such as us-east-1, {_LEAVE_OUT} (us-east-1)",
    "path_style": f"use true or false, {_LEAVE_OUT} (false)",
    "signature": f"use s3v4 or s3, {_LEAVE_OUT} (s3v4)",
    "bucket_prefix": BUCKET_PREFIX_RULE,
    "protect": f"use true or false, {_LEAVE_OUT} (true)",
    "max_sites": f"use a whole number from 1 to {MAX_SITES_LIMIT}, {_LEAVE_OUT} ({DEFAULT_MAX_SITES})",
    "bucket_quota": f"use a whole number from 1 to {BUCKET_QUOTA_LIMIT}, {_LEAVE_OUT} (the region's quota)",
    "lifecycle": f"use true or false, {_LEAVE_OUT} (the region's)",
    "site_credentials": f"use iam, exoscale-iam or shared as the region supports, {_LEAVE_OUT} (the region's)",
    "access_key_id": "use the access key id",
    "secret_access_key": f"set it with `pulumi config set --secret {NAMESPACE}:secret_access_key`",
    "backups": "use a mapping with retention and object_lock (each optional, {} for the defaults), "
    "or leave the key out for no backups",
    "sites": "use a mapping from site slug to its settings ({} for a stack without sites)",
}
BACKUP_KEYS = ("retention", "object_lock")
RETENTION_KEYS = ("daily", "weekly", "monthly")
RETENTION_LIMIT = 1000
OBJECT_LOCK_KEYS = ("mode", "days")
OBJECT_LOCK_MODES = ("governance", "compliance")
OBJECT_LOCK_DAYS_LIMIT = 36500
BACKUP_RULES = {
    "retention": f"use a mapping with {', '.join(RETENTION_KEYS)} counts, {_LEAVE_OUT} (7, 4, 12)",
    "object_lock": "use a mapping with mode and days, or leave the key out for no object lock",
}
RETENTION_RULES = {
    key: f"use a whole number from 0 to {RETENTION_LIMIT}, {_LEAVE_OUT} ({default})"
    for key, default in zip(RETENTION_KEYS, (7, 4, 12), strict=True)
}
OBJECT_LOCK_RULES = {
    "mode": f"use {' or '.join(OBJECT_LOCK_MODES)}, {_LEAVE_OUT} (governance)",
    "days": f"use a whole number from 1 to {OBJECT_LOCK_DAYS_LIMIT}, {_LEAVE_OUT} (30)",
}
SITE_RULES = {
    "private": f"use true or false, {_LEAVE_OUT} (true)",
    "media_domain": f"use a host name such as media.example.com, {_LEAVE_OUT} (the bucket host)",
    "cors": "use a mapping with origins, or leave the key out for no CORS",
    "key_generation": f"use a whole number from 1 to {MAX_KEY_GENERATION}, {_LEAVE_OUT} (1)",
    "previous_key": f"use active, inactive or absent, {_LEAVE_OUT} ({DEFAULT_PREVIOUS_KEY})",
}
PREVIOUS_KEY_RULE = (
    "use active (the previous generation's key still works), inactive (it is refused; AWS only) or absent "
    "(it is deleted)"
)
SHARED_KEY_RULE = (
    "the sites of a stack with site_credentials shared use the stack's one key and have no key of their own; "
    "rotate the stack's key instead (docs/operators.md, \"Rotating a stack's shared key\")"
)
EXOSCALE_INACTIVE_RULE = (
    "Exoscale API keys cannot be deactivated, only deleted; use active (the previous key keeps working) or "
    "absent (it is deleted)"
)
CORS_RULES = {
    "origins": "list the origins allowed to read media, e.g. https://www.example.com",
    "allow_any_origin": f"use true or false, {_LEAVE_OUT} (false)",
    "methods": f"list methods of {', '.join(CORS_METHODS)}, {_LEAVE_OUT} ([GET, HEAD])",
    "headers": f'list header names, {_LEAVE_OUT} (["*"])',
    "expose_headers": f"list header names, {_LEAVE_OUT} ([])",
    "max_age_seconds": f"use a whole number from 0 to {MAX_AGE_LIMIT}, {_LEAVE_OUT} (3600)",
}


def _bool(p: _Problems, path: str, value: Any, default: bool) -> bool:
    # The engine hands top-level scalars over as their text; stack files hold real booleans.
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    p.bad(path, value, "use true or false")
    return default


def _int(p: _Problems, path: str, value: Any, default: int, minimum: int, maximum: int) -> int:
    """A whole number in [minimum, maximum]: a YAML integer, or its text (ASCII digits) as the engine passes it."""
    if value is None:
        return default
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _DIGITS.fullmatch(value):
        number = int(value)
    if number is None or not minimum <= number <= maximum:
        p.bad(path, value, f"use a whole number from {minimum} to {maximum}")
        return default
    return number


def _str(p: _Problems, path: str, value: Any, allowed: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        p.bad(path, value, allowed)
        return None
    return value


ItemCheck = Callable[[str], "str | None"]
"""None when a list item is fine, else what is wrong with it ('' when the rule says it all)."""


def _str_list(
    p: _Problems, path: str, value: Any, check: ItemCheck, allowed: str, default: tuple[str, ...]
) -> tuple[str, ...]:
    if value is None:
        return default
    if not isinstance(value, list):
        p.bad(path, value, f"use a list; {allowed}")
        return default
    seen: set[str] = set()
    items: list[str] = []
    for index, item in enumerate(value):
        where = f"{path}[{index}]"
        problem = check(item) if isinstance(item, str) else ""
        if problem is not None:
            p.bad(where, item, f"{allowed}; {problem}" if problem else allowed)
        elif item in seen:
            p.bad(where, item, "each entry may appear only once")
        else:
            seen.add(item)
            items.append(item)
    return tuple(items)


def _is_ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _port_problem(port: str | None) -> str | None:
    if port is not None and not 1 <= int(port) <= 65535:
        return f"port {port} is not a port; use 1 to 65535"
    return None


def _malformed_port(url: str) -> str:
    """'port -1 is not a port; ...' when `url` has a port that is not digits, else '' (the rule says it)."""
    match = _ANY_PORT.fullmatch(url)
    port = match.group("port") if match else None
    if port is not None and not (port.isascii() and port.isdigit()):
        return f"port {port!r} is not a port; use 1 to 65535"
    return ""


def origin_problem(origin: str) -> str | None:
    """None for a well-formed https origin (or `*`); else what is wrong ('' when only ORIGIN_RULE applies)."""
    if origin == "*":
        return None
    match = _ORIGIN.fullmatch(origin)
    if match is None or origin.count("*") > 1:
        return _malformed_port(origin)
    host = match.group("host")
    # A `*` stands for some letters of a label (S3 allows one per origin): check the shape with a letter there.
    return _port_problem(match.group("port")) or (
        host_name_problem(host.replace("*", "a"), single_label=True) if host != "*" else None
    )


def _loopback_origin(origin: str) -> bool:
    """`http://localhost[:port]` or `http://127.0.0.1[:port]`: Django's runserver on a developer's machine."""
    match = _LOOPBACK_ORIGIN.fullmatch(origin)
    return match is not None and _port_problem(match.group("port")) is None


def _origin_form_problem(origin: str) -> str | None:
    """Well formed as an origin: https, or loopback http (allowed on some stacks only)."""
    return None if _loopback_origin(origin) else origin_problem(origin)


def _allows_any_origin(origin: str) -> bool:
    return origin in ("*", "https://*") or origin.startswith("https://*:")


def endpoint_problem(endpoint: str) -> str | None:
    """None for `http(s)://host[:port]` with a DNS name, an IPv4 or a bracketed IPv6 address; else the problem."""
    match = _ENDPOINT.fullmatch(endpoint)
    if match is None:
        return _malformed_port(endpoint)
    host = match.group("host")
    port = _port_problem(match.group("port"))
    if port:
        return port
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{host} is not an IPv6 address"
        return None
    if _IPV4_SHAPED.fullmatch(host):
        return None if _is_ip_address(host) else f"{host} is not an IPv4 address"
    return host_name_problem(host, single_label=True)


def _header_problem(header: str, wildcard: bool) -> str | None:
    if not _HEADER.fullmatch(header) or header.count("*") > (1 if wildcard else 0):
        return ""
    return None


def _parse_cors(p: _Problems, path: str, raw: Any, region: Region | None) -> CorsRule | None:
    if not isinstance(raw, Mapping):
        p.bad(path, raw, f"use a mapping with keys {', '.join(CORS_KEYS)}")
        return None
    p.unknown_keys(path, raw, CORS_KEYS)
    raw = p.without_empty(path, raw, CORS_RULES)
    allow_any = _bool(p, f"{path}.allow_any_origin", raw.get("allow_any_origin"), False)
    if raw.get("origins") is None:
        p.missing(f"{path}.origins", "list the origins allowed to read media, e.g. https://www.example.com")
        origins: tuple[str, ...] = ()
    else:
        origins = _str_list(p, f"{path}.origins", raw["origins"], _origin_form_problem, ORIGIN_RULE, ())
        if isinstance(raw["origins"], list) and not raw["origins"]:
            p.bad(f"{path}.origins", raw["origins"], "list at least one origin")
        if region is not None and not region.on_this_machine:
            for index, origin in enumerate(raw["origins"] if isinstance(raw["origins"], list) else []):
                if isinstance(origin, str) and _loopback_origin(origin):
                    p.bad(f"{path}.origins[{index}]", origin, f"{LOOPBACK_ORIGIN_RULE}; this stack is on {region.id}")
            origins = tuple(origin for origin in origins if not _loopback_origin(origin))
    if not allow_any and isinstance(raw.get("origins"), list):
        for index, origin in enumerate(raw["origins"]):
            if isinstance(origin, str) and _allows_any_origin(origin):
                p.bad(f"{path}.origins[{index}]", origin, "any-origin CORS needs allow_any_origin: true beside origins")
    methods = _str_list(
        p,
        f"{path}.methods",
        raw.get("methods"),
        lambda m: None if m in CORS_METHODS else "",
        f"S3 allows only {', '.join(CORS_METHODS)}",
        ("GET", "HEAD"),
    )
    if isinstance(raw.get("methods"), list) and not raw["methods"]:
        p.bad(f"{path}.methods", raw["methods"], "list at least one method")
    headers = _str_list(
        p,
        f"{path}.headers",
        raw.get("headers"),
        lambda h: _header_problem(h, wildcard=True),
        "use header names (one * at most each)",
        ("*",),
    )
    expose = _str_list(
        p,
        f"{path}.expose_headers",
        raw.get("expose_headers"),
        lambda h: _header_problem(h, wildcard=False),
        "use header names without *",
        (),
    )
    max_age = _int(p, f"{path}.max_age_seconds", raw.get("max_age_seconds"), 3600, 0, MAX_AGE_LIMIT)
    return CorsRule(
        origins=origins,
        methods=methods,
        headers=headers,
        expose_headers=expose,
        max_age_seconds=max_age,
        allow_any_origin=allow_any,
    )


def _parse_site(
    p: _Problems, slug: str, raw: Any, region: Region | None, prefix: str | None, credentials: str | None
) -> SiteConfig:
    path = f"sites.{slug}"
    if raw is None:
        raw = {}  # `acme-live:` alone: a site with every default
    if not isinstance(raw, Mapping):
        p.bad(path, raw, f"use a mapping with keys {', '.join(SITE_KEYS)} (or leave it empty)")
        raw = {}
    p.unknown_keys(path, raw, SITE_KEYS)
    raw = p.without_empty(path, raw, SITE_RULES)
    private = _bool(p, f"{path}.private", raw.get("private"), True)
    media_domain = _str(p, f"{path}.media_domain", raw.get("media_domain"), "use a host name such as media.example.com")
    if media_domain is not None:
        problem = host_name_problem(media_domain)
        if problem is not None:
            rule = "use a lowercase host name such as media.example.com, without scheme, port or path"
            p.bad(f"{path}.media_domain", media_domain, f"{rule}; {problem}" if problem else rule)
            media_domain = None
    cors = _parse_cors(p, f"{path}.cors", raw["cors"], region) if "cors" in raw else None
    if cors is not None and region is not None and not region.capabilities.cors:
        p.bad(f"{path}.cors", "cors", f"region {region.id} does not support bucket CORS rules")
    if prefix is not None:
        names = [public_bucket_name(prefix, slug)] + ([private_bucket_name(prefix, slug)] if private else [])
        for name in names:
            problem = bucket_name_problem(name)
            if problem:
                p.bad(path, name, f"bucket name {name!r} {problem}; shorten the site slug or bucket_prefix")
    generation, previous = _parse_keys(p, path, raw, credentials)
    return SiteConfig(
        slug=slug,
        private=private,
        media_domain=media_domain,
        cors=cors,
        key_generation=generation,
        previous_key=previous,
    )


def _parse_keys(p: _Problems, path: str, raw: Mapping[str, Any], credentials: str | None) -> tuple[int, str]:
    """(key_generation, previous_key) of one site; their rules depend on the stack's credential mode."""
    generation = _int(p, f"{path}.key_generation", raw.get("key_generation"), 1, 1, MAX_KEY_GENERATION)
    previous = raw.get("previous_key", DEFAULT_PREVIOUS_KEY)
    if previous not in PREVIOUS_KEY_STATES:
        p.bad(f"{path}.previous_key", previous, PREVIOUS_KEY_RULE)
        previous = DEFAULT_PREVIOUS_KEY
    if credentials == "shared":
        for key in ("key_generation", "previous_key"):
            if key in raw:
                p.bad(f"{path}.{key}", raw[key], SHARED_KEY_RULE)
        return 1, DEFAULT_PREVIOUS_KEY
    if generation == 1 and previous != DEFAULT_PREVIOUS_KEY:
        p.bad(
            f"{path}.previous_key",
            previous,
            "generation 1 has no previous key; use absent (or leave it out), or rotate with `storagectl keys rotate`",
        )
        previous = DEFAULT_PREVIOUS_KEY
    if credentials == "exoscale-iam" and previous == "inactive":
        p.bad(f"{path}.previous_key", previous, EXOSCALE_INACTIVE_RULE)
        previous = DEFAULT_PREVIOUS_KEY
    return generation, str(previous)


def _json_mapping(value: Any) -> Any:
    """An object as the engine hands it over (JSON text), or as YAML gave it."""
    if isinstance(value, str):
        with contextlib.suppress(ValueError, RecursionError):
            return json.loads(value)
    return value


def _parse_backups(p: _Problems, value: Any, region: Region | None) -> BackupSettings | None:
    """site-storage:backups: absent, no backups; a mapping (maybe empty), the backup bucket with these settings."""
    if value is None:
        return None
    raw = _json_mapping(value)
    if not isinstance(raw, Mapping):
        p.bad("backups", raw, TOP_LEVEL_RULES["backups"])
        return None
    p.unknown_keys("backups", raw, BACKUP_KEYS)
    raw = p.without_empty("backups", raw, BACKUP_RULES)
    retention = Retention()
    if "retention" in raw:
        counts = raw["retention"]
        if not isinstance(counts, Mapping):
            p.bad("backups.retention", counts, BACKUP_RULES["retention"])
        else:
            p.unknown_keys("backups.retention", counts, RETENTION_KEYS)
            counts = p.without_empty("backups.retention", counts, RETENTION_RULES)
            retention = Retention(
                **{
                    key: _int(
                        p, f"backups.retention.{key}", counts.get(key), getattr(retention, key), 0, RETENTION_LIMIT
                    )
                    for key in RETENTION_KEYS
                }
            )
            if not any(getattr(retention, key) for key in RETENTION_KEYS):
                p.bad(
                    "backups.retention", counts, "keep at least one set: give daily, weekly or monthly a count above 0"
                )
    object_lock = None
    if "object_lock" in raw:
        lock = raw["object_lock"]
        if not isinstance(lock, Mapping):
            p.bad("backups.object_lock", lock, BACKUP_RULES["object_lock"])
        else:
            p.unknown_keys("backups.object_lock", lock, OBJECT_LOCK_KEYS)
            lock = p.without_empty("backups.object_lock", lock, OBJECT_LOCK_RULES)
            mode = lock.get("mode", "governance")
            if mode not in OBJECT_LOCK_MODES:
                p.bad("backups.object_lock.mode", mode, f"use {' or '.join(OBJECT_LOCK_MODES)}")
                mode = "governance"
            days = _int(p, "backups.object_lock.days", lock.get("days"), 30, 1, OBJECT_LOCK_DAYS_LIMIT)
            object_lock = ObjectLock(mode=str(mode), days=days)
            if region is not None and not region.capabilities.object_lock:
                p.bad(
                    "backups.object_lock",
                    lock,
                    f"region {region.id} has no S3 Object Lock in the region catalog; leave the key out",
                )
                object_lock = None
    return BackupSettings(retention=retention, object_lock=object_lock)


def _plain_text_secrets(
    p: _Problems, raw: Mapping[str, Any], provider_config: Mapping[str, Any], secret_keys: frozenset[str]
) -> None:
    """Every secret key written in the stack file without `secure:` (values never shown)."""
    for full in SECRET_CONFIG_KEYS:
        namespace, name = full.split(":", 1)
        value = raw.get(name) if namespace == NAMESPACE else provider_config.get(full)
        known = name if namespace == NAMESPACE else full
        if not is_empty(value) and known not in secret_keys:
            p.lines.append(
                f"{p.source}: {known}: is stored in plain text; set it with "
                f"`pulumi config set --secret {full}` so it is encrypted"
            )


def _secret(p: _Problems, path: str, value: Any, how: str) -> str | None:
    """A secret's value, never shown: text without control characters or surrounding spaces."""
    if value is None:
        return None
    if not isinstance(value, str) or not _TEXT_SECRET.fullmatch(value):
        p.lines.append(
            f"{p.source}: {path}: is not a usable secret (it must be text without control characters or "
            f"leading or trailing spaces, such as a newline read from a file); set it again with {how}"
        )
        return None
    return value


def _key_id(p: _Problems, path: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _KEY_ID.fullmatch(value):
        p.bad(path, value, "use the access key id: 1 to 128 letters, digits or ._~+=@/-")
        return None
    return value


def _endpoint(p: _Problems, value: Any) -> str | None:
    endpoint = _str(p, "endpoint", value, ENDPOINT_RULE)
    if endpoint is None:
        return None
    problem = endpoint_problem(endpoint)
    if problem is not None:
        p.bad("endpoint", endpoint, f"{ENDPOINT_RULE}; {problem}" if problem else ENDPOINT_RULE)
        return None
    return endpoint


def _sites_mapping(p: _Problems, value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        # The engine hands objects over as JSON text (storagectl, a quoted `sites: "{...}"` the same way).
        with contextlib.suppress(ValueError, RecursionError):
            value = json.loads(value)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        p.bad("sites", value, "use a mapping from site slug to its settings")
        return {}
    return value


def parse_settings(
    raw: Mapping[str, Any],
    *,
    stack: str,
    source: str,
    secret_keys: frozenset[str] | None = None,
    provider_config: Mapping[str, Any] | None = None,
) -> StackSettings:
    """Validate namespace-stripped config values (`{"region": ..., "sites": {...}}`).

    `secret_keys`, when known (a stack file), names the keys stored encrypted (this project's
    without namespace, the others' in full); a secret written in plain text is refused so it
    never reaches git. `provider_config` holds the other namespaces' values
    (`exoscale:key`, `exoscale:secret`, `aws:...`).
    """
    provider_config = provider_config or {}
    p = _Problems(source)
    p.unknown_keys("", raw, TOP_LEVEL_KEYS)
    raw = p.without_empty("", raw, TOP_LEVEL_RULES)
    if secret_keys is not None:
        _plain_text_secrets(p, raw, provider_config, secret_keys)

    region_id = _str(p, "region", raw.get("region"), TOP_LEVEL_RULES["region"])
    region: Region | None = None
    if "region" not in raw:
        p.missing("region", TOP_LEVEL_RULES["region"])
    is_custom = region_id == "custom"
    if not is_custom:
        for key in CUSTOM_ONLY_KEYS:
            if raw.get(key) is not None:
                p.bad(key, raw[key], "only region custom takes it; catalog regions have fixed endpoints")
    endpoint = _endpoint(p, raw.get("endpoint"))
    if is_custom and "endpoint" not in raw:
        p.missing("endpoint", "region custom needs the S3 endpoint URL, e.g. https://minio.example.com")
    signing_region = _str(p, "signing_region", raw.get("signing_region"), "use a region name such as us-east-1")
    if signing_region is not None and not _SIGNING_REGION.fullmatch(signing_region):
        p.bad("signing_region", signing_region, "use a region name such as us-east-1")
        signing_region = None
    path_style = _bool(p, "path_style", raw.get("path_style"), False)
    if endpoint is not None and not path_style and _is_ip_address(urlsplit(endpoint).hostname or ""):
        p.bad(
            "path_style",
            raw.get("path_style", False),
            f"the endpoint {endpoint} is an IP address, which cannot take bucket host names; set path_style: true",
        )
    signature = raw.get("signature")
    if signature is not None and signature not in ("s3v4", "s3"):
        p.bad("signature", signature, "use s3v4 or s3")
        signature = None
    if region_id is not None and (endpoint is not None or not is_custom):
        try:
            region = resolve_region(
                region_id,
                endpoint=endpoint,
                signing_region=signing_region,
                path_style=path_style,
                signature=signature,
            )
        except UnknownRegion:
            p.bad("region", region_id, f"{TOP_LEVEL_RULES['region']}{unknown_region_hint(region_id)}")

    prefix = _str(p, "bucket_prefix", raw.get("bucket_prefix"), BUCKET_PREFIX_RULE)
    if "bucket_prefix" not in raw:
        p.missing("bucket_prefix", "bucket names are <prefix>-<site>-public/-private, e.g. acme-media")
    elif prefix is not None:
        problem = bucket_prefix_problem(prefix)
        if problem is not None:
            p.bad("bucket_prefix", prefix, problem)
            prefix = None

    protect = _bool(p, "protect", raw.get("protect"), True)
    lifecycle = False
    if region is not None:
        lifecycle = _bool(p, "lifecycle", raw.get("lifecycle"), region.capabilities.lifecycle_default)
        if lifecycle and not region.capabilities.lifecycle:
            p.bad("lifecycle", raw.get("lifecycle"), f"region {region.id} has no lifecycle rules; leave it out")
            lifecycle = False
    max_sites = _int(p, "max_sites", raw.get("max_sites"), DEFAULT_MAX_SITES, 1, MAX_SITES_LIMIT)

    access_key_id = _key_id(p, "access_key_id", raw.get("access_key_id"))
    how = f"`pulumi config set --secret {NAMESPACE}:secret_access_key`"
    secret_access_key = _secret(p, "secret_access_key", raw.get("secret_access_key"), how)
    if region is not None:
        if region.capabilities.iam:
            for key in ("access_key_id", "secret_access_key"):
                if raw.get(key) is not None:
                    p.lines.append(
                        f"{source}: {key}: is not allowed on {region.id}; AWS sites get their own IAM keys "
                        "and the provider uses the AWS credential chain"
                    )
        else:
            if "access_key_id" not in raw:
                p.missing(
                    "access_key_id", f"region {region.id} has no AWS IAM; give the key the provider and the sites use"
                )
            if "secret_access_key" not in raw:
                p.missing("secret_access_key", TOP_LEVEL_RULES["secret_access_key"])

    site_credentials = _credential_mode(p, raw.get("site_credentials"), region)
    exoscale_key = exoscale_secret = None
    if site_credentials == "exoscale-iam":
        exoscale_key = _key_id(p, EXOSCALE_KEY, provider_config.get(EXOSCALE_KEY))
        exoscale_secret = _secret(
            p, EXOSCALE_SECRET, provider_config.get(EXOSCALE_SECRET), f"`pulumi config set --secret {EXOSCALE_SECRET}`"
        )
        if is_empty(provider_config.get(EXOSCALE_KEY)):
            p.missing(
                EXOSCALE_KEY, "exoscale-iam creates roles and keys with it: `pulumi config set exoscale:key EXO...`"
            )
        if is_empty(provider_config.get(EXOSCALE_SECRET)):
            p.missing(EXOSCALE_SECRET, "set it with `pulumi config set --secret exoscale:secret`")

    raw_sites = _sites_mapping(p, raw.get("sites"))
    sites: list[SiteConfig] = []
    for slug, site_raw in raw_sites.items():
        if not isinstance(slug, str) or not SITE_SLUG.fullmatch(slug):
            p.bad(f"sites.{slug}", slug, "site slugs are lowercase DNS labels: a-z, 0-9 and inner hyphens, at most 63")
            continue
        sites.append(_parse_site(p, slug, site_raw, region, prefix, site_credentials))
    if len(sites) > max_sites:
        p.bad(
            "sites",
            f"{len(sites)} sites",
            f"this stack holds at most {max_sites} (max_sites); add a shard stack of the same region",
        )

    backups = _parse_backups(p, raw.get("backups"), region)
    if backups is not None and prefix is not None and (problem := bucket_name_problem(backup_bucket_name(prefix))):
        p.bad(
            "backups", "backups", f"the backup bucket {backup_bucket_name(prefix)!r} {problem}; shorten bucket_prefix"
        )
    if backups is not None and region is not None and region.capabilities.iam and "backups-writer" in raw_sites:
        p.bad("sites.backups-writer", "backups-writer", "the backup writer's IAM user has that name; rename the site")

    quota_value = raw.get("bucket_quota")
    if region is not None and region.capabilities.bucket_quota is not None:
        quota = _int(p, "bucket_quota", quota_value, region.capabilities.bucket_quota, 1, BUCKET_QUOTA_LIMIT)
        buckets = sum(1 + int(site.private) for site in sites) + int(backups is not None)
        if buckets > quota:
            p.bad(
                "sites",
                f"{buckets} buckets",
                f"{region.id} allows {quota} buckets per organisation"
                f"{' (the backup bucket included)' if backups is not None else ''}; raise the limit with the provider "
                "and set site-storage:bucket_quota, or move sites to another organisation",
            )
    elif quota_value is not None:
        p.bad("bucket_quota", quota_value, "only regions with a bucket quota (exoscale-*) take it")

    if p.lines or region is None or prefix is None:
        # Every way to leave region or prefix unset reports a line above; the fallback names both keys.
        raise ConfigError(p.lines or [f"{source}: region, bucket_prefix: could not be read; check both keys"])
    return StackSettings(
        stack=stack,
        source=source,
        region=region,
        bucket_prefix=prefix,
        protect=protect,
        max_sites=max_sites,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
        sites=tuple(sites),
        site_credentials=site_credentials or region.capabilities.credential_modes[0],
        exoscale_key=exoscale_key,
        exoscale_secret=exoscale_secret,
        lifecycle=lifecycle,
        backups=backups,
    )


def _credential_mode(p: _Problems, value: Any, region: Region | None) -> str | None:
    """The stack's credential mode, or None when it cannot be known (already reported)."""
    if region is None:
        return None
    modes = region.capabilities.credential_modes
    if value is None:
        return modes[0]
    if value not in modes:
        p.bad("site_credentials", value, f"region {region.id} supports {', '.join(modes)}")
        return None
    return str(value)


PROVIDER_NAMESPACES = ("aws", "exoscale", "pulumi")
"""Config namespaces besides the project's: the AWS and Exoscale providers' (`aws:region`, `exoscale:key`)
and Pulumi's own (`pulumi:tags`, `pulumi:disable-default-providers`)."""
CONFIG_NAMESPACES = (NAMESPACE, *PROVIDER_NAMESPACES)


def parse_config_key(key: str) -> tuple[str, str] | None:
    """(namespace, name) of a config key as Pulumi reads it; None for a key Pulumi refuses.

    `name` alone belongs to the project's namespace (`sites` is `site-storage:sites`),
    `ns:name` to `ns`, and Pulumi still reads the old form `ns:config:name` as `ns:name`.
    """
    if ":" not in key:
        return (NAMESPACE, key) if key else None
    namespace, name = key.split(":", 1)
    if ":" in name:
        legacy, _, rest = name.partition(":")
        if legacy != "config" or ":" in rest:
            return None
        name = rest
    if not namespace or not name:
        return None
    return namespace, name


@dataclass(frozen=True)
class ConfigEntries:
    """A Pulumi config mapping split by namespace, each key as the engine reads it."""

    values: dict[str, Any]
    """This project's values, namespace stripped (`{"region": ..., "sites": {...}}`)."""
    other: dict[str, Any]
    """The provider namespaces' values by full key (`aws:region`, `exoscale:secret`)."""
    written: dict[str, str]
    """How each key was written in the mapping, by its full key (`site-storage:sites` -> `sites`)."""


def split_config(config: Mapping[str, Any], *, source: str) -> ConfigEntries:
    """Split config keys by namespace as Pulumi does; unknown namespaces and duplicates are refused.

    A key Pulumi hands to another namespace (`site_storage:sites`) would be invisible to the
    program: on a deployed stack the missing sites plan to delete every site's resources.
    """
    problems: list[str] = []
    values: dict[str, Any] = {}
    other: dict[str, Any] = {}
    written: dict[str, str] = {}
    allowed = (
        f"allowed namespaces: {NAMESPACE} (this project; a key without a namespace, such as sites, is "
        f"{NAMESPACE}:sites), {', '.join(PROVIDER_NAMESPACES)}"
    )
    for raw_key, value in config.items():
        key = str(raw_key)
        parsed = parse_config_key(key)
        if parsed is None:
            problems.append(
                f"{source}: config.{key}: is not a config key Pulumi reads; use <namespace>:<name>, "
                f"e.g. {NAMESPACE}:sites, or a bare name for {NAMESPACE}"
            )
            continue
        namespace, name = parsed
        if namespace not in CONFIG_NAMESPACES:
            hint = f"; did you mean {NAMESPACE}:{name}?" if name in TOP_LEVEL_KEYS else ""
            problems.append(f"{source}: config.{key}: namespace {namespace!r} is not allowed; {allowed}{hint}")
            continue
        full = f"{namespace}:{name}"
        if full in written:
            problems.append(
                f"{source}: config.{key}: is the same key as config.{written[full]} (Pulumi reads both as {full}); "
                "keep one of them"
            )
            continue
        written[full] = key
        if namespace == NAMESPACE:
            values[name] = value
        else:
            other[full] = value
    if problems:
        raise ConfigError(problems)
    return ConfigEntries(values=values, other=other, written=written)

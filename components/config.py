"""The stack configuration operators write, validated into one typed object.

`parse_settings` is the only reader of `site-storage:*` values: the Pulumi program feeds it
the engine's config, `storagectl` feeds it a stack file. Every problem becomes one line
naming the file, the key path, the bad value and what is allowed, and all problems are
reported together, so an operator fixes a stack file in one pass.

Validation is hand-written rather than a pydantic model: the contract is one line per
problem with the exact key path (`sites.acme-live.cors.origins[1]`) and the allowed
values, and checks that need the region or the prefix (bucket names, capabilities) sit
beside the ones that do not.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from components.naming import (
    SITE_SLUG,
    bucket_name_problem,
    private_bucket_name,
    public_bucket_name,
)
from components.regions import Region, UnknownRegion, allowed_region_ids, resolve_region

NAMESPACE = "site-storage"
CORS_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
DEFAULT_MAX_SITES = 200
SECRET_KEYS = frozenset({"secret_access_key"})
EXOSCALE_KEY = "exoscale:key"
EXOSCALE_SECRET = "exoscale:secret"
_ORIGIN = re.compile(r"^https://(?P<host>[a-z0-9*-]+(\.[a-z0-9*-]+)*)(:(?P<port>\d{1,5}))?$")
_LOOPBACK_ORIGIN = re.compile(r"^http://(localhost|127\.0\.0\.1)(:(?P<port>\d{1,5}))?$")
LOOPBACK_ORIGIN_RULE = (
    "http origins are allowed only as http://localhost[:port] or http://127.0.0.1[:port], and only on region "
    "custom with an endpoint on this machine (127.0.0.1 or localhost)"
)
_HOST = re.compile(r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$")
_HEADER = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
_SIGNING_REGION = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
_BUCKET_PREFIX = re.compile(r"^[a-z0-9][a-z0-9.-]*$")


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

    def public_bucket(self, slug: str) -> str:
        return public_bucket_name(self.bucket_prefix, slug)

    def private_bucket(self, slug: str) -> str:
        return private_bucket_name(self.bucket_prefix, slug)

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
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Problems:
    def __init__(self, source: str) -> None:
        self.source = source
        self.lines: list[str] = []

    def bad(self, path: str, value: Any, allowed: str) -> None:
        self.lines.append(f"{self.source}: {path}: {show(value)} is not allowed; {allowed}")

    def missing(self, path: str, allowed: str) -> None:
        self.lines.append(f"{self.source}: {path}: is required; {allowed}")

    def unknown_keys(self, path: str, mapping: Mapping[str, Any], known: Sequence[str]) -> None:
        for key in mapping:
            if key not in known:
                where = f"{path}.{key}" if path else str(key)
                self.lines.append(f"{self.source}: {where}: unknown key; allowed keys: {', '.join(known)}")


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
    "sites",
)
SITE_KEYS = ("private", "media_domain", "cors")
CORS_KEYS = ("origins", "allow_any_origin", "methods", "headers", "expose_headers", "max_age_seconds")
CUSTOM_ONLY_KEYS = ("endpoint", "signing_region", "path_style", "signature")


def _bool(p: _Problems, path: str, value: Any, default: bool) -> bool:
    # The engine hands top-level scalars over as strings; stack files hold real booleans.
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    p.bad(path, value, "use true or false")
    return default


def _int(p: _Problems, path: str, value: Any, default: int, minimum: int) -> int:
    if value is None:
        return default
    number: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and value.isdigit():
        number = int(value)
    if number is None or number < minimum:
        p.bad(path, value, f"use a whole number of at least {minimum}")
        return default
    return number


def _str(p: _Problems, path: str, value: Any, allowed: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        p.bad(path, value, allowed)
        return None
    return value


def _str_list(
    p: _Problems, path: str, value: Any, item_ok: Any, allowed: str, default: tuple[str, ...]
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
        if not isinstance(item, str) or not item_ok(item):
            p.bad(where, item, allowed)
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


def _origin_ok(origin: str) -> bool:
    if origin == "*":
        return True
    match = _ORIGIN.match(origin)
    if not match or origin.count("*") > 1:
        return False
    port = match.group("port")
    return port is None or 1 <= int(port) <= 65535


def _loopback_origin(origin: str) -> bool:
    """`http://localhost[:port]` or `http://127.0.0.1[:port]`: Django's runserver on a developer's machine."""
    match = _LOOPBACK_ORIGIN.match(origin)
    port = match.group("port") if match else None
    return match is not None and (port is None or 1 <= int(port) <= 65535)


def _any_origin_form(origin: str) -> bool:
    """Well formed as an origin: https, or loopback http (allowed on some stacks only)."""
    return _origin_ok(origin) or _loopback_origin(origin)


def _allows_any_origin(origin: str) -> bool:
    return origin in ("*", "https://*") or origin.startswith("https://*:")


def _parse_cors(p: _Problems, path: str, raw: Any, region: Region | None) -> CorsRule | None:
    if not isinstance(raw, Mapping):
        p.bad(path, raw, f"use a mapping with keys {', '.join(CORS_KEYS)}")
        return None
    p.unknown_keys(path, raw, CORS_KEYS)
    allow_any = _bool(p, f"{path}.allow_any_origin", raw.get("allow_any_origin"), False)
    origin_rule = "use https://host[:port] (one * at most), or * with allow_any_origin: true"
    if raw.get("origins") is None:
        p.missing(f"{path}.origins", "list the origins allowed to read media, e.g. https://www.example.com")
        origins: tuple[str, ...] = ()
    else:
        origins = _str_list(p, f"{path}.origins", raw["origins"], _any_origin_form, origin_rule, ())
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
        lambda m: m in CORS_METHODS,
        f"S3 allows only {', '.join(CORS_METHODS)}",
        ("GET", "HEAD"),
    )
    if isinstance(raw.get("methods"), list) and not raw["methods"]:
        p.bad(f"{path}.methods", raw["methods"], "list at least one method")
    headers = _str_list(
        p,
        f"{path}.headers",
        raw.get("headers"),
        lambda h: bool(_HEADER.match(h)) and h.count("*") <= 1,
        "use header names (one * at most each)",
        ("*",),
    )
    expose = _str_list(
        p,
        f"{path}.expose_headers",
        raw.get("expose_headers"),
        lambda h: bool(_HEADER.match(h)) and "*" not in h,
        "use header names without *",
        (),
    )
    max_age = _int(p, f"{path}.max_age_seconds", raw.get("max_age_seconds"), 3600, 0)
    return CorsRule(
        origins=origins,
        methods=methods,
        headers=headers,
        expose_headers=expose,
        max_age_seconds=max_age,
        allow_any_origin=allow_any,
    )


def _parse_site(p: _Problems, slug: str, raw: Any, region: Region | None, prefix: str | None) -> SiteConfig:
    path = f"sites.{slug}"
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        p.bad(path, raw, f"use a mapping with keys {', '.join(SITE_KEYS)} (or leave it empty)")
        raw = {}
    p.unknown_keys(path, raw, SITE_KEYS)
    private = _bool(p, f"{path}.private", raw.get("private"), True)
    media_domain = _str(p, f"{path}.media_domain", raw.get("media_domain"), "use a host name such as media.example.com")
    if media_domain is not None and not _HOST.match(media_domain):
        p.bad(
            f"{path}.media_domain",
            media_domain,
            "use a lowercase host name such as media.example.com, without scheme, port or path",
        )
        media_domain = None
    cors = _parse_cors(p, f"{path}.cors", raw["cors"], region) if raw.get("cors") is not None else None
    if cors is not None and region is not None and not region.capabilities.cors:
        p.bad(f"{path}.cors", "cors", f"region {region.id} does not support bucket CORS rules")
    if prefix is not None:
        names = [public_bucket_name(prefix, slug)] + ([private_bucket_name(prefix, slug)] if private else [])
        for name in names:
            problem = bucket_name_problem(name)
            if problem:
                p.bad(path, name, f"bucket name {name!r} {problem}")
    return SiteConfig(slug=slug, private=private, media_domain=media_domain, cors=cors)


def parse_settings(
    raw: Mapping[str, Any],
    *,
    stack: str,
    source: str,
    secret_keys: frozenset[str] | None = None,
    provider_config: Mapping[str, Any] | None = None,
) -> StackSettings:
    """Validate namespace-stripped config values (`{"region": ..., "sites": {...}}`).

    `secret_keys`, when known (a stack file), names the keys stored encrypted; a secret
    written in plain text is refused so it never reaches git. `provider_config` holds the
    other namespaces' values this project reads (`exoscale:key`, `exoscale:secret`).
    """
    provider_config = provider_config or {}
    p = _Problems(source)
    p.unknown_keys("", raw, TOP_LEVEL_KEYS)
    if secret_keys is not None:
        for key in sorted(SECRET_KEYS - secret_keys):
            if raw.get(key) is not None:
                p.lines.append(
                    f"{source}: {key}: is stored in plain text; set it with "
                    f"`pulumi config set --secret {NAMESPACE}:{key}` so it is encrypted"
                )

    region_id = _str(p, "region", raw.get("region"), f"use {allowed_region_ids()}")
    region: Region | None = None
    if region_id is None and "region" not in raw:
        p.missing("region", f"use {allowed_region_ids()}")
    is_custom = region_id == "custom"
    if not is_custom:
        for key in CUSTOM_ONLY_KEYS:
            if raw.get(key) is not None:
                p.bad(key, raw[key], "only region custom takes it; catalog regions have fixed endpoints")
    endpoint = _str(p, "endpoint", raw.get("endpoint"), "use an http(s) URL")
    if endpoint is not None:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/") or parts.query:
            p.bad("endpoint", endpoint, "use http(s)://host[:port] with no path or query")
            endpoint = None
    if is_custom and raw.get("endpoint") is None:
        p.missing("endpoint", "region custom needs the S3 endpoint URL, e.g. https://minio.example.com")
    signing_region = _str(p, "signing_region", raw.get("signing_region"), "use a region name such as us-east-1")
    if signing_region is not None and not _SIGNING_REGION.match(signing_region):
        p.bad("signing_region", signing_region, "use a region name such as us-east-1")
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
            p.bad("region", region_id, f"use {allowed_region_ids()}")

    prefix = _str(p, "bucket_prefix", raw.get("bucket_prefix"), "use lowercase letters, digits, hyphens and dots")
    if raw.get("bucket_prefix") is None:
        p.missing("bucket_prefix", "bucket names are <prefix>-<site>-public/-private, e.g. acme-media")
    elif prefix is not None and not _BUCKET_PREFIX.match(prefix):
        p.bad(
            "bucket_prefix", prefix, "use lowercase letters, digits, hyphens and dots, starting with a letter or digit"
        )
        prefix = None

    protect = _bool(p, "protect", raw.get("protect"), True)
    lifecycle = False
    if region is not None:
        lifecycle = _bool(p, "lifecycle", raw.get("lifecycle"), region.capabilities.lifecycle_default)
        if lifecycle and not region.capabilities.lifecycle:
            p.bad("lifecycle", raw.get("lifecycle"), f"region {region.id} has no lifecycle rules; leave it out")
            lifecycle = False
    max_sites = _int(p, "max_sites", raw.get("max_sites"), DEFAULT_MAX_SITES, 1)

    access_key_id = _str(p, "access_key_id", raw.get("access_key_id"), "use the access key id as a string")
    secret_access_key = raw.get("secret_access_key")
    if secret_access_key is not None and (not isinstance(secret_access_key, str) or not secret_access_key):
        # Never echo a secret, even a malformed one.
        p.lines.append(
            f"{source}: secret_access_key: is not a non-empty string; set it with `pulumi config set --secret`"
        )
        secret_access_key = None
    if region is not None:
        if region.capabilities.iam:
            for key in ("access_key_id", "secret_access_key"):
                if raw.get(key) is not None:
                    p.lines.append(
                        f"{source}: {key}: is not allowed on {region.id}; AWS sites get their own IAM keys "
                        "and the provider uses the AWS credential chain"
                    )
        else:
            if access_key_id is None and raw.get("access_key_id") is None:
                p.missing(
                    "access_key_id", f"region {region.id} has no AWS IAM; give the key the provider and the sites use"
                )
            if secret_access_key is None and raw.get("secret_access_key") is None:
                p.missing(
                    "secret_access_key",
                    "set it with `pulumi config set --secret site-storage:secret_access_key`",
                )

    site_credentials = _credential_mode(p, raw.get("site_credentials"), region)
    exoscale_key = exoscale_secret = None
    if site_credentials == "exoscale-iam":
        exoscale_key = provider_config.get(EXOSCALE_KEY)
        exoscale_secret = provider_config.get(EXOSCALE_SECRET)
        if not isinstance(exoscale_key, str) or not exoscale_key:
            p.missing(
                EXOSCALE_KEY, "exoscale-iam creates roles and keys with it: `pulumi config set exoscale:key EXO...`"
            )
        if not isinstance(exoscale_secret, str) or not exoscale_secret:
            p.missing(EXOSCALE_SECRET, "set it with `pulumi config set --secret exoscale:secret`")
        elif secret_keys is not None and EXOSCALE_SECRET not in secret_keys:
            p.lines.append(
                f"{source}: {EXOSCALE_SECRET}: is stored in plain text; set it with "
                f"`pulumi config set --secret {EXOSCALE_SECRET}` so it is encrypted"
            )

    raw_sites = raw.get("sites")
    if isinstance(raw_sites, str):
        with contextlib.suppress(json.JSONDecodeError):
            raw_sites = json.loads(raw_sites)
    sites: list[SiteConfig] = []
    if raw_sites is None:
        raw_sites = {}
    if not isinstance(raw_sites, Mapping):
        p.bad("sites", raw_sites, "use a mapping from site slug to its settings")
        raw_sites = {}
    for slug, site_raw in raw_sites.items():
        if not isinstance(slug, str) or not SITE_SLUG.match(slug):
            p.bad(f"sites.{slug}", slug, "site slugs are lowercase DNS labels: a-z, 0-9 and inner hyphens, at most 63")
            continue
        sites.append(_parse_site(p, slug, site_raw, region, prefix))
    if len(sites) > max_sites:
        p.bad(
            "sites",
            f"{len(sites)} sites",
            f"this stack holds at most {max_sites} (max_sites); add a shard stack of the same region",
        )

    quota_value = raw.get("bucket_quota")
    if region is not None and region.capabilities.bucket_quota is not None:
        quota = _int(p, "bucket_quota", quota_value, region.capabilities.bucket_quota, 1)
        buckets = sum(1 + int(site.private) for site in sites)
        if buckets > quota:
            p.bad(
                "sites",
                f"{buckets} buckets",
                f"{region.id} allows {quota} buckets per organisation; raise the limit with the provider "
                "and set site-storage:bucket_quota, or move sites to another organisation",
            )
    elif quota_value is not None:
        p.bad("bucket_quota", quota_value, "only regions with a bucket quota (exoscale-*) take it")

    if p.lines or region is None or prefix is None:
        raise ConfigError(p.lines or [f"{source}: configuration is incomplete"])
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

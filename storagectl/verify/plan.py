"""What verify checks per site: expectations from the stack config, endpoints and keys from the outputs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from components.config import CorsRule, StackSettings
from components.django_settings import BOTOCORE_DEFAULT_CHECKSUMS
from components.regions import Capabilities
from storagectl.local_outputs import applied_by_local_up, is_local_stack, local_up_command
from storagectl.verify.outputs import StackOutputs


class PlanError(Exception):
    """The sites asked for cannot be checked; `problems` holds one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Credentials:
    key_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class BucketTarget:
    name: str
    acl: str
    """The canned ACL Django sends with every upload to this bucket (STORAGES default_acl)."""


@dataclass(frozen=True)
class SiteTarget:
    slug: str
    endpoint_url: str
    region_name: str
    signature_version: str
    addressing_style: str
    credentials: Credentials
    public: BucketTarget
    private: BucketTarget | None
    media_url: str
    cors: CorsRule | None
    """What the stack config declares, not what the outputs say."""
    endpoint_overridden: bool = False
    request_checksums: str = BOTOCORE_DEFAULT_CHECKSUMS
    """botocore's request_checksum_calculation as the site's settings (`environment`) set it."""
    response_checksums: str = BOTOCORE_DEFAULT_CHECKSUMS
    """botocore's response_checksum_validation, likewise."""


ISOLATION_MODES = ("auto", "ring", "every")
"""Which other private buckets each checked key is tried on (storagectl.verify.isolation)."""


@dataclass(frozen=True)
class VerifyPlan:
    stack: str
    region_id: str
    capabilities: Capabilities
    shared_credential: bool
    """Sites share the stack's one key: isolation between them is not promised."""
    sites: tuple[SiteTarget, ...]
    undeployed: tuple[str, ...] = ()
    """Sites in the stack config that the outputs do not have yet."""
    others: tuple[SiteTarget, ...] = ()
    """The stack's other deployed sites: not checked, but their private buckets must refuse the checked sites' keys."""
    deploy_command: str = ""
    """What brings the outputs up to the stack file: `pulumi up`, or `storagectl local up` for a local stack."""
    isolation: str = "auto"
    """One of ISOLATION_MODES."""

    def secrets(self) -> list[str]:
        """Every credential string that must never be printed, in the forms it could appear."""
        values: set[str] = set()
        for site in (*self.sites, *self.others):
            for value in (site.credentials.key_id, site.credentials.secret):
                values.update({value, quote(value, safe="")})
        return sorted((value for value in values if value), key=len, reverse=True)


def build_plan(
    settings: StackSettings,
    outputs: StackOutputs,
    selected: Sequence[str] = (),
    endpoint_url: str | None = None,
    isolation: str = "auto",
) -> VerifyPlan:
    """One target per selected site (all of the stack's sites when none are named), and one per other deployed site."""
    declared = {site.slug: site for site in settings.sites}
    unknown = unknown_sites(settings, selected)
    if unknown:
        raise PlanError(unknown)
    slugs = list(dict.fromkeys(selected)) if selected else list(declared)
    chosen = set(slugs)
    targets: list[SiteTarget] = []
    others: list[SiteTarget] = []
    undeployed: list[str] = []
    for slug in dict.fromkeys([*slugs, *declared]):
        facts = outputs.sites.get(slug)
        block = outputs.site_settings.get(slug)
        if facts is None or block is None:
            if slug in chosen:
                undeployed.append(slug)
            continue
        target = _target(slug, facts, block, declared[slug].cors, endpoint_url)
        (targets if slug in chosen else others).append(target)
    return VerifyPlan(
        stack=settings.stack,
        region_id=settings.region.id,
        capabilities=settings.region.capabilities,
        shared_credential=settings.shares_one_credential,
        sites=tuple(targets),
        undeployed=tuple(undeployed),
        others=tuple(others),
        deploy_command=local_up_command(settings.stack)
        if is_local_stack(settings) and applied_by_local_up(settings.stack)
        else f"pulumi up --stack {settings.stack}",
        isolation=isolation,
    )


def unknown_sites(settings: StackSettings, selected: Sequence[str]) -> list[str]:
    """One line per selected site the stack file does not have, naming the sites it has."""
    declared = [site.slug for site in settings.sites]
    known = ", ".join(declared) or "none"
    return [
        f"{settings.source}: sites.{slug}: no such site in stack {settings.stack} (sites: {known})"
        for slug in dict.fromkeys(selected)
        if slug not in declared
    ]


def _target(
    slug: str, facts: dict[str, Any], block: dict[str, Any], cors: CorsRule | None, endpoint_url: str | None
) -> SiteTarget:
    storages = block["STORAGES"]
    public = storages["default"]["OPTIONS"]
    private = storages.get("private", {}).get("OPTIONS") if facts.get("private_bucket") else None
    # The site's clients run with what its environment sets, so verify meets the same checksum trap.
    environment: dict[str, Any] = block.get("environment") or {}
    endpoint = endpoint_url or public.get("endpoint_url") or facts.get("endpoint_url") or ""
    return SiteTarget(
        slug=slug,
        endpoint_url=endpoint.rstrip("/"),
        region_name=public.get("region_name") or "us-east-1",
        signature_version=public.get("signature_version") or "s3v4",
        # A local server answers on one host: bucket subdomains of 127.0.0.1 do not resolve.
        addressing_style="path" if endpoint_url else public.get("addressing_style") or "virtual",
        credentials=Credentials(public["access_key"], public["secret_key"]),
        public=BucketTarget(public["bucket_name"], public.get("default_acl") or "private"),
        private=BucketTarget(private["bucket_name"], private.get("default_acl") or "private") if private else None,
        media_url=block.get("MEDIA_URL") or facts.get("media_url") or "",
        cors=cors,
        endpoint_overridden=endpoint_url is not None,
        request_checksums=environment.get("AWS_REQUEST_CHECKSUM_CALCULATION") or BOTOCORE_DEFAULT_CHECKSUMS,
        response_checksums=environment.get("AWS_RESPONSE_CHECKSUM_VALIDATION") or BOTOCORE_DEFAULT_CHECKSUMS,
    )

"""The Pulumi program: one provider for the stack's region, one SiteStorage per site, outputs.

`__main__.py` calls `run`; the offline preview and the tests run the same `__main__.py`
under the SDK's mock runtime.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.backups import MediaBackups, MediaBackupsArgs
from components.config import StackSettings
from components.naming import backup_writer_name, iam_user_name
from components.site_storage import SharedCredential, SiteStorage, SiteStorageArgs


def build_aws_provider(settings: StackSettings) -> aws.Provider:
    """The explicit AWS provider for an AWS region. Generic-S3 regions have none: their buckets are
    this project's dynamic resources, which read the stack's S3 key from the stack config."""
    region = settings.region
    return aws.Provider(
        region.id,
        region=region.signing_region,
        default_tags={"tags": {"managed-by": "site-storage", "stack": settings.stack}},
    )


def build_exoscale_provider(settings: StackSettings) -> pulumi.ProviderResource:
    """The Exoscale provider for per-site IAM roles and keys, from exoscale:key/exoscale:secret."""
    import pulumiverse_exoscale as exoscale

    return exoscale.Provider(
        "exoscale",
        key=settings.exoscale_key,
        secret=pulumi.Output.secret(settings.exoscale_secret or ""),
    )


def build_sites(settings: StackSettings, providers: list[pulumi.ProviderResource]) -> dict[str, SiteStorage]:
    shared: SharedCredential | None = None
    if settings.shares_one_credential:
        shared = SharedCredential(
            key_id=settings.access_key_id or "",
            secret=pulumi.Output.secret(settings.secret_access_key or ""),
        )
        if settings.sites:
            pulumi.log.warn(
                f"stack {settings.stack}: the {len(settings.sites)} site(s) on {settings.region.id} share one "
                "credential (site-storage:access_key_id); any site can read every other site's private files"
            )
    opts = pulumi.ResourceOptions(providers=providers)
    return {
        site.slug: SiteStorage(
            site.slug,
            SiteStorageArgs(
                site=site,
                region=settings.region,
                public_bucket=settings.public_bucket(site.slug),
                private_bucket=settings.private_bucket(site.slug) if site.private else None,
                iam_user_name=iam_user_name(settings.bucket_prefix, site.slug),
                protect=settings.protect,
                site_credentials=settings.site_credentials,
                shared_credential=shared,
                lifecycle=settings.lifecycle,
            ),
            opts=opts,
        )
        for site in settings.sites
    }


def build_backups(settings: StackSettings, providers: list[pulumi.ProviderResource]) -> MediaBackups | None:
    """The backup bucket and its writer when the stack declares site-storage:backups; else nothing."""
    if settings.backups is None or settings.backup_bucket is None:
        return None
    return MediaBackups(
        MediaBackupsArgs(
            settings=settings.backups,
            region=settings.region,
            bucket=settings.backup_bucket,
            bucket_prefix=settings.bucket_prefix,
            writer_name=backup_writer_name(settings.bucket_prefix),
            protect=settings.protect,
            lifecycle=settings.lifecycle,
        ),
        opts=pulumi.ResourceOptions(providers=providers),
    )


def site_facts(settings: StackSettings, site: SiteStorage) -> dict[str, Any]:
    """What anyone may read about a site: no credential in here."""
    return {
        "region": settings.region.id,
        "endpoint_url": settings.region.endpoint_url,
        "public_bucket": site.public_bucket,
        "private_bucket": site.private_bucket,
        "media_url": site.media_url,
        "cors": site.cors,
        "dsn_unavailable_reason": site.dsn_unavailable_reason,
    }


def run(settings: StackSettings) -> None:
    providers: list[pulumi.ProviderResource] = []
    if settings.region.kind == "aws":
        providers.append(build_aws_provider(settings))
    if settings.site_credentials == "exoscale-iam":
        providers.append(build_exoscale_provider(settings))
    sites = build_sites(settings, providers)
    pulumi.export("region", settings.region.id)
    pulumi.export("endpoint_url", settings.region.endpoint_url)
    pulumi.export("region_notes", list(settings.region.notes))
    pulumi.export("sites", {slug: site_facts(settings, site) for slug, site in sites.items()})
    pulumi.export("site_settings", all_site_settings(sites))
    backups = build_backups(settings, providers)
    if backups is not None:
        pulumi.export("backups", backups.facts())
        if backups.credential is not None:
            # Secret: the AWS writer's key, which storagectl media backup/prune/restore use.
            pulumi.export("backup_credential", pulumi.Output.secret(backups.credential))


def all_site_settings(sites: dict[str, SiteStorage]) -> pulumi.Output[dict[str, Any]]:
    """DSNs and STORAGES of every site: one secret output, read with --show-secrets.

    Built in one apply over the sites' keys: an Output per site's settings, combined into a
    dict, would lift every settings value into an Output of its own once more.
    """
    credentials: pulumi.Output[list[Any]] = pulumi.Output.all(*(site.credential for site in sites.values()))

    def build(pairs: list[list[str]]) -> dict[str, Any]:
        return {slug: site.settings_for(pair) for (slug, site), pair in zip(sites.items(), pairs, strict=True)}

    secret_credentials: pulumi.Output[list[Any]] = pulumi.Output.secret(credentials)
    return secret_credentials.apply(build)

"""Turning an offline evaluation into the preview document and the human-readable report."""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from storagectl.offline import Evaluation


def preview_document(evaluation: Evaluation) -> dict[str, Any]:
    """The `storagectl preview --json` object."""
    settings = evaluation.settings
    facts: dict[str, Any] = evaluation.outputs.get("sites", {})
    django: dict[str, Any] = evaluation.outputs.get("site_settings", {})
    counts = Counter(resource.site for resource in evaluation.resources)
    sites = {
        slug: {
            "public_bucket": fact["public_bucket"],
            "private_bucket": fact["private_bucket"],
            "media_url": fact["media_url"],
            "default_storage_dsn": django[slug]["default_storage_dsn"],
            "private_storage_dsn": django[slug]["private_storage_dsn"],
            "storages": django[slug]["STORAGES"],
            "thumbnail_default_storage": django[slug]["THUMBNAIL_DEFAULT_STORAGE"],
            "cors": fact["cors"],
            "dsn_unavailable_reason": fact["dsn_unavailable_reason"],
            "resource_count": counts[slug],
        }
        for slug, fact in facts.items()
    }
    return {
        "stack": settings.stack,
        "region": settings.region.id,
        "endpoint_url": settings.region.endpoint_url,
        "sites": sites,
        "resources": [resource.as_dict() for resource in evaluation.resources],
    }


def print_report(document: dict[str, Any], out: Console) -> None:
    out.print(
        f"[bold]stack {document['stack']}[/bold]  region {document['region']}  endpoint {document['endpoint_url']}"
        f"  ({len(document['sites'])} sites, {len(document['resources'])} resources)"
    )
    columns = ("site", "public bucket", "private bucket", "CORS origins", "media URL", "resources")
    rows = [
        (
            slug,
            site["public_bucket"],
            site["private_bucket"] or "-",
            ", ".join(site["cors"]["origins"]) if site["cors"] else "off",
            site["media_url"],
            str(site["resource_count"]),
        )
        for slug, site in document["sites"].items()
    ]
    if out.is_terminal:
        table = Table(show_lines=False)
        for column in columns:
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*row)
        out.print(table)
    else:
        # In a pipe or file, 80 columns would fold every bucket name: one block per site, one value a line.
        width = max(len(column) for column in columns[1:])
        for slug, *values in rows:
            out.print(slug, markup=False, highlight=False, soft_wrap=True)
            for column, value in zip(columns[1:], values, strict=True):
                out.print(f"  {column.ljust(width)}  {value}", markup=False, highlight=False, soft_wrap=True)
    for slug, site in document["sites"].items():
        out.print(f"[bold]{slug}[/bold] Django settings (credentials are preview placeholders):")
        if site["dsn_unavailable_reason"]:
            out.print(f"  DEFAULT_STORAGE_DSN: none: {site['dsn_unavailable_reason']}", soft_wrap=True)
        else:
            out.print(f"  DEFAULT_STORAGE_DSN={site['default_storage_dsn']}", soft_wrap=True, highlight=False)
            if site["private_storage_dsn"]:
                out.print(f"  PRIVATE_STORAGE_DSN={site['private_storage_dsn']}", soft_wrap=True, highlight=False)
        out.print(f"  MEDIA_URL={site['media_url']}", highlight=False)
        aliases = ", ".join(site["storages"])
        out.print(f"  STORAGES aliases: {aliases}; THUMBNAIL_DEFAULT_STORAGE={site['thumbnail_default_storage']}")

"""Turning an offline evaluation into the preview document and the human-readable report."""

from __future__ import annotations

import json
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
        # Only for a stack that declares site-storage:backups: every other stack's document keeps its shape.
        **({"backups": backups} if (backups := backups_document(evaluation)) is not None else {}),
        "resources": [resource.as_dict() for resource in evaluation.resources],
    }


def backups_document(evaluation: Evaluation) -> dict[str, Any] | None:
    """The backup bucket (site-storage:backups) and what keeps it private: its policy, ACL, the writer's policy."""
    facts: dict[str, Any] | None = evaluation.outputs.get("backups")
    if facts is None:
        return None
    stack_level = {resource.name: resource for resource in evaluation.resources if resource.site is None}
    bucket = stack_level.get("backups-bucket")
    policy = stack_level.get("backups-bucket-policy")
    writer = stack_level.get("backups-writer-policy")
    block = stack_level.get("backups-bucket-access-block")
    return {
        **facts,
        "protect": bool(bucket.protect) if bucket is not None else False,
        "acl": bucket.inputs.get("acl") if bucket is not None else None,
        "public_access_block": (
            {
                key: block.inputs.get(key)
                for key in ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
            }
            if block is not None
            else None
        ),
        "bucket_policy": json.loads(policy.inputs["policy"]) if policy is not None else None,
        "writer_policy": json.loads(writer.inputs["policy"]) if writer is not None else None,
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
    if document.get("backups"):
        _print_backups(document["backups"], out)
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


def _print_backups(backups: dict[str, Any], out: Console) -> None:
    retention = backups["retention"]
    lock = backups["object_lock"]
    locked = f"object lock {lock['mode']} {lock['days']} days" if lock else "no object lock"
    protected = "protected" if backups["protect"] else "NOT protected"
    out.print(
        f"backups: bucket {backups['bucket']} (private, {protected}, {locked}); keeps the newest set of each of the "
        f"last {retention['daily']} days, {retention['weekly']} weeks, {retention['monthly']} months; "
        f"written by {backups['writer']}",
        soft_wrap=True,
        highlight=False,
        markup=False,
    )
    if backups["public_access_block"] is not None:
        flags = ", ".join(f"{key} {value}" for key, value in backups["public_access_block"].items())
        out.print(f"  public access block: {flags}", soft_wrap=True, highlight=False, markup=False)
    if backups["acl"] is not None:
        out.print(f"  bucket ACL: {backups['acl']}", highlight=False, markup=False)
    for label in ("bucket_policy", "writer_policy"):
        if backups[label] is not None:
            text = json.dumps(backups[label], separators=(",", ":"))
            out.print(f"  {label.replace('_', ' ')}: {text}", soft_wrap=True, highlight=False, markup=False)

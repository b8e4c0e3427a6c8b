"""`storagectl sites list|add|remove`: the sites of one stack, and its shard limit."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from components.config import NAMESPACE
from storagectl import pulumi_runner
from storagectl.bucket_clash import SiblingStack, sibling_stacks, site_buckets
from storagectl.commands import (
    BUCKET_TYPES,
    ApplyOption,
    DryRunOption,
    OpenStack,
    SiteArgument,
    StackOption,
    check_apply,
    child_urn,
    editing,
    fail,
    follow_up,
    open_stack,
    say,
    site_resources,
    write_edit,
)
from storagectl.local_outputs import local_outputs_path
from storagectl.stack_edit import StackEditor
from storagectl.stack_files import project_root, stack_path

app = typer.Typer(
    help="List the sites of a stack; add and remove them by editing the stack file (never deleting media).",
    no_args_is_help=True,
)

DECOMMISSION_SECTION = 'docs/operators.md, "Decommissioning a site"'


@app.command("list")
def list_sites(
    stack: StackOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list instead of the table.")] = False,
) -> None:
    """Table of the stack's sites: slug, buckets, CORS on/off, media domain, private bucket yes/no."""
    opened = open_stack(stack)
    settings = opened.settings
    say(
        f"stack {stack}: {len(settings.sites)} of {settings.max_sites} sites ({NAMESPACE}:max_sites), "
        f"region {settings.region.id}"
    )
    if as_json:
        rows = [
            {
                "site": site.slug,
                "buckets": site_buckets(settings, site.slug, site.private),
                "cors": site.cors is not None,
                "media_domain": site.media_domain,
                "private": site.private,
            }
            for site in settings.sites
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = [("SITE", "BUCKETS", "CORS", "MEDIA DOMAIN", "PRIVATE")]
    for site in settings.sites:
        cors, private = ("on" if site.cors else "off"), ("yes" if site.private else "no")
        table.append(
            (
                site.slug,
                ", ".join(site_buckets(settings, site.slug, site.private)),
                cors,
                site.media_domain or "-",
                private,
            )
        )
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    for line in table:
        typer.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


@app.command("add")
def add(
    site: SiteArgument,
    stack: StackOption,
    media_domain: Annotated[
        str | None,
        typer.Option("--media-domain", help="Host (CDN or custom domain) for MEDIA_URL instead of the bucket host."),
    ] = None,
    private: Annotated[
        bool, typer.Option("--private/--no-private", help="Create the site's private bucket (signed URLs).")
    ] = True,
    cors_origins: Annotated[
        list[str] | None,
        typer.Option(
            "--cors-origin", help="Switch CORS on for this https origin; repeat for several.", show_default=False
        ),
    ] = None,
    dry_run: DryRunOption = False,
    apply: ApplyOption = False,
) -> None:
    """Add SITE to the stack. Refuses a full stack (max_sites) and names a shard with room."""
    check_apply(apply, dry_run, stack)
    with editing(stack, dry_run=dry_run) as opened:
        if any(existing.slug == site for existing in opened.settings.sites):
            raise fail([f"{opened.source}: sites.{site}: already in stack {stack}; use `storagectl cors` to change it"])
        if len(opened.settings.sites) >= opened.settings.max_sites:
            options = _add_options(media_domain, private, cors_origins or [])
            others = sibling_stacks(opened.path, say)  # the valid stack files beside this one
            raise fail(_full_stack_lines(opened, others, site, options))

        value = CommentedMap()
        if not private:
            value["private"] = False
        if media_domain is not None:
            value["media_domain"] = media_domain
        if cors_origins:
            value["cors"] = CommentedMap([("origins", CommentedSeq(dict.fromkeys(cors_origins)))])
        editor = StackEditor(opened.path, opened.text)
        editor.add_key(editor.project_key("sites"), site, value)
        # Validated like preview, so a slug whose bucket names another stack file uses is refused here.
        edit = write_edit(opened, editor.text, site, dry_run=dry_run)
    follow_up(edit, apply=apply)


@app.command("remove")
def remove(
    site: SiteArgument,
    stack: StackOption,
    unprotected: Annotated[
        bool,
        typer.Option(
            "--unprotected",
            help="Confirm the decommission steps are done: media exported, buckets unprotected in the Pulumi "
            "state and emptied (docs/operators.md: Decommissioning a site).",
        ),
    ] = False,
    outputs: Annotated[
        Path | None,
        typer.Option(
            "--outputs",
            help="Saved `pulumi stack output --json --show-secrets` file, to show SITE was never deployed (then it "
            "has no buckets to protect); default: the file `storagectl local up` wrote, else the Pulumi CLI if "
            "installed.",
            dir_okay=False,
        ),
    ] = None,
    dry_run: DryRunOption = False,
    apply: ApplyOption = False,
) -> None:
    """Remove SITE from the stack file. Never deletes media: refuses while its buckets are protected, unless
    the stack outputs show SITE was never deployed."""
    check_apply(apply, dry_run, stack)
    with editing(stack, dry_run=dry_run) as opened:
        opened.site(site)
        resources = site_resources(opened.file, site)
        protected = [r for r in resources if r.type in BUCKET_TYPES and r.protect]
        deployed = _deployed(opened, site, outputs) if protected and not unprotected else None
        if protected and not unprotected and deployed is not False:
            raise fail(_decommission_lines(opened, site, resources, deployment_unknown=deployed is None))
        if deployed is False:
            say(
                f"{site} is not in the outputs of stack {stack}: it was never deployed, so it has no buckets or "
                "media; removing it from the stack file"
            )
        elif protected:
            say(
                f"--unprotected: you confirm {site}'s buckets are unprotected in the state and empty; "
                "pulumi up still refuses to delete a protected bucket, and S3 a bucket that holds objects"
            )
        else:
            say(
                f"{site}'s buckets are not protected ({NAMESPACE}:protect is false): pulumi up deletes them if they "
                "are empty; S3 refuses to delete a bucket that holds objects"
            )
        editor = StackEditor(opened.path, opened.text)
        editor.delete_key((*editor.project_key("sites"), site))
        edit = write_edit(opened, editor.text, site, dry_run=dry_run)
    follow_up(edit, apply=apply)


def _add_options(media_domain: str | None, private: bool, cors_origins: Sequence[str]) -> list[str]:
    words = []
    if media_domain:
        words += ["--media-domain", media_domain]
    if not private:
        words.append("--no-private")
    for origin in cors_origins:
        words += ["--cors-origin", origin]
    return words


def _full_stack_lines(
    opened: OpenStack, others: Sequence[SiblingStack], site: str, options: Sequence[str]
) -> list[str]:
    settings = opened.settings
    region = settings.region.id
    lines = [
        f"{opened.source}: sites: stack {opened.name} is full: {len(settings.sites)} of {settings.max_sites} sites "
        f"({NAMESPACE}:max_sites); nothing changed. Sites beyond the limit go to another stack of region {region}."
    ]
    for other in others:
        if other.settings.region.id == region and len(other.settings.sites) < other.settings.max_sites:
            lines.append(
                f"stack {other.name} ({other.source}) is in region {region} and has room "
                f"({len(other.settings.sites)} of {other.settings.max_sites} sites); add the site there:"
            )
            lines.append("  " + shlex.join(["storagectl", "sites", "add", site, "--stack", other.name, *options]))
            return lines
    shard = _next_shard_name(opened, others)
    lines.append(f"no stack of region {region} has room; create shard stack {shard} (Pulumi CLI), then add the site:")
    lines += ["  " + line for line in _shard_commands(opened, shard)]
    lines.append("  " + shlex.join(["storagectl", "sites", "add", site, "--stack", shard, *options]))
    return lines


def _next_shard_name(opened: OpenStack, others: Sequence[SiblingStack]) -> str:
    base = re.sub(r"-shard-\d+$", "", opened.name)
    taken = {opened.name, *(other.name for other in others)}
    number = 2
    while f"{base}-shard-{number}" in taken or stack_path(f"{base}-shard-{number}").exists():
        number += 1
    return f"{base}-shard-{number}"


def _config_text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _shard_commands(opened: OpenStack, shard: str) -> list[str]:
    """`pulumi` commands giving a new stack this one's settings, sites left out; secrets are prompted for."""
    stack_file = opened.file
    commands = [shlex.join(["pulumi", "stack", "init", shard])]
    entries = [(f"{NAMESPACE}:{key}", value, key in stack_file.secret_keys) for key, value in stack_file.values.items()]
    entries += [(key, value, key in stack_file.other_secret_keys) for key, value in stack_file.other_config.items()]
    for key, value, secret in entries:
        if key == f"{NAMESPACE}:sites" or isinstance(value, dict | list):
            continue
        if secret:
            commands.append(shlex.join(["pulumi", "config", "set", "--stack", shard, "--secret", key]) + "  # prompts")
        else:
            commands.append(shlex.join(["pulumi", "config", "set", "--stack", shard, key, _config_text(value)]))
    return commands


def _deployed(opened: OpenStack, site: str, outputs: Path | None) -> bool | None:
    """Whether the stack's outputs have SITE; None when there are none to read here (no file, no Pulumi CLI)."""
    from storagectl.verify.outputs import OutputsError, read_outputs_text

    stack = opened.name
    if outputs is None and not local_outputs_path(stack).is_file() and not pulumi_runner.runner().available():
        return None
    try:
        text, _ = read_outputs_text(stack, outputs, cwd=project_root())
        document = json.loads(text)
    except (OutputsError, json.JSONDecodeError):
        return None
    if not isinstance(document, dict) or document.get("region", opened.settings.region.id) != opened.settings.region.id:
        return None  # not this stack's outputs: nothing can be concluded from them
    sites = document.get("sites")
    return site in sites if isinstance(sites, dict) else None


def _decommission_lines(
    opened: OpenStack, site: str, resources: Sequence[Any], *, deployment_unknown: bool
) -> list[str]:
    stack = opened.name
    endpoint = opened.settings.region.endpoint_url
    buckets = [r for r in resources if r.type in BUCKET_TYPES]
    names = [r.inputs["bucket"] for r in buckets]
    backup = shlex.join(["storagectl", "media", "backup", site, "--stack", stack, "--to", f"./media-backup-{site}"])
    lines = [
        f"refusing to remove site {site} from stack {stack}: its buckets are protected ({NAMESPACE}:protect), "
        "and removing a site never deletes media; nothing changed.",
    ]
    if deployment_unknown:
        save = f"pulumi stack output --json --show-secrets --stack {stack} > outputs.json"
        lines.append(
            f"If {site} was never deployed, it has no buckets: show it with its outputs (`{save}` where the Pulumi "
            f"CLI is), then `storagectl sites remove {site} --stack {stack} --outputs outputs.json` removes it "
            "without these steps."
        )
    lines += [
        f"Decommission it deliberately ({DECOMMISSION_SECTION}):",
        "  1. back up the media (both buckets, with a manifest; run it again to resume):",
        f"       {backup}",
        "  2. unprotect the buckets in the Pulumi state:",
        *(
            f"       {shlex.join(['pulumi', 'state', 'unprotect', '--stack', stack, child_urn(stack, r.type, r.name)])}"
            for r in buckets
        ),
        "  3. empty the buckets (this deletes the media: only after step 1; storagectl never does), e.g. with the "
        "AWS CLI:",
        *(f"       aws s3 rm {shlex.quote(f's3://{name}')} --recursive --endpoint-url {endpoint}" for name in names),
        "  4. remove the site from the stack file, then run the `pulumi up` it prints:",
        f"       {shlex.join(['storagectl', 'sites', 'remove', site, '--stack', stack, '--unprotected'])}",
        "To stop managing the site but keep its buckets and media as they are, make Pulumi forget them "
        "(their settings first, the buckets last), then do step 4:",
    ]
    for bucket in buckets:
        for r in resources:
            if r.name.startswith(f"{bucket.name}-"):
                urn = child_urn(stack, r.type, r.name)
                lines.append(f"       {shlex.join(['pulumi', 'state', 'delete', '--stack', stack, urn])}")
        urn = child_urn(stack, bucket.type, bucket.name)
        lines.append(f"       {shlex.join(['pulumi', 'state', 'delete', '--stack', stack, '--force', urn])}")
    return lines

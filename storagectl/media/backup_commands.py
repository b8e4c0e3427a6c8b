"""Backup sets on the command line: `media backup SITE|--all` without --to, `media backups`, `media prune`,
and `media restore|verify-backup --from latest|TIME` (registered in storagectl/media/command.py).

They need a stack that declares site-storage:backups. The backup writer's credential is the
`backup_credential` stack output on AWS (an IAM user that reads the stack's site buckets and
writes only the backup bucket); elsewhere the operator's credentials (the AWS credential chain,
set to the stack's own key, as for `verify`), since there is no IAM to make a writer of its own.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from storagectl.commands import EXIT_FAILED, EXIT_INVALID, StackOption, check_stack_name, fail, say
from storagectl.verify.command import _endpoint

if TYPE_CHECKING:
    from components.config import StackSettings
    from storagectl.media.backup_sets import BackupTarget
    from storagectl.verify.plan import VerifyPlan

WRITER_FROM_OUTPUTS = "the backup writer's key (stack output backup_credential)"
WRITER_FROM_CHAIN = "the operator's credentials (the stack's key: set it as AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"


@dataclass(frozen=True)
class BackupContext:
    settings: StackSettings
    plan: VerifyPlan
    target: BackupTarget


def declares_backups(stack: str) -> bool:
    """Whether the stack file declares site-storage:backups (the stack file alone; no outputs read)."""
    from components.config import ConfigError
    from storagectl.stack_files import read_stack_file, stack_path

    check_stack_name(stack)
    try:
        return read_stack_file(stack_path(stack)).settings().backups is not None
    except ConfigError as error:
        raise fail(error.problems) from None


def backup_context(
    stack: str, outputs: Path | None, endpoint_url: str | None, slugs: list[str], concurrency: int
) -> BackupContext:
    """The stack's settings, the sites' plan and the backup bucket with the writer's client."""
    from components.config import ConfigError
    from storagectl.media.backup_sets import BackupTarget
    from storagectl.stack_files import read_stack_file, stack_path
    from storagectl.verify.clients import Clients
    from storagectl.verify.outputs import OutputsError, parse_outputs, read_outputs_text
    from storagectl.verify.plan import PlanError, build_plan

    check_stack_name(stack)
    try:
        stack_file = read_stack_file(stack_path(stack))
        settings = stack_file.settings()
        if settings.backups is None or settings.backup_bucket is None:
            raise fail(
                [
                    f"{stack_file.path}: site-storage:backups is not set; declare it (docs/configuration.md) and run "
                    "`pulumi up`, or give --to DIR|s3://BUCKET/PREFIX"
                ]
            )
        text, source = read_outputs_text(stack, outputs, cwd=stack_file.path.parent.parent)
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise OutputsError([f"{source}: not JSON (line {error.lineno}, column {error.colno})"]) from None
        stack_outputs = parse_outputs(document, source=source, stack=stack)
        plan = build_plan(settings, stack_outputs, slugs, endpoint_url)
    except (ConfigError, OutputsError, PlanError) as error:
        raise fail(error.problems, error.exit_code if isinstance(error, OutputsError) else EXIT_INVALID) from None
    if plan.undeployed:
        raise fail([f"site {slug}: not in the stack outputs yet; run `pulumi up`" for slug in plan.undeployed])
    if not plan.sites:
        raise fail([f"{settings.source}: the stack has no deployed site; backups need one to reach the endpoint"])
    if "backups" not in document:
        raise fail([f"{source}: has no backups output; run `pulumi up` for stack {stack} to create the backup bucket"])
    credential = _writer_credential(document.get("backup_credential"), source)
    writer = WRITER_FROM_OUTPUTS if credential is not None else WRITER_FROM_CHAIN
    clients = Clients(credential, pool_connections=concurrency)
    site = plan.sites[0]
    target = BackupTarget(
        bucket=settings.backup_bucket,
        client=clients.operator(site),
        identity=(site.endpoint_url, "backup-writer"),
        writer=writer,
        site=site,
    )
    return BackupContext(settings, plan, target)


def _writer_credential(value: Any, source: str) -> Any:
    from storagectl.verify.plan import Credentials

    if value is None:
        return None
    if isinstance(value, str):
        raise fail([f"{source}: backup_credential is hidden ({value}); read the outputs with --show-secrets"])
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(item, str) for item in value)):
        raise fail([f"{source}: backup_credential is not [key id, secret]"])
    return Credentials(value[0], value[1])


def site_store_for(context: BackupContext, slug: str) -> Any:
    """The site's buckets, read with the backup writer's client (so copies into the bucket are server-side)."""
    from storagectl.media.stores import BucketStore

    site = next(site for site in context.plan.sites if site.slug == slug)
    buckets = {"public": site.public.name}
    if site.private is not None:
        buckets["private"] = site.private.name
    return BucketStore(
        f"site {slug}",
        context.target.client,
        context.target.identity,
        buckets,
        site=site,
        acls={},
        anonymous={"public": True, "private": False},
    )


def record_acls(context: BackupContext, slug: str) -> dict[str, str | None]:
    plan = context.plan
    if not plan.capabilities.canned_acls or plan.capabilities.ownership_controls:
        return {}
    site = next(site for site in plan.sites if site.slug == slug)
    acls: dict[str, str | None] = {"public": site.public.acl}
    if site.private is not None:
        acls["private"] = site.private.acl
    return acls


def run_backup_sets(
    stack: str,
    site: str | None,
    every_site: bool,
    outputs: Path | None,
    endpoint_url: str | None,
    check: str,
    as_json: bool,
    concurrency: int,
) -> None:
    """One new set per site; exit 1 when any site's set is not complete."""
    from storagectl.local_outputs import LOCAL_DIR
    from storagectl.media import backup_sets
    from storagectl.media.engine import MediaError
    from storagectl.media.set_backup import write_set
    from storagectl.progress import stderr_progress
    from storagectl.stack_files import project_root
    from storagectl.wording import counted, size

    context = backup_context(stack, outputs, endpoint_url, [] if every_site else [site or ""], concurrency)
    slugs = [target.slug for target in context.plan.sites]
    now = backup_sets.clock()
    stderr = Console(stderr=True, soft_wrap=True)
    out = Console(soft_wrap=True, highlight=False)
    documents = []
    ok = True
    for slug in slugs:
        say(
            f"backup: site {slug} -> s3://{context.target.bucket}/{backup_sets.sets_prefix(slug)}"
            f"{backup_sets.set_name(now)}/; keys: {context.target.writer} reads {slug} and writes the backup bucket"
        )
        try:
            with stderr_progress(f"media backup {slug}", stderr) as progress:
                task = progress.add_task("objects", total=None)

                def report(what: str, amount: int, task: Any = task, progress: Any = progress) -> None:
                    if what == "total":
                        progress.update(task, total=amount)
                    else:
                        progress.advance(task)

                result = write_set(
                    context.target,
                    site_store_for(context, slug),
                    slug,
                    now=now,
                    concurrency=concurrency,
                    journal_dir=project_root() / LOCAL_DIR / "media-uploads",
                    record_acls=record_acls(context, slug),
                    check=check,
                    progress=report,
                )
        except MediaError as error:
            raise fail(error.problems, error.exit_code) from None
        ok = ok and result.ok
        documents.append(result.document())
        if as_json:
            continue
        for line in result.failed:
            out.print(f"failed: {line}", markup=False)
        for line in result.cleaned:
            out.print(f"cleaned: {line}", markup=False)
        for line in result.privacy_failed:
            out.print(f"PRIVACY: {line}", markup=False)
        state = "complete" if result.complete else "INCOMPLETE (no manifest: not listed, not restorable)"
        out.print(
            f"site {slug}: set {result.name} {state}; {counted(result.objects, 'object')} ({size(result.bytes)}), "
            f"sent {counted(result.new_objects, 'new object')} ({size(result.new_bytes)}), "
            f"{len(result.failed)} failed; anonymous check: {counted(result.checked, 'object')}, "
            f"{counted(result.listings, 'bucket listing')}, {len(result.privacy_failed)} wrong; {result.seconds:.1f}s",
            markup=False,
        )
    if as_json:
        sys.stdout.write(json.dumps({"sets": documents, "ok": ok}, indent=2) + "\n")
    raise typer.Exit(0 if ok else EXIT_FAILED)


SiteArg = Annotated[str, typer.Argument(help="Site slug, e.g. acme-live.", metavar="SITE", show_default=False)]
Outputs = Annotated[
    Path | None,
    typer.Option("--outputs", help="Saved `pulumi stack output --json --show-secrets` file.", dir_okay=False),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON document instead of text.")]


Endpoint = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Talk to this S3 endpoint instead of the stack's.", callback=_endpoint),
]


def backups(
    site: SiteArg,
    stack: StackOption,
    outputs: Outputs = None,
    endpoint_url: Endpoint = None,
    as_json: AsJson = False,
) -> None:
    """List SITE's complete backup sets: time, objects, bytes, and the bytes each set had to send."""
    from botocore.exceptions import BotoCoreError, ClientError

    from storagectl.media.backup_sets import list_sets, read_set
    from storagectl.media.manifest import ManifestError
    from storagectl.verify.results import describe
    from storagectl.wording import counted, size

    context = backup_context(stack or "", outputs, endpoint_url, [], 4)
    target = context.target
    rows: list[dict[str, Any]] = []
    problems = []
    try:
        infos = [info for info in list_sets(target, site) if info.complete]
    except (ClientError, BotoCoreError) as error:
        raise fail([f"s3://{target.bucket}: listing the sets of {site}: {describe(error)}"], EXIT_FAILED) from None
    for info in infos:
        try:
            chosen = read_set(target, info)
        except (ClientError, BotoCoreError, ManifestError, ValueError) as error:
            problems.append(f"set {info.name}: its manifest cannot be read: {error}")
            continue
        rows.append({"set": info.name, "time": info.time.isoformat().replace("+00:00", "Z"), **chosen.totals})
    if as_json:
        sys.stdout.write(
            json.dumps({"site": site, "bucket": target.bucket, "sets": rows, "problems": problems}, indent=2) + "\n"
        )
    else:
        out = Console(soft_wrap=True, highlight=False)
        for row in rows:
            out.print(
                f"{row['set']}  {counted(row['objects'], 'object')}  {size(row['bytes'])}  new: "
                f"{counted(row['new_objects'], 'object')} ({size(row['new_bytes'])})",
                markup=False,
            )
        for line in problems:
            out.print(f"failed: {line}", markup=False)
        out.print(f"site {site}: {counted(len(rows), 'complete set')} in s3://{target.bucket}/{site}/", markup=False)
    raise typer.Exit(EXIT_FAILED if problems else 0)


def prune(
    stack: StackOption,
    outputs: Outputs = None,
    endpoint_url: Endpoint = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be removed; remove nothing.")] = False,
    as_json: AsJson = False,
) -> None:
    """Apply the stack's backup retention to every site's sets; delete what no kept set needs."""
    from botocore.exceptions import BotoCoreError, ClientError

    from storagectl.media import backup_sets
    from storagectl.media.prune import prune_all
    from storagectl.verify.results import describe
    from storagectl.wording import counted, size

    context = backup_context(stack or "", outputs, endpoint_url, [], 4)
    settings = context.settings
    assert settings.backups is not None
    retention = settings.backups.retention
    target = context.target
    try:
        sites = sorted(set(backup_sets.list_backed_up_sites(target)))
    except (ClientError, BotoCoreError) as error:
        raise fail([f"s3://{target.bucket}: listing its sites: {describe(error)}"], EXIT_FAILED) from None
    say(
        f"prune: s3://{target.bucket}; keeps the newest set of each of the last {retention.daily} days, "
        f"{retention.weekly} weeks, {retention.monthly} months; keys: {target.writer}"
    )
    results, seconds = prune_all(target, sites, retention, now=backup_sets.clock(), dry_run=dry_run)
    failed = [line for result in results for line in result.failed]
    if as_json:
        document = {
            "bucket": target.bucket,
            "dry_run": dry_run,
            "sites": [r.document() for r in results],
            "ok": not failed,
        }
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        out = Console(soft_wrap=True, highlight=False)
        verb = "would remove" if dry_run else "removed"
        for result in results:
            for name in result.removed:
                out.print(f"{verb}: {result.site}/{name}", markup=False)
            for name in result.stale:
                out.print(f"{verb}: {result.site}/{name} (incomplete, older than a day)", markup=False)
            for line in result.failed:
                out.print(f"failed: {line}", markup=False)
            out.print(
                f"site {result.site}: kept {counted(len(result.kept), 'set')}, "
                f"{verb} {counted(len(result.removed), 'set')} and {counted(len(result.stale), 'incomplete set')}, "
                f"{counted(len(result.in_progress), 'set')} in progress left alone; "
                f"{verb} {counted(result.blobs_deleted, 'stored object')} "
                f"({size(result.bytes_deleted)}) no kept set needs",
                markup=False,
            )
        out.print(f"prune: {counted(len(results), 'site')}; {len(failed)} failed; {seconds:.1f}s", markup=False)
    raise typer.Exit(EXIT_FAILED if failed else 0)


def set_source(context: BackupContext, site: str, wanted: str) -> Any:
    """The SetStore of SITE's set `wanted` (latest or a time), or exit 2 naming why."""
    from botocore.exceptions import BotoCoreError, ClientError

    from storagectl.media.backup_sets import SetStore, choose_set
    from storagectl.media.manifest import ManifestError
    from storagectl.verify.results import describe

    try:
        chosen = choose_set(context.target, site, wanted)
    except (ClientError, BotoCoreError) as error:
        raise fail(
            [f"s3://{context.target.bucket}: reading the sets of {site}: {describe(error)}"], EXIT_FAILED
        ) from None
    except ManifestError as error:
        raise fail([str(error)], EXIT_FAILED) from None
    if isinstance(chosen, str):
        raise fail([chosen])
    return SetStore(context.target, chosen)


def register(app: typer.Typer) -> None:
    app.command("backups")(backups)
    app.command("prune")(prune)

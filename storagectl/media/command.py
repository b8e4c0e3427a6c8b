"""`storagectl media backup|restore|copy|push|pull`; registered on the app in storagectl/cli.py.

Keys: by default each site's own key reads or writes that site's buckets (`--key site`), so a
site key never touches another site's media; copying between two sites then streams through
this machine. `--key operator` uses the operator's credentials (the default AWS credential
chain, as `pulumi up` does) for both sides, which lets the same endpoint copy server-side. A
backup bucket (`s3://...`) is always reached with the operator's credentials. Every run says
which key did what. A custom-endpoint stack has one key for all its sites; there `--key site`
is that key, and runs name it so.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from storagectl.commands import EXIT_FAILED, EXIT_INVALID, StackOption, check_stack_name, fail, say
from storagectl.verify.command import _endpoint

if TYPE_CHECKING:
    from storagectl.media.engine import Job, Summary
    from storagectl.media.stores import BucketStore, DirStore, Store
    from storagectl.verify.clients import Clients
    from storagectl.verify.plan import SiteTarget, VerifyPlan

app = typer.Typer(
    help="Back up, restore, copy, push and pull a site's media; private objects stay private.",
    no_args_is_help=True,
)

# engine.DEFAULT_CONCURRENCY, not imported: the engine pulls in boto3, and `storagectl --help` should stay fast.
DEFAULT_CONCURRENCY = 32


class KeyChoice(StrEnum):
    site = "site"
    operator = "operator"


class CheckChoice(StrEnum):
    sample = "sample"
    all = "all"
    none = "none"


SiteArg = Annotated[str, typer.Argument(help="Site slug, e.g. acme-live.", metavar="SITE", show_default=False)]
Outputs = Annotated[
    Path | None,
    typer.Option(
        "--outputs",
        help="Saved `pulumi stack output --json --show-secrets` file; default: .local/outputs-<stack>.json when "
        "`storagectl local up` wrote one, else the Pulumi CLI is asked.",
        dir_okay=False,
    ),
]
Endpoint = Annotated[
    str | None,
    typer.Option("--endpoint-url", help="Talk to this S3 endpoint instead of the stack's.", callback=_endpoint),
]
Key = Annotated[
    KeyChoice,
    typer.Option(
        "--key",
        help="site: each site's own key on its own buckets; operator: the operator's credentials (AWS credential "
        "chain) on both sides, for server-side copies.",
    ),
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="List what would be copied or deleted; write nothing.")]
Delete = Annotated[bool, typer.Option("--delete", help="Delete destination objects the source does not have.")]
Overwrite = Annotated[
    bool, typer.Option("--overwrite-newer", help="Replace destination objects that differ and are newer.")
]
Check = Annotated[
    CheckChoice,
    typer.Option("--check", help="Anonymous GETs afterwards: up to 25 private and 5 public objects, all, or none."),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print one JSON summary instead of the text one.")]
Concurrency = Annotated[int, typer.Option("--concurrency", min=1, max=256, help="Objects moved at the same time.")]


def _plan(stack: str, outputs: Path | None, endpoint_url: str | None, slugs: list[str]) -> VerifyPlan:
    from components.config import ConfigError
    from storagectl.stack_files import read_stack_file, stack_path
    from storagectl.verify.outputs import OutputsError, read_outputs
    from storagectl.verify.plan import PlanError, build_plan

    check_stack_name(stack)
    try:
        stack_file = read_stack_file(stack_path(stack))
        settings = stack_file.settings()
        stack_outputs = read_outputs(stack, outputs, cwd=stack_file.path.parent.parent)
        plan = build_plan(settings, stack_outputs, slugs, endpoint_url)
    except (ConfigError, OutputsError, PlanError) as error:
        raise fail(error.problems, error.exit_code if isinstance(error, OutputsError) else EXIT_INVALID) from None
    if plan.undeployed:
        raise fail(
            [f"site {slug}: not in the stack outputs yet; run `{plan.deploy_command}`" for slug in plan.undeployed]
        )
    return plan


def _site(plan: VerifyPlan, slug: str) -> SiteTarget:
    return next(site for site in plan.sites if site.slug == slug)


def _half_acls(site: SiteTarget) -> dict[str, str | None]:
    """The canned ACL the site's STORAGES send for each of its halves (None: none sent)."""
    acls: dict[str, str | None] = {"public": site.public.acl}
    if site.private is not None:
        acls["private"] = site.private.acl
    return acls


def _site_store(plan: VerifyPlan, site: SiteTarget, clients: Clients, key: str) -> BucketStore:
    import botocore.credentials

    from storagectl.media.stores import BucketStore

    buckets = {"public": site.public.name}
    if site.private is not None:
        buckets["private"] = site.private.name
    if key == "site":
        client = clients.for_key(site, site.credentials)
        credentials = botocore.credentials.Credentials(site.credentials.key_id, site.credentials.secret)
    else:
        client, credentials = clients.operator(site), clients.operator_credentials()
    identity = (site.endpoint_url, site.credentials.key_id if key == "site" else "operator")
    return BucketStore(
        f"site {site.slug}",
        client,
        identity,
        buckets,
        site=site,
        acls=_half_acls(site),
        anonymous={"public": True, "private": False},
        credentials=credentials,
    )


def _record_acls(plan: VerifyPlan, site: SiteTarget) -> dict[str, str | None]:
    """The manifest names each object's canned ACL where the region uses object ACLs (not owner-enforced)."""
    if not plan.capabilities.canned_acls or plan.capabilities.ownership_controls:
        return {}
    return _half_acls(site)


def _location(value: str, site: SiteTarget, clients: Clients) -> Store:
    """DIR, or s3://BUCKET/PREFIX on the site's endpoint, reached with the operator's credentials."""
    from storagectl.media.stores import BucketStore, DirStore

    if not value.startswith("s3://"):
        return DirStore(Path(value))
    bucket, _, prefix = value[5:].partition("/")
    if not bucket:
        raise fail([f"{value!r}: no bucket; use s3://BUCKET/PREFIX"])
    prefix = prefix.strip("/")
    prefix = f"{prefix}/" if prefix else ""
    return BucketStore(
        f"s3://{bucket}/{prefix}",
        clients.operator(site),
        (site.endpoint_url, "operator"),
        {"public": bucket, "private": bucket},
        site=site,
        acls={},  # the backup bucket's own default: private to its owner
        prefix=prefix,
        anonymous={"public": False, "private": False},
        credentials=clients.operator_credentials(),
    )


def _clients(concurrency: int) -> Clients:
    from storagectl.verify.clients import Clients

    return Clients(None, pool_connections=concurrency)


def _require_halves(store: DirStore, *, must_exist: bool) -> None:
    root = store.root
    if not root.exists():
        if must_exist:
            raise fail([f"{root}: no such folder; give a media folder with public/ and private/ halves"])
        return
    if not root.is_dir():
        raise fail([f"{root}: not a folder; give a media folder with public/ and private/ halves"])
    halves = [kind for kind in store.kinds if store.half(kind).is_dir()]
    if not halves and (must_exist or any(root.iterdir())):
        raise fail(
            [
                f"{root}: has neither public/ nor private/; a media folder keeps the public bucket's files under "
                "public/ and the private bucket's under private/"
            ]
        )


def _execute(job: Job, as_json: bool) -> None:
    from storagectl.media.engine import MediaError

    say(f"{job.command}: {job.source.label} -> {job.destination.label}; keys: {job.keys}")
    stderr = Console(stderr=True, soft_wrap=True)
    try:
        summary = _with_progress(job, stderr)
    except MediaError as error:
        raise fail(error.problems, error.exit_code) from None
    _print(summary, as_json)
    raise typer.Exit(0 if summary.ok else EXIT_FAILED)


def _with_progress(job: Job, stderr: Console) -> Summary:
    from storagectl.media.engine import run as run_job
    from storagectl.progress import stderr_progress

    progress = stderr_progress(f"media {job.command}", stderr)
    with progress:
        task = progress.add_task("objects", total=None)

        def report(what: str, amount: int) -> None:
            if what == "total":
                progress.update(task, total=amount)
            else:
                progress.advance(task)

        return run_job(job, report)


def _print(summary: Summary, as_json: bool) -> None:
    from storagectl.wording import counted, size

    if as_json:
        sys.stdout.write(json.dumps(summary.document(), indent=2) + "\n")
        return
    out = Console(soft_wrap=True, highlight=False)
    if summary.dry_run:
        for change in summary.changes:
            out.print(
                f"would {change['action']} {change['kind']}/{change['key']} ({size(change['size'])}, {change['why']})",
                markup=False,
            )
    for line in summary.failed:
        out.print(f"failed: {line}", markup=False)
    if summary.ignored:
        shown = ", ".join(summary.ignored[:3]) + (
            f" and {len(summary.ignored) - 3} more" if len(summary.ignored) > 3 else ""
        )
        out.print(
            f"ignored: {counted(len(summary.ignored), 'object')} in the backup its manifest does not list ({shown})",
            markup=False,
        )
    for line in summary.cleaned:
        out.print(f"cleaned: {line}", markup=False)
    if summary.client is not None and (summary.client.crt or summary.client.botocore):
        out.print(summary.client.line(), markup=False)
    for line in summary.privacy_repaired:
        out.print(f"REPAIRED: {line}", markup=False)
    for line in summary.privacy_failed:
        out.print(f"PRIVACY: {line}", markup=False)
    deleted = f"would delete {counted(summary.deleted, 'object')}" if summary.dry_run else f"{summary.deleted} deleted"
    check = ""
    if summary.checked or summary.listings:
        check = (
            f"; anonymous check: {counted(summary.checked, 'object')}, {counted(summary.listings, 'bucket listing')}, "
            f"{len(summary.privacy_failed)} wrong"
        )
        check += f", {len(summary.privacy_repaired)} repaired" if summary.privacy_repaired else ""
    out.print(
        f"{'would copy' if summary.dry_run else 'copied'} {counted(summary.copied, 'object')} "
        f"({size(summary.copied_bytes)}), {summary.unchanged} unchanged, "
        f"{deleted}, "
        f"{len(summary.failed)} failed; {summary.mode}{check}; {summary.seconds:.1f}s",
        markup=False,
    )


def _job(command: str, site: str, source: Store, destination: Store, keys: str, **options: Any) -> Job:
    # Imported here: the engine pulls in boto3, which `storagectl --help` does without.
    from storagectl.local_outputs import LOCAL_DIR
    from storagectl.media.engine import Job
    from storagectl.stack_files import project_root

    journal_dir = project_root() / LOCAL_DIR / "media-uploads"  # made owner-only when a run first writes there
    return Job(command, site, source, destination, keys, journal_dir=journal_dir, **options)


@app.command()
def backup(
    stack: StackOption,
    site: Annotated[
        str | None, typer.Argument(help="Site slug, e.g. acme-live (or --all).", metavar="SITE", show_default=False)
    ] = None,
    every_site: Annotated[
        bool, typer.Option("--all", help="Every site of the stack: one backup set each (needs site-storage:backups).")
    ] = False,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            help="DIR or s3://BUCKET/PREFIX; default: a new set in the stack's backup bucket (site-storage:backups), "
            "else ./media-backup-SITE-<UTC time>.",
        ),
    ] = None,
    outputs: Outputs = None,
    endpoint_url: Endpoint = None,
    key: Key = KeyChoice.site,
    dry_run: DryRun = False,
    delete: Delete = False,
    check: Check = CheckChoice.sample,
    as_json: AsJson = False,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
) -> None:
    """Back up SITE's buckets: a new set in the stack's backup bucket, or DIR/s3:// with a manifest written last."""
    from storagectl.media.backup_commands import declares_backups, run_backup_sets

    if (site is None) == (not every_site):
        raise fail(["give exactly one of SITE or --all"])
    if to is None and declares_backups(stack):
        if dry_run or delete:
            raise fail(["--dry-run and --delete are for --to; a backup set sends only what is new and deletes nothing"])
        run_backup_sets(stack, site, every_site, outputs, endpoint_url, check.value, as_json, concurrency)
    if every_site:
        raise fail(["--all writes one set per site in the stack's backup bucket: declare site-storage:backups"])
    assert site is not None
    plan = _plan(stack, outputs, endpoint_url, [site])
    target = _site(plan, site)
    clients = _clients(concurrency)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    destination = _location(to or f"media-backup-{site}-{stamp}", target, clients)
    _dir_destination(destination)
    source = _site_store(plan, target, clients, key)
    keys = f"{_who(key, site, plan)} reads {site}; " + _writer(destination)
    job = _job(
        "backup",
        site,
        source,
        destination,
        keys,
        delete=delete,
        dry_run=dry_run,
        check=check,
        concurrency=concurrency,
        record_acls=_record_acls(plan, target),
    )
    _execute(job, as_json)


@app.command()
def restore(
    site: SiteArg,
    stack: StackOption,
    source_location: Annotated[
        str,
        typer.Option(
            "--from",
            help="A backup: latest or a set's UTC time (20261203T020000Z) in the stack's backup bucket, DIR, or "
            "s3://BUCKET/PREFIX.",
        ),
    ],
    to_site: Annotated[str | None, typer.Option("--to-site", help="Restore into this site instead of SITE.")] = None,
    outputs: Outputs = None,
    endpoint_url: Endpoint = None,
    key: Key = KeyChoice.site,
    dry_run: DryRun = False,
    delete: Delete = False,
    overwrite_newer: Overwrite = False,
    check: Check = CheckChoice.sample,
    as_json: AsJson = False,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
) -> None:
    """Restore SITE's backup (or into --to-site); each object into its half, with that half's ACL."""
    into = to_site or site
    set_wanted = _backup_set(source_location, stack)
    plan = _plan(stack, outputs, endpoint_url, list(dict.fromkeys([site, into])))
    clients = _clients(concurrency)
    target = _site(plan, into)
    from storagectl.media.stores import DirStore

    if set_wanted is not None:
        from storagectl.media.backup_commands import backup_context, set_source

        context = backup_context(stack, outputs, endpoint_url, list(dict.fromkeys([site, into])), concurrency)
        source: Store = set_source(context, site, set_wanted)
        reader = f"{context.target.writer} reads the set"
        if key == "operator":
            raise fail(["--key operator: a set is read with the backup writer's key; leave --key out"])
    else:
        source = _location(source_location, target, clients)
        reader = "read from disk" if isinstance(source, DirStore) else "the operator's credentials read the backup"
    if isinstance(source, DirStore):
        _require_halves(source, must_exist=True)
    destination = _site_store(plan, target, clients, key)
    keys = f"{reader}; {_who(key, into, plan)} writes {into}"
    job = _job(
        "restore",
        site,
        source,
        destination,
        keys,
        delete=delete,
        dry_run=dry_run,
        check=check,
        overwrite_newer=overwrite_newer,
        concurrency=concurrency,
        require_manifest=True,
    )
    _execute(job, as_json)


@app.command()
def copy(
    site: SiteArg,
    stack: StackOption,
    to_site: Annotated[str, typer.Option("--to-site", help="The destination site, e.g. the stage of SITE.")],
    outputs: Outputs = None,
    endpoint_url: Endpoint = None,
    key: Key = KeyChoice.site,
    dry_run: DryRun = False,
    delete: Delete = False,
    overwrite_newer: Overwrite = False,
    check: Check = CheckChoice.sample,
    as_json: AsJson = False,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
) -> None:
    """Copy SITE's media into --to-site (live -> stage): public into public, private into private."""
    if to_site == site:
        raise fail([f"--to-site {to_site!r} is SITE itself; give another site of the stack"])
    plan = _plan(stack, outputs, endpoint_url, [site, to_site])
    clients = _clients(concurrency)
    source = _site_store(plan, _site(plan, site), clients, key)
    destination = _site_store(plan, _site(plan, to_site), clients, key)
    keys = f"{_who(key, site, plan)} reads {site}, {_who(key, to_site, plan)} writes {to_site}"
    if key == "site" and source.identity != destination.identity:
        keys += " (streamed: no site key may read another site's media; --key operator copies server-side)"
    job = _job(
        "copy",
        site,
        source,
        destination,
        keys,
        delete=delete,
        dry_run=dry_run,
        check=check,
        overwrite_newer=overwrite_newer,
        concurrency=concurrency,
    )
    _execute(job, as_json)


@app.command()
def push(
    site: SiteArg,
    folder: Annotated[Path, typer.Argument(help="Local media folder with public/ and private/.", metavar="DIR")],
    stack: StackOption,
    outputs: Outputs = None,
    endpoint_url: Endpoint = None,
    key: Key = KeyChoice.site,
    dry_run: DryRun = False,
    delete: Delete = False,
    overwrite_newer: Overwrite = False,
    check: Check = CheckChoice.sample,
    as_json: AsJson = False,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
) -> None:
    """Upload DIR/public/ to SITE's public bucket and DIR/private/ to its private one."""
    from storagectl.media.stores import DirStore

    source = DirStore(folder)
    _require_halves(source, must_exist=True)
    plan = _plan(stack, outputs, endpoint_url, [site])
    destination = _site_store(plan, _site(plan, site), _clients(concurrency), key)
    job = _job(
        "push",
        site,
        source,
        destination,
        f"{_who(key, site, plan)} writes {site}",
        delete=delete,
        dry_run=dry_run,
        check=check,
        overwrite_newer=overwrite_newer,
        concurrency=concurrency,
    )
    _execute(job, as_json)


@app.command()
def pull(
    site: SiteArg,
    folder: Annotated[Path, typer.Argument(help="Local media folder: public/ and private/ are filled.", metavar="DIR")],
    stack: StackOption,
    outputs: Outputs = None,
    endpoint_url: Endpoint = None,
    key: Key = KeyChoice.site,
    dry_run: DryRun = False,
    delete: Delete = False,
    overwrite_newer: Overwrite = False,
    as_json: AsJson = False,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
) -> None:
    """Download SITE's public bucket into DIR/public/ and its private bucket into DIR/private/."""
    from storagectl.media.stores import DirStore

    destination = DirStore(folder)
    _require_halves(destination, must_exist=False)
    plan = _plan(stack, outputs, endpoint_url, [site])
    target = _site(plan, site)
    source = _site_store(plan, target, _clients(concurrency), key)
    job = _job(
        "pull",
        site,
        source,
        destination,
        f"{_who(key, site, plan)} reads {site}",
        delete=delete,
        dry_run=dry_run,
        check="none",
        overwrite_newer=overwrite_newer,
        concurrency=concurrency,
        record_acls=_record_acls(plan, target),
    )
    _execute(job, as_json)


@app.command("verify-backup")
def verify_backup(
    site: SiteArg,
    source_location: Annotated[str, typer.Option("--from", help="A backup: DIR or s3://BUCKET/PREFIX.")],
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            help="Stack name (stacks/Pulumi.<stack>.yaml); an s3:// backup needs it (its endpoint), a folder does not.",
        ),
    ] = None,
    outputs: Outputs = None,
    endpoint_url: Endpoint = None,
    as_json: AsJson = False,
    concurrency: Concurrency = DEFAULT_CONCURRENCY,
) -> None:
    """Prove SITE's backup complete without restoring it: every object its manifest lists, size and checksum."""
    from storagectl.media.backup_check import verify_backup as check_backup
    from storagectl.media.engine import MediaError
    from storagectl.media.stores import DirStore
    from storagectl.progress import stderr_progress
    from storagectl.wording import counted, size

    set_wanted = _backup_set(source_location, stack) if stack is not None else None
    if set_wanted is not None:
        from storagectl.media.backup_commands import backup_context, set_source

        assert stack is not None
        store: Store = set_source(backup_context(stack, outputs, endpoint_url, [], concurrency), site, set_wanted)
    elif source_location.startswith("s3://"):
        if stack is None:
            raise fail([f"--from {source_location}: a backup in a bucket needs --stack (the stack gives its endpoint)"])
        plan = _plan(stack, outputs, endpoint_url, [site])
        store = _location(source_location, _site(plan, site), _clients(concurrency))
    else:
        store = DirStore(Path(source_location))
        _require_halves(store, must_exist=True)
    say(
        f"verify-backup: {store.label}; "
        + (
            "read from disk"
            if isinstance(store, DirStore)
            else "the backup writer lists it"
            if set_wanted is not None
            else "the operator's credentials list it"
        )
    )
    stderr = Console(stderr=True, soft_wrap=True)
    try:
        with stderr_progress("media verify-backup", stderr) as progress:
            task = progress.add_task("objects", total=None)

            def report(what: str, amount: int) -> None:
                if what == "total":
                    progress.update(task, total=amount)
                else:
                    progress.advance(task)

            result = check_backup(store, site, concurrency, report)
    except MediaError as error:
        raise fail(error.problems, error.exit_code) from None
    if as_json:
        sys.stdout.write(json.dumps(result.document(), indent=2) + "\n")
    else:
        out = Console(soft_wrap=True, highlight=False)
        for line in result.missing:
            out.print(f"MISSING: {line}", markup=False)
        for line in result.altered:
            out.print(f"ALTERED: {line}", markup=False)
        if result.ignored:
            out.print(f"ignored: {counted(len(result.ignored), 'object')} its manifest does not list", markup=False)
        state = "complete" if result.ok else f"DAMAGED: {len(result.missing)} missing, {len(result.altered)} altered"
        how = f"{result.by_checksum} by checksum" + (f", {result.size_only} by size only" if result.size_only else "")
        out.print(
            f"backup of site {site}: {state}; manifest lists {counted(result.objects, 'object')} "
            f"({size(result.bytes)}); checked {how}; {result.seconds:.1f}s",
            markup=False,
        )
    raise typer.Exit(0 if result.ok else EXIT_FAILED)


def _backup_set(value: str, stack: str) -> str | None:
    """`latest` or a set's time when the stack declares backups (else None: a folder or s3:// location).

    A folder that happens to be named `latest` is given as ./latest.
    """
    from storagectl.media.backup_commands import declares_backups
    from storagectl.media.backup_sets import parse_set_argument

    wanted = parse_set_argument(value)
    if wanted is None or value.startswith(("s3://", "./", "/")):
        return None
    if not declares_backups(stack):
        if value == "latest" or not Path(value).exists():
            raise fail(
                [f"--from {value}: stack {stack} declares no site-storage:backups; give DIR or s3://BUCKET/PREFIX"]
            )
        return None
    return wanted


def _who(key: str, site: str, plan: VerifyPlan) -> str:
    if key != "site":
        return "the operator's credentials"
    # A custom-endpoint stack has one key for all its sites: saying "own key" would promise an
    # isolation between them that the stack does not have.
    return "the stack's one key (shared by all its sites)" if plan.shared_credential else f"{site}'s own key"


def _writer(destination: Store) -> str:
    from storagectl.media.stores import DirStore

    if isinstance(destination, DirStore):
        return f"written to {destination.root}"
    return "the operator's credentials write the backup bucket"


def _dir_destination(destination: Store) -> None:
    from storagectl.media.stores import DirStore

    if isinstance(destination, DirStore):
        _require_halves(destination, must_exist=False)


def _register_backup_commands() -> None:
    from storagectl.media.backup_commands import register

    register(app)


_register_backup_commands()

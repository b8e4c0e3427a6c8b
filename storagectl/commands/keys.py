"""`storagectl keys rotate|retire|revoke|status`: replace a site's own key without downtime, or at once when it leaked.

A site's key has generations (components/site_keys.py). `rotate` makes the next generation current
and keeps the previous key active, so every running instance keeps working until it is redeployed
with the new settings; `retire` deletes the previous key; `revoke` (a leaked key) makes the next
generation current and refuses the previous key in the same update: deactivated on AWS (status
Inactive), deleted on Exoscale, whose API keys cannot be deactivated. Each edits the stack file like
`cors` and `sites` do (lock, validation like preview, diff, --dry-run) and `--apply` runs a `pulumi
up` limited to the site's key resources. `status` shows each site's generations and, on AWS, when
each key was last used, read from IAM with the operator's credentials.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import typer
from ruamel.yaml.comments import CommentedMap

from components.config import SiteConfig
from components.naming import iam_user_name
from components.site_keys import DEFAULT_PREVIOUS_KEY, KEY_TYPES, MAX_KEY_GENERATION, DeclaredKey, key_resource_name
from storagectl import pulumi_runner
from storagectl.commands import (
    ApplyOption,
    DryRunOption,
    Edit,
    OpenStack,
    SiteArgument,
    StackOption,
    check_apply,
    child_urn,
    editing,
    fail,
    open_stack,
    run_up,
    say,
    site_resources,
    write_edit,
)
from storagectl.key_usage import KeyUsageError, LiveKey, Matched, iam_client, live_keys, match
from storagectl.stack_edit import StackEditor
from storagectl.stack_files import StackFile, project_root

app = typer.Typer(
    help="Rotate, retire or revoke a site's own key without downtime; show each key's generation and last use.",
    no_args_is_help=True,
)

SHARED_KEY_SECTION = 'docs/operators.md, "Rotating a stack\'s shared key"'
STATUS_WORKERS = 8
"""Sites whose IAM keys are read at once (IAM answers each site in two calls per key)."""


def _refuse_shared(opened: OpenStack, slug: str | None) -> None:
    """A stack whose sites share its one key has no per-site key: one line, exit 2."""
    if not opened.settings.shares_one_credential:
        return
    which = f"site {slug} has no key of its own" if slug else "its sites have no keys of their own"
    raise fail(
        [
            f"{opened.source}: site_credentials: stack {opened.name} hands every site its one key (shared), so "
            f"{which} to rotate; rotate the stack's key instead ({SHARED_KEY_SECTION})"
        ]
    )


def _per_site_key(opened: OpenStack, slug: str) -> SiteConfig:
    """The site, when it has a key of its own; a stack with one shared key ends the command (exit 2)."""
    _refuse_shared(opened, slug)
    return opened.site(slug)


def _command(*words: str) -> str:
    return shlex.join(["storagectl", *words])


def _rotating_refusal(opened: OpenStack, site: SiteConfig, command: str) -> list[str]:
    previous = site.key_generation - 1
    where = f"{opened.source}: sites.{site.slug}"
    retire = _command("keys", "retire", site.slug, "--stack", opened.name)
    status = _command("keys", "status", site.slug, "--stack", opened.name)
    lines = [
        f"{where}: site {site.slug} still has generation {previous}'s key ({site.previous_key}) beside the current "
        f"generation {site.key_generation}: a site has at most two keys, so `keys {command}` cannot add a third; "
        "nothing changed."
    ]
    if command == "revoke":
        lines += [
            f"If generation {previous}'s key leaked, delete it now (instances still on it fail until redeployed): "
            f"{retire} --apply",
            f"If generation {site.key_generation}'s key leaked, retire generation {previous}'s first, then revoke: "
            f"{retire} --apply, then {_command('keys', 'revoke', site.slug, '--stack', opened.name)}",
        ]
    else:
        lines.append(
            f"Retire generation {previous}'s key once no instance uses it ({status} shows its last use): {retire}"
        )
    return lines


def _edited_text(opened: OpenStack, slug: str, generation: int, previous: str) -> str:
    """The stack file's text with the site's key_generation and previous_key set (the default one left out)."""

    def change(site_map: CommentedMap) -> None:
        site_map["key_generation"] = generation
        if previous == DEFAULT_PREVIOUS_KEY:
            site_map.pop("previous_key", None)
        else:
            site_map["previous_key"] = previous

    editor = StackEditor(opened.path, opened.text)
    editor.update_mapping((*editor.project_key("sites"), slug), change)
    return editor.text


def _next_generation(opened: OpenStack, site: SiteConfig) -> int:
    if site.key_generation >= MAX_KEY_GENERATION:
        raise fail(
            [
                f"{opened.source}: sites.{site.slug}.key_generation: {site.key_generation} is the last generation "
                f"storagectl counts to ({MAX_KEY_GENERATION}); nothing changed"
            ]
        )
    return site.key_generation + 1


def key_urns(stack_file: StackFile, slug: str) -> list[str]:
    """URNs of the site's key resources (only those), from an offline evaluation of the site, oldest
    generation first (the evaluation registers them in no fixed order)."""
    keys = [resource for resource in site_resources(stack_file, slug) if resource.type in KEY_TYPES]
    keys.sort(key=lambda resource: (_key_generation(slug, resource.name), resource.type))
    return [child_urn(stack_file.stack, resource.type, resource.name) for resource in keys]


def _key_generation(slug: str, name: str) -> int:
    """The generation in a key resource's name (`<site>-key` is 1, `<site>-key-N` is N)."""
    suffix = name.removeprefix(key_resource_name(slug, 1))
    return int(suffix[1:]) if suffix.startswith("-") and suffix[1:].isdigit() else 1


@dataclass(frozen=True)
class Step:
    what: str
    command: str


def _settings_steps(stack: str, slug: str, why: str) -> list[Step]:
    env_file = f"{slug}.env"
    settings = f"(umask 077; {_command('settings', slug, '--stack', stack, '--format', 'env')} > {env_file})"
    return [
        Step(f"hand the site its new settings and redeploy every instance of it ({why})", settings),
        Step("check the site's storage with the new key", _command("verify", slug, "--stack", stack)),
    ]


def _follow_up(edit: Edit | None, steps: Sequence[Step], *, apply: bool) -> None:
    """After the lock is released: the targeted update of the site's keys (or run it with --apply), then `steps`."""
    if edit is None:
        return
    opened, slug = edit.opened, edit.slug
    urns = list(dict.fromkeys([*key_urns(opened.file, slug), *key_urns(edit.edited, slug)]))
    if apply:
        run_up(opened.name, urns, opened.source)
        typer.echo(f"next steps for site {slug}:")
    else:
        when = "next steps" if edit.written else "after writing (run again without --dry-run), the next steps"
        typer.echo(f"{when} for site {slug}:")
        typer.echo(
            "  1. preview, then update only this site's keys (Pulumi CLI, in "
            f"{project_root()}; or run this command again with --apply):"
        )
        for args in (pulumi_runner.preview_args(opened.name, urns), pulumi_runner.up_args(opened.name, urns)):
            typer.echo("       " + pulumi_runner.command_line(args, wrap=True).replace("\n    ", "\n           "))
    first = 1 if apply else 2
    for number, step in enumerate(steps, start=first):
        typer.echo(f"  {number}. {step.what}:")
        typer.echo(f"       {step.command}")


@app.command("rotate")
def rotate(site: SiteArgument, stack: StackOption, dry_run: DryRunOption = False, apply: ApplyOption = False) -> None:
    """Give SITE the next key generation; its previous key keeps working until `keys retire`.

    The site's settings carry the new key after the update; instances on the old ones keep working."""
    check_apply(apply, dry_run)
    with editing(stack, dry_run=dry_run) as opened:
        current = _per_site_key(opened, site)
        if current.rotating:
            raise fail(_rotating_refusal(opened, current, "rotate"))
        generation = _next_generation(opened, current)
        edit = write_edit(opened, _edited_text(opened, site, generation, "active"), site, dry_run=dry_run)
    old = generation - 1
    status = _command("keys", "status", site, "--stack", stack)
    steps = [
        *_settings_steps(stack, site, f"generation {old}'s key keeps working meanwhile"),
        Step(f"once every instance runs the new settings, see that generation {old}'s key is no longer used", status),
        Step(f"retire generation {old}'s key", _command("keys", "retire", site, "--stack", stack, "--apply")),
    ]
    _follow_up(edit, steps, apply=apply)


@app.command("retire")
def retire(site: SiteArgument, stack: StackOption, dry_run: DryRunOption = False, apply: ApplyOption = False) -> None:
    """Delete SITE's previous key (after `keys rotate` or `keys revoke`); the current key stays."""
    check_apply(apply, dry_run)
    with editing(stack, dry_run=dry_run) as opened:
        current = _per_site_key(opened, site)
        if not current.rotating:
            say(
                f"{site}: generation {current.key_generation}'s key is the only one; no previous key to retire, "
                "nothing changed"
            )
            return
        old = current.key_generation - 1
        say(
            f"{site}: the update deletes generation {old}'s key ({current.previous_key}); an instance still using it "
            f"fails from then on (`{_command('keys', 'status', site, '--stack', stack)}` shows its last use)"
        )
        text = _edited_text(opened, site, current.key_generation, DEFAULT_PREVIOUS_KEY)
        edit = write_edit(opened, text, site, dry_run=dry_run)
    steps = [Step("check the site's storage with its current key", _command("verify", site, "--stack", stack))]
    _follow_up(edit, steps, apply=apply)


@app.command("revoke")
def revoke(site: SiteArgument, stack: StackOption, dry_run: DryRunOption = False, apply: ApplyOption = False) -> None:
    """A leaked key: give SITE the next generation and refuse its current key in the same update.

    AWS deactivates the old key (refused at once; `keys retire` deletes it); Exoscale deletes it."""
    check_apply(apply, dry_run)
    with editing(stack, dry_run=dry_run) as opened:
        current = _per_site_key(opened, site)
        if current.rotating:
            raise fail(_rotating_refusal(opened, current, "revoke"))
        generation = _next_generation(opened, current)
        deletes = opened.settings.site_credentials == "exoscale-iam"
        old = current.key_generation
        if deletes:
            say(
                f"{site}: Exoscale API keys cannot be deactivated, only deleted: the update deletes generation {old}'s "
                f"key right after it creates generation {generation}'s"
            )
        else:
            say(
                f"{site}: the update deactivates generation {old}'s key (status Inactive: refused from then on) in the "
                f"same update that creates generation {generation}'s"
            )
        previous = DEFAULT_PREVIOUS_KEY if deletes else "inactive"
        edit = write_edit(opened, _edited_text(opened, site, generation, previous), site, dry_run=dry_run)
    steps = _settings_steps(stack, site, f"instances still on generation {old}'s key fail until then")
    if not deletes:
        status = _command("keys", "status", site, "--stack", stack)
        steps += [
            Step(f"see that generation {old}'s key is Inactive, and when it was last used", status),
            Step(
                f"delete generation {old}'s deactivated key once you no longer need it",
                _command("keys", "retire", site, "--stack", stack, "--apply"),
            ),
        ]
    _follow_up(edit, steps, apply=apply)


# --- status ---------------------------------------------------------------------------------------

EXOSCALE_NO_LAST_USE = (
    "Exoscale: no last use is shown; an Exoscale API key has a name, a role and its key only (docs/operators.md)"
)


@dataclass
class SiteKeys:
    """One site's declared keys and, where read, what IAM says about them."""

    site: SiteConfig
    user: str
    matched: Matched | None = None
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        pairs = self.matched.pairs if self.matched else [(key, None) for key in self.site.keys]
        return {
            "site": self.site.slug,
            "key_generation": self.site.key_generation,
            "previous_key": self.site.previous_key,
            "rotating": self.site.rotating,
            "keys": [
                {
                    "generation": key.generation,
                    "role": key.role,
                    "resource": key.resource_name(self.site.slug),
                    "declared": "active" if key.active else "inactive",
                    "live": live.as_dict() if live is not None else None,
                }
                for key, live in pairs
            ],
            "undeclared": [live.as_dict() for live in self.matched.undeclared] if self.matched else [],
            "error": self.error,
            "notes": self.notes,
        }


def _notes(stack: str, entry: SiteKeys) -> list[str]:
    """What an operator should know about one site's keys, one line each."""
    site, notes = entry.site, []
    slug = site.slug
    if entry.matched is not None:
        for key, live in entry.matched.pairs:
            if live is None:
                notes.append(f"generation {key.generation}'s key does not exist yet: run the pending update")
            elif (live.status == "Active") != key.active:
                declared = "active" if key.active else "inactive"
                notes.append(
                    f"generation {key.generation}'s key is {live.status}, the stack file says {declared}: "
                    "run the pending update"
                )
        created = [live.created for _, live in entry.matched.pairs if live is not None]
        if len(created) > 1 and len(set(created)) < len(created):
            notes.append("two keys were created at the same time: IAM cannot tell which generation is which")
        for live in entry.matched.undeclared:
            notes.append(
                f"key {live.shown_id} is not in the stack file: a retired key the pending update deletes, or a key "
                "made by hand"
            )
    if site.rotating:
        retire = _command("keys", "retire", slug, "--stack", stack)
        notes.append(f"rotating: retire generation {site.key_generation - 1}'s key once it is no longer used: {retire}")
    return notes


def _read_live(entries: Sequence[SiteKeys], region_name: str) -> None:
    client = iam_client(region_name)  # botocore clients are thread-safe: one for every site

    def read(entry: SiteKeys) -> None:
        try:
            entry.matched = match(entry.site.keys, live_keys(client, entry.user))
        except KeyUsageError as error:
            entry.error = str(error)

    with ThreadPoolExecutor(max_workers=STATUS_WORKERS, thread_name_prefix="keys-status") as pool:
        list(pool.map(read, entries))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "never"


def _last_use(live: LiveKey) -> str:
    where = ", ".join(part for part in (live.last_used_service, live.last_used_region) if part)
    return _when(live.last_used) + (f" ({where})" if where and live.last_used else "")


def _rows(entry: SiteKeys, aws: bool) -> list[tuple[str, ...]]:
    pairs: list[tuple[DeclaredKey | None, LiveKey | None]] = []
    if entry.matched is not None:
        pairs = [*entry.matched.pairs, *[(None, live) for live in entry.matched.undeclared]]
    else:
        pairs = [(key, None) for key in entry.site.keys]
    rows = []
    for key, live in pairs:
        if key is None:
            declared: tuple[str, ...] = ("-", "undeclared", "-")
        else:
            declared = (str(key.generation), key.role, "active" if key.active else "inactive")
        if live is not None:
            seen: tuple[str, ...] = (live.shown_id, live.status, _when(live.created), _last_use(live))
        elif aws and entry.error is None:
            seen = ("-", "missing", "-", "-")
        else:
            seen = ("-", "-", "-", "-")
        rows.append((entry.site.slug, *declared, *seen))
    return rows


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    header = ("SITE", "GEN", "ROLE", "DECLARED", "KEY", "STATUS", "CREATED", "LAST USED")
    widths = [max(len(row[column]) for row in (header, *rows)) for column in range(len(header))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


@app.command("status")
def status(
    stack: StackOption,
    site: Annotated[
        str | None,
        typer.Argument(help="Site slug; left out, every site of the stack.", metavar="SITE", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the table.")] = False,
) -> None:
    """Each site's key generations and, on AWS, each key's status, creation and last use (IAM, your credentials).

    Exit 0 when everything was read, 1 when IAM could not be read for a site."""
    opened = open_stack(stack)
    settings = opened.settings
    _refuse_shared(opened, site)
    sites = [opened.site(site)] if site is not None else list(settings.sites)
    entries = [SiteKeys(entry, iam_user_name(settings.bucket_prefix, entry.slug)) for entry in sites]
    aws = settings.site_credentials == "iam"
    if aws and entries:
        say(f"reading the sites' access keys from AWS IAM (ListAccessKeys, GetAccessKeyLastUsed) for stack {stack}")
        _read_live(entries, settings.region.signing_region)
    for entry in entries:
        entry.notes = _notes(stack, entry)
    failed = [entry for entry in entries if entry.error is not None]
    if as_json:
        document = {
            "stack": stack,
            "region": settings.region.id,
            "site_credentials": settings.site_credentials,
            "last_use_source": "AWS IAM GetAccessKeyLastUsed" if aws else None,
            "sites": [entry.as_dict() for entry in entries],
            "ok": not failed,
        }
        typer.echo(json.dumps(document, indent=2))
    else:
        rows = [row for entry in entries for row in _rows(entry, aws)]
        for line in _table(rows):
            typer.echo(line)
        if not aws:
            typer.echo(EXOSCALE_NO_LAST_USE)
        for entry in entries:
            for note in [*([entry.error] if entry.error else []), *entry.notes]:
                typer.echo(f"{entry.site.slug}: {note}")
    if failed:
        say(f"could not read IAM for {len(failed)} of {len(entries)} sites; their keys' live facts are not shown")
        raise typer.Exit(1)

"""What the support commands share: options, refusals, the edit cycle and the exact next step.

The edit cycle: take the stack file's lock (`editing`), read the file, change its text
(storagectl.stack_edit), validate the result exactly like preview does (the bucket names of
the other stack files included), print the diff, write atomically (unless --dry-run), release
the lock; then print the `pulumi preview`/`pulumi up` commands limited to the site's
resources, or run `pulumi up` with --apply (`follow_up`). A second command changing the same
file waits for the lock, then refuses in one line: no update is lost. Messages go to stderr;
the diff and the commands to stdout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from components.config import ConfigError, SiteConfig, StackSettings
from storagectl import pulumi_runner
from storagectl.atomic_files import LockTimeout, locked
from storagectl.local_outputs import applied_by_local_up, local_up_command, stack_is_local
from storagectl.stack_edit import Change, ConcurrentChange, read_text, write_atomic
from storagectl.stack_files import StackFile, display_path, project_root, read_stack_file, stack_path

if TYPE_CHECKING:
    from storagectl.offline import RecordedResource

EXIT_FAILED = 1
"""A write or a Pulumi command failed."""
EXIT_INVALID = 2
"""Bad input or a refused change; nothing was written."""
EXIT_NO_PULUMI = 3
"""The command needs the Pulumi CLI and it is not on PATH; nothing was changed."""

PROJECT = "site-storage"
BUCKET_TYPES = frozenset({"aws:s3/bucket:Bucket", "pulumi-python:dynamic/s3:Bucket"})
"""pulumi-aws buckets (AWS regions) and the generic-S3 provider's (components/generic_s3)."""
# Pulumi's own rule for stack names; also keeps --stack from pointing outside stacks/.
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_stack_name(value: str | None) -> str | None:
    if value is not None and (not _STACK_NAME.match(value) or value in (".", "..")):
        raise typer.BadParameter(f"{value!r}: use letters, digits, '-', '_' and '.', as Pulumi stack names do")
    return value


StackOption = Annotated[
    str,
    typer.Option("--stack", help="Stack name: works on stacks/Pulumi.<stack>.yaml.", callback=check_stack_name),
]
SiteArgument = Annotated[str, typer.Argument(help="Site slug, e.g. acme-live.", metavar="SITE", show_default=False)]
DryRunOption = Annotated[bool, typer.Option("--dry-run", help="Print the diff and the next step; write nothing.")]
ApplyOption = Annotated[
    bool,
    typer.Option(
        "--apply",
        help="After writing, run `pulumi up --yes --skip-preview` limited to this site's resources: each change "
        "is printed as it is made. Needs the Pulumi CLI.",
    ),
]


def whole_number(low: int, high: int | None, what: str) -> Callable[[object], int]:
    """An option parser for an int in [low, high] whose error shows the value given and what is allowed."""
    allowed = f"{low} to {high}" if high is not None else f"{low} or more"

    def parse(text: object) -> int:
        try:
            value = int(str(text))
        except ValueError:
            raise typer.BadParameter(f"{text!r} is not a whole number; use {allowed} ({what})") from None
        if value < low or (high is not None and value > high):
            raise typer.BadParameter(f"{value} is not allowed; use {allowed} ({what})")
        return value

    return parse


def one_of(choices: Sequence[str]) -> Callable[[object], str]:
    """An option parser for one of `choices`, in any case, returned as the choice is written."""
    by_folded = {choice.casefold(): choice for choice in choices}

    def parse(text: object) -> str:
        found = by_folded.get(str(text).casefold())
        if found is None:
            raise typer.BadParameter(f"{str(text)!r} is not allowed; use one of {', '.join(choices)}")
        return found

    return parse


def choices_metavar(choices: Sequence[str]) -> str:
    return "[" + "|".join(choices) + "]"


def say(line: str) -> None:
    """A message for the operator: stderr, so stdout stays the result."""
    typer.echo(line, err=True)


def fail(lines: Iterable[str], code: int = EXIT_INVALID) -> typer.Exit:
    for line in lines:
        say(line)
    return typer.Exit(code)


@dataclass(frozen=True)
class OpenStack:
    """A stack file as read from disk, validated."""

    name: str
    path: Path
    text: str
    file: StackFile
    settings: StackSettings

    @property
    def source(self) -> str:
        return display_path(self.path)

    def site(self, slug: str) -> SiteConfig:
        for site in self.settings.sites:
            if site.slug == slug:
                return site
        known = ", ".join(site.slug for site in self.settings.sites) or "none"
        raise fail(
            [
                f"{self.source}: sites.{slug}: no such site in stack {self.name} (sites: {known}); "
                f"add it with `storagectl sites add {slug} --stack {self.name}`"
            ]
        )


def open_stack(stack: str) -> OpenStack:
    """Read and validate `stacks/Pulumi.<stack>.yaml`; its problems end the command (exit 2)."""
    path = stack_path(stack)
    try:
        text = read_text(path)
        stack_file = read_stack_file(path, text)
        settings = stack_file.settings()
    except ConfigError as error:
        raise fail(error.problems) from None
    return OpenStack(name=stack, path=path, text=text, file=stack_file, settings=settings)


@contextlib.contextmanager
def editing(stack: str, *, dry_run: bool = False) -> Iterator[OpenStack]:
    """`open_stack` under the stack file's exclusive lock, held until the block ends: read, check and
    replace happen with no other writer in between. A lock held by another command for longer than
    the wait (storagectl.atomic_files) ends this one in one line (exit 2), nothing written.
    A dry run writes nothing, not even the lock file: it reads the file as it is."""
    path = stack_path(stack)
    if dry_run or not os.path.lexists(path):
        yield open_stack(stack)  # a missing file is refused (no lock file is left for it)
        return
    try:
        with locked(path):
            yield open_stack(stack)
    except LockTimeout as error:
        raise fail([error.describe(display_path(path))]) from None


def check_apply(apply: bool, dry_run: bool, stack: str | None = None) -> None:
    """Refuse --apply before anything is changed when it cannot run."""
    if apply and dry_run:
        raise fail(["--apply and --dry-run exclude each other: --dry-run writes nothing to apply"])
    if apply and stack is not None and not pulumi_runner.runner().available() and stack_is_local(stack):
        raise fail(
            [
                f"--apply runs `pulumi up`; stack {stack} is applied to its local S3 server by "
                f"`{local_up_command(stack)}`: run this command without --apply, then that one; nothing was changed"
            ]
        )
    if apply and not pulumi_runner.runner().available():
        raise fail(
            [
                "--apply needs the Pulumi CLI, and `pulumi` is not on PATH; nothing was changed.",
                f"Run without --apply and use the printed commands where the CLI is, or {pulumi_runner.INSTALL_HINT}.",
            ],
            EXIT_NO_PULUMI,
        )


def component_urn(stack: str, slug: str) -> str:
    from components.site_storage import COMPONENT_TYPE

    return f"urn:pulumi:{stack}::{PROJECT}::{COMPONENT_TYPE}::{slug}"


def child_urn(stack: str, type_: str, name: str) -> str:
    """URN of a resource whose parent is a site's component, as the engine forms it."""
    from components.site_storage import COMPONENT_TYPE

    return f"urn:pulumi:{stack}::{PROJECT}::{COMPONENT_TYPE}${type_}::{name}"


def site_resources(stack_file: StackFile, slug: str) -> list[RecordedResource]:
    """The site's resources, from an offline evaluation of the stack holding only that site.

    A site's resources depend on the stack's settings and the site alone (tests compare
    this with a full evaluation), and evaluating one site takes a second where a
    200-site stack takes many.
    """
    from storagectl.offline import evaluate

    sites = stack_file.values.get("sites") or {}
    if slug not in sites:
        return []
    alone = dataclasses.replace(stack_file, values={**stack_file.values, "sites": {slug: sites[slug]}})
    return evaluate(alone).site_resources(slug)


def site_urns(stack_file: StackFile, slug: str) -> list[str]:
    resources = site_resources(stack_file, slug)
    if not resources:
        return []
    stack = stack_file.stack
    return [component_urn(stack, slug)] + [child_urn(stack, r.type, r.name) for r in resources]


def _union(*groups: Sequence[str]) -> list[str]:
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return list(seen)


def print_next_step(stack: str, urns: Sequence[str], *, written: bool) -> None:
    when = "next step" if written else "after writing (run again without --dry-run), the next step"
    if applied_by_local_up(stack):
        typer.echo(f"{when}: bring the local S3 server up to date (no Pulumi CLI needed, in {project_root()}):")
        typer.echo(f"  {local_up_command(stack)}")
        return
    typer.echo(f"{when}: preview, then update only this site's resources (Pulumi CLI, in {project_root()}):")
    for args in (pulumi_runner.preview_args(stack, urns), pulumi_runner.up_args(stack, urns)):
        typer.echo("  " + pulumi_runner.command_line(args, wrap=True))


def run_up(stack: str, urns: Sequence[str], source: str) -> None:
    args = pulumi_runner.up_args(stack, urns, now=True)
    say(f"running: {pulumi_runner.command_line(args)}")
    result = pulumi_runner.runner().run(args, cwd=project_root(), capture=False)
    if result.returncode != 0:
        raise fail(
            [
                f"pulumi up failed (exit {result.returncode}); {source} is written. "
                f"Fix the problem, then run: {pulumi_runner.command_line(args)}"
            ],
            result.returncode,
        )
    say("pulumi up succeeded: this site's resources are up to date")


@dataclass(frozen=True)
class Edit:
    """An edit that passed validation: written, or shown only (--dry-run)."""

    opened: OpenStack
    edited: StackFile
    slug: str
    written: bool


def write_edit(opened: OpenStack, after: str, slug: str, *, dry_run: bool) -> Edit | None:
    """Validate exactly like preview, show the diff and write one edit of a stack file (under `editing`'s lock).

    None when the text is unchanged (said so); the command ends (exit 2) when the result would
    not pass preview, with the file unchanged.
    """
    change = Change(opened.path, opened.text, after)
    if not change.changed:
        say(f"{opened.source} already says so; nothing changed")
        return None
    try:
        edited = change.validated(note=say)
    except ConfigError as error:
        refusal = f"refusing to write {opened.source}: the result would not pass validation (file unchanged):"
        raise fail([refusal, *error.problems]) from None
    typer.echo(change.diff(), nl=False)
    if dry_run:
        say(f"dry run: {opened.source} not written")
        return Edit(opened, edited, slug, written=False)
    try:
        write_atomic(opened.path, after, expected=opened.text)
    except ConcurrentChange:
        raise fail([f"{opened.source} changed on disk while this command ran; nothing written, run it again"]) from None
    except LockTimeout as error:
        raise fail([error.describe(opened.source)]) from None
    except OSError as error:
        raise fail([f"could not write {opened.source}: {error}; the file is unchanged"], EXIT_FAILED) from None
    say(f"wrote {opened.source}")
    return Edit(opened, edited, slug, written=True)


def follow_up(edit: Edit | None, *, apply: bool) -> None:
    """After the lock is released: the site's `pulumi preview`/`up` commands, or that `pulumi up` (--apply)."""
    if edit is None:
        return
    opened, slug = edit.opened, edit.slug
    urns = _union(site_urns(edit.edited, slug), site_urns(opened.file, slug))
    if apply:
        run_up(opened.name, urns, opened.source)
    else:
        print_next_step(opened.name, urns, written=edit.written)


def finish_edit(opened: OpenStack, after: str, slug: str, *, dry_run: bool, apply: bool) -> None:
    """`write_edit` then `follow_up`, for a caller that holds no lock across its read (prefer `editing`)."""
    follow_up(write_edit(opened, after, slug, dry_run=dry_run), apply=apply)

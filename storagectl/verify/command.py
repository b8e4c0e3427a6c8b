"""The `storagectl verify` command; registered on the app in storagectl/cli.py."""

from __future__ import annotations

import inspect
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlsplit

import typer
from rich.console import Console

from storagectl.commands import EXIT_INVALID, one_of, whole_number
from storagectl.verify.check_ids import CHECK_ORDER
from storagectl.verify.plan import ISOLATION_MODES

if TYPE_CHECKING:
    from storagectl.verify.plan import VerifyPlan
    from storagectl.verify.results import CheckResult

# runner.DEFAULT_CONCURRENCY, not imported: runner pulls in boto3, and `storagectl --help` should stay fast.
DEFAULT_CONCURRENCY = 32


def _endpoint(value: str | None) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise typer.BadParameter(f"{value!r} is not allowed; use http(s)://host[:port], e.g. http://127.0.0.1:5000")
    return value.rstrip("/")


def verify(
    stack: Annotated[str, typer.Option("--stack", help="Stack name: expectations from stacks/Pulumi.<stack>.yaml.")],
    sites: Annotated[
        list[str] | None, typer.Argument(help="Site slugs to check; all of the stack's sites when left out.")
    ] = None,
    outputs: Annotated[
        Path | None,
        typer.Option(
            "--outputs",
            help="Saved `pulumi stack output --json --show-secrets` file. Without it: the file `storagectl local up` "
            "wrote for this stack, else the Pulumi CLI.",
            dir_okay=False,
        ),
    ] = None,
    endpoint_url: Annotated[
        str | None,
        typer.Option(
            "--endpoint-url",
            help="Talk to this S3 endpoint instead of the stack's (moto, a local server).",
            callback=_endpoint,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON record per site and check.")] = False,
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            help="Sites checked at the same time, 1 to 64.",
            parser=whole_number(1, 64, "sites checked at the same time"),
            metavar="N",
        ),
    ] = DEFAULT_CONCURRENCY,
    isolation_mode: Annotated[
        str,
        typer.Option(
            "--isolation",
            help="Other sites' private buckets each key is tried on: every one, or the next site's (ring: each key "
            "and each bucket once). auto: every one when sites are named, a ring for the whole stack.",
            parser=one_of(ISOLATION_MODES),
            metavar="auto|ring|every",
        ),
    ] = "auto",
) -> None:
    """Prove on the live endpoint what the stack promises each site.

    For each site: its key writes, reads, lists and deletes a probe object in both buckets and does
    what django-storages does there (exists(), listdir(), a multipart upload and an aborted one, with
    the site's checksum settings); the public probe loads anonymously at MEDIA_URL; the private probe
    is refused anonymously and loads through a signed URL; neither bucket lists its keys to an
    anonymous GET; the public bucket's CORS equals the stack file's (read with the operator's key
    where sites have keys of their own); the private bucket has its access block, ownership controls
    and TLS-only policy (AWS); its key is refused on every other site's private bucket of the stack
    (also when only SITE is checked). In a pipe or file the table is one plain line per check.

    Exit code 0 only when every check passed or is n/a (not promised by the stack), 1 when one
    failed or was skipped, 2 for bad input, 3 when the outputs need the Pulumi CLI and it is
    missing.
    """
    from components.config import ConfigError
    from storagectl.pipe_console import PipeConsole
    from storagectl.stack_files import read_stack_file, stack_path
    from storagectl.verify.outputs import OutputsError, read_outputs
    from storagectl.verify.plan import PlanError, build_plan, unknown_sites
    from storagectl.verify.report import Redactor, all_passed, json_document, print_table

    stdout = PipeConsole(soft_wrap=True)
    stderr = Console(stderr=True, soft_wrap=True)
    try:
        stack_file = read_stack_file(stack_path(stack))
        settings = stack_file.settings()
        # Unknown sites are said before the outputs are read: that may need the Pulumi CLI.
        unknown = unknown_sites(settings, sites or ())
        if unknown:
            raise PlanError(unknown)
        stack_outputs = read_outputs(stack, outputs, cwd=stack_file.path.parent.parent)
        plan = build_plan(settings, stack_outputs, sites or (), endpoint_url, isolation_mode)
    except (ConfigError, OutputsError, PlanError) as error:
        for line in error.problems:
            stderr.print(line, markup=False, highlight=False)
        # 3 when only the Pulumi CLI is missing, as in `settings`; 2 for bad input.
        raise typer.Exit(error.exit_code if isinstance(error, OutputsError) else EXIT_INVALID) from None

    redact = Redactor(plan.secrets())
    results = _run_with_progress(plan, concurrency, stderr)
    if as_json:
        sys.stdout.write(json.dumps(json_document(plan.stack, results, redact), indent=2) + "\n")
    else:
        print_table(plan.stack, results, redact, stdout)
    raise typer.Exit(0 if all_passed(results) else 1)


def _run_with_progress(plan: VerifyPlan, concurrency: int, stderr: Console) -> list[CheckResult]:
    """The checks, with a progress bar on stderr when it is a terminal (stdout stays clean)."""
    from storagectl.progress import stderr_progress
    from storagectl.verify.runner import run_checks

    progress = stderr_progress("verifying sites", stderr)
    with progress:
        task = progress.add_task("sites", total=len(plan.sites))
        return run_checks(plan, concurrency=concurrency, on_site_done=lambda _: progress.advance(task))


verify.__doc__ = (
    f"{inspect.cleandoc(verify.__doc__ or '')}\n\nChecks, a line each in docs/support.md: {', '.join(CHECK_ORDER)}."
)

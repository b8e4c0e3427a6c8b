"""storagectl: preview stacks offline and (in later commands) change them safely."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from components.config import ConfigError
from storagectl.commands import cors as cors_commands
from storagectl.commands import keys as keys_commands
from storagectl.commands import settings as settings_commands
from storagectl.commands import sites as sites_commands
from storagectl.stack_files import StackFile, read_stack_file, stack_path

app = typer.Typer(
    help="Operate site-storage: offline previews of stacks and support tasks on stack files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console(soft_wrap=True, emoji=False)
stderr = Console(stderr=True, soft_wrap=True, emoji=False)


@app.callback()
def root() -> None:
    """Operate site-storage: offline previews of stacks and support tasks on stack files."""


StackOption = Annotated[str | None, typer.Option("--stack", help="Stack name: reads stacks/Pulumi.<stack>.yaml.")]


def fail(lines: list[str], code: int = 2) -> typer.Exit:
    for line in lines:
        stderr.print(line, markup=False, highlight=False)
    return typer.Exit(code)


def open_stack(stack: str | None, config: Path | None) -> StackFile:
    if (stack is None) == (config is None):
        raise fail(["give exactly one of --stack NAME or --config PATH"])
    return read_stack_file(config if config is not None else stack_path(stack or ""))


@app.command()
def preview(
    stack: StackOption = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Any Pulumi stack config file; secure: values become placeholders.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of the report.")] = False,
    policy: Annotated[
        bool, typer.Option("--policy", help="Also run the policy pack's checks; exit 1 on a mandatory violation.")
    ] = False,
) -> None:
    """Run the real program offline (Pulumi mock runtime) and show what each site gets."""
    from storagectl.bucket_clash import check_like_preview
    from storagectl.offline import evaluate
    from storagectl.preview_report import preview_document, print_report

    stack_file = open_stack(stack, config)
    check_like_preview(stack_file, lambda line: stderr.print(line, markup=False, highlight=False))
    evaluation = evaluate(stack_file)
    for warning in evaluation.warnings:
        stderr.print(f"warning: {warning}", markup=False, highlight=False)
    document = preview_document(evaluation)
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        print_report(document, stdout)
    if policy:
        from storagectl.policy_check import check_evaluation, report

        if report(check_evaluation(evaluation, stack_file.values), stderr):
            raise typer.Exit(1)


# Support tasks (issue 3): each lives in storagectl/commands/.
app.add_typer(cors_commands.app, name="cors")
app.add_typer(sites_commands.app, name="sites")
app.add_typer(keys_commands.app, name="keys")  # issue 22: a site's own key, rotated without downtime
app.command("settings")(settings_commands.settings)

# Local stacks without the Pulumi CLI (issue 11): storagectl/local/.
from storagectl.local import command as local_commands  # noqa: E402

app.add_typer(local_commands.app, name="local")

# Live verification (issue 6): storagectl/verify/.
from storagectl.verify.command import verify as verify_command  # noqa: E402

app.command("verify")(verify_command)

# Media operations that keep private files private (issue 12): storagectl/media/.
from storagectl.media import command as media_commands  # noqa: E402

app.add_typer(media_commands.app, name="media")


def main() -> None:
    try:
        app()
    except ConfigError as error:
        for line in error.problems:
            stderr.print(line, markup=False, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()

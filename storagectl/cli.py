"""storagectl: preview stacks offline, change them safely, hand sites their settings, check and move storage."""

from __future__ import annotations

import inspect
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from components.config import ConfigError
from storagectl import help_facts
from storagectl.commands import cors as cors_commands
from storagectl.commands import keys as keys_commands
from storagectl.commands import settings as settings_commands
from storagectl.commands import sites as sites_commands
from storagectl.pipe_console import PipeConsole, quiet_exit_on_broken_pipe
from storagectl.stack_files import StackFile, read_stack_file, stack_path

PACKAGE = "site-storage"
SUMMARY = "Operate site-storage: preview stacks offline, edit them, hand sites their settings, check and move media."

# Plain help (click's layout, rich_markup_mode=None): it wraps at the terminal and breaks no path
# or URL with an ellipsis, shows no <bool> placeholder, and reads the same in a pipe.
app = typer.Typer(
    help=SUMMARY,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
stdout = PipeConsole(soft_wrap=True, emoji=False)
stderr = Console(stderr=True, soft_wrap=True, emoji=False)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"storagectl {metadata.version(PACKAGE)}")
        raise typer.Exit()


@app.callback(help=f"{SUMMARY}\n\n{help_facts.overview()}")
def root(
    version: Annotated[
        bool,
        typer.Option("--version", help="Print storagectl's version and exit.", callback=_version, is_eager=True),
    ] = False,
) -> None:
    pass


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
    """Run the real program offline (Pulumi mock runtime) and show what each site gets.

    Without a terminal (a pipe, a file) the report is one block per site instead of a table."""
    from storagectl.bucket_clash import check_like_preview
    from storagectl.offline import evaluate
    from storagectl.preview_report import preview_document, print_report

    try:
        stack_file = open_stack(stack, config)
        check_like_preview(stack_file, lambda line: stderr.print(line, markup=False, highlight=False))
    except ConfigError as error:
        raise fail(error.problems) from None
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


def _with_facts(typer_app: typer.Typer, prefix: str = "") -> None:
    """Plain help everywhere, and each command's help ending with what it touches (storagectl.help_facts)."""
    typer_app.rich_markup_mode = None
    for command in typer_app.registered_commands:
        name = command.name or (command.callback.__name__ if command.callback else "")
        facts = help_facts.BY_COMMAND.get(f"{prefix}{name}".strip())
        text = inspect.cleandoc(command.help or (command.callback.__doc__ if command.callback else None) or "")
        command.short_help = _first_sentence(text)  # click would cut it with "..." in the list of commands
        if facts is not None:
            command.help = f"{text}\n\n{facts.help_line()}"
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            group.short_help = _first_sentence(str(group.typer_instance.info.help or ""))
            _with_facts(group.typer_instance, f"{prefix}{group.name} ")


def _first_sentence(text: str) -> str:
    first = " ".join(text.split("\n\n")[0].split())
    return first.split(". ")[0].rstrip(".") + "."


_with_facts(app)


def _stdout_closed() -> bool:
    """Typer swaps stdout for click's PacifyFlushWrapper when a write to it met EPIPE."""
    return type(sys.stdout).__name__ == "PacifyFlushWrapper"


def main() -> None:
    try:
        app()
    except ConfigError as error:
        for line in error.problems:
            stderr.print(line, markup=False, highlight=False)
        sys.exit(2)
    except SystemExit:
        if _stdout_closed():
            # `storagectl sites list | head`: the reader had enough; typer would exit 1 for it.
            quiet_exit_on_broken_pipe()
        raise


if __name__ == "__main__":
    main()

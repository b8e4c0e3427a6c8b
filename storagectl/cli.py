"""storagectl: preview stacks offline and (in later commands) change them safely."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from components.config import ConfigError
from storagectl.stack_files import StackFile, read_stack_file, stack_path

app = typer.Typer(
    help="Operate site-storage: offline previews of stacks and support tasks on stack files.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stdout = Console(soft_wrap=True)
stderr = Console(stderr=True, soft_wrap=True)


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
) -> None:
    """Run the real program offline (Pulumi mock runtime) and show what each site gets."""
    from storagectl.offline import evaluate
    from storagectl.preview_report import preview_document, print_report

    stack_file = open_stack(stack, config)
    evaluation = evaluate(stack_file)
    for warning in evaluation.warnings:
        stderr.print(f"warning: {warning}", markup=False, highlight=False)
    document = preview_document(evaluation)
    if as_json:
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        print_report(document, stdout)


def main() -> None:
    try:
        app()
    except ConfigError as error:
        for line in error.problems:
            stderr.print(line, markup=False, highlight=False)
        sys.exit(2)


if __name__ == "__main__":
    main()

"""`storagectl settings SITE`: the Django settings a site needs, from the stack's real outputs.

The settings hold the site's key, so they go to stdout only; stderr says where they came
from and why a value is missing, never a value itself.
"""

from __future__ import annotations

import json
import pprint
import shlex
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from storagectl import pulumi_runner
from storagectl.commands import EXIT_FAILED, EXIT_NO_PULUMI, SiteArgument, check_stack_name, fail, say
from storagectl.stack_files import display_path, project_root

SECRET_MARK = "[secret]"
"""What `pulumi stack output` prints for a secret without --show-secrets."""
# Output key in site_settings -> Django setting name, in the order they are printed.
SETTING_NAMES = {
    "default_storage_dsn": "DEFAULT_STORAGE_DSN",
    "private_storage_dsn": "PRIVATE_STORAGE_DSN",
    "MEDIA_URL": "MEDIA_URL",
    "STORAGES": "STORAGES",
    "THUMBNAIL_DEFAULT_STORAGE": "THUMBNAIL_DEFAULT_STORAGE",
}


class Format(StrEnum):
    env = "env"
    python = "python"
    json = "json"


def settings(
    site: SiteArgument,
    stack: Annotated[
        str | None,
        typer.Option(
            "--stack",
            help="Stack whose outputs to read with `pulumi stack output` (needs the Pulumi CLI).",
            callback=check_stack_name,
        ),
    ] = None,
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            help="env: NAME='value' lines a POSIX shell reads; python: a settings module; json: one object.",
        ),
    ] = Format.env,
    outputs: Annotated[
        Path | None,
        typer.Option(
            "--outputs",
            help="Saved outputs instead of the Pulumi CLI: `pulumi stack output --json --show-secrets > FILE`.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """Print SITE's Django settings (DSNs, MEDIA_URL, STORAGES) from the stack outputs. They hold secrets."""
    if outputs is not None:
        source = display_path(outputs)
        say(f"reading saved stack outputs from {source}")
        try:
            text = outputs.read_text(encoding="utf-8")
        except OSError as error:
            raise fail([f"{source}: cannot read it: {error.strerror or error}"]) from None
    else:
        if stack is None:
            raise fail(["give --stack NAME (read with the Pulumi CLI) or --outputs FILE (saved outputs)"])
        text = _outputs_from_pulumi(stack)
        source = f"the outputs of stack {stack}"
    values, notes = site_settings(_parse(text, source), site, source, stack)
    for name, note in notes.items():
        say(f"note: {name} is not set: {note}")
    header = (
        f"Django storage settings for site {site} ({stack or source}). "
        "They hold the site's key: keep them out of logs and version control."
    )
    render = {Format.env: render_env, Format.python: render_python, Format.json: render_json}[output_format]
    typer.echo(render(values, notes, header), nl=False)


def _outputs_from_pulumi(stack: str) -> str:
    runner = pulumi_runner.runner()
    if not runner.available():
        raise fail(
            [
                "reading stack outputs needs the Pulumi CLI, and `pulumi` is not on PATH.",
                "Pass --outputs FILE with outputs saved where the CLI is "
                f"(`pulumi stack output --json --show-secrets --stack {stack} > FILE`), "
                f"or {pulumi_runner.INSTALL_HINT}.",
            ],
            EXIT_NO_PULUMI,
        )
    args = pulumi_runner.stack_output_args(stack)
    say(f"reading the outputs of stack {stack} with: {pulumi_runner.command_line(args)}")
    result = runner.run(args, cwd=project_root(), capture=True)
    if result.returncode != 0:
        # Pulumi reports errors on stderr; the outputs (secrets) would be on stdout.
        raise fail(
            [f"pulumi stack output failed (exit {result.returncode}):", *result.stderr.strip().splitlines()],
            EXIT_FAILED,
        )
    return result.stdout


def _parse(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # The message names a position only: the text holds secrets.
        raise fail([f"{source}: not JSON ({error.msg} at line {error.lineno} column {error.colno})"]) from None


def _hidden(source: str, stack: str | None) -> typer.Exit:
    return fail(
        [
            f"{source}: site_settings is hidden ({SECRET_MARK}): the outputs were read without --show-secrets; save "
            f"them with `pulumi stack output --json --show-secrets --stack {stack or 'NAME'} > FILE`"
        ]
    )


def site_settings(document: Any, site: str, source: str, stack: str | None) -> tuple[dict[str, Any], dict[str, str]]:
    """(Django settings by name, why a missing one is missing) for `site`.

    `document` is what `pulumi stack output --json --show-secrets` prints, or its
    `site_settings` output alone (`pulumi stack output site_settings --json --show-secrets`).
    """
    if not isinstance(document, dict):
        raise fail([f"{source}: is not a JSON object of stack outputs"])
    if "site_settings" in document:
        all_settings, facts = document["site_settings"], document.get("sites") or {}
    else:
        all_settings, facts = document, {}
    if all_settings == SECRET_MARK:
        raise _hidden(source, stack)
    if not isinstance(all_settings, dict):
        raise fail([f"{source}: site_settings: is not an object of sites; is this site-storage's output?"])
    if site not in all_settings:
        known = ", ".join(sorted(all_settings)) or "none"
        raise fail([f"{source}: site_settings.{site}: no such site in the outputs (sites: {known})"])
    entry = all_settings[site]
    if entry == SECRET_MARK:
        raise _hidden(source, stack)
    if not isinstance(entry, dict) or any(key not in entry for key in SETTING_NAMES):
        keys = ", ".join(SETTING_NAMES)
        raise fail([f"{source}: site_settings.{site}: is not a settings object; expected the keys {keys}"])
    if any(entry[key] == SECRET_MARK for key in SETTING_NAMES):
        raise _hidden(source, stack)
    values = {name: entry[key] for key, name in SETTING_NAMES.items()}
    fact = facts.get(site) if isinstance(facts, dict) else None
    reason = fact.get("dsn_unavailable_reason") if isinstance(fact, dict) else None
    notes: dict[str, str] = {}
    if values["DEFAULT_STORAGE_DSN"] is None:
        notes["DEFAULT_STORAGE_DSN"] = reason or "null in the stack outputs; use STORAGES"
    if values["PRIVATE_STORAGE_DSN"] is None:
        storages = values["STORAGES"]
        has_private = isinstance(storages, dict) and "private" in storages
        notes["PRIVATE_STORAGE_DSN"] = reason or ("null in the stack outputs" if has_private else "no private bucket")
    # One line each: a note ends up in a comment.
    return values, {name: " ".join(str(note).split()) for name, note in notes.items()}


def render_env(values: dict[str, Any], notes: dict[str, str], header: str) -> str:
    lines = [f"# {header}", "# STORAGES is JSON: STORAGES = json.loads(os.environ['STORAGES'])."]
    for name, value in values.items():
        if value is None:
            lines.append(f"# {name} is not set: {notes[name]}")
            continue
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        lines.append(f"{name}={shlex.quote(text)}")
    return "\n".join(lines) + "\n"


def render_python(values: dict[str, Any], notes: dict[str, str], header: str) -> str:
    lines = [f"# {header}"]
    for name, value in values.items():
        if value is None:
            lines.append(f"{name} = None  # {notes[name]}")
        else:
            lines.append(f"{name} = {pprint.pformat(value, sort_dicts=False, width=100)}")
    return "\n".join(lines) + "\n"


def render_json(values: dict[str, Any], notes: dict[str, str], header: str) -> str:
    return json.dumps(values, indent=2) + "\n"

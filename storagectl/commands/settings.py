"""`storagectl settings SITE`: the Django settings a site needs, from the stack's real outputs.

The settings hold the site's key, so they go to stdout only; stderr says where they came
from and why a value is missing, never a value itself.
"""

from __future__ import annotations

import json
import pprint
import shlex
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from storagectl.commands import SiteArgument, check_stack_name, choices_metavar, fail, one_of, say
from storagectl.stack_files import display_path, project_root
from storagectl.verify.outputs import OutputsError, not_stack_outputs, read_outputs_text

SECRET_MARK = "[secret]"
"""What `pulumi stack output` prints for a secret without --show-secrets."""
# Output key in site_settings -> Django setting name, in the order they are printed.
SETTING_NAMES = {
    "default_storage_dsn": "DEFAULT_STORAGE_DSN",
    "private_storage_dsn": "PRIVATE_STORAGE_DSN",
    "MEDIA_URL": "MEDIA_URL",
    "AWS_S3_FILE_OVERWRITE": "AWS_S3_FILE_OVERWRITE",
    "STORAGES": "STORAGES",
    "THUMBNAIL_DEFAULT_STORAGE": "THUMBNAIL_DEFAULT_STORAGE",
}
REQUIRED_KEYS = ("default_storage_dsn", "private_storage_dsn", "MEDIA_URL", "STORAGES", "THUMBNAIL_DEFAULT_STORAGE")
"""What every site-storage release has output; the others came later and may be missing from older outputs."""
ENVIRONMENT_KEY = "environment"
"""Process environment variables the site needs (botocore's checksum modes); not Django settings."""


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
            help="Stack whose outputs to read: the file `storagectl local up` wrote for it, else "
            "`pulumi stack output` (needs the Pulumi CLI).",
            callback=check_stack_name,
        ),
    ] = None,
    output_format: Annotated[
        Format,
        typer.Option(
            "--format",
            help="env: NAME='value' lines a POSIX shell reads; python: a settings module; json: one object.",
            parser=lambda text: Format(one_of([f.value for f in Format])(text)),
            metavar=choices_metavar([f.value for f in Format]),
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
    if outputs is None and stack is None:
        raise fail(["give --stack NAME (its outputs: local, or read with the Pulumi CLI) or --outputs FILE"])
    if stack is not None:
        _check_site_in_stack(stack, site)
    if outputs is not None:
        say(f"reading saved stack outputs from {display_path(outputs)}")
    try:
        text, source = read_outputs_text(stack or "", outputs, cwd=project_root())
    except OutputsError as error:
        raise fail(error.problems, error.exit_code) from None
    found = site_settings(_parse(text, source), site, source, stack)
    for name, note in found.notes.items():
        say(f"note: {name} is not set: {note}")
    header = (
        f"Django storage settings for site {site} ({stack or source}). "
        "They hold the site's key: keep them out of logs and version control."
    )
    render = {Format.env: render_env, Format.python: render_python, Format.json: render_json}[output_format]
    typer.echo(render(found, header), nl=False)


def _check_site_in_stack(stack: str, site: str) -> None:
    """The stack file exists, is valid and has SITE: said before any outputs are read (exit 2)."""
    from components.config import ConfigError
    from storagectl.stack_files import read_stack_file, stack_path
    from storagectl.verify.plan import unknown_sites

    try:
        problems = unknown_sites(read_stack_file(stack_path(stack)).settings(), [site])
    except ConfigError as error:
        problems = error.problems
    if problems:
        raise fail(problems)


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


@dataclass(frozen=True)
class SiteSettings:
    values: dict[str, Any]
    """Django settings by name (None: not set, see `notes`)."""
    environment: dict[str, str]
    """Process environment variables the site needs besides its settings."""
    notes: dict[str, str]
    """Why a setting is missing, one line each."""


def site_settings(document: Any, site: str, source: str, stack: str | None) -> SiteSettings:
    """`site`'s settings, environment and notes.

    `document` is what `pulumi stack output --json --show-secrets` prints, or its
    `site_settings` output alone (`pulumi stack output site_settings --json --show-secrets`).
    """
    # Never a preview document or other JSON: its top-level keys would pass for site names.
    foreign = not_stack_outputs(document, source=source, stack=stack)
    if foreign is not None:
        raise fail([foreign])
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
    if not isinstance(entry, dict) or any(key not in entry for key in REQUIRED_KEYS):
        keys = ", ".join(REQUIRED_KEYS)
        raise fail([f"{source}: site_settings.{site}: is not a settings object; expected the keys {keys}"])
    if any(entry.get(key) == SECRET_MARK for key in (*SETTING_NAMES, ENVIRONMENT_KEY)):
        raise _hidden(source, stack)
    environment = entry.get(ENVIRONMENT_KEY, {})
    if not isinstance(environment, dict) or not all(
        isinstance(name, str) and isinstance(value, str) for name, value in environment.items()
    ):
        raise fail([f"{source}: site_settings.{site}.{ENVIRONMENT_KEY}: is not an object of strings"])
    values = {name: entry.get(key) for key, name in SETTING_NAMES.items()}
    fact = facts.get(site) if isinstance(facts, dict) else None
    reason = fact.get("dsn_unavailable_reason") if isinstance(fact, dict) else None
    notes: dict[str, str] = {}
    if values["DEFAULT_STORAGE_DSN"] is None:
        notes["DEFAULT_STORAGE_DSN"] = reason or "null in the stack outputs; use STORAGES"
    if values["PRIVATE_STORAGE_DSN"] is None:
        storages = values["STORAGES"]
        has_private = isinstance(storages, dict) and "private" in storages
        notes["PRIVATE_STORAGE_DSN"] = reason or ("null in the stack outputs" if has_private else "no private bucket")
    if values["AWS_S3_FILE_OVERWRITE"] is None:
        notes["AWS_S3_FILE_OVERWRITE"] = "not in these outputs (saved before site-storage had it): run `pulumi up`"
    # One line each: a note ends up in a comment.
    return SiteSettings(values, dict(environment), {name: " ".join(str(note).split()) for name, note in notes.items()})


def render_env(found: SiteSettings, header: str) -> str:
    lines = [
        f"# {header}",
        "# STORAGES and AWS_S3_FILE_OVERWRITE are JSON: json.loads(os.environ['STORAGES']); django-storages reads",
        "# AWS_S3_FILE_OVERWRITE from settings.py only, so set it there from this variable.",
    ]
    if found.environment:
        lines.append("# botocore reads the AWS_*_CHECKSUM_* variables itself (DSN and STORAGES sites alike).")
    for name, value in found.values.items():
        if value is None:
            lines.append(f"# {name} is not set: {found.notes[name]}")
            continue
        text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        lines.append(f"{name}={shlex.quote(text)}")
    lines += [f"{name}={shlex.quote(value)}" for name, value in found.environment.items()]
    return "\n".join(lines) + "\n"


class _PythonSource:
    """A value pprint prints as the given Python source (its repr)."""

    def __init__(self, source: str) -> None:
        self._source = source

    def __repr__(self) -> str:
        return self._source


def _client_config(options: dict[str, Any], environment: dict[str, str]) -> _PythonSource:
    """A botocore Config with the environment's checksum modes. django-storages ignores signature_version and
    addressing_style once it is given a client_config, so the Config carries them too."""
    arguments = {
        "signature_version": options.get("signature_version"),
        "s3": {"addressing_style": options.get("addressing_style")},
        "request_checksum_calculation": environment.get("AWS_REQUEST_CHECKSUM_CALCULATION"),
        "response_checksum_validation": environment.get("AWS_RESPONSE_CHECKSUM_VALIDATION"),
    }
    shown = ", ".join(f"{name}={value!r}" for name, value in arguments.items() if value not in (None, {}))
    return _PythonSource(f"Config({shown})")


def _with_client_configs(storages: Any, environment: dict[str, str]) -> Any:
    if not environment or not isinstance(storages, dict):
        return storages
    converted: dict[str, Any] = {}
    for alias, storage in storages.items():
        options = storage.get("OPTIONS") if isinstance(storage, dict) else None
        if isinstance(options, dict) and "bucket_name" in options:
            storage = {**storage, "OPTIONS": {**options, "client_config": _client_config(options, environment)}}
        converted[alias] = storage
    return converted


def render_python(found: SiteSettings, header: str) -> str:
    lines = [f"# {header}"]
    if found.environment:
        lines += [
            "import os",
            "",
            "from botocore.config import Config",
            "",
            "# For DSN storages (django-storage-url takes no client config); botocore reads them for every client.",
            *(f"os.environ.setdefault({name!r}, {value!r})" for name, value in found.environment.items()),
        ]
    for name, value in found.values.items():
        if value is None:
            lines.append(f"{name} = None  # {found.notes[name]}")
            continue
        if name == "STORAGES":
            value = _with_client_configs(value, found.environment)
        lines.append(f"{name} = {pprint.pformat(value, sort_dicts=False, width=100)}")
    return "\n".join(lines) + "\n"


def render_json(found: SiteSettings, header: str) -> str:
    return json.dumps({**found.values, ENVIRONMENT_KEY: found.environment}, indent=2) + "\n"

"""Reading a stack's outputs: from the Pulumi CLI, or from a file saved where the CLI runs.

Both give the same JSON object: {"region", "endpoint_url", "sites", "site_settings"}.
`site_settings` holds credentials, so nothing read here is ever echoed in a message.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from storagectl import pulumi_runner
from storagectl.commands import EXIT_FAILED, EXIT_INVALID, EXIT_NO_PULUMI, say
from storagectl.local_outputs import local_outputs_path, local_up_command, stack_is_local
from storagectl.stack_files import display_path, project_root

SAVE_HINT = "pulumi stack output --json --show-secrets --stack {stack} > outputs.json"
OUTPUT_KEYS = ("region", "endpoint_url", "region_notes", "sites", "site_settings")
"""What the program exports (components/program.py), so what `pulumi stack output --json` prints."""
PREVIEW_KEYS = frozenset({"stack", "resources"})
"""Keys of `storagectl preview --json` that no stack output has."""


class OutputsError(Exception):
    """The outputs could not be read; `problems` holds one line each, `exit_code` the command's exit code."""

    def __init__(self, problems: list[str], exit_code: int = EXIT_INVALID) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.exit_code = exit_code


@dataclass(frozen=True)
class StackOutputs:
    source: str
    """Where the outputs came from, for messages."""
    region: str | None
    endpoint_url: str | None
    sites: dict[str, dict[str, Any]]
    """Plain facts per site (buckets, media_url, cors)."""
    site_settings: dict[str, dict[str, Any]]
    """Secret per site: DSNs and the STORAGES block with the site's key."""


def read_outputs(stack: str, outputs_file: Path | None = None, *, cwd: Path | None = None) -> StackOutputs:
    """The stack's outputs (see `read_outputs_text` for where from), checked for what verify needs."""
    text, source = read_outputs_text(stack, outputs_file, cwd=cwd)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        # The position only: the text may hold secrets.
        raise OutputsError([f"{source}: not JSON (line {error.lineno}, column {error.colno})"]) from None
    return parse_outputs(document, source=source, stack=stack)


def read_outputs_text(stack: str, outputs_file: Path | None = None, *, cwd: Path | None = None) -> tuple[str, str]:
    """The text of the stack's outputs and where it came from, for `settings` and `verify` alike.

    In this order: `outputs_file` when given; the file `storagectl local up` wrote for a local
    stack; `pulumi stack output --json --show-secrets`. The source goes to stderr so nobody
    mistakes one for another.
    """
    if outputs_file is None and (local := local_outputs_path(stack)).is_file():
        outputs_file = local
        say(f"reading the outputs `storagectl local up --stack {stack}` wrote: {display_path(local)}")
    if outputs_file is not None:
        source = display_path(outputs_file)
        try:
            return outputs_file.read_text(encoding="utf-8"), source
        except OSError as error:
            raise OutputsError([f"{source}: cannot read the outputs file: {error.strerror or error}"]) from None
    return _pulumi_outputs(stack, cwd), f"pulumi stack output --stack {stack}"


def _pulumi_outputs(stack: str, cwd: Path | None) -> str:
    # Through the one runner that shells out to Pulumi, so tests can stand in for the CLI.
    runner = pulumi_runner.runner()
    local = stack_is_local(stack)
    if not runner.available() and local:
        raise OutputsError(
            [
                f"stack {stack} has no outputs yet ({display_path(local_outputs_path(stack))} is missing): "
                f"`{local_up_command(stack)}` creates its storage on the local S3 server and writes them"
            ]
        )
    if not runner.available():
        raise OutputsError(
            [
                f"reading the outputs of stack {stack} needs the Pulumi CLI, and `pulumi` is not on PATH; where the "
                f"CLI runs, save them with `{SAVE_HINT.format(stack=stack)}` and pass --outputs outputs.json "
                f"({pulumi_runner.INSTALL_HINT})"
            ],
            exit_code=EXIT_NO_PULUMI,
        )
    args = pulumi_runner.stack_output_args(stack)
    say(f"reading the outputs of stack {stack} with: {pulumi_runner.command_line(args)}")
    done = runner.run(args, cwd=cwd or project_root(), capture=True)
    if done.returncode != 0:
        # Pulumi reports errors on stderr; the outputs (secrets) would be on stdout.
        detail = next((line.strip() for line in done.stderr.splitlines() if line.strip()), "no message")
        hint = f"; a local stack's outputs come from `{local_up_command(stack)}`" if local else ""
        raise OutputsError(
            [f"`pulumi stack output --stack {stack}` failed (exit {done.returncode}): {detail}{hint}"],
            exit_code=EXIT_FAILED,
        )
    return done.stdout


def not_stack_outputs(document: Any, *, source: str, stack: str | None) -> str | None:
    """Why `document` is not what `pulumi stack output --json` prints for this project; None when it may be.

    A `storagectl preview --json` document also has `sites`, but with placeholder keys and no
    `site_settings`; read as outputs, its top-level keys would pass for site names. The
    `site_settings` output saved alone (`pulumi stack output site_settings --json`) may be.
    """
    save = f"save the stack's outputs with `{SAVE_HINT.format(stack=stack or 'NAME')}`"
    if not isinstance(document, dict):
        return f"{source}: is not a JSON object of stack outputs; {save}"
    if "site_settings" in document:
        return None
    if set(document) >= PREVIEW_KEYS:
        return (
            f"{source}: is `storagectl preview --json` output (placeholder keys, no site_settings), "
            f"not the stack's outputs; {save}"
        )
    if document and all(isinstance(block, dict) and "STORAGES" in block for block in document.values()):
        return None  # the site_settings output alone
    keys = ", ".join(str(key) for key in document) or "none"
    return (
        f"{source}: is not the outputs of a site-storage stack: no site_settings (top-level keys: {keys}; "
        f"the outputs are {', '.join(OUTPUT_KEYS)}); {save}"
    )


def parse_outputs(document: Any, *, source: str, stack: str) -> StackOutputs:
    """Check the shape verify relies on; one line per problem, never a value."""
    foreign = not_stack_outputs(document, source=source, stack=stack)
    if foreign is not None:
        raise OutputsError([foreign])
    if not isinstance(document, dict):
        raise OutputsError([f"{source}: expected a JSON object with sites and site_settings"])
    problems: list[str] = []
    sites = document.get("sites")
    settings = document.get("site_settings")
    if not isinstance(sites, dict):
        problems.append(f"{source}: sites: missing or not an object; has `pulumi up` run for stack {stack}?")
        sites = {}
    if isinstance(settings, str):
        problems.append(
            f"{source}: site_settings: is hidden ({settings}); read the outputs with --show-secrets: "
            f"`{SAVE_HINT.format(stack=stack)}`"
        )
        settings = {}
    elif not isinstance(settings, dict):
        problems.append(f"{source}: site_settings: missing or not an object")
        settings = {}
    for slug, facts in sites.items():
        if not isinstance(facts, dict) or not isinstance(facts.get("public_bucket"), str):
            problems.append(f"{source}: sites.{slug}: has no public_bucket")
        block = settings.get(slug)
        if block is None and settings:
            problems.append(f"{source}: site_settings.{slug}: missing, though sites.{slug} is there")
        elif block is not None and not _has_storages(block):
            problems.append(f"{source}: site_settings.{slug}: has no STORAGES.default.OPTIONS with the site's key")
    if problems:
        raise OutputsError(problems)
    return StackOutputs(
        source=source,
        region=document.get("region"),
        endpoint_url=document.get("endpoint_url"),
        sites=sites,
        site_settings=settings,
    )


def _has_storages(block: Any) -> bool:
    try:
        options = block["STORAGES"]["default"]["OPTIONS"]
    except (KeyError, TypeError):
        return False
    return isinstance(options, dict) and all(
        isinstance(options.get(key), str) for key in ("access_key", "secret_key", "bucket_name")
    )

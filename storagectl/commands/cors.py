"""`storagectl cors show|enable|disable`: CORS rules on one site's public bucket."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from components.config import CORS_METHODS, CorsRule
from storagectl.commands import (
    ApplyOption,
    DryRunOption,
    SiteArgument,
    StackOption,
    check_apply,
    choices_metavar,
    editing,
    fail,
    follow_up,
    one_of,
    open_stack,
    say,
    whole_number,
    write_edit,
)
from storagectl.stack_edit import StackEditor, flow_seq

app = typer.Typer(
    help="Show a site's CORS rule, or enable or disable it by editing the stack file (support requests). "
    "Applying the edit is the printed next step: `pulumi up`, or `storagectl local up` for a local stack.",
    no_args_is_help=True,
)


METHODS = CORS_METHODS
"""The methods S3 allows in a CORS rule, written as the stack file writes them."""
ANY_ORIGIN = "*"


@app.command("show")
def show(
    site: SiteArgument,
    stack: StackOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rule as JSON (null when CORS is off).")] = False,
) -> None:
    """Print the CORS rule of SITE, or that CORS is off."""
    opened = open_stack(stack)
    rule = opened.site(site).cors
    if as_json:
        typer.echo(json.dumps(_rule_facts(rule), indent=2))
        return
    if rule is None:
        typer.echo(f"{site}: CORS off")
        return
    typer.echo(f"{site}: CORS on")
    for key, value in {**rule.as_dict(), "allow_any_origin": rule.allow_any_origin}.items():
        shown = ", ".join(value) if isinstance(value, list) else json.dumps(value)
        typer.echo(f"  {key}: {shown or '(none)'}")


def _rule_facts(rule: CorsRule | None) -> dict[str, object] | None:
    if rule is None:
        return None
    return {**rule.as_dict(), "allow_any_origin": rule.allow_any_origin}


@app.command("enable")
def enable(
    site: SiteArgument,
    stack: StackOption,
    origins: Annotated[
        list[str],
        typer.Option(
            "--origin",
            help="Origin allowed to read the media, https://host[:port]; repeat for several. "
            "Added to the origins already there.",
            show_default=False,
        ),
    ],
    methods: Annotated[
        list[str] | None,
        typer.Option(
            "--method",
            help="HTTP method to allow (any case); repeat for several. Replaces the site's list (default GET, HEAD).",
            show_default=False,
            parser=one_of(METHODS),
            metavar=choices_metavar(METHODS),
        ),
    ] = None,
    max_age: Annotated[
        int | None,
        typer.Option(
            "--max-age",
            help="Seconds browsers may cache a preflight answer, 0 or more (default 3600).",
            parser=whole_number(0, None, "seconds browsers may cache a preflight answer"),
            metavar="SECONDS",
        ),
    ] = None,
    allow_any_origin: Annotated[
        bool,
        typer.Option("--allow-any-origin", help="Needed for --origin '*': any website may then read the media."),
    ] = False,
    dry_run: DryRunOption = False,
    apply: ApplyOption = False,
) -> None:
    """Allow browsers on ORIGIN(s) to read SITE's public media (CORS), validated like preview."""
    check_apply(apply, dry_run, stack)
    with editing(stack, dry_run=dry_run) as opened:
        current = opened.site(site).cors
        if ANY_ORIGIN in origins and not allow_any_origin and (current is None or not current.allow_any_origin):
            raise fail(
                [
                    f"--origin '{ANY_ORIGIN}' lets every website read {site}'s public media; add --allow-any-origin "
                    "to mean it (nothing changed)"
                ]
            )
        wanted_methods = list(dict.fromkeys(methods)) if methods else None
        new_origins = list(dict.fromkeys(o for o in origins if current is None or o not in current.origins))
        changes_methods = wanted_methods is not None and (current is None or tuple(wanted_methods) != current.methods)
        changes_age = max_age is not None and (current is None or max_age != current.max_age_seconds)
        changes_any = allow_any_origin and (current is None or not current.allow_any_origin)
        if not (new_origins or changes_methods or changes_age or changes_any):
            say(f"{site}: CORS already allows {', '.join(origins)} with these settings; nothing changed")
            return

        def change(site_map: CommentedMap) -> None:
            cors = site_map.get("cors")
            if not isinstance(cors, CommentedMap):
                cors = site_map["cors"] = CommentedMap()
            listed = cors.get("origins")
            if isinstance(listed, CommentedSeq):
                listed.extend(new_origins)
            else:
                cors["origins"] = CommentedSeq(new_origins)
            if changes_any:
                cors["allow_any_origin"] = True
            if changes_methods and wanted_methods is not None:
                existing = cors.get("methods")
                if isinstance(existing, CommentedSeq):
                    del existing[:]  # in place: the list keeps its style ([GET, HEAD] or one per line)
                    existing.extend(wanted_methods)
                else:
                    cors["methods"] = flow_seq(wanted_methods)
            if changes_age:
                cors["max_age_seconds"] = max_age

        editor = StackEditor(opened.path, opened.text)
        editor.update_mapping((*editor.project_key("sites"), site), change)
        edit = write_edit(opened, editor.text, site, dry_run=dry_run)
    follow_up(edit, apply=apply)


@app.command("disable")
def disable(site: SiteArgument, stack: StackOption, dry_run: DryRunOption = False, apply: ApplyOption = False) -> None:
    """Remove SITE's CORS rule: browsers on other sites can no longer read its media."""
    check_apply(apply, dry_run, stack)
    with editing(stack, dry_run=dry_run) as opened:
        if opened.site(site).cors is None:
            say(f"{site}: CORS is already off; nothing changed")
            return
        editor = StackEditor(opened.path, opened.text)
        editor.delete_key((*editor.project_key("sites"), site, "cors"))
        edit = write_edit(opened, editor.text, site, dry_run=dry_run)
    follow_up(edit, apply=apply)

"""The help people read first: what each command touches, the version, plain layouts, quiet broken pipes.

README.md's "What needs the Pulumi CLI" table and docs/support.md's table of checks are held to
what `--help` prints, so the docs cannot drift from the commands.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from storagectl.cli import app
from storagectl.help_facts import FACTS, Facts, readme_rows
from storagectl.verify.check_ids import CHECK_ORDER
from storagectl.verify.report import Redactor, json_document, print_table
from storagectl.verify.results import CheckResult

ROOT = Path(__file__).resolve().parent.parent
STORAGECTL = Path(sys.executable).parent / "storagectl"
COMMANDS = [facts.command for facts in FACTS]


def help_text(*command: str) -> str:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.stdout


def flat(text: str) -> str:
    return " ".join(text.split())


def markdown_table(path: Path, header: str) -> list[list[str]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_every_command_has_facts_and_every_fact_a_command() -> None:
    """A command added without saying what it touches fails here."""
    root = CliRunner().invoke(app, ["--help"]).stdout
    groups = re.findall(r"^  (\w+)\s", root.split("Commands:")[1], flags=re.MULTILINE)
    listed = []
    for group in groups:
        text = help_text(group)
        if "Commands:" in text:
            listed += [f"{group} {sub}" for sub in re.findall(r"^  (\w+)\s", text.split("Commands:")[1], re.M)]
        else:
            listed.append(group)
    assert sorted(listed) == sorted(COMMANDS)


@pytest.mark.parametrize("facts", FACTS, ids=lambda facts: facts.command)
def test_each_commands_help_says_what_it_changes_whether_it_talks_to_storage_and_needs_the_pulumi_cli(
    facts: Facts,
) -> None:
    assert flat(facts.help_line()) in flat(help_text(*facts.command.split()))


def test_the_readme_table_is_the_help() -> None:
    rows = markdown_table(ROOT / "README.md", "| command | changes files | talks to storage | needs the Pulumi CLI |")
    assert rows == readme_rows()


def test_the_top_level_help_says_which_commands_change_files_or_need_the_pulumi_cli() -> None:
    text = flat(help_text())
    assert (
        "Change files: cors enable/disable, sites add/remove, keys rotate/retire/revoke, local up/down, media "
        "backup/pull" in text
    )
    assert (
        "Need the Pulumi CLI: cors enable/disable, sites add/remove, keys rotate/retire/revoke only with --apply; "
        "settings, verify, media" in text
    )
    assert "..." not in help_text().split("Commands:")[1], "no command description cut short"


def test_version_prints_the_projects_version_from_its_package_metadata() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"storagectl {metadata.version('site-storage')}\n"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'version = "{metadata.version("site-storage")}"' in pyproject


@pytest.mark.parametrize("command", sorted({c.split()[0] for c in COMMANDS} | set(COMMANDS)))
def test_help_shows_no_bool_placeholder_and_cuts_nothing_at_80_columns(command: str) -> None:
    text = help_text(*command.split())
    assert "<bool>" not in text
    assert "…" not in text, "a path or URL cut with an ellipsis"
    assert all(len(line) <= 80 for line in text.splitlines()), [line for line in text.splitlines() if len(line) > 80]
    assert "╭" not in text, "plain help: readable in a pipe"


def test_a_missing_paths_help_keeps_the_path_whole() -> None:
    assert "stacks/Pulumi.<stack>.yaml" in help_text("cors", "enable")


def test_preview_in_a_pipe_prints_each_bucket_name_whole(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["preview", "--stack", "aws-eu-central-1"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "  public bucket   acme-media-acme-live-public" in lines
    assert "  private bucket  acme-media-acme-stage-private" in lines
    assert "  media URL       https://acme-media-brochure-live-public.s3.eu-central-1.amazonaws.com/" in lines
    assert "┃" not in result.stdout and "│" not in result.stdout


RESULTS = [
    CheckResult("acme-live", "public.read-write", "pass", "acme-media-acme-live-public: put, get, list and delete"),
    CheckResult("acme-live", "isolation", "fail", "this site's key may get in acme-stage's private bucket"),
]


def test_the_verify_result_is_called_status_in_the_table_and_the_json() -> None:
    written = io.StringIO()
    print_table("prod", RESULTS, Redactor([]), Console(file=written, force_terminal=True, width=200))
    header = next(line for line in written.getvalue().splitlines() if "check" in line)
    assert "status" in header and "result" not in header
    assert {record["status"] for record in json_document("prod", RESULTS, Redactor([]))["results"]} == {"pass", "fail"}


def test_verify_in_a_pipe_prints_one_plain_line_per_check() -> None:
    written = io.StringIO()
    print_table("prod", RESULTS, Redactor([]), Console(file=written, width=80))
    assert written.getvalue().splitlines() == [
        "storagectl verify: stack prod, 1 site",
        "site       check              status  reason",
        "acme-live  public.read-write  pass    acme-media-acme-live-public: put, get, list and delete",
        "acme-live  isolation          fail    this site's key may get in acme-stage's private bucket",
        "NOT all checks passed: 1 pass, 1 fail, 0 skip, 0 n/a",
    ]


def test_the_support_guides_table_of_checks_is_verifys() -> None:
    rows = markdown_table(ROOT / "docs" / "support.md", "| check | passes when |")
    documented = [check.strip("`") for row in rows for check in row[0].split(", ")]
    assert sorted(documented) == sorted(CHECK_ORDER)
    assert f"Checks, a line each in docs/support.md: {', '.join(CHECK_ORDER)}." in flat(help_text("verify"))


@pytest.mark.parametrize(
    "command",
    [["preview", "--stack", "aws-eu-central-1"], ["sites", "list", "--stack", "aws-eu-central-1"]],
    ids=["rich-table", "plain-echo"],
)
def test_a_reader_that_stops_early_ends_the_command_quietly(command: list[str]) -> None:
    """`storagectl preview | head`: the reader closed its end; no error text, exit 141 (128 + SIGPIPE) or 0."""
    process = subprocess.Popen(
        [str(STORAGECTL), *command], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # before the command writes a byte: every write meets a broken pipe
    errors = process.stderr.read()
    code = process.wait(timeout=120)
    assert code == 141, errors
    assert errors == "" or errors.startswith("stack aws-eu-central-1: "), errors  # sites list's stderr line only

"""Every refusal names the next right step for the stack at hand, with the exit code docs/support.md gives.

Wrong-way messages once sent people to the Pulumi CLI for a local stack, to the YAML key for a
command-line flag, or to a validation error without the value given. Each test runs the CLI as
a user would and asserts the exact step it prints.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from storagectl.pulumi_runner import use_runner
from tests.support.cli_project import Project, RecordingRunner, copy_project, invoke, plain
from tests.support.local_project import local_project

LOCAL_UP = "`storagectl local up --stack local`"
NO_OUTPUTS = (
    f"stack local has no outputs yet (.local/outputs-local.json is missing): {LOCAL_UP} creates its storage on the "
    "local S3 server and writes them"
)
AWS = "aws-eu-central-1"
AWS_SITES = "(sites: acme-live, acme-stage, brochure-live)"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Project]:
    """The example stacks, and no Pulumi CLI: what a new user has after `make preview`."""
    found = copy_project(tmp_path / "project")
    monkeypatch.chdir(found.root)
    with use_runner(RecordingRunner(is_available=False)):
        yield found


@pytest.mark.parametrize(
    "command",
    [
        ["settings", "demo", "--stack", "local"],
        ["verify", "--stack", "local"],
        ["verify", "demo", "--stack", "local"],
        ["media", "backup", "demo", "--stack", "local", "--to", "backup"],
    ],
)
def test_a_local_stack_without_outputs_names_local_up_not_the_pulumi_cli(project: Project, command: list[str]) -> None:
    result = invoke(*command)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == NO_OUTPUTS
    assert "Pulumi CLI" not in result.stderr
    assert not (project.root / "backup").exists()


@pytest.mark.parametrize(
    "command",
    [
        ["settings", "demo", "--stack", "nosuch"],
        ["verify", "--stack", "nosuch"],
        ["cors", "show", "demo", "--stack", "nosuch"],
        ["sites", "list", "--stack", "nosuch"],
        ["preview", "--stack", "nosuch"],
        ["media", "pull", "demo", "x", "--stack", "nosuch"],
        ["local", "status", "--stack", "nosuch"],
    ],
)
def test_a_missing_stack_file_is_said_the_same_way_by_every_command(project: Project, command: list[str]) -> None:
    result = invoke(*command)
    assert result.exit_code == 2
    assert result.stderr.strip() == "stacks/Pulumi.nosuch.yaml: no such stack file"


@pytest.mark.parametrize("command", [["settings", "nosite", "--stack", AWS], ["verify", "nosite", "--stack", AWS]])
def test_an_unknown_site_is_named_with_the_sites_that_exist_before_any_outputs_are_read(
    project: Project, command: list[str]
) -> None:
    """Not exit 3 for a missing Pulumi CLI: the outputs are never needed to know the site is not there."""
    result = invoke(*command)
    assert result.exit_code == 2
    assert result.stderr.strip() == (f"stacks/Pulumi.{AWS}.yaml: sites.nosite: no such site in stack {AWS} {AWS_SITES}")


def test_cors_on_the_local_stack_names_local_up_as_the_next_step(project: Project) -> None:
    result = invoke("cors", "enable", "demo", "--stack", "local", "--origin", "https://shop.example")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == [
        f"next step: bring the local S3 server up to date (no Pulumi CLI needed, in {project.root}):",
        "  storagectl local up --stack local",
    ]
    assert "pulumi" not in result.stdout
    dry = invoke("cors", "disable", "demo", "--stack", "local", "--dry-run")
    assert dry.stdout.splitlines()[-1] == "  storagectl local up --stack local"
    assert dry.stdout.splitlines()[-2].startswith("after writing (run again without --dry-run), the next step: ")


def test_apply_on_the_local_stack_names_local_up_and_changes_nothing(project: Project) -> None:
    before = project.stack_bytes("local")
    result = invoke("cors", "enable", "demo", "--stack", "local", "--origin", "https://shop.example", "--apply")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"--apply runs `pulumi up`; stack local is applied to its local S3 server by {LOCAL_UP}: run this command "
        "without --apply, then that one; nothing was changed"
    )
    assert project.stack_bytes("local") == before


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["cors", "enable", "acme-live", "--stack", AWS, "--origin", "https://a.example", "--max-age", "-1"],
            "Invalid value for '--max-age': -1 is not allowed; use 0 or more (seconds browsers may cache a "
            "preflight answer)",
        ),
        (
            ["verify", "--stack", AWS, "--concurrency", "0"],
            "Invalid value for '--concurrency': 0 is not allowed; use 1 to 64 (sites checked at the same time)",
        ),
        (
            ["verify", "--stack", AWS, "--concurrency", "many"],
            "Invalid value for '--concurrency': 'many' is not a whole number; use 1 to 64 (sites checked at the "
            "same time)",
        ),
        (
            ["settings", "acme-live", "--stack", AWS, "--format", "yaml"],
            "Invalid value for '--format': 'yaml' is not allowed; use one of env, python, json",
        ),
    ],
)
def test_a_bad_option_value_is_shown_with_what_is_allowed(project: Project, command: list[str], message: str) -> None:
    result = invoke(*command)
    assert result.exit_code == 2
    assert plain(result.stderr).endswith(f"Error: {message}")
    assert "Value error" not in result.stderr


def test_format_and_method_take_any_case_and_help_lists_methods_as_the_stack_writes_them(project: Project) -> None:
    outputs = project.root / "outputs.json"
    outputs.write_text('{"site_settings": {}}')
    upper = invoke("settings", "acme-live", "--outputs", str(outputs), "--format", "ENV")
    assert "--format" not in upper.stderr, "ENV is env"
    lower = invoke(
        "cors", "enable", "acme-live", "--stack", AWS, "--origin", "https://a.example", "--method", "get",
        "--method", "Head", "--dry-run",
    )  # fmt: skip
    assert lower.exit_code == 0, lower.stderr
    assert "+        methods: [GET, HEAD]\n" not in lower.stdout, "GET, HEAD is the site's list already"
    put = invoke(
        "cors", "enable", "acme-live", "--stack", AWS, "--origin", "https://a.example", "--method", "put", "--dry-run"
    )
    assert "+        methods: [PUT]\n" in put.stdout
    assert "--method [GET|PUT|POST|DELETE|HEAD]" in invoke("cors", "enable", "--help").stdout


class _NotS3(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body>a web app, not S3</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_local_up_against_a_server_that_is_not_s3_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _NotS3)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with local_project(tmp_path / "project", monkeypatch) as (project, free):
            text = project.stack_file("local").read_text().replace(free, endpoint)
            project.stack_file("local").write_text(text)
            result = invoke("local", "up", "--stack", "local")
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"the server answering on {endpoint} is not an S3 server (ListBuckets got a text/html answer from "
        f"{_NotS3.server_version} {_NotS3.sys_version}); stop it, or give stack local a free port in "
        f"site-storage:endpoint (stacks/Pulumi.local.yaml), where {LOCAL_UP} starts a moto server"
    )
    assert not (project.root / ".local" / "outputs-local.json").exists()

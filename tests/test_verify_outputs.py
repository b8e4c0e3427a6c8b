"""Where verify gets the outputs (the Pulumi CLI or a saved file) and how it refuses bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from storagectl.cli import app
from storagectl.verify.outputs import OutputsError, read_outputs

SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
OUTPUTS: dict[str, Any] = {
    "region": "aws-eu-central-1",
    "endpoint_url": "https://s3.eu-central-1.amazonaws.com",
    "sites": {"acme-live": {"public_bucket": "acme-media-acme-live-public", "private_bucket": None}},
    "site_settings": {
        "acme-live": {
            "STORAGES": {
                "default": {
                    "OPTIONS": {
                        "bucket_name": "acme-media-acme-live-public",
                        "access_key": "AKIAIOSFODNN7EXAMPLE",
                        "secret_key": SECRET,
                    }
                }
            }
        }
    },
}


def fake_pulumi(directory: Path, script: str) -> Path:
    """An executable named `pulumi` that runs `script` (POSIX shell)."""
    path = directory / "pulumi"
    path.write_text(f"#!/bin/sh\n{script}\n", encoding="utf-8")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_reads_the_outputs_through_the_pulumi_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "outputs.json").write_text(json.dumps(OUTPUTS), encoding="utf-8")
    fake_pulumi(tmp_path, f'echo "$@" > {tmp_path}/argv\ncat {tmp_path}/outputs.json')
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    outputs = read_outputs("prod", cwd=tmp_path)
    assert (tmp_path / "argv").read_text().split() == ["stack", "output", "--json", "--show-secrets", "--stack", "prod"]
    assert outputs.source == "pulumi stack output --stack prod"
    assert outputs.site_settings["acme-live"]["STORAGES"]["default"]["OPTIONS"]["secret_key"] == SECRET


def test_reports_the_pulumi_cli_failure_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_pulumi(tmp_path, "echo \"error: no stack named 'prod' found\" >&2\nexit 255")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(OutputsError) as caught:
        read_outputs("prod", cwd=tmp_path)
    assert caught.value.problems == [
        "`pulumi stack output --stack prod` failed (exit 255): error: no stack named 'prod' found"
    ]


def test_without_the_pulumi_cli_asks_for_a_saved_outputs_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    result = CliRunner().invoke(app, ["verify", "--stack", "aws-eu-central-1"])
    # 3, as `settings` exits when only the Pulumi CLI is missing (2 is bad input).
    assert result.exit_code == 3
    assert "outputs of stack aws-eu-central-1 needs the Pulumi CLI, and `pulumi` is not on PATH" in result.stderr
    assert "pulumi stack output --json --show-secrets --stack aws-eu-central-1 > outputs.json" in result.stderr


def test_refuses_outputs_read_without_show_secrets(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({**OUTPUTS, "site_settings": "[secret]"}), encoding="utf-8")
    with pytest.raises(OutputsError) as caught:
        read_outputs("prod", path)
    assert caught.value.problems[0].startswith(f"{path}: site_settings: is hidden ([secret]); read the outputs with")


def test_refuses_a_file_that_is_not_json_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    text = f'{{"secret_key": "{SECRET}",'
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OutputsError) as caught:
        read_outputs("prod", path)
    assert caught.value.problems == [f"{path}: not JSON (line 1, column {len(text) + 1})"]


def test_refuses_an_unknown_site(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(OUTPUTS), encoding="utf-8")
    result = CliRunner().invoke(app, ["verify", "no-such-site", "--stack", "aws-eu-central-1", "--outputs", str(path)])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "stacks/Pulumi.aws-eu-central-1.yaml: sites.no-such-site: no such site in stack aws-eu-central-1 "
        "(sites: acme-live, acme-stage, brochure-live)"
    )


def test_sites_missing_from_the_outputs_fail_as_not_deployed(tmp_path: Path) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps({**OUTPUTS, "sites": {}, "site_settings": {}}), encoding="utf-8")
    result = CliRunner().invoke(app, ["verify", "--stack", "aws-eu-central-1", "--outputs", str(path), "--json"])
    assert result.exit_code == 1
    records = json.loads(result.stdout)["results"]
    assert [(r["site"], r["check"], r["status"]) for r in records] == [
        ("acme-live", "deployed", "fail"),
        ("acme-stage", "deployed", "fail"),
        ("brochure-live", "deployed", "fail"),
    ]
    assert records[0]["reason"] == (
        "in the stack config but not in the stack outputs: run `pulumi up --stack aws-eu-central-1`"
    )


def test_refuses_an_endpoint_url_with_a_path(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["verify", "--stack", "local", "--endpoint-url", "http://127.0.0.1:5000/bucket"])
    assert result.exit_code == 2
    assert "use http(s)://host[:port]" in result.stderr


def test_help_and_readme_give_the_same_exit_codes() -> None:
    # They once disagreed on whether an n/a check lets verify exit 0.
    shown = " ".join(CliRunner().invoke(app, ["verify", "--help"], env={"COLUMNS": "200"}).stdout.split())
    readme = " ".join((Path(__file__).parent.parent / "docs" / "support.md").read_text(encoding="utf-8").split())
    for promise in ("every check passed or is n/a", "2 for bad input", "3 when the outputs"):
        assert promise in shown and promise in readme, promise


# --- a file that is not `pulumi stack output --json` ---------------------------------------------


def _preview_json(directory: Path, evaluation: Any) -> Path:
    from storagectl.preview_report import preview_document

    path = directory / "preview.json"
    path.write_text(json.dumps(preview_document(evaluation)), encoding="utf-8")
    return path


def test_refuses_a_preview_document_as_outputs(tmp_path: Path, local_stack: Any) -> None:
    """`storagectl preview --json` has `sites` too, but placeholder keys and no site_settings."""
    path = _preview_json(tmp_path, local_stack)
    with pytest.raises(OutputsError) as caught:
        read_outputs("local", path)
    assert caught.value.problems == [
        f"{path}: is `storagectl preview --json` output (placeholder keys, no site_settings), not the stack's "
        "outputs; save the stack's outputs with `pulumi stack output --json --show-secrets --stack local > "
        "outputs.json`"
    ]


def test_verify_refuses_a_preview_document_in_one_line(tmp_path: Path, local_stack: Any) -> None:
    path = _preview_json(tmp_path, local_stack)
    result = CliRunner().invoke(app, ["verify", "--stack", "local", "--outputs", str(path)])
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{path}: is `storagectl preview --json` output (placeholder keys, no site_settings), not the stack's "
        "outputs; save the stack's outputs with `pulumi stack output --json --show-secrets --stack local > "
        "outputs.json`"
    ]


@pytest.mark.parametrize("document", [{"demo": {"public_bucket": "x"}}, {}, ["a"]], ids=["object", "empty", "list"])
def test_refuses_any_other_json_that_is_not_stack_outputs(tmp_path: Path, document: Any) -> None:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(OutputsError) as caught:
        read_outputs("prod", path)
    [problem] = caught.value.problems
    assert problem.startswith(f"{path}: is not ")
    assert problem.endswith(
        "save the stack's outputs with `pulumi stack output --json --show-secrets --stack prod > outputs.json`"
    )


def test_the_site_settings_output_alone_may_be_read_as_outputs_by_settings() -> None:
    from storagectl.verify.outputs import not_stack_outputs

    assert not_stack_outputs(OUTPUTS, source="f", stack="prod") is None
    assert not_stack_outputs(OUTPUTS["site_settings"], source="f", stack="prod") is None
    assert not_stack_outputs({**OUTPUTS, "site_settings": "[secret]"}, source="f", stack="prod") is None

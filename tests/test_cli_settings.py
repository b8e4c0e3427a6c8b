"""`storagectl settings SITE`: Django settings from real-shaped stack outputs, in three formats."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from storagectl import pulumi_runner
from storagectl.offline import evaluate
from storagectl.pulumi_runner import RunResult, use_runner
from storagectl.stack_files import read_stack_file
from tests.support.cli_project import SHOP_STACK, Project, RecordingRunner, copy_project, invoke, shop_project

NASTY_SECRET = 'it\'s a $ecret "quoted" `ls` \\ ; & | *'
"""A secret holding every character a shell or Python literal could trip over."""
DEV_STACK = """\
config:
  site-storage:region: custom
  site-storage:endpoint: http://127.0.0.1:5000
  site-storage:path_style: true
  site-storage:bucket_prefix: dev-media
  site-storage:access_key_id: testing
  site-storage:secret_access_key:
    secure: v1:EXAMPLE
  site-storage:sites:
    dev: {}
"""
NAMES = {
    "DEFAULT_STORAGE_DSN": "default_storage_dsn",
    "PRIVATE_STORAGE_DSN": "private_storage_dsn",
    "MEDIA_URL": "MEDIA_URL",
    "AWS_S3_FILE_OVERWRITE": "AWS_S3_FILE_OVERWRITE",
    "STORAGES": "STORAGES",
    "THUMBNAIL_DEFAULT_STORAGE": "THUMBNAIL_DEFAULT_STORAGE",
}
CHECKSUM_ENVIRONMENT = {
    "AWS_REQUEST_CHECKSUM_CALCULATION": "when_required",
    "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required",
}


def _outputs(directory: Path, name: str, text: str) -> dict[str, Any]:
    """What `pulumi stack output --json --show-secrets` prints, from the program run under mocks."""
    path = directory / f"Pulumi.{name}.yaml"
    path.write_text(text)
    outputs = json.loads(json.dumps(evaluate(read_stack_file(path)).outputs))
    for site in outputs["site_settings"].values():
        for storage in site["STORAGES"].values():
            if "OPTIONS" in storage:
                storage["OPTIONS"]["secret_key"] = NASTY_SECRET
    return outputs


@pytest.fixture(scope="module")
def outputs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("outputs")
    (directory / "shop.json").write_text(json.dumps(_outputs(directory, "shop", SHOP_STACK)))
    (directory / "dev.json").write_text(json.dumps(_outputs(directory, "dev", DEV_STACK)))
    return directory


@pytest.fixture
def in_outputs_dir(outputs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(outputs_dir)
    return outputs_dir


def _expected(directory: Path, stack: str, site: str) -> dict[str, Any]:
    entry = json.loads((directory / f"{stack}.json").read_text())["site_settings"][site]
    return {name: entry[key] for name, key in NAMES.items()}


def _secrets(expected: dict[str, Any]) -> list[str]:
    return [NASTY_SECRET, expected["DEFAULT_STORAGE_DSN"] or NASTY_SECRET]


def test_env_format_is_read_back_exactly_by_a_posix_shell(in_outputs_dir: Path) -> None:
    result = invoke("settings", "shop-live", "--outputs", "shop.json", "--format", "env")
    assert result.exit_code == 0, result.stderr
    (in_outputs_dir / "shop-live.env").write_text(result.stdout)
    names = list(NAMES)
    script = ". ./shop-live.env && printf '%s\\0' " + " ".join(f'"${name}"' for name in names)
    shell = subprocess.run(["sh", "-euc", script], cwd=in_outputs_dir, capture_output=True, text=True, check=True)
    read_back = dict(zip(names, shell.stdout.split("\0")[:-1], strict=True))
    expected = _expected(in_outputs_dir, "shop", "shop-live")
    storages = json.loads(read_back.pop("STORAGES"))
    assert storages["default"]["OPTIONS"]["secret_key"] == NASTY_SECRET
    assert storages == expected.pop("STORAGES")
    assert json.loads(read_back.pop("AWS_S3_FILE_OVERWRITE")) is expected.pop("AWS_S3_FILE_OVERWRITE") is False
    assert read_back == expected
    assert "AWS_REQUEST_CHECKSUM_CALCULATION" not in result.stdout, "AWS keeps botocore's default checksums"


def test_python_format_is_a_valid_settings_module(in_outputs_dir: Path) -> None:
    result = invoke("settings", "shop-live", "--outputs", "shop.json", "--format", "python")
    assert result.exit_code == 0, result.stderr
    module: dict[str, Any] = {}
    exec(compile(result.stdout, "settings.py", "exec"), module)
    assert {name: module[name] for name in NAMES} == _expected(in_outputs_dir, "shop", "shop-live")
    assert module["STORAGES"]["default"]["OPTIONS"]["secret_key"] == NASTY_SECRET


def test_json_format_is_one_object(in_outputs_dir: Path) -> None:
    result = invoke("settings", "shop-live", "--outputs", "shop.json", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {**_expected(in_outputs_dir, "shop", "shop-live"), "environment": {}}


def test_generic_s3_env_format_sets_the_checksum_variables_for_the_shell(in_outputs_dir: Path) -> None:
    result = invoke("settings", "dev", "--outputs", "dev.json", "--format", "env")
    assert result.exit_code == 0, result.stderr
    (in_outputs_dir / "dev-checksums.env").write_text(result.stdout)
    variables = '"$AWS_REQUEST_CHECKSUM_CALCULATION" "$AWS_RESPONSE_CHECKSUM_VALIDATION"'
    script = f". ./dev-checksums.env && printf '%s|%s' {variables}"
    shell = subprocess.run(["sh", "-euc", script], cwd=in_outputs_dir, capture_output=True, text=True, check=True)
    assert shell.stdout == "when_required|when_required"


def test_generic_s3_python_format_has_a_botocore_config_and_the_variables(
    in_outputs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each S3 alias gets `client_config`; DSN storages get the variables (set unless already set)."""
    from botocore.config import Config

    result = invoke("settings", "dev", "--outputs", "dev.json", "--format", "python")
    assert result.exit_code == 0, result.stderr
    monkeypatch.setenv("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_supported")  # an operator's own choice stays
    # setenv first, so that the value the settings module sets is removed again after the test.
    monkeypatch.setenv("AWS_REQUEST_CHECKSUM_CALCULATION", "unset")
    monkeypatch.delenv("AWS_REQUEST_CHECKSUM_CALCULATION")
    module: dict[str, Any] = {}
    exec(compile(result.stdout, "settings.py", "exec"), module)
    import os

    assert os.environ["AWS_REQUEST_CHECKSUM_CALCULATION"] == "when_required"
    assert os.environ["AWS_RESPONSE_CHECKSUM_VALIDATION"] == "when_supported"
    expected = _expected(in_outputs_dir, "dev", "dev")
    for alias, storage in module["STORAGES"].items():
        if "OPTIONS" not in storage:
            continue
        config = storage["OPTIONS"].pop("client_config")
        assert isinstance(config, Config)
        assert config.request_checksum_calculation == config.response_checksum_validation == "when_required"
        assert config.s3 == {"addressing_style": storage["OPTIONS"]["addressing_style"]}, alias
        assert config.signature_version == storage["OPTIONS"]["signature_version"]
    assert module["STORAGES"] == expected["STORAGES"]
    assert module["AWS_S3_FILE_OVERWRITE"] is False


def test_generic_s3_json_format_keeps_the_environment_as_a_map(in_outputs_dir: Path) -> None:
    result = invoke("settings", "dev", "--outputs", "dev.json", "--format", "json")
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["environment"] == CHECKSUM_ENVIRONMENT
    assert "client_config" not in json.dumps(document["STORAGES"])


def test_outputs_saved_before_the_new_settings_still_print_with_a_note(in_outputs_dir: Path) -> None:
    older = json.loads((in_outputs_dir / "shop.json").read_text())
    for entry in older["site_settings"].values():
        del entry["AWS_S3_FILE_OVERWRITE"], entry["environment"]
    (in_outputs_dir / "older.json").write_text(json.dumps(older))
    result = invoke("settings", "shop-live", "--outputs", "older.json", "--format", "python")
    assert result.exit_code == 0, result.stderr
    assert "AWS_S3_FILE_OVERWRITE = None  # not in these outputs" in result.stdout
    assert "note: AWS_S3_FILE_OVERWRITE is not set: not in these outputs" in result.stderr


def test_refuses_an_environment_that_is_not_a_map_of_strings(in_outputs_dir: Path) -> None:
    broken = json.loads((in_outputs_dir / "dev.json").read_text())
    broken["site_settings"]["dev"]["environment"] = {"AWS_REQUEST_CHECKSUM_CALCULATION": 1}
    (in_outputs_dir / "broken-environment.json").write_text(json.dumps(broken))
    result = invoke("settings", "dev", "--outputs", "broken-environment.json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.endswith(
        "broken-environment.json: site_settings.dev.environment: is not an object of strings\n"
    )


@pytest.mark.parametrize("output_format", ["env", "python", "json"])
def test_secrets_go_to_stdout_only_and_stderr_names_the_source(in_outputs_dir: Path, output_format: str) -> None:
    result = invoke("settings", "shop-live", "--outputs", "shop.json", "--format", output_format)
    assert result.stderr == "reading saved stack outputs from shop.json\n"
    expected = _expected(in_outputs_dir, "shop", "shop-live")
    key_id = expected["STORAGES"]["default"]["OPTIONS"]["access_key"]
    for secret in [*_secrets(expected), key_id]:
        assert secret not in result.stderr


def test_reads_the_site_settings_output_saved_on_its_own(in_outputs_dir: Path) -> None:
    alone = json.loads((in_outputs_dir / "shop.json").read_text())["site_settings"]
    (in_outputs_dir / "site_settings.json").write_text(json.dumps(alone))
    result = invoke("settings", "shop-live", "--outputs", "site_settings.json", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {**_expected(in_outputs_dir, "shop", "shop-live"), "environment": {}}


def test_a_site_without_private_bucket_says_so(in_outputs_dir: Path) -> None:
    result = invoke("settings", "blog", "--outputs", "shop.json", "--format", "python")
    assert result.exit_code == 0, result.stderr
    assert "PRIVATE_STORAGE_DSN = None  # no private bucket\n" in result.stdout
    assert "note: PRIVATE_STORAGE_DSN is not set: no private bucket\n" in result.stderr


def test_null_dsns_carry_their_reason_and_stay_unset_in_the_shell(in_outputs_dir: Path) -> None:
    reason = "django-storage-url always uses https, but the endpoint http://127.0.0.1:5000 is http"
    result = invoke("settings", "dev", "--outputs", "dev.json")
    assert result.exit_code == 0, result.stderr
    assert f"# DEFAULT_STORAGE_DSN is not set: {reason}\n" in result.stdout
    assert f"# PRIVATE_STORAGE_DSN is not set: {reason}\n" in result.stdout
    assert f"note: DEFAULT_STORAGE_DSN is not set: {reason}\n" in result.stderr
    (in_outputs_dir / "dev.env").write_text(result.stdout)
    script = '. ./dev.env && printf "%s|%s" "${DEFAULT_STORAGE_DSN-unset}" "$MEDIA_URL"'
    shell = subprocess.run(["sh", "-euc", script], cwd=in_outputs_dir, capture_output=True, text=True, check=True)
    assert shell.stdout == "unset|http://127.0.0.1:5000/dev-media-dev-public/"


def test_refuses_outputs_saved_without_show_secrets(in_outputs_dir: Path) -> None:
    hidden = json.loads((in_outputs_dir / "shop.json").read_text())
    hidden["site_settings"] = "[secret]"
    (in_outputs_dir / "hidden.json").write_text(json.dumps(hidden))
    result = invoke("settings", "shop-live", "--outputs", "hidden.json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "hidden.json: site_settings is hidden ([secret]): the outputs were read without --show-secrets" in (
        result.stderr
    )


def test_refuses_an_unknown_site_listing_the_ones_there(in_outputs_dir: Path) -> None:
    result = invoke("settings", "nope", "--outputs", "shop.json")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "shop.json: site_settings.nope: no such site in the outputs (sites: blog, shop-live, shop-stage)\n"
    )


def test_refuses_a_file_that_is_not_json_without_echoing_it(in_outputs_dir: Path) -> None:
    (in_outputs_dir / "broken.json").write_text(f'{{"site_settings": "{NASTY_SECRET}')
    result = invoke("settings", "shop-live", "--outputs", "broken.json")
    assert result.exit_code == 2
    assert "broken.json: not JSON (" in result.stderr
    assert NASTY_SECRET not in result.output


def test_refuses_a_missing_outputs_file(in_outputs_dir: Path) -> None:
    result = invoke("settings", "shop-live", "--outputs", "missing.json")
    assert result.exit_code == 2
    assert "missing.json: cannot read the outputs file: No such file or directory" in result.stderr


def test_needs_a_stack_or_an_outputs_file(in_outputs_dir: Path) -> None:
    result = invoke("settings", "shop-live")
    assert result.exit_code == 2
    assert result.stderr == "give --stack NAME (its outputs: local, or read with the Pulumi CLI) or --outputs FILE\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """The shop stack's file: `settings --stack` checks the stack and site before reading outputs."""
    project = shop_project(tmp_path / "project", examples=False)
    monkeypatch.chdir(project.root)
    return project


def test_reads_the_stack_outputs_through_the_pulumi_cli(project: Project, outputs_dir: Path) -> None:
    double = RecordingRunner(result=RunResult(0, stdout=(outputs_dir / "shop.json").read_text()))
    with use_runner(double):
        result = invoke("settings", "shop-live", "--stack", "shop", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert double.calls == [(["stack", "output", "--json", "--show-secrets", "--stack", "shop"], project.root, True)]
    assert result.stderr == (
        "reading the outputs of stack shop with: pulumi stack output --json --show-secrets --stack shop\n"
    )
    assert json.loads(result.stdout) == {**_expected(outputs_dir, "shop", "shop-live"), "environment": {}}


def test_reports_a_failing_pulumi_cli(project: Project) -> None:
    double = RecordingRunner(result=RunResult(255, stderr="error: no stack named 'shop' found\n"))
    with use_runner(double):
        result = invoke("settings", "shop-live", "--stack", "shop")
    assert result.exit_code == 1
    failed = "`pulumi stack output --stack shop` failed (exit 255): error: no stack named 'shop' found\n"
    assert result.stderr.endswith(failed)


def test_without_the_pulumi_cli_says_so_plainly(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pulumi_runner.shutil, "which", lambda name: None)
    result = invoke("settings", "shop-live", "--stack", "shop")
    assert result.exit_code == 3
    assert result.stderr.startswith("reading the outputs of stack shop needs the Pulumi CLI, and `pulumi` is not on")
    assert "--outputs outputs.json" in result.stderr


def test_refuses_a_preview_json_instead_of_listing_its_keys_as_sites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `storagectl preview --json` has `sites` but no keys; its top-level names once came back as "sites: ...".
    project = copy_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    preview = invoke("preview", "--json", "--stack", "local")
    assert preview.exit_code == 0, preview.stderr
    (project.root / "preview.json").write_text(preview.stdout)
    result = invoke("settings", "demo", "--outputs", "preview.json")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith(
        "preview.json: is `storagectl preview --json` output (placeholder keys, no site_settings)"
    )


def test_local_stack_outputs_are_read_by_default_and_say_so(project: Project, outputs_dir: Path) -> None:
    outputs = project.root / ".local" / "outputs-shop.json"
    outputs.parent.mkdir()
    outputs.write_text((outputs_dir / "shop.json").read_text())
    runner = RecordingRunner(is_available=False)
    with use_runner(runner):
        result = invoke("settings", "shop-live", "--stack", "shop", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert runner.calls == []
    assert result.stderr == "reading the outputs `storagectl local up --stack shop` wrote: .local/outputs-shop.json\n"
    assert json.loads(result.stdout)["STORAGES"]["default"]["OPTIONS"]["bucket_name"]

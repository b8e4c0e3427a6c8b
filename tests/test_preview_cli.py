"""`storagectl preview` through its real console-script entry point (subprocess).

Bad configuration exits 2 with exactly the problem lines on stderr and no traceback;
`--config` takes any stack file, `secure:` values included; `--json` has the documented shape.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from storagectl.offline import evaluate
from storagectl.stack_files import SECRET_PLACEHOLDER, read_stack_file
from tests.support.stacks import EXAMPLE_STACKS, ROOT, example_stack, write_stack

STORAGECTL = Path(sys.executable).parent / "storagectl"
SITE_KEYS = {
    "public_bucket",
    "private_bucket",
    "media_url",
    "default_storage_dsn",
    "private_storage_dsn",
    "storages",
    "cors",
}


def storagectl(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(STORAGECTL), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def assert_refused(result: subprocess.CompletedProcess[str], lines: list[str]) -> None:
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert result.stderr.splitlines() == lines
    assert "Traceback" not in result.stderr


def test_invalid_config_exits_2_with_one_line_per_problem(tmp_path: Path) -> None:
    write_stack(
        tmp_path,
        {
            "region": "aws-eu-central-1",
            "bucket_prefix": "acme-media",
            "sites": {
                "acme-live": {"cros": {"origins": ["https://www.acme.example"]}},
                "acme-stage": {"cors": {"origins": ["https://ok.example", "http://stage.acme.example"]}},
            },
        },
    )
    assert_refused(
        storagectl("preview", "--config", "Pulumi.test.yaml", cwd=tmp_path),
        [
            "Pulumi.test.yaml: sites.acme-live.cros: unknown key; allowed keys: private, media_domain, cors, "
            "key_generation, previous_key",
            "Pulumi.test.yaml: sites.acme-stage.cors.origins[1]: 'http://stage.acme.example' is not allowed; "
            "use https://host[:port] (one * at most), or * with allow_any_origin: true",
        ],
    )


def test_bad_values_are_echoed_verbatim(tmp_path: Path) -> None:
    """`acme:fire:` must reach the operator as typed, not as rich's emoji for `:fire:`."""
    write_stack(tmp_path, {"region": "aws-eu-central-1", "bucket_prefix": "acme:fire:", "sites": {"a": {}}})
    assert_refused(
        storagectl("preview", "--config", "Pulumi.test.yaml", cwd=tmp_path),
        [
            "Pulumi.test.yaml: bucket_prefix: 'acme:fire:' is not allowed; use lowercase letters, digits, "
            "hyphens and dots, each dot-separated part starting and ending with a letter or digit, at most 53 "
            "characters"
        ],
    )


def test_duplicate_keys_and_missing_files_exit_2(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.dup.yaml").write_text(
        "config:\n  site-storage:region: aws-eu-central-1\n  site-storage:region: aws-eu-west-1\n", encoding="utf-8"
    )
    assert_refused(
        storagectl("preview", "--config", "Pulumi.dup.yaml", cwd=tmp_path),
        ["Pulumi.dup.yaml: line 3: region: appears again (first on line 2); each key may appear once"],
    )
    assert_refused(
        storagectl("preview", "--config", "Pulumi.none.yaml", cwd=tmp_path),
        ["Pulumi.none.yaml: no such stack file"],
    )


def test_refuses_bucket_names_another_stack_file_uses(tmp_path: Path) -> None:
    """Bucket names are global: preview refuses what `sites add` refuses, naming both stack files."""
    aws = {"region": "aws-eu-central-1", "bucket_prefix": "acme-media"}
    write_stack(tmp_path, {**aws, "sites": {"acme-live": {}, "brochure": {"private": False}}}, name="prod")
    write_stack(tmp_path, {**aws, "sites": {"acme-live": {}, "brochure": {}}}, name="shard-2")
    write_stack(tmp_path, {**aws, "bucket_prefix": "other", "sites": {"acme-live": {}}}, name="other")
    rule = "bucket names are global: give this stack a bucket_prefix of its own, or keep site {} in one stack only"
    assert_refused(
        storagectl("preview", "--config", "Pulumi.shard-2.yaml", cwd=tmp_path),
        [
            "Pulumi.shard-2.yaml: bucket_prefix: 'acme-media' is also the bucket_prefix of stack prod "
            "(Pulumi.prod.yaml), which has site acme-live too (buckets acme-media-acme-live-public, "
            f"acme-media-acme-live-private); {rule.format('acme-live')}",
            "Pulumi.shard-2.yaml: bucket_prefix: 'acme-media' is also the bucket_prefix of stack prod "
            "(Pulumi.prod.yaml), which has site brochure too (bucket acme-media-brochure-public); "
            + rule.format("brochure"),
        ],
    )
    (tmp_path / "Pulumi.prod.yaml").unlink()
    alone = storagectl("preview", "--config", "Pulumi.shard-2.yaml", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr


def test_bucket_clash_check_names_sibling_stack_files_it_cannot_read(tmp_path: Path) -> None:
    write_stack(tmp_path, {"region": "aws-eu-central-1", "bucket_prefix": "acme-media", "sites": {"a": {}}})
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  site-storage:region: mars\n", encoding="utf-8")
    result = storagectl("preview", "--config", "Pulumi.test.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines()[0].startswith(
        "note: skipped Pulumi.broken.yaml when looking at other stacks: Pulumi.broken.yaml: "
    )


def test_stack_and_config_are_exclusive(tmp_path: Path) -> None:
    assert_refused(
        storagectl("preview", "--stack", "local", "--config", "x.yaml"),
        ["give exactly one of --stack NAME or --config PATH"],
    )


def test_config_with_secure_values_previews_with_placeholders(tmp_path: Path) -> None:
    """Any stack file, `secure:` values included: preview runs, the secret becomes the
    placeholder everywhere, and no ciphertext reaches the output."""
    path = write_stack(
        tmp_path,
        {
            "region": "custom",
            "endpoint": "https://minio.example.com",
            "bucket_prefix": "lab",
            "access_key_id": "minio-key",
            "secret_access_key": "unused",
            "sites": {"one": {}},
        },
        other_config={"aws:profile": {"secure": "v1:OTHERnonce:OTHERciphertext=="}},
    )
    assert "TESTciphertext" in path.read_text(encoding="utf-8")
    result = storagectl("preview", "--config", str(path), "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    site = document["sites"]["one"]
    assert site["default_storage_dsn"].startswith(f"s3://minio-key:{SECRET_PLACEHOLDER}@lab-one-public.")
    assert site["storages"]["private"]["OPTIONS"]["secret_key"] == SECRET_PLACEHOLDER
    assert "ciphertext" not in result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "warning: stack test: the 1 site(s) on custom share one credential (site-storage:access_key_id); "
        "any site can read every other site's private files"
    ]


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_json_has_exactly_the_documented_shape(stack: str) -> None:
    """{"stack","region","endpoint_url","sites":{slug:{...}},"resources":[{"type","name","site","inputs","protect"}]},
    resources as the in-process evaluation records them, and warnings kept off stdout."""
    result = storagectl("preview", "--stack", stack, "--json")
    assert result.returncode == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert set(document) == {"stack", "region", "endpoint_url", "sites", "resources"}
    evaluation = evaluate(read_stack_file(example_stack(stack)))
    assert document["stack"] == stack
    assert document["region"] == evaluation.settings.region.id
    assert document["endpoint_url"] == evaluation.settings.region.endpoint_url
    assert set(document["sites"]) == {site.slug for site in evaluation.settings.sites}
    for slug, site in document["sites"].items():
        assert set(site) >= SITE_KEYS, slug
        settings = evaluation.outputs["site_settings"][slug]
        assert site["storages"] == settings["STORAGES"]
        assert site["default_storage_dsn"] == settings["default_storage_dsn"]
        assert site["cors"] == evaluation.outputs["sites"][slug]["cors"]
    for resource in document["resources"]:
        assert set(resource) == {"type", "name", "site", "inputs", "protect"}
        assert isinstance(resource["protect"], bool)
    assert document["resources"] == json.loads(json.dumps([r.as_dict() for r in evaluation.resources]))
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == (1 if stack == "local" else 0)


def test_json_is_the_same_on_every_run() -> None:
    """Two runs print byte-identical JSON (mocked key ids and resource order are stable), so
    previews can be diffed."""
    first = storagectl("preview", "--stack", "aws-eu-central-1", "--json")
    second = storagectl("preview", "--stack", "aws-eu-central-1", "--json")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout


def test_report_shows_every_site_with_placeholder_credentials() -> None:
    result = storagectl("preview", "--stack", "aws-eu-central-1")
    assert result.returncode == 0, result.stderr
    for slug in ("acme-live", "acme-stage", "brochure-live"):
        assert slug in result.stdout
    assert f":{SECRET_PLACEHOLDER}@" in result.stdout
    assert "MEDIA_URL=https://media.acme.example/" in result.stdout


def test_readme_describes_the_preview_document_it_prints(local_stack) -> None:
    """The docs once said `preview --json` gives the stack outputs (`site_settings`, `region_notes`)."""
    import re

    from storagectl.preview_report import preview_document

    readme = " ".join((ROOT / "docs" / "django-settings.md").read_text(encoding="utf-8").split())
    document = preview_document(local_stack)
    assert "or `storagectl preview --json` offline" not in readme
    described = re.search(r"`storagectl preview --json` is not these outputs: .*?`\{(?P<keys>[^}]*)\}`", readme)
    assert described is not None
    assert [key.strip(' "') for key in described["keys"].split(",")] == list(document)
    per_site = re.search(r"whose `sites` hold per site (?P<keys>.*?), all with placeholder keys", readme)
    assert per_site is not None
    [site] = document["sites"].values()
    assert re.findall(r"`(\w+)`", per_site["keys"]) == list(site)
    assert "site_settings" not in document and "region_notes" not in document

"""What `storagectl keys` does to a stack, seen through the offline preview (`storagectl preview --json`).

Each command runs through the CLI on a copy of the example stacks; the preview before and after
shows what a `pulumi up` would change: rotate adds exactly one key resource, retire removes exactly
one, revoke adds one and refuses the old one (AWS: its status becomes Inactive; Exoscale: it is
removed), and nothing else changes, not even another site's key. The site's settings carry the new
generation's key from the rotation on. The policy pack's checks keep passing throughout.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from tests.support.cli_project import Project, copy_project, invoke

AWS = "aws-eu-central-1"
EXOSCALE = "exoscale-ch-gva-2"
ACCESS_KEY = "aws:iam/accessKey:AccessKey"
API_KEY = "exoscale:index/iamApiKey:IamApiKey"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    project = copy_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    return project


def preview(stack: str) -> dict[str, Any]:
    result = invoke("preview", "--stack", stack, "--json")
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def keys(*args: str) -> None:
    result = invoke("keys", *args)
    assert result.exit_code == 0, result.stderr


def resources(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(r["type"], r["name"]): r for r in document["resources"]}


def difference(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    old, new = resources(before), resources(after)
    return {
        "added": sorted(new.keys() - old.keys()),
        "removed": sorted(old.keys() - new.keys()),
        "changed": sorted(key for key in old.keys() & new.keys() if old[key] != new[key]),
    }


def site_key(document: dict[str, Any], site: str) -> str:
    """The key id every one of the site's settings carries (they must agree)."""
    facts = document["sites"][site]
    ids = {
        facts["storages"][alias]["OPTIONS"]["access_key"]
        for alias in ("default", "private")
        if alias in facts["storages"]
    }
    for dsn in (facts["default_storage_dsn"], facts["private_storage_dsn"]):
        if dsn is not None:
            ids.add(unquote(dsn.split("://", 1)[1].split(":", 1)[0]))
    assert len(ids) == 1, ids
    return ids.pop()


def other_sites(document: dict[str, Any], site: str) -> dict[str, Any]:
    return {slug: facts for slug, facts in document["sites"].items() if slug != site}


def test_rotate_adds_exactly_one_key_and_the_settings_carry_it(project: Project) -> None:
    before = preview(AWS)
    keys("rotate", "acme-live", "--stack", AWS)
    rotated = preview(AWS)
    assert difference(before, rotated) == {"added": [(ACCESS_KEY, "acme-live-key-2")], "removed": [], "changed": []}
    added = resources(rotated)[(ACCESS_KEY, "acme-live-key-2")]
    assert added["inputs"] == {"user": "acme-media-acme-live"} and added["site"] == "acme-live"
    assert resources(rotated)[(ACCESS_KEY, "acme-live-key")] == resources(before)[(ACCESS_KEY, "acme-live-key")]
    assert site_key(rotated, "acme-live") != site_key(before, "acme-live")
    assert other_sites(rotated, "acme-live") == other_sites(before, "acme-live")
    assert rotated["sites"]["acme-live"]["resource_count"] == before["sites"]["acme-live"]["resource_count"] + 1


def test_retire_removes_exactly_the_previous_key_and_the_settings_stay(project: Project) -> None:
    keys("rotate", "acme-live", "--stack", AWS)
    rotated = preview(AWS)
    keys("retire", "acme-live", "--stack", AWS)
    retired = preview(AWS)
    assert difference(rotated, retired) == {"added": [], "removed": [(ACCESS_KEY, "acme-live-key")], "changed": []}
    assert retired["sites"] == {
        **rotated["sites"],
        "acme-live": {
            **rotated["sites"]["acme-live"],
            "resource_count": rotated["sites"]["acme-live"]["resource_count"] - 1,
        },
    }
    # The next rotation keeps generation 2 beside generation 3.
    keys("rotate", "acme-live", "--stack", AWS)
    again = preview(AWS)
    assert difference(retired, again) == {"added": [(ACCESS_KEY, "acme-live-key-3")], "removed": [], "changed": []}


def test_revoke_on_aws_adds_a_key_and_deactivates_the_old_one_in_the_same_update(project: Project) -> None:
    before = preview(AWS)
    keys("revoke", "acme-stage", "--stack", AWS)
    revoked = preview(AWS)
    assert difference(before, revoked) == {
        "added": [(ACCESS_KEY, "acme-stage-key-2")],
        "removed": [],
        "changed": [(ACCESS_KEY, "acme-stage-key")],
    }
    assert resources(revoked)[(ACCESS_KEY, "acme-stage-key")]["inputs"] == {
        "user": "acme-media-acme-stage",
        "status": "Inactive",
    }
    assert site_key(revoked, "acme-stage") != site_key(before, "acme-stage")
    assert other_sites(revoked, "acme-stage") == other_sites(before, "acme-stage")
    keys("retire", "acme-stage", "--stack", AWS)
    assert difference(revoked, preview(AWS))["removed"] == [(ACCESS_KEY, "acme-stage-key")]


def test_exoscale_rotate_binds_the_new_key_to_the_sites_role(project: Project) -> None:
    before = preview(EXOSCALE)
    keys("rotate", "zurich-live", "--stack", EXOSCALE)
    rotated = preview(EXOSCALE)
    assert difference(before, rotated) == {"added": [(API_KEY, "zurich-live-key-2")], "removed": [], "changed": []}
    assert resources(rotated)[(API_KEY, "zurich-live-key-2")]["inputs"] == {
        "name": "helvetia-media-zurich-live-key-2",
        "roleId": "zurich-live-role-id",
    }
    assert site_key(rotated, "zurich-live") != site_key(before, "zurich-live")
    assert other_sites(rotated, "zurich-live") == other_sites(before, "zurich-live")


def test_exoscale_revoke_creates_the_new_key_and_deletes_the_old_in_one_update(project: Project) -> None:
    before = preview(EXOSCALE)
    keys("revoke", "geneva-live", "--stack", EXOSCALE)
    revoked = preview(EXOSCALE)
    assert difference(before, revoked) == {
        "added": [(API_KEY, "geneva-live-key-2")],
        "removed": [(API_KEY, "geneva-live-key")],
        "changed": [],
    }
    assert site_key(revoked, "geneva-live") != site_key(before, "geneva-live")


@pytest.mark.parametrize(
    ("stack", "site", "commands"),
    [
        (AWS, "acme-live", [["rotate"], ["retire"], ["revoke"]]),
        (EXOSCALE, "zurich-live", [["rotate"], ["retire"], ["revoke"]]),
    ],
)
def test_the_policy_pack_passes_at_every_step(
    project: Project, stack: str, site: str, commands: list[list[str]]
) -> None:
    """Each site's credential stays scoped to its own buckets, and no key reaches a plain output."""
    for command in commands:
        keys(*command, site, "--stack", stack)
        checked = invoke("preview", "--stack", stack, "--policy")
        assert checked.exit_code == 0, checked.stdout + checked.stderr


def test_a_new_shared_key_changes_only_the_settings_outputs(project: Project) -> None:
    """Rotating a stack's shared key (docs/operators.md): a new access_key_id changes no resource's inputs,
    since the provider takes the key from the stack config, and every site's settings carry the new key."""
    before = preview("local")
    path = project.stack_file("local")
    text = path.read_text(encoding="utf-8")
    assert "  site-storage:access_key_id: testing\n" in text
    path.write_text(text.replace("access_key_id: testing\n", "access_key_id: rotated-key\n"), encoding="utf-8")
    after = preview("local")
    assert difference(before, after) == {"added": [], "removed": [], "changed": []}
    assert {slug: site_key(after, slug) for slug in after["sites"]} == {"demo": "rotated-key"}
    assert site_key(before, "demo") == "testing"

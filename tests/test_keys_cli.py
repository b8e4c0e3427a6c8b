"""`storagectl keys rotate|retire|revoke|status` on a copy of the project: exact edits, refusals, next steps.

The edits go through the same cycle as `cors` and `sites` (lock, validation like preview, diff,
atomic write); `--apply` is checked against a double of the Pulumi CLI that records the command,
and the URNs it targets against the ones the mock monitor formed for the site's key resources.
Keys against a live IAM (status's last use, refused old keys) are in tests/test_keys_moto.py.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from components.site_keys import KEY_TYPES
from storagectl import pulumi_runner
from storagectl.pulumi_runner import RunResult, use_runner
from tests.support.cli_project import SHOP_STACK, Project, RecordingRunner, engine_urns, invoke, shop_project

SOURCE = "stacks/Pulumi.shop.yaml"
AWS = "aws-eu-central-1"
EXOSCALE = "exoscale-ch-gva-2"
SHARED_LINE = (
    "stacks/Pulumi.local.yaml: site_credentials: stack local hands every site its one key (shared), so {which} to "
    "rotate; rotate the stack's key instead (docs/operators.md, \"Rotating a stack's shared key\")\n"
)
ROTATE_DIFF = f"""\
--- a/{SOURCE}
+++ b/{SOURCE}
@@ -12,6 +12,8 @@
         methods: [GET, HEAD]
     shop-stage:
       private: false
+      key_generation: 2
+      previous_key: active
     # The blog: public media only.
     blog:
       private: false
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    project = shop_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    return project


def key_urns(project: Project, stack: str, site: str) -> list[str]:
    """The site's key resources' URNs as the mock monitor formed them (independent of storagectl's URN code)."""
    return [
        urn for urn in engine_urns(project.stack_file(stack), site) if urn.split("::")[2].split("$")[-1] in KEY_TYPES
    ]


def next_steps(stdout: str) -> list[str]:
    """The shell lines a command printed under its numbered steps (continuation lines joined)."""
    body = re.sub(r" \\\n +", " ", stdout.split("next steps for site", 1)[1])
    return [line.strip() for line in body.splitlines()[1:] if line.startswith("       ")]


def targets(command: str) -> list[str]:
    words = shlex.split(command)
    assert set(words[4::2]) == {"--target"}, words
    return words[5::2]


# --- edits and next steps ------------------------------------------------------------------------


def test_rotate_writes_the_next_generation_and_prints_each_step(project: Project) -> None:
    result = invoke("keys", "rotate", "shop-stage", "--stack", "shop")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(ROTATE_DIFF)
    assert project.stack_bytes("shop").decode() == SHOP_STACK.replace(
        "    shop-stage:\n      private: false\n",
        "    shop-stage:\n      private: false\n      key_generation: 2\n      previous_key: active\n",
    )
    assert f"wrote {SOURCE}" in result.stderr
    preview, up, settings, verify, status, retire = next_steps(result.stdout)
    expected = key_urns(project, "shop", "shop-stage")
    assert sorted(urn.rsplit("::", 1)[1] for urn in expected) == ["shop-stage-key", "shop-stage-key-2"]
    assert preview.startswith("pulumi preview --stack shop --target") and sorted(targets(preview)) == sorted(expected)
    assert up.startswith("pulumi up --stack shop --target") and targets(up) == targets(preview)
    assert settings == ("(umask 077; storagectl settings shop-stage --stack shop --format env > shop-stage.env)")
    assert verify == "storagectl verify shop-stage --stack shop"
    assert status == "storagectl keys status shop-stage --stack shop"
    assert retire == "storagectl keys retire shop-stage --stack shop --apply"
    assert "generation 1's key keeps working meanwhile" in result.stdout


def test_rotate_dry_run_prints_the_diff_and_writes_nothing(project: Project) -> None:
    before = project.stack_bytes("shop")
    result = invoke("keys", "rotate", "shop-stage", "--stack", "shop", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(ROTATE_DIFF)
    assert "after writing (run again without --dry-run), the next steps for site shop-stage" in result.stdout
    assert f"dry run: {SOURCE} not written" in result.stderr
    assert project.stack_bytes("shop") == before
    assert [p.name for p in project.stack_file("shop").parent.iterdir() if "shop" in p.name] == ["Pulumi.shop.yaml"]


def test_retire_deletes_the_previous_key_line_and_says_what_that_ends(project: Project) -> None:
    assert invoke("keys", "rotate", "shop-live", "--stack", "shop").exit_code == 0
    rotated = project.stack_bytes("shop").decode()
    result = invoke("keys", "retire", "shop-live", "--stack", "shop")
    assert result.exit_code == 0, result.stderr
    assert project.stack_bytes("shop").decode() == rotated.replace("      previous_key: active\n", "")
    assert "the storefront" in rotated and "# the storefront" in project.stack_bytes("shop").decode()
    assert result.stderr.startswith(
        "shop-live: the update deletes generation 1's key (active); an instance still using it fails from then on "
        "(`storagectl keys status shop-live --stack shop` shows its last use)\n"
    )
    _, up, verify = next_steps(result.stdout)
    # The retired key is gone from the program: its URN comes from the stack file before the change.
    assert [urn.rsplit("::", 1)[1] for urn in targets(up)] == ["shop-live-key", "shop-live-key-2"]
    assert verify == "storagectl verify shop-live --stack shop"


def test_retire_without_a_previous_key_changes_nothing_and_says_so(project: Project) -> None:
    before = project.stack_bytes("shop")
    result = invoke("keys", "retire", "blog", "--stack", "shop")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "blog: generation 1's key is the only one; no previous key to retire, nothing changed\n"
    assert project.stack_bytes("shop") == before


def test_revoke_on_aws_deactivates_the_old_key_in_the_same_update(project: Project) -> None:
    result = invoke("keys", "revoke", "blog", "--stack", "shop")
    assert result.exit_code == 0, result.stderr
    assert (
        project.stack_bytes("shop")
        .decode()
        .endswith(
            "    blog:\n      private: false\n      key_generation: 2\n      previous_key: inactive\n"
            "# End of the shop stack.\n"
        )
    )
    assert result.stderr.startswith(
        "blog: the update deactivates generation 1's key (status Inactive: refused from then on) in the same update "
        "that creates generation 2's\n"
    )
    _, up, _, _, status, retire = next_steps(result.stdout)
    assert sorted(targets(up)) == sorted(key_urns(project, "shop", "blog"))
    assert "instances still on generation 1's key fail until then" in result.stdout
    assert (status, retire) == (
        "storagectl keys status blog --stack shop",
        "storagectl keys retire blog --stack shop --apply",
    )


def test_exoscale_revoke_deletes_the_old_key_and_has_nothing_to_retire(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = shop_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    result = invoke("keys", "revoke", "geneva-live", "--stack", EXOSCALE)
    assert result.exit_code == 0, result.stderr
    text = project.stack_bytes(EXOSCALE).decode()
    assert text.endswith("    geneva-live:\n      key_generation: 2\n")
    assert result.stderr.startswith(
        "geneva-live: Exoscale API keys cannot be deactivated, only deleted: the update deletes generation 1's key "
        "right after it creates generation 2's\n"
    )
    _, up, _, verify = next_steps(result.stdout)
    # Generation 1's key is only in the stack before the change, generation 2's only after.
    assert [urn.rsplit("::", 1)[1] for urn in targets(up)] == ["geneva-live-key", "geneva-live-key-2"]
    assert all("exoscale:index/iamApiKey:IamApiKey" in urn for urn in targets(up))
    assert verify == f"storagectl verify geneva-live --stack {EXOSCALE}"
    retired = invoke("keys", "retire", "geneva-live", "--stack", EXOSCALE)
    assert "no previous key to retire, nothing changed" in retired.stderr


@pytest.mark.parametrize("entry", ["    blog:\n", "    blog: {}\n"], ids=["null", "flow"])
def test_rotate_a_site_written_with_every_default(project: Project, entry: str) -> None:
    project.stack_file("shop").write_text(
        SHOP_STACK.replace("    blog:\n      private: false\n", entry), encoding="utf-8"
    )
    result = invoke("keys", "rotate", "blog", "--stack", "shop")
    assert result.exit_code == 0, result.stderr
    assert (
        project.stack_bytes("shop")
        .decode()
        .endswith("    blog:\n      key_generation: 2\n      previous_key: active\n# End of the shop stack.\n")
    )


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["rotate", "retire", "revoke", "status"])
def test_refuses_every_key_command_on_a_stack_with_one_shared_key(project: Project, command: str) -> None:
    before = project.stack_bytes("local")
    result = invoke("keys", command, "demo", "--stack", "local")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == SHARED_LINE.format(which="site demo has no key of its own")
    assert project.stack_bytes("local") == before
    whole = invoke("keys", "status", "--stack", "local")
    assert (whole.exit_code, whole.stderr) == (2, SHARED_LINE.format(which="its sites have no keys of their own"))


def test_refuses_to_rotate_a_site_that_still_has_its_previous_key(project: Project) -> None:
    assert invoke("keys", "rotate", "blog", "--stack", "shop").exit_code == 0
    before = project.stack_bytes("shop")
    result = invoke("keys", "rotate", "blog", "--stack", "shop")
    assert result.exit_code == 2
    assert result.stderr == (
        f"{SOURCE}: sites.blog: site blog still has generation 1's key (active) beside the current generation 2: "
        "a site has at most two keys, so `keys rotate` cannot add a third; nothing changed.\n"
        "Retire generation 1's key once no instance uses it (storagectl keys status blog --stack shop shows its "
        "last use): storagectl keys retire blog --stack shop\n"
    )
    assert project.stack_bytes("shop") == before


def test_refuses_to_revoke_while_rotating_and_names_both_leaks(project: Project) -> None:
    assert invoke("keys", "revoke", "blog", "--stack", "shop").exit_code == 0
    before = project.stack_bytes("shop")
    result = invoke("keys", "revoke", "blog", "--stack", "shop")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"{SOURCE}: sites.blog: site blog still has generation 1's key (inactive) beside the current generation 2: "
        "a site has at most two keys, so `keys revoke` cannot add a third; nothing changed.",
        "If generation 1's key leaked, delete it now (instances still on it fail until redeployed): "
        "storagectl keys retire blog --stack shop --apply",
        "If generation 2's key leaked, retire generation 1's first, then revoke: "
        "storagectl keys retire blog --stack shop --apply, then storagectl keys revoke blog --stack shop",
    ]
    assert project.stack_bytes("shop") == before


def test_refuses_an_unknown_site(project: Project) -> None:
    for command in ("rotate", "retire", "revoke", "status"):
        result = invoke("keys", command, "nope", "--stack", "shop")
        assert result.exit_code == 2
        assert result.stderr == (
            f"{SOURCE}: sites.nope: no such site in stack shop (sites: shop-live, shop-stage, blog); "
            "add it with `storagectl sites add nope --stack shop`\n"
        )


def test_refuses_past_the_last_generation(project: Project) -> None:
    project.stack_file("shop").write_text(
        SHOP_STACK.replace("      private: false\n# End", "      private: false\n      key_generation: 9999\n# End"),
        encoding="utf-8",
    )
    before = project.stack_bytes("shop")
    result = invoke("keys", "rotate", "blog", "--stack", "shop")
    assert (result.exit_code, result.stderr) == (
        2,
        f"{SOURCE}: sites.blog.key_generation: 9999 is the last generation storagectl counts to (9999); "
        "nothing changed\n",
    )
    assert project.stack_bytes("shop") == before


def test_refuses_to_edit_a_stack_file_with_a_bad_key_setting(project: Project) -> None:
    project.stack_file("shop").write_text(
        SHOP_STACK.replace("      private: false\n# End", "      private: false\n      previous_key: active\n# End"),
        encoding="utf-8",
    )
    before = project.stack_bytes("shop")
    result = invoke("keys", "rotate", "blog", "--stack", "shop")
    assert result.exit_code == 2
    assert result.stderr == (
        f"{SOURCE}: sites.blog.previous_key: 'active' is not allowed; generation 1 has no previous key; use absent "
        "(or leave it out), or rotate with `storagectl keys rotate`\n"
    )
    assert project.stack_bytes("shop") == before


# --- --apply -------------------------------------------------------------------------------------


def test_apply_runs_pulumi_up_on_the_sites_keys_only_then_prints_the_rest(project: Project) -> None:
    double = RecordingRunner()
    with use_runner(double):
        result = invoke("keys", "rotate", "shop-live", "--stack", "shop", "--apply")
    assert result.exit_code == 0, result.stderr
    [(args, cwd, capture)] = double.calls
    expected = key_urns(project, "shop", "shop-live")
    assert args[:5] == ["up", "--stack", "shop", "--yes", "--skip-preview"]
    assert args[5::2] == ["--target"] * len(expected)
    assert sorted(args[6::2]) == sorted(expected)
    assert (cwd, capture) == (project.root, False)
    assert "pulumi up succeeded" in result.stderr
    assert b"key_generation: 2" in project.stack_bytes("shop"), "the file is written before the update runs"
    steps = next_steps(result.stdout)
    assert steps[0].startswith("(umask 077; storagectl settings shop-live") and "pulumi" not in " ".join(steps)
    assert "  1. hand the site its new settings" in result.stdout


def test_apply_reports_a_failed_update_with_its_exit_code(project: Project) -> None:
    with use_runner(RecordingRunner(result=RunResult(255))):
        result = invoke("keys", "rotate", "shop-live", "--stack", "shop", "--apply")
    assert result.exit_code == 255
    assert f"pulumi up failed (exit 255); {SOURCE} is written." in result.stderr
    assert "next steps" not in result.stdout


def test_apply_without_the_pulumi_cli_says_so_and_changes_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pulumi_runner.shutil, "which", lambda name: None)
    before = project.stack_bytes("shop")
    result = invoke("keys", "revoke", "shop-live", "--stack", "shop", "--apply")
    assert result.exit_code == 3
    assert result.stderr.startswith("--apply needs the Pulumi CLI, and `pulumi` is not on PATH; nothing was changed.")
    assert project.stack_bytes("shop") == before


def test_apply_and_dry_run_exclude_each_other(project: Project) -> None:
    result = invoke("keys", "retire", "shop-live", "--stack", "shop", "--apply", "--dry-run")
    assert result.exit_code == 2
    assert result.stderr == "--apply and --dry-run exclude each other: --dry-run writes nothing to apply\n"


# --- status without a live IAM -----------------------------------------------------------------


def test_status_on_exoscale_shows_the_generations_and_why_no_last_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = shop_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    assert invoke("keys", "rotate", "zurich-live", "--stack", EXOSCALE).exit_code == 0
    result = invoke("keys", "status", "--stack", EXOSCALE)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "SITE         GEN  ROLE      DECLARED  KEY  STATUS  CREATED  LAST USED",
        "zurich-live  1    previous  active    -    -       -        -",
        "zurich-live  2    current   active    -    -       -        -",
        "geneva-live  1    current   active    -    -       -        -",
        "Exoscale: no last use is shown; an Exoscale API key has a name, a role and its key only (docs/operators.md)",
        "zurich-live: rotating: retire generation 1's key once it is no longer used: "
        f"storagectl keys retire zurich-live --stack {EXOSCALE}",
    ]
    document = json.loads(invoke("keys", "status", "zurich-live", "--stack", EXOSCALE, "--json").stdout)
    assert document["last_use_source"] is None and document["ok"] is True
    [site] = document["sites"]
    assert [(key["generation"], key["role"], key["resource"], key["live"]) for key in site["keys"]] == [
        (1, "previous", "zurich-live-key", None),
        (2, "current", "zurich-live-key-2", None),
    ]


def test_status_without_aws_credentials_says_so_per_site_and_exits_1(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask for
    result = invoke("keys", "status", "blog", "--stack", "shop")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[1] == "blog  1    current  active    -    -       -        -"
    assert lines[2] == (
        "blog: no AWS credentials found (the default chain: environment, AWS_PROFILE, SSO, instance role); "
        "IAM's key facts need the operator's credentials"
    )
    assert result.stderr.endswith("could not read IAM for 1 of 1 sites; their keys' live facts are not shown\n")


# --- the recipes in docs/support.md are what the commands print ---------------------------------

DOCS = Path(__file__).resolve().parent.parent / "docs"


def recipe(title: str) -> list[str]:
    """The commands of the first shell block under the support.md heading `title` (comments left out)."""
    section = (DOCS / "support.md").read_text(encoding="utf-8").split(f"\n## {title}\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("title", ["Rotate a site's key", "A key leaked"])
def test_each_recipe_step_is_what_the_first_command_prints(project: Project, title: str) -> None:
    first, *rest = recipe(title)
    assert first.startswith("storagectl keys ") and first.endswith(" --apply")
    double = RecordingRunner()
    with use_runner(double):
        result = invoke(*shlex.split(first)[1:])
    assert result.exit_code == 0, result.stderr
    assert len(double.calls) == 1
    assert next_steps(result.stdout) == rest


def test_the_docs_have_the_sections_the_refusals_point_to() -> None:
    assert "\n### Rotating a stack's shared key\n" in (DOCS / "operators.md").read_text(encoding="utf-8")
    assert "Rotating a stack's shared key" in SHARED_LINE

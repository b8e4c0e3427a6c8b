"""`storagectl cors show|enable|disable` on a copy of the project: exact diffs, refusals, next steps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from storagectl import atomic_files, pulumi_runner
from storagectl.pulumi_runner import RunResult, use_runner
from tests.support.cli_project import (
    SHOP_STACK,
    Project,
    RecordingRunner,
    engine_urns,
    invoke,
    plain,
    printed_commands,
    shop_project,
)

SOURCE = "stacks/Pulumi.shop.yaml"
BLOG_CORS_DIFF = f"""\
--- a/{SOURCE}
+++ b/{SOURCE}
@@ -15,4 +15,7 @@
     # The blog: public media only.
     blog:
       private: false
+      cors:
+        origins:
+          - https://blog.example
 # End of the shop stack.
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    project = shop_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    return project


def test_show_prints_the_rule_and_says_when_cors_is_off(project: Project) -> None:
    on = invoke("cors", "show", "shop-live", "--stack", "shop")
    assert on.exit_code == 0
    assert on.stdout == (
        "shop-live: CORS on\n"
        "  origins: https://www.shop.example\n"
        "  methods: GET, HEAD\n"
        "  headers: *\n"
        "  expose_headers: (none)\n"
        "  max_age_seconds: 3600\n"
        "  allow_any_origin: false\n"
    )
    off = invoke("cors", "show", "blog", "--stack", "shop", "--json")
    assert (off.exit_code, json.loads(off.stdout)) == (0, None)


def test_enable_writes_exactly_the_cors_lines_and_prints_the_targeted_update(project: Project) -> None:
    result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "https://blog.example")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(BLOG_CORS_DIFF)
    assert project.stack_bytes("shop").decode() == SHOP_STACK.replace(
        "      private: false\n# End",
        "      private: false\n      cors:\n        origins:\n          - https://blog.example\n# End",
    )
    assert f"wrote {SOURCE}" in result.stderr

    preview, up = printed_commands(result.stdout)
    targets = preview[5::2]
    assert preview[:4] == ["pulumi", "preview", "--stack", "shop"]
    assert up == ["pulumi", "up", *preview[2:]]
    assert set(preview[4::2]) == {"--target"}
    expected = engine_urns(project.stack_file("shop"), "blog")
    assert len(targets) == len(set(targets)) == len(expected)
    assert set(targets) == set(expected)
    assert any(urn.endswith("BucketCorsConfiguration::blog-public-cors") for urn in targets)
    assert not [urn for urn in targets if "shop-" in urn.split("::")[-1]], "only the blog's resources"


def test_enable_adds_an_origin_to_the_list_and_keeps_its_comment(project: Project) -> None:
    result = invoke("cors", "enable", "shop-live", "--stack", "shop", "--origin", "https://shop.example")
    assert result.exit_code == 0, result.stderr
    assert project.stack_bytes("shop").decode() == SHOP_STACK.replace(
        "          - https://www.shop.example   # the storefront\n",
        "          - https://www.shop.example   # the storefront\n          - https://shop.example\n",
    )


def test_enable_sets_methods_and_max_age_in_the_files_style(project: Project) -> None:
    result = invoke(
        "cors", "enable", "shop-live", "--stack", "shop", "--origin", "https://www.shop.example",
        "--method", "get", "--method", "HEAD", "--method", "put", "--max-age", "600",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert project.stack_bytes("shop").decode() == SHOP_STACK.replace(
        "        methods: [GET, HEAD]\n", "        methods: [GET, HEAD, PUT]\n        max_age_seconds: 600\n"
    )


def test_enabling_an_origin_already_there_changes_nothing_and_says_so(project: Project) -> None:
    before = project.stack_bytes("shop")
    result = invoke("cors", "enable", "shop-live", "--stack", "shop", "--origin", "https://www.shop.example")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == (
        "shop-live: CORS already allows https://www.shop.example with these settings; nothing changed\n"
    )
    assert project.stack_bytes("shop") == before


def test_dry_run_prints_the_diff_and_writes_nothing(project: Project) -> None:
    before = project.stack_bytes("shop")
    result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "https://blog.example", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(BLOG_CORS_DIFF)
    assert "after writing (run again without --dry-run), the next step" in result.stdout
    assert f"dry run: {SOURCE} not written" in result.stderr
    assert project.stack_bytes("shop") == before
    assert sorted(path.name for path in project.stack_file("shop").parent.iterdir() if "shop" in path.name) == [
        "Pulumi.shop.yaml"
    ]


def test_refuses_an_http_origin_and_leaves_the_file_byte_for_byte(project: Project) -> None:
    before = project.stack_bytes("shop")
    result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "http://blog.example")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"refusing to write {SOURCE}: the result would not pass validation (file unchanged):\n"
        f"{SOURCE}: sites.blog.cors.origins[0]: 'http://blog.example' is not allowed; "
        "use https://host[:port] (one * at most), or * with allow_any_origin: true\n"
    )
    assert project.stack_bytes("shop") == before


def test_refuses_any_origin_without_the_explicit_flag(project: Project) -> None:
    before = project.stack_bytes("shop")
    refused = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "*")
    assert refused.exit_code == 2
    # The flag to add, not the YAML key it writes.
    assert refused.stderr == (
        "--origin '*' lets every website read blog's public media; add --allow-any-origin to mean it "
        "(nothing changed)\n"
    )
    assert project.stack_bytes("shop") == before
    allowed = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "*", "--allow-any-origin")
    assert allowed.exit_code == 0, allowed.stderr
    assert "+        origins:\n+          - '*'\n+        allow_any_origin: true\n" in allowed.stdout


def test_refuses_a_method_s3_does_not_allow(project: Project) -> None:
    before = project.stack_bytes("shop")
    result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "https://b.example", "--method", "PATCH")
    assert result.exit_code == 2
    assert "Invalid value for '--method': 'PATCH' is not allowed; use one of GET, PUT, POST, DELETE, HEAD" in plain(
        result.stderr
    )
    assert project.stack_bytes("shop") == before


def test_refuses_an_unknown_site_naming_the_file_and_key(project: Project) -> None:
    result = invoke("cors", "enable", "nope", "--stack", "shop", "--origin", "https://b.example")
    assert result.exit_code == 2
    assert result.stderr == (
        f"{SOURCE}: sites.nope: no such site in stack shop (sites: shop-live, shop-stage, blog); "
        "add it with `storagectl sites add nope --stack shop`\n"
    )


def test_refuses_to_edit_a_stack_file_that_is_already_invalid(project: Project) -> None:
    project.stack_file("shop").write_text(
        SHOP_STACK.replace("      private: false\n# End", "      privat: false\n# End")
    )
    before = project.stack_bytes("shop")
    result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "https://b.example")
    assert result.exit_code == 2
    assert result.stderr == (
        f"{SOURCE}: sites.blog.privat: unknown key; allowed keys: private, media_domain, cors, key_generation, "
        "previous_key\n"
    )
    assert "Traceback" not in result.output
    assert project.stack_bytes("shop") == before


def test_refuses_a_stack_name_that_leaves_the_stacks_directory(project: Project) -> None:
    result = invoke("cors", "show", "blog", "--stack", "../shop")
    assert result.exit_code == 2
    assert "Invalid value for '--stack': '../shop': use letters, digits, '-', '_' and '.'" in plain(result.stderr)


def test_disable_removes_the_rule_and_nothing_else(project: Project) -> None:
    result = invoke("cors", "disable", "shop-live", "--stack", "shop")
    assert result.exit_code == 0, result.stderr
    assert project.stack_bytes("shop").decode() == SHOP_STACK.replace(
        "      cors:\n        origins:\n          - https://www.shop.example   # the storefront\n"
        "        methods: [GET, HEAD]\n",
        "",
    )
    # The CORS resource is gone from the program, so the targets come from the stack before the change.
    preview, _ = printed_commands(result.stdout)
    assert (
        "urn:pulumi:shop::site-storage::site-storage:index:SiteStorage$"
        "aws:s3/bucketCorsConfiguration:BucketCorsConfiguration::shop-live-public-cors"
    ) in preview


def test_disable_when_off_changes_nothing(project: Project) -> None:
    before = project.stack_bytes("shop")
    result = invoke("cors", "disable", "blog", "--stack", "shop")
    assert (result.exit_code, result.stderr) == (0, "blog: CORS is already off; nothing changed\n")
    assert project.stack_bytes("shop") == before


def test_apply_runs_pulumi_up_on_exactly_the_sites_resources(project: Project) -> None:
    double = RecordingRunner()
    with use_runner(double):
        result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "https://blog.example", "--apply")
    assert result.exit_code == 0, result.stderr
    [(args, cwd, capture)] = double.calls
    expected = engine_urns(project.stack_file("shop"), "blog")
    assert args[:5] == ["up", "--stack", "shop", "--yes", "--skip-preview"]
    assert args[5::2] == ["--target"] * len(expected)
    assert sorted(args[6::2]) == sorted(expected)
    assert (cwd, capture) == (project.root, False)
    assert "pulumi up succeeded" in result.stderr
    assert b"https://blog.example" in project.stack_bytes("shop"), "the file is written before the update runs"


def test_apply_reports_a_failed_update_with_its_exit_code(project: Project) -> None:
    double = RecordingRunner(result=RunResult(255))
    with use_runner(double):
        result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "https://blog.example", "--apply")
    assert result.exit_code == 255
    assert f"pulumi up failed (exit 255); {SOURCE} is written." in result.stderr


def test_apply_without_the_pulumi_cli_says_so_and_changes_nothing(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pulumi_runner.shutil, "which", lambda name: None)
    before = project.stack_bytes("shop")
    result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "https://blog.example", "--apply")
    assert result.exit_code == 3
    assert result.stderr.startswith("--apply needs the Pulumi CLI, and `pulumi` is not on PATH; nothing was changed.")
    assert project.stack_bytes("shop") == before


def test_apply_and_dry_run_exclude_each_other(project: Project) -> None:
    result = invoke(
        "cors", "enable", "blog", "--stack", "shop", "--origin", "https://b.example", "--apply", "--dry-run"
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--apply and --dry-run exclude each other" in result.stderr


def test_an_interrupted_write_leaves_the_old_file_and_says_so(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(source: str, destination: str) -> None:
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(atomic_files.os, "replace", crash)
    before = project.stack_bytes("shop")
    result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "https://blog.example")
    assert result.exit_code == 1
    assert f"could not write {SOURCE}: [Errno 5] Input/output error; the file is unchanged" in result.stderr
    assert project.stack_bytes("shop") == before
    assert sorted(path.name for path in project.stack_file("shop").parent.glob("*shop*")) == [
        ".Pulumi.shop.yaml.lock",  # the lock file stays; no temp file does
        "Pulumi.shop.yaml",
    ]


@pytest.mark.parametrize(
    ("command", "summary"),
    [
        (["cors", "show"], "Print the CORS rule of SITE"),
        (["cors", "enable"], "Allow browsers on ORIGIN(s) to read SITE's public media"),
        (["cors", "disable"], "Remove SITE's CORS rule"),
        (["sites", "list"], "Table of the stack's sites"),
        (["sites", "add"], "Add SITE to the stack"),
        (["sites", "remove"], "Remove SITE from the stack file. Never deletes media"),
        (["settings"], "Print SITE's Django settings"),
    ],
)
def test_every_support_command_has_help(command: list[str], summary: str) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert summary in plain(result.stdout)

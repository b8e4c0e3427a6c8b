"""`storagectl sites list|add|remove`: exact diffs, max_sites sharding, refusals that protect media."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from storagectl.pulumi_runner import use_runner
from tests.support.cli_project import (
    SHOP_STACK,
    Project,
    RecordingRunner,
    engine_urns,
    invoke,
    printed_commands,
    shop_project,
)

SOURCE = "stacks/Pulumi.shop.yaml"
URN = "urn:pulumi:shop::site-storage::site-storage:index:SiteStorage"
FULL_SHOP = SHOP_STACK.replace("  site-storage:sites:\n", "  site-storage:max_sites: 3\n  site-storage:sites:\n")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    """A project holding only the shop stack, so other stacks are what each test writes."""
    project = shop_project(tmp_path / "project", examples=False)
    monkeypatch.chdir(project.root)
    return project


def test_list_shows_every_site_with_buckets_cors_domain_and_privacy(project: Project) -> None:
    result = invoke("sites", "list", "--stack", "shop")
    assert result.exit_code == 0, result.stderr
    rows = [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()]
    assert rows == [
        ["SITE", "BUCKETS", "CORS", "MEDIA DOMAIN", "PRIVATE"],
        ["shop-live", "shop-media-shop-live-public, shop-media-shop-live-private", "on", "media.shop.example", "yes"],
        ["shop-stage", "shop-media-shop-stage-public", "off", "-", "no"],
        ["blog", "shop-media-blog-public", "off", "-", "no"],
    ]
    assert result.stderr == "stack shop: 3 of 200 sites (site-storage:max_sites), region aws-eu-central-1\n"
    as_json = invoke("sites", "list", "--stack", "shop", "--json")
    assert json.loads(as_json.stdout)[0] == {
        "site": "shop-live",
        "buckets": ["shop-media-shop-live-public", "shop-media-shop-live-private"],
        "cors": True,
        "media_domain": "media.shop.example",
        "private": True,
    }


def test_add_appends_the_site_with_its_options_and_targets_only_its_resources(project: Project) -> None:
    result = invoke(
        "sites", "add", "news", "--stack", "shop", "--media-domain", "media.news.example", "--no-private",
        "--cors-origin", "https://news.example",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        f"--- a/{SOURCE}\n+++ b/{SOURCE}\n@@ -15,4 +15,10 @@\n"
        "     # The blog: public media only.\n     blog:\n       private: false\n"
        "+    news:\n+      private: false\n+      media_domain: media.news.example\n"
        "+      cors:\n+        origins:\n+          - https://news.example\n"
        " # End of the shop stack.\n"
    )
    assert (
        project.stack_bytes("shop")
        .decode()
        .endswith(
            "    news:\n      private: false\n      media_domain: media.news.example\n"
            "      cors:\n        origins:\n          - https://news.example\n# End of the shop stack.\n"
        )
    )
    preview, up = printed_commands(result.stdout)
    expected = engine_urns(project.stack_file("shop"), "news")
    assert sorted(preview[5::2]) == sorted(expected)
    assert f"{URN}::news" in expected
    assert up[:4] == ["pulumi", "up", "--stack", "shop"]


def test_add_a_plain_site_with_dry_run_writes_nothing(project: Project) -> None:
    before = project.stack_bytes("shop")
    result = invoke("sites", "add", "news", "--stack", "shop", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "+    news: {}\n" in result.stdout
    assert project.stack_bytes("shop") == before


def test_add_refuses_a_site_already_in_the_stack(project: Project) -> None:
    result = invoke("sites", "add", "blog", "--stack", "shop")
    assert result.exit_code == 2
    assert result.stderr == f"{SOURCE}: sites.blog: already in stack shop; use `storagectl cors` to change it\n"


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (
            ["Bad_Slug"],
            "sites.Bad_Slug: 'Bad_Slug' is not allowed; site slugs are lowercase DNS labels: "
            "a-z, 0-9 and inner hyphens, at most 63",
        ),
        (
            ["news", "--media-domain", "https://media.news.example/"],
            "sites.news.media_domain: 'https://media.news.example/' is not allowed; use a lowercase host name such "
            "as media.example.com, without scheme, port or path",
        ),
    ],
)
def test_add_refuses_what_preview_refuses_and_leaves_the_file(project: Project, args: list[str], problem: str) -> None:
    before = project.stack_bytes("shop")
    result = invoke("sites", "add", *args, "--stack", "shop")
    assert result.exit_code == 2
    assert result.stderr == (
        f"refusing to write {SOURCE}: the result would not pass validation (file unchanged):\n{SOURCE}: {problem}\n"
    )
    assert result.stdout == ""
    assert project.stack_bytes("shop") == before


SHARD = (
    "config:\n  site-storage:region: aws-eu-central-1\n  site-storage:bucket_prefix: {prefix}\n"
    "  site-storage:sites:\n{sites}"
)


def test_add_refuses_a_site_another_stack_with_the_same_prefix_has_naming_bucket_prefix(project: Project) -> None:
    """A shard (same bucket_prefix) already has the site: the line names bucket_prefix, the key to change,
    or the site belongs in one stack only."""
    project.stack_file("shop-eu").write_text(SHARD.format(prefix="shop-media", sites="    news: {}\n"))
    before = project.stack_bytes("shop")
    result = invoke("sites", "add", "news", "--stack", "shop")
    assert result.exit_code == 2
    assert result.stderr == (
        f"refusing to write {SOURCE}: the result would not pass validation (file unchanged):\n"
        f"{SOURCE}: bucket_prefix: 'shop-media' is also the bucket_prefix of stack shop-eu "
        "(stacks/Pulumi.shop-eu.yaml), which has site news too (buckets shop-media-news-public, "
        "shop-media-news-private); bucket names are global: give this stack a bucket_prefix of its own, or keep "
        "site news in one stack only\n"
    )
    assert project.stack_bytes("shop") == before


def test_add_refuses_a_bucket_name_another_prefix_and_slug_make_too(project: Project) -> None:
    """`shop` + `media-news` names the bucket `shop-media` + `news` would: bucket_prefix or the slug must change."""
    project.stack_file("shop-eu").write_text(
        SHARD.format(prefix="shop", sites="    media-news:\n      private: false\n")
    )
    before = project.stack_bytes("shop")
    result = invoke("sites", "add", "news", "--stack", "shop")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == [
        f"{SOURCE}: sites.news: bucket shop-media-news-public is already site media-news's in stack shop-eu "
        "(stacks/Pulumi.shop-eu.yaml); bucket names are global: give this stack another bucket_prefix "
        "(now 'shop-media') or the site another slug"
    ]
    assert project.stack_bytes("shop") == before


def test_add_to_a_full_stack_names_a_stack_of_the_same_region_with_room(project: Project) -> None:
    project.stack_file("shop").write_text(FULL_SHOP)
    project.stack_file("a-other-region").write_text(
        "config:\n  site-storage:region: custom\n  site-storage:endpoint: https://minio.example\n"
        "  site-storage:bucket_prefix: m\n  site-storage:access_key_id: k\n"
        "  site-storage:secret_access_key:\n    secure: v1:abc\n"
    )
    project.stack_file("b-broken").write_text("config:\n  site-storage:region: mars\n")
    project.stack_file("shop-shard-2").write_text(
        "config:\n  site-storage:region: aws-eu-central-1\n  site-storage:bucket_prefix: shop2\n"
        "  site-storage:sites:\n    one: {}\n"
    )
    before = project.stack_bytes("shop")
    result = invoke("sites", "add", "news", "--stack", "shop", "--no-private")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[0].startswith("note: skipped Pulumi.b-broken.yaml when looking at other stacks: ")
    assert lines[1] == (
        f"{SOURCE}: sites: stack shop is full: 3 of 3 sites (site-storage:max_sites); nothing changed. "
        "Sites beyond the limit go to another stack of region aws-eu-central-1."
    )
    assert lines[-2:] == [
        "stack shop-shard-2 (stacks/Pulumi.shop-shard-2.yaml) is in region aws-eu-central-1 and has room "
        "(1 of 200 sites); add the site there:",
        "  storagectl sites add news --stack shop-shard-2 --no-private",
    ]
    assert project.stack_bytes("shop") == before


def test_add_to_a_full_stack_without_a_shard_prints_the_commands_to_create_one(project: Project) -> None:
    project.stack_file("shop").write_text(FULL_SHOP)
    result = invoke("sites", "add", "news", "--stack", "shop", "--cors-origin", "https://news.example")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == [
        "no stack of region aws-eu-central-1 has room; "
        "create shard stack shop-shard-2 (Pulumi CLI), then add the site:",
        "  pulumi stack init shop-shard-2",
        "  pulumi config set --stack shop-shard-2 site-storage:region aws-eu-central-1",
        "  pulumi config set --stack shop-shard-2 site-storage:bucket_prefix shop-media",
        "  pulumi config set --stack shop-shard-2 site-storage:max_sites 3",
        "  storagectl sites add news --stack shop-shard-2 --cors-origin https://news.example",
    ]


def test_a_stack_over_its_limit_fails_like_preview(project: Project) -> None:
    project.stack_file("shop").write_text(FULL_SHOP.replace("max_sites: 3", "max_sites: 2"))
    result = invoke("sites", "list", "--stack", "shop")
    assert result.exit_code == 2
    assert result.stderr == (
        f"{SOURCE}: sites: '3 sites' is not allowed; this stack holds at most 2 (max_sites); "
        "add a shard stack of the same region\n"
    )


def test_remove_refuses_protected_buckets_and_prints_the_decommission_steps(project: Project) -> None:
    before = project.stack_bytes("shop")
    result = invoke("sites", "remove", "blog", "--stack", "shop")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    bucket = f"{URN}$aws:s3/bucket:Bucket::blog-public"
    assert lines[0] == (
        "refusing to remove site blog from stack shop: its buckets are protected (site-storage:protect), "
        "and removing a site never deletes media; nothing changed."
    )
    # No outputs here to tell whether blog was ever deployed: the way to show it, then the procedure.
    assert lines[1].startswith("If blog was never deployed, it has no buckets: show it with its outputs (")
    assert lines[1].endswith(
        "then `storagectl sites remove blog --stack shop --outputs outputs.json` removes it without these steps."
    )
    assert lines[2] == 'Decommission it deliberately (docs/operators.md, "Decommissioning a site"):'
    endpoint = "--endpoint-url https://s3.eu-central-1.amazonaws.com"
    # Step 1 with what `make` installs: storagectl, not the AWS CLI.
    assert lines[4] == "       storagectl media backup blog --stack shop --to ./media-backup-blog"
    assert not any("aws s3 sync" in line for line in lines)
    assert f"       pulumi state unprotect --stack shop '{bucket}'" in lines
    assert f"       aws s3 rm s3://shop-media-blog-public --recursive {endpoint}" in lines
    assert "       storagectl sites remove blog --stack shop --unprotected" in lines
    # Keeping the buckets: Pulumi forgets their settings first and the bucket last.
    assert lines[-1] == f"       pulumi state delete --stack shop --force '{bucket}'"
    assert f"       pulumi state delete --stack shop '{URN}$aws:s3/bucketPolicy:BucketPolicy::blog-public-policy'" in (
        lines
    )
    assert project.stack_bytes("shop") == before


def _outputs_with(project: Project, *sites: str) -> Path:
    """Saved stack outputs (their plain `sites` part is what remove reads) holding `sites`."""
    path = project.root / "outputs.json"
    facts = {site: {"public_bucket": f"shop-media-{site}-public"} for site in sites}
    path.write_text(json.dumps({"region": "aws-eu-central-1", "sites": facts, "site_settings": {}}))
    return path


def test_remove_of_a_site_that_was_never_deployed_needs_no_decommissioning(project: Project) -> None:
    """blog is in the stack file but not in the outputs: no buckets exist, so the file edit is all there is."""
    outputs = _outputs_with(project, "shop-live", "shop-stage")
    result = invoke("sites", "remove", "blog", "--stack", "shop", "--outputs", str(outputs))
    assert result.exit_code == 0, result.stderr
    assert "blog is not in the outputs of stack shop: it was never deployed, so it has no buckets or media; " in (
        result.stderr
    )
    assert "Decommission" not in result.stderr
    assert project.stack_bytes("shop").decode() == SHOP_STACK.replace(
        "    # The blog: public media only.\n    blog:\n      private: false\n", ""
    )


def test_remove_of_a_deployed_site_still_refuses_with_outputs_that_have_it(project: Project) -> None:
    before = project.stack_bytes("shop")
    outputs = _outputs_with(project, "shop-live", "blog")
    result = invoke("sites", "remove", "blog", "--stack", "shop", "--outputs", str(outputs))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[1] == 'Decommission it deliberately (docs/operators.md, "Decommissioning a site"):', "deployed: no if"
    assert project.stack_bytes("shop") == before


def test_remove_after_unprotecting_deletes_the_sites_lines_and_targets_its_old_resources(project: Project) -> None:
    expected = engine_urns(project.stack_file("shop"), "blog")
    result = invoke("sites", "remove", "blog", "--stack", "shop", "--unprotected")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(
        f"--- a/{SOURCE}\n+++ b/{SOURCE}\n@@ -12,7 +12,4 @@\n"
        "         methods: [GET, HEAD]\n     shop-stage:\n       private: false\n"
        "-    # The blog: public media only.\n-    blog:\n-      private: false\n"
        " # End of the shop stack.\n"
    )
    assert project.stack_bytes("shop").decode() == SHOP_STACK.replace(
        "    # The blog: public media only.\n    blog:\n      private: false\n", ""
    )
    preview, _ = printed_commands(result.stdout)
    assert sorted(preview[5::2]) == sorted(expected)


def test_remove_proceeds_when_the_stack_does_not_protect_buckets(project: Project) -> None:
    project.stack_file("shop").write_text(
        SHOP_STACK.replace("  site-storage:sites:\n", "  site-storage:protect: false\n  site-storage:sites:\n")
    )
    result = invoke("sites", "remove", "shop-stage", "--stack", "shop", "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "-    shop-stage:\n-      private: false\n" in result.stdout
    assert "pulumi up deletes them if they are empty; S3 refuses to delete a bucket that holds objects" in (
        result.stderr
    )


def test_remove_with_apply_runs_the_targeted_update(project: Project) -> None:
    expected = engine_urns(project.stack_file("shop"), "shop-stage")
    double = RecordingRunner()
    with use_runner(double):
        result = invoke("sites", "remove", "shop-stage", "--stack", "shop", "--unprotected", "--apply")
    assert result.exit_code == 0, result.stderr
    [(args, cwd, _)] = double.calls
    assert args[:5] == ["up", "--stack", "shop", "--yes", "--skip-preview"]
    assert sorted(args[6::2]) == sorted(expected)
    assert cwd == project.root


def test_remove_refuses_an_unknown_site(project: Project) -> None:
    result = invoke("sites", "remove", "nope", "--stack", "shop")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{SOURCE}: sites.nope: no such site in stack shop")


def test_remove_refuses_protected_generic_buckets_with_their_real_urns(tmp_path: Path, monkeypatch) -> None:
    """On a generic-S3 stack the buckets are the project's dynamic resources: remove refuses
    them just the same, and the printed URNs carry their real type token."""
    project = shop_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    before = project.stack_bytes("exoscale-ch-gva-2")
    result = invoke("sites", "remove", "geneva-live", "--stack", "exoscale-ch-gva-2")
    assert result.exit_code == 2
    stack_urn = "urn:pulumi:exoscale-ch-gva-2::site-storage::site-storage:index:SiteStorage"
    bucket = f"{stack_urn}$pulumi-python:dynamic/s3:Bucket::geneva-live-private"
    lines = result.stderr.splitlines()
    assert f"       pulumi state unprotect --stack exoscale-ch-gva-2 '{bucket}'" in lines
    encryption = f"{stack_urn}$pulumi-python:dynamic/s3:BucketEncryption::geneva-live-private-encryption"
    assert f"       pulumi state delete --stack exoscale-ch-gva-2 '{encryption}'" in lines
    assert project.stack_bytes("exoscale-ch-gva-2") == before

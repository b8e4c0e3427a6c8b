"""Stack files read as the Pulumi engine reads them: which namespace each `config:` key is in.

Pulumi gives a key without a namespace (`sites`) to the project (`site-storage:sites`), any
`ns:name` key to `ns`, and reads only `config:` of a stack file's top-level keys. A key the
program would never see (another namespace, a top-level `sites:`) used to be ignored, so
preview said "0 sites" and a deployed stack planned to delete every site: now it is refused,
by storagectl and by the program alike.
"""

from __future__ import annotations

import contextvars
import json
from pathlib import Path

import pulumi
import pytest
from pulumi.runtime.config import set_all_config

from components.config import ConfigError
from components.engine_config import settings_from_engine
from storagectl.stack_edit import StackEditor
from storagectl.stack_files import read_stack_file
from tests.support.cli_project import invoke, shop_project
from tests.test_preview_cli import assert_refused, storagectl

F = "Pulumi.test.yaml"
NAMESPACES = (
    "allowed namespaces: site-storage (this project; a key without a namespace, such as sites, is "
    "site-storage:sites), aws, exoscale, pulumi"
)
TOP_LEVEL = "allowed top-level keys: config, encryptionsalt, secretsprovider, encryptedkey, environment"
BASE = "  site-storage:region: aws-eu-central-1\n  site-storage:bucket_prefix: acme-media\n"
SITES = "    acme-live: {}\n    acme-stage:\n      private: false\n"


@pytest.fixture
def write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)

    def run(text: str) -> Path:
        path = tmp_path / F
        path.write_text(text, encoding="utf-8")
        return path

    return run


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        read_stack_file(path).settings()
    return error.value.problems


def test_bare_keys_are_the_projects_namespace(write) -> None:
    """`sites:` under config: is `site-storage:sites` to Pulumi, so it is to preview too."""
    bare = read_stack_file(
        write("config:\n  region: aws-eu-central-1\n  bucket_prefix: acme-media\n  sites:\n" + SITES)
    )
    settings = bare.settings()
    assert [site.slug for site in settings.sites] == ["acme-live", "acme-stage"]
    assert settings.region.id == "aws-eu-central-1"
    namespaced = read_stack_file(write("config:\n" + BASE + "  site-storage:sites:\n" + SITES))
    assert bare.values == namespaced.values


def test_a_bare_secret_is_known_as_a_secret(write) -> None:
    text = (
        "config:\n  region: custom\n  endpoint: https://minio.example.com\n  bucket_prefix: lab\n"
        "  access_key_id: minio\n  secret_access_key:\n    secure: v1:TESTnonce:TESTciphertext==\n"
    )
    stack_file = read_stack_file(write(text))
    assert stack_file.secret_keys == {"secret_access_key"}
    assert stack_file.settings().secret_access_key == "PREVIEW_SECRET_NOT_REAL"


def test_refuses_a_key_of_an_unknown_namespace(write) -> None:
    path = write("config:\n" + BASE + "  site_storage:sites:\n" + SITES)
    assert problems(path) == [
        f"{F}: config.site_storage:sites: namespace 'site_storage' is not allowed; {NAMESPACES}; "
        "did you mean site-storage:sites?"
    ]


def test_refuses_unknown_namespace_without_guessing_for_keys_the_project_lacks(write) -> None:
    path = write("config:\n" + BASE + "  random:seed: 4\n")
    assert problems(path) == [f"{F}: config.random:seed: namespace 'random' is not allowed; {NAMESPACES}"]


def test_provider_and_pulumi_namespaces_and_stack_file_keys_are_accepted(write) -> None:
    text = (
        "secretsprovider: passphrase\nencryptionsalt: v1:EXAMPLE\nencryptedkey: EXAMPLE\nenvironment: [acme/prod]\n"
        "config:\n" + BASE + "  aws:region: eu-central-1\n  pulumi:tags:\n    team: platform\n"
        "  pulumi:disable-default-providers: ['*']\n  exoscale:key: EXO0000\n"
    )
    stack_file = read_stack_file(write(text))
    assert set(stack_file.other_config) == {
        "aws:region",
        "pulumi:tags",
        "pulumi:disable-default-providers",
        "exoscale:key",
    }
    stack_file.settings()


def test_the_old_namespace_config_name_form_is_the_same_key(write) -> None:
    """Pulumi still reads `ns:config:name` as `ns:name`."""
    from components.config import parse_config_key

    stack_file = read_stack_file(
        write("config:\n  site-storage:config:region: aws-eu-central-1\n  site-storage:bucket_prefix: acme-media\n")
    )
    assert stack_file.settings().region.id == "aws-eu-central-1"
    assert parse_config_key("site-storage:config:sites") == ("site-storage", "sites")
    assert parse_config_key("a:b:c") is None


def test_refuses_a_key_pulumi_cannot_parse(write) -> None:
    path = write("config:\n" + BASE + "  site-storage:sites:extra: {}\n")
    assert problems(path) == [
        f"{F}: config.site-storage:sites:extra: is not a config key Pulumi reads; use <namespace>:<name>, "
        "e.g. site-storage:sites, or a bare name for site-storage"
    ]


def test_refuses_a_key_written_bare_and_namespaced(write) -> None:
    path = write("config:\n" + BASE + "  sites:\n    one: {}\n  site-storage:sites:\n" + SITES)
    assert problems(path) == [
        f"{F}: config.site-storage:sites: is the same key as config.sites (Pulumi reads both as site-storage:sites); "
        "keep one of them"
    ]


@pytest.mark.parametrize("key", ["sites", "site-storage:sites"])
def test_refuses_sites_outside_config(write, key: str) -> None:
    path = write("config:\n" + BASE + f"{key}:\n" + SITES.replace("    ", "  "))
    assert problems(path) == [
        f"{F}: {key}: unknown top-level key; {TOP_LEVEL}; Pulumi reads settings only under config:, "
        "so move it there (as site-storage:sites)"
    ]


def test_refuses_any_other_top_level_key_with_the_allowed_list(write) -> None:
    path = write("config:\n" + BASE + "notes: hello\n")
    assert problems(path) == [f"{F}: notes: unknown top-level key; {TOP_LEVEL}"]


def test_preview_refuses_unknown_namespace_instead_of_zero_sites(write, tmp_path: Path) -> None:
    """The defect: preview said `0 sites` and exited 0."""
    write("config:\n" + BASE + "  site_storage:sites:\n" + SITES)
    assert_refused(
        storagectl("preview", "--config", F, cwd=tmp_path),
        [
            f"{F}: config.site_storage:sites: namespace 'site_storage' is not allowed; {NAMESPACES}; "
            "did you mean site-storage:sites?"
        ],
    )


def test_preview_reads_bare_sites(write, tmp_path: Path) -> None:
    write("config:\n  region: aws-eu-central-1\n  bucket_prefix: acme-media\n  sites:\n" + SITES)
    result = storagectl("preview", "--json", "--config", F, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(json.loads(result.stdout)["sites"]) == ["acme-live", "acme-stage"]


def test_the_program_refuses_a_key_of_an_unknown_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    """`pulumi up` itself stops: without it, the engine would plan to delete every site."""
    engine = {
        "site-storage:region": "aws-eu-central-1",
        "site-storage:bucket_prefix": "acme-media",
        "site_storage:sites": json.dumps({"acme-live": {}}),
    }
    monkeypatch.setattr(pulumi, "get_stack", lambda: "prod")

    def read() -> list[str]:
        set_all_config(engine)
        with pytest.raises(ConfigError) as error:
            settings_from_engine()
        return error.value.problems

    assert contextvars.copy_context().run(read) == [
        f"stacks/Pulumi.prod.yaml: config.site_storage:sites: namespace 'site_storage' is not allowed; {NAMESPACES}; "
        "did you mean site-storage:sites?"
    ]


# --- the editor finds bare keys and writes namespaced ones ------------------------------------------------


def test_editor_finds_a_bare_sites_key_and_writes_new_ones_namespaced(tmp_path: Path) -> None:
    bare = tmp_path / "Pulumi.bare.yaml"
    bare.write_text("config:\n  region: aws-eu-central-1\n  sites:\n    one: {}\n", encoding="utf-8")
    assert StackEditor(bare, bare.read_text()).project_key("sites") == ("config", "sites")
    empty = tmp_path / "Pulumi.empty.yaml"
    empty.write_text("config:\n  site-storage:region: aws-eu-central-1\n", encoding="utf-8")
    assert StackEditor(empty, empty.read_text()).project_key("sites") == ("config", "site-storage:sites")


def test_sites_add_and_cors_enable_edit_a_bare_sites_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = shop_project(tmp_path, examples=False)
    monkeypatch.chdir(project.root)
    path = project.stack_file("shop")
    path.write_text(path.read_text().replace("  site-storage:sites:", "  sites:"), encoding="utf-8")

    added = invoke("sites", "add", "news", "--stack", "shop")
    assert added.exit_code == 0, added.output
    text = path.read_text()
    assert "site-storage:sites" not in text
    assert "    news: {}\n" in text
    enabled = invoke("cors", "enable", "news", "--stack", "shop", "--origin", "https://news.example")
    assert enabled.exit_code == 0, enabled.output
    removed = invoke("sites", "remove", "shop-stage", "--stack", "shop", "--unprotected")
    assert removed.exit_code == 0, removed.output
    settings = read_stack_file(path).settings()
    assert [site.slug for site in settings.sites] == ["shop-live", "blog", "news"]
    news = next(site for site in settings.sites if site.slug == "news")
    assert news.cors is not None and news.cors.origins == ("https://news.example",)

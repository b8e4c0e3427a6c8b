"""storagectl.stack_edit: edits that change only their own lines, exact diffs, atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from components.config import ConfigError
from storagectl import atomic_files, stack_edit
from storagectl.stack_edit import Change, ConcurrentChange, StackEditor, detect_layout, write_atomic
from storagectl.stack_files import round_trip_yaml
from tests.support.cli_project import SHOP_STACK
from tests.support.stacks import EXAMPLE_STACKS, STACKS

SITES = ("config", "site-storage:sites")

SHOP = SHOP_STACK


def _edit(text: str, tmp_path: Path) -> StackEditor:
    return StackEditor(tmp_path / "Pulumi.shop.yaml", text)


def _cors(*origins: str) -> CommentedMap:
    return CommentedMap([("origins", CommentedSeq(origins))])


@pytest.mark.parametrize("stack", EXAMPLE_STACKS)
def test_layout_reproduces_every_example_stack(stack: str) -> None:
    text = (STACKS / f"Pulumi.{stack}.yaml").read_text(encoding="utf-8")
    yaml = stack_edit._yaml(detect_layout(text))
    assert stack_edit._dump(yaml, yaml.load(text)) == text


def test_edits_follow_a_file_indented_differently(tmp_path: Path) -> None:
    text = (
        "config:\n    site-storage:sites:\n        a:\n"
        "            cors:\n                origins:\n                - https://a.example\n"
    )
    editor = _edit(text, tmp_path)
    editor.update_mapping((*SITES, "a"), lambda site: site["cors"]["origins"].append("https://b.example"))
    assert editor.text == text + "                - https://b.example\n"


def test_adding_a_key_after_a_site_keeps_the_next_sites_comment_above_it(tmp_path: Path) -> None:
    editor = _edit(SHOP, tmp_path)
    editor.update_mapping((*SITES, "shop-stage"), lambda site: site.__setitem__("cors", _cors("https://stage.example")))
    assert editor.text == SHOP.replace(
        "    shop-stage:\n      private: false\n",
        "    shop-stage:\n      private: false\n      cors:\n        origins:\n          - https://stage.example\n",
    )


def test_extending_a_list_keeps_end_of_line_comments_and_flow_style(tmp_path: Path) -> None:
    editor = _edit(SHOP, tmp_path)

    def change(site: CommentedMap) -> None:
        site["cors"]["origins"].append("https://shop.example")
        methods = site["cors"]["methods"]
        del methods[:]
        methods.extend(["GET", "HEAD", "PUT"])

    editor.update_mapping((*SITES, "shop-live"), change)
    assert editor.text == SHOP.replace(
        "          - https://www.shop.example   # the storefront\n        methods: [GET, HEAD]\n",
        "          - https://www.shop.example   # the storefront\n"
        "          - https://shop.example\n"
        "        methods: [GET, HEAD, PUT]\n",
    )


def test_deleting_a_site_takes_its_own_comment_and_leaves_the_others(tmp_path: Path) -> None:
    editor = _edit(SHOP, tmp_path)
    editor.delete_key((*SITES, "blog"))
    assert editor.text == SHOP.replace("    # The blog: public media only.\n    blog:\n      private: false\n", "")


def test_deleting_a_site_keeps_the_comment_that_introduces_the_next_one(tmp_path: Path) -> None:
    editor = _edit(SHOP, tmp_path)
    editor.delete_key((*SITES, "shop-stage"))
    assert editor.text == SHOP.replace("    shop-stage:\n      private: false\n", "")
    assert "    # The blog: public media only.\n    blog:\n" in editor.text


def test_deleting_the_only_key_leaves_an_empty_mapping(tmp_path: Path) -> None:
    text = "config:\n  site-storage:sites:\n    demo:\n      cors:\n        origins:\n          - https://a.example\n"
    editor = _edit(text, tmp_path)
    editor.delete_key((*SITES, "demo", "cors"))
    assert editor.text == "config:\n  site-storage:sites:\n    demo: {}\n"


def test_adding_a_site_goes_after_the_last_one_and_before_the_trailing_comment(tmp_path: Path) -> None:
    editor = _edit(SHOP, tmp_path)
    editor.add_key(SITES, "news", CommentedMap([("media_domain", "media.news.example")]))
    assert editor.text == SHOP.replace(
        "# End of the shop stack.\n", "    news:\n      media_domain: media.news.example\n# End of the shop stack.\n"
    )


def test_adding_to_an_empty_flow_mapping_writes_block_style(tmp_path: Path) -> None:
    text = "config:\n  site-storage:region: aws-eu-central-1\n  site-storage:sites: {}\n"
    editor = _edit(text, tmp_path)
    editor.add_key(SITES, "news", CommentedMap())
    assert editor.text == "config:\n  site-storage:region: aws-eu-central-1\n  site-storage:sites:\n    news: {}\n"


def test_adding_the_sites_key_when_there_is_none(tmp_path: Path) -> None:
    text = "config:\n  site-storage:region: aws-eu-central-1  # Frankfurt\n"
    editor = _edit(text, tmp_path)
    editor.add_key(SITES, "news", CommentedMap())
    assert editor.text == text + "  site-storage:sites:\n    news: {}\n"


def test_a_flow_style_site_is_edited_in_its_own_style(tmp_path: Path) -> None:
    text = "config:\n  site-storage:sites:\n    a: {private: false}   # small\n    b: {}\n"
    editor = _edit(text, tmp_path)
    editor.delete_key((*SITES, "a", "private"))
    # ruamel keeps an end-of-line comment at its column.
    assert editor.text == "config:\n  site-storage:sites:\n    a: {}                 # small\n    b: {}\n"


def test_windows_line_endings_stay_windows_line_endings(tmp_path: Path) -> None:
    text = SHOP.replace("\n", "\r\n")
    editor = _edit(text, tmp_path)
    editor.add_key(SITES, "news", CommentedMap([("private", False)]))
    assert editor.text == text.replace(
        "# End of the shop stack.\r\n", "    news:\r\n      private: false\r\n# End of the shop stack.\r\n"
    )


def test_the_edited_text_parses_to_the_intended_values(tmp_path: Path) -> None:
    editor = _edit(SHOP, tmp_path)
    editor.update_mapping((*SITES, "blog"), lambda site: site.__setitem__("cors", _cors("https://blog.example")))
    sites = round_trip_yaml().load(editor.text)["config"]["site-storage:sites"]
    assert sites["blog"] == {"private": False, "cors": {"origins": ["https://blog.example"]}}
    assert list(sites) == ["shop-live", "shop-stage", "blog"]


def test_diff_is_the_unified_diff_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "stacks" / "Pulumi.shop.yaml"
    change = Change(path, "a: 1\nb: 2\n", "a: 1\nb: 3\n")
    source = change.source
    assert change.diff() == f"--- a/{source}\n+++ b/{source}\n@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n+b: 3\n"


def test_diff_marks_a_missing_newline_at_the_end(tmp_path: Path) -> None:
    change = Change(tmp_path / "f.yaml", "a: 1", "a: 2\n")
    assert "-a: 1\n\\ No newline at end of file\n+a: 2\n" in change.diff()


def test_validated_refuses_what_preview_refuses(tmp_path: Path) -> None:
    bad = SHOP.replace("https://www.shop.example", "http://www.shop.example")
    with pytest.raises(ConfigError) as raised:
        Change(tmp_path / "Pulumi.shop.yaml", SHOP, bad).validated()
    assert raised.value.problems == [
        f"{tmp_path / 'Pulumi.shop.yaml'}: sites.shop-live.cors.origins[0]: 'http://www.shop.example' is not allowed; "
        "use https://host[:port] (one * at most), or * with allow_any_origin: true"
    ]


def test_write_atomic_replaces_the_file_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.shop.yaml"
    path.write_text("old\n")
    path.chmod(0o640)
    write_atomic(path, "new\n", expected="old\n")
    assert path.read_bytes() == b"new\n"
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == [".Pulumi.shop.yaml.lock", "Pulumi.shop.yaml"], "no temp file left"


def test_write_atomic_interrupted_at_the_rename_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "Pulumi.shop.yaml"
    path.write_bytes(SHOP.encode())

    def killed(*args: object) -> None:
        raise KeyboardInterrupt  # what a Ctrl-C between write and rename looks like

    monkeypatch.setattr(atomic_files.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(path, "half\n")
    assert path.read_bytes() == SHOP.encode()
    assert sorted(os.listdir(tmp_path)) == [".Pulumi.shop.yaml.lock", "Pulumi.shop.yaml"], "the temp file is removed"


def test_write_atomic_failing_while_writing_leaves_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "Pulumi.shop.yaml"
    path.write_bytes(SHOP.encode())

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic_files.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, SHOP + "more\n")
    assert path.read_bytes() == SHOP.encode()
    assert sorted(os.listdir(tmp_path)) == [".Pulumi.shop.yaml.lock", "Pulumi.shop.yaml"]


def test_write_atomic_refuses_when_the_file_changed_since_it_was_read(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.shop.yaml"
    path.write_text("someone else's edit\n")
    with pytest.raises(ConcurrentChange):
        write_atomic(path, "mine\n", expected="what I read\n")
    assert path.read_text() == "someone else's edit\n"

"""Editing stack files: touch only the lines that must change, validate, diff, write atomically.

A full ruamel.yaml dump of an edited document moves comments: ruamel attaches a comment
to the node *before* it, so removing or extending one site carries the comment that
introduces the next site along with it. Edits therefore work on the text: ruamel's
round-trip parser says where a key's lines are (line and column), and renders only the
block being changed (a site, a new entry), with the file's own indentation. Every other
byte is copied. Nothing is written unless the result passes the same validation as
preview, and writing is atomic and serialized (storagectl.atomic_files).
"""

from __future__ import annotations

import difflib
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from components.config import NAMESPACE, ConfigError
from storagectl.atomic_files import ConcurrentChange, write_atomic
from storagectl.bucket_clash import Note, check_like_preview
from storagectl.stack_files import (
    StackFile,
    config_key,
    display_path,
    load_document,
    read_stack_file,
    read_stack_text,
    round_trip_yaml,
)

__all__ = ["ConcurrentChange", "StackEditor", "read_text", "write_atomic"]

KeyPath = tuple[str, ...]
"""Keys from the document root, e.g. ("config", "site-storage:sites", "acme-live")."""


@dataclass(frozen=True)
class Layout:
    """Indentation as ruamel.yaml names it: mapping indent, sequence indent, dash offset."""

    mapping: int
    sequence: int
    offset: int


# Most common first: the example stacks (2, 4, 2), then ruamel's and other tools' defaults.
_LAYOUTS = (
    Layout(2, 4, 2),
    Layout(2, 2, 0),
    Layout(4, 4, 2),
    Layout(4, 4, 0),
    Layout(4, 6, 4),
    Layout(2, 3, 1),
    Layout(3, 3, 1),
    Layout(4, 2, 0),
)


def _yaml(layout: Layout) -> YAML:
    yaml = round_trip_yaml()
    yaml.indent(mapping=layout.mapping, sequence=layout.sequence, offset=layout.offset)
    yaml.width = 4096  # never fold a long value (an encrypted secret) onto two lines
    return yaml


def _dump(yaml: YAML, node: Any) -> str:
    buffer = io.StringIO()
    yaml.dump(node, buffer)
    return buffer.getvalue()


def detect_layout(text: str) -> Layout:
    """The indentation that reproduces `text`; the example stacks' one when none does exactly."""
    normal = text.replace("\r\n", "\n")
    for layout in _LAYOUTS:
        yaml = _yaml(layout)
        if _dump(yaml, yaml.load(normal)) == normal:
            return layout
    return _LAYOUTS[0]


def read_text(path: Path) -> str:
    """A stack file's exact text (line endings kept), or a one-line ConfigError (storagectl.stack_files)."""
    return read_stack_text(path)


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _is_comment(line: str) -> bool:
    return line.strip().startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: Sequence[str], line: int, col: int) -> int:
    """Index of the last content line of the key at (line, col): trailing comments are not its own."""
    end = line
    for index in range(line + 1, len(lines)):
        text = lines[index]
        if not _is_content(text):
            continue
        indent = _indent(text)
        # A block sequence may sit at its key's own column ("key:\n- item").
        if indent < col or (indent == col and not text.lstrip(" ").startswith("-")):
            break
        end = index
    return end


def _leading_start(lines: Sequence[str], line: int, col: int) -> int:
    """First line of the comments directly above a key at its column: they describe that key."""
    start = line
    while start > 0 and _is_comment(lines[start - 1]) and _indent(lines[start - 1]) == col:
        start -= 1
    return start


def _is_block_mapping(node: Any) -> bool:
    return isinstance(node, CommentedMap) and not node.fa.flow_style()


def flow_seq(items: Sequence[Any]) -> CommentedSeq:
    """A list written on one line (`[GET, HEAD]`), as the example stacks write methods."""
    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


class StackEditor:
    """Line-preserving edits of one stack file's text."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.source = display_path(path)
        self.newline = "\r\n" if "\r\n" in text else "\n"
        self.layout = detect_layout(text)
        self.lines = text.splitlines(keepends=True)
        self._reload()

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def _reload(self) -> None:
        self.document = load_document(self.path, self.text)

    def node(self, keys: KeyPath) -> Any:
        """The value at `keys`; KeyError when a key is missing."""
        node = self.document
        for key in keys:
            if not isinstance(node, dict) or key not in node:
                raise KeyError(key)
            node = node[key]
        return node

    def project_key(self, name: str) -> KeyPath:
        """Where this project's config key `name` is: as the file writes it (`sites` alone, as Pulumi reads
        bare keys), else `site-storage:<name>`, the form `pulumi config set` writes and new keys get."""
        config = self.document.get("config") if isinstance(self.document, dict) else None
        return ("config", config_key(config, name) or f"{NAMESPACE}:{name}")

    def _render(self, node: Any, col: int) -> list[str]:
        text = _dump(_yaml(self.layout), node)
        lines = []
        for line in text.splitlines():
            lines.append((" " * col + line if line.strip() else "") + self.newline)
        return lines

    def _fragment(self, line: int, end: int, col: int) -> str:
        """The lines of one key's block, moved to column 0 so ruamel reads them on their own."""
        dedented = []
        for text in self.lines[line : end + 1]:
            text = text.replace("\r\n", "\n")
            dedented.append(text[col:] if text[:col].strip() == "" else text.lstrip(" "))
        return "".join(dedented)

    def update_mapping(self, keys: KeyPath, change: Callable[[CommentedMap], None]) -> None:
        """Re-render the block of the mapping at `keys` after `change`; a null value becomes a mapping.

        Only the lines of that block change: comments inside it come along (ruamel keeps
        them), comments before and after it stay where they are.
        """
        depth = len(keys) - 1
        # In a flow mapping ({a: {...}}) no key has lines of its own: re-render the nearest block one.
        while depth > 0 and not _is_block_mapping(self.node(keys[:depth])):
            depth -= 1
        container = self.node(keys[:depth])
        if not _is_block_mapping(container):
            raise ConfigError([f"{self.source}: cannot edit a document written in flow style ({{...}})"])
        line, col = container.lc.key(keys[depth])
        end = _block_end(self.lines, line, col)
        fragment = _yaml(self.layout).load(self._fragment(line, end, col))
        holder = fragment
        for key in keys[depth:-1]:
            holder = holder[key]
        mapping = holder[keys[-1]]
        if mapping is None:
            mapping = holder[keys[-1]] = CommentedMap()
        if not isinstance(mapping, CommentedMap):
            path = ".".join(keys[1:])
            raise ConfigError([f"{self.source}: {path}: is not a mapping; cannot edit it"])
        if not mapping:
            mapping.fa.set_block_style()
        change(mapping)
        self.lines[line : end + 1] = self._render(fragment, col)
        self._reload()

    def add_key(self, keys: KeyPath, key: str, value: Any) -> None:
        """Add `key: value` as the last entry of the mapping at `keys` (created when missing)."""
        try:
            mapping = self.node(keys)
        except KeyError:
            self.add_key(keys[:-1], keys[-1], CommentedMap([(key, value)]))
            return
        if not _is_block_mapping(mapping) or not mapping:
            self.update_mapping(keys, lambda target: target.__setitem__(key, value))
            return
        last = list(mapping)[-1]
        line, col = mapping.lc.key(last)
        end = _block_end(self.lines, line, col)
        if not self.lines[end].endswith("\n"):
            self.lines[end] += self.newline
        # Right after the last entry: comments that follow it belong to what comes next.
        self.lines[end + 1 : end + 1] = self._render(CommentedMap([(key, value)]), col)
        self._reload()

    def delete_key(self, keys: KeyPath) -> None:
        """Remove a key with its lines and the comments directly above it; later comments stay."""
        container = self.node(keys[:-1])
        if not _is_block_mapping(container):
            self.update_mapping(keys[:-1], lambda target: target.pop(keys[-1]))
            return
        line, col = container.lc.key(keys[-1])
        start = _leading_start(self.lines, line, col)
        end = _block_end(self.lines, line, col)
        was_only_key = len(container) == 1
        del self.lines[start : end + 1]
        self._reload()
        if was_only_key and len(keys) > 1:
            # `holder:` with nothing under it reads as null; write `holder: {}` as people do.
            self.update_mapping(keys[:-1], lambda target: None)


@dataclass(frozen=True)
class Change:
    """A stack file before and after an edit."""

    path: Path
    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after

    @property
    def source(self) -> str:
        return display_path(self.path)

    def diff(self) -> str:
        """The unified diff of the file, as `git diff` would show it."""
        lines = difflib.unified_diff(
            self.before.splitlines(keepends=True),
            self.after.splitlines(keepends=True),
            fromfile=f"a/{self.source}",
            tofile=f"b/{self.source}",
        )
        out = []
        for line in lines:
            out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
        return "".join(out)

    def validated(self, note: Note | None = None) -> StackFile:
        """The edited file as preview would read it; ConfigError when preview would refuse it, the bucket
        names of the stack files beside it included (a sibling that cannot be read is `note`d)."""
        stack_file = read_stack_file(self.path, self.after)
        check_like_preview(stack_file, note or (lambda line: None))
        return stack_file

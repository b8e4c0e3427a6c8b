"""YAML text to plain data (dict, list, str, int, float, bool, None) within fixed bounds.

The stack-file reader's first half: it never expands an alias (an alias reuses the value its
anchor built, so an "alias bomb" costs no more than its text) but counts every use against
MAX_VALUES, refuses nesting deeper than MAX_DEPTH, and works from ruamel.yaml's event stream
(the pure-Python parser keeps a stack of states, never recursing), so no input can exhaust the
interpreter's stack, the memory or the time. The bounds on bytes and line length are the
caller's (storagectl.stack_files), applied before the text gets here.

Scalars are read the way both readers of a stack file agree on them: this one, and the Pulumi
CLI (Go, yaml.v3), which hands top-level values to the program as the text written and nested
ones as JSON. Where the two could differ, the value is refused with the reason instead of
guessed: booleans other than `true`/`false` (`True`, `yes` under `%YAML 1.1`), numbers not in
plain decimal (`0x10`, `+5`, `1_000`, `007`), dates (`2024-01-01`), merge keys (`<<`), tags
other than the core ones, keys that are not text, and more than one document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    DocumentStartEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceStartEvent,
)
from ruamel.yaml.reader import ReaderError

MAX_DEPTH = 20
"""Mappings and lists inside each other; a stack file needs 6 (config, sites, site, cors, origins)."""
MAX_VALUES = 200_000
"""Values in a document, an alias counted as often as it is used; a 1,000-site stack holds about 10,000."""

_CORE = "tag:yaml.org,2002:"
_NULL = frozenset({"", "~", "null", "Null", "NULL"})
_BOOL = frozenset({"true", "True", "TRUE", "false", "False", "FALSE"})
_YAML11_BOOL = frozenset(
    {"yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF", "y", "Y", "n", "N"}
)
_PLAIN_INT = re.compile(r"-?(?:0|[1-9][0-9]*)")
_SHORT_INT_DIGITS = 4000
"""Longer plain integers stay text (Python converts at most 4,300 digits); the range checks refuse them."""
# Integer forms of YAML 1.1, YAML 1.2 and yaml.v3 that are not plain decimal.
_OTHER_INT = re.compile(
    r"[-+]?(?:0b[01_]+|0o[0-7_]+|0x[0-9a-fA-F_]+|0[0-7_]+|[0-9][0-9_]*|[1-9][0-9_]*(?::[0-5]?[0-9])+)"
)
_FLOAT = re.compile(
    r"[-+]?(?:\.[0-9_]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?", re.DOTALL)
_SCALAR_TAGS = {f"{_CORE}{name}" for name in ("str", "int", "bool", "null", "float")} | {"!"}
_COLLECTION_TAGS = {f"{_CORE}map", f"{_CORE}seq", "!"}


class YamlProblems(Exception):
    """The text was refused; `problems` holds one `line N: <path>: ...` text per problem (no file name)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Document:
    value: Any
    """The document's plain data; None for an empty document."""
    secure_paths: tuple[tuple[str | int, ...], ...]
    """Where `{secure: <text>}` values were (replaced by `secure_placeholder`), as key paths from the root."""


def show_text(text: str) -> str:
    shown = repr(text)
    return shown if len(shown) <= 80 else shown[:77] + "..."


@dataclass
class _Frame:
    kind: str  # "map" or "seq"
    path: tuple[str | int, ...]
    value: Any
    anchor: str | None
    counted_at: int
    line: int
    secure_at_start: int = 0
    pending_key: str | None = None
    key_line: int = 0
    skip_value: bool = False
    first_lines: dict[str, int] = field(default_factory=dict)


class _Builder:
    def __init__(self, render_path: Any, secure_placeholder: str) -> None:
        self.render_path = render_path
        self.placeholder = secure_placeholder
        self.frames: list[_Frame] = []
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.secure_anchors: set[str] = set()
        self.values = 0
        self.problems: list[str] = []
        self.secure_paths: list[tuple[str | int, ...]] = []
        self.documents = 0
        self.root: Any = None

    # --- helpers -------------------------------------------------------------------------
    def where(self, line: int, path: tuple[str | int, ...]) -> str:
        rendered = self.render_path(path)
        return f"line {line + 1}: {rendered}: " if rendered else f"line {line + 1}: "

    def refuse(self, line: int, path: tuple[str | int, ...], text: str) -> None:
        self.problems.append(self.where(line, path) + text)

    def stop(self, line: int, path: tuple[str | int, ...], text: str) -> YamlProblems:
        """A problem that ends the reading at once (a bound was hit)."""
        return YamlProblems([*self.problems, self.where(line, path) + text])

    def count(self, amount: int, line: int, path: tuple[str | int, ...]) -> None:
        self.values += amount
        if self.values > MAX_VALUES:
            raise self.stop(
                line,
                path,
                f"the document holds more than {MAX_VALUES:,} values (an alias counts each time it is used); "
                "a stack file of 1,000 sites holds about 10,000",
            )

    def child_path(self) -> tuple[str | int, ...] | None:
        """The path of the value about to be read; None while reading a mapping key."""
        if not self.frames:
            return ()
        frame = self.frames[-1]
        if frame.kind == "seq":
            return (*frame.path, len(frame.value))
        if frame.pending_key is None:
            return None
        return (*frame.path, frame.pending_key)

    def place(self, value: Any, line: int) -> None:
        """Put a finished value where it belongs: the root, a list, a mapping key or a mapping value."""
        if not self.frames:
            self.root = value
            return
        frame = self.frames[-1]
        if frame.kind == "seq":
            frame.value.append(value)
        elif frame.pending_key is None:
            self.key(frame, value, line)
        else:
            if not frame.skip_value:
                frame.value[frame.pending_key] = value
            frame.pending_key, frame.skip_value = None, False

    def key(self, frame: _Frame, value: Any, line: int) -> None:
        if isinstance(value, _KeyProblem):
            self.refuse(line, (*frame.path, value.text), value.reason)
            frame.pending_key, frame.skip_value = value.text, True
            return
        key = str(value)
        first = frame.first_lines.get(key)
        if first is not None:
            self.refuse(
                line, (*frame.path, key), f"appears again (first on line {first + 1}); each key may appear once"
            )
            frame.pending_key, frame.skip_value = key, True
            return
        frame.first_lines[key] = line
        frame.pending_key, frame.key_line, frame.skip_value = key, line, False

    # --- events --------------------------------------------------------------------------
    def scalar(self, event: ScalarEvent) -> None:
        line = event.start_mark.line
        path = self.child_path()
        reading_key = path is None
        where = path if path is not None else self.frames[-1].path
        self.count(1, line, where)
        value = self.resolve(event, where, reading_key)
        self.remember(event.anchor, value, 1)
        self.place(value, line)

    def resolve(self, event: ScalarEvent, path: tuple[str | int, ...], reading_key: bool) -> Any:
        text, tag, line = event.value, event.tag, event.start_mark.line
        if tag is not None and tag not in _SCALAR_TAGS:
            return self.bad(
                line, path, text, f"the YAML tag {tag} is not allowed; write the value without it", reading_key
            )
        quoted = event.style is not None or tag in (f"{_CORE}str", "!")
        if quoted:
            return text
        if tag is not None:
            if tag == f"{_CORE}int" and not _PLAIN_INT.fullmatch(text):
                return self.bad(line, path, text, "write whole numbers in plain decimal digits", reading_key)
            if tag == f"{_CORE}bool" and text not in ("true", "false"):
                return self.bad(line, path, text, "write true or false", reading_key)
        if text in _NULL or tag == f"{_CORE}null":
            if reading_key:
                return self.bad(line, path, text, "a mapping key must be text; quote it", reading_key)
            return None
        if text in _BOOL:
            if reading_key:
                return self.bad(line, path, text, "a mapping key must be text; quote it", reading_key)
            if text in ("true", "false"):
                return text == "true"
            return self.bad(line, path, text, "write true or false (lowercase)", reading_key)
        if _PLAIN_INT.fullmatch(text):
            if reading_key:
                return text
            return int(text) if len(text) <= _SHORT_INT_DIGITS else text
        if _OTHER_INT.fullmatch(text):
            return self.bad(
                line,
                path,
                text,
                "write whole numbers in plain decimal digits (YAML tools read this form differently)",
                reading_key,
            )
        if _FLOAT.fullmatch(text):
            if reading_key:
                return self.bad(line, path, text, "a mapping key must be text; quote it", reading_key)
            return FloatText.of(text)
        if text == "<<":
            return self.bad(line, path, text, "merge keys (<<) are not allowed; write the keys out", reading_key)
        if _DATE.fullmatch(text):
            return self.bad(line, path, text, f"YAML reads it as a date; quote it ('{text}') for text", reading_key)
        return text

    def bad(self, line: int, path: tuple[str | int, ...], text: str, reason: str, reading_key: bool) -> Any:
        if reading_key:
            return _KeyProblem(text, f"{show_text(text)} is not allowed as a key; {reason}")
        self.refuse(line, path, f"{show_text(text)} is not allowed; {reason}")
        return text

    def start(self, event: MappingStartEvent | SequenceStartEvent) -> None:
        line = event.start_mark.line
        path = self.child_path()
        kind = "map" if isinstance(event, MappingStartEvent) else "seq"
        if path is None:
            # A mapping or list used as a mapping key (`? [a, b]`): read it, then refuse it as a key.
            path = (*self.frames[-1].path, "?")
        if event.tag is not None and event.tag not in _COLLECTION_TAGS:
            self.refuse(line, path, f"the YAML tag {event.tag} is not allowed; write the value without it")
        if len(self.frames) >= MAX_DEPTH:
            raise self.stop(line, path, f"nested deeper than {MAX_DEPTH} levels; a stack file needs at most 6")
        self.count(1, line, path)
        if event.anchor is not None:
            self.open_anchors.add(event.anchor)
        self.frames.append(
            _Frame(
                kind,
                path,
                {} if kind == "map" else [],
                event.anchor,
                self.values - 1,
                line=line,
                secure_at_start=len(self.secure_paths),
            )
        )

    def end(self, event: CollectionEndEvent) -> None:
        frame = self.frames.pop()
        value = frame.value
        if frame.kind == "map" and frame.pending_key is not None:  # cannot happen with a valid event stream
            value[frame.pending_key] = None
        if frame.kind == "map" and len(value) == 1 and isinstance(value.get("secure"), str):
            # `{secure: <ciphertext>}`, as `pulumi config set --secret` writes it (and as the Pulumi CLI
            # recognises it: one key, text value): offline, it stands for a secret never decrypted.
            self.secure_paths.append(frame.path)
            value = self.placeholder
        if frame.anchor is not None:
            self.open_anchors.discard(frame.anchor)
        secure = len(self.secure_paths) > frame.secure_at_start
        self.remember(frame.anchor, value, self.values - frame.counted_at, secure)
        if self.frames and self.frames[-1].kind == "map" and self.frames[-1].pending_key is None:
            value = _KeyProblem("?", "a mapping key must be text, not a mapping or a list")
        self.place(value, event.start_mark.line)

    def alias(self, event: AliasEvent) -> None:
        line = event.start_mark.line
        path = self.child_path()
        where = path if path is not None else self.frames[-1].path
        name = event.anchor
        if name in self.open_anchors:
            raise self.stop(line, where, f"the alias *{name} refers to a value that contains it")
        if name not in self.anchors:
            raise self.stop(line, where, f"not valid YAML: found undefined alias *{name}")
        value, size = self.anchors[name]
        self.count(size, line, where)
        if path is None and isinstance(value, dict | list):
            value = _KeyProblem("?", "a mapping key must be text, not a mapping or a list")
        elif path is not None and name in self.secure_anchors:
            self.secure_paths.append(path)  # what the anchor holds is (or holds) a secret here too
        self.place(value, line)

    def remember(self, anchor: str | None, value: Any, size: int, secure: bool = False) -> None:
        if anchor is not None:
            self.anchors[anchor] = (value, size)
            if secure:
                self.secure_anchors.add(anchor)
            else:
                self.secure_anchors.discard(anchor)


@dataclass(frozen=True)
class _KeyProblem:
    text: str
    reason: str


class FloatText(float):
    """A float as YAML read it, with the text it was written as: Pulumi hands a top-level value to the
    program as that text (`1e3`, not `1000.0`); nested in JSON, as the number."""

    yaml_text: str

    @classmethod
    def of(cls, text: str) -> FloatText | str:
        lowered = text.lower().lstrip("+")
        try:
            number = float(lowered.replace(".inf", "inf").replace(".nan", "nan").replace("_", ""))
        except ValueError:
            return text
        value = cls(number)
        value.yaml_text = text
        return value


def load(text: str, *, render_path: Any, secure_placeholder: str) -> Document:
    """Read one YAML document from `text`; YamlProblems (every problem found, each with its line) when refused.

    `render_path` turns a key path (a tuple of keys and list indexes) into the text messages show.
    """
    builder = _Builder(render_path, secure_placeholder)
    yaml = YAML(typ="safe", pure=True)
    try:
        for event in yaml.parse(text):
            if isinstance(event, ScalarEvent):
                builder.scalar(event)
            elif isinstance(event, MappingStartEvent | SequenceStartEvent):
                builder.start(event)
            elif isinstance(event, CollectionEndEvent):
                builder.end(event)
            elif isinstance(event, AliasEvent):
                builder.alias(event)
            elif isinstance(event, DocumentStartEvent):
                builder.documents += 1
                if builder.documents > 1:
                    raise builder.stop(
                        event.start_mark.line, (), "a stack file holds one YAML document; remove the second `---`"
                    )
    except ReaderError as error:
        number = text.count("\n", 0, max(0, error.position)) + 1
        raise YamlProblems(
            [*builder.problems, f"line {number}: not valid YAML: character {error.character!r} is not allowed"]
        ) from None
    except MarkedYAMLError as error:
        mark = error.problem_mark
        where = f"line {mark.line + 1}: " if mark is not None else ""
        problem = error.problem or str(error).split("\n")[0]
        raise YamlProblems([*builder.problems, f"{where}not valid YAML: {problem}"]) from None
    except YAMLError as error:
        raise YamlProblems([*builder.problems, f"not valid YAML: {str(error).splitlines()[0]}"]) from None
    if builder.problems:
        raise YamlProblems(builder.problems)
    return Document(builder.root, tuple(builder.secure_paths))

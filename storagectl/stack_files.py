"""Reading stack files (`stacks/Pulumi.<stack>.yaml`) the way the Pulumi CLI would see them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, SequenceNode

from components.config import (
    NAMESPACE,
    TOP_LEVEL_KEYS,
    ConfigError,
    StackSettings,
    parse_config_key,
    parse_settings,
    split_config,
)

SECRET_PLACEHOLDER = "PREVIEW_SECRET_NOT_REAL"
"""Stands in for every `secure:` value: offline preview never decrypts anything."""
STACK_FILE_KEYS = ("config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment")
"""The top-level keys of a Pulumi stack settings file; Pulumi reads config only from `config:`."""


@dataclass(frozen=True)
class StackFile:
    """One stack file's `site-storage:*` values, with `secure:` values replaced by placeholders."""

    path: Path
    stack: str
    values: dict[str, Any]
    secret_keys: frozenset[str]
    other_config: dict[str, Any]
    """Config of other namespaces (aws:, exoscale:, ...), secure values replaced."""
    other_secret_keys: frozenset[str] = frozenset()
    """Full keys of other namespaces stored as `secure:` values."""

    @property
    def source(self) -> str:
        return display_path(self.path)

    def settings(self) -> StackSettings:
        return parse_settings(
            self.values,
            stack=self.stack,
            source=self.source,
            secret_keys=self.secret_keys | self.other_secret_keys,
            provider_config=self.other_config,
        )


def display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def project_root() -> Path:
    """The directory holding Pulumi.yaml: the current one or a parent of it."""
    here = Path.cwd().resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    return Path(__file__).resolve().parent.parent


def stack_path(stack: str) -> Path:
    return project_root() / "stacks" / f"Pulumi.{stack}.yaml"


def stack_name(path: Path) -> str:
    name = path.name
    if name.startswith("Pulumi.") and name.endswith((".yaml", ".yml")):
        return name[len("Pulumi.") :].rsplit(".", 1)[0]
    return path.stem


def round_trip_yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    return yaml


def _key_path(path: str, key: str) -> str:
    # Inside `config:`, site-storage keys read as in every other message (`sites.acme-live.cors`).
    if path == "config" and key.startswith(f"{NAMESPACE}:"):
        return key[len(NAMESPACE) + 1 :]
    if path == "config":
        return key
    return f"{path}.{key}" if path else key


def duplicate_keys(text: str) -> list[str]:
    """`line N: <key path>: ...` for every key that appears twice in one mapping, values never shown."""
    lines: list[str] = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value)
                where = _key_path(path, key)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    lines.append(
                        f"line {line}: {where}: appears again (first on line {first_line[key]}); "
                        "each key may appear once"
                    )
                else:
                    first_line[key] = line
                walk(value_node, where)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, f"{path}[{index}]")

    walk(round_trip_yaml().compose(text), "")
    return lines


def load_document(path: Path, text: str | None = None) -> Any:
    """Parse a stack file (or `text`, its would-be content); YAML errors and duplicate keys become ConfigErrors."""
    source = display_path(path)
    if text is None:
        if not path.is_file():
            raise ConfigError([f"{source}: no such stack file"])
        text = path.read_text(encoding="utf-8")
    try:
        return round_trip_yaml().load(text)
    except DuplicateKeyError as error:
        # ruamel's own message quotes both values, which may be secrets, and names no key path.
        mark = error.problem_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        fallback = [f"{source}: {line}duplicate key; each key may appear once"]
        raise ConfigError([f"{source}: {line}" for line in duplicate_keys(text)] or fallback) from None
    except (MarkedYAMLError, YAMLError) as error:
        mark = getattr(error, "problem_mark", None)
        line = f"line {mark.line + 1}: " if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).split("\n")[0]
        raise ConfigError([f"{source}: {line}not valid YAML: {problem}"]) from None


def _plain(value: Any, secret: list[bool]) -> Any:
    """ruamel's round-trip types as plain Python, `{secure: ...}` replaced by a placeholder."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            secret.append(True)
            return SECRET_PLACEHOLDER
        return {str(key): _plain(item, secret) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item, secret) for item in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    return str(value)


def _top_level_problems(document: dict[Any, Any], source: str) -> list[str]:
    problems = []
    for raw_key in document:
        key = str(raw_key)
        if key in STACK_FILE_KEYS:
            continue
        line = f"{source}: {key}: unknown top-level key; allowed top-level keys: {', '.join(STACK_FILE_KEYS)}"
        parsed = parse_config_key(key)
        if parsed is not None and (parsed[0] != NAMESPACE or parsed[1] in TOP_LEVEL_KEYS):
            # `sites:` or `site-storage:sites:` beside config: instead of under it.
            line += f"; Pulumi reads settings only under config:, so move it there (as {parsed[0]}:{parsed[1]})"
        problems.append(line)
    return problems


def config_key(config: Any, name: str) -> str | None:
    """How `config:` writes this project's key `name` (`site-storage:sites`, or `sites` alone); None if absent."""
    if not isinstance(config, dict):
        return None
    for key in config:
        if parse_config_key(str(key)) == (NAMESPACE, name):
            return str(key)
    return None


def read_stack_file(path: Path, text: str | None = None) -> StackFile:
    """Read a stack file as Pulumi does; with `text`, read that as the file's content (an edit not yet written).

    Keys under `config:` belong to a namespace as the engine assigns them (a bare key is
    this project's); a key of any other namespace, a key the engine reads twice and a
    top-level key Pulumi ignores are refused: the program would never see them.
    """
    document = load_document(path, text)
    source = display_path(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError([f"{source}: the stack file must be a mapping with a config: key"])
    problems = _top_level_problems(document, source)
    config = document.get("config") or {}
    if not isinstance(config, dict):
        problems.append(f"{source}: config: must be a mapping of namespaced keys such as {NAMESPACE}:region")
        raise ConfigError(problems)
    plain: dict[str, Any] = {}
    secret_written: set[str] = set()
    for key, raw in config.items():
        secret: list[bool] = []
        plain[str(key)] = _plain(raw, secret)
        if secret:
            secret_written.add(str(key))
    try:
        entries = split_config(plain, source=source)
    except ConfigError as error:
        problems += error.problems
    if problems:
        raise ConfigError(problems)
    secret_keys = {full for full, written in entries.written.items() if written in secret_written}
    prefix = f"{NAMESPACE}:"
    return StackFile(
        path=path,
        stack=stack_name(path),
        values=entries.values,
        secret_keys=frozenset(key[len(prefix) :] for key in secret_keys if key.startswith(prefix)),
        other_config=entries.other,
        other_secret_keys=frozenset(key for key in secret_keys if not key.startswith(prefix)),
    )

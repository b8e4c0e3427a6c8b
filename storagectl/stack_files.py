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
    ConfigError,
    StackSettings,
    namespace_values,
    parse_settings,
)

SECRET_PLACEHOLDER = "PREVIEW_SECRET_NOT_REAL"
"""Stands in for every `secure:` value: offline preview never decrypts anything."""


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


def read_stack_file(path: Path, text: str | None = None) -> StackFile:
    """Read a stack file; with `text`, read that as the file's content (an edit not yet written)."""
    document = load_document(path, text)
    source = display_path(path)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError([f"{source}: the stack file must be a mapping with a config: key"])
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError([f"{source}: config: must be a mapping of namespaced keys such as {NAMESPACE}:region"])
    values: dict[str, Any] = {}
    others: dict[str, Any] = {}
    secret_keys: set[str] = set()
    other_secret_keys: set[str] = set()
    for key, raw in config.items():
        secret: list[bool] = []
        value = _plain(raw, secret)
        if str(key).startswith(f"{NAMESPACE}:"):
            values.update(namespace_values({str(key): value}))
            if secret:
                secret_keys.add(str(key)[len(NAMESPACE) + 1 :])
        else:
            others[str(key)] = value
            if secret:
                other_secret_keys.add(str(key))
    return StackFile(
        path=path,
        stack=stack_name(path),
        values=values,
        secret_keys=frozenset(secret_keys),
        other_config=others,
        other_secret_keys=frozenset(other_secret_keys),
    )

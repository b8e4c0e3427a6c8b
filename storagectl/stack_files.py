"""Reading stack files (`stacks/Pulumi.<stack>.yaml`) the way the Pulumi CLI would see them.

The one reader of stack files: bytes (a regular file, at most MAX_STACK_FILE_BYTES), UTF-8
text (lines of at most MAX_LINE_CHARS), YAML within bounds (storagectl.bounded_yaml), then
the config keys as Pulumi assigns them to namespaces. Whatever the file holds, the result is
a StackFile or a ConfigError with one line per problem.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from components.config import (
    NAMESPACE,
    TOP_LEVEL_KEYS,
    ConfigError,
    StackSettings,
    engine_text,
    parse_config_key,
    parse_settings,
    split_config,
)
from storagectl import bounded_yaml

SECRET_PLACEHOLDER = "PREVIEW_SECRET_NOT_REAL"
"""Stands in for every `secure:` value: offline preview never decrypts anything."""
STACK_FILE_KEYS = ("config", "encryptionsalt", "secretsprovider", "encryptedkey", "environment")
"""The top-level keys of a Pulumi stack settings file; Pulumi reads config only from `config:`."""
MAX_STACK_FILE_BYTES = 1_048_576
"""A 1,000-site stack (the most max_sites allows) is about 100 KB."""
MAX_LINE_CHARS = 16_384
"""Longer lines are refused: ruamel.yaml's round-trip scanner (which edits use) takes time growing with the
square of a comment's length; a `secure:` value of a 4 KB secret is about 6,000 characters."""


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
        """The validated settings, read from the values exactly as the engine hands them to the program
        (components.config.engine_text), so storagectl and `pulumi up` apply the same rules to the same input."""
        return parse_settings(
            {key: engine_text(value) for key, value in self.values.items()},
            stack=self.stack,
            source=self.source,
            secret_keys=self.secret_keys | self.other_secret_keys,
            provider_config=self.other_config,
        )


def display_path(path: Path) -> str:
    """`path` for messages: relative to the working directory where it is inside it, as given (not
    through its symlinks, which may be dangling or a loop) where possible."""
    for absolute in (lambda: Path(os.path.abspath(path)), path.resolve):
        try:
            return str(absolute().relative_to(Path.cwd()))
        except (ValueError, OSError, RuntimeError):  # RuntimeError: resolve() on a symlink loop (Python < 3.13)
            continue
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


def key_path(path: tuple[str | int, ...]) -> str:
    """A key path as messages write it: `sites.acme-live.cors.origins[1]`; inside `config:` this project's
    keys lose their namespace (`site-storage:sites` and `sites` are both `sites`), others keep it."""
    parts = list(path)
    if len(parts) >= 2 and parts[0] == "config":
        parsed = parse_config_key(str(parts[1]))
        head = parsed[1] if parsed is not None and parsed[0] == NAMESPACE else str(parts[1])
        rest = parts[2:]
    elif parts:
        head, rest = str(parts[0]), parts[1:]
    else:
        return ""
    for part in rest:
        head += f"[{part}]" if isinstance(part, int) else f".{part}"
    return head


def _file_kind(mode: int) -> str:
    for test, kind in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return kind
    return "not a regular file"


def _read_bytes(path: Path, source: str) -> bytes:
    def refused(problem: str) -> ConfigError:
        return ConfigError([f"{source}: {problem}"])

    def os_problem(error: OSError) -> ConfigError:
        if error.errno == errno.ELOOP:
            return refused("is a symlink loop (or a chain of over 40 symlinks); point it at a file")
        if isinstance(error, FileNotFoundError):
            dangling = " (a symlink to a file that does not exist)" if os.path.islink(path) else ""
            return refused(f"no such stack file{dangling}")
        return refused(f"cannot be read: {error.strerror or error}")

    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise refused(f"is {_file_kind(info.st_mode)}; a stack file is a regular file")
        if info.st_size > MAX_STACK_FILE_BYTES:
            raise refused(f"is {info.st_size:,} bytes; a stack file may have at most {MAX_STACK_FILE_BYTES:,}")
        # O_NONBLOCK: should a pipe replace the file after the check, reading it returns at once.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise refused("is not a regular file; a stack file is a regular file")
            chunks, size = [], 0
            while size <= MAX_STACK_FILE_BYTES:
                chunk = os.read(fd, MAX_STACK_FILE_BYTES + 1 - size)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
        finally:
            os.close(fd)
    except OSError as error:
        raise os_problem(error) from None
    data = b"".join(chunks)
    if len(data) > MAX_STACK_FILE_BYTES:
        raise refused(f"is over {MAX_STACK_FILE_BYTES:,} bytes; a stack file may have at most {MAX_STACK_FILE_BYTES:,}")
    return data


def decode_stack_bytes(data: bytes, source: str) -> str:
    """UTF-8 text with lines of bounded length, or a one-line ConfigError."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            [
                f"{source}: line {line}: not UTF-8 text (byte {data[error.start]:#04x} at offset {error.start}: "
                f"{error.reason}); save the file as UTF-8"
            ]
        ) from None
    check_text_bounds(text, source)
    return text


def check_text_bounds(text: str, source: str) -> None:
    if len(text.encode("utf-8")) > MAX_STACK_FILE_BYTES:
        raise ConfigError(
            [
                f"{source}: is over {MAX_STACK_FILE_BYTES:,} bytes; a stack file may have at most "
                f"{MAX_STACK_FILE_BYTES:,}"
            ]
        )
    for number, line in enumerate(text.split("\n"), start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ConfigError(
                [
                    f"{source}: line {number}: is {len(line):,} characters long; lines of a stack file may have "
                    f"at most {MAX_LINE_CHARS:,}"
                ]
            )


def read_stack_text(path: Path) -> str:
    """A stack file's exact text (line endings kept), or a one-line ConfigError: a missing file, a
    symlink loop, a directory or pipe, an unreadable or oversized file, bytes that are not UTF-8, a
    line too long."""
    source = display_path(path)
    return decode_stack_bytes(_read_bytes(path, source), source)


def load_document(path: Path, text: str) -> Any:
    """The round-trip document of a stack file's text that read_stack_file accepted (for edits)."""
    try:
        return round_trip_yaml().load(text)
    except (MarkedYAMLError, YAMLError, RecursionError):
        raise ConfigError([f"{display_path(path)}: cannot be edited: ruamel.yaml cannot read it back"]) from None


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

    Every way a file can be malformed ends in a ConfigError of one line per problem (bounded
    time and memory: storagectl.bounded_yaml). Keys under `config:` belong to a namespace as
    the engine assigns them (a bare key is this project's); a key of any other namespace, a
    key the engine reads twice and a top-level key Pulumi ignores are refused: the program
    would never see them.
    """
    source = display_path(path)
    if text is None:
        text = read_stack_text(path)
    else:
        check_text_bounds(text, source)
    try:
        loaded = bounded_yaml.load(text, render_path=key_path, secure_placeholder=SECRET_PLACEHOLDER)
    except bounded_yaml.YamlProblems as error:
        raise ConfigError([f"{source}: {problem}" for problem in error.problems]) from None
    document = loaded.value
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError([f"{source}: the stack file must be a mapping with a config: key"])
    problems = _top_level_problems(document, source)
    config = document.get("config")
    if config is None:
        config = {}
    if not isinstance(config, dict):
        problems.append(f"{source}: config: must be a mapping of namespaced keys such as {NAMESPACE}:region")
        raise ConfigError(problems)
    secret_written = {str(path[1]) for path in loaded.secure_paths if len(path) >= 2 and path[0] == "config"}
    try:
        entries = split_config(config, source=source)
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

"""Property-based tests (hypothesis): generated malformed stack files are refused, never crash or hang.

Two generators:
- one value of a valid stack replaced by a value its key does not allow, at any key path: read
  in this process (hundreds of examples), the refusal names the file and that key path;
- the text of an example stack corrupted (random bytes, YAML constructs, truncation, nesting):
  `storagectl preview` in a subprocess under an address-space limit and a timeout (a few
  examples, each a new interpreter), which exits 0 or 2, never with a traceback, and on exit 2
  prints only lines that start with the file's name.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from components.config import ConfigError
from storagectl.stack_files import read_stack_file
from tests.support.stacks import example_stack
from tests.test_preview_cli import STORAGECTL
from tests.test_stack_file_reader import TIME_LIMIT, _limited

F = "Pulumi.prop.yaml"
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

BASES: dict[str, dict[str, Any]] = {
    "aws": {
        "region": "aws-eu-central-1",
        "bucket_prefix": "acme-media",
        "protect": True,
        "sites": {
            "acme-live": {
                "media_domain": "media.acme.example",
                "cors": {"origins": ["https://www.acme.example"], "methods": ["GET", "HEAD"], "max_age_seconds": 600},
            },
            "blog": {"private": False},
        },
    },
    "custom": {
        "region": "custom",
        "endpoint": "https://minio.example.com",
        "bucket_prefix": "lab",
        "access_key_id": "minio-key",
        "secret_access_key": {"secure": "v1:abc"},
        "sites": {"one": {"cors": {"origins": ["https://one.example"], "headers": ["X-Requested-With"]}}},
    },
}

# Key paths (from `config:`, project keys namespace-stripped) and what their values must be.
PATHS: dict[str, list[tuple[tuple[str | int, ...], str]]] = {
    "aws": [
        (("region",), "region"),
        (("bucket_prefix",), "prefix"),
        (("protect",), "bool"),
        (("max_sites",), "count"),
        (("lifecycle",), "bool"),
        (("sites",), "mapping"),
        (("sites", "acme-live"), "mapping"),
        (("sites", "acme-live", "media_domain"), "host"),
        (("sites", "acme-live", "cors"), "mapping"),
        (("sites", "acme-live", "cors", "origins"), "list"),
        (("sites", "acme-live", "cors", "origins", 0), "origin"),
        (("sites", "acme-live", "cors", "methods", 1), "method"),
        (("sites", "acme-live", "cors", "max_age_seconds"), "age"),
        (("sites", "acme-live", "cors", "allow_any_origin"), "bool"),
        (("sites", "blog", "private"), "bool"),
    ],
    "custom": [
        (("endpoint",), "endpoint"),
        (("access_key_id",), "key"),
        (("signing_region",), "prefix"),
        (("path_style",), "bool"),
        (("sites", "one", "cors", "headers", 0), "header"),
        (("sites", "one", "cors", "origins", 0), "origin"),
    ],
}

scalars = st.one_of(
    st.none(),
    st.just(""),
    st.integers(min_value=-(10**40), max_value=10**40),
    # Not infinity: json.dumps writes it as `Infinity`, which YAML reads as that word, a valid header name.
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(min_size=1, max_size=4), st.integers(), min_size=1, max_size=2),
)
# For text values: a valid one, made wrong by what is added before or after it (each addition
# breaks that kind's rule whichever side it goes), so no generated text can happen to be valid.
GOOD = {
    "region": "aws-eu-central-1",
    "prefix": "acme",
    "host": "media.acme.example",
    "origin": "https://www.acme.example",
    "endpoint": "https://minio.example.com",
    "header": "X-Requested-With",
    "method": "GET",
    "key": "minio-key",
}
EVERY_SPOILER = ["\n", " ", "\t", "\x00", "é", "²", "/x", ":0", ":99999", "_", "..", "-", "A", "*.*"]
SPOILERS = {
    "key": ["\n", " ", "\t", "\x00", "é", "²"],
    "header": ["\n", " ", "\t", "\x00", "é", "²", "/x", ":0", ":99999", "*.*"],
}


def bad_value(kind: str) -> st.SearchStrategy[Any]:
    if kind in GOOD:
        spoiled = st.tuples(st.sampled_from(SPOILERS.get(kind, EVERY_SPOILER)), st.booleans()).map(
            lambda pair: GOOD[kind] + pair[0] if pair[1] else pair[0] + GOOD[kind]
        )
        # The engine hands a top-level number or boolean to the program as its text: `bucket_prefix: 0`
        # is the prefix "0", valid; only other types are sure to be wrong for those keys.
        text_on_top = kind in ("prefix", "key", "region", "endpoint")
        return st.one_of(
            scalars.filter(
                lambda value: (
                    value == "" or (not isinstance(value, str) and not (text_on_top and isinstance(value, int | float)))
                )
            ),
            spoiled,
        )
    if kind == "bool":
        return scalars.filter(lambda value: value not in (True, False, "true", "false"))
    if kind in ("count", "age"):
        low, top = (1, 1000) if kind == "count" else (0, 2_147_483_647)

        def out_of_range(value: Any) -> bool:
            if isinstance(value, str) and value.isascii() and value.isdigit():
                value = int(value) if len(value) < 30 else None
            whole = isinstance(value, int) and not isinstance(value, bool)
            return not whole or not low <= value <= top

        return scalars.filter(out_of_range)
    if kind == "list":
        return scalars.filter(lambda value: not isinstance(value, list) or not value or not isinstance(value[0], str))
    assert kind == "mapping"
    return scalars.filter(lambda value: not isinstance(value, dict) and not str(value).startswith("{"))


def put(values: dict[str, Any], path: tuple[str | int, ...], value: Any) -> None:
    holder: Any = values
    for key in path[:-1]:
        holder = holder[key]
    if isinstance(holder, list):
        holder[int(path[-1])] = value
    else:
        holder[path[-1]] = value


def rendered(path: tuple[str | int, ...]) -> str:
    text = str(path[0])
    for part in path[1:]:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text


@st.composite
def mutated_stacks(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    base = draw(st.sampled_from(sorted(BASES)))
    path, kind = draw(st.sampled_from(PATHS[base] + (PATHS["aws"][:4] if base == "custom" else [])))
    values = copy.deepcopy(BASES[base])
    value = draw(bad_value(kind))
    if path == ("sites", "acme-live") and value is None:
        value = 5  # a site written with no settings is valid: every default
    put(values, path, value)
    return values, rendered(path)


@SETTINGS
@given(mutated_stacks())
def test_a_value_its_key_does_not_allow_is_refused_naming_the_key_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, example: tuple[dict[str, Any], str]
) -> None:
    values, path = example
    monkeypatch.chdir(tmp_path)
    config = {f"site-storage:{key}": value for key, value in values.items()}
    (tmp_path / F).write_text(json.dumps({"config": config}) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as refused:
        read_stack_file(tmp_path / F).settings()
    lines = refused.value.problems
    assert lines and all(line.startswith(f"{F}: ") and "\n" not in line for line in lines)
    assert any(names(line, path) for line in lines), lines


def names(line: str, path: str) -> bool:
    """Whether a problem line is about `path`: that key, a key inside it, or the mapping or list holding it."""
    rest = line[len(F) + 2 :]
    if rest.startswith("line "):
        rest = rest.split(": ", 1)[1]
    where = rest.split(": ", 1)[0]
    inside = (f"{path}.", f"{path}[")
    return where == path or where.startswith(inside) or path.startswith((f"{where}.", f"{where}["))


FRAGMENTS = st.sampled_from(
    [
        "&a [*a]",
        "*missing",
        "{",
        "]",
        "\t",
        "<<: *x",
        "!!python/object:os.system ls",
        "? [a]\n: b",
        "- " * 40,
        "[" * 30,
        ": : :",
        "%YAML 1.1\n---",
        "---\n",
        "'unterminated",
        "&x a: *x",
        "~",
        "0x1F",
        "1e400",
        "\ufeff",
        "\u2028",
    ]
)


@st.composite
def corrupted_texts(draw: st.DrawFn) -> bytes:
    text = example_stack(draw(st.sampled_from(["aws-eu-central-1", "exoscale-ch-gva-2", "local"]))).read_bytes()
    at = draw(st.integers(min_value=0, max_value=len(text)))
    how = draw(st.sampled_from(["bytes", "fragment", "truncate", "nest"]))
    if how == "bytes":
        return text[:at] + draw(st.binary(min_size=1, max_size=8)) + text[at:]
    if how == "fragment":
        return text[:at] + draw(FRAGMENTS).encode() + text[at:]
    if how == "truncate":
        return text[:at]
    depth = draw(st.integers(min_value=15, max_value=5000))
    return text + b"  deep: " + b"[" * depth + b"]" * depth + b"\n"


@settings(max_examples=8, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corrupted_texts())
def test_a_corrupted_stack_file_exits_0_or_2_in_bounded_time_and_memory_without_a_traceback(
    tmp_path: Path, content: bytes
) -> None:
    (tmp_path / F).write_bytes(content)
    result = subprocess.run(
        [str(STORAGECTL), "preview", "--config", F],
        cwd=tmp_path,
        capture_output=True,
        timeout=TIME_LIMIT,
        preexec_fn=_limited,
        check=False,
    )
    stderr = result.stderr.decode("utf-8", errors="replace")
    assert result.returncode in (0, 2), stderr
    assert "Traceback" not in stderr
    if result.returncode == 2:
        assert result.stdout == b""
        assert stderr and all(line.startswith(f"{F}: ") for line in stderr.splitlines()), stderr

"""Stack files that used to crash, hang or pass (issue 20), each a named regression test.

Every malformed file ends in exit 2 with one line per problem naming the file and the key
path, no traceback, in bounded time and memory: the CLI runs in a subprocess under an
address-space limit (RLIMIT_AS) and a timeout. A key written with no value is refused with
the same line by storagectl and by the program reading the engine's config, and a broken
stack file beside another never stops that other stack's commands.
"""

from __future__ import annotations

import contextvars
import json
import os
import resource
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.runtime.config import set_all_config
from ruamel.yaml import YAML
from ruamel.yaml.nodes import MappingNode, ScalarNode

from components.config import ConfigError
from components.engine_config import settings_from_engine
from components.regions import AWS_REGIONS
from storagectl.bounded_yaml import MAX_DEPTH, MAX_VALUES
from storagectl.stack_files import MAX_LINE_CHARS, MAX_STACK_FILE_BYTES, read_stack_file
from tests.support.cli_project import SHOP_STACK, invoke, shop_project
from tests.support.stacks import ROOT, example_stack
from tests.test_preview_cli import STORAGECTL

F = "Pulumi.test.yaml"
MEMORY_LIMIT = 1024 * 1024 * 1024
"""Address space for one storagectl process: ~3x what it maps on a valid file."""
TIME_LIMIT = 60
AWS = "config:\n  site-storage:region: aws-eu-central-1\n  site-storage:bucket_prefix: acme-media\n"
SITES = "  site-storage:sites:\n    acme-live: {}\n"


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def preview(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`storagectl preview ARGS` in `directory`, bounded in memory and time (a hang fails the test)."""
    return subprocess.run(
        [str(STORAGECTL), "preview", *args],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT,
        preexec_fn=_limited,
        check=False,
    )


def refused(directory: Path, content: str | bytes, name: str = F) -> list[str]:
    """The lines `preview --config` prints for a file that must be refused (exit 2, nothing on stdout)."""
    path = directory / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    result = preview(directory, "--config", name)
    assert result.returncode == 2, result
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr.splitlines()


def problems(directory: Path, content: str, name: str = F) -> list[str]:
    """The lines for a refused file, read in this process (for the cheap cases)."""
    path = directory / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        read_stack_file(path).settings()
    return error.value.problems


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


# --- bytes, text and YAML that crashed or hung ---------------------------------------------------


def test_refuses_a_file_that_is_not_utf8_in_one_line(here: Path) -> None:
    text = AWS + "  site-storage:sites:\n    caf\xe9: {}\n"
    offset = text.index("\xe9")
    assert refused(here, text.encode("latin-1")) == [
        f"{F}: line 5: not UTF-8 text (byte 0xe9 at offset {offset}: invalid continuation byte); save the file as UTF-8"
    ]


@pytest.mark.parametrize(
    "nested",
    [" " + "[" * 8_000 + "]" * 8_000, "\n        " + "- " * 8_000 + "x", " " + "{a: " * 3_000 + "b" + "}" * 3_000],
    ids=["flow-lists", "block-lists", "flow-mappings"],
)
def test_refuses_deep_nesting_without_a_recursion_error(here: Path, nested: str) -> None:
    lines = refused(here, AWS + "  site-storage:sites:\n    acme-live:\n      private:" + nested + "\n")
    assert len(lines) == 1
    assert lines[0].startswith(f"{F}: line ")
    assert ": sites.acme-live.private" in lines[0]
    assert lines[0].endswith(f": nested deeper than {MAX_DEPTH} levels; a stack file needs at most 6")


def test_refuses_a_symlink_loop_in_one_line(here: Path) -> None:
    (here / "Pulumi.a.yaml").symlink_to("Pulumi.b.yaml")
    (here / "Pulumi.b.yaml").symlink_to("Pulumi.a.yaml")
    result = preview(here, "--config", "Pulumi.a.yaml")
    assert (result.returncode, result.stderr) == (
        2,
        "Pulumi.a.yaml: is a symlink loop (or a chain of over 40 symlinks); point it at a file\n",
    )


def test_refuses_a_directory_and_a_named_pipe_without_waiting(here: Path) -> None:
    (here / "Pulumi.dir.yaml").mkdir()
    os.mkfifo(here / "Pulumi.pipe.yaml")
    started = time.monotonic()
    for name, kind in (("Pulumi.dir.yaml", "a directory"), ("Pulumi.pipe.yaml", "a named pipe")):
        result = preview(here, "--config", name)
        assert (result.returncode, result.stderr) == (2, f"{name}: is {kind}; a stack file is a regular file\n")
    assert time.monotonic() - started < TIME_LIMIT


def test_refuses_a_dangling_symlink_saying_so(here: Path) -> None:
    (here / F).symlink_to("gone.yaml")
    assert refused_lines(here) == [f"{F}: no such stack file (a symlink to a file that does not exist)"]


def refused_lines(directory: Path) -> list[str]:
    result = preview(directory, "--config", F)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result
    return result.stderr.splitlines()


@pytest.mark.parametrize("levels", [6, 9])
def test_refuses_an_alias_bomb_fast_and_in_little_memory(here: Path, levels: int) -> None:
    """Each level repeats the one before nine times: 9**9 values if expanded. Aliases are never
    expanded; their uses are counted and the file refused once the count passes MAX_VALUES."""
    lines = ["config:", "  site-storage:region: aws-eu-central-1", "  bomb:", "    l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"    l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, levels + 1)]
    started = time.monotonic()
    result = refused(here, "\n".join(lines) + "\n")
    assert time.monotonic() - started < 20
    assert len(result) == 1
    assert result[0].startswith(f"{F}: line ")
    assert result[0].endswith(
        f"the document holds more than {MAX_VALUES:,} values (an alias counts each time it is used); "
        "a stack file of 1,000 sites holds about 10,000"
    )


def test_uses_aliases_a_stack_file_may_reasonably_hold(here: Path) -> None:
    """One CORS rule shared by two sites through an anchor reads like the rule written twice."""
    path = here / F
    path.write_text(
        AWS + "  site-storage:sites:\n"
        "    a:\n      cors: &shared\n        origins: [https://a.example]\n        max_age_seconds: 600\n"
        "    b:\n      cors: *shared\n"
    )
    rules = [site.cors for site in read_stack_file(path).settings().sites]
    assert rules[0] == rules[1] and rules[0] is not None and rules[0].max_age_seconds == 600


def test_refuses_a_multi_megabyte_comment_line_fast(here: Path) -> None:
    """A 3 MB comment used to keep preview busy for minutes (ruamel's comment scanner is quadratic)."""
    started = time.monotonic()
    text = "# " + "x" * 3_000_000 + "\n" + AWS + SITES
    assert refused(here, text) == [
        f"{F}: is {len(text):,} bytes; a stack file may have at most {MAX_STACK_FILE_BYTES:,}"
    ]
    line = "# " + "x" * (MAX_LINE_CHARS - 1)
    assert refused(here, AWS + line + "\n" + SITES) == [
        f"{F}: line 4: is {MAX_LINE_CHARS + 1:,} characters long; lines of a stack file may have at most "
        f"{MAX_LINE_CHARS:,}"
    ]
    assert time.monotonic() - started < 2 * TIME_LIMIT


def test_accepts_comment_lines_up_to_the_limit_and_edits_them_quickly(here: Path) -> None:
    project = shop_project(here / "project", examples=False)
    os.chdir(project.root)
    path = project.stack_file("shop")
    long_comment = "# " + "y" * (MAX_LINE_CHARS - 2) + "\n"
    path.write_text(long_comment * 10 + SHOP_STACK)
    started = time.monotonic()
    result = invoke("cors", "enable", "blog", "--stack", "shop", "--origin", "https://blog.example")
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 30
    assert path.read_text().startswith(long_comment * 10)


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ('"²"', "'²' is not allowed; use a whole number from 0 to 2147483647"),
        ("10000000000000000000000000000000000000000", "10000000000000000000000000000000000000000 is not allowed; use"),
        ("0x258", "'0x258' is not allowed; write whole numbers in plain decimal digits"),
        ("+600", "'+600' is not allowed; write whole numbers in plain decimal digits"),
        ("6_00", "'6_00' is not allowed; write whole numbers in plain decimal digits"),
        ("0600", "'0600' is not allowed; write whole numbers in plain decimal digits"),
    ],
)
def test_refuses_numbers_other_tools_read_differently_or_out_of_range(here: Path, value: str, line: str) -> None:
    text = AWS + "  site-storage:sites:\n    a:\n      cors:\n        origins: [https://a.example]\n"
    found = problems(here, text + f"        max_age_seconds: {value}\n")
    assert len(found) == 1
    assert line in found[0]
    assert "sites.a.cors.max_age_seconds" in found[0]


def test_refuses_a_million_digit_number_fast_in_the_program_too() -> None:
    """The engine would hand the program a million digits as text: refused without converting them."""
    from components.config import parse_settings

    started = time.monotonic()
    with pytest.raises(ConfigError) as error:
        parse_settings(
            {"region": "aws-eu-central-1", "bucket_prefix": "acme", "max_sites": "9" * 1_000_000},
            stack="prod",
            source=F,
        )
    assert time.monotonic() - started < 1
    assert error.value.problems == [f"{F}: max_sites: '{'9' * 76}... is not allowed; use a whole number from 1 to 1000"]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("  site-storage:protect: True\n", "line 4: protect: 'True' is not allowed; write true or false (lowercase)"),
        ("  site-storage:protect: !!bool yes\n", "line 4: protect: 'yes' is not allowed; write true or false"),
        (
            "  site-storage:protect: !custom true\n",
            "line 4: protect: 'true' is not allowed; the YAML tag !custom is not allowed; write the value without it",
        ),
        (
            "  site-storage:media: 2024-01-01\n",
            "line 4: media: '2024-01-01' is not allowed; YAML reads it as a date; quote it ('2024-01-01') for text",
        ),
        (
            "  <<: {site-storage:protect: true}\n",
            "line 4: <<: '<<' is not allowed as a key; merge keys (<<) are not allowed; write the keys out",
        ),
        ("  ~: true\n", "line 4: ~: '~' is not allowed as a key; a mapping key must be text; quote it"),
        ("  [a, b]: true\n", "line 4: ?: a mapping key must be text, not a mapping or a list"),
        ("  site-storage:sites: *nowhere\n", "line 4: sites: not valid YAML: found undefined alias *nowhere"),
        ("  site-storage:sites: &s {a: *s}\n", "line 4: sites.a: the alias *s refers to a value that contains it"),
        ("---\nconfig: {}\n", "line 4: a stack file holds one YAML document; remove the second `---`"),
    ],
)
def test_refuses_yaml_the_two_readers_could_read_differently(here: Path, text: str, line: str) -> None:
    """Pulumi (Go, yaml.v3) and storagectl must read a stack file alike; where YAML leaves room, refuse."""
    assert problems(here, AWS + text) == [f"{F}: {line}"]


def test_refuses_duplicate_keys_in_one_pass_without_showing_values(here: Path) -> None:
    found = problems(
        here,
        AWS + "  site-storage:secret_access_key: first-secret\n  site-storage:secret_access_key: second-secret\n"
        "  site-storage:sites:\n    a: {}\n    a: {private: false}\n",
    )
    assert found == [
        f"{F}: line 5: secret_access_key: appears again (first on line 4); each key may appear once",
        f"{F}: line 8: sites.a: appears again (first on line 7); each key may appear once",
    ]


# --- values that passed ------------------------------------------------------------------------------

CUSTOM = (
    "config:\n  site-storage:region: custom\n  site-storage:endpoint: https://minio.example.com\n"
    "  site-storage:bucket_prefix: lab\n  site-storage:access_key_id: key\n"
    "  site-storage:secret_access_key:\n    secure: v1:abc\n  site-storage:sites:\n    one: {}\n"
)


def test_refuses_a_region_with_a_trailing_newline_instead_of_building_a_broken_endpoint(here: Path) -> None:
    """`aws-eu-central-1\\n` used to yield the endpoint https://s3.eu-central-1\\n.amazonaws.com."""
    [line] = refused(here, AWS.replace("aws-eu-central-1", '"aws-eu-central-1\\n"') + SITES)
    assert line.startswith(
        f"{F}: region: 'aws-eu-central-1\\n' is not allowed; use aws-<aws region> (e.g. aws-eu-central-1), "
        "exoscale-ch-gva-2, exoscale-ch-dk-2, exoscale-de-fra-1, exoscale-de-muc-1, exoscale-at-vie-1, "
        "exoscale-at-vie-2, exoscale-bg-sof-1, or custom; 'eu-central-1\\n' is not an AWS region (botocore's "
        "endpoint data); nearest: aws-eu-central-1"
    )


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("https://minio.example.com", '"https://minio.example.com\\n"', "endpoint"),
        ("bucket_prefix: lab", 'bucket_prefix: "lab\\n"', "bucket_prefix"),
        ("access_key_id: key", 'access_key_id: "key\\n"', "access_key_id"),
        ("    one: {}", '    one: {media_domain: "media.one.example\\n"}', "sites.one.media_domain"),
        ("    one: {}", '    one: {cors: {origins: ["https://one.example\\n"]}}', "sites.one.cors.origins[0]"),
        ("    one: {}", '    one: {cors: {origins: [https://one.example], headers: ["X-A\\n"]}}', "headers[0]"),
        ("    one: {}", '    one: {cors: {origins: [https://one.example], expose_headers: ["ETag\\n"]}}', "[0]"),
        ("custom\n", 'custom\n  site-storage:signing_region: "us-east-1\\n"\n', "signing_region"),
    ],
)
def test_refuses_a_trailing_newline_in_any_value(here: Path, old: str, new: str, path: str) -> None:
    """Nothing is trimmed: the value must be right as written."""
    found = problems(here, CUSTOM.replace(old, new, 1))
    assert len(found) == 1, found
    assert f": {path}: " in found[0] or found[0].split(": ")[1].endswith(path)
    assert "\\n'" in found[0]


@pytest.mark.parametrize(
    ("endpoint", "problem"),
    [
        ("http://[::1", ""),
        ("http://minio.example.com:0", "; port 0 is not a port; use 1 to 65535"),
        ("http://minio.example.com:99999", "; port 99999 is not a port; use 1 to 65535"),
        ("http://minio.example.com:-1", "; port '-1' is not a port; use 1 to 65535"),
        ("http://minio.example.com:abc", "; port 'abc' is not a port; use 1 to 65535"),
        ("http://-minio-.example.com", ""),
        ("http://[::g]:9000", "; [::g] is not an IPv6 address"),
        ("http://300.1.1.1:9000", "; 300.1.1.1 is not an IPv4 address"),
        ("http://user@minio.example.com", ""),
    ],
)
def test_refuses_an_endpoint_with_a_bad_port_or_host(here: Path, endpoint: str, problem: str) -> None:
    text = CUSTOM.replace("https://minio.example.com", f"'{endpoint}'")
    assert problems(here, text) == [
        f"{F}: endpoint: {endpoint!r} is not allowed; use http(s)://host[:port] with no path or query{problem}"
    ]


def test_accepts_ipv6_and_single_label_endpoints(here: Path) -> None:
    for endpoint in ("http://[::1]:9000", "http://minio:9000", "https://minio.example.com:8443/"):
        path = here / F
        path.write_text(CUSTOM.replace("https://minio.example.com", endpoint) + "  site-storage:path_style: true\n")
        assert read_stack_file(path).settings().region.endpoint_url == endpoint.rstrip("/")


def test_the_aws_region_list_is_botocores(tmp_path: Path) -> None:
    """The catalog names its source; this keeps the list equal to the installed botocore's data."""
    import botocore

    data = json.loads((Path(botocore.__file__).parent / "data" / "endpoints.json").read_text())
    regions = {
        region
        for partition in data["partitions"]
        if partition["partition"] in ("aws", "aws-us-gov")
        for region in partition["regions"]
    }
    assert set(AWS_REGIONS) == regions
    assert {p["partition"]: p["dnsSuffix"] for p in data["partitions"]}["aws-us-gov"] == "amazonaws.com"


# --- keys with no value: refused alike by storagectl and by the program --------------------------------


def engine_config(text: str) -> dict[str, str]:
    """What the Pulumi CLI hands the program for a stack file: each `config:` value as the text written
    (yaml.v3 decoding into a string: a key with no value becomes ""), objects and lists as JSON."""
    yaml = YAML(typ="safe", pure=True)
    root = yaml.compose(text)
    assert isinstance(root, MappingNode)
    config = next(value for key, value in root.value if key.value == "config")
    handed = {}
    for key, value in config.value:
        if isinstance(value, ScalarNode):
            handed[key.value] = "" if str(value.tag).endswith(":null") else value.value
        else:
            handed[key.value] = json.dumps(yaml.constructor.construct_object(value, deep=True))
    return handed


def program_problems(config: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(pulumi, "get_stack", lambda: "prod")

    def read() -> list[str]:
        set_all_config(dict(config))
        with pytest.raises(ConfigError) as error:
            settings_from_engine()
        return error.value.problems

    return contextvars.copy_context().run(read)


NO_VALUE: list[tuple[str, str]] = [
    (
        "  site-storage:protect: ~\n",
        "protect: has no value; use true or false, or leave the key out for the default (true)",
    ),
    (
        "  site-storage:sites:\n",
        "sites: has no value; use a mapping from site slug to its settings ({} for a stack without sites)",
    ),
    (
        "  site-storage:max_sites: null\n",
        "max_sites: has no value; use a whole number from 1 to 1000, or leave the key out for the default (200)",
    ),
    (
        "  site-storage:lifecycle: ''\n",
        "lifecycle: has no value; use true or false, or leave the key out for the default (the region's)",
    ),
    (
        "  site-storage:sites:\n    a:\n      private:\n",
        "sites.a.private: has no value; use true or false, or leave the key out for the default (true)",
    ),
    (
        "  site-storage:sites:\n    a:\n      cors: ~\n",
        "sites.a.cors: has no value; use a mapping with origins, or leave the key out for no CORS",
    ),
    (
        "  site-storage:sites:\n    a: {cors: {origins: [https://a.example], max_age_seconds: ~}}\n",
        "sites.a.cors.max_age_seconds: has no value; use a whole number from 0 to 2147483647, or leave the key out "
        "for the default (3600)",
    ),
]


@pytest.mark.parametrize(("text", "line"), NO_VALUE)
def test_refuses_a_key_with_no_value_alike_in_storagectl_and_the_program(
    here: Path, monkeypatch: pytest.MonkeyPatch, text: str, line: str
) -> None:
    """`protect: ~` used to reach the program as the text "None" (a traceback, the real problem never said)."""
    content = AWS + text
    (here / "stacks").mkdir()
    expected = [f"stacks/Pulumi.prod.yaml: {line}"]
    assert problems(here, content, name="stacks/Pulumi.prod.yaml") == expected
    assert program_problems(engine_config(content), monkeypatch) == expected


def test_region_with_no_value_names_region_not_an_incomplete_configuration(here: Path) -> None:
    lines = refused(here, "config:\n  site-storage:region: ~\n  site-storage:bucket_prefix: acme\n")
    assert lines == [
        f"{F}: region: has no value; use aws-<aws region> (e.g. aws-eu-central-1), exoscale-ch-gva-2, "
        "exoscale-ch-dk-2, exoscale-de-fra-1, exoscale-de-muc-1, exoscale-at-vie-1, exoscale-at-vie-2, "
        "exoscale-bg-sof-1, or custom"
    ]


def test_a_site_written_with_no_settings_gets_every_default(here: Path) -> None:
    path = here / F
    path.write_text(AWS + "  site-storage:sites:\n    acme-live:\n")
    [site] = read_stack_file(path).settings().sites
    assert (site.slug, site.private, site.cors, site.media_domain) == ("acme-live", True, None, None)


@pytest.mark.parametrize(
    "text",
    ["  site-storage:protect: yes\n", "  site-storage:max_sites: '5x'\n", "  site-storage:bucket_prefix: Acme\n"],
)
def test_the_program_and_storagectl_print_the_same_lines_for_bad_top_level_values(
    here: Path, monkeypatch: pytest.MonkeyPatch, text: str
) -> None:
    content = (
        AWS.replace("  site-storage:bucket_prefix: acme-media\n", "")
        + ("" if "bucket_prefix" in text else "  site-storage:bucket_prefix: acme-media\n")
        + text
    )
    (here / "stacks").mkdir()
    assert problems(here, content, name="stacks/Pulumi.prod.yaml") == program_problems(
        engine_config(content), monkeypatch
    )


# --- secrets in plain text -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stack", "key"),
    [
        ("local", "exoscale:secret"),
        ("aws-eu-central-1", "exoscale:secret"),
        ("aws-eu-central-1", "aws:secretKey"),
        ("aws-eu-central-1", "aws:token"),
        ("exoscale-ch-gva-2", "exoscale:secret"),
        ("exoscale-ch-gva-2", "site-storage:secret_access_key"),
        ("local", "site-storage:secret_access_key"),
    ],
)
def test_refuses_a_plain_text_secret_on_every_key_and_region_without_showing_it(
    here: Path, stack: str, key: str
) -> None:
    text = example_stack(stack).read_text()
    if f"  {key}:\n    secure:" in text:
        start = text.index(f"  {key}:\n")
        end = text.index("\n", text.index("secure:", start)) + 1
        text = text[:start] + f"  {key}: hunter2-plain\n" + text[end:]
    else:
        text = text.replace("config:\n", f"config:\n  {key}: hunter2-plain\n", 1)
    lines = problems(here, text)
    name = key.removeprefix("site-storage:")
    assert lines == [
        f"{F}: {name}: is stored in plain text; set it with `pulumi config set --secret {key}` so it is encrypted"
    ]
    assert "hunter2" not in "\n".join(lines)


def test_cors_enable_refuses_a_plain_text_exoscale_secret_on_a_custom_stack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = shop_project(tmp_path / "project", examples=False)
    monkeypatch.chdir(project.root)
    path = project.stack_file("local")
    path.write_text(example_stack("local").read_text().replace("config:\n", "config:\n  exoscale:secret: plain\n"))
    before = path.read_bytes()
    result = invoke("cors", "enable", "demo", "--stack", "local", "--origin", "https://demo.example")
    assert result.exit_code == 2
    assert result.stderr == (
        "stacks/Pulumi.local.yaml: exoscale:secret: is stored in plain text; set it with "
        "`pulumi config set --secret exoscale:secret` so it is encrypted\n"
    )
    assert path.read_bytes() == before


# --- a broken stack file beside another never stops it -------------------------------------------


def _break(stacks: Path, kind: str) -> str:
    path = stacks / "Pulumi.broken.yaml"
    if kind == "not-utf8":
        path.write_bytes(b"config:\n  site-storage:region: \xff\n")
        return "Pulumi.broken.yaml: line 2: not UTF-8 text"
    if kind == "symlink-loop":
        path.symlink_to("Pulumi.broken.yaml")
        return "Pulumi.broken.yaml: is a symlink loop"
    if kind == "directory":
        path.mkdir()
        return "Pulumi.broken.yaml: is a directory"
    if kind == "pipe":
        os.mkfifo(path)
        return "Pulumi.broken.yaml: is a named pipe"
    if kind == "alias-bomb":
        lines = ["config:", "  x:", "    l0: &l0 [a, a, a, a, a, a, a, a, a]"]
        lines += [f"    l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
        path.write_text("\n".join(lines) + "\n")
        return "Pulumi.broken.yaml: line "
    assert kind == "null"
    path.write_text(AWS + "  site-storage:protect: ~\n")
    return "Pulumi.broken.yaml: protect: has no value"


KINDS = ("not-utf8", "symlink-loop", "directory", "pipe", "alias-bomb", "null")


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_sibling_is_one_note_and_never_stops_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """In a subprocess under the memory limit for the alias bomb; in this process for the rest."""
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.good.yaml").write_text(AWS + SITES)
    start = _break(stacks, kind)
    if kind == "alias-bomb":
        result: Any = preview(stacks, "--config", "Pulumi.good.yaml", "--json")
        assert result.returncode == 0, result.stderr
    else:
        monkeypatch.chdir(stacks)
        result = invoke("preview", "--config", "Pulumi.good.yaml", "--json")
        assert result.exit_code == 0, result.output
    [note] = result.stderr.splitlines()
    assert note.startswith(f"note: skipped Pulumi.broken.yaml when looking at other stacks: {start}")
    assert list(json.loads(result.stdout)["sites"]) == ["acme-live"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_sibling_never_stops_sites_add_or_cors_enable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    project = shop_project(tmp_path / "project", examples=False)
    monkeypatch.chdir(project.root)
    start = _break(project.root / "stacks", kind)
    added = invoke("sites", "add", "news", "--stack", "shop")
    assert added.exit_code == 0, added.output
    enabled = invoke("cors", "enable", "news", "--stack", "shop", "--origin", "https://news.example")
    assert enabled.exit_code == 0, enabled.output
    for result in (added, enabled):
        notes = [line for line in result.stderr.splitlines() if line.startswith("note: ")]
        assert len(notes) == 1
        assert notes[0].startswith(f"note: skipped Pulumi.broken.yaml when looking at other stacks: stacks/{start}")
    news = [site for site in read_stack_file(project.stack_file("shop")).settings().sites if site.slug == "news"]
    assert news[0].cors is not None


def test_a_copied_example_stack_is_refused_by_cors_enable_as_by_preview(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 21: `cors enable --stack copy` used to exit 0, then `preview --stack copy` exited 2."""
    project = shop_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    copy = project.stack_file("copy")
    copy.write_bytes(example_stack("aws-eu-central-1").read_bytes())
    before = copy.read_bytes()
    enabled = invoke("cors", "enable", "acme-stage", "--stack", "copy", "--origin", "https://x.example")
    previewed = preview(project.root, "--stack", "copy")
    assert (enabled.exit_code, previewed.returncode) == (2, 2)
    assert copy.read_bytes() == before
    lines = enabled.stderr.splitlines()
    assert lines[0] == (
        "refusing to write stacks/Pulumi.copy.yaml: the result would not pass validation (file unchanged):"
    )
    assert lines[1:] == previewed.stderr.splitlines()
    assert [line.split(": ")[1] for line in lines[1:]] == ["bucket_prefix"] * 3
    assert "give this stack a bucket_prefix of its own" in lines[1]


def test_the_docs_state_the_limits_and_the_lock_wait_the_code_applies() -> None:
    from components.config import BUCKET_QUOTA_LIMIT, MAX_AGE_LIMIT, MAX_SITES_LIMIT
    from storagectl.atomic_files import LOCK_WAIT_ENV, LOCK_WAIT_SECONDS

    configuration = " ".join((ROOT / "docs" / "configuration.md").read_text(encoding="utf-8").split())
    for figure in (
        f"a regular file of at most {MAX_STACK_FILE_BYTES:,} bytes",
        f"no line longer than {MAX_LINE_CHARS:,} characters",
        f"at most {MAX_DEPTH} levels",
        f"at most {MAX_VALUES:,} values",
        f"sites this stack may hold, 1 to {MAX_SITES_LIMIT}",
        f"1 to {BUCKET_QUOTA_LIMIT:,}",
        f"0 to {MAX_AGE_LIMIT}",
    ):
        assert figure in configuration, figure
    support = " ".join((ROOT / "docs" / "support.md").read_text(encoding="utf-8").split())
    assert f"within {LOCK_WAIT_SECONDS:g} seconds (set `{LOCK_WAIT_ENV}`" in support

"""A site's key_generation and previous_key: what is accepted, and the one line for each thing refused.

Stack files are written to a temporary directory and read as storagectl and the program read them
(the engine's form of each value, then validation), so every line starts with `Pulumi.test.yaml: `.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, StackSettings
from components.site_keys import declared_keys
from storagectl.offline import evaluate
from storagectl.stack_files import read_stack_file
from tests.support.stacks import ACCESS_KEY, example_stack, of_type, write_stack
from tests.support.stacks import MINIMAL_AWS as AWS
from tests.support.stacks import MINIMAL_CUSTOM as CUSTOM

F = "Pulumi.test.yaml"
EXOSCALE: dict[str, Any] = {
    "region": "exoscale-ch-gva-2",
    "bucket_prefix": "helvetia",
    "access_key_id": "EXO0000000000000000EXAMPLE",
    "secret_access_key": "placeholder",
    "sites": {"one": {}},
}
EXOSCALE_KEYS = {"exoscale:key": "EXO00000000000000000EXAMPLE", "exoscale:secret": {"secure": "v1:TEST"}}
GENERATION_RULE = "use a whole number from 1 to 9999"
PREVIOUS_RULE = (
    "use active (the previous generation's key still works), inactive (it is refused; AWS only) or absent "
    "(it is deleted)"
)
SHARED_RULE = (
    "the sites of a stack with site_credentials shared use the stack's one key and have no key of their own; "
    "rotate the stack's key instead (docs/operators.md, \"Rotating a stack's shared key\")"
)


def _read(tmp_path: Path, values: dict[str, Any], **options: Any) -> StackSettings:
    return read_stack_file(write_stack(tmp_path, values, **options)).settings()


def _refused(tmp_path: Path, values: dict[str, Any], **options: Any) -> list[str]:
    with pytest.raises(ConfigError) as error:
        _read(tmp_path, values, **options)
    return error.value.problems


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def aws_site(**settings: Any) -> dict[str, Any]:
    return {**AWS, "sites": {"acme-live": settings}}


@pytest.mark.parametrize(
    ("settings", "generation", "previous"),
    [
        ({}, 1, "absent"),
        ({"key_generation": 1}, 1, "absent"),
        ({"key_generation": 1, "previous_key": "absent"}, 1, "absent"),
        ({"key_generation": 2}, 2, "absent"),
        ({"key_generation": 2, "previous_key": "active"}, 2, "active"),
        ({"key_generation": 7, "previous_key": "inactive"}, 7, "inactive"),
        ({"key_generation": 9999, "previous_key": "active"}, 9999, "active"),
    ],
)
def test_accepted_key_settings_and_their_keys(
    tmp_path: Path, settings: dict[str, Any], generation: int, previous: str
) -> None:
    site = _read(tmp_path, aws_site(**settings)).sites[0]
    assert (site.key_generation, site.previous_key) == (generation, previous)
    assert site.keys == declared_keys(generation, previous)
    assert [key.generation for key in site.keys] == ([generation - 1] if previous != "absent" else []) + [generation]
    assert site.keys[-1].current and all(not key.current for key in site.keys[:-1])


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (-1, "-1"), (10000, "10000"), (1.5, "1.5"), (True, "true"), ("two", "'two'"), ([2], "[2]")],
)
def test_refuses_a_key_generation_that_is_not_a_whole_number_from_1(tmp_path: Path, value: Any, shown: str) -> None:
    assert _refused(tmp_path, aws_site(key_generation=value)) == [
        f"{F}: sites.acme-live.key_generation: {shown} is not allowed; {GENERATION_RULE}"
    ]


@pytest.mark.parametrize(("value", "shown"), [("Active", "'Active'"), ("deleted", "'deleted'"), (True, "true")])
def test_refuses_a_previous_key_state_it_does_not_know(tmp_path: Path, value: Any, shown: str) -> None:
    assert _refused(tmp_path, aws_site(key_generation=2, previous_key=value)) == [
        f"{F}: sites.acme-live.previous_key: {shown} is not allowed; {PREVIOUS_RULE}"
    ]


def test_refuses_keys_written_with_no_value(tmp_path: Path) -> None:
    assert _refused(tmp_path, aws_site(key_generation=None, previous_key="")) == [
        f"{F}: sites.acme-live.key_generation: has no value; use a whole number from 1 to 9999, or leave the key "
        "out for the default (1)",
        f"{F}: sites.acme-live.previous_key: has no value; use active, inactive or absent, or leave the key out for "
        "the default (absent)",
    ]


@pytest.mark.parametrize("previous", ["active", "inactive"])
def test_refuses_a_previous_key_on_generation_1(tmp_path: Path, previous: str) -> None:
    assert _refused(tmp_path, aws_site(previous_key=previous)) == [
        f"{F}: sites.acme-live.previous_key: {previous!r} is not allowed; generation 1 has no previous key; use "
        "absent (or leave it out), or rotate with `storagectl keys rotate`"
    ]


def test_refuses_an_inactive_previous_key_on_exoscale(tmp_path: Path) -> None:
    values = {**EXOSCALE, "sites": {"one": {"key_generation": 2, "previous_key": "inactive"}}}
    assert _refused(tmp_path, values, other_config=EXOSCALE_KEYS) == [
        f"{F}: sites.one.previous_key: 'inactive' is not allowed; Exoscale API keys cannot be deactivated, only "
        "deleted; use active (the previous key keeps working) or absent (it is deleted)"
    ]
    rotating = {**EXOSCALE, "sites": {"one": {"key_generation": 2, "previous_key": "active"}}}
    assert [key.generation for key in _read(tmp_path, rotating, other_config=EXOSCALE_KEYS).sites[0].keys] == [1, 2]


@pytest.mark.parametrize(
    ("base", "site"),
    [(CUSTOM, "one"), ({**EXOSCALE, "site_credentials": "shared"}, "one")],
    ids=["custom", "exoscale-shared"],
)
def test_refuses_per_site_keys_on_a_stack_that_shares_one_key(tmp_path: Path, base: dict[str, Any], site: str) -> None:
    values = {**base, "sites": {site: {"key_generation": 2, "previous_key": "active"}}}
    assert _refused(tmp_path, values) == [
        f"{F}: sites.{site}.key_generation: 2 is not allowed; {SHARED_RULE}",
        f"{F}: sites.{site}.previous_key: 'active' is not allowed; {SHARED_RULE}",
    ]


def test_an_explicit_generation_1_registers_exactly_what_an_absent_one_does(tmp_path: Path) -> None:
    """`key_generation: 1` is the default: every resource and output of the example stack stays the same."""
    text = example_stack("aws-eu-central-1").read_text(encoding="utf-8")
    explicit = text.replace("      private: false\n", "      private: false\n      key_generation: 1\n")
    explicit = explicit.replace("    acme-stage:\n", "    acme-stage:\n      key_generation: 1\n")
    assert explicit.count("key_generation: 1") == 2
    path = tmp_path / "Pulumi.aws-eu-central-1.yaml"
    path.write_text(explicit, encoding="utf-8")
    plain = evaluate(read_stack_file(example_stack("aws-eu-central-1")))
    stated = evaluate(read_stack_file(path))
    assert [r.as_dict() for r in stated.resources] == [r.as_dict() for r in plain.resources]
    assert stated.outputs == plain.outputs


def test_generation_1_keeps_the_key_names_every_stack_has(example: Any) -> None:
    """The example stacks, which never rotated, keep `<site>-key` with the inputs it always had."""
    aws = example("aws-eu-central-1")
    assert [(r.name, r.inputs) for r in of_type(aws.resources, ACCESS_KEY)] == [
        ("acme-live-key", {"user": "acme-media-acme-live"}),
        ("acme-stage-key", {"user": "acme-media-acme-stage"}),
        ("brochure-live-key", {"user": "acme-media-brochure-live"}),
    ]
    exoscale = example("exoscale-ch-gva-2")
    api_keys = of_type(exoscale.resources, "exoscale:index/iamApiKey:IamApiKey")
    assert [(r.name, r.inputs) for r in api_keys] == [
        ("zurich-live-key", {"name": "helvetia-media-zurich-live", "roleId": "zurich-live-role-id"}),
        ("geneva-live-key", {"name": "helvetia-media-geneva-live", "roleId": "geneva-live-role-id"}),
    ]

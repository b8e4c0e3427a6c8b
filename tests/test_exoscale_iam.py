"""Per-site Exoscale IAM credentials (issue 5), evaluated under the Pulumi mock runtime."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError
from components.policies import EXOSCALE_SITE_OPERATIONS
from storagectl.offline import Evaluation, evaluate
from storagectl.stack_files import SECRET_PLACEHOLDER, read_stack_file

STACKS = Path(__file__).resolve().parent.parent / "stacks"
EXAMPLE = STACKS / "Pulumi.exoscale-ch-gva-2.yaml"
ROLE = "exoscale:index/iamRole:IamRole"
API_KEY = "exoscale:index/iamApiKey:IamApiKey"


@pytest.fixture(scope="module")
def exoscale() -> Evaluation:
    return evaluate(read_stack_file(EXAMPLE))


def _of_type(evaluation: Evaluation, type_: str) -> list[Any]:
    return [resource for resource in evaluation.resources if resource.type == type_]


def _cel_strings(expression: str, binding: str) -> list[str]:
    """The quoted strings of `<binding> in [...]` in a CEL expression."""
    match = re.search(rf"{re.escape(binding)} in \[([^\]]*)\]", expression)
    assert match, f"no `{binding} in [...]` in {expression!r}"
    return re.findall(r"'([^']*)'", match.group(1))


def test_every_site_gets_one_role_and_one_key_bound_to_it(exoscale: Evaluation) -> None:
    sites = set(exoscale.outputs["sites"])
    roles = {resource.site: resource for resource in _of_type(exoscale, ROLE)}
    keys = {resource.site: resource for resource in _of_type(exoscale, API_KEY)}
    assert set(roles) == set(keys) == sites == {"zurich-live", "geneva-live"}
    for site, key in keys.items():
        # The mock gives a role the id "<name>-id"; the key must be bound to its own site's role.
        assert key.inputs["roleId"] == f"{roles[site].name}-id"
    assert not _of_type(exoscale, "aws:iam/user:User"), "Exoscale has no AWS IAM users"


def test_role_policy_allows_only_the_sites_buckets_and_djangos_operations(exoscale: Evaluation) -> None:
    facts = exoscale.outputs["sites"]
    for role in _of_type(exoscale, ROLE):
        policy = role.inputs["policy"]
        assert policy["defaultServiceStrategy"] == "deny"
        assert set(policy["services"]) == {"sos"}
        rules = policy["services"]["sos"]["rules"]
        assert [rule["action"] for rule in rules] == ["allow"]
        expression = rules[0]["expression"]
        own = {facts[role.site]["public_bucket"], facts[role.site]["private_bucket"]}
        assert set(_cel_strings(expression, "parameters.bucket")) == own
        operations = set(_cel_strings(expression, "operation"))
        assert operations == set(EXOSCALE_SITE_OPERATIONS)
        assert not operations & {"create-bucket", "delete-bucket", "put-bucket-acl", "put-bucket-policy"}
        assert "||" not in expression, "an alternative branch would widen the grant"


def test_dsns_and_storages_carry_the_sites_own_key_not_the_stacks(exoscale: Evaluation) -> None:
    stack_key = exoscale.settings.access_key_id
    settings = exoscale.outputs["site_settings"]
    keys_by_site = {}
    for slug, site in settings.items():
        options = site["STORAGES"]["default"]["OPTIONS"]
        assert options["access_key"] != stack_key
        assert options["secret_key"] == SECRET_PLACEHOLDER
        assert site["default_storage_dsn"].startswith(f"s3://{options['access_key']}:")
        assert site["private_storage_dsn"].startswith(f"s3://{options['access_key']}:")
        assert site["STORAGES"]["private"]["OPTIONS"]["access_key"] == options["access_key"]
        keys_by_site[slug] = options["access_key"]
    assert len(set(keys_by_site.values())) == len(keys_by_site), "each site needs a key of its own"


def test_no_shared_credential_warning_with_per_site_keys(exoscale: Evaluation) -> None:
    assert not [warning for warning in exoscale.warnings if "share one credential" in warning]


def test_site_settings_are_secret_and_sites_hold_no_key() -> None:
    """The exported outputs as the engine receives them: site_settings is a secret Output."""
    import pulumi
    from pulumi.runtime.sync_await import _sync_await

    evaluation = evaluate(read_stack_file(EXAMPLE))
    root = pulumi.runtime.settings.get_root_resource()
    site_settings = root.outputs["site_settings"]  # type: ignore[union-attr]
    assert isinstance(site_settings, pulumi.Output)
    assert _sync_await(site_settings.is_secret()) is True
    plain = repr(evaluation.outputs["sites"])
    for site in evaluation.outputs["site_settings"].values():
        assert site["STORAGES"]["default"]["OPTIONS"]["access_key"] not in plain


def _exoscale_file(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "Pulumi.exo-test.yaml"
    path.write_text(
        "config:\n"
        "  site-storage:region: exoscale-de-fra-1\n"
        "  site-storage:bucket_prefix: test-media\n"
        "  site-storage:access_key_id: EXO000000000000000000000001\n"
        "  site-storage:secret_access_key:\n"
        "    secure: v1:abc\n"
        "  site-storage:sites:\n"
        "    one: {}\n" + extra,
        encoding="utf-8",
    )
    return path


def test_refuses_exoscale_iam_without_the_exoscale_provider_key(tmp_path: Path) -> None:
    path = _exoscale_file(tmp_path, "")
    with pytest.raises(ConfigError) as error:
        read_stack_file(path).settings()
    assert error.value.problems == [
        f"{read_stack_file(path).source}: exoscale:key: is required; exoscale-iam creates roles and keys with it: "
        "`pulumi config set exoscale:key EXO...`",
        f"{read_stack_file(path).source}: exoscale:secret: is required; set it with "
        "`pulumi config set --secret exoscale:secret`",
    ]


def test_refuses_a_plain_text_exoscale_secret(tmp_path: Path) -> None:
    path = _exoscale_file(tmp_path, "  exoscale:key: EXO000000000000000000000002\n  exoscale:secret: not-encrypted\n")
    with pytest.raises(ConfigError) as error:
        read_stack_file(path).settings()
    assert len(error.value.problems) == 1
    assert "exoscale:secret: is stored in plain text" in error.value.problems[0]
    assert "not-encrypted" not in error.value.problems[0]


def test_refuses_a_credential_mode_the_region_does_not_support(tmp_path: Path) -> None:
    path = _exoscale_file(tmp_path, "  site-storage:site_credentials: iam\n")
    with pytest.raises(ConfigError) as error:
        read_stack_file(path).settings()
    assert error.value.problems == [
        f"{read_stack_file(path).source}: site_credentials: 'iam' is not allowed; "
        "region exoscale-de-fra-1 supports exoscale-iam, shared"
    ]


def test_shared_mode_on_exoscale_hands_out_the_stack_key_and_warns(tmp_path: Path) -> None:
    path = _exoscale_file(tmp_path, "  site-storage:site_credentials: shared\n")
    evaluation = evaluate(read_stack_file(path))
    assert not _of_type(evaluation, ROLE)
    options = evaluation.outputs["site_settings"]["one"]["STORAGES"]["default"]["OPTIONS"]
    assert options["access_key"] == "EXO000000000000000000000001"
    assert [w for w in evaluation.warnings if "share one credential" in w]

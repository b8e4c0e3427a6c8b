"""The pack's wiring: pulumi-policy objects around the plain checks, fed as the engine feeds them.

`PolicyPack(...)` starts the analyzer's gRPC server, so nothing here constructs it: the tests
import the list `policy/__main__.py` packs and call each policy's validate directly.
"""

from __future__ import annotations

import ast
import contextvars
import json
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path
from typing import Any

import pytest
from pulumi.runtime.config import set_all_config
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, unknown_checking_proxy
from ruamel.yaml import YAML

from components.regions import resolve_region
from policy.bucket_rules import PUBLIC_ACCESS_FLAGS
from policy.model import UNKNOWN, StackFacts, facts_from_config, site_of_urn
from policy.pack import facts_from_engine, pack_policies, plain
from policy.site_storage_policies import RESOURCE_RULES, STACK_RULES, rule_names
from storagectl.stack_files import read_stack_file

ROOT = Path(__file__).resolve().parent.parent
POLICY_DIR = ROOT / "policy"
STACK_FILES = sorted((ROOT / "stacks").glob("Pulumi.*.yaml"))
FACTS = StackFacts(protect=True, access_controls=True, bucket_prefix="acme-media")
SITE_URN = "urn:pulumi:prod::site-storage::site-storage:index:SiteStorage::acme-live"


def by_name(facts: StackFacts = FACTS) -> dict[str, Any]:
    return {policy.name: policy for policy in pack_policies(lambda: facts)}


def options(*, parent: str | None = SITE_URN, protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], parent)


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:prod::site-storage::site-storage:index:SiteStorage${type_}::{name}"


def validate_resource(
    policy: ResourceValidationPolicy, type_: str, name: str, props: dict[str, Any], **opts: Any
) -> list[str]:
    reported: list[str] = []

    def report(message: str, _urn: str | None = None) -> None:
        reported.append(message)

    args = ResourceValidationArgs(type_, unknown_checking_proxy(props), urn(type_, name), name, options(**opts), None)
    policy.validate(args, report)
    return reported


def test_pack_holds_every_rule_once_and_all_are_mandatory() -> None:
    policies = pack_policies(lambda: FACTS)
    assert [policy.name for policy in policies] == rule_names()
    assert len(set(rule_names())) == len(rule_names())
    assert all(policy.enforcement_level == EnforcementLevel.MANDATORY for policy in policies)
    kinds = {policy.name: type(policy) for policy in policies}
    assert all(kinds[rule.name] is ResourceValidationPolicy for rule in RESOURCE_RULES)
    assert all(kinds[rule.name] is StackValidationPolicy for rule in STACK_RULES)


def test_main_only_builds_the_policy_pack_from_that_list() -> None:
    tree = ast.parse((POLICY_DIR / "__main__.py").read_text(encoding="utf-8"))
    calls = [
        node for node in ast.walk(tree) if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "PolicyPack"
    ]
    [pack] = calls
    keywords = {keyword.arg: ast.unparse(keyword.value) for keyword in pack.keywords}
    assert keywords["policies"] == "pack_policies()"
    assert keywords["enforcement_level"] == "EnforcementLevel.MANDATORY"


def test_main_finds_the_rules_when_run_the_way_the_pulumi_cli_runs_it() -> None:
    # The CLI runs the pack directory with runpy in the pack's own virtualenv, where this
    # project is not installed. -S drops the editable install; site-packages stays reachable.
    # PolicyPack is swapped for a stub: the real one would start the analyzer server.
    code = (
        "import runpy, pulumi_policy\n"
        "pulumi_policy.PolicyPack = lambda **kw: print(kw['name'], [p.name for p in kw['policies']])\n"
        f"runpy.run_path({str(POLICY_DIR)!r}, run_name='__main__')\n"
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": sysconfig.get_paths()["purelib"]}
    result = subprocess.run(
        [sys.executable, "-S", "-c", code], cwd=POLICY_DIR, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(" ", 1)[0] == "site-storage-guardrails"
    assert all(name in result.stdout for name in rule_names())


def test_the_stack_config_the_engine_sends_with_configure_stack_reaches_the_policies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under a language host the engine sends the config only through ConfigureStack (policy/stack_config.py)."""
    from pulumi.runtime.proto import analyzer_pb2
    from pulumi_policy import policy as pulumi_policy

    from policy.stack_config import accept_stack_config

    monkeypatch.setenv("PULUMI_CONFIG", "{}")  # restored after the test: ConfigureStack writes it
    monkeypatch.setenv("PULUMI_CONFIG_SECRET_KEYS", "[]")
    monkeypatch.setattr(
        pulumi_policy._PolicyAnalyzerServicer, "ConfigureStack", pulumi_policy._PolicyAnalyzerServicer.ConfigureStack
    )
    assert facts_from_engine().protect is True  # no config: the pack fails closed
    accept_stack_config()
    servicer = pulumi_policy._PolicyAnalyzerServicer("pack", "0.0.1", pack_policies(), EnforcementLevel.MANDATORY)
    request = analyzer_pb2.AnalyzerStackConfigureRequest(
        stack="local",
        config={"site-storage:protect": "false", "site-storage:region": "custom"},
        config_secret_keys=["site-storage:secret_access_key"],
    )
    servicer.ConfigureStack(request, None)
    facts = facts_from_engine()
    assert facts.protect is False
    assert facts.access_controls is False


def test_pack_modules_import_nothing_its_virtualenv_lacks() -> None:
    # policy/requirements.txt installs pulumi and pulumi-policy only.
    allowed = {"pulumi", "pulumi_policy", "policy", *sys.stdlib_module_names}
    for module in POLICY_DIR.glob("*.py"):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        names = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        names += [node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module]
        assert {name.split(".")[0] for name in names} <= allowed, module.name


def test_pack_runtime_and_pins_match_the_project() -> None:
    manifest = YAML(typ="safe").load((POLICY_DIR / "PulumiPolicy.yaml").read_text(encoding="utf-8"))
    assert manifest["runtime"]["name"] == "python"
    # .venv: ignored by git, ruff and mypy like the project's own.
    assert manifest["runtime"]["options"]["virtualenv"] == ".venv"
    pins = dict(
        line.split("==")
        for line in (POLICY_DIR / "requirements.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line and not line.startswith("#")
    )
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    project_pins = dict(
        re.split(r"==", spec, maxsplit=1)
        for spec in pyproject["project"]["dependencies"] + pyproject["dependency-groups"]["dev"]
        if "==" in spec
    )
    assert pins == {"pulumi": project_pins["pulumi"], "pulumi-policy": project_pins["pulumi-policy"]}
    assert pins["pulumi-policy"] == "1.21.0"


def test_resource_policy_reads_site_from_the_parent_urn_and_names_it() -> None:
    policy = by_name()["private-bucket-access-blocked"]
    props = {**dict.fromkeys(PUBLIC_ACCESS_FLAGS, True), "blockPublicPolicy": False, "bucket": "b"}
    [message] = validate_resource(
        policy, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "acme-live-private-access-block", props
    )
    assert message.startswith("site acme-live: the private bucket's public access block leaves blockPublicPolicy off")


def test_resource_policy_survives_values_unknown_during_preview() -> None:
    # A new bucket's id is unknown in preview; pulumi-policy's proxy raises when it is read.
    props = {**dict.fromkeys(PUBLIC_ACCESS_FLAGS, True), "bucket": UNKNOWN_STRING_VALUE}
    policy = by_name()["private-bucket-access-blocked"]
    type_ = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    assert validate_resource(policy, type_, "acme-live-private-access-block", props) == []
    # ...but an unknown flag fails closed instead of turning into an advisory.
    props["ignorePublicAcls"] = "1c4a061d-8072-4f0a-a4cb-0ff528b18fe7"
    [message] = validate_resource(policy, type_, "acme-live-private-access-block", props)
    assert "ignorePublicAcls" in message


def test_resource_policy_ignores_other_types() -> None:
    policy = by_name()["buckets-protected"]
    assert validate_resource(policy, "aws:iam/user:User", "acme-live-user", {"name": "u"}) == []


def test_resource_policy_reads_protect_from_the_resource_options() -> None:
    policy = by_name()["buckets-protected"]
    bucket = {"bucket": "acme-media-acme-live-public", "forceDestroy": False}
    assert validate_resource(policy, "aws:s3/bucket:Bucket", "acme-live-public", bucket, protect=True) == []
    [message] = validate_resource(policy, "aws:s3/bucket:Bucket", "acme-live-public", bucket, protect=False)
    assert message.startswith("site acme-live: the bucket is not protected")


def policy_resource(type_: str, name: str, props: dict[str, Any], parent: str | None = SITE_URN) -> PolicyResource:
    return PolicyResource(
        type_, unknown_checking_proxy(props), urn(type_, name), name, options(parent=parent), None, None, [], {}
    )


def test_stack_policy_reports_against_the_resource_urn() -> None:
    bucket = policy_resource("aws:s3/bucket:Bucket", "acme-live-private", {"bucket": "acme-media-acme-live-private"})
    reported: list[tuple[str, str | None]] = []
    policy = by_name()["private-bucket-access-block-present"]
    policy.validate(StackValidationArgs([bucket], {}), lambda message, u=None: reported.append((message, u)))
    [(message, where)] = reported
    assert where == bucket.urn
    assert message.startswith("site acme-live: private bucket acme-media-acme-live-private has no public access block")


def test_stack_policy_reads_outputs_of_the_stack_resource_and_applied_key_secrets() -> None:
    outputs = {"sites": {"acme-live": {"note": "key-secret-1"}}, "site_settings": {"acme-live": {"k": "key-secret-1"}}}
    stack = policy_resource("pulumi:pulumi:Stack", "site-storage-prod", outputs, parent=None)
    key = policy_resource("aws:iam/accessKey:AccessKey", "acme-live-key", {"user": "u", "secret": "key-secret-1"})
    reported: list[tuple[str, str | None]] = []
    policy = by_name()["no-credential-in-plain-outputs"]
    policy.validate(StackValidationArgs([stack, key], {}), lambda message, u=None: reported.append((message, u)))
    [(message, where)] = reported
    assert where == stack.urn
    assert message.startswith("site acme-live: the plain output sites.acme-live.note holds a secret value")


def test_plain_unwraps_pulumi_policy_proxies_and_marks_unknowns() -> None:
    proxied = unknown_checking_proxy({"a": [1, {"b": UNKNOWN_STRING_VALUE}], "c": "x"})
    assert plain(proxied) == {"a": [1, {"b": UNKNOWN}], "c": "x"}


def test_site_of_urn() -> None:
    assert site_of_urn(SITE_URN) == "acme-live"
    assert site_of_urn("urn:pulumi:prod::site-storage::a:b:C$site-storage:index:SiteStorage::x") == "x"
    assert site_of_urn("urn:pulumi:prod::site-storage::pulumi:pulumi:Stack::site-storage-prod") is None
    assert site_of_urn(None) is None


def test_facts_from_engine_read_the_stack_config_the_engine_hands_the_pack() -> None:
    engine = {
        "site-storage:region": "aws-eu-central-1",
        "site-storage:protect": "false",
        "site-storage:bucket_prefix": "acme-media",
        "site-storage:sites": json.dumps({"a": {"cors": {"origins": ["*"], "allow_any_origin": True}}, "b": {}}),
    }

    def read() -> StackFacts:
        set_all_config(engine)
        return facts_from_engine()

    # A copied context keeps the config change away from every other test.
    facts = contextvars.copy_context().run(read)
    assert facts == StackFacts(
        protect=False, access_controls=True, any_origin_sites=frozenset({"a"}), bucket_prefix="acme-media"
    )


@pytest.mark.parametrize(
    ("values", "local"),
    [
        ({"region": "custom", "endpoint": "http://127.0.0.1:5000"}, True),
        ({"region": "custom", "endpoint": "http://localhost:9000"}, True),
        ({"region": "custom", "endpoint": "https://minio.example.com"}, False),
        ({"region": "custom", "endpoint": "http://127.0.0.1.attacker.example"}, False),
        ({"region": "aws-eu-central-1"}, False),
        ({"region": "custom"}, False),
    ],
)
def test_facts_know_a_stack_whose_endpoint_is_this_machine(values: dict[str, Any], local: bool) -> None:
    assert facts_from_config(values).on_this_machine is local


def test_facts_from_engine_read_the_endpoint() -> None:
    engine = {"site-storage:region": "custom", "site-storage:endpoint": "http://127.0.0.1:5000"}

    def read() -> StackFacts:
        set_all_config(engine)
        return facts_from_engine()

    assert contextvars.copy_context().run(read).on_this_machine


def test_facts_fail_closed_when_the_config_is_missing() -> None:
    assert facts_from_config({}) == StackFacts(protect=True, access_controls=True, bucket_prefix=None)
    assert facts_from_config({"protect": "maybe", "sites": "not json"}).protect is True


@pytest.mark.parametrize("stack_file", STACK_FILES, ids=lambda path: path.name)
def test_facts_agree_with_the_program_for_every_example_stack(stack_file: Path) -> None:
    stack = read_stack_file(stack_file)
    settings = stack.settings()
    facts = facts_from_config(stack.values)
    capabilities = settings.region.capabilities
    assert facts.access_controls == (capabilities.public_access_block and capabilities.ownership_controls)
    assert facts.protect == settings.protect
    assert facts.bucket_prefix == settings.bucket_prefix
    assert facts.on_this_machine == settings.region.on_this_machine
    assert facts.any_origin_sites == {site.slug for site in settings.sites if site.cors and site.cors.allow_any_origin}
    for site in settings.sites:
        assert settings.public_bucket(site.slug) in facts.site_buckets(site.slug)
        assert settings.private_bucket(site.slug) in facts.site_buckets(site.slug)


@pytest.mark.parametrize(
    "region_id", ["aws-us-east-1", "aws-eu-west-3", "exoscale-ch-dk-2", "exoscale-at-vie-1", "custom"]
)
def test_access_control_facts_agree_with_the_region_catalog(region_id: str) -> None:
    capabilities = resolve_region(region_id, endpoint="https://s3.example.com").capabilities
    expected = capabilities.public_access_block and capabilities.ownership_controls
    assert facts_from_config({"region": region_id}).access_controls == expected

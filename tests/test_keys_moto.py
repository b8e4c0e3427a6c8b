"""Rotating, retiring and revoking a site's key against moto with IAM enforced, replaying the declared resources.

Each step runs `storagectl keys ...` on a copy of the example stacks, evaluates the stack offline
and plays the difference on moto as `pulumi up` would (tests/support/moto_apply.py: only access
keys may differ). The keys the sites' settings carry are found through the key ids the offline
evaluation put in them, so a settings output that named the wrong generation would upload with the
wrong (or a deleted) key and fail here.

- Django, in-process moto (`mock_aws`, the AWS endpoints the DSNs name): during a rotation the old
  settings and the new ones both upload, through django-storage-url (DSNs) and django-storages
  (STORAGES); after retire the old key is refused (InvalidAccessKeyId) and the new one works; after
  revoke the old key is refused at once. The other sites' keys stay as they were throughout.
- `storagectl verify` and `storagectl keys status`, a moto server on 127.0.0.1: verify passes with
  the new settings; status shows each generation's key with its last use.

moto 5.2.5 accepts a key whatever its status; `inactive_keys_refused` makes it refuse an Inactive
key as it refuses a deleted one. moto records a key's last use on every request that carries it, at
once, refused requests included; an unused key has no LastUsedDate (IAM's null) and "N/A" service
and region. The private buckets' TLS-only deny is left out of the in-process part (moto cannot
evaluate it: tests/test_consumer_moto.py); the server part closes that gap (tests/support/moto_verify.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError
from django.core.files.base import ContentFile
from django_storage_url import get_storage
from moto.core import enable_iam_authentication
from storages.backends.s3 import S3Storage
from typer.testing import CliRunner

from components.site_keys import AWS_ACCESS_KEY_TYPE
from storagectl.cli import app
from storagectl.offline import Evaluation, PreviewMocks, RecordedResource, evaluate
from storagectl.stack_files import read_stack_file
from tests.conftest import MotoAws
from tests.support.cli_project import Project, copy_project, invoke
from tests.support.moto_apply import (
    SiteKey,
    apply_resources,
    inactive_keys_refused,
    replay_key_update,
    split_for_moto,
)
from tests.support.moto_verify import OPERATOR_POLICY, client, iam_enforced, outputs_with_keys, reset_moto
from tests.support.stacks import named, options_with_credentials, with_credentials

STACK = "aws-eu-central-1"
OTHERS = ("acme-stage", "brochure-live")
KEY_READER_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["iam:ListAccessKeys", "iam:GetAccessKeyLastUsed"], "Resource": "*"}],
}


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Project:
    project = copy_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    return project


def keys_command(*args: str) -> None:
    result = invoke("keys", *args, "--stack", STACK)
    assert result.exit_code == 0, result.stderr


def evaluated(project: Project) -> Evaluation:
    return evaluate(read_stack_file(project.stack_file(STACK)))


def mocked_key_id(name: str) -> str:
    """The key id the offline evaluation gives the access key resource `name` (and so puts in the settings)."""
    args = SimpleNamespace(typ=AWS_ACCESS_KEY_TYPE, name=name, inputs={}, custom=True)
    key_id, _ = PreviewMocks().new_resource(cast(Any, args))
    assert isinstance(key_id, str)
    return key_id


def settings_keys(evaluation: Evaluation, by_resource: dict[str, SiteKey]) -> dict[str, SiteKey]:
    """The real key each site's settings name: a settings output naming a key that is not live fails here."""
    real = {mocked_key_id(name): key for name, key in by_resource.items()}
    return {
        site: real[block["STORAGES"]["default"]["OPTIONS"]["access_key"]]
        for site, block in evaluation.outputs["site_settings"].items()
    }


def kept(evaluation: Evaluation) -> list[RecordedResource]:
    """What moto can hold faithfully in-process (without the private buckets' TLS-only deny)."""
    return split_for_moto(evaluation.resources)[0]


def upload_through_settings(evaluation: Evaluation, site: str, key: SiteKey) -> None:
    """A public and a private upload through the site's DSNs (django-storage-url) and its STORAGES block."""
    block = evaluation.outputs["site_settings"][site]
    for dsn in (block["default_storage_dsn"], block["private_storage_dsn"]):
        if dsn is None:
            continue  # a site without a private bucket
        storage = get_storage(with_credentials(dsn, key.key_id, key.secret))
        name = storage.save("rotation/dsn.txt", ContentFile(b"through the DSN"))
        assert storage.open(name).read() == b"through the DSN"
    for alias in ("default", "private"):
        if alias not in block["STORAGES"]:
            continue
        options = block["STORAGES"][alias]["OPTIONS"]
        storage = S3Storage(**options_with_credentials(options, key.key_id, key.secret))
        name = storage.save("rotation/storages.txt", ContentFile(b"through STORAGES"))
        assert storage.exists(name)


def refused_code(evaluation: Evaluation, site: str, key: SiteKey) -> str:
    storage = get_storage(
        with_credentials(evaluation.outputs["site_settings"][site]["default_storage_dsn"], *key_pair(key))
    )
    with pytest.raises(ClientError) as refused:
        storage.save("rotation/refused.txt", ContentFile(b"x"))
    return str(refused.value.response["Error"]["Code"])


def key_pair(key: SiteKey) -> tuple[str, str]:
    return key.key_id, key.secret


def shortened(key: SiteKey) -> str:
    """How status shows a key id: its first and last four characters."""
    return f"{key.key_id[:4]}...{key.key_id[-4:]}"


def live_key_ids(iam: Any, site: str) -> list[str]:
    return sorted(
        key["AccessKeyId"] for key in iam.list_access_keys(UserName=f"acme-media-{site}")["AccessKeyMetadata"]
    )


# --- Django through the sites' settings (in-process moto, IAM enforced) -------------------------


def test_rotate_keeps_both_keys_working_and_retire_refuses_the_old_one(project: Project, moto_aws: MotoAws) -> None:
    first = evaluated(project)
    by_resource: dict[str, SiteKey] = {}
    apply_resources(kept(first), moto_aws.s3, moto_aws.iam, by_resource)
    old = settings_keys(first, by_resource)
    others = {site: live_key_ids(moto_aws.iam, site) for site in OTHERS}

    keys_command("rotate", "acme-live")
    rotated = evaluated(project)
    replay_key_update(kept(first), kept(rotated), moto_aws.iam, by_resource)
    new = settings_keys(rotated, by_resource)
    assert new["acme-live"] != old["acme-live"]
    assert live_key_ids(moto_aws.iam, "acme-live") == sorted([old["acme-live"].key_id, new["acme-live"].key_id])
    with enable_iam_authentication(), inactive_keys_refused():
        # Instances not yet redeployed keep working on the old settings, redeployed ones on the new.
        upload_through_settings(first, "acme-live", old["acme-live"])
        upload_through_settings(rotated, "acme-live", new["acme-live"])

    keys_command("retire", "acme-live")
    retired = evaluated(project)
    replay_key_update(kept(rotated), kept(retired), moto_aws.iam, by_resource)
    assert settings_keys(retired, by_resource) == new
    assert live_key_ids(moto_aws.iam, "acme-live") == [new["acme-live"].key_id]
    with enable_iam_authentication(), inactive_keys_refused():
        assert refused_code(first, "acme-live", old["acme-live"]) == "InvalidAccessKeyId"
        upload_through_settings(retired, "acme-live", new["acme-live"])
        for site in OTHERS:
            upload_through_settings(retired, site, new[site])
    assert {site: live_key_ids(moto_aws.iam, site) for site in OTHERS} == others
    assert {site: new[site] for site in OTHERS} == {site: old[site] for site in OTHERS}


def test_revoke_refuses_the_old_key_at_once(project: Project, moto_aws: MotoAws) -> None:
    first = evaluated(project)
    by_resource: dict[str, SiteKey] = {}
    apply_resources(kept(first), moto_aws.s3, moto_aws.iam, by_resource)
    old = settings_keys(first, by_resource)
    others = {site: live_key_ids(moto_aws.iam, site) for site in ("acme-live", "brochure-live")}

    keys_command("revoke", "acme-stage")
    revoked = evaluated(project)
    replay_key_update(kept(first), kept(revoked), moto_aws.iam, by_resource)
    new = settings_keys(revoked, by_resource)
    statuses = {
        key["AccessKeyId"]: key["Status"]
        for key in moto_aws.iam.list_access_keys(UserName="acme-media-acme-stage")["AccessKeyMetadata"]
    }
    assert statuses == {old["acme-stage"].key_id: "Inactive", new["acme-stage"].key_id: "Active"}
    with enable_iam_authentication(), inactive_keys_refused():
        assert refused_code(first, "acme-stage", old["acme-stage"]) == "InvalidAccessKeyId"
        upload_through_settings(revoked, "acme-stage", new["acme-stage"])
        upload_through_settings(revoked, "acme-live", new["acme-live"])
    with enable_iam_authentication():
        # Control: without the gap closed, moto would still take the deactivated key.
        upload_through_settings(first, "acme-stage", old["acme-stage"])
    assert {site: live_key_ids(moto_aws.iam, site) for site in others} == others

    # A false alarm (docs/support.md): `previous_key: active` by hand, and the update reactivates the old key.
    path = project.stack_file(STACK)
    path.write_text(path.read_text().replace("previous_key: inactive", "previous_key: active"))
    reactivated = evaluated(project)
    assert [r.name for r in reactivated.resources if r.inputs != named(revoked, r.name).inputs] == ["acme-stage-key"]
    replay_key_update(kept(revoked), kept(reactivated), moto_aws.iam, by_resource)
    with enable_iam_authentication(), inactive_keys_refused():
        upload_through_settings(first, "acme-stage", old["acme-stage"])
    path.write_text(path.read_text().replace("previous_key: active", "previous_key: inactive"))
    revoked_again = evaluated(project)
    replay_key_update(kept(reactivated), kept(revoked_again), moto_aws.iam, by_resource)

    keys_command("retire", "acme-stage")
    retired = evaluated(project)
    replay_key_update(kept(revoked_again), kept(retired), moto_aws.iam, by_resource)
    assert live_key_ids(moto_aws.iam, "acme-stage") == [new["acme-stage"].key_id]
    with enable_iam_authentication(), inactive_keys_refused():
        assert refused_code(first, "acme-stage", old["acme-stage"]) == "InvalidAccessKeyId"


# --- verify and keys status (moto server, IAM enforced) -----------------------------------------


@pytest.fixture
def server(moto_endpoint: str) -> Iterator[str]:
    reset_moto(moto_endpoint)
    yield moto_endpoint


def deploy_with_operator(evaluation: Evaluation, endpoint: str, by_resource: dict[str, SiteKey]) -> SiteKey:
    """Every declared resource on the server, and an operator who may read bucket settings and IAM's key facts."""
    region = evaluation.settings.region.signing_region
    iam = client("iam", endpoint, region)
    apply_resources(evaluation.resources, client("s3", endpoint, region), iam, by_resource)
    iam.create_user(UserName="operator")
    iam.put_user_policy(UserName="operator", PolicyName="read-config", PolicyDocument=json.dumps(OPERATOR_POLICY))
    iam.put_user_policy(UserName="operator", PolicyName="read-keys", PolicyDocument=json.dumps(KEY_READER_POLICY))
    made = iam.create_access_key(UserName="operator")["AccessKey"]
    return SiteKey(made["AccessKeyId"], made["SecretAccessKey"])


def operator_env(operator: SiteKey, endpoint: str) -> dict[str, str | None]:
    return {
        "AWS_ACCESS_KEY_ID": operator.key_id,
        "AWS_SECRET_ACCESS_KEY": operator.secret,
        "AWS_ENDPOINT_URL_IAM": endpoint,
        "AWS_SESSION_TOKEN": None,
        "AWS_PROFILE": None,
    }


def key_status(operator: SiteKey, endpoint: str, *args: str) -> Any:
    with iam_enforced(), inactive_keys_refused():
        result = CliRunner().invoke(
            app, ["keys", "status", *args, "--stack", STACK, "--json"], env=operator_env(operator, endpoint)
        )
    assert result.exit_code == 0, result.stdout + result.stderr
    return json.loads(result.stdout)


def verify(evaluation: Evaluation, by_resource: dict[str, SiteKey], operator: SiteKey, endpoint: str, tmp: Path) -> Any:
    outputs = tmp / "outputs.json"
    outputs.write_text(json.dumps(outputs_with_keys(evaluation.outputs, settings_keys(evaluation, by_resource))))
    command = ["verify", "acme-live", "--stack", STACK, "--outputs", str(outputs), "--endpoint-url", endpoint, "--json"]
    with iam_enforced(), inactive_keys_refused():
        return CliRunner().invoke(app, command, env=operator_env(operator, endpoint))


def server_storage(evaluation: Evaluation, site: str, key: SiteKey, endpoint: str) -> S3Storage:
    """The site's STORAGES["default"] pointed at the server: what an instance uploads with."""
    options = evaluation.outputs["site_settings"][site]["STORAGES"]["default"]["OPTIONS"]
    return S3Storage(**{**options_with_credentials(options, *key_pair(key)), "endpoint_url": endpoint})


def storages_upload(evaluation: Evaluation, site: str, key: SiteKey, endpoint: str) -> None:
    server_storage(evaluation, site, key, endpoint).save("rotation/server.txt", ContentFile(b"x"))


def refused_on_server(evaluation: Evaluation, site: str, key: SiteKey, endpoint: str) -> str:
    """The error code of a PUT through the site's storage (save() would HEAD first, whose refusal has no code)."""
    storage = server_storage(evaluation, site, key, endpoint)
    with pytest.raises(ClientError) as refused:
        storage.connection.meta.client.put_object(Bucket=storage.bucket_name, Key="rotation/refused.txt", Body=b"x")
    return str(refused.value.response["Error"]["Code"])


def by_generation(document: dict[str, Any], site: str) -> dict[int, dict[str, Any]]:
    [entry] = [entry for entry in document["sites"] if entry["site"] == site]
    return {key["generation"]: key for key in entry["keys"]}


def test_verify_passes_with_the_new_settings_and_status_shows_each_keys_last_use(
    project: Project, server: str, tmp_path: Path
) -> None:
    first = evaluated(project)
    by_resource: dict[str, SiteKey] = {}
    operator = deploy_with_operator(first, server, by_resource)
    old = settings_keys(first, by_resource)

    status = key_status(operator, server)
    assert status["last_use_source"] == "AWS IAM GetAccessKeyLastUsed" and status["ok"] is True
    [current] = by_generation(status, "acme-live").values()
    assert current["live"]["status"] == "Active" and current["live"]["last_used"] is None, "never used yet"
    assert current["live"]["key_id"] == shortened(old["acme-live"])

    keys_command("rotate", "acme-live")
    rotated = evaluated(project)
    pending = by_generation(key_status(operator, server, "acme-live"), "acme-live")
    assert pending[1]["live"] is not None and pending[2]["live"] is None, "the rotation is written, not applied"
    [entry] = key_status(operator, server, "acme-live")["sites"]
    assert "generation 2's key does not exist yet: run the pending update" in entry["notes"]

    replay_key_update(first.resources, rotated.resources, client("iam", server, "eu-central-1"), by_resource)
    new = settings_keys(rotated, by_resource)
    before_old_use = datetime.now(UTC).replace(microsecond=0)
    with iam_enforced(), inactive_keys_refused():
        storages_upload(first, "acme-live", old["acme-live"], server)  # an instance still on the old settings
    checked = verify(rotated, by_resource, operator, server, tmp_path)
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    results = json.loads(checked.stdout)["results"]
    assert {record["status"] for record in results} <= {"pass", "n/a"} and len(results) > 10

    rotating = by_generation(key_status(operator, server, "acme-live"), "acme-live")
    assert [rotating[1]["role"], rotating[2]["role"]] == ["previous", "current"]
    for generation, key in ((1, old["acme-live"]), (2, new["acme-live"])):
        live = rotating[generation]["live"]
        assert live["key_id"] == shortened(key) and live["status"] == "Active"
        assert datetime.fromisoformat(live["last_used"]) >= before_old_use
        assert (live["last_used_service"], live["last_used_region"]) == ("s3", "eu-central-1")
    text = json.dumps(key_status(operator, server))
    assert all(secret not in text for key in by_resource.values() for secret in (key.key_id, key.secret))

    keys_command("retire", "acme-live")
    retired = evaluated(project)
    replay_key_update(rotated.resources, retired.resources, client("iam", server, "eu-central-1"), by_resource)
    with iam_enforced(), inactive_keys_refused():
        assert refused_on_server(first, "acme-live", old["acme-live"], server) == "InvalidAccessKeyId"
        storages_upload(retired, "acme-live", new["acme-live"], server)
    assert verify(retired, by_resource, operator, server, tmp_path).exit_code == 0
    after = key_status(operator, server, "acme-live")
    assert list(by_generation(after, "acme-live")) == [2] and after["sites"][0]["undeclared"] == []
    every = key_status(operator, server)
    for site in OTHERS:  # untouched: still their first generation's key, the one they were deployed with
        assert list(by_generation(every, site)) == [1]
        assert by_generation(every, site)[1]["live"]["key_id"] == shortened(old[site])


def test_status_after_revoke_shows_the_old_key_inactive_and_refused_requests_count_as_use_on_moto(
    project: Project, server: str
) -> None:
    first = evaluated(project)
    by_resource: dict[str, SiteKey] = {}
    operator = deploy_with_operator(first, server, by_resource)
    old = settings_keys(first, by_resource)
    keys_command("revoke", "acme-stage")
    revoked = evaluated(project)
    replay_key_update(first.resources, revoked.resources, client("iam", server, "eu-central-1"), by_resource)
    before_refusal = datetime.now(UTC).replace(microsecond=0)
    with iam_enforced(), inactive_keys_refused():
        assert refused_on_server(first, "acme-stage", old["acme-stage"], server) == "InvalidAccessKeyId"
    [entry] = key_status(operator, server, "acme-stage")["sites"]
    keys = {key["generation"]: key for key in entry["keys"]}
    assert (keys[1]["declared"], keys[1]["live"]["status"]) == ("inactive", "Inactive")
    assert (keys[2]["declared"], keys[2]["live"]["status"]) == ("active", "Active")
    assert entry["notes"] == [
        "rotating: retire generation 1's key once it is no longer used: "
        f"storagectl keys retire acme-stage --stack {STACK}"
    ]
    # moto counts the refused request as a use (AWS's behaviour for refused requests was not checked here).
    assert datetime.fromisoformat(keys[1]["live"]["last_used"]) >= before_refusal


def test_status_without_iam_permission_names_the_refusal_and_exits_1(project: Project, server: str) -> None:
    first = evaluated(project)
    operator = deploy_with_operator(first, server, {})
    client("iam", server, "eu-central-1").delete_user_policy(UserName="operator", PolicyName="read-keys")
    with iam_enforced():
        result = CliRunner().invoke(app, ["keys", "status", "--stack", STACK], env=operator_env(operator, server))
    assert result.exit_code == 1
    refusals = [line for line in result.stdout.splitlines() if "IAM refused" in line]
    assert len(refusals) == 3 and all(
        line.split(": ", 1)[1].startswith("IAM refused (AccessDenied)") for line in refusals
    )
    assert "could not read IAM for 3 of 3 sites" in result.stderr
    assert operator.secret not in result.stdout + result.stderr

"""A protected custom-endpoint stack (three sites, lifecycle on) run by the real engine against Ceph RGW.

Operators' and support staff's paths through the engine: `pulumi preview --policy-pack` and
`pulumi up`, refresh and drift, the secrets in the state, `storagectl settings`/`verify` reading
the stack through `pulumi stack output`, a Django upload through those settings, a targeted
`storagectl cors enable --apply`, and `storagectl sites remove --apply` on protected buckets.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from django.core.files.base import ContentFile
from storages.backends.s3 import S3Storage

from tests.support.engine import EngineStack
from tests.support.engine_state import offline_resources, registered_resources
from tests.support.rgw import Rgw, delete_bucket_and_contents

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
SHOP_ORIGIN = "https://www.shop.example"


def stack_text(rgw: Rgw, prefix: str, key_id: str) -> str:
    return f"""\
config:
  site-storage:region: custom
  site-storage:endpoint: {rgw.http_endpoint}
  site-storage:signing_region: us-east-1
  site-storage:path_style: true
  site-storage:bucket_prefix: {prefix}
  site-storage:lifecycle: true
  site-storage:access_key_id: {key_id}
  site-storage:sites:
    shop:
      cors:
        origins: [{SHOP_ORIGIN}]
    blog:
      private: false
    docs: {{}}
"""


@pytest.fixture
def deployed(rgw: Rgw, new_stack: Callable[..., EngineStack]) -> Iterator[tuple[EngineStack, Any, str]]:
    """The stack created and `pulumi up` run; yields (stack, RGW admin client, bucket prefix).

    The buckets are protected, so the engine never deletes them; the test removes them itself.
    """
    prefix = f"e{uuid.uuid4().hex[:10]}"
    stack = new_stack(stack_text(rgw, prefix, rgw.access_key))
    stack.automation().set_config("site-storage:secret_access_key", _secret(rgw.secret_key))
    admin = rgw.client("http")
    try:
        result = stack.up()
        assert result.summary.resource_changes == {"create": 15}, result.stdout
        yield stack, admin, prefix
    finally:
        for bucket in admin.list_buckets()["Buckets"]:
            if bucket["Name"].startswith(f"{prefix}-"):
                delete_bucket_and_contents(admin, bucket["Name"])


def _secret(value: str) -> Any:
    from pulumi import automation as auto

    return auto.ConfigValue(value=value, secret=True)


def buckets(admin: Any, prefix: str) -> list[str]:
    return sorted(b["Name"] for b in admin.list_buckets()["Buckets"] if b["Name"].startswith(f"{prefix}-"))


def bucket_configuration(admin: Any, bucket: str) -> dict[str, Any]:
    """What the server holds for a bucket: ACL grants, CORS, lifecycle, as returned (no request ids)."""
    view: dict[str, Any] = {"grants": admin.get_bucket_acl(Bucket=bucket)["Grants"]}
    for name, call, field in (
        ("cors", admin.get_bucket_cors, "CORSRules"),
        ("lifecycle", admin.get_bucket_lifecycle_configuration, "Rules"),
    ):
        try:
            view[name] = call(Bucket=bucket)[field]
        except admin.exceptions.ClientError as error:
            view[name] = error.response["Error"]["Code"]
    return view


def server_view(admin: Any, prefix: str) -> dict[str, str]:
    """Each bucket's configuration as canonical JSON: byte-identical means nothing changed."""
    return {
        bucket: json.dumps(bucket_configuration(admin, bucket), sort_keys=True) for bucket in buckets(admin, prefix)
    }


def test_up_creates_every_bucket_acl_cors_and_lifecycle_rule(deployed: tuple[EngineStack, Any, str]) -> None:
    _, admin, prefix = deployed
    names = [f"{prefix}-{site}-{half}" for site, half in [("shop", "public"), ("shop", "private"), ("blog", "public")]]
    names += [f"{prefix}-docs-public", f"{prefix}-docs-private"]
    assert buckets(admin, prefix) == sorted(names)
    for bucket in names:
        configuration = bucket_configuration(admin, bucket)
        assert not any(g["Grantee"].get("URI") == ALL_USERS for g in configuration["grants"]), bucket
        assert [(rule["Status"], rule["AbortIncompleteMultipartUpload"]) for rule in configuration["lifecycle"]] == [
            ("Enabled", {"DaysAfterInitiation": 7})
        ], bucket
        expected_cors: Any = "NoSuchCORSConfiguration"
        if bucket == f"{prefix}-shop-public":
            expected_cors = [
                {
                    "AllowedHeaders": ["*"],
                    "AllowedMethods": ["GET", "HEAD"],
                    "AllowedOrigins": [SHOP_ORIGIN],
                    "MaxAgeSeconds": 3600,
                }
            ]
        assert configuration["cors"] == expected_cors, bucket


def test_policy_pack_passes_and_the_offline_preview_registers_what_the_engine_did(
    deployed: tuple[EngineStack, Any, str],
) -> None:
    stack, _, _ = deployed
    checked = stack.pulumi("preview", "--policy-pack", "policy", check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "mandatory" not in checked.stdout
    offline = offline_resources(stack.storagectl("preview", "--stack", stack.name, "--json").stdout)
    state = stack.state()
    assert registered_resources(state) == offline
    assert all(r["protect"] for r in offline if r["type"].endswith(":Bucket"))
    # One configuration write per bucket at a time (RGW can lose one of two concurrent ones): the public
    # bucket's CORS waits for its lifecycle rule, which waits for the bucket.
    depends = {r["urn"].rsplit("::", 1)[1]: r.get("dependencies", []) for r in state["deployment"]["resources"]}
    assert [urn.rsplit("::", 1)[1] for urn in depends["shop-public-cors"]] == ["shop-public-lifecycle"]
    assert [urn.rsplit("::", 1)[1] for urn in depends["shop-public-lifecycle"]] == ["shop-public"]


def test_refresh_finds_no_change_then_the_drift_and_up_restores_the_declared_cors(
    deployed: tuple[EngineStack, Any, str],
) -> None:
    stack, admin, prefix = deployed
    assert stack.refresh().summary.resource_changes == {"same": 15}
    shop = f"{prefix}-shop-public"
    declared = admin.get_bucket_cors(Bucket=shop)["CORSRules"]
    admin.put_bucket_cors(
        Bucket=shop,
        CORSConfiguration={
            "CORSRules": [{"AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://evil.example"]}]
        },
    )
    assert stack.refresh().summary.resource_changes == {"same": 14, "update": 1}  # the drift, into the state
    assert stack.preview().change_summary == {"same": 14, "update": 1}
    assert stack.up().summary.resource_changes == {"same": 14, "update": 1}
    assert admin.get_bucket_cors(Bucket=shop)["CORSRules"] == declared


def test_the_state_never_holds_a_key_in_plain_text_and_site_settings_is_secret(
    deployed: tuple[EngineStack, Any, str], rgw: Rgw
) -> None:
    stack, _, _ = deployed
    exported = stack.pulumi("stack", "export", "--show-secrets=false").stdout
    assert rgw.secret_key not in exported
    state = json.loads(exported)
    stack_outputs = next(r for r in state["deployment"]["resources"] if r["type"] == "pulumi:pulumi:Stack")["outputs"]
    assert "ciphertext" in stack_outputs["site_settings"]
    assert "ciphertext" not in json.dumps(stack_outputs["sites"])
    plain = stack.pulumi("stack", "output", "--json").stdout
    assert json.loads(plain)["site_settings"] == "[secret]"
    assert rgw.secret_key not in plain
    assert rgw.secret_key not in stack.path.read_text(encoding="utf-8")


def test_settings_and_verify_read_the_stack_through_pulumi_and_a_django_upload_works(
    deployed: tuple[EngineStack, Any, str], rgw: Rgw, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack, _, _ = deployed
    assert not (stack.project.root / ".local" / f"outputs-{stack.name}.json").exists()
    printed = stack.storagectl("settings", "shop", "--stack", stack.name, "--format", "json")
    settings = json.loads(printed.stdout)
    verified = stack.storagectl("verify", "--stack", stack.name, "--json", check=False)
    records = {(r["site"], r["check"]): r["status"] for r in json.loads(verified.stdout)["results"]}
    assert verified.returncode == 0, records
    assert records[("shop", "cors")] == "pass"

    for name, value in settings["environment"].items():
        monkeypatch.setenv(name, value)
    public = S3Storage(**settings["STORAGES"]["default"]["OPTIONS"])
    private = S3Storage(**settings["STORAGES"]["private"]["OPTIONS"])
    name = public.save("uploads/photo.jpg", ContentFile(b"a photo"))
    assert requests.get(settings["MEDIA_URL"] + name, timeout=10).content == b"a photo"
    secret_name = private.save("contracts/offer.pdf", ContentFile(b"private terms"))
    bare = f"{rgw.http_endpoint}/{private.bucket_name}/{secret_name}"
    assert requests.get(bare, timeout=10).status_code == 403
    assert requests.get(private.url(secret_name), timeout=10).content == b"private terms"


def test_cors_enable_apply_updates_exactly_that_bucket(deployed: tuple[EngineStack, Any, str]) -> None:
    stack, admin, prefix = deployed
    before = server_view(admin, prefix)
    origin = "https://shop.example"
    changed = stack.storagectl("cors", "enable", "shop", "--origin", origin, "--stack", stack.name, "--apply")
    assert "pulumi up succeeded" in changed.stderr
    after = server_view(admin, prefix)
    shop = f"{prefix}-shop-public"
    assert {bucket for bucket in before if before[bucket] != after[bucket]} == {shop}
    assert sorted(json.loads(after[shop])["cors"][0]["AllowedOrigins"]) == sorted([SHOP_ORIGIN, origin])  # RGW sorts
    # A targeted update counts every other resource of the stack as unchanged.
    assert stack.last_update_changes() == {"same": 14, "update": 1}


def test_sites_remove_apply_on_protected_buckets_is_refused_by_the_engine(
    deployed: tuple[EngineStack, Any, str],
) -> None:
    stack, admin, prefix = deployed
    admin.put_object(Bucket=f"{prefix}-blog-public", Key="posts/cover.jpg", Body=b"cover")
    before = buckets(admin, prefix)
    # --unprotected claims the decommission steps were done; the state says otherwise.
    removed = stack.storagectl(
        "sites", "remove", "blog", "--stack", stack.name, "--unprotected", "--apply", check=False
    )
    assert removed.returncode != 0
    last = removed.stderr.strip().splitlines()[-1]
    assert last.startswith("pulumi up failed"), removed.stderr
    assert "protected" in removed.stdout + removed.stderr
    assert buckets(admin, prefix) == before
    assert admin.get_object(Bucket=f"{prefix}-blog-public", Key="posts/cover.jpg")["Body"].read() == b"cover"


def test_decommission_with_protect_lifted_still_keeps_a_bucket_that_holds_objects(
    deployed: tuple[EngineStack, Any, str],
) -> None:
    stack, admin, prefix = deployed
    bucket = f"{prefix}-blog-public"
    admin.put_object(Bucket=bucket, Key="posts/cover.jpg", Body=b"cover")
    component = "site-storage:index:SiteStorage"
    urn = f"urn:pulumi:{stack.name}::site-storage::{component}$pulumi-python:dynamic/s3:Bucket::blog-public"
    stack.pulumi("state", "unprotect", urn, "--yes")
    removed = stack.storagectl(
        "sites", "remove", "blog", "--stack", stack.name, "--unprotected", "--apply", check=False
    )
    assert removed.returncode != 0
    assert "holds objects" in removed.stdout + removed.stderr
    assert admin.get_object(Bucket=bucket, Key="posts/cover.jpg")["Body"].read() == b"cover"

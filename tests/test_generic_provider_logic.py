"""The generic-S3 provider's rules that need no server: what check refuses, what diff calls a
change, where the key comes from, and that the pickled provider stored in state holds no key."""

from __future__ import annotations

import base64
import subprocess
import sys
from typing import Any

import pytest
from pulumi.dynamic import Config, ConfigureRequest
from pulumi.dynamic.dynamic import serialize_provider

from components.generic_s3.connection import Clients, Credentials, ProviderError, region_props
from components.generic_s3.providers import (
    BucketCorsProvider,
    BucketEncryptionProvider,
    BucketLifecycleProvider,
    BucketProvider,
)
from components.generic_s3.resources import PROVIDER_CLASSES, PROVIDERS
from components.regions import resolve_region
from tests.support.stacks import ROOT

EXOSCALE = region_props(resolve_region("exoscale-ch-gva-2"))
CUSTOM = region_props(resolve_region("custom", endpoint="https://minio.example.com"))
CORS_RULE = {"allowedOrigins": ["https://a.example"], "allowedMethods": ["GET"], "maxAgeSeconds": 3600.0}


def _failures(provider: Any, inputs: dict[str, Any]) -> list[tuple[str, str]]:
    return [(failure.property, failure.reason) for failure in provider.check({}, inputs).failures]


def test_check_refuses_a_resource_the_region_catalog_does_not_have() -> None:
    """Custom endpoints have no SSE configuration in the catalog: the provider refuses to call it."""
    inputs = {"region": CUSTOM, "bucket": "lab-a-public", "sseAlgorithm": "AES256"}
    assert _failures(BucketEncryptionProvider(), inputs) == [
        ("region", "region custom has no encryption (region catalog)")
    ]
    assert _failures(BucketEncryptionProvider(), {**inputs, "region": EXOSCALE}) == []


def test_check_refuses_a_region_outside_the_catalog() -> None:
    inputs = {"region": {**EXOSCALE, "id": "exoscale-xx-nowhere-1"}, "bucket": "a-b-public", "acl": "private"}
    assert _failures(BucketProvider(), inputs) == [
        ("region", "region: 'exoscale-xx-nowhere-1' is not in the region catalog (components/regions.py)")
    ]


@pytest.mark.parametrize(
    ("provider", "inputs", "failure"),
    [
        (BucketProvider(), {"bucket": "Bad_Name", "acl": "private"}, "bucket"),
        (BucketProvider(), {"bucket": "a-b-public", "acl": "public-read"}, "acl"),
        (BucketProvider(), {"bucket": "a-b-public", "acl": "public-read-write"}, "acl"),
        (BucketCorsProvider(), {"bucket": "a-b-public", "corsRules": []}, "corsRules"),
        (
            BucketCorsProvider(),
            {"bucket": "a-b-public", "corsRules": [{**CORS_RULE, "allowedMethods": ["PATCH"]}]},
            "corsRules[0].allowedMethods",
        ),
        (
            BucketCorsProvider(),
            {"bucket": "a-b-public", "corsRules": [{**CORS_RULE, "maxAgeSeconds": 1.5}]},
            "corsRules[0].maxAgeSeconds",
        ),
        (
            BucketCorsProvider(),
            {"bucket": "a-b-public", "corsRules": [{**CORS_RULE, "allowedOrigins": []}]},
            "corsRules[0].allowedOrigins",
        ),
        (
            BucketLifecycleProvider(),
            {
                "bucket": "a-b-public",
                "rules": [{"id": "x", "status": "Enabled", "abortIncompleteMultipartUploadDays": 0}],
            },
            "rules[0].abortIncompleteMultipartUploadDays",
        ),
        (BucketEncryptionProvider(), {"bucket": "a-b-public", "sseAlgorithm": "aws:kms"}, "sseAlgorithm"),
    ],
)
def test_check_refuses_bad_inputs_naming_the_property(provider: Any, inputs: dict[str, Any], failure: str) -> None:
    failures = _failures(provider, {"region": EXOSCALE, **inputs})
    assert [prop for prop, _ in failures] == [failure]


def test_check_accepts_the_wire_formats_whole_floats() -> None:
    """The engine hands numbers over as floats (3600.0): still whole numbers."""
    rules = [{"id": "x", "status": "Enabled", "abortIncompleteMultipartUploadDays": 7.0}]
    assert _failures(BucketLifecycleProvider(), {"region": EXOSCALE, "bucket": "a-b-public", "rules": rules}) == []
    assert _failures(BucketCorsProvider(), {"region": EXOSCALE, "bucket": "a-b-public", "corsRules": [CORS_RULE]}) == []


def test_diff_sees_only_real_changes() -> None:
    provider = BucketCorsProvider()
    old = {"region": EXOSCALE, "bucket": "a-b-public", "corsRules": [{**CORS_RULE, "maxAgeSeconds": 3600}]}
    assert provider.diff("a-b-public", old, {**old, "corsRules": [CORS_RULE], "__provider": "x"}).changes is False
    wider = {**old, "corsRules": [{**CORS_RULE, "allowedOrigins": ["https://a.example", "https://b.example"]}]}
    diff = provider.diff("a-b-public", old, wider)
    assert (diff.changes, diff.replaces) == (True, [])
    renamed = BucketProvider().diff(
        "a",
        {"region": EXOSCALE, "bucket": "a", "acl": "private"},
        {"region": EXOSCALE, "bucket": "b", "acl": "private"},
    )
    assert renamed.replaces == ["bucket"]


def test_the_key_comes_from_the_stack_config_and_never_into_the_pickled_provider() -> None:
    """configure takes the stack's key from the config the engine hands over; the provider pickled
    into every resource's state is the same ~60 bytes before and after, with no key in it."""
    fresh = serialize_provider(BucketProvider())
    provider = BucketProvider()
    config = {"site-storage:access_key_id": "EXOkey1234", "site-storage:secret_access_key": "s3cr3t/value"}
    provider.configure(ConfigureRequest(Config(config, "site-storage")))
    assert provider._clients is not None and provider._clients.credentials == Credentials("EXOkey1234", "s3cr3t/value")
    pickled = serialize_provider(provider)
    assert pickled == fresh and len(pickled) < 120
    assert b"s3cr3t" not in base64.b64decode(pickled) and b"EXOkey" not in base64.b64decode(pickled)
    connected = BucketProvider().connect(Clients(Credentials("EXOkey1234", "s3cr3t/value")))
    assert serialize_provider(connected) == fresh


def test_without_the_key_in_the_config_the_provider_says_which_keys_and_shows_none() -> None:
    provider = BucketProvider()
    provider.configure(ConfigureRequest(Config({"site-storage:access_key_id": "EXOkey1234"}, "site-storage")))
    with pytest.raises(ProviderError) as refused:
        provider.create({"region": EXOSCALE, "bucket": "a-b-public", "acl": "private"})
    message = str(refused.value)
    assert "site-storage:access_key_id" in message and "site-storage:secret_access_key" in message
    assert "EXOkey1234" not in message


def test_every_type_has_one_provider_and_repr_hides_the_secret() -> None:
    assert set(PROVIDERS) == set(PROVIDER_CLASSES)
    assert "s3cr3t" not in repr(Credentials("k", "s3cr3t"))


CANARY = """
from pulumi.dynamic import ResourceProvider
from pulumi.dynamic.dynamic import serialize_provider
from components.generic_s3.resources import PROVIDERS

class WithState(ResourceProvider):
    def __init__(self):
        self.state = {"a": 1}

for _ in range(1500):
    serialize_provider(PROVIDERS["pulumi-python:dynamic/s3:Bucket"])
serialize_provider(PROVIDERS["pulumi-python:dynamic/s3:BucketCors"])
print("stateless provider: pickled")
try:
    serialize_provider(WithState())
except RecursionError:
    print("provider with a dict: RecursionError")
"""


def test_stateless_providers_survive_the_sdks_growing_pickler_wrappers() -> None:
    """pulumi 3.272 re-wraps pickle's _batch_setitems on every serialize_provider call, so after
    1,500 dynamic resources a provider whose pickle holds a dict overflows the stack (the canary);
    ours pickle as a bare class reference and are unaffected. A fresh interpreter: the wrappers
    pile up for the life of the process."""
    result = subprocess.run([sys.executable, "-c", CANARY], capture_output=True, text=True, cwd=ROOT, check=True)
    assert result.stdout.splitlines() == ["stateless provider: pickled", "provider with a dict: RecursionError"]

"""`storagectl media` through the AWS CRT's client on Ceph RGW's https endpoint: CA bundles and proxies.

Small objects go through awscrt (storagectl/media/crt_client.py); everything the run does
besides (listing, multipart, the anonymous check) goes through botocore and urllib3. These
tests hold the CRT to what botocore does with the same settings, on a real TLS server: it
trusts the CA that AWS_CA_BUNDLE or the AWS config file's `ca_bundle` names and nothing else,
and it goes through HTTPS_PROXY unless NO_PROXY names the host. Each run's `client` record
says which client moved how many objects; a fallback to botocore is named there.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore.credentials
import pytest
from typer.testing import Result

from components.generic_s3.connection import Clients, Credentials
from storagectl.local.command import evaluation_with_key
from storagectl.media import crt_client
from storagectl.media.stores import BucketStore
from storagectl.media.transfer import attach_crt
from storagectl.provision import provision
from storagectl.stack_files import read_stack_file
from storagectl.verify import clients
from storagectl.verify.plan import BucketTarget, SiteTarget
from storagectl.verify.plan import Credentials as SiteCredentials
from tests.support.cli_project import copy_project, invoke
from tests.support.connect_proxy import ConnectProxy
from tests.support.generic_servers import GenericStack, S3Server
from tests.support.media import bucket_objects, folder_files, media_folder, summary
from tests.support.rgw import Rgw, delete_bucket_and_contents
from tests.support.stacks import write_stack

STACK = "crt-https"
SITE = "shop-live"
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY")


@dataclass(frozen=True)
class Deployed:
    rgw: Rgw
    stack: GenericStack
    outputs: Path
    access_key: str
    secret_key: str

    def s3(self) -> Any:
        return self.rgw.client(access_key=self.access_key, secret_key=self.secret_key)

    def bucket(self, kind: str) -> str:
        return self.stack.bucket(SITE, kind)


@pytest.fixture
def no_proxy_or_ca(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing from the machine's environment: each test sets the CA and proxy it is about."""
    for name in (*PROXY_VARIABLES, "AWS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.delenv(crt_client.CHOICE_VARIABLE, raising=False)


@pytest.fixture
def deployed(rgw: Rgw, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_proxy_or_ca: None) -> Iterator[Deployed]:
    """One site's buckets on RGW's https endpoint, made by the provider code; its outputs file."""
    endpoint = rgw.endpoint("https")
    user = rgw.user(f"media-crt-{uuid.uuid4().hex[:10]}")
    project = copy_project(tmp_path / "project", examples=False)
    stack = GenericStack(S3Server("rgw", endpoint, user.access_key, user.secret_key), project.root / "stacks")
    path = write_stack(project.root / "stacks", stack.values({SITE: {}}), name=STACK)
    credentials = Credentials(user.access_key, user.secret_key)
    evaluation = evaluation_with_key(read_stack_file(path), credentials)
    with monkeypatch.context() as trusting:
        trusting.setenv("AWS_CA_BUNDLE", str(rgw.ca_bundle))
        provision(evaluation.resources, Clients(credentials))
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(evaluation.outputs), encoding="utf-8")
    monkeypatch.chdir(project.root)
    found = Deployed(rgw, stack, outputs, user.access_key, user.secret_key)
    try:
        yield found
    finally:
        for kind in ("public", "private"):
            delete_bucket_and_contents(found.s3(), found.bucket(kind))


def media(deployed: Deployed, *args: str) -> Result:
    return invoke("media", *args, "--stack", STACK, "--outputs", str(deployed.outputs), "--json")


def ok(result: Result) -> dict[str, Any]:
    assert result.exit_code == 0, result.stdout + result.stderr
    return summary(result.stdout)


def round_trip(deployed: Deployed, tmp_path: Path) -> None:
    """Push a folder and pull it back; every small object both ways through the CRT; privacy checked."""
    folder = media_folder(tmp_path / "media")
    count = len(folder_files(folder))
    pushed = ok(media(deployed, "push", SITE, str(folder), "--check", "all"))
    assert pushed["client"] == {"awscrt": count, "botocore": 0, "botocore_because": {}}
    assert pushed["privacy"]["failed"] == [] and pushed["privacy"]["checked"] == count
    copy = tmp_path / "copy"
    pulled = ok(media(deployed, "pull", SITE, str(copy)))
    assert pulled["client"] == {"awscrt": count, "botocore": 0, "botocore_because": {}}
    assert folder_files(copy) == folder_files(folder)


def test_aws_ca_bundle_is_what_the_crt_trusts(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(deployed.rgw.ca_bundle))
    round_trip(deployed, tmp_path)


def test_the_aws_config_files_ca_bundle_for_a_custom_endpoint(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "aws-config"
    config.write_text(f"[default]\nca_bundle = {deployed.rgw.ca_bundle}\n", encoding="utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    round_trip(deployed, tmp_path)


def test_without_the_ca_nothing_is_written_and_the_failure_is_one_line(deployed: Deployed, tmp_path: Path) -> None:
    """Neither client trusts RGW's throwaway CA on its own: the run stops at its listing, nothing sent."""
    result = media(deployed, "push", SITE, str(media_folder(tmp_path / "media")))
    assert result.exit_code == 1
    assert "Traceback" not in result.stdout + result.stderr
    assert "TLS with https://localhost failed" in result.stderr
    with pytest.MonkeyPatch.context() as trusting:
        trusting.setenv("AWS_CA_BUNDLE", str(deployed.rgw.ca_bundle))
        assert bucket_objects(deployed.s3(), deployed.bucket("public")) == {}


def test_https_proxy_carries_the_run(deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(deployed.rgw.ca_bundle))
    with ConnectProxy() as proxy:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        round_trip(deployed, tmp_path)
        assert proxy.tunnels and set(proxy.tunnels) == {"localhost:443"}


def crt_store(deployed: Deployed) -> BucketStore:
    """The site's public bucket as `media push` sees it, with a CRT client attached the way a run attaches it."""
    site = SiteTarget(
        slug=SITE,
        endpoint_url=deployed.rgw.endpoint("https"),
        region_name=deployed.rgw.region,
        signature_version="s3v4",
        addressing_style="path",
        credentials=SiteCredentials(deployed.access_key, deployed.secret_key),
        public=BucketTarget(deployed.bucket("public"), "public-read"),
        private=None,
        media_url="",
        cors=None,
    )
    store = BucketStore(
        "test",
        None,
        ("https://localhost", "test"),
        {"public": deployed.bucket("public")},
        site=site,
        acls={"public": "public-read"},
        credentials=botocore.credentials.Credentials(deployed.access_key, deployed.secret_key),
    )
    attach_crt(store, 4)
    return store


BODY = b"through the CRT"


def put_through_the_crt(store: BucketStore, key: str, md5: str = hashlib.md5(BODY).hexdigest()) -> str:
    assert store.crt is not None, store.tally.unavailable
    headers = crt_client.request_headers({"ACL": "public-read"})
    return store.crt.put(store.buckets["public"], key, BODY, headers, md5)


def test_the_server_checks_the_md5_the_crt_sends(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The PUT carries the body's MD5 (Content-MD5): a body that differs from it is refused, not stored."""
    monkeypatch.setenv("AWS_CA_BUNDLE", str(deployed.rgw.ca_bundle))
    store = crt_store(deployed)
    assert put_through_the_crt(store, "checked.txt") == hashlib.md5(BODY).hexdigest()
    with pytest.raises(crt_client.Refused) as refused:
        put_through_the_crt(store, "corrupted.txt", md5=hashlib.md5(b"other bytes").hexdigest())
    assert (refused.value.status, refused.value.code) == (400, "BadDigest")
    assert set(bucket_objects(deployed.s3(), deployed.bucket("public"))) == {"checked.txt"}


@pytest.mark.parametrize("variable", ["HTTPS_PROXY", "https_proxy"])
def test_the_crt_itself_tunnels_through_the_proxy_and_honours_no_proxy(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """Only the CRT makes requests here, so every tunnel the proxy saw is the CRT's."""
    monkeypatch.setenv("AWS_CA_BUNDLE", str(deployed.rgw.ca_bundle))
    with ConnectProxy() as proxy:
        monkeypatch.setenv(variable, proxy.url)
        assert put_through_the_crt(crt_store(deployed), "proxied.txt")
        assert proxy.tunnels == ["localhost:443"]

        proxy.refusing = True
        with pytest.raises(crt_client.CrtFailed):
            put_through_the_crt(crt_store(deployed), "refused.txt")

        monkeypatch.setenv("NO_PROXY", "localhost")
        before = len(proxy.tunnels)
        assert put_through_the_crt(crt_store(deployed), "direct.txt")
        assert len(proxy.tunnels) == before
    assert set(bucket_objects(deployed.s3(), deployed.bucket("public"))) == {"proxied.txt", "direct.txt"}


def test_the_crt_trusts_only_the_ca_botocore_would(deployed: Deployed, monkeypatch: pytest.MonkeyPatch) -> None:
    # s2n delays a failed handshake by 10-30 s on purpose (two tries here): time for the CRT to say why.
    monkeypatch.setattr(clients, "READ_TIMEOUT_SECONDS", 90)
    with pytest.raises(crt_client.CrtFailed, match="TLS"):
        put_through_the_crt(crt_store(deployed), "untrusted.txt")
    monkeypatch.setenv("AWS_CA_BUNDLE", str(deployed.rgw.ca_bundle))
    assert put_through_the_crt(crt_store(deployed), "trusted.txt")


def test_botocore_chosen_in_the_environment_moves_every_object_and_says_why(
    deployed: Deployed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(deployed.rgw.ca_bundle))
    monkeypatch.setenv(crt_client.CHOICE_VARIABLE, "botocore")
    folder = media_folder(tmp_path / "media")
    plain = invoke("media", "push", SITE, str(folder), "--stack", STACK, "--outputs", str(deployed.outputs))
    assert plain.exit_code == 0, plain.stdout + plain.stderr
    count = len(folder_files(folder))
    assert f"client: botocore {count} objects ({crt_client.CHOICE_VARIABLE}=botocore)" in plain.stdout


@pytest.mark.parametrize(
    ("proxy", "reason"),
    [
        ("https://127.0.0.1:9", "the https proxy is reached over https"),
        ("http://user:pass@127.0.0.1:9", "the proxy takes credentials"),
    ],
)
def test_a_proxy_the_crt_was_not_tried_with_leaves_it_unused_and_named(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch, proxy: str, reason: str
) -> None:
    monkeypatch.setenv("AWS_CA_BUNDLE", str(deployed.rgw.ca_bundle))
    monkeypatch.setenv("HTTPS_PROXY", proxy)
    store = crt_store(deployed)
    assert store.crt is None and store.tally.unavailable is not None
    assert store.tally.unavailable.startswith(reason)
    assert "pass" not in store.tally.unavailable, "a proxy's password is never shown"

"""`storagectl local up|down|status`: the local example stack for real, on a moto server, no Pulumi CLI.

The flow a newcomer runs: `local up` (starting the server), `settings demo --format env`, a
Django `manage.py shell` upload through those settings, `verify`, then `local down`, which
keeps media unless `--delete-media` is given. The stack is the example `local` stack with
only its port changed, so parallel test runs do not meet on port 5000.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
import requests

from storagectl.local import server
from storagectl.pulumi_runner import use_runner
from tests.support.cli_project import Project, RecordingRunner, copy_project, invoke
from tests.support.local_project import local_project
from tests.support.stacks import example_stack

SITE = "demo"
PUBLIC, PRIVATE = "local-media-demo-public", "local-media-demo-private"
MANAGE = """\
import sys
from django.core.management import execute_from_command_line

execute_from_command_line(sys.argv)
"""
SETTINGS = """\
from storage_settings import *  # noqa: F403 (what `storagectl settings --format python` printed)

SECRET_KEY = "test"
INSTALLED_APPS = []
DATABASES = {}
"""
SHELL = """\
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
name = default_storage.save("uploads/hello.txt", ContentFile(b"hello from manage.py shell"))
secret = storages["private"].save("contracts/terms.txt", ContentFile(b"private terms"))
for line in (name, secret, default_storage.url(name), storages["private"].url(secret)):
    print(line)
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Project, str]]:
    """A project copy whose local stack points at a free port; stops any server the test left."""
    for name in ("AWS_REQUEST_CHECKSUM_CALCULATION", "AWS_RESPONSE_CHECKSUM_VALIDATION"):
        monkeypatch.delenv(name, raising=False)
    with local_project(tmp_path / "project", monkeypatch) as found:
        yield found


def _outputs(project: Project) -> Path:
    return project.root / ".local" / "outputs-local.json"


def test_local_up_starts_the_server_creates_the_storage_and_writes_real_outputs(project) -> None:
    project, endpoint = project
    result = invoke("local", "up", "--stack", "local")
    assert result.exit_code == 0, result.stderr
    assert f"started a moto server on {endpoint}" in result.stderr
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    assert {PUBLIC, PRIVATE} <= {bucket["Name"] for bucket in s3.list_buckets()["Buckets"]}
    [cors] = s3.get_bucket_cors(Bucket=PUBLIC)["CORSRules"]
    assert cors["AllowedOrigins"]
    path = _outputs(project)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600, "the outputs hold the server's key"
    outputs = json.loads(path.read_text(encoding="utf-8"))
    assert set(outputs) == {"region", "endpoint_url", "region_notes", "sites", "site_settings"}
    options = outputs["site_settings"][SITE]["STORAGES"]["default"]["OPTIONS"]
    assert (options["access_key"], options["secret_key"]) == ("testing", "testing"), (
        "the server's key, not a placeholder"
    )
    assert options["endpoint_url"] == endpoint
    # Where the settings are and how to print them; never the keys themselves.
    assert result.stdout == ""
    assert "testing" not in result.stdout + result.stderr, "the server's key"
    assert "wrote the stack outputs to .local/outputs-local.json (mode 0600, git-ignored)" in result.stderr
    assert result.stderr.splitlines()[-2:] == [
        "each site's Django settings (they hold the server's key: keep them in .local/, out of git and logs):",
        "  (umask 077; storagectl settings demo --stack local --format env > .local/demo.env)",
    ]

    again = invoke("local", "up", "--stack", "local")
    assert again.exit_code == 0, again.stderr
    assert f"using the moto server an earlier `storagectl local up` started on {endpoint} (pid " in again.stderr
    assert "stack local: 0 of 3 resources created or updated" in again.stderr


def test_settings_then_a_django_shell_upload_then_verify_work_on_the_local_stack(project, tmp_path: Path) -> None:
    project, endpoint = project
    assert invoke("local", "up", "--stack", "local").exit_code == 0
    # No --outputs, as the README's "Try it locally" runs them, and no Pulumi CLI to fall back on.
    runner = RecordingRunner(is_available=False)
    with use_runner(runner):
        env_format = invoke("settings", SITE, "--stack", "local", "--format", "env")
        printed = invoke("settings", SITE, "--stack", "local", "--format", "python")
        verified = invoke("verify", "--stack", "local", "--json")
    assert runner.calls == []
    assert env_format.exit_code == 0, env_format.stderr
    assert "the outputs `storagectl local up --stack local` wrote: .local/outputs-local.json" in env_format.stderr
    assert "STORAGES=" in env_format.stdout
    assert printed.exit_code == 0, printed.stderr
    site = tmp_path / "site"
    site.mkdir()
    (site / "storage_settings.py").write_text(printed.stdout, encoding="utf-8")
    (site / "settings.py").write_text(SETTINGS, encoding="utf-8")
    (site / "manage.py").write_text(MANAGE, encoding="utf-8")
    environment = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}
    environment.update(DJANGO_SETTINGS_MODULE="settings", PYTHONPATH=str(site))
    shell = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", SHELL],
        cwd=site,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shell.returncode == 0, shell.stderr
    name, secret, public_url, signed_url = shell.stdout.strip().splitlines()[-4:]
    assert public_url == f"{endpoint}/{PUBLIC}/{name}"
    assert requests.get(public_url, timeout=10).content == b"hello from manage.py shell"
    assert requests.get(f"{endpoint}/{PRIVATE}/{secret}", timeout=10).status_code == 403
    assert requests.get(signed_url, timeout=10).content == b"private terms"

    records = {(r["site"], r["check"]): (r["status"], r["reason"]) for r in json.loads(verified.stdout)["results"]}
    assert records[(SITE, "public.anonymous-read")][0] == "pass" and records[(SITE, "cors")][0] == "pass"
    # Plain moto 5.2.5 lists every bucket to anyone whatever its ACL; the server `local up` starts
    # refuses those listings as S3 does (storagectl/local/moto_gaps.py), so every check passes.
    failing = {key: status for key, (status, _) in records.items() if status not in ("pass", "n/a")}
    assert failing == {}
    assert verified.exit_code == 0, verified.stderr
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for bucket, check in ((PUBLIC, "public.anonymous-list"), (PRIVATE, "private.anonymous-list")):
        grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
        assert [grant["Grantee"]["Type"] for grant in grants] == ["CanonicalUser"], "the stack's ACL: owner only"
        assert requests.get(f"{endpoint}/{bucket}/", timeout=10).status_code == 403, "an anonymous listing"
        assert records[(SITE, check)] == ("pass", f"anonymous listing GET {endpoint}/{bucket}/ was refused (HTTP 403)")


def test_local_down_keeps_media_unless_asked_and_stops_only_its_own_server(project) -> None:
    project, endpoint = project
    assert invoke("local", "up", "--stack", "local").exit_code == 0
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    s3.put_object(Bucket=PUBLIC, Key="uploads/keep.jpg", Body=b"media")
    kept = invoke("local", "down", "--stack", "local")
    assert kept.exit_code == 1
    # The next step is this command's option (after a backup), not the provider's "run the update again".
    assert f"kept demo-public: bucket {PUBLIC} holds objects, and local down deletes no media unasked" in (
        kept.stderr.splitlines()
    )
    assert kept.stderr.splitlines()[-1] == (
        "kept 1 resource. To delete the media too: back it up first if it matters "
        "(`storagectl media backup demo --stack local`), then run `storagectl local down --stack local --delete-media`"
    )
    assert "update again" not in kept.stderr
    assert s3.get_object(Bucket=PUBLIC, Key="uploads/keep.jpg")["Body"].read() == b"media"
    assert server.answers(endpoint), "a server holding media keeps running"
    assert _outputs(project).exists()

    gone = invoke("local", "down", "--stack", "local", "--delete-media")
    assert gone.exit_code == 0, gone.stderr
    assert f"deleted 1 object from {PUBLIC}" in gone.stderr
    assert not _outputs(project).exists()
    assert not server.answers(endpoint), "the server local up started is stopped once empty"


def test_local_down_never_stops_a_server_it_did_not_start(project, fresh_moto_server: str) -> None:
    project, _ = project
    text = project.stack_file("local").read_text(encoding="utf-8")
    endpoint = text.split("site-storage:endpoint: ")[1].split()[0]
    project.stack_file("local").write_text(text.replace(endpoint, fresh_moto_server), encoding="utf-8")
    up = invoke("local", "up", "--stack", "local")
    assert up.exit_code == 0 and f"using the S3 server answering on {fresh_moto_server}" in up.stderr
    assert invoke("local", "down", "--stack", "local").exit_code == 0
    assert server.answers(fresh_moto_server)


def test_local_status_names_the_server_the_outputs_and_each_bucket(project) -> None:
    project, endpoint = project
    before = invoke("local", "status", "--stack", "local")
    assert before.exit_code == 1 and f"server {endpoint}: not answering" in before.stdout
    assert invoke("local", "up", "--stack", "local").exit_code == 0
    after = invoke("local", "status", "--stack", "local")
    assert after.exit_code == 0, after.stdout
    assert "(started by local up, pid" in after.stdout
    assert f"  demo: {PUBLIC}: 0 objects" in after.stdout


@pytest.mark.parametrize("stack", ["aws-eu-central-1", "exoscale-ch-gva-2"])
def test_local_up_refuses_a_stack_that_is_not_local(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stack: str
) -> None:
    project = copy_project(tmp_path / "project")
    monkeypatch.chdir(project.root)
    result = invoke("local", "up", "--stack", stack)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"stacks/Pulumi.{stack}.yaml: region: storagectl local works on stacks of region custom whose endpoint is on "
        f"this machine (127.0.0.1, localhost); stack {stack} is region {stack}: deploy it with `pulumi up` (Pulumi CLI)"
    ]
    assert not (project.root / ".local").exists()


def _passphrase_crypter(encryption_salt: str, passphrase: str) -> Callable[[str], str]:
    """Pulumi's passphrase secrets provider: PBKDF2-SHA256 (1,000,000 rounds) over the salt, AES-256-GCM."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    version, salt, check = encryption_salt.split(":", 2)
    assert version == "v1"
    cipher = AESGCM(hashlib.pbkdf2_hmac("sha256", passphrase.encode(), base64.b64decode(salt), 1_000_000, 32))

    def decrypt(value: str) -> str:
        version, nonce, sealed = value.split(":")
        assert version == "v1"
        return cipher.decrypt(base64.b64decode(nonce), base64.b64decode(sealed), None).decode()

    # Pulumi keeps "pulumi" encrypted beside the salt to tell a wrong passphrase.
    assert decrypt(check) == "pulumi"
    return decrypt


def test_the_local_stack_file_is_one_the_pulumi_cli_can_decrypt() -> None:
    # A `secure:` value without `encryptionsalt` makes every `pulumi` command on the stack fail.
    from ruamel.yaml import YAML

    document = YAML(typ="safe").load(example_stack("local").read_text(encoding="utf-8"))
    decrypt = _passphrase_crypter(document["encryptionsalt"], "local")
    assert decrypt(document["config"]["site-storage:secret_access_key"]["secure"]) == "testing"


def test_the_readme_writes_the_settings_where_git_does_not_look_and_says_they_hold_keys() -> None:
    """The README's "Try it locally" redirects the settings (the server's key) into .local/, owner-only."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Try it locally", 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    [line] = [line for line in block.splitlines() if "storagectl settings" in line]
    command = line.split("#")[0].strip()
    assert command == "(umask 077; storagectl settings demo --stack local --format env > .local/demo.env)"
    assert "holds the key" in line
    ignored = subprocess.run(["git", "check-ignore", "-q", ".local/demo.env"], cwd=root, check=False)
    assert ignored.returncode == 0, ".local/ must be git-ignored"


def test_the_local_folder_and_the_server_log_are_owner_only_under_umask_000(project, tmp_path: Path) -> None:
    project, endpoint = project
    port = endpoint.rsplit(":", 1)[1]
    previous = os.umask(0)
    try:
        assert invoke("local", "up", "--stack", "local").exit_code == 0
        folder = tmp_path / "media"
        (folder / "private").mkdir(parents=True)
        (folder / "private" / "terms.pdf").write_bytes(b"%PDF")
        assert invoke("media", "push", SITE, str(folder), "--stack", "local").exit_code == 0
    finally:
        os.umask(previous)
    local = project.root / ".local"
    modes = {
        path.relative_to(local).as_posix(): stat.S_IMODE(path.stat().st_mode) for path in [local, *local.rglob("*")]
    }
    assert {f"s3-server-{port}.log", f"s3-server-{port}.json", "outputs-local.json", "media-uploads"} <= set(modes)
    assert modes == {name: 0o700 if (local / name).is_dir() else 0o600 for name in modes}

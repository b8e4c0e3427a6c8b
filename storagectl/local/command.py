"""`storagectl local up|down|status --stack NAME`: a local stack's storage, for real, without Pulumi.

`up` finds (or starts) the local S3 server, creates the stack's buckets, bucket ACLs, CORS
and lifecycle rules with the same provider code generic-S3 regions deploy with
(storagectl.provision), and writes the stack's outputs, in the exact shape of `pulumi stack
output --json --show-secrets` and with the server's real key, where `storagectl settings`
and `storagectl verify` read them by default. Running it again changes only what differs.
`down` deletes the stack's buckets that hold nothing; with `--delete-media` it deletes their
objects first. Only stacks of region custom whose endpoint is on this machine qualify.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError

from components.config import ConfigError, StackSettings, parse_settings
from components.generic_s3.connection import Clients, Credentials, region_of
from storagectl.atomic_files import locked, write_atomic
from storagectl.commands import EXIT_FAILED, OpenStack, StackOption, fail, open_stack, say
from storagectl.local import server
from storagectl.local_outputs import LOCAL_DIR, local_outputs_path, local_up_command
from storagectl.stack_files import StackFile, display_path
from storagectl.verify.results import KEY_REJECTED_CODES
from storagectl.wording import counted

if TYPE_CHECKING:
    from storagectl.offline import Evaluation, RecordedResource

# storagectl.offline and storagectl.provision load the Pulumi SDK (~0.4 s): imported where used, so
# `storagectl media` and `storagectl --help` start without it.

app = typer.Typer(
    help="A local stack's storage on a local S3 server (moto, started when nothing answers), without the Pulumi CLI.",
    no_args_is_help=True,
)

DEFAULT_SECRET = "testing"
"""moto's conventional secret; moto accepts any key, a real local server (RGW, MinIO) needs its own."""
KeyIdOption = Annotated[
    str | None,
    typer.Option(
        "--access-key-id",
        envvar="LOCAL_S3_ACCESS_KEY_ID",
        help="The local server's access key id; left out, the stack's site-storage:access_key_id.",
    ),
]
SecretOption = Annotated[
    str,
    typer.Option(
        "--secret-access-key",
        envvar="LOCAL_S3_SECRET_ACCESS_KEY",
        help="The local server's secret key (moto takes any).",
        show_default=False,
    ),
]


@dataclass(frozen=True)
class LocalStack:
    opened: OpenStack
    credentials: Credentials

    @property
    def name(self) -> str:
        return self.opened.name

    @property
    def endpoint(self) -> str:
        return self.opened.settings.region.endpoint_url

    def evaluation(self) -> Evaluation:
        return evaluation_with_key(self.opened.file, self.credentials)

    def clients(self) -> Clients:
        return Clients(self.credentials)


def evaluation_with_key(file: StackFile, credentials: Credentials) -> Evaluation:
    from storagectl.offline import evaluate_values

    """The program under the mock runtime with `credentials` as the stack's key, in place of the
    placeholder offline preview uses: the outputs then hold what a site really needs."""
    values = {**file.values, "access_key_id": credentials.key_id, "secret_access_key": credentials.secret}
    secret_keys = file.secret_keys | {"secret_access_key"}
    settings: StackSettings = parse_settings(
        values,
        stack=file.stack,
        source=file.source,
        secret_keys=secret_keys | file.other_secret_keys,
        provider_config=file.other_config,
    )
    return evaluate_values(
        settings, values, secret_keys, other_config=file.other_config, other_secret_keys=file.other_secret_keys
    )


def _local_stack(stack: str, key_id: str | None, secret: str) -> LocalStack:
    opened = open_stack(stack)
    region = opened.settings.region
    if region.kind != "custom" or not server.is_loopback(region.endpoint_url):
        where = region.endpoint_url if region.kind == "custom" else f"region {region.id}"
        raise fail(
            [
                f"{opened.source}: region: storagectl local works on stacks of region custom whose endpoint is on "
                f"this machine (127.0.0.1, localhost); stack {stack} is {where}: deploy it with `pulumi up` "
                "(Pulumi CLI)"
            ]
        )
    return LocalStack(opened, Credentials(key_id or opened.settings.access_key_id or "", secret))


def _write_outputs(path: Path, outputs: dict[str, Any]) -> None:
    """Atomically (it appears only complete), readable by the owner only: the file holds the server's key."""
    write_atomic(path, json.dumps(outputs, indent=2) + "\n", private=True)


def _remove_outputs(stack: str) -> None:
    """Under the file's lock, which also removes a temp file a killed `local up` left beside it."""
    path = local_outputs_path(stack)
    with locked(path, private=True):
        path.unlink(missing_ok=True)


def _generic(evaluation: Evaluation) -> list[RecordedResource]:
    return [resource for resource in evaluation.resources if resource.type.startswith("pulumi-python:dynamic/")]


@app.command("up")
def up(stack: StackOption, access_key_id: KeyIdOption = None, secret_access_key: SecretOption = DEFAULT_SECRET) -> None:
    """Create (or bring up to date) the stack's storage on its local server and write its outputs."""
    from storagectl.provision import CREATE, UPDATE, ProvisionError, provision

    local = _local_stack(stack, access_key_id, secret_access_key)
    try:
        running = server.ensure_server(local.endpoint)
    except server.ServerError as error:
        raise fail([str(error)], EXIT_FAILED) from None
    if not running.started_here:
        problem = _not_s3(local)
        if problem:
            raise fail([problem], EXIT_FAILED)
    if running.started_here:
        say(f"started a moto server on {local.endpoint} (pid {running.pid}; `storagectl local down` stops it)")
    elif running.pid is not None:
        say(
            f"using the moto server an earlier `storagectl local up` started on {local.endpoint} "
            f"(pid {running.pid}; `storagectl local down` stops it)"
        )
    else:
        say(f"using the S3 server answering on {local.endpoint}")
    try:
        evaluation = local.evaluation()
        steps, _ = provision(evaluation.resources, local.clients())
    except ConfigError as error:
        raise fail(error.problems) from None
    except ProvisionError as error:
        raise fail([f"{local.endpoint}: {problem}" for problem in error.problems], EXIT_FAILED) from None
    changed = [step for step in steps if step.action in (CREATE, UPDATE)]
    for step in changed:
        say(f"{step.action}d {step.name} ({step.type.rsplit(':', 1)[1]})")
    say(f"stack {stack}: {len(changed)} of {len(steps)} resources created or updated, the rest already as declared")
    path = local_outputs_path(stack)
    _write_outputs(path, evaluation.outputs)
    shown = display_path(path)
    say(f"wrote the stack outputs to {shown} (mode 0600, git-ignored); settings, verify and media read them")
    # The settings hold the server's key: named here, printed only where asked for.
    say("each site's Django settings (they hold the server's key: keep them in .local/, out of git and logs):")
    for site in evaluation.outputs.get("sites", {}):
        # umask 077: the file holds the key, so only its owner may read it.
        say(f"  (umask 077; storagectl settings {site} --stack {stack} --format env > {LOCAL_DIR}/{site}.env)")


def _not_s3(local: LocalStack) -> str | None:
    """Why the server found on the endpoint is no S3 server for this stack, or None.

    An S3 server answers ListBuckets with its XML (or an S3 error code); anything else there
    (a web server, another service on the port) would fail every later request less clearly.
    """
    s3 = local.clients().s3(local.opened.settings.region)
    source = local.opened.source
    try:
        answer = s3.list_buckets()
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code") or "")
        headers = error.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        if code in KEY_REJECTED_CODES:
            return (
                f"the S3 server on {local.endpoint} rejects the stack's key ({code}): give the "
                "server's own key with --access-key-id and --secret-access-key (or LOCAL_S3_ACCESS_KEY_ID, "
                "LOCAL_S3_SECRET_ACCESS_KEY)"
            )
        if code.isdigit() or not code:  # no S3 error document: botocore names the HTTP status (500 for junk)
            kind = headers.get("content-type", "no content type").split(";")[0]
            server_name = f" from {headers['server']}" if headers.get("server") else ""
            return _no_s3_here(local, f"a {kind} answer{server_name}", source)
        return None  # an S3 error (AccessDenied, ...): provisioning reports what it meets
    except BotoCoreError as error:
        return _no_s3_here(local, type(error).__name__, source)
    headers = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    kind = headers.get("content-type", "no content type").split(";")[0]
    if "xml" not in kind:  # botocore reads any XML-ish page as an empty list; S3 answers application/xml
        server_name = f" from {headers['server']}" if headers.get("server") else ""
        return _no_s3_here(local, f"a {kind} answer{server_name}", source)
    return None


def _no_s3_here(local: LocalStack, answer: str, source: str) -> str:
    return (
        f"the server answering on {local.endpoint} is not an S3 server (ListBuckets got {answer}); stop it, or "
        f"give stack {local.name} a free port in site-storage:endpoint ({source}), where "
        f"`{local_up_command(local.name)}` starts a moto server"
    )


@app.command("down")
def down(
    stack: StackOption,
    delete_media: Annotated[
        bool, typer.Option("--delete-media", help="Delete every object in the stack's buckets first.")
    ] = False,
    access_key_id: KeyIdOption = None,
    secret_access_key: SecretOption = DEFAULT_SECRET,
) -> None:
    """Delete the stack's empty buckets (all of them with --delete-media); stop a server `up` started once empty."""
    from storagectl.provision import DELETE, deprovision

    local = _local_stack(stack, access_key_id, secret_access_key)
    if not server.answers(local.endpoint):
        # A server a stopped `local up` started may not answer yet (or hang): it was recorded, so stop it.
        pid = server.recorded_pid(local.endpoint)
        if pid is not None and server.stop_server(local.endpoint):
            _remove_outputs(stack)  # its buckets were in its memory: gone with it
            say(f"stopped the moto server `local up` started on {local.endpoint} (pid {pid}); it was not answering")
            return
        raise fail([f"nothing answers on {local.endpoint}: there is no local storage to take down"], EXIT_FAILED)
    evaluation = local.evaluation()
    resources = _generic(evaluation)
    clients = local.clients()
    if delete_media:
        for resource in resources:
            if resource.type.endswith(":Bucket"):
                count = _delete_objects(clients, resource)
                say(f"deleted {counted(count, 'object')} from {resource.inputs['bucket']}")
    steps = deprovision(resources, clients)
    kept = [step for step in steps if step.action != DELETE]
    buckets = {resource.name: resource.inputs["bucket"] for resource in resources if resource.type.endswith(":Bucket")}
    holding = [buckets[step.name] for step in kept if step.name in buckets and "holds objects" in step.detail]
    for step in steps:
        if step.action == DELETE:
            say(f"deleted {step.name}")
        elif step.name in buckets and buckets[step.name] in holding:
            # The provider's own detail speaks of `pulumi up`; here the next step is this command's option.
            say(f"kept {step.name}: bucket {buckets[step.name]} holds objects, and local down deletes no media unasked")
        else:
            say(f"kept {step.name}" + (f": {step.detail}" if step.detail else ""))
    if kept:
        things = counted(len(kept), "resource")
        if holding:
            sites = sorted({str(resource.site) for resource in resources if resource.inputs.get("bucket") in holding})
            backups = "; ".join(f"`storagectl media backup {site} --stack {stack}`" for site in sites)
            say(
                f"kept {things}. To delete the media too: back it up first if it matters ({backups}), then run "
                f"`storagectl local down --stack {stack} --delete-media`"
            )
        else:
            say(f"kept {things}, for the reasons above")
        raise typer.Exit(EXIT_FAILED)
    _remove_outputs(stack)
    s3 = clients.s3(local.opened.settings.region)
    if not s3.list_buckets().get("Buckets") and server.stop_server(local.endpoint):
        say(f"stopped the moto server on {local.endpoint} that `local up` started (it held no buckets)")


def _delete_objects(clients: Clients, bucket: RecordedResource) -> int:
    s3 = clients.s3(region_of(bucket.inputs))
    name = bucket.inputs["bucket"]
    deleted = 0
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
        for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise
    return deleted


@app.command("status")
def status(
    stack: StackOption, access_key_id: KeyIdOption = None, secret_access_key: SecretOption = DEFAULT_SECRET
) -> None:
    """Whether the local server answers, who started it, and which of the stack's buckets exist."""
    local = _local_stack(stack, access_key_id, secret_access_key)
    up_now = server.answers(local.endpoint)
    pid = server.recorded_pid(local.endpoint)
    typer.echo(
        f"server {local.endpoint}: "
        + ("answering" if up_now else "not answering")
        + (f" (started by local up, pid {pid})" if pid else "")
    )
    path = local_outputs_path(stack)
    absent = f"absent (run `{local_up_command(stack)}`)"
    typer.echo(f"outputs {display_path(path)}: {'present' if path.exists() else absent}")
    missing = 0
    s3 = local.clients().s3(local.opened.settings.region)
    for resource in _generic(local.evaluation()):
        if not resource.type.endswith(":Bucket"):
            continue
        name = resource.inputs["bucket"]
        try:
            count = s3.list_objects_v2(Bucket=name).get("KeyCount", 0) if up_now else None
            shown = f"{count}{'+' if count == 1000 else ''} object{'' if count == 1 else 's'}"
            state = shown if count is not None else "unknown"
        except (ClientError, BotoCoreError):
            state, missing = "missing", missing + 1
        typer.echo(f"  {resource.site}: {name}: {state}")
    if not up_now or missing:
        raise typer.Exit(EXIT_FAILED)

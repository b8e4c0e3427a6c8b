"""Offline evaluation: the real `__main__.py` under the Pulumi SDK's mock runtime.

No CLI, no plugin, no network. The mocks answer like the AWS provider would (ARNs built
from names, access key ids of the right shape), so everything computed from resource
outputs reads true. Resource options never reach the mock monitor, so a stack
transformation records each resource's site and effective `protect`.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import inspect
import logging
import runpy
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config

from components.config import NAMESPACE, StackSettings, engine_text
from components.generic_s3.providers import PROVIDER_KEY
from components.generic_s3.resources import BUCKET_TYPE as GENERIC_BUCKET_TYPE
from storagectl.stack_files import SECRET_PLACEHOLDER, StackFile

MAIN_PROGRAM = Path(__file__).resolve().parent.parent / "__main__.py"
PROJECT = "site-storage"


@dataclass(frozen=True)
class RecordedResource:
    type: str
    name: str
    site: str | None
    inputs: dict[str, Any]
    protect: bool

    def as_dict(self) -> dict[str, Any]:
        return {"type": self.type, "name": self.name, "site": self.site, "inputs": self.inputs, "protect": self.protect}


@dataclass
class Evaluation:
    """What the program registered and exported for one stack."""

    settings: StackSettings
    resources: list[RecordedResource]
    outputs: dict[str, Any]
    warnings: list[str] = field(default_factory=list)

    def site_resources(self, slug: str) -> list[RecordedResource]:
        return [resource for resource in self.resources if resource.site == slug]


def _stable_number(name: str, digits: int) -> int:
    """A number derived from a resource name: registrations arrive in no fixed order, so a
    counter would hand a site a different mocked key id on every run."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % 10**digits


class PreviewMocks(pulumi.runtime.Mocks):
    """Answers resource registrations with realistic outputs and keeps their inputs."""

    def __init__(self) -> None:
        self.registered: list[tuple[str, str, dict[str, Any], bool]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        # A dynamic resource's pickled provider class (the same for every resource of a type) is no input.
        inputs = {key: value for key, value in args.inputs.items() if key != PROVIDER_KEY}
        self.registered.append((args.typ, args.name, inputs, bool(args.custom)))
        state = dict(args.inputs)
        resource_id = f"{args.name}-id"
        if args.typ == GENERIC_BUCKET_TYPE:
            resource_id = args.inputs["bucket"]
        elif args.typ == "aws:s3/bucket:Bucket":
            bucket = args.inputs["bucket"]
            resource_id = bucket
            state.update(
                arn=f"arn:aws:s3:::{bucket}",
                bucketDomainName=f"{bucket}.s3.amazonaws.com",
                bucketRegionalDomainName=f"{bucket}.s3.preview.amazonaws.com",
            )
        elif args.typ == "aws:iam/user:User":
            resource_id = args.inputs["name"]
            state.update(arn=f"arn:aws:iam::123456789012:user{args.inputs.get('path', '/')}{resource_id}")
        elif args.typ == "exoscale:index/iamApiKey:IamApiKey":
            # Exoscale key shape: EXO + 24 hex digits.
            resource_id = f"EXO{_stable_number(args.name, 17):017d}EXAMPLE"
            state.update(key=resource_id, secret=SECRET_PLACEHOLDER)
        elif args.typ == "aws:iam/accessKey:AccessKey":
            # AWS's documented example key id shape: AKIA + 16 characters.
            resource_id = f"AKIA{_stable_number(args.name, 9):09d}EXAMPLE"
            state.update(secret=SECRET_PLACEHOLDER, status="Active")
        return resource_id, state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, None


class _WarningCollector(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def _resolved(value: Any) -> Any:
    """`value` with every Output and awaitable in it awaited, as plain data.

    `Output.from_input` would do the same by wrapping every nested dict, list, key and leaf in
    an Output of its own: for the exported site settings that was ~40,000 Outputs and tasks at
    1,000 sites, a fifth of all the program made. An unknown value (none under these mocks)
    reads as None.
    """
    if isinstance(value, pulumi.Output):
        return await _resolved(await value.future())
    if inspect.isawaitable(value):
        return await _resolved(await value)
    if isinstance(value, dict):
        return {key: await _resolved(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)([await _resolved(item) for item in value])
    return value


@contextmanager
def collections_paused() -> Iterator[None]:
    """Keep the garbage collector off while a program is evaluated.

    Nearly everything an evaluation builds (resources, outputs, their tasks) lives until it
    ends, so collections rescan a growing heap and free almost nothing: full collections alone
    were ~45% of a 1,000-site run. The short-lived asyncio cycles they would have reclaimed
    cost about 7% more peak memory, and `worker_threads_joined` collects once at the end. The
    benchmark's SDK floor runs under this too.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def worker_threads_joined() -> Iterator[None]:
    """Give the SDK's RPC calls a thread pool of their own and join it afterwards.

    The mock monitor opens an event loop in every worker thread and never closes it; left to
    interpreter shutdown, those loops print "Exception ignored in BaseEventLoop.__del__"
    tracebacks on stderr. Joined here, they are closed while everything is still in place.
    """
    loop = asyncio.get_event_loop()
    executor = ThreadPoolExecutor(thread_name_prefix="pulumi-mocks")
    loop.set_default_executor(executor)
    try:
        yield
    finally:
        executor.shutdown(wait=True)
        gc.collect()


def evaluate(stack_file: StackFile) -> Evaluation:
    """Validate the stack file, then run the program on it under mocks."""
    settings = stack_file.settings()
    return evaluate_values(
        settings,
        stack_file.values,
        stack_file.secret_keys,
        other_config=stack_file.other_config,
        other_secret_keys=stack_file.other_secret_keys,
    )


def evaluate_values(
    settings: StackSettings,
    values: Mapping[str, Any],
    secret_keys: frozenset[str],
    *,
    other_config: Mapping[str, Any] | None = None,
    other_secret_keys: frozenset[str] = frozenset(),
) -> Evaluation:
    """Run `__main__.py` under mocks with `values` (namespace stripped) as the stack config."""
    config = {f"{NAMESPACE}:{key}": engine_text(value) for key, value in values.items()}
    config.update({key: engine_text(value) for key, value in (other_config or {}).items()})
    set_all_config(config, [f"{NAMESPACE}:{key}" for key in secret_keys] + sorted(other_secret_keys))
    mocks = PreviewMocks()
    collector = _WarningCollector()
    logger = logging.getLogger(f"site-storage.preview.{settings.stack}")
    logger.propagate = False
    logger.handlers = [collector]
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=settings.stack, preview=True, logger=logger)

    options: dict[tuple[str, str], tuple[str | None, bool]] = {}

    def record(args: pulumi.ResourceTransformationArgs) -> None:
        parent = args.opts.parent
        protect = args.opts.protect
        if protect is None and parent is not None:
            protect = parent._protect
        site = getattr(args.resource, "site", None) or getattr(parent, "site", None)
        options[(args.type_, args.name)] = (site, bool(protect))
        return None

    pulumi.runtime.register_stack_transformation(record)
    outputs: dict[str, Any] = {}

    async def collect(exported: dict[str, Any]) -> None:
        outputs.update(await _resolved(exported))

    def program() -> Any:
        runpy.run_path(str(MAIN_PROGRAM), run_name="__main__")
        root = runtime_settings.get_root_resource()
        return collect(dict(getattr(root, "outputs", {})))

    with worker_threads_joined(), collections_paused():
        pulumi.runtime.test(program)()
    resources = []
    # The mock monitor sees registrations in completion order, which varies from run to run;
    # the transformation saw them in program order, which does not.
    program_order = {key: index for index, key in enumerate(options)}
    registered = sorted(mocks.registered, key=lambda entry: program_order.get((entry[0], entry[1]), len(options)))
    for type_, name, inputs, custom in registered:
        if custom:
            site, protect = options.get((type_, name), (None, False))
            resources.append(RecordedResource(type=type_, name=name, site=site, inputs=inputs, protect=protect))
    return Evaluation(settings=settings, resources=resources, outputs=outputs, warnings=collector.messages)

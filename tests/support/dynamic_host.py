"""The Pulumi SDK's own dynamic-provider host, driven over gRPC the way the engine drives it.

`pulumi up` runs dynamic resources in `python -m pulumi.dynamic` (what the CLI's
`pulumi-resource-pulumi-python` starts): it prints its port, takes Configure with the stack
config, and Check/Diff/Create/Read/Update/Delete with wire-format properties whose
`__provider` holds the pickled provider. Only the engine itself is missing here.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from components.generic_s3.resources import PROVIDERS
from tests.support.stacks import ROOT

SECRET_SIG = rpc._special_sig_key
SECRET_VALUE = rpc._special_secret_sig


def wire(props: Mapping[str, Any]) -> struct_pb2.Struct:
    # A loop of its own: asyncio.run would unset the main thread's loop, which the mock runtime uses.
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def plain(struct: struct_pb2.Struct) -> dict[str, Any]:
    return dict(rpc.deserialize_properties(struct))


def secret(value: str) -> dict[str, str]:
    """A secret as the engine sends it on the wire."""
    return {SECRET_SIG: SECRET_VALUE, "value": value}


@dataclass
class DynamicHost:
    stub: provider_pb2_grpc.ResourceProviderStub
    stack: str = "test"

    def urn(self, type_: str, name: str) -> str:
        return f"urn:pulumi:{self.stack}::site-storage::{type_}::{name}"

    def configure(self, config: Mapping[str, Any]) -> None:
        self.stub.Configure(provider_pb2.ConfigureRequest(args=wire(config), acceptSecrets=True))

    @staticmethod
    def props(type_: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Inputs as the engine hands them over: with the pickled provider of the type."""
        return {**inputs, "__provider": serialize_provider(PROVIDERS[type_])}

    def check(self, type_: str, name: str, inputs: Mapping[str, Any]) -> provider_pb2.CheckResponse:
        news = wire(self.props(type_, inputs))
        return self.stub.Check(provider_pb2.CheckRequest(urn=self.urn(type_, name), olds=wire({}), news=news))

    def create(self, type_: str, name: str, inputs: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        request = provider_pb2.CreateRequest(urn=self.urn(type_, name), properties=wire(self.props(type_, inputs)))
        response = self.stub.Create(request)
        return response.id, plain(response.properties)

    def diff(self, type_: str, name: str, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> Any:
        request = provider_pb2.DiffRequest(
            id=id_, urn=self.urn(type_, name), olds=wire(olds), news=wire(self.props(type_, news))
        )
        return self.stub.Diff(request)

    def update(
        self, type_: str, name: str, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> dict[str, Any]:
        request = provider_pb2.UpdateRequest(
            id=id_, urn=self.urn(type_, name), olds=wire(olds), news=wire(self.props(type_, news))
        )
        return plain(self.stub.Update(request).properties)

    def read(self, type_: str, name: str, id_: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        request = provider_pb2.ReadRequest(id=id_, urn=self.urn(type_, name), properties=wire(props))
        response = self.stub.Read(request)
        return response.id, plain(response.properties)

    def delete(self, type_: str, name: str, id_: str, props: Mapping[str, Any]) -> None:
        self.stub.Delete(provider_pb2.DeleteRequest(id=id_, urn=self.urn(type_, name), properties=wire(props)))


@contextmanager
def dynamic_host(cwd: Path = ROOT) -> Iterator[DynamicHost]:
    """`python -m pulumi.dynamic` in the project's virtualenv, as the CLI starts it."""
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.dynamic"],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        port = process.stdout.readline().strip()
        assert port.isdigit(), f"the dynamic host printed {port!r} instead of its port"
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        grpc.channel_ready_future(channel).result(timeout=30)
        try:
            yield DynamicHost(provider_pb2_grpc.ResourceProviderStub(channel))
        finally:
            channel.close()
    finally:
        process.terminate()
        process.wait(timeout=30)

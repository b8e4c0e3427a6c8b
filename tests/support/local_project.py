"""A project copy whose `local` example stack points at a free port, so parallel runs never meet on 5000."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from storagectl.local import server
from tests.support.cli_project import Project, copy_project
from tests.support.stacks import example_stack


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def local_project(root: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Project, str]]:
    """The project (the current directory while in use) and its endpoint; stops any server left on it."""
    project = copy_project(root, examples=False)
    endpoint = f"http://127.0.0.1:{free_port()}"
    text = example_stack("local").read_text(encoding="utf-8").replace("http://127.0.0.1:5000", endpoint)
    project.stack_file("local").write_text(text, encoding="utf-8")
    monkeypatch.chdir(project.root)
    try:
        yield project, endpoint
    finally:
        server.stop_server(endpoint)

"""Engine tests: the project run by the real Pulumi engine (tests/support/engine.py).

They need the Pulumi CLI (`make pulumi`); without it they skip, printing why once, and with
SITE_STORAGE_REQUIRE_ENGINE=1 (.ci/run) they fail instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.engine import EngineProject, EngineStack, engine_project, stack_name
from tests.support.rgw import terminal_printer


@pytest.fixture(scope="session")
def engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> EngineProject:
    return engine_project(tmp_path_factory.mktemp("engine"), terminal_printer(request.config))


@pytest.fixture
def new_stack(engine: EngineProject, request: pytest.FixtureRequest, tmp_path) -> Iterator[Callable[..., EngineStack]]:
    """`new_stack(text, name=None)`: a stack of the project copy in a backend of this test's own."""
    made: list[str] = []

    def make(text: str, name: str | None = None) -> EngineStack:
        chosen = name or stack_name(f"{request.node.name}-{len(made)}")
        made.append(chosen)
        return engine.stack(chosen, text, tmp_path / f"state-{chosen}")

    yield make
    for chosen in made:
        (engine.root / "stacks" / f"Pulumi.{chosen}.yaml").unlink(missing_ok=True)

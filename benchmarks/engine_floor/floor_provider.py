"""The engine floor's dynamic provider: does nothing, and pickles as a class reference as the project's do.

A module of its own, beside the floor program, so the dynamic-provider host imports it by name
(its working directory is the floor project) instead of unpickling a class by value: the
project's providers pickle the same way, without state (components/generic_s3/providers.py), and
pulumi 3.272 overflows the stack after about 450 dynamic resources whose provider pickles a dict.
"""

from typing import Any

from pulumi.dynamic import CreateResult, DiffResult, ReadResult, ResourceProvider, UpdateResult


class Nothing(ResourceProvider):
    """Creates, reads and diffs without calling anything; a diff never finds a change."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=str(props.get("bucket", "floor")), outs=props)

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs=news)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=props)

    def __getstate__(self) -> None:
        return None

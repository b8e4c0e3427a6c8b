"""Bucket names are global: no two stack files of a project may name the same bucket.

Each stack is validated on its own, so only a look at the stack files beside it (the same
`stacks/` directory) finds a name another stack already uses. `storagectl sites add` and
`storagectl preview` both refuse such a name, with the same line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from components.config import ConfigError, StackSettings
from storagectl.stack_files import StackFile, display_path, read_stack_file


@dataclass(frozen=True)
class SiblingStack:
    """A valid stack file beside the one being worked on."""

    name: str
    path: Path
    file: StackFile
    settings: StackSettings

    @property
    def source(self) -> str:
        return display_path(self.path)


def sibling_stacks(path: Path, note: Callable[[str], None]) -> list[SiblingStack]:
    """The valid stack files beside `path`; each invalid one is named through `note` and skipped."""
    siblings = []
    for other in sorted(path.parent.glob("Pulumi.*.yaml")):
        if other.resolve() == path.resolve():
            continue
        try:
            stack_file = read_stack_file(other)
            siblings.append(SiblingStack(stack_file.stack, other, stack_file, stack_file.settings()))
        except ConfigError as error:
            note(f"note: skipped {other.name} when looking at other stacks: {error.problems[0]}")
    return siblings


def site_buckets(settings: StackSettings, slug: str, private: bool) -> list[str]:
    """The bucket names a site of this stack has (or would get): public, then private."""
    return [settings.public_bucket(slug)] + ([settings.private_bucket(slug)] if private else [])


def bucket_clashes(source: str, wanted: Mapping[str, Iterable[str]], siblings: Iterable[SiblingStack]) -> list[str]:
    """One line per bucket in `wanted` (site slug -> its bucket names) that a sibling stack's site already has."""
    owners: dict[str, tuple[SiblingStack, str]] = {}
    for other in siblings:
        for existing in other.settings.sites:
            for name in site_buckets(other.settings, existing.slug, existing.private):
                owners.setdefault(name, (other, existing.slug))
    lines = []
    for slug, names in wanted.items():
        for name in names:
            if name in owners:
                other, owner = owners[name]
                lines.append(
                    f"{source}: sites.{slug}: bucket {name} is already site {owner}'s in stack {other.name} "
                    f"({other.source}); bucket names must be unique, pick another slug"
                )
    return lines


def stack_bucket_clashes(stack_file: StackFile, settings: StackSettings, note: Callable[[str], None]) -> list[str]:
    """Every bucket of this stack that a stack file beside it already names."""
    wanted = {site.slug: site_buckets(settings, site.slug, site.private) for site in settings.sites}
    return bucket_clashes(stack_file.source, wanted, sibling_stacks(stack_file.path, note))

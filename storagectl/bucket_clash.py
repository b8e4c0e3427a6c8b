"""Bucket names are global: no two stack files of a project may name the same bucket.

Each stack is validated on its own, so only a look at the stack files beside it (the same
`stacks/` directory) finds a name another stack already uses. `storagectl preview` and every
command that changes a stack file run the same check (`check_like_preview`), with the same
lines. A sibling file that cannot be read is named in one note and skipped: it never stops
another stack's command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from components.config import ConfigError, StackSettings
from storagectl.stack_files import StackFile, display_path, read_stack_file

Note = Callable[[str], None]


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


def _same_file(one: Path, other: Path) -> bool:
    try:
        return one.samefile(other)
    except OSError:  # missing, a symlink loop, unreadable: compare the names
        return one.absolute() == other.absolute()


def sibling_stacks(path: Path, note: Note) -> list[SiblingStack]:
    """The valid stack files beside `path`; each one that cannot be read or is invalid is named through
    `note` (one line: its first problem) and skipped."""
    siblings = []
    for other in sorted(path.parent.glob("Pulumi.*.yaml")):
        if _same_file(other, path):
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


def bucket_clashes(
    source: str, settings: StackSettings, wanted: Mapping[str, Iterable[str]], siblings: Iterable[SiblingStack]
) -> list[str]:
    """One line per site in `wanted` (slug -> its bucket names) and sibling stack that already has one of them.

    When the two stacks share the bucket_prefix (a copied stack, or a site in two shards), the
    line names bucket_prefix: that is the key to change, or the site belongs in one stack only.
    """
    owners: dict[str, tuple[SiblingStack, str]] = {}
    for other in siblings:
        for existing in other.settings.sites:
            for name in site_buckets(other.settings, existing.slug, existing.private):
                owners.setdefault(name, (other, existing.slug))
    lines = []
    prefix = settings.bucket_prefix
    for slug, names in wanted.items():
        clashing: dict[tuple[str, str], list[str]] = {}
        found: dict[tuple[str, str], SiblingStack] = {}
        for name in names:
            if name in owners:
                other, owner = owners[name]
                clashing.setdefault((other.name, owner), []).append(name)
                found[(other.name, owner)] = other
        for (other_name, owner), buckets in clashing.items():
            other = found[(other_name, owner)]
            listed = ", ".join(buckets)
            noun = "bucket" if len(buckets) == 1 else "buckets"
            if other.settings.bucket_prefix == prefix:
                lines.append(
                    f"{source}: bucket_prefix: {prefix!r} is also the bucket_prefix of stack {other.name} "
                    f"({other.source}), which has site {slug} too ({noun} {listed}); bucket names are global: "
                    f"give this stack a bucket_prefix of its own, or keep site {slug} in one stack only"
                )
            else:
                lines.append(
                    f"{source}: sites.{slug}: {noun} {listed} {'is' if len(buckets) == 1 else 'are'} already "
                    f"site {owner}'s in stack {other.name} "
                    f"({other.source}); bucket names are global: give this stack another bucket_prefix "
                    f"(now {prefix!r}) or the site another slug"
                )
    return lines


def stack_bucket_clashes(stack_file: StackFile, settings: StackSettings, note: Note) -> list[str]:
    """Every site of this stack with a bucket that a stack file beside it already names."""
    wanted = {site.slug: site_buckets(settings, site.slug, site.private) for site in settings.sites}
    return bucket_clashes(stack_file.source, settings, wanted, sibling_stacks(stack_file.path, note))


def check_like_preview(stack_file: StackFile, note: Note) -> StackSettings:
    """The validation `storagectl preview` runs before evaluating: the stack's settings, then the bucket
    names of the stack files beside it. ConfigError with every problem; broken siblings only `note`d."""
    settings = stack_file.settings()
    clashes = stack_bucket_clashes(stack_file, settings, note)
    if clashes:
        raise ConfigError(clashes)
    return settings

"""What each command touches: files, storage, the Pulumi CLI. One table for the help and the README.

Every command's `--help` ends with its line from here, the top-level help sums them up, and
tests/test_cli_help.py holds README.md's "What needs the Pulumi CLI" table to the same rows:
storagectl's commands, then the make targets and Pulumi CLI commands (`TOOLS`), which the
README lists beside them and no help of storagectl's shows.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

OUTPUTS_PULUMI = "only to read the stack outputs: without --outputs, unless `storagectl local up` wrote them"


@dataclass(frozen=True)
class Facts:
    command: str
    files: str
    """What it writes on this machine."""
    storage: str
    """What it does on the storage endpoint."""
    pulumi: str
    """When it needs the Pulumi CLI."""

    def help_line(self) -> str:
        return f"Changes files: {self.files}. Talks to storage: {self.storage}. Needs the Pulumi CLI: {self.pulumi}."

    def readme_row(self) -> list[str]:
        return [f"`storagectl {self.command}`", self.files, self.storage, self.pulumi]


@dataclass(frozen=True)
class ToolFacts:
    """A make target or Pulumi CLI command, as README.md's table shows it (no storagectl help does)."""

    shown: str
    """The table's first cell, as written there."""
    files: str
    storage: str
    pulumi: str

    def readme_row(self) -> list[str]:
        return [self.shown, self.files, self.storage, self.pulumi]


FACTS = (
    Facts("preview", "no", "no", "no (the program runs under the Pulumi SDK's mock runtime)"),
    Facts("cors show", "no", "no", "no"),
    Facts("cors enable", "the stack file", "no", "only with --apply"),
    Facts("cors disable", "the stack file", "no", "only with --apply"),
    Facts("sites list", "no", "no", "no"),
    Facts("sites add", "the stack file", "no", "only with --apply"),
    Facts("sites remove", "the stack file", "no", "only with --apply"),
    Facts("keys rotate", "the stack file", "no", "only with --apply"),
    Facts("keys retire", "the stack file", "no", "only with --apply"),
    Facts("keys revoke", "the stack file", "no", "only with --apply"),
    Facts("keys status", "no", "no (on AWS it reads the sites' keys from IAM with your credentials)", "no"),
    Facts("settings", "no (the settings go to stdout)", "no", OUTPUTS_PULUMI),
    Facts("verify", "no", "yes: probe objects, written and removed", OUTPUTS_PULUMI),
    Facts("local up", ".local/ (the outputs, with the server's key)", "yes: the local S3 server", "no"),
    Facts("local down", ".local/ (removes the outputs)", "yes: deletes the stack's empty buckets", "no"),
    Facts("local status", "no", "yes: reads the local S3 server", "no"),
    Facts(
        "media backup",
        "the backup folder with --to DIR, else no",
        "yes: reads the site's buckets; writes a set in the stack's backup bucket (or --to's bucket)",
        OUTPUTS_PULUMI,
    ),
    Facts("media restore", "no", "yes: writes the site's buckets", OUTPUTS_PULUMI),
    Facts("media copy", "no", "yes: writes the other site's buckets", OUTPUTS_PULUMI),
    Facts("media push", "no", "yes: writes the site's buckets", OUTPUTS_PULUMI),
    Facts("media pull", "the media folder", "yes: reads the site's buckets", OUTPUTS_PULUMI),
    Facts("media backups", "no", "yes: reads the stack's backup bucket", OUTPUTS_PULUMI),
    Facts(
        "media prune",
        "no",
        "yes: deletes the sets the retention does not keep, and what no kept set needs, in the stack's backup bucket",
        OUTPUTS_PULUMI,
    ),
)
BY_COMMAND = {facts.command: facts for facts in FACTS}
TOOLS = (
    ToolFacts(
        "`make preview`",
        ".venv/ and .uv/ (the pinned packages)",
        "no",
        "no (the program runs under the Pulumi SDK's mock runtime; only the package index is needed)",
    ),
    ToolFacts(
        "`make test`, `make bench`",
        ".venv/ and .uv/ (the pinned packages); .tools/ (SeaweedFS's `weed`, the delaying proxy)",
        "yes: moto servers, Ceph RGW and SeaweedFS on 127.0.0.1",
        "only for the engine tests and the engine bench: the CLI `make pulumi` builds (without it the engine tests "
        "skip, saying so)",
    ),
    ToolFacts(
        "`make pulumi`",
        ".pulumi/bin (about 5 minutes and 140 MB the first time, seconds after)",
        "no",
        "no: it builds the Pulumi CLI from Go modules (Go 1.26 and the Go module proxy), or uses a `pulumi` "
        "already on PATH",
    ),
    ToolFacts(
        "`pulumi preview`, `pulumi up`, `pulumi stack output`",
        "the stack's state (`pulumi up`)",
        "yes: `pulumi up` creates and changes the stack's storage",
        "yes; AWS and Exoscale stacks also its AWS (and Exoscale) provider plugins and cloud credentials",
    ),
)


def readme_rows() -> list[list[str]]:
    """README.md's "What needs the Pulumi CLI" table, row by row."""
    return [facts.readme_row() for facts in (*FACTS, *TOOLS)]


def said_no(value: str) -> bool:
    return value == "no" or value.startswith("no ")


def _merged(commands: list[str]) -> str:
    """`cors enable, cors disable, local up` as `cors enable/disable, local up`; a whole group as its name."""
    groups: dict[str, list[str]] = {}
    for command in commands:
        top, _, sub = command.partition(" ")
        groups.setdefault(top, []).append(sub)
    shown = []
    for top, subs in groups.items():
        every = [f.command.partition(" ")[2] for f in FACTS if f.command.partition(" ")[0] == top]
        shown.append(top if subs == every else f"{top} {'/'.join(subs)}")
    return ", ".join(shown)


def overview(width: int = 78) -> str:
    """The top-level help's summary: which commands change files, talk to storage, need the Pulumi CLI."""
    apply = [f.command for f in FACTS if f.pulumi == "only with --apply"]
    outputs = [f.command for f in FACTS if f.pulumi == OUTPUTS_PULUMI]
    groups = {
        "Change files": _merged([f.command for f in FACTS if not said_no(f.files)]),
        "Talk to storage": _merged([f.command for f in FACTS if not said_no(f.storage)]),
        "Need the Pulumi CLI": f"{_merged(apply)} only with --apply; {_merged(outputs)} only to read the stack "
        "outputs without --outputs (`storagectl local up` writes a local stack's)",
        "Offline, read only": _merged(
            [f.command for f in FACTS if said_no(f.files) and said_no(f.storage) and said_no(f.pulumi)]
        ),
    }
    lines = ["\b"]  # click keeps this paragraph as written
    for title, text in groups.items():
        lines += textwrap.wrap(text, width, initial_indent=f"{title}: ", subsequent_indent="  ")
    return "\n".join(lines)

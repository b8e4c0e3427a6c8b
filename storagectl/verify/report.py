"""Printing verify results: a table for people, one JSON record per site and check for scripts.

Reasons are built without credentials, but an S3 or HTTP error message is outside our
control, so every reason passes through `Redactor` before it is printed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from storagectl.verify.results import FAIL, NOT_APPLICABLE, PASS, SKIP, CheckResult

REDACTED = "[redacted]"
_STYLES = {PASS: "green", FAIL: "bold red", SKIP: "yellow", NOT_APPLICABLE: "dim"}


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret that contains another is replaced whole.
        self._secrets = sorted({secret for secret in secrets if len(secret) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return " ".join(text.split())


def summary(results: Sequence[CheckResult]) -> dict[str, int]:
    counts = Counter(result.status for result in results)
    return {status: counts.get(status, 0) for status in (PASS, FAIL, SKIP, NOT_APPLICABLE)}


def all_passed(results: Sequence[CheckResult]) -> bool:
    return all(result.ok for result in results)


def _print_plain(title: str, results: Sequence[CheckResult], redact: Redactor, out: Console) -> None:
    """One line per check, columns padded, the reason last and never folded: readable in a pipe, greppable."""
    rows = [("site", "check", STATUS, "reason")] + [(r.site, r.check, r.status, redact(r.reason)) for r in results]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    out.print(title, markup=False, highlight=False, soft_wrap=True)
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)]
        out.print("  ".join([*cells, row[3]]).rstrip(), markup=False, highlight=False, soft_wrap=True)


def json_document(stack: str, results: Sequence[CheckResult], redact: Redactor) -> dict[str, Any]:
    records = [{**result.as_dict(), "reason": redact(result.reason)} for result in results]
    return {"stack": stack, "ok": all_passed(results), "summary": summary(results), "results": records}


STATUS = "status"
"""The one name for a check's outcome: the table's column and the JSON records' key."""


def print_table(stack: str, results: Sequence[CheckResult], redact: Redactor, out: Console) -> None:
    sites = len({result.site for result in results})
    title = f"storagectl verify: stack {stack}, {sites} site{'' if sites == 1 else 's'}"
    if out.is_terminal:
        table = Table(title=title, title_justify="left")
        table.add_column("site", no_wrap=True)
        table.add_column("check", no_wrap=True)
        table.add_column(STATUS, no_wrap=True)
        table.add_column("reason", overflow="fold")
        for result in results:
            status = Text(result.status, style=_STYLES[result.status])
            table.add_row(result.site, result.check, status, Text(redact(result.reason)))
        out.print(table)
    else:
        _print_plain(title, results, redact, out)
    counts = summary(results)
    verdict = "all checks passed" if all_passed(results) else "NOT all checks passed"
    out.print(
        f"{verdict}: {counts[PASS]} pass, {counts[FAIL]} fail, {counts[SKIP]} skip, {counts[NOT_APPLICABLE]} n/a",
        markup=False,
        highlight=False,
    )

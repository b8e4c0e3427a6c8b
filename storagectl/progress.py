"""The one progress bar of storagectl's long commands: on stderr, only on a terminal, gone when done."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress


def stderr_progress(label: str, stderr: Console) -> Progress:
    # Imported here: Rich's progress machinery is not needed by `--help` or the quick commands.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        transient=True,
        disable=not stderr.is_terminal,  # stdout (a table, JSON) stays clean; no bar in logs
    )

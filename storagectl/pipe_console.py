"""A rich Console for stdout that ends quietly when the reader goes away (`storagectl preview | head`)."""

from __future__ import annotations

import os
import sys

from rich.console import Console

EXIT_BROKEN_PIPE = 141
"""128 + SIGPIPE: what a shell reports for `yes | head`; the reader stopped, nothing failed here."""


def quiet_exit_on_broken_pipe() -> None:
    """Point stdout at /dev/null (so the interpreter's last flush says nothing) and exit 141."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.__stdout__.fileno() if sys.__stdout__ is not None else 1)
    raise SystemExit(EXIT_BROKEN_PIPE)


class PipeConsole(Console):
    """rich exits 1 on a broken pipe, which reads as a failed write; this exits as `head`'s writers do."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        quiet_exit_on_broken_pipe()

"""Tests that need a server or a tool: skipped with one reason without it, failed when CI requires it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import NoReturn

import pytest


@dataclass(frozen=True)
class Requirement:
    variable: str
    """`<variable>=1` (set by .ci/run) turns a skip into a failure: CI never skips silently."""

    def required(self) -> bool:
        return os.environ.get(self.variable) == "1"

    def unavailable(self, reason: str) -> NoReturn:
        """Skip (or, when required, fail) the calling test with `reason`."""
        if self.required():
            pytest.fail(f"{reason} ({self.variable}=1)", pytrace=False)
        pytest.skip(reason)

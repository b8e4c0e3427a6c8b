"""Counts and sizes in messages: `1 object`, `7 objects`, `31.7 MB` (JSON keeps exact numbers)."""

from __future__ import annotations

from rich.filesize import decimal


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """`1 object`, `2 objects`; `plural` for nouns that do not just take an s."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def size(number_of_bytes: int) -> str:
    """Decimal units as storage providers bill them: `999 bytes`, `1.0 kB`, `31.7 MB`."""
    return str(decimal(number_of_bytes))

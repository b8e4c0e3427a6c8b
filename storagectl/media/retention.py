"""Which backup sets a retention keeps: pure, over set times, so it is tested over any calendar.

The rule is restic's and borg's (`--keep-daily/weekly/monthly`): for the N most recent days
that have a set, the newest set of each day; likewise for ISO weeks and calendar months (UTC).
A set may be kept for more than one reason. Days without a set do not use up a count, so a
week without backups does not leave a stack with fewer daily sets than it asked for. The
newest set is always kept, whatever the counts.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from components.config import Retention

Period = Callable[[datetime], tuple[int, ...]]


def _day(moment: datetime) -> tuple[int, ...]:
    return (moment.year, moment.month, moment.day)


def _week(moment: datetime) -> tuple[int, ...]:
    year, week, _ = moment.isocalendar()
    return (year, week)


def _month(moment: datetime) -> tuple[int, ...]:
    return (moment.year, moment.month)


PERIODS: tuple[tuple[str, Period], ...] = (("daily", _day), ("weekly", _week), ("monthly", _month))


def kept(times: Iterable[datetime], retention: Retention) -> dict[datetime, list[str]]:
    """The times of the sets to keep, each with why (`daily`, `weekly`, `monthly`, `newest`)."""
    newest_first = sorted(set(times), reverse=True)
    reasons: dict[datetime, list[str]] = {}
    if not newest_first:
        return reasons
    reasons[newest_first[0]] = ["newest"]
    for label, period in PERIODS:
        count = getattr(retention, label)
        seen: set[tuple[int, ...]] = set()
        for moment in newest_first:
            if len(seen) >= count:
                break
            bucket = period(moment)
            if bucket in seen:
                continue
            seen.add(bucket)
            reasons.setdefault(moment, []).append(label)
    return reasons

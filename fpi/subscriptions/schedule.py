"""The slots of a cadence: the instants a subscription's reports are scheduled for.

A **slot** is a wall-clock time of day (``at``) on a matching local date in
the cadence's time zone, turned into an instant (aware UTC). Definitions:

* ``daily``: every date; ``weekly``: dates whose weekday is in ``on``;
  ``monthly``: dates whose day of the month is in ``on``, where a day past the
  month's end means the month's last day (``on = 31`` is the last day of every
  month; ``on = [30, 31]`` gives one slot in February, not two).
* Time zones follow their daylight-saving rules: ``07:00`` in
  ``America/New_York`` is 12:00Z in winter and 11:00Z in summer, every day.
* A wall time that does not exist on a date (the hour skipped when clocks go
  forward) is the instant the clock would show it had it not jumped: ``02:30``
  on the spring-forward day is 03:30 local time (PEP 495, ``fold=0``). A wall
  time that occurs twice (clocks going back) is its first occurrence. So every
  date gives exactly one slot per ``at``.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

from .config import Cadence

_DAY = timedelta(days=1)
_NEXT_LIMIT_DAYS = 370
"""Every cadence has a slot within 31 days; this bound only stops a runaway loop."""


def _matches(cadence: Cadence, day: date) -> bool:
    if cadence.kind == "daily":
        return True
    if cadence.kind == "weekly":
        return day.weekday() in cadence.days
    last = calendar.monthrange(day.year, day.month)[1]
    return day.day in {min(d, last) for d in cadence.days}


def _slots_on(cadence: Cadence, day: date) -> Iterator[datetime]:
    if _matches(cadence, day):
        for t in cadence.times:
            yield datetime.combine(day, t, tzinfo=cadence.tz).astimezone(UTC)


def slots(cadence: Cadence, start: datetime, end: datetime) -> list[datetime]:
    """Every slot ``s`` with ``start <= s <= end``, ascending (empty if ``start > end``)."""
    if start > end:
        return []
    day = start.astimezone(cadence.tz).date() - _DAY
    last = end.astimezone(cadence.tz).date() + _DAY
    out: list[datetime] = []
    while day <= last:
        out.extend(s for s in _slots_on(cadence, day) if start <= s <= end)
        day += _DAY
    return sorted(set(out))


def next_slot(cadence: Cadence, after: datetime) -> datetime:
    """The first slot strictly after ``after``."""
    day = after.astimezone(cadence.tz).date() - _DAY
    for _ in range(_NEXT_LIMIT_DAYS):
        found = [s for s in _slots_on(cadence, day) if s > after]
        if found:
            return min(found)
        day += _DAY
    raise ValueError(f"no slot of {cadence.describe()} within {_NEXT_LIMIT_DAYS} days")


def local_label(slot: datetime, cadence: Cadence) -> str:
    """The slot in the cadence's local time, e.g. ``Mon 2026-03-09 07:00 EDT``."""
    return slot.astimezone(cadence.tz).strftime("%a %Y-%m-%d %H:%M %Z")

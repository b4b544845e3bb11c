"""Time helpers. Everything inside fpi is timezone-aware UTC.

Internally event times are integers: microseconds since the Unix epoch, UTC
(exact, cheap to sort and subtract). Nothing here reads the wall clock; a
``Clock`` is passed to the code that needs "now".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

from pydantic_core import TzInfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
US_PER_S = 1_000_000
US_PER_H = 3_600_000_000

TIME_MIN = EPOCH
"""Earliest time fpi accepts (events.md): 1970-01-01T00:00:00Z."""
TIME_MAX = datetime(2200, 1, 1, tzinfo=UTC)
"""Times must be before 2200-01-01T00:00:00Z (events.md)."""

Clock = Callable[[], datetime]
"""A source of the current time (aware UTC). Production passes ``system_clock``."""


def system_clock() -> datetime:
    """The wall clock, aware UTC. Only entry points pass this in."""
    return datetime.now(UTC)


def to_us(dt: datetime) -> int:
    """Aware datetime -> microseconds since the epoch (exact). Naive input is an error."""
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("naive datetime: a UTC offset is required")
    return (dt - EPOCH) // _US


_FIXED_OFFSET_TYPES: tuple[type, ...] = (timezone, TzInfo)
"""``tzinfo`` types with one offset for every instant (pydantic's validated
times carry ``TzInfo``)."""
_OFFSET_US: dict[object, int] = {}
"""A fixed-offset ``tzinfo`` -> its UTC offset in µs (few: ``±HH:MM`` offsets)."""
_EPOCH_ORDINAL = EPOCH.toordinal()


def epoch_us(dt: datetime) -> int:
    """:func:`to_us` in integer arithmetic: for a fixed-offset ``tzinfo``
    (``timezone``, pydantic's ``TzInfo``) its offset is looked up once, where
    aware subtraction would call back into the ``tzinfo`` twice per call.
    Any other ``tzinfo`` (a ``ZoneInfo``, whose offset varies) goes to
    :func:`to_us`; naive input is an error, as there."""
    tz = dt.tzinfo
    offset = _OFFSET_US.get(tz)
    if offset is None:
        if not isinstance(tz, _FIXED_OFFSET_TYPES):
            return to_us(dt)
        utcoffset = dt.utcoffset()
        if utcoffset is None:
            raise ValueError("naive datetime: a UTC offset is required")
        offset = _OFFSET_US[tz] = utcoffset // _US
    seconds = (dt.toordinal() - _EPOCH_ORDINAL) * 86400 + dt.hour * 3600 + dt.minute * 60
    return (seconds + dt.second) * 1_000_000 + dt.microsecond - offset


def from_us(us: int) -> datetime:
    """Microseconds since the epoch -> aware UTC datetime."""
    return EPOCH + timedelta(microseconds=us)


def iso_z(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix (``None`` stays ``None``)."""
    if dt is None:
        return None
    s = dt.astimezone(UTC).isoformat()
    return s.replace("+00:00", "Z")


_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_time(text: str) -> datetime:
    """Parse an RFC 3339 time given by a user (command line, dashboard URL).

    ``Z`` or an explicit offset is required; a bare date ``YYYY-MM-DD`` means
    midnight UTC of that day. Times outside [``TIME_MIN``, ``TIME_MAX``) are
    refused, as in the event contract. Raises ``ValueError`` with a readable message.
    """
    t = text.strip()
    try:
        if _DATE_ONLY.match(t):
            dt = datetime.fromisoformat(t).replace(tzinfo=UTC)
        else:
            dt = datetime.fromisoformat(t.replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"not an RFC 3339 time: {text!r} (example: 2026-05-04T12:00:00Z)"
        ) from None
    if dt.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset (add Z or +hh:mm)")
    if not TIME_MIN <= dt < TIME_MAX:  # compares instants, never overflows
        raise ValueError(
            f"time {text!r} is outside the supported range {iso_z(TIME_MIN)} "
            f"up to {iso_z(TIME_MAX)}"
        )
    return dt.astimezone(UTC)

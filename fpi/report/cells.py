"""Text of one table cell of a report, for people (HTML, PDF, Markdown).

* a KPI or a known column (``metrics.labels``): its value in its unit —
  ``70.2 %``, ``15.0 h``, ``USD 146,284``, ``1,234``;
* a dimension value: its label (``missed_pickup`` -> "Missed pickup"; sites,
  lanes and carriers as they are);
* a time: ``2026-05-10 23:59 UTC``; a flag: ``yes``/``no``; a status: ``Open``;
* no value: "—" (never "None").
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from metrics.dimensions import DIMENSIONS
from metrics.labels import MISSING, format_value, humanize, unit_of, value_label


def time_text(t: datetime | None) -> str:
    """``2026-05-10 23:59 UTC`` (minutes; "—" for none)."""
    if t is None:
        return MISSING
    return t.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def duration_text(d: timedelta) -> str:
    """A length of time: ``7 days``, ``1 day``, ``3.5 days`` (from 2 days on),
    ``36 hours``, ``6 hours``, ``1 hour``, ``0.5 hours`` (one decimal at most)."""
    hours = d.total_seconds() / 3600
    if hours >= 48:
        days = round(hours / 24, 1)
        return f"{days:g} days"
    h = round(hours, 1)
    return f"{h:g} hour" + ("" if h == 1 else "s")


STEP_WORDS: dict[timedelta, str] = {
    timedelta(hours=1): "hour",
    timedelta(days=1): "day",
    timedelta(weeks=1): "week",
}


def step_text(d: timedelta) -> str:
    """A trend step after "per" / "every": ``hour``, ``6 hours``, ``day``, ``week``."""
    return STEP_WORDS.get(d) or duration_text(d)


def cell_text(column: str, value: Any, currency: str) -> str:
    """The text of ``value`` in column ``column`` (see the module docstring)."""
    if value is None:
        return MISSING
    if isinstance(value, datetime):
        return time_text(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if column in DIMENSIONS:
        return value_label(column, value)
    if column == "status":
        return humanize(str(value))
    if unit_of(column) is not None or isinstance(value, int | float):
        return format_value(column, value, currency)
    return str(value)

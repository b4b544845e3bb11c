"""What every page shares: the database, the global filters and the resolved window.

The entry file (``dashboard/app.py``) draws the global filters in the sidebar
and stores a :class:`Context` in the session; pages read it with
:func:`current`. Every filter widget is bound to the URL query string
(``bind="query-params"``), so a view is shared by sharing its link:

``?dates=2026-05-01&dates=2026-05-06&carrier=ACME&site=DC-ATL&site=DC-DAL``

* ``dates`` — the date range picker (UTC dates, both included; absent = the
  default window, see :func:`resolve_window`): flow KPIs over
  ``[from, as_of)`` with ``from`` = the first date at 00:00Z and ``as_of`` the
  end of the last date (its next midnight), or the data clock when that falls
  on or before it (latest data); stock KPIs as of ``as_of``;
* ``as_of`` and ``period`` — links from before the date picker keep working: an
  RFC 3339 as-of time (absent: the data clock, i.e. live) and a period label
  (``last 24 hours`` …) give the window ``[as_of − period, as_of)``, shown in
  the picker as its dates and used exactly as long as the picker keeps them;
* ``site``, ``lane``, ``carrier``, ``category`` (root cause), ``severity``,
  ``customer_tier`` — keep only those groups (values of one dimension are
  ORed, dimensions ANDed; metrics.dimensions).

Every value from the URL or the data that reaches a Markdown element goes
through :func:`dashboard.text.md_literal` (see :meth:`Filters.describe_md`).
A link with a value the dashboard cannot use (an as-of outside
[:data:`EARLIEST_AS_OF`, :data:`LATEST_AS_OF`), an unknown period) is
explained on the page and ignored, never an exception.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import streamlit as st

from core.timeutil import Clock, iso_z, parse_time
from dashboard.text import md_join, md_literal
from metrics.dimensions import DIMENSIONS
from metrics.filter_values import FILTER_DIMENSIONS
from metrics.query import Window

DB_ENV = "FPI_DB"
REFRESH_ENV = "FPI_REFRESH_SECONDS"
STALE_AFTER_ENV = "FPI_STALE_AFTER_SECONDS"
CONFIG_ENV = "FPI_CONFIG"
DEFAULT_REFRESH_SECONDS = 30.0
DEFAULT_STALE_AFTER_SECONDS = 30.0
"""A live flow whose last heartbeat is older than this is reported as not running."""

PERIODS: dict[str, timedelta] = {
    "1d": timedelta(days=1),
    "3d": timedelta(days=3),
    "7d": timedelta(days=7),
    "14d": timedelta(days=14),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
PERIOD_LABELS = {
    "1d": "last 24 hours",
    "3d": "last 3 days",
    "7d": "last 7 days",
    "14d": "last 14 days",
    "30d": "last 30 days",
    "90d": "last 90 days",
}
DEFAULT_PERIOD = "7d"
PERIOD_KEYS = {label: key for key, label in PERIOD_LABELS.items()}
"""The period of a link (its label, as the period control once put it there) -> key."""

EARLIEST_AS_OF = datetime(1970, 1, 1, tzinfo=UTC)
"""Earliest as-of time accepted from the URL (the event contract's first instant)."""
LATEST_AS_OF = datetime(2200, 1, 1, tzinfo=UTC)
"""As-of times must be before this (the event contract's limit); windows and the
period before them stay far inside Python's datetime range."""

_CTX_KEY = "_fpi_context"
RENDERED_STAMP_KEY = "_fpi_rendered_stamp"


@dataclass(frozen=True, slots=True)
class AppSettings:
    """How the app was started: the database file, the refresh interval (0 = off),
    the settings file (``fpi --config``; None = the built-in defaults) and after how
    many seconds without a heartbeat the live flow is reported as stale."""

    db: Path
    refresh_seconds: float
    config: Path | None = None
    stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS


def app_settings(argv: list[str] | None = None) -> AppSettings:
    """Read ``--db``/``--refresh``/``--config``/``--stale-after`` given after ``--`` to
    ``streamlit run dashboard/app.py``, else ``FPI_DB``, ``FPI_REFRESH_SECONDS``,
    ``FPI_CONFIG`` and ``FPI_STALE_AFTER_SECONDS``.

    Without ``argv`` the process arguments are read only when they are the app's
    own (``sys.argv[0]`` is ``app.py``), never those of a host such as pytest.
    An empty ``--config``/``FPI_CONFIG`` means no settings file. Raises
    ``SystemExit`` without a database and ``ValueError`` for a refresh interval
    or stale-after limit that is not a number.
    """
    if argv is None:
        argv = sys.argv[1:] if Path(sys.argv[0]).name == "app.py" else []
    ap = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    ap.add_argument("--db")
    ap.add_argument("--refresh", type=float)
    ap.add_argument("--config")
    ap.add_argument("--stale-after", dest="stale_after", type=float)
    args, _ = ap.parse_known_args(argv)
    db = args.db or os.environ.get(DB_ENV)
    if not db:
        raise SystemExit("fpi dashboard: no database given (--db or FPI_DB)")
    refresh = args.refresh
    if refresh is None:
        refresh = float(os.environ.get(REFRESH_ENV, DEFAULT_REFRESH_SECONDS))
    config = args.config if args.config is not None else os.environ.get(CONFIG_ENV)
    stale = args.stale_after
    if stale is None:
        stale = float(os.environ.get(STALE_AFTER_ENV, DEFAULT_STALE_AFTER_SECONDS))
    if math.isnan(stale):
        raise ValueError("the stale-after limit is not a number")
    return AppSettings(
        Path(db), max(0.0, refresh), Path(config) if config else None, max(0.0, stale)
    )


def data_stamp(db: Path) -> str:
    """A token that changes whenever the database file changes (size and mtime of the
    file and its WAL): cached queries are keyed on it, so a write invalidates them."""
    parts = []
    for p in (db, db.with_name(db.name + ".wal")):
        try:
            s = p.stat()
        except OSError:
            parts.append("-")
            continue
        parts.append(f"{s.st_mtime_ns}:{s.st_size}")
    return "|".join(parts)


@dataclass(frozen=True, slots=True)
class Filters:
    """The global filters as chosen (before resolving the data clock)."""

    as_of: datetime | None = None
    period: str = DEFAULT_PERIOD
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    as_of_error: str | None = None
    dates: tuple[date, date] | None = None
    """A date range picked in the sidebar (UTC dates, first and last included); None:
    the default window of ``as_of`` (or the data clock) and ``period``."""

    def where_dict(self) -> dict[str, list[str]]:
        """The dimension filters as ``metrics.query`` takes them."""
        return {d: list(vs) for d, vs in self.where}

    def describe(self) -> str:
        """One plain-text line: ``carrier = ACME · site = DC-ATL or DC-DAL``
        (not for Markdown elements: see :meth:`describe_md`)."""
        if not self.where:
            return "all exceptions"
        return " · ".join(
            f"{DIMENSIONS[d].label.lower()} = {' or '.join(vs)}" for d, vs in self.where
        )

    def describe_md(self) -> str:
        """:meth:`describe` for captions and messages (Markdown): every value is a code
        span, so ``[x](https://evil.example)`` in the URL is shown, not linked."""
        if not self.where:
            return "all exceptions"
        return " · ".join(f"{DIMENSIONS[d].label.lower()} = {md_join(vs)}" for d, vs in self.where)


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a page needs: settings, filters, the data stamp and the resolved window
    (``win`` is None while the database holds no accepted event)."""

    settings: AppSettings
    filters: Filters
    stamp: str
    win: Window | None
    data_clock: datetime | None
    values: dict[str, list[str]] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    """Markdown messages about parts of the link that were ignored (shown by the page)."""
    url: Mapping[str, list[str]] = field(default_factory=dict)
    """The query string as the run started (before widgets drop invalid values)."""
    clock: Clock | None = None
    """The wall clock, passed in by the entry file (``core.timeutil.system_clock``):
    how old the live flow's heartbeat is. None: its age is not judged."""

    @property
    def live(self) -> bool:
        """Whether the view is as of the data clock (follows new data)."""
        return self.win is not None and self.win.as_of == self.data_clock

    @property
    def pinned_as_of(self) -> datetime | None:
        """The as-of time when the view is not live; None when it follows the data clock."""
        return None if self.win is None or self.live else self.win.as_of

    @property
    def db(self) -> str:
        """The database path as a string (cache key)."""
        return str(self.settings.db)

    @property
    def config(self) -> str | None:
        """The settings file as a string (cache key), None for the built-in defaults."""
        return None if self.settings.config is None else str(self.settings.config)

    @property
    def where(self) -> dict[str, list[str]]:
        """The dimension filters."""
        return self.filters.where_dict()

    @property
    def where_key(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The dimension filters as a hashable key."""
        return self.filters.where


def parse_filters(
    as_of_text: str,
    period: str,
    selected: dict[str, list[str]],
    dates: tuple[date, date] | None = None,
) -> Filters:
    """Validate the raw values of the link and the sidebar (an invalid as-of is
    reported, then ignored).

    The as-of must parse (``core.timeutil.parse_time``) and lie in
    [:data:`EARLIEST_AS_OF`, :data:`LATEST_AS_OF`): ``0001-01-01T00:00:00Z``
    or year 10000 give ``as_of_error`` (plain text; it may quote the input, so
    render it with ``md_literal``) and ``as_of`` None. An unknown period is
    replaced by the default (the page explains it, see :func:`invalid_choice`).
    ``dates`` (a picked range) is put in order (first <= last).
    """
    as_of: datetime | None = None
    error: str | None = None
    if as_of_text.strip():
        try:
            as_of = parse_time(as_of_text)
        except ValueError as exc:
            error = str(exc) or f"not a time: {as_of_text.strip()!r}"
        except OverflowError:  # an offset that moves it out of Python's datetime range
            error = f"time {as_of_text.strip()!r} is out of range"
        else:
            if not EARLIEST_AS_OF <= as_of < LATEST_AS_OF:
                error = (
                    f"{iso_z(as_of)} is outside the supported range "
                    f"{iso_z(EARLIEST_AS_OF)} up to {iso_z(LATEST_AS_OF)}"
                )
                as_of = None
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    where = tuple((d, tuple(sorted(selected[d]))) for d in FILTER_DIMENSIONS if selected.get(d))
    if dates is not None:
        dates = (min(dates), max(dates))
    return Filters(as_of, period, where, error, dates)


def day_start(d: date) -> datetime:
    """Midnight UTC at the start of ``d``."""
    return datetime.combine(d, time(0), tzinfo=UTC)


def dates_window(dates: tuple[date, date], clock: datetime | None) -> Window:
    """The window of a picked date range ``(first, last)`` (UTC dates, both included).

    From = ``first`` at 00:00Z. As of = the end of ``last`` (the next midnight),
    or the data ``clock`` when it falls inside the range (the range then reaches
    the latest data, and follows it). A range wholly after the data clock is
    as of its end.
    """
    first, last = min(dates), max(dates)
    start = day_start(first)
    end = day_start(last) + timedelta(days=1)
    as_of = clock if clock is not None and start <= clock < end else end
    return Window(as_of, start)


def window_dates(win: Window) -> tuple[date, date]:
    """The UTC dates a window covers, as the date picker shows it: the date of its
    start and the date of its last instant (an as-of at midnight ends the day before)."""
    first = win.start.astimezone(UTC).date()
    last = (win.as_of - timedelta(microseconds=1)).astimezone(UTC).date()
    return first, max(first, last)


def base_window(filters: Filters, clock: datetime | None) -> tuple[Window | None, Filters]:
    """The window without a picked range: as of ``filters.as_of`` (from a link),
    else of the data ``clock`` (None while there is no data), over the period
    before it (default 7 days).

    An as-of whose period would start before the earliest date Python holds
    (possible only if :func:`parse_filters` was bypassed) becomes an as-of error
    and the data clock is used instead; the returned filters say so.
    """
    as_of = filters.as_of or clock
    if as_of is None:
        return None, filters
    try:
        return Window(as_of, as_of - PERIODS[filters.period]), filters
    except OverflowError:
        if filters.as_of is None:
            raise
        bad = replace(filters, as_of=None, as_of_error=f"{iso_z(as_of)} is too early")
        return base_window(bad, clock)


def resolve_window(filters: Filters, clock: datetime | None) -> tuple[Window | None, Filters]:
    """The window of ``filters``: of the picked date range when there is one
    (:func:`dates_window`; the sidebar leaves it None while the picker shows
    the dates of the base window), else :func:`base_window`. None while there
    is no data and no as-of time."""
    if filters.dates is not None and clock is not None:
        return dates_window(filters.dates, clock), filters
    return base_window(filters, clock)


def url_snapshot() -> dict[str, list[str]]:
    """Every query parameter of this run with all its values.

    Taken before any widget is drawn: a bound widget silently drops a URL value
    that is not one of its options, and this copy lets the page say so.
    """
    return {k: st.query_params.get_all(k) for k in st.query_params}


def invalid_choice(url: Mapping[str, list[str]], key: str, labels: Iterable[str]) -> str | None:
    """The first value the link gives ``key`` that is not one of ``labels`` (a widget's
    shown options), or None when ``key`` is absent, empty or every value is valid."""
    allowed = set(labels)
    for value in url.get(key, []):
        if value != "" and value not in allowed:
            return value
    return None


def store(ctx: Context) -> None:
    """Keep the context for the pages of this run."""
    st.session_state[_CTX_KEY] = ctx


def current() -> Context:
    """The context the entry file prepared for this run."""
    ctx = st.session_state.get(_CTX_KEY)
    if not isinstance(ctx, Context):
        raise RuntimeError("dashboard pages run through dashboard/app.py (st.navigation)")
    return ctx


def span_text(length: timedelta) -> str:
    """``7 days``, ``24 hours``, ``2.5 days``, ``90 minutes``: the length of a period."""
    hours = length.total_seconds() / 3600
    if hours < 2:
        return f"{hours * 60:g} minutes"
    if hours < 48:
        return f"{round(hours, 1):g} hours"
    return f"{round(hours / 24, 1):g} days"


def window_caption(ctx: Context) -> str:
    """``as of **2026-05-06T23:59:00Z** (latest data) · flows from 2026-04-29T23:59:00Z
    (7 days) · all exceptions`` (Markdown; filter values are code spans)."""
    if ctx.win is None:
        return "no data yet"
    live = " (latest data)" if ctx.live else ""
    return (
        f"as of **{iso_z(ctx.win.as_of)}**{live} · flows from {iso_z(ctx.win.start)} "
        f"({span_text(ctx.win.as_of - ctx.win.start)}) · {ctx.filters.describe_md()}"
    )


def as_of_notice(error: str) -> str:
    """The Markdown warning for an as-of that was ignored (the error may quote input)."""
    return f"As-of ignored: {md_literal(error)}. Showing the latest data."

"""What every page shares: the database, the global filters and the resolved window.

The entry file (``dashboard/app.py``) draws the global filters in the sidebar
and stores a :class:`Context` in the session; pages read it with
:func:`current`. Every filter widget is bound to the URL query string
(``bind="query-params"``), so a view is shared by sharing its link:

``?as_of=2026-05-06T12:00:00Z&period=last+3+days&carrier=ACME&site=DC-ATL&site=DC-DAL``

* ``as_of`` — stock KPIs as of this time (RFC 3339; empty = the data clock,
  i.e. live);
* ``period`` — flow KPIs over ``[as_of − period, as_of)`` (the label shown,
  e.g. ``last 24 hours``; choices show their label in the URL);
* ``site``, ``lane``, ``carrier``, ``category`` (root cause), ``severity``,
  ``customer_tier`` — keep only those groups (values of one dimension are
  ORed, dimensions ANDed; metrics.dimensions).
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import streamlit as st

from fpi.timeutil import iso_z, parse_time
from metrics.dimensions import DIMENSIONS
from metrics.drilldown import FILTER_DIMENSIONS
from metrics.query import Window

DB_ENV = "FPI_DB"
REFRESH_ENV = "FPI_REFRESH_SECONDS"
DEFAULT_REFRESH_SECONDS = 30.0

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

_CTX_KEY = "_fpi_context"
RENDERED_STAMP_KEY = "_fpi_rendered_stamp"


@dataclass(frozen=True, slots=True)
class AppSettings:
    """How the app was started: the database file and the refresh interval (0 = off)."""

    db: Path
    refresh_seconds: float


def app_settings(argv: list[str] | None = None) -> AppSettings:
    """Read ``--db``/``--refresh`` given after ``--`` to ``streamlit run dashboard/app.py``,
    else ``FPI_DB`` and ``FPI_REFRESH_SECONDS``.

    Without ``argv`` the process arguments are read only when they are the app's
    own (``sys.argv[0]`` is ``app.py``), never those of a host such as pytest.
    """
    if argv is None:
        argv = sys.argv[1:] if Path(sys.argv[0]).name == "app.py" else []
    ap = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    ap.add_argument("--db")
    ap.add_argument("--refresh", type=float)
    args, _ = ap.parse_known_args(argv)
    db = args.db or os.environ.get(DB_ENV)
    if not db:
        raise SystemExit("fpi dashboard: no database given (--db or FPI_DB)")
    refresh = args.refresh
    if refresh is None:
        refresh = float(os.environ.get(REFRESH_ENV, DEFAULT_REFRESH_SECONDS))
    return AppSettings(Path(db), max(0.0, refresh))


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

    def where_dict(self) -> dict[str, list[str]]:
        """The dimension filters as ``metrics.query`` takes them."""
        return {d: list(vs) for d, vs in self.where}

    def describe(self) -> str:
        """One line for captions: ``carrier = ACME · site = DC-ATL or DC-DAL``."""
        if not self.where:
            return "all exceptions"
        return " · ".join(
            f"{DIMENSIONS[d].label.lower()} = {' or '.join(vs)}" for d, vs in self.where
        )


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

    @property
    def db(self) -> str:
        """The database path as a string (cache key)."""
        return str(self.settings.db)

    @property
    def where(self) -> dict[str, list[str]]:
        """The dimension filters."""
        return self.filters.where_dict()

    @property
    def where_key(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """The dimension filters as a hashable key."""
        return self.filters.where


def parse_filters(as_of_text: str, period: str, selected: dict[str, list[str]]) -> Filters:
    """Validate the sidebar's raw values (an invalid as-of is reported, then ignored)."""
    as_of: datetime | None = None
    error: str | None = None
    if as_of_text.strip():
        try:
            as_of = parse_time(as_of_text)
        except ValueError as exc:
            error = str(exc)
    if period not in PERIODS:
        period = DEFAULT_PERIOD
    where = tuple((d, tuple(sorted(selected[d]))) for d in FILTER_DIMENSIONS if selected.get(d))
    return Filters(as_of, period, where, error)


def store(ctx: Context) -> None:
    """Keep the context for the pages of this run."""
    st.session_state[_CTX_KEY] = ctx


def current() -> Context:
    """The context the entry file prepared for this run."""
    ctx = st.session_state.get(_CTX_KEY)
    if not isinstance(ctx, Context):
        raise RuntimeError("dashboard pages run through dashboard/app.py (st.navigation)")
    return ctx


def window_caption(ctx: Context) -> str:
    """``as of 2026-05-06T23:59:00Z (latest data) · flows over the last 7 days · all``."""
    if ctx.win is None:
        return "no data yet"
    live = " (latest data)" if ctx.filters.as_of is None else ""
    return (
        f"as of **{iso_z(ctx.win.as_of)}**{live} · flows over "
        f"{PERIOD_LABELS[ctx.filters.period]} · {ctx.filters.describe()}"
    )

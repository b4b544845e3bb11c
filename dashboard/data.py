"""Cached reads of the metric layer for the dashboard.

Every read goes through ``fpi.db.open_read`` (read-only; retries while the
ingest writer holds the file, so a reader never sees a lock error). Within one
script run the cache misses share one connection (:func:`run_scope`, opened
on the first miss, closed when the run ends — never kept across reruns, so the
writer gets the file between them); outside a run scope each call opens and
closes its own. Sharing also lets DuckDB reuse what the previous query of the
run already read. Results are cached by Streamlit
(``st.cache_data``) keyed on the arguments, which always include the
database's *data stamp* (``context.data_stamp``): any write invalidates them,
and an unchanged database is never queried twice for the same view.

Nothing here computes a number itself: it only calls ``metrics.*``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

import duckdb
import polars as pl
import streamlit as st

from fpi.config import load_settings
from fpi.db import open_read
from metrics import drilldown, series
from metrics.query import Window, data_clock, quality, rejected_by_reason

Where = tuple[tuple[str, tuple[str, ...]], ...]

_TTL = 3600
_MAX = 64

_local = threading.local()  # Streamlit runs each session's script in its own thread


class _Scope:
    """The connection shared by the cache misses of one script run (opened lazily)."""

    def __init__(self, db: str) -> None:
        self.db = db
        self._cm: AbstractContextManager[duckdb.DuckDBPyConnection] | None = None
        self._con: duckdb.DuckDBPyConnection | None = None

    def connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            cm = open_read(self.db)
            self._con = cm.__enter__()
            self._cm = cm
        return self._con

    def close(self) -> None:
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
        self._cm = self._con = None


@contextmanager
def run_scope(db: str) -> Iterator[None]:
    """Share one read-only connection to ``db`` among the reads of this script run."""
    previous = getattr(_local, "scope", None)
    scope = _Scope(db)
    _local.scope = scope
    try:
        yield
    finally:
        _local.scope = previous
        scope.close()


@contextmanager
def _read(db: str) -> Iterator[duckdb.DuckDBPyConnection]:
    scope: _Scope | None = getattr(_local, "scope", None)
    if scope is not None and scope.db == db:
        yield scope.connection()
    else:
        with _read(db) as con:
            yield con


def _w(where: Where) -> dict[str, list[str]]:
    return {d: list(vs) for d, vs in where}


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def reporting_currency() -> str:
    """The reporting currency of the configured settings (``FPI_CONFIG`` or default)."""
    return load_settings(None).reporting_currency


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def clock_and_values(db: str, stamp: str) -> tuple[datetime | None, dict[str, list[str]]]:
    """The data clock (None: no accepted event yet) and the values of each filter dimension."""
    with _read(db) as con:
        return data_clock(con), drilldown.dimension_values(con)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def matching(db: str, stamp: str, as_of: datetime, where: Where) -> int:
    """Exceptions existing at ``as_of`` that match the filters."""
    with _read(db) as con:
        return drilldown.matching_exceptions(con, as_of, _w(where))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def totals(db: str, stamp: str, win: Window, where: Where) -> dict[str, Any]:
    """The exception KPIs of ``win`` over every matching exception (one row as a dict)."""
    with _read(db) as con:
        long = drilldown.group_kpis(con, win, [], where=_w(where))
    return long.drop("dimension", "group").to_dicts()[0]


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def order_totals(db: str, stamp: str, win: Window, where: Where) -> dict[str, float | None]:
    """The order KPIs of ``win`` (OTIF, on time, in full, exception rate)."""
    with _read(db) as con:
        return drilldown.order_kpis(con, win, where=_w(where))


def previous(win: Window) -> Window:
    """The period before ``win``, of the same length, as of its start."""
    return Window(win.start, win.start - (win.as_of - win.start))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def trend(db: str, stamp: str, win: Window, grain: str, where: Where) -> pl.DataFrame:
    """``metrics.series.trend`` over the window at ``grain``."""
    with _read(db) as con:
        return series.trend(con, win.as_of, win.start, grain, where=_w(where))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def group_kpis(db: str, stamp: str, win: Window, where: Where) -> pl.DataFrame:
    """``metrics.drilldown.group_kpis`` by lane, site, carrier and root cause (one pass)."""
    with _read(db) as con:
        return drilldown.group_kpis(con, win, drilldown.BOTTLENECK_DIMENSIONS, where=_w(where))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def heatmap(db: str, stamp: str, win: Window, rows: str, cols: str, where: Where) -> pl.DataFrame:
    """``metrics.drilldown.heatmap`` of two dimensions."""
    with _read(db) as con:
        return drilldown.heatmap(con, win, rows, cols, where=_w(where))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def breakdown(db: str, stamp: str, win: Window, by: str, where: Where) -> pl.DataFrame:
    """The exception KPIs per group of ``by`` (column named ``by``), groups with exceptions."""
    with _read(db) as con:
        long = drilldown.group_kpis(con, win, [by], where=_w(where))
    return long.filter(pl.col("dimension") == by).drop("dimension").rename({"group": by})


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def queue(
    db: str, stamp: str, as_of: datetime, where: Where, sort: str, limit: int
) -> tuple[pl.DataFrame, int]:
    """The open-exception queue (``limit`` rows) and how many are open in all."""
    with _read(db) as con:
        rows = drilldown.open_queue(con, as_of, where=_w(where), sort=sort, limit=limit)
        total = drilldown.open_count(con, as_of, where=_w(where))
    return rows, total


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def exception_detail(
    db: str, stamp: str, exception_id: str, as_of: datetime
) -> tuple[dict[str, object] | None, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One exception as of ``as_of``: state, events, state intervals, held events."""
    with _read(db) as con:
        return (
            drilldown.exception_state(con, exception_id, as_of),
            drilldown.timeline(con, exception_id, as_of),
            drilldown.status_intervals(con, exception_id, as_of),
            drilldown.pending_for(con, exception_id),
        )


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def data_quality(db: str, stamp: str) -> dict[str, object]:
    """Totals, rejected by reason with samples, accepted by type, pending, duplicates."""
    with _read(db) as con:
        return {
            "totals": quality(con),
            "rejected": rejected_by_reason(con),
            "samples": drilldown.rejected_samples(con, per_reason=10),
            "accepted": drilldown.accepted_by_type(con),
            "pending": drilldown.pending_summary(con),
            "pending_sample": drilldown.pending_sample(con, limit=50),
            "duplicates": drilldown.duplicate_sample(con, limit=50),
        }

"""Cached reads of the metric layer for the dashboard.

Every read goes through ``core.db.open_read`` (read-only; retries while the
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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb
import polars as pl
import streamlit as st

from core import sla_record
from core.config import load_settings
from core.db import open_read
from metrics import alerts as sla_alerts
from metrics import bottlenecks, breakdowns, filter_values, quality, series, timeline
from metrics import queue as open_items
from metrics.flow_status import FlowStatus
from metrics.flow_status import flow_status as read_flow_status
from metrics.query import Window, data_clock
from metrics.targets import Targets, load_targets

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
def reader(db: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to ``db``: the run scope's when one is open for ``db``
    (left open for the next read), else a connection of its own, closed on exit
    (outside a script run, a scope for another database, or another thread)."""
    scope: _Scope | None = getattr(_local, "scope", None)
    if scope is not None and scope.db == db:
        yield scope.connection()
    else:
        with open_read(db) as con:
            yield con


def _w(where: Where) -> dict[str, list[str]]:
    return {d: list(vs) for d, vs in where}


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def reporting_currency(config: str | None) -> str:
    """The reporting currency of the settings file ``config`` (``fpi --config``,
    :attr:`dashboard.context.AppSettings.config`; None: the built-in defaults).

    Raises ``FileNotFoundError`` or ``ValueError`` for a missing or invalid
    file, as ``core.config.load_settings`` does.
    """
    return load_settings(config).reporting_currency


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def sla_mismatch(db: str, stamp: str, config: str | None) -> str | None:
    """One line when the database's SLA figures were computed with another SLA
    policy or calendars than the settings file ``config`` (``core.sla_record``)."""
    with reader(db) as con:
        return sla_record.mismatch(sla_record.recorded(con), load_settings(config))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def targets(config: str | None) -> Targets:
    """The KPI targets of the settings file ``config`` (``metrics.targets``; None: the
    built-in defaults). Raises ``FileNotFoundError`` or ``ValueError`` (one line
    naming the key) for a missing file or a bad target."""
    return load_targets(load_settings(config))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def clock_and_values(db: str, stamp: str) -> tuple[datetime | None, dict[str, list[str]]]:
    """The data clock (None: no accepted event yet) and the values of each filter dimension."""
    with reader(db) as con:
        return data_clock(con), filter_values.dimension_values(con)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def matching(db: str, stamp: str, as_of: datetime, where: Where) -> int:
    """Exceptions existing at ``as_of`` that match the filters."""
    with reader(db) as con:
        return open_items.matching_exceptions(con, as_of, _w(where))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def totals(db: str, stamp: str, win: Window, where: Where) -> dict[str, Any]:
    """The exception KPIs of ``win`` over every matching exception (one row as a dict)."""
    with reader(db) as con:
        long = breakdowns.group_kpis(con, win, [], where=_w(where))
    return long.drop("dimension", "group").to_dicts()[0]


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def order_totals(db: str, stamp: str, win: Window, where: Where) -> dict[str, float | None]:
    """The order KPIs of ``win`` (OTIF, on time, in full, exception rate)."""
    with reader(db) as con:
        return breakdowns.order_kpis(con, win, where=_w(where))


def previous(win: Window) -> Window:
    """The period before ``win``, of the same length, as of its start."""
    return Window(win.start, win.start - (win.as_of - win.start))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def trend(db: str, stamp: str, win: Window, grain: str, where: Where) -> pl.DataFrame:
    """``metrics.series.trend`` over the window at ``grain``."""
    with reader(db) as con:
        return series.trend(con, win.as_of, win.start, grain, where=_w(where))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def group_kpis(db: str, stamp: str, win: Window, where: Where) -> pl.DataFrame:
    """``metrics.breakdowns.group_kpis`` by lane, site, carrier and root cause (one pass)."""
    with reader(db) as con:
        return breakdowns.group_kpis(con, win, bottlenecks.BOTTLENECK_DIMENSIONS, where=_w(where))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def heatmap(db: str, stamp: str, win: Window, rows: str, cols: str, where: Where) -> pl.DataFrame:
    """``metrics.breakdowns.heatmap`` of two dimensions."""
    with reader(db) as con:
        return breakdowns.heatmap(con, win, rows, cols, where=_w(where))


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def breakdown(db: str, stamp: str, win: Window, by: str, where: Where) -> pl.DataFrame:
    """The exception KPIs per group of ``by`` (column named ``by``), groups with exceptions."""
    with reader(db) as con:
        long = breakdowns.group_kpis(con, win, [by], where=_w(where))
    return long.filter(pl.col("dimension") == by).drop("dimension").rename({"group": by})


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def queue(
    db: str, stamp: str, as_of: datetime, where: Where, sort: str, limit: int
) -> tuple[pl.DataFrame, int]:
    """The open-exception queue (``limit`` rows) and how many are open in all."""
    with reader(db) as con:
        rows = open_items.open_queue(con, as_of, where=_w(where), sort=sort, limit=limit)
        total = open_items.open_count(con, as_of, where=_w(where))
    return rows, total


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def exception_detail(
    db: str, stamp: str, exception_id: str, as_of: datetime
) -> tuple[dict[str, object] | None, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One exception as of ``as_of``: state, events, state intervals, held events."""
    with reader(db) as con:
        return (
            open_items.exception_state(con, exception_id, as_of),
            timeline.timeline(con, exception_id, as_of),
            timeline.status_intervals(con, exception_id, as_of),
            timeline.pending_for(con, exception_id),
        )


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def exception_sla_clock(
    db: str, stamp: str, exception_id: str, as_of: datetime
) -> dict[str, object] | None:
    """``metrics.timeline.sla_clock``: the working-time SLA clock of one exception."""
    with reader(db) as con:
        return timeline.sla_clock(con, exception_id, as_of)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def site_calendars(db: str, stamp: str) -> pl.DataFrame:
    """``metrics.timeline.site_calendars``: which calendar each site uses."""
    with reader(db) as con:
        return timeline.site_calendars(con)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def flow_status(db: str, stamp: str) -> FlowStatus | None:
    """The writer's ``flow_clock`` row (None: an older database, or none written yet)."""
    with reader(db) as con:
        return read_flow_status(con)


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def active_alerts(db: str, stamp: str, where: Where, as_of: datetime | None) -> pl.DataFrame:
    """``metrics.alerts.active_alerts`` of both kinds, newest first (``as_of`` None: live)."""
    with reader(db) as con:
        return sla_alerts.active_alerts(con, where=_w(where), as_of=as_of)


@dataclass(frozen=True, slots=True)
class QualityView:
    """What the Data quality page shows (``metrics.quality``)."""

    totals: dict[str, int]
    rejected: pl.DataFrame
    samples: pl.DataFrame
    accepted: pl.DataFrame
    pending: pl.DataFrame
    pending_sample: pl.DataFrame
    duplicates: pl.DataFrame
    by_source: pl.DataFrame
    summary: pl.DataFrame


@st.cache_data(ttl=_TTL, max_entries=_MAX, show_spinner=False)
def data_quality(db: str, stamp: str) -> QualityView:
    """Totals, rejected by reason with samples, accepted by type, pending, duplicates."""
    with reader(db) as con:
        return QualityView(
            totals=quality.quality(con),
            rejected=quality.rejected_by_reason(con),
            samples=quality.rejected_samples(con, per_reason=10),
            accepted=quality.accepted_by_type(con),
            pending=quality.pending_summary(con),
            pending_sample=quality.pending_sample(con, limit=50),
            duplicates=quality.duplicate_sample(con, limit=50),
            by_source=quality.by_source(con),
            summary=quality.summary(con),
        )

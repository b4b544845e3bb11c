"""The SLA clock as readers see it: working time of the site calendars at the
as-of times of a query (``kpis.md``, "Business-hours calendars").

The writer stores, at the start of every state version, the site calendar's
cumulative working time (``exception_versions.working_us_at_start``; 24×7: the
epoch µs) and, in ``fpi_meta``, the calendars and SLA policy its figures were
computed with (:mod:`core.sla_record`). So an open version's clock at T is
``active_seconds + (cum(T) − working_us_at_start) / 1e6``: a reader computes
``cum(T)`` once per calendar and as-of time (a binary search in the calendar's
table of cumulative working time at each range boundary, ``core.calendar``)
and binds them as the small table ``clk`` (:data:`CLOCK_CTE`); the rest is a
join and a subtraction in SQL. Sites without a calendar have no ``clk`` row:
their ``cum(T)`` is ``epoch_us(T)``.

The calendars used are the ones *recorded in the database*, not the reader's
configuration: figures stay consistent with how the stored clock was counted.
When the configuration in use differs, :func:`core.sla_record.mismatch` says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb

from core.calendar import SlaCalendars
from core.sla_record import recorded
from core.timeutil import to_us

CLOCK_CTE = """clk AS (
    SELECT unnest($clk_t::TIMESTAMPTZ[]) AS t, unnest($clk_cal::VARCHAR[]) AS sla_calendar,
           unnest($clk_us::BIGINT[]) AS cum_us
)"""
"""Cumulative working µs of each calendar at each as-of time (bound by :func:`bind`)."""

CLOCK_JOIN = "LEFT JOIN clk ON clk.t = v.t AND clk.sla_calendar = e.sla_calendar"
"""Joins an exception row ``e`` and its version ``v`` (with ``v.t``) to ``clk``."""

WORKING_SINCE_START = (
    "(coalesce(clk.cum_us, epoch_us(v.t)) "
    "- coalesce(v.working_us_at_start, epoch_us(v.valid_from)))"
)
"""Working µs of the site calendar in ``[v.valid_from, v.t)`` (24×7: ``t − valid_from``)."""

_WALL_SINCE_START = "(epoch_us(v.t) - epoch_us(v.valid_from))"


def has_clock(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the database has the calendar columns (a database of an earlier
    release, read without an upgrade, has not: its figures are 24×7)."""
    rows = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND table_name = 'exception_versions' AND column_name = 'working_us_at_start'"
    ).fetchall()
    return bool(rows and rows[0][0])


def prepare(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    params: dict[str, object],
    times: Sequence[datetime] | None = None,
) -> tuple[str, dict[str, object]]:
    """``sql`` (built on ``metrics.working_set``) and its parameters with the
    ``clk`` table bound (:func:`bind`); on a database without the calendar
    columns, the 24×7 form of the clock instead."""
    if has_clock(con):
        return sql, bind(con, params, times)
    sql = sql.replace(WORKING_SINCE_START, _WALL_SINCE_START).replace(CLOCK_JOIN, "")
    return sql.replace(f"{CLOCK_CTE},\n", ""), params


def calendars(con: duckdb.DuckDBPyConnection) -> SlaCalendars:
    """The calendars the database's SLA figures were computed with (none: 24×7)."""
    return recorded(con).calendars


def bind(
    con: duckdb.DuckDBPyConnection,
    params: dict[str, object],
    times: Sequence[datetime] | None = None,
) -> dict[str, object]:
    """``params`` plus the ``clk`` parameters for ``times`` (default: the bound
    ``$t``), as a new dict (``params`` itself may go on to a query without ``clk``)."""
    ts = list(times) if times is not None else [params["t"]]
    cals = calendars(con)
    t_col: list[object] = []
    names: list[str] = []
    cums: list[int] = []
    for name in cals.calendars:
        clock = cals.clock(name)
        for t in ts:
            assert isinstance(t, datetime)
            t_col.append(t)
            names.append(name)
            cums.append(clock.cum_us(to_us(t)))
    return {**params, "clk_t": t_col, "clk_cal": names, "clk_us": cums}

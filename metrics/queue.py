"""Open exceptions one by one: the queue an operations manager works from.

Each row is an exception as of T from the exception working set
(:mod:`metrics.working_set`): its dimensions, age, SLA clock, time left,
breached / at-risk flags as the stock KPIs define them, and the order value it
puts at risk.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from core.db import fetch_pl, fetch_row

from . import sla_clock, working_set
from .dimensions import exception_filter

QUEUE_SORTS: dict[str, str] = {
    "revenue": "order_value DESC, age_hours DESC, exception_id",
    "age": "age_hours DESC, exception_id",
    "sla_left": "sla_left_hours ASC, exception_id",
}
"""Orderings of :func:`open_queue`: order value at risk, age, SLA time left."""

_STATE_SELECT = """
SELECT exception_id, order_id, status, severity, customer_tier, site, lane, carrier, category,
       owner_team, source_system, opened_at,
       CASE WHEN is_open THEN age_h END AS age_hours,
       active_s / 3600.0 AS active_hours,
       target_s / 3600.0 AS sla_target_hours,
       (target_s - active_s) / 3600.0 AS sla_left_hours,
       is_breached AS breached,
       is_at_risk AS at_risk,
       order_value_reporting AS order_value,
       manual_touches, escalation_level, reopen_count, resolved_at, cancelled_at
FROM xf
"""

QUEUE_COLUMNS: tuple[str, ...] = (
    "exception_id",
    "order_id",
    "status",
    "severity",
    "customer_tier",
    "site",
    "lane",
    "carrier",
    "category",
    "owner_team",
    "source_system",
    "opened_at",
    "age_hours",
    "active_hours",
    "sla_target_hours",
    "sla_left_hours",
    "breached",
    "at_risk",
    "order_value",
    "manual_touches",
    "escalation_level",
    "reopen_count",
    "resolved_at",
    "cancelled_at",
)
"""Columns of :func:`open_queue` and :func:`exception_state`.

``age_hours`` = T − ``opened_at`` (null unless open or paused);
``active_hours`` = SLA-clock time at T; ``sla_left_hours`` = target −
active (negative: overdue by that much); ``breached``/``at_risk`` as the
stock KPIs define them; ``order_value`` = the exception's order value in the
reporting currency (what it puts at risk; ``revenue_at_risk`` counts each order
once)."""


def open_queue(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    *,
    where: dict[str, list[str]] | None = None,
    sort: str = "revenue",
    limit: int | None = 500,
) -> pl.DataFrame:
    """Exceptions open or paused at ``as_of`` (matching ``where``), sorted by ``sort``.

    ``sort`` is a key of :data:`QUEUE_SORTS`; at most ``limit`` rows (None: all).
    """
    try:
        order = QUEUE_SORTS[sort]
    except KeyError:
        raise ValueError(f"unknown sort {sort!r}; use one of: {', '.join(QUEUE_SORTS)}") from None
    params: dict[str, object] = {"t": as_of, "from": as_of}
    ctes = working_set.exceptions(
        working_set.VERSIONS_AT_T, "'all'", exception_filter(where, params)
    )
    sql = f"WITH {ctes} {_STATE_SELECT} WHERE is_open ORDER BY {order}"
    if limit is not None:
        params["limit"] = int(limit)
        sql += " LIMIT $limit"
    return fetch_pl(con, *sla_clock.prepare(con, sql, params))


_COUNT = "SELECT count(*) FROM xf"


def open_count(
    con: duckdb.DuckDBPyConnection, as_of: datetime, *, where: dict[str, list[str]] | None = None
) -> int:
    """How many exceptions are open or paused at ``as_of`` and match ``where``
    (``open_exceptions`` of kpis.md; the length of the whole queue)."""
    params: dict[str, object] = {"t": as_of, "from": as_of}
    ctes = working_set.exceptions(
        working_set.VERSIONS_AT_T, "'all'", exception_filter(where, params)
    )
    (n,) = fetch_row(con, *sla_clock.prepare(con, f"WITH {ctes} {_COUNT} WHERE is_open", params))
    return int(str(n))


def exception_state(
    con: duckdb.DuckDBPyConnection, exception_id: str, as_of: datetime
) -> dict[str, object] | None:
    """One exception as of ``as_of`` (columns of :data:`QUEUE_COLUMNS`); None if it
    did not exist then (unknown id, or opened after ``as_of``)."""
    params: dict[str, object] = {"t": as_of, "from": as_of, "xid": exception_id}
    ctes = working_set.exceptions_at("'all'", "exception_id = $xid")
    rows = fetch_pl(con, *sla_clock.prepare(con, f"WITH {ctes} {_STATE_SELECT}", params)).to_dicts()
    return rows[0] if rows else None


def matching_exceptions(
    con: duckdb.DuckDBPyConnection, as_of: datetime, where: dict[str, list[str]] | None = None
) -> int:
    """How many exceptions exist at ``as_of`` (opened by then, any status) and match ``where``."""
    params: dict[str, object] = {"t": as_of, "from": as_of}
    ctes = working_set.exceptions(
        working_set.VERSIONS_AT_T, "'all'", exception_filter(where, params)
    )
    (n,) = fetch_row(con, *sla_clock.prepare(con, f"WITH {ctes} {_COUNT}", params))
    return int(str(n))

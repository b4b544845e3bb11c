"""Drill-down queries behind the dashboard, on the definitions of ``metrics.query``.

Everything here is "as of T" in the sense of kpis.md (only events with
``occurred_at <= T`` count; the state version in force at T gives status,
owner team and the SLA clock) and reuses the per-exception working set and the
KPI aggregates of :mod:`metrics.query`, so a number shown in a drill-down is
the same number ``fpi kpis`` prints for the same group.

* :func:`group_kpis` — the KPIs of several breakdowns in one pass;
* :func:`bottleneck_lists` — the bottleneck list (kpis.md) for several dimensions;
* :func:`heatmap` — KPIs per pair of groups of two dimensions;
* :func:`pareto` — groups sorted by a KPI with their share and cumulative share;
* :func:`open_queue` / :func:`exception_state` — open exceptions with age, SLA
  time left and order value at risk;
* :func:`timeline` / :func:`status_intervals` — one exception's audit trail;
* data-quality samples: :func:`rejected_samples`, :func:`pending_summary`,
  :func:`pending_sample`, :func:`duplicate_sample`, :func:`accepted_by_type`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import duckdb
import polars as pl

from fpi.db import fetch_pl, fetch_row

from . import query
from .bottlenecks import rank_groups
from .dimensions import DIMENSIONS, dimension
from .query import Window

FILTER_DIMENSIONS: tuple[str, ...] = (
    "site",
    "lane",
    "carrier",
    "category",
    "severity",
    "customer_tier",
)
"""The dimensions of the dashboard's global filters."""

BOTTLENECK_DIMENSIONS: tuple[str, ...] = ("lane", "site", "carrier", "category")
"""The dimensions of the bottleneck page (category = root cause)."""

GROUP_KPIS: tuple[str, ...] = (*query.STOCK_FLOW, "bottleneck_exceptions", "bottleneck_breached")
"""Columns of :func:`group_kpis` and :func:`heatmap`: the exception KPIs of kpis.md
plus ``bottleneck_exceptions`` (resolved in the period or open at T) and
``bottleneck_breached`` (those of them over target)."""

_COUNTS = frozenset({*query.INT_KPIS, "bottleneck_exceptions", "bottleneck_breached"})
_SUMS = frozenset({"revenue_at_risk", "breached_revenue_at_risk", "sla_overrun_hours"})

_X_COLUMNS: dict[str, str | None] = {d.name: d.exception_column for d in DIMENSIONS.values()}

_GROUPED = """
k AS ({kpis}),
r AS ({revenue})
SELECT k.*, r.revenue_at_risk, r.breached_revenue_at_risk
FROM k LEFT JOIN r ON k.grp IS NOT DISTINCT FROM r.grp
"""


def _conditions(
    where: dict[str, list[str]] | None, params: dict[str, object], extra: str | None = None
) -> str:
    cond = query._filters(where or {}, _X_COLUMNS, params)
    assert cond is not None  # every dimension has an exception column
    return cond if extra is None else f"{cond} AND {extra}"


def _kpi_frame(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    grp_sql: str,
    where: dict[str, list[str]] | None,
) -> pl.DataFrame:
    """The exception KPIs of ``metrics.query`` grouped by the SQL expression ``grp_sql``."""
    params: dict[str, object] = {"t": win.as_of, "from": win.start}
    ctes = query._X.format(grp=grp_sql, where=_conditions(where, params))
    tail = _GROUPED.format(kpis=query._EXCEPTION_KPIS, revenue=query._REVENUE)
    df = fetch_pl(con, f"WITH {ctes}, {tail}", params)
    return _typed(df)


def _typed(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        [pl.col(c).fill_null(0).cast(pl.Int64) for c in GROUP_KPIS if c in _COUNTS]
        + [pl.col(c).fill_null(0.0).cast(pl.Float64) for c in GROUP_KPIS if c in _SUMS]
        + [pl.col(c).cast(pl.Float64) for c in GROUP_KPIS if c not in _COUNTS and c not in _SUMS]
    )


TOTAL = "*"
"""The ``dimension`` (and ``group``) of the all-groups row of :func:`group_kpis`."""


def group_kpis(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    dims: Sequence[str],
    *,
    where: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    """Exception KPIs per group of each dimension in ``dims``, in one pass.

    Long frame: ``dimension``, ``group`` and :data:`GROUP_KPIS`; one row per
    group of each dimension among the exceptions existing at T (matching
    ``where``), plus one row ``dimension = group = "*"`` for all of them (an
    order counts once there, once per group elsewhere — kpis.md); that row is
    there even when nothing matches (counts 0, means null).
    Each row equals ``compute(con, win, by=dimension, where=where)`` for that group.
    """
    names = [dimension(d).name for d in dims]
    items = [f"{{'d': '{TOTAL}', 'v': '{TOTAL}'}}"] + [
        f"{{'d': '{n}', 'v': {_X_COLUMNS[n]}::VARCHAR}}" for n in names
    ]
    df = _kpi_frame(con, win, f"unnest([{', '.join(items)}])", where)
    df = df.with_columns(
        pl.col("grp").struct.field("d").alias("dimension"),
        pl.col("grp").struct.field("v").alias("group"),
    ).select(["dimension", "group", *GROUP_KPIS])
    if df.filter(pl.col("dimension") == TOTAL).height == 0:
        # no exception exists at T: the total is still defined (counts 0, means null)
        empty = pl.DataFrame({"dimension": [TOTAL], "group": [TOTAL]}).with_columns(
            [pl.lit(None).alias(c) for c in GROUP_KPIS]
        )
        df = pl.concat([df, _typed(empty)], how="vertical_relaxed")
    return df.sort(["dimension", "group"])


def _bottleneck_list(groups: pl.DataFrame, total_overrun: float, dim: str) -> pl.DataFrame:
    """``metrics.bottlenecks.rank_groups`` on this module's long-form group KPIs."""
    return rank_groups(groups.rename({"group": dim}), total_overrun, dim)


def bottleneck_lists(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    dims: Sequence[str] = BOTTLENECK_DIMENSIONS,
    *,
    where: dict[str, list[str]] | None = None,
    top: int | None = None,
) -> dict[str, pl.DataFrame]:
    """The bottleneck list of kpis.md for each dimension of ``dims`` (one query).

    Same columns and ranking as ``metrics.bottlenecks.bottlenecks`` (groups
    ranked by ``sla_overrun_hours``, ties by name; ``share_of_overrun`` of the
    total over all matching exceptions). Groups are the values among
    exceptions existing at T; ``bottlenecks`` also lists, for dimensions that
    orders have, values seen only on orders (always with zero overrun).
    """
    return rank_bottlenecks(group_kpis(con, win, dims, where=where), dims, top=top)


def rank_bottlenecks(
    long: pl.DataFrame, dims: Sequence[str] = BOTTLENECK_DIMENSIONS, *, top: int | None = None
) -> dict[str, pl.DataFrame]:
    """The bottleneck lists of :func:`bottleneck_lists` from a :func:`group_kpis` frame
    (which must hold the ``"*"`` total row and the groups of ``dims``)."""
    total_rows = long.filter(pl.col("dimension") == TOTAL)
    total = float(total_rows["sla_overrun_hours"][0]) if total_rows.height else 0.0
    out: dict[str, pl.DataFrame] = {}
    for d in dims:
        name = dimension(d).name
        groups = long.filter(pl.col("dimension") == name).drop("dimension")
        ranked = _bottleneck_list(groups, total, name)
        out[name] = ranked.head(top) if top is not None else ranked
    return out


ORDER_KPIS: tuple[str, ...] = tuple(query.ORDER_KPIS)
"""The order KPIs of kpis.md (OTIF, on time, in full, exception rate)."""

_O_COLUMNS: dict[str, str | None] = {d.name: d.order_column for d in DIMENSIONS.values()}


def order_kpis(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    *,
    where: dict[str, list[str]] | None = None,
) -> dict[str, float | None]:
    """The order KPIs of ``compute(con, win, where=where)`` over all groups, alone.

    Runs the order query of ``metrics.query`` (settled orders from
    ``order_state``, the others replayed up to T) without grouping. All null
    when ``where`` filters on a dimension orders lack (root cause, severity,
    owner team), as in ``compute``.
    """
    params: dict[str, object] = {"t": win.as_of, "from": win.start}
    cond = query._filters(where or {}, _O_COLUMNS, params)
    if cond is None:
        return dict.fromkeys(ORDER_KPIS)
    sql = query._ORDERS.format(grp="'all'", where=cond)
    rows = fetch_pl(con, f"WITH {sql} {query._ORDER_KPIS}", params).to_dicts()
    row = rows[0] if rows else {}
    return {k: (float(v) if (v := row.get(k)) is not None else None) for k in ORDER_KPIS}


HEATMAP_METRICS: tuple[str, ...] = (
    "sla_overrun_hours",
    "open_exceptions",
    "breached_open",
    "revenue_at_risk",
    "opened",
    "sla_adherence",
    "mttr_hours",
)
"""KPIs offered for a heatmap (any column of :data:`GROUP_KPIS` works)."""


def heatmap(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    rows: str,
    cols: str,
    *,
    where: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    """Exception KPIs per (``rows`` group, ``cols`` group) pair that has exceptions at T.

    Columns: ``rows``, ``cols`` (named after the two dimensions; when both are
    the same dimension the second is suffixed ``_2``) and :data:`GROUP_KPIS`.
    Each cell equals ``compute`` filtered to both groups.
    """
    r, c = dimension(rows).name, dimension(cols).name
    c_name = c if c != r else f"{c}_2"
    grp = f"{{'r': {_X_COLUMNS[r]}::VARCHAR, 'c': {_X_COLUMNS[c]}::VARCHAR}}"
    df = _kpi_frame(con, win, grp, where)
    df = df.with_columns(
        pl.col("grp").struct.field("r").alias(r),
        pl.col("grp").struct.field("c").alias(c_name),
    )
    return df.select([r, c_name, *GROUP_KPIS]).sort([r, c_name])


def pareto(df: pl.DataFrame, by: str, metric: str) -> pl.DataFrame:
    """Groups sorted by ``metric`` (largest first, ties by name) with shares.

    Columns: ``by``, ``metric``, ``share`` (of the sum over the groups) and
    ``cumulative_share`` (running sum of ``share``); shares are null when the
    sum is 0. Groups with a null value are dropped.
    """
    base = df.select([by, metric]).drop_nulls(metric)
    total = float(base[metric].sum()) if base.height else 0.0
    base = base.sort([metric, by], descending=[True, False])
    if total > 0:
        return base.with_columns(share=pl.col(metric) / total).with_columns(
            cumulative_share=pl.col("share").cum_sum()
        )
    return base.with_columns(
        share=pl.lit(None, dtype=pl.Float64), cumulative_share=pl.lit(None, dtype=pl.Float64)
    )


# --- open exceptions ---------------------------------------------------------------

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
       NOT is_breached AND active_s >= 0.8 * target_s AS at_risk,
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
    ctes = query._X.format(grp="'all'", where=_conditions(where, params))
    sql = f"WITH {ctes} {_STATE_SELECT} WHERE is_open ORDER BY {order}"
    if limit is not None:
        params["limit"] = int(limit)
        sql += " LIMIT $limit"
    return fetch_pl(con, sql, params)


_COUNT = "SELECT count(*) FROM xf"


def open_count(
    con: duckdb.DuckDBPyConnection, as_of: datetime, *, where: dict[str, list[str]] | None = None
) -> int:
    """How many exceptions are open or paused at ``as_of`` and match ``where``
    (``open_exceptions`` of kpis.md; the length of the whole queue)."""
    params: dict[str, object] = {"t": as_of, "from": as_of}
    ctes = query._X.format(grp="'all'", where=_conditions(where, params))
    (n,) = fetch_row(con, f"WITH {ctes} {_COUNT} WHERE is_open", params)
    return int(n)  # type: ignore[call-overload]


def exception_state(
    con: duckdb.DuckDBPyConnection, exception_id: str, as_of: datetime
) -> dict[str, object] | None:
    """One exception as of ``as_of`` (columns of :data:`QUEUE_COLUMNS`); None if it
    did not exist then (unknown id, or opened after ``as_of``)."""
    params: dict[str, object] = {"t": as_of, "from": as_of, "xid": exception_id}
    ctes = query._X.format(grp="'all'", where="exception_id = $xid")
    rows = fetch_pl(con, f"WITH {ctes} {_STATE_SELECT}", params).to_dicts()
    return rows[0] if rows else None


_TIMELINE = """
SELECT coalesce(effective_at, occurred_at) AS applied_at, occurred_at, event_type,
       replace(event_type, 'exception.', '') AS kind, actor_id, actor_kind, source_system,
       owner_team, escalation_level, detail, event_id
FROM exception_events
WHERE exception_id = $xid AND occurred_at <= $t
ORDER BY applied_at, occurred_at, arrival_seq
"""


def timeline(con: duckdb.DuckDBPyConnection, exception_id: str, as_of: datetime) -> pl.DataFrame:
    """The accepted events of one exception with ``occurred_at <= as_of``, in applied order.

    ``applied_at`` is when the event took effect (its ``occurred_at``, or the opened
    time for an event stamped before the exception opened — events.md);
    ``kind`` is the event type without its ``exception.`` prefix; ``detail``
    is the event's main field (category, action, reason, resolution code …).
    """
    return fetch_pl(con, _TIMELINE, {"xid": exception_id, "t": as_of})


_INTERVALS = """
SELECT valid_from AS start, least(coalesce(valid_to, $t), $t) AS "end", status, owner_team,
       manual_touches, escalation_level, reopen_count,
       active_seconds / 3600.0 AS active_hours_at_start
FROM exception_versions
WHERE exception_id = $xid AND valid_from <= $t
ORDER BY valid_from
"""


def status_intervals(
    con: duckdb.DuckDBPyConnection, exception_id: str, as_of: datetime
) -> pl.DataFrame:
    """The state versions of one exception up to ``as_of`` (the last one ends at ``as_of``).

    One row per interval between changes: status, owner team, touches so far,
    escalation level, reopens and SLA-clock hours at its start.
    """
    return fetch_pl(con, _INTERVALS, {"xid": exception_id, "t": as_of})


def pending_for(con: duckdb.DuckDBPyConnection, exception_id: str) -> pl.DataFrame:
    """Events held for ``exception_id`` (waiting for its ``exception.opened``)."""
    return fetch_pl(
        con,
        "SELECT occurred_at, event_type, event_id, source, source_offset, received_at "
        "FROM pending_events WHERE exception_id = $xid ORDER BY occurred_at, arrival_seq",
        {"xid": exception_id},
    )


# --- filters -----------------------------------------------------------------------

_VALUES = "SELECT '{name}' AS dimension, {col} AS value, count(*) AS exceptions FROM exceptions"


def dimension_values(
    con: duckdb.DuckDBPyConnection, dims: Sequence[str] = FILTER_DIMENSIONS
) -> dict[str, list[str]]:
    """The values each dimension takes among all stored exceptions, sorted (for filter lists)."""
    names = [dimension(d).name for d in dims]
    if not names:
        return {}
    parts = [
        _VALUES.format(name=n, col=_X_COLUMNS[n]) + f" GROUP BY {_X_COLUMNS[n]}" for n in names
    ]
    df = fetch_pl(con, " UNION ALL ".join(parts))
    out: dict[str, list[str]] = {n: [] for n in names}
    for d, v in df.select(["dimension", "value"]).iter_rows():
        if v is not None:
            out[d].append(str(v))
    return {d: sorted(vs) for d, vs in out.items()}


def matching_exceptions(
    con: duckdb.DuckDBPyConnection, as_of: datetime, where: dict[str, list[str]] | None = None
) -> int:
    """How many exceptions exist at ``as_of`` (opened by then, any status) and match ``where``."""
    params: dict[str, object] = {"t": as_of, "from": as_of}
    ctes = query._X.format(grp="'all'", where=_conditions(where, params))
    (n,) = fetch_row(con, f"WITH {ctes} {_COUNT}", params)
    return int(n)  # type: ignore[call-overload]


# --- data quality ------------------------------------------------------------------


_REJECTED = """
SELECT reason, detail, raw, source, source_offset, received_at FROM rejected_events
WHERE {cond}
QUALIFY row_number() OVER (PARTITION BY reason
                           ORDER BY received_at DESC, source DESC, source_offset DESC) <= $n
ORDER BY reason, received_at DESC, source_offset DESC
"""


def rejected_samples(
    con: duckdb.DuckDBPyConnection, *, reason: str | None = None, per_reason: int = 5
) -> pl.DataFrame:
    """The most recently received rejected lines, ``per_reason`` of each reason.

    Columns: reason, detail, raw (the line as received), source, source_offset,
    received_at. With ``reason`` only that reason.
    """
    params: dict[str, object] = {"n": per_reason}
    cond = "TRUE"
    if reason is not None:
        params["reason"] = reason
        cond = "reason = $reason"
    return fetch_pl(con, _REJECTED.format(cond=cond), params)


def pending_summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Held events per event type: count, distinct exceptions, oldest and newest event time."""
    return fetch_pl(
        con,
        "SELECT event_type, count(*) AS events, count(DISTINCT exception_id) AS exceptions, "
        "min(occurred_at) AS oldest, max(occurred_at) AS newest FROM pending_events "
        "GROUP BY event_type ORDER BY events DESC, event_type",
    )


def pending_sample(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pl.DataFrame:
    """The oldest held events (waiting for their ``exception.opened``)."""
    return fetch_pl(
        con,
        "SELECT exception_id, event_type, occurred_at, event_id, source, source_offset, "
        "received_at, payload FROM pending_events ORDER BY occurred_at, arrival_seq LIMIT $n",
        {"n": limit},
    )


def duplicate_sample(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pl.DataFrame:
    """The most recently received duplicate lines (an ``event_id`` already accepted)."""
    return fetch_pl(
        con,
        "SELECT event_id, source, source_offset, received_at, raw FROM duplicate_events "
        "ORDER BY received_at DESC, source DESC, source_offset DESC LIMIT $n",
        {"n": limit},
    )


def accepted_by_type(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Accepted events per ``event_type`` (exception and order events), most first."""
    return fetch_pl(
        con,
        "SELECT event_type, count(*) AS events FROM ("
        "SELECT event_type FROM exception_events UNION ALL SELECT event_type FROM order_events"
        ") GROUP BY event_type ORDER BY events DESC, event_type",
    )

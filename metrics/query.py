"""KPI queries: stock KPIs as of T, flow KPIs over [from, to) evaluated as of ``to``.

How "as of T" works: ``exception_versions`` holds one row per interval of an
exception's state (``valid_from <= T < valid_to``; ``valid_to`` NULL = still).
The version in force at T gives status, owner team, touches, escalation,
reopens, resolution and the SLA clock (``active_seconds`` at ``valid_from``,
plus ``T - valid_from`` while open). Exceptions not yet opened at T have no
version and do not exist as of T.

All SQL is parameterised: dimension names come only from
``metrics.dimensions.DIMENSIONS``; times and filter values are bound.

Exact arithmetic: the same database gives the same digits on every call,
whatever order DuckDB's threads add rows in. Money is summed as
``DECIMAL(18, 4)`` (each order's value rounded to 1/10,000 of the reporting
currency first), SLA overrun as ``DECIMAL(18, 6)`` seconds, and the mean
resolution time over integer microseconds; shares are sums of 0/1, and
quantiles sort, so neither depends on the order of addition.

Choices where kpis.md is silent (also in the README):

* revenue at risk in a group or under filters applies the definition to that
  subset of exceptions (an order counts once per group it appears in);
* ``breached_revenue_at_risk`` values an order like ``revenue_at_risk`` (its
  most recently opened open exception) when any of its open exceptions is
  breached;
* order KPIs use the latest ``order.released`` as of ``to`` for attributes and
  the promise, the first release for "released in the period", the latest
  ``order.delivered`` as of ``to``; orders never released are not counted; by
  or filtered on a dimension orders lack (category, severity, owner_team) they
  are null;
* ``exception_rate`` counts any exception of the order opened by ``to``,
  cancelled ones included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import polars as pl

from fpi.db import fetch_pl, fetch_row
from fpi.order_state import replay_sql
from fpi.timeutil import from_us

from .catalog import names
from .dimensions import DIMENSIONS, dimension

DEFAULT_PERIOD = timedelta(days=7)

_X = """
v AS (
    SELECT * FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
),
x AS (
    SELECT e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane, e.carrier,
           e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (epoch_us($t) - epoch_us(v.valid_from)) / 1e6 ELSE 0 END AS active_s,
           (epoch_us($t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
),
xf AS (
    SELECT *, {grp} AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= $from AND resolved_at < $t AS is_res,
           active_s > target_s AS is_breached
    FROM x WHERE {where}
)"""

_EXCEPTION_KPIS = """
SELECT grp,
    count(*) FILTER (is_open) AS open_exceptions,
    count(*) FILTER (status = 'paused') AS paused_exceptions,
    count(*) FILTER (is_open AND age_h < 4) AS aging_lt_4h,
    count(*) FILTER (is_open AND age_h >= 4 AND age_h < 24) AS aging_4_24h,
    count(*) FILTER (is_open AND age_h >= 24 AND age_h < 72) AS aging_1_3d,
    count(*) FILTER (is_open AND age_h >= 72) AS aging_gt_3d,
    count(*) FILTER (is_open AND is_breached) AS breached_open,
    count(*) FILTER (is_open AND NOT is_breached AND active_s >= 0.8 * target_s) AS at_risk_open,
    count(*) FILTER (opened_at >= $from AND opened_at < $t) AS opened,
    count(*) FILTER (is_res) AS resolved,
    count(*) FILTER (status = 'cancelled' AND cancelled_at >= $from AND cancelled_at < $t)
        AS cancelled,
    avg(CASE WHEN active_s <= target_s THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS sla_adherence,
    avg(resolution_us) FILTER (is_res) / 3.6e9 AS mttr_hours,
    quantile_cont(resolution_h, 0.5) FILTER (is_res) AS p50_resolution_hours,
    quantile_cont(resolution_h, 0.9) FILTER (is_res) AS p90_resolution_hours,
    avg(manual_touches) FILTER (is_res) AS avg_manual_touches,
    avg(CASE WHEN manual_touches <= 1 AND reopen_count = 0 THEN 1.0 ELSE 0.0 END)
        FILTER (is_res) AS first_touch_resolution_rate,
    avg(CASE WHEN manual_touches = 0 AND resolved_by_kind = 'system' THEN 1.0 ELSE 0.0 END)
        FILTER (is_res) AS auto_resolution_rate,
    avg(CASE WHEN reopen_count >= 1 THEN 1.0 ELSE 0.0 END) FILTER (is_res) AS reopen_rate,
    avg(CASE WHEN escalation_level >= 1 THEN 1.0 ELSE 0.0 END) FILTER (is_res)
        AS escalation_rate,
    coalesce(sum(greatest(0.0, active_s - target_s)::DECIMAL(18, 6))
             FILTER (is_res OR is_open), 0)::DOUBLE / 3600.0 AS sla_overrun_hours,
    count(*) FILTER (is_res OR is_open) AS bottleneck_exceptions,
    count(*) FILTER ((is_res OR is_open) AND is_breached) AS bottleneck_breached
FROM xf GROUP BY grp
"""

_REVENUE = """
SELECT grp, sum(value)::DOUBLE AS revenue_at_risk,
       coalesce(sum(value) FILTER (any_breached), 0)::DOUBLE AS breached_revenue_at_risk
FROM (
    SELECT grp, order_id,
           arg_max(order_value_reporting, [epoch_us(opened_at), opened_seq])::DECIMAL(18, 4)
               AS value,
           bool_or(is_breached) AS any_breached
    FROM xf WHERE is_open GROUP BY grp, order_id
) GROUP BY grp
"""

_ORDERS = """
settled AS (
    -- orders with no event after T: their latest state is their state as of T
    SELECT order_id, site, lane, coalesce(carrier, ship_carrier, '(none)') AS carrier,
           customer_tier, source_system, promised_delivery_at, released_at,
           delivered_at, in_full
    FROM order_state
    WHERE last_event_at <= $t AND released_at IS NOT NULL
      AND ((released_at >= $from AND released_at < $t)
           OR (delivered_at >= $from AND delivered_at < $t))
),
oe AS MATERIALIZED (
    -- orders with events on both sides of T are replayed from their events up to T
    SELECT * FROM order_events WHERE occurred_at <= $t AND order_id IN (
        SELECT order_id FROM order_state WHERE last_event_at > $t AND first_event_at <= $t)
),
replayed AS (
    SELECT order_id, site, lane, coalesce(carrier, ship_carrier, '(none)') AS carrier,
           customer_tier, source_system, promised_delivery_at, released_at,
           delivered_at, in_full
    FROM ({replay}) WHERE released_at IS NOT NULL
),
o AS (SELECT * FROM settled UNION ALL BY NAME SELECT * FROM replayed),
of AS (
    -- only orders delivered or released in [from, T) count (and make groups)
    SELECT * FROM (
        SELECT *, {{grp}} AS grp,
               delivered_at >= $from AND delivered_at < $t AS is_dlv,
               released_at >= $from AND released_at < $t AS is_rel
        FROM o WHERE {{where}}
    ) WHERE is_dlv OR is_rel
)""".format(replay=replay_sql("oe"))  # noqa: S608 - constants only

_ORDER_KPIS = """
SELECT grp,
    avg(CASE WHEN delivered_at <= promised_delivery_at AND in_full THEN 1.0 ELSE 0.0 END)
        FILTER (is_dlv) AS otif,
    avg(CASE WHEN delivered_at <= promised_delivery_at THEN 1.0 ELSE 0.0 END)
        FILTER (is_dlv) AS on_time_rate,
    avg(CASE WHEN in_full THEN 1.0 ELSE 0.0 END) FILTER (is_dlv) AS in_full_rate,
    avg(CASE WHEN order_id IN (SELECT order_id FROM exceptions WHERE opened_at <= $t)
             THEN 1.0 ELSE 0.0 END) FILTER (is_rel) AS exception_rate
FROM of GROUP BY grp
"""

STOCK_FLOW = names("stock", "flow")
ORDER_KPIS = names("orders")
QUALITY = names("quality")


@dataclass(frozen=True, slots=True)
class Window:
    """Stock KPIs as of ``as_of``; flow KPIs over [``start``, ``as_of``)."""

    as_of: datetime
    start: datetime


def data_clock(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The largest ``occurred_at`` among accepted events (None for an empty database)."""
    (us,) = fetch_row(con, "SELECT epoch_us(max(occurred_at)) FROM exception_events")
    return from_us(int(us)) if us is not None else None  # type: ignore[call-overload]


def window(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime | None = None,
    start: datetime | None = None,
) -> Window | None:
    """Resolve defaults: T = data clock, from = T - 7 days. None when no data and no T."""
    t = as_of if as_of is not None else data_clock(con)
    if t is None:
        return None
    s = start if start is not None else t - DEFAULT_PERIOD
    if s > t:
        raise ValueError(f"--from ({s.isoformat()}) is after the as-of time ({t.isoformat()})")
    return Window(t, s)


def _filters(
    where: dict[str, list[str]], column_of: dict[str, str | None], params: dict[str, object]
) -> str | None:
    """SQL condition for ``where`` (None when a filtered dimension is missing here)."""
    parts = ["TRUE"]
    for i, (dim_name, values) in enumerate(sorted(where.items())):
        col = column_of[dimension(dim_name).name]
        if col is None:
            return None
        keys = []
        for j, value in enumerate(values):
            key = f"w{i}_{j}"
            params[key] = value
            keys.append(f"${key}")
        parts.append(f"{col} IN ({', '.join(keys)})")
    return " AND ".join(parts)


def _grp(by: str | None, column_of: dict[str, str | None]) -> str | None:
    if by is None:
        return "'all'"
    return column_of[dimension(by).name]


def compute(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    *,
    by: str | None = None,
    where: dict[str, list[str]] | None = None,
    extras: bool = False,
) -> pl.DataFrame:
    """Stock, flow and order KPIs; one row per group of ``by`` (one row without).

    Groups are every value of ``by`` among exceptions opened by T (and orders
    released or delivered in the period, for dimensions orders have), sorted.
    With ``extras`` the helper columns ``bottleneck_exceptions``,
    ``bottleneck_breached`` and ``has_exceptions`` are kept.
    """
    where = where or {}
    params: dict[str, object] = {"t": win.as_of, "from": win.start}
    x_cols = {d.name: d.exception_column for d in DIMENSIONS.values()}
    o_cols = {d.name: d.order_column for d in DIMENSIONS.values()}
    x_where = _filters(where, x_cols, params)
    x_grp = _grp(by, x_cols)
    assert x_where is not None and x_grp is not None
    ctes = _X.format(grp=x_grp, where=x_where)
    exc = fetch_pl(con, f"WITH {ctes} {_EXCEPTION_KPIS}", params)
    rev = fetch_pl(con, f"WITH {ctes} {_REVENUE}", params)
    o_where = _filters(where, o_cols, params)
    o_grp = _grp(by, o_cols)
    order_df: pl.DataFrame | None = None
    if o_where is not None and o_grp is not None:
        o_sql = _ORDERS.format(grp=o_grp, where=o_where)
        order_df = fetch_pl(con, f"WITH {o_sql} {_ORDER_KPIS}", params)
    return _assemble(exc, rev, order_df, by, extras)


def _assemble(
    exc: pl.DataFrame, rev: pl.DataFrame, orders: pl.DataFrame | None, by: str | None, extras: bool
) -> pl.DataFrame:
    groups = [exc.select("grp"), rev.select("grp")]
    if orders is not None:
        groups.append(orders.select("grp"))
    keys = pl.concat([g.cast({"grp": pl.String}) for g in groups]).unique()
    if by is None:
        keys = pl.DataFrame({"grp": ["all"]})
    out = keys.join(exc.cast({"grp": pl.String}), on="grp", how="left").join(
        rev.cast({"grp": pl.String}), on="grp", how="left"
    )
    if orders is not None:
        out = out.join(orders.cast({"grp": pl.String}), on="grp", how="left")
    else:
        out = out.with_columns([pl.lit(None, dtype=pl.Float64).alias(n) for n in ORDER_KPIS])
    count_cols = [n for n in STOCK_FLOW if n not in _NULLABLE] + [
        "bottleneck_exceptions",
        "bottleneck_breached",
    ]
    out = out.with_columns([pl.col(c).fill_null(0) for c in count_cols]).with_columns(
        [
            pl.col(c).cast(pl.Int64)
            for c in INT_KPIS + ["bottleneck_exceptions", "bottleneck_breached"]
        ]
        + [pl.col(c).cast(pl.Float64) for c in _FLOAT_KPIS]
    )
    cols = ["grp", *STOCK_FLOW, *ORDER_KPIS]
    if extras:
        seen = exc["grp"].cast(pl.String)
        out = out.with_columns(has_exceptions=pl.col("grp").is_in(seen.implode()))
        cols += ["bottleneck_exceptions", "bottleneck_breached", "has_exceptions"]
    out = out.select(cols).sort("grp")
    if by is None:
        return out.drop("grp")
    return out.rename({"grp": by})


_NULLABLE = frozenset(
    {
        "sla_adherence",
        "mttr_hours",
        "p50_resolution_hours",
        "p90_resolution_hours",
        "avg_manual_touches",
        "first_touch_resolution_rate",
        "auto_resolution_rate",
        "reopen_rate",
        "escalation_rate",
    }
)
INT_KPIS = [
    "open_exceptions",
    "paused_exceptions",
    "aging_lt_4h",
    "aging_4_24h",
    "aging_1_3d",
    "aging_gt_3d",
    "breached_open",
    "at_risk_open",
    "opened",
    "resolved",
    "cancelled",
]
_FLOAT_KPIS = [n for n in STOCK_FLOW + ORDER_KPIS if n not in INT_KPIS]


def quality(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Data-quality totals: accepted, duplicate, rejected, pending events."""
    row = fetch_row(
        con,
        """SELECT (SELECT count(*) FROM exception_events),
                  (SELECT count(*) FROM duplicate_events),
                  (SELECT count(*) FROM rejected_events),
                  (SELECT count(*) FROM pending_events)""",
    )
    return dict(zip(QUALITY, (int(v) for v in row), strict=True))  # type: ignore[call-overload]


def rejected_by_reason(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rejected lines per reason, most frequent first."""
    return fetch_pl(
        con,
        "SELECT reason, count(*) AS events FROM rejected_events GROUP BY reason "
        "ORDER BY events DESC, reason",
    )


def kpis(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime | None = None,
    start: datetime | None = None,
    *,
    by: str | None = None,
    where: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    """What ``fpi kpis`` prints: ``compute`` plus ``as_of``/``period_from`` columns.

    Without ``by`` the data-quality totals (global, not filtered) are added.
    An empty database without ``as_of`` gives an empty frame.
    """
    win = window(con, as_of, start)
    if win is None:
        return pl.DataFrame()
    df = compute(con, win, by=by, where=where)
    stamps = [
        pl.lit(win.as_of).cast(pl.Datetime("us", "UTC")).alias("as_of"),
        pl.lit(win.start).cast(pl.Datetime("us", "UTC")).alias("period_from"),
    ]
    lead = [by] if by else []
    df = df.with_columns(stamps).select([*lead, "as_of", "period_from", *STOCK_FLOW, *ORDER_KPIS])
    if by is None:
        df = df.with_columns([pl.lit(v, dtype=pl.Int64).alias(k) for k, v in quality(con).items()])
    return df

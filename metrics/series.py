"""KPI time series over a grid of as-of times (the dashboard's trend charts).

Definition (kpis.md applied point by point): a trend at grain ``g`` over
``[start, as_of]`` is evaluated at the grid ``t_k = as_of - k·g`` for
``k = 0, 1, …`` while ``t_k >= start`` (``as_of`` itself always included),
oldest first. At each grid time ``t``:

* stock KPIs (backlog, aging buckets, breached, at risk, revenue at risk) are
  as of ``t``;
* flow KPIs (opened, resolved, SLA adherence, MTTR, …) are over the bucket
  ``[t - g, t)`` evaluated as of ``t``.

So every row equals ``metrics.query.compute(con, Window(t, t - g), where=...)``
for the exception KPIs (order KPIs such as OTIF are not part of a trend). It
is computed in one query instead of one per point: the grid is range-joined
with the state versions that can contribute at ``t`` (open or paused at ``t``;
resolved or cancelled in the bucket and still so at ``t``; opened in the
bucket), and the KPI aggregates of ``metrics.query`` are applied per ``t``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import polars as pl

from fpi.db import fetch_pl

from . import query
from .dimensions import DIMENSIONS

GRAINS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}
"""Grains a trend can be drawn at."""

MAX_POINTS = 1000
"""At most this many grid points (the most recent ones are kept)."""

TREND_KPIS: tuple[str, ...] = tuple(query.STOCK_FLOW)
"""KPIs of a trend row (every exception KPI of kpis.md)."""

_COUNTS = tuple(query.INT_KPIS)
_SUMS = ("revenue_at_risk", "breached_revenue_at_risk", "sla_overrun_hours")


def grain_delta(grain: str | timedelta) -> timedelta:
    """A grain name of :data:`GRAINS` (or a positive timedelta) as a timedelta."""
    if isinstance(grain, timedelta):
        if grain <= timedelta(0):
            raise ValueError("grain must be positive")
        return grain
    try:
        return GRAINS[grain]
    except KeyError:
        raise ValueError(f"unknown grain {grain!r}; use one of: {', '.join(GRAINS)}") from None


def grid(
    as_of: datetime, start: datetime, grain: str | timedelta, max_points: int = MAX_POINTS
) -> list[datetime]:
    """The as-of times ``as_of - k·grain`` (k ≥ 0) not before ``start``, oldest first.

    Always contains ``as_of``; at most ``max_points`` (the latest ones).
    """
    if as_of.tzinfo is None or start.tzinfo is None:
        raise ValueError("naive datetime: a UTC offset is required")
    step = grain_delta(grain)
    n = 1 + max(0, int((as_of - start) / step))
    n = min(n, max_points)
    return [as_of - k * step for k in range(n - 1, -1, -1)]


_SERIES = """
grid AS (
    SELECT unnest($ts::TIMESTAMPTZ[]) AS t, unnest($froms::TIMESTAMPTZ[]) AS t_from
),
vo AS (
    SELECT g.t, g.t_from, ev.* FROM grid g JOIN exception_versions ev
      ON ev.valid_from <= g.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > g.t
    WHERE ev.status IN ('open', 'paused')
),
vr AS (
    SELECT g.t, g.t_from, ev.* FROM grid g JOIN exception_versions ev
      ON ev.resolved_at >= g.t_from AND ev.resolved_at < g.t
     AND ev.valid_from <= g.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > g.t
    WHERE ev.status = 'resolved'
),
vc AS (
    SELECT g.t, g.t_from, ev.* FROM grid g JOIN exception_versions ev
      ON ev.cancelled_at >= g.t_from AND ev.cancelled_at < g.t
     AND ev.valid_from <= g.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > g.t
    WHERE ev.status = 'cancelled'
),
op AS MATERIALIZED (
    SELECT g.t, g.t_from, e.exception_id FROM grid g JOIN exceptions e
      ON e.opened_at >= g.t_from AND e.opened_at < g.t
),
-- op is materialised so the planner joins the (few) exceptions opened in a bucket to
-- their versions by id, instead of range-joining the grid with every version first
vn AS (
    SELECT op.t, op.t_from, ev.* FROM op JOIN exception_versions ev
      ON ev.exception_id = op.exception_id
     AND ev.valid_from <= op.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > op.t
    WHERE NOT (ev.status IN ('open', 'paused')
               OR (ev.status = 'resolved' AND ev.resolved_at >= op.t_from
                   AND ev.resolved_at < op.t)
               OR (ev.status = 'cancelled' AND ev.cancelled_at >= op.t_from
                   AND ev.cancelled_at < op.t))
),
v AS (
    SELECT * FROM vo UNION ALL SELECT * FROM vr UNION ALL SELECT * FROM vc
    UNION ALL SELECT * FROM vn
),
x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN (epoch_us(v.t) - epoch_us(v.valid_from)) / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
),
-- xf is materialised: the KPI and revenue aggregates below both read it
xf AS MATERIALIZED (
    SELECT *, t AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached
    FROM x WHERE {where}
)"""


_COMBINED = """
k AS ({kpis}),
r AS ({revenue})
SELECT k.*, r.revenue_at_risk, r.breached_revenue_at_risk FROM k LEFT JOIN r USING (grp)
"""


def _per_point(sql: str) -> str:
    """A ``metrics.query`` aggregate with the period bounds taken per row (``t``, ``t_from``)."""
    return sql.replace("$from", "t_from").replace("$t", "t")


def trend(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime,
    start: datetime,
    grain: str | timedelta,
    *,
    where: dict[str, list[str]] | None = None,
    max_points: int = MAX_POINTS,
) -> pl.DataFrame:
    """Exception KPIs at each point of :func:`grid` (one row per point, oldest first).

    Columns: ``as_of``, ``period_from`` (= ``as_of - grain``) and
    :data:`TREND_KPIS`. Points with nothing to count have counts and sums 0
    and means, shares and quantiles null, as kpis.md says for an empty set.
    """
    step = grain_delta(grain)
    points = grid(as_of, start, step, max_points)
    params: dict[str, object] = {"ts": points, "froms": [t - step for t in points]}
    cols = {d.name: d.exception_column for d in DIMENSIONS.values()}
    cond = query._filters(where or {}, cols, params)
    assert cond is not None
    ctes = _SERIES.format(where=cond)
    tail = _COMBINED.format(kpis=_per_point(query._EXCEPTION_KPIS), revenue=query._REVENUE)
    df = fetch_pl(con, f"WITH {ctes}, {tail}", params)
    base = pl.DataFrame(
        {"as_of": points, "period_from": [t - step for t in points]},
        schema={"as_of": pl.Datetime("us", "UTC"), "period_from": pl.Datetime("us", "UTC")},
    )
    df = df.rename({"grp": "as_of"}).cast({"as_of": pl.Datetime("us", "UTC")})
    out = base.join(df, on="as_of", how="left")
    out = out.with_columns(
        [pl.col(c).fill_null(0).cast(pl.Int64) for c in _COUNTS]
        + [pl.col(c).fill_null(0.0).cast(pl.Float64) for c in _SUMS]
        + [pl.col(c).cast(pl.Float64) for c in TREND_KPIS if c not in _COUNTS and c not in _SUMS]
    )
    return out.select(["as_of", "period_from", *TREND_KPIS]).sort("as_of")

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

from core.db import fetch_pl

from . import query, sla_clock, working_set
from .catalog import CATALOG
from .dimensions import EXCEPTION_COLUMNS, filter_sql

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


def grid_bounds(points: list[datetime], step: timedelta) -> dict[str, object]:
    """The parameters of :data:`GRID_VERSIONS` besides the grid (``points``, oldest first)."""
    return {"t_first": points[0], "t_last": points[-1], "from_first": points[0] - step}


GRID_VERSIONS = """grid AS (
    SELECT unnest($ts::TIMESTAMPTZ[]) AS t, unnest($froms::TIMESTAMPTZ[]) AS t_from
),
-- in force at some grid time: the range joins below only see these versions
-- ($t_first / $t_last: the first and last grid times; $from_first: the first bucket's start)
gv AS (
    SELECT * FROM exception_versions
    WHERE valid_from <= $t_last::TIMESTAMPTZ
      AND coalesce(valid_to, 'infinity'::TIMESTAMPTZ) > $t_first::TIMESTAMPTZ
),
vo AS (
    SELECT g.t, g.t_from, ev.* FROM grid g JOIN gv ev
      ON ev.valid_from <= g.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > g.t
    WHERE ev.status IN ('open', 'paused')
),
vr AS (
    SELECT g.t, g.t_from, ev.* FROM grid g JOIN gv ev
      ON ev.resolved_at >= g.t_from AND ev.resolved_at < g.t
     AND ev.valid_from <= g.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > g.t
    WHERE ev.status = 'resolved' AND ev.resolved_at >= $from_first::TIMESTAMPTZ
      AND ev.resolved_at < $t_last::TIMESTAMPTZ
),
vc AS (
    SELECT g.t, g.t_from, ev.* FROM grid g JOIN gv ev
      ON ev.cancelled_at >= g.t_from AND ev.cancelled_at < g.t
     AND ev.valid_from <= g.t AND coalesce(ev.valid_to, 'infinity'::TIMESTAMPTZ) > g.t
    WHERE ev.status = 'cancelled' AND ev.cancelled_at >= $from_first::TIMESTAMPTZ
      AND ev.cancelled_at < $t_last::TIMESTAMPTZ
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
)
"""


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
    params: dict[str, object] = {
        "ts": points,
        "froms": [t - step for t in points],
        **grid_bounds(points, step),
    }
    cond = filter_sql(where or {}, EXCEPTION_COLUMNS, params)
    assert cond is not None  # every dimension has an exception column
    ctes = working_set.exceptions(GRID_VERSIONS, "t", cond, materialized=True)
    sql = f"WITH {ctes}, {query.exception_kpis_sql(helpers=False)}"
    df = fetch_pl(con, *sla_clock.prepare(con, sql, params, points))
    base = pl.DataFrame(
        {"as_of": points, "period_from": [t - step for t in points]},
        schema={"as_of": pl.Datetime("us", "UTC"), "period_from": pl.Datetime("us", "UTC")},
    )
    df = df.rename({"grp": "as_of"}).cast({"as_of": pl.Datetime("us", "UTC")})
    out = base.join(df, on="as_of", how="left")
    out = query.typed(out, [k for k in CATALOG if k.name in TREND_KPIS])
    return out.select(["as_of", "period_from", *TREND_KPIS]).sort("as_of")

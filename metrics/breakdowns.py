"""KPIs by group, for the dashboard's drill-downs: several breakdowns in one pass,
heatmaps of two dimensions, Pareto shares, and the order KPIs alone.

Everything here is "as of T" in the sense of kpis.md and runs the catalog's
SQL over the working sets of :mod:`metrics.working_set`, so a number shown in
a drill-down is the number ``fpi kpis`` prints for the same group.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from core.db import fetch_pl

from . import query, sla_clock, working_set
from .catalog import CATALOG, HELPERS, Kpi
from .dimensions import (
    EXCEPTION_COLUMNS,
    ORDER_COLUMNS,
    dimension,
    exception_filter,
    filter_sql,
)
from .query import Window

GROUP_KPIS: tuple[str, ...] = (*query.STOCK_FLOW, *query.HELPER_COLUMNS)
"""Columns of :func:`group_kpis` and :func:`heatmap`: the exception KPIs of kpis.md
plus ``bottleneck_exceptions`` (resolved in the period or open at T) and
``bottleneck_breached`` (those of them over target)."""

_GROUP_KPI_DEFS: list[Kpi] = [k for k in CATALOG + HELPERS if k.name in GROUP_KPIS]

TOTAL = "*"
"""The ``dimension`` (and ``group``) of the all-groups row of :func:`group_kpis`."""


def kpi_frame(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    grp_sql: str,
    where: dict[str, list[str]] | None,
) -> pl.DataFrame:
    """The exception KPIs (and helpers) grouped by the SQL expression ``grp_sql``
    (a constant built from the dimension registry), typed by the catalog's rules."""
    params: dict[str, object] = {"t": win.as_of, "from": win.start}
    ctes = working_set.exceptions(
        working_set.VERSIONS_AT_T, grp_sql, exception_filter(where, params)
    )
    df = fetch_pl(
        con, *sla_clock.prepare(con, f"WITH {ctes}, {query.exception_kpis_sql()}", params)
    )
    return query.typed(df, _GROUP_KPI_DEFS)


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
        f"{{'d': '{n}', 'v': {EXCEPTION_COLUMNS[n]}::VARCHAR}}" for n in names
    ]
    df = kpi_frame(con, win, f"unnest([{', '.join(items)}])", where)
    df = df.with_columns(
        pl.col("grp").struct.field("d").alias("dimension"),
        pl.col("grp").struct.field("v").alias("group"),
    ).select(["dimension", "group", *GROUP_KPIS])
    if df.filter(pl.col("dimension") == TOTAL).height == 0:
        # no exception exists at T: the total is still defined (counts 0, means null)
        empty = pl.DataFrame({"dimension": [TOTAL], "group": [TOTAL]}).with_columns(
            [pl.lit(None).alias(c) for c in GROUP_KPIS]
        )
        df = pl.concat([df, query.typed(empty, _GROUP_KPI_DEFS)], how="vertical_relaxed")
    return df.sort(["dimension", "group"])


ORDER_KPIS: tuple[str, ...] = tuple(query.ORDER_KPIS)
"""The order KPIs of kpis.md (OTIF, on time, in full, exception rate)."""


def order_kpis(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    *,
    where: dict[str, list[str]] | None = None,
) -> dict[str, float | None]:
    """The order KPIs of ``compute(con, win, where=where)`` over all groups, alone.

    All null when ``where`` filters on a dimension orders lack (root cause,
    severity, owner team), as in ``compute``.
    """
    params: dict[str, object] = {"t": win.as_of, "from": win.start}
    cond = filter_sql(where or {}, ORDER_COLUMNS, params)
    if cond is None:
        return dict.fromkeys(ORDER_KPIS)
    sql = working_set.orders("'all'", cond, firsts=query.has_order_firsts(con))
    rows = fetch_pl(con, f"WITH {sql} {query.order_kpis_sql()}", params).to_dicts()
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
    grp = f"{{'r': {EXCEPTION_COLUMNS[r]}::VARCHAR, 'c': {EXCEPTION_COLUMNS[c]}::VARCHAR}}"
    df = kpi_frame(con, win, grp, where)
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

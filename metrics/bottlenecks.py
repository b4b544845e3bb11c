"""The bottleneck list of kpis.md.

Ranks the groups of one dimension by ``sla_overrun_hours`` (largest first;
ties by group name) and shows for each: its share of the total overrun,
``exceptions`` (those the overrun is summed over: resolved in the period plus
open or paused at ``to``), ``breach_rate`` (share of those whose active time
exceeded the target — at resolution, or at ``to`` while open),
``mttr_hours``, ``avg_manual_touches`` and ``revenue_at_risk``.
``share_of_overrun`` is null when the total overrun is 0. Groups that only
orders have (no exception as of T) are not listed.
"""

from __future__ import annotations

import duckdb
import polars as pl

from .dimensions import dimension
from .query import Window, compute

COLUMNS: tuple[str, ...] = (
    "rank",
    "sla_overrun_hours",
    "share_of_overrun",
    "exceptions",
    "breach_rate",
    "mttr_hours",
    "avg_manual_touches",
    "revenue_at_risk",
)


def rank_groups(groups: pl.DataFrame, total_overrun: float, dim: str) -> pl.DataFrame:
    """Rank precomputed group KPIs (with ``bottleneck_exceptions`` and
    ``bottleneck_breached``) into the bottleneck list; the one place this is derived."""
    return (
        groups.with_columns(
            share_of_overrun=(pl.col("sla_overrun_hours") / total_overrun)
            if total_overrun > 0
            else pl.lit(None, dtype=pl.Float64),
            exceptions=pl.col("bottleneck_exceptions"),
            breach_rate=pl.when(pl.col("bottleneck_exceptions") > 0)
            .then(pl.col("bottleneck_breached") / pl.col("bottleneck_exceptions"))
            .otherwise(None),
        )
        .sort(["sla_overrun_hours", dim], descending=[True, False])
        .with_row_index("rank", offset=1)
        .with_columns(pl.col("rank").cast(pl.Int64))
        .select([dim, *COLUMNS])
    )


def bottlenecks(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    by: str,
    *,
    where: dict[str, list[str]] | None = None,
    top: int | None = None,
) -> pl.DataFrame:
    """Bottleneck list for dimension ``by`` (one row per group, ranked)."""
    dim = dimension(by).name
    groups = compute(con, win, by=dim, where=where, extras=True).filter(pl.col("has_exceptions"))
    total = compute(con, win, where=where)["sla_overrun_hours"][0]
    out = rank_groups(groups, total, dim)
    if top is not None:
        out = out.head(top)
    return out

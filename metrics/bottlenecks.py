"""The bottleneck list of kpis.md — the one place it is derived.

Ranks the groups of one dimension by ``sla_overrun_hours`` (largest first;
ties by group name) and shows for each: ``share_of_overrun`` (of the total
over every exception matching the filters; null when that total is 0),
``exceptions`` (those the overrun is summed over: resolved in the period plus
open or paused at ``to``), ``breach_rate`` (share of those whose active time
exceeded the target — at resolution, or at ``to`` while open),
``mttr_hours``, ``avg_manual_touches`` and ``revenue_at_risk``. Only groups
with an exception existing at T are listed (a value seen only on orders is not
a bottleneck).
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb
import polars as pl

from .breakdowns import TOTAL, group_kpis
from .dimensions import dimension
from .query import Window

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
"""Columns of a bottleneck list after the group column."""

BOTTLENECK_DIMENSIONS: tuple[str, ...] = ("lane", "site", "carrier", "category")
"""The dimensions of the bottleneck page (category = root cause)."""


def rank_groups(groups: pl.DataFrame, total_overrun: float, dim: str) -> pl.DataFrame:
    """Rank group KPIs (with ``bottleneck_exceptions`` and ``bottleneck_breached``,
    the group in column ``dim``) into the bottleneck list."""
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


def rank_bottlenecks(
    long: pl.DataFrame, dims: Sequence[str] = BOTTLENECK_DIMENSIONS, *, top: int | None = None
) -> dict[str, pl.DataFrame]:
    """The bottleneck list of each dimension of ``dims`` from a
    ``metrics.breakdowns.group_kpis`` frame (which holds the ``"*"`` total row
    and the groups of ``dims``); at most ``top`` rows each."""
    total_rows = long.filter(pl.col("dimension") == TOTAL)
    total = float(total_rows["sla_overrun_hours"][0]) if total_rows.height else 0.0
    out: dict[str, pl.DataFrame] = {}
    for d in dims:
        name = dimension(d).name
        groups = long.filter(pl.col("dimension") == name).drop("dimension")
        ranked = rank_groups(groups.rename({"group": name}), total, name)
        out[name] = ranked.head(top) if top is not None else ranked
    return out


def bottleneck_lists(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    dims: Sequence[str] = BOTTLENECK_DIMENSIONS,
    *,
    where: dict[str, list[str]] | None = None,
    top: int | None = None,
) -> dict[str, pl.DataFrame]:
    """The bottleneck list of each dimension of ``dims``, in one query."""
    return rank_bottlenecks(group_kpis(con, win, dims, where=where), dims, top=top)


def bottlenecks(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    by: str,
    *,
    where: dict[str, list[str]] | None = None,
    top: int | None = None,
) -> pl.DataFrame:
    """The bottleneck list for dimension ``by`` (one row per group, ranked)."""
    dim = dimension(by).name
    return bottleneck_lists(con, win, [dim], where=where, top=top)[dim]

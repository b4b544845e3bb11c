"""The values a filter can take: what the dashboard's filter lists offer."""

from __future__ import annotations

from collections.abc import Sequence

import duckdb

from core.db import fetch_pl

from .dimensions import EXCEPTION_COLUMNS, dimension

FILTER_DIMENSIONS: tuple[str, ...] = (
    "site",
    "lane",
    "carrier",
    "category",
    "severity",
    "customer_tier",
)
"""The dimensions of the dashboard's global filters."""


def dimension_values(
    con: duckdb.DuckDBPyConnection, dims: Sequence[str] = FILTER_DIMENSIONS
) -> dict[str, list[str]]:
    """The values each dimension takes among all stored exceptions, sorted (for filter lists)."""
    names = [dimension(d).name for d in dims]
    if not names:
        return {}
    # dimension names and columns come from the registry, never from input:
    # one scan of exceptions, one grouping set per column
    cols = list(dict.fromkeys(EXCEPTION_COLUMNS[n] for n in names))
    which = " ".join(f"WHEN grouping({c}) = 0 THEN '{c}'" for c in cols)
    value = f"coalesce({', '.join(f'CAST({c} AS VARCHAR)' for c in cols)})"
    sets = ", ".join(f"({c})" for c in cols)
    df = fetch_pl(
        con,
        f"SELECT CASE {which} END AS col, {value} AS value, count(*) AS exceptions "  # noqa: S608
        f"FROM exceptions GROUP BY GROUPING SETS ({sets})",
    )
    values: dict[str, list[str]] = {c: [] for c in cols}
    for c, v in df.select(["col", "value"]).iter_rows():
        if v is not None:
            values[c].append(str(v))
    out = {n: values[EXCEPTION_COLUMNS[n]] for n in names}
    return {d: sorted(vs) for d, vs in out.items()}

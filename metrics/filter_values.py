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
    # dimension names and columns come from the registry, never from input
    parts = [
        f"SELECT '{n}' AS dimension, {col} AS value, count(*) AS exceptions "  # noqa: S608
        f"FROM exceptions GROUP BY {col}"
        for n in names
        for col in (EXCEPTION_COLUMNS[n],)
    ]
    df = fetch_pl(con, " UNION ALL ".join(parts))
    out: dict[str, list[str]] = {n: [] for n in names}
    for d, v in df.select(["dimension", "value"]).iter_rows():
        if v is not None:
            out[d].append(str(v))
    return {d: sorted(vs) for d, vs in out.items()}

"""Dimensions a KPI can be broken down or filtered by (kpis.md).

Each dimension maps to a column of the per-exception working set (``x``) and,
for the dimensions an order also has, to a column of the per-order working set
(``o``). ``owner_team`` is taken *as of T* (the state version in force), all
others are fixed when the exception opens. Only names listed here ever reach
SQL text; values are always bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Dimension:
    """A breakdown dimension."""

    name: str
    label: str
    exception_column: str
    order_column: str | None
    """Column of the order working set, or None when orders lack this dimension."""


DIMENSIONS: dict[str, Dimension] = {
    d.name: d
    for d in (
        Dimension("site", "Site", "site", "site"),
        Dimension("lane", "Lane", "lane", "lane"),
        Dimension("carrier", "Carrier", "carrier", "carrier"),
        Dimension("category", "Root cause", "category", None),
        Dimension("severity", "Severity", "severity", None),
        Dimension("customer_tier", "Customer tier", "customer_tier", "customer_tier"),
        Dimension("owner_team", "Owner team", "owner_team", None),
        Dimension("source_system", "Source system", "source_system", "source_system"),
    )
}


EXCEPTION_COLUMNS: dict[str, str] = {d.name: d.exception_column for d in DIMENSIONS.values()}
"""Dimension -> column of the exception working set (every dimension has one)."""
ORDER_COLUMNS: dict[str, str | None] = {d.name: d.order_column for d in DIMENSIONS.values()}
"""Dimension -> column of the order working set (None: orders lack it)."""


def filter_sql(
    where: dict[str, list[str]],
    columns: dict[str, str] | dict[str, str | None],
    params: dict[str, object],
) -> str | None:
    """SQL condition for ``where`` over a working set with ``columns``; the values
    are added to ``params`` as ``$w<i>_<j>``. Different dimensions are ANDed, the
    values of one dimension ORed. None when a filtered dimension has no column
    there (orders filtered by root cause: the order KPIs are then null)."""
    parts = ["TRUE"]
    for i, (dim_name, values) in enumerate(sorted(where.items())):
        col = columns[dimension(dim_name).name]
        if col is None:
            return None
        keys = []
        for j, value in enumerate(values):
            key = f"w{i}_{j}"
            params[key] = value
            keys.append(f"${key}")
        parts.append(f"{col} IN ({', '.join(keys)})")
    return " AND ".join(parts)


def exception_filter(where: dict[str, list[str]] | None, params: dict[str, object]) -> str:
    """:func:`filter_sql` over the exception working set (every dimension has a column)."""
    cond = filter_sql(where or {}, EXCEPTION_COLUMNS, params)
    assert cond is not None
    return cond


def group_sql(by: str | None, columns: dict[str, str] | dict[str, str | None]) -> str | None:
    """SQL of the group column for ``by`` (a constant ``'all'`` without); None when
    the working set lacks that dimension."""
    if by is None:
        return "'all'"
    return columns[dimension(by).name]


def dimension(name: str) -> Dimension:
    """Look up a dimension; ``ValueError`` names the valid ones."""
    try:
        return DIMENSIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown dimension {name!r}; use one of: {', '.join(DIMENSIONS)}"
        ) from None


def normalize_value(dim: str, value: str) -> str:
    """Accept ``ATL->MIA`` for the lane ``ATL→MIA``."""
    if dim == "lane":
        return value.replace("->", "→")
    return value


def parse_where(items: list[str] | None) -> dict[str, list[str]]:
    """``["site=DC-ATL", "carrier=ACME", "site=DC-DAL"]`` -> ``{site: [...], carrier: [...]}``.

    Different dimensions are ANDed; repeated values of one dimension are ORed.
    """
    out: dict[str, list[str]] = {}
    for item in items or []:
        if "=" not in item:
            raise ValueError(f"--where needs DIM=VALUE, got {item!r}")
        name, value = item.split("=", 1)
        dim = dimension(name.strip())
        out.setdefault(dim.name, []).append(normalize_value(dim.name, value.strip()))
    return out

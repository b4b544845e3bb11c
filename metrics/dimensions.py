"""Dimensions a KPI can be broken down or filtered by (kpis.md).

Each dimension maps to a column of the per-exception working set (``x``) and,
for the dimensions an order also has, to a column of the per-order working set
(``o``). ``owner_team`` is taken *as of T* (the state version in force), all
others are fixed when the exception opens. Only names listed here ever reach
SQL text; values are always bound parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

NO_CARRIER = "(none)"
UNASSIGNED = "(unassigned)"


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

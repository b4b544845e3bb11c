"""``fpi explain KPI``: a KPI's written definition next to the SQL that computes it."""

from __future__ import annotations

from .catalog import Kpi, kpi
from .query import kpi_statement

_AGG_WORDS = {
    "count": "the number of rows",
    "sum": "the sum of `{expr}`",
    "mean": "the mean of `{expr}`",
    "share": "the share of rows where `{expr}`",
    "quantile": "quantile {q} (linear interpolation) of `{expr}`",
    "rows": "the number of rows of table `{expr}`",
}
_SOURCE_WORDS = {
    "exceptions": "exceptions existing at T (one row each, state as of T)",
    "at_risk_orders": "orders with an open or paused exception at T (one row per order and group)",
    "orders": "orders released or delivered in the period (state as of T)",
    "quality": "the whole database (never filtered)",
}


def describe(k: Kpi) -> str:
    """How ``k`` is computed, in words, from its measure."""
    m = k.measure
    words = _AGG_WORDS[m.agg].format(expr=m.expr, q=m.q)
    if m.where != "TRUE":
        words += f", over the rows where `{m.where}`"
    if m.exact:
        words += f", added as {m.exact}"
    if m.per is not None:
        words += f", divided by {m.per:g}"
    empty = "null" if k.nullable else "0"
    return f"{words}; rows: {_SOURCE_WORDS[m.source]}; over an empty set: {empty}"


def explain(name: str) -> str:
    """The definition of KPI ``name`` and its SQL, for a terminal."""
    k = kpi(name)
    dims = ", ".join(k.dimensions) or "none (global)"
    return "\n".join(
        [
            f"{k.name} — {k.label}",
            f"kind: {k.kind} · unit: {k.unit} · good: {k.good} · by/where: {dims}",
            f"definition: {k.definition}",
            f"computed as: {describe(k)}",
            "",
            "SQL (fpi kpis; $t = as-of time, $from = start of the period; on a database"
            " with working calendars $clk_t, $clk_cal, $clk_us hold each calendar's"
            " cumulative working µs at $t — empty lists when every site runs 24x7):",
            kpi_statement(k),
        ]
    )

"""SQL generated from the KPI catalog: one aggregate per :class:`~metrics.catalog.Kpi`.

Nothing here knows a KPI by name: every aggregate comes from the KPI's
:class:`~metrics.catalog.Measure`, and every select list from the catalog
order, so the CLI, the dashboard's breakdowns and trends, and the reports run
the same text (``tests/metrics/golden/`` holds it, so a change to a definition
shows up in review). Only constants of the catalog and of the dimension
registry are ever written into SQL; values are bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterable

from .catalog import Kpi, Measure


def aggregate(m: Measure) -> str:
    """The SQL aggregate of one measure, over the rows of its working set."""
    cond = "" if m.where == "TRUE" else f" FILTER ({m.where})"
    if m.agg == "count":
        sql = f"count(*){cond}"
    elif m.agg == "sum":
        term = m.expr if m.exact is None else f"({m.expr})::{m.exact}"
        sql = f"coalesce(sum({term}){cond}, 0)::DOUBLE"
    elif m.agg == "mean":
        sql = f"avg({m.expr}){cond}"
    elif m.agg == "share":
        sql = f"avg(CASE WHEN {m.expr} THEN 1.0 ELSE 0.0 END){cond}"
    elif m.agg == "quantile":
        sql = f"quantile_cont({m.expr}, {m.q!r}){cond}"
    else:
        raise ValueError(f"a {m.agg!r} measure is not an aggregate over rows")
    if m.per is not None:
        sql = f"{sql} / {m.per!r}"
    return sql


def select_list(kpis: Iterable[Kpi]) -> str:
    """``aggregate AS name`` for each KPI, one per line."""
    return ",\n    ".join(f"{aggregate(k.measure)} AS {k.name}" for k in kpis)


def grouped(kpis: Iterable[Kpi], relation: str, group: str = "grp") -> str:
    """``SELECT group, <aggregates> FROM relation GROUP BY group``."""
    # relation and group are constants of metrics.working_set, never input
    return f"SELECT {group},\n    {select_list(kpis)}\nFROM {relation} GROUP BY {group}"  # noqa: S608

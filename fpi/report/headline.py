"""The headline sentence of a report: the KPI that matters most, its gap to target, and
where the SLA overrun sits.

Example: "SLA adherence 70.2 %, 19.8 pp under target; carrier REDLINE on lane
ATL→MIA carries 69.6 % of the SLA overrun."

**Headline KPI** — of :data:`HEADLINE_KPIS` (in that order) the first that is
off target, else the first at risk, else SLA adherence when it has a value,
else the first with a value. Its clause names the gap to its target —
value − goal in the KPI's unit, "under"/"over" (the value is below/above the
goal), "on target" when the status is — or, without a target, the change
against the previous period ("no previous data" when there is none).

**Focus** — the group that carries the largest share of the SLA overrun
(``metrics.bottlenecks``: ``share_of_overrun`` of the rank-1 group of lane,
site, carrier and root cause; ties in that order). A dimension filtered to a
single value is left out (its one group carries everything). When the focus is
a carrier or a lane, the other of the two is not pinned by a filter, and the
largest carrier × lane pair contains it and holds at least :data:`PAIR_HOLDS`
of its overrun, the pair is named instead, with the pair's own share (a
carrier on a lane is what a transport team can act on).
No overrun in the period: the sentence says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from metrics.bottlenecks import BOTTLENECK_DIMENSIONS
from metrics.labels import (
    NO_DATA,
    dimension_label,
    format_share,
    format_value,
    value_label,
)

from .kpi_line import KpiLine

HEADLINE_KPIS: tuple[str, ...] = (
    "sla_adherence",
    "otif",
    "mttr_hours",
    "breached_open",
    "revenue_at_risk",
    "first_touch_resolution_rate",
    "avg_manual_touches",
    "open_exceptions",
)
"""Candidates for the headline KPI, most important first."""

PAIR_HOLDS = 0.8
"""A carrier × lane pair replaces its carrier or lane as the focus when it holds at
least this share of that group's overrun."""

PAIR = ("carrier", "lane")


@dataclass(frozen=True, slots=True)
class Focus:
    """Where the SLA overrun sits: one group, or a carrier on a lane.

    ``groups`` are (dimension, value) pairs; ``share`` is of the period's total
    overrun (matching the filters); ``overrun_hours`` the group's."""

    groups: tuple[tuple[str, str], ...]
    overrun_hours: float
    share: float

    def text(self) -> str:
        """``carrier REDLINE on lane ATL→MIA`` / ``root cause Missed pickup``."""
        parts = [f"{dimension_label(d).lower()} {value_label(d, v)}" for d, v in self.groups]
        return " on ".join(parts)


def find_focus(
    lists: Mapping[str, pl.DataFrame],
    pairs: pl.DataFrame | None,
    where: Mapping[str, Sequence[str]],
) -> Focus | None:
    """The focus (see the module docstring) from the bottleneck lists by dimension and
    the ``metrics.breakdowns.heatmap`` frame of carrier × lane (None: not computed).
    None when there is no overrun (or every bottleneck dimension is pinned)."""
    best: tuple[float, float, str, str] | None = None
    for dim in BOTTLENECK_DIMENSIONS:
        df = lists.get(dim)
        if df is None or df.height == 0 or len(set(where.get(dim, ()))) == 1:
            continue
        top = df.row(0, named=True)
        share, hours = top["share_of_overrun"], top["sla_overrun_hours"]
        if share is None or hours is None or hours <= 0:
            continue
        if best is None or share > best[0]:
            best = (float(share), float(hours), dim, str(top[dim]))
    if best is None:
        return None
    share, hours, dim, value = best
    other = PAIR[1] if dim == PAIR[0] else PAIR[0]
    pinned = len(set(where.get(other, ()))) == 1
    if dim in PAIR and not pinned and pairs is not None and pairs.height > 0:
        top_pair = pairs.sort(["sla_overrun_hours", *PAIR], descending=[True, False, False]).row(
            0, named=True
        )
        pair_hours = float(top_pair["sla_overrun_hours"] or 0.0)
        if str(top_pair[dim]) == value and pair_hours >= PAIR_HOLDS * hours:
            return Focus(
                tuple((d, str(top_pair[d])) for d in PAIR),
                pair_hours,
                share * pair_hours / hours,
            )
    return Focus(((dim, value),), hours, share)


def headline_kpi(lines: Mapping[str, KpiLine]) -> KpiLine | None:
    """The headline KPI (see the module docstring); None when no candidate has a value."""
    present = [lines[n] for n in HEADLINE_KPIS if n in lines]
    for status in ("off_target", "at_risk"):
        for line in present:
            if line.status == status:
                return line
    sla = lines.get("sla_adherence")
    if sla is not None and sla.value is not None:
        return sla
    return next((line for line in present if line.value is not None), None)


def _gap(line: KpiLine, currency: str) -> str:
    target = line.target
    assert target is not None and line.value is not None
    if line.status == "on_target":
        return "on target"
    gap = float(line.value) - target.goal
    size = format_value(line.name, abs(gap), currency)
    if line.kpi.unit == "share":
        size = f"{abs(gap) * 100:,.1f} pp"
    return f"{size} {'under' if gap < 0 else 'over'} target"


def kpi_clause(line: KpiLine, currency: str) -> str:
    """``SLA adherence 70.2 %, 19.8 pp under target`` (or the change without a target)."""
    value = format_value(line.name, line.value, currency)
    head = f"{line.kpi.label} {value}"
    if line.target is not None and line.value is not None:
        return f"{head}, {_gap(line, currency)}"
    change = line.change(currency)
    if change is None or change == NO_DATA:
        return f"{head} (no previous data)"
    return f"{head}, {change} on the previous period"


def sentence(lines: Mapping[str, KpiLine], focus: Focus | None, currency: str) -> str:
    """The headline sentence (see the module docstring)."""
    line = headline_kpi(lines)
    first = kpi_clause(line, currency) if line is not None else "No KPI has a value"
    if focus is None:
        overrun = lines.get("sla_overrun_hours")
        if overrun is not None and overrun.value:
            return f"{first}."  # every bottleneck dimension is pinned by a filter
        return f"{first}; no SLA overrun in the period."
    return f"{first}; {focus.text()} carries {format_share(focus.share)} of the SLA overrun."

"""The KPI catalog: every number of ``shared/spec/kpis.md``, declared once.

Each :class:`Kpi` has its exact name (used in JSON/CSV output and by other
tools), a label, its definition in words, its unit, which direction is good,
and the :class:`Measure` that computes it: the aggregation, the expression it
aggregates and which rows count, over one of the working sets of
:mod:`metrics.working_set`. Everything else is derived from that one entry:

* the SQL of ``fpi kpis``, the dashboard's breakdowns and trends and the
  reports (:mod:`metrics.sql` generates it; ``fpi explain KPI`` prints it);
* the **null rule** kpis.md states for an empty set — counts and sums are 0,
  means, shares and quantiles are null (:attr:`Kpi.nullable`);
* the type — counts are integers (:attr:`Kpi.integer`);
* the dimensions it can be broken down and filtered by (:attr:`Kpi.dimensions`:
  order KPIs only have the dimensions an order has);
* whether it can carry a target (:attr:`Kpi.targetable`: any KPI whose good
  direction is not ``"neutral"``; targets are configuration, ``metrics.targets``).

Adding a KPI is one entry here (plus the reference in ``tests/reference.py``
and a test): see the README, "Adding a KPI".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core import rules
from core.db import QUALITY_TABLES

from .dimensions import DIMENSIONS

Kind = Literal["stock", "flow", "orders", "quality"]
Unit = Literal["count", "hours", "share", "currency", "touches"]
Direction = Literal["up", "down", "neutral"]
Agg = Literal["count", "sum", "mean", "share", "quantile", "rows"]
Source = Literal["exceptions", "at_risk_orders", "orders", "quality"]

SECONDS_PER_HOUR = 3600.0
US_PER_HOUR = 3.6e9


@dataclass(frozen=True, slots=True)
class Measure:
    """How a KPI is computed from the rows of one working set.

    * ``count`` — rows where ``where`` holds;
    * ``sum`` — of ``expr`` over those rows (added as ``exact``, a DECIMAL type,
      when given, so the digits never depend on the order of addition);
    * ``mean`` — of ``expr``; ``share`` — the share of those rows where the
      condition ``expr`` holds; ``quantile`` — ``quantile_cont(expr, q)``
      (linear interpolation, type 7);
    * ``rows`` — the number of rows of the table ``expr`` (data quality).

    ``per`` divides the result (e.g. microseconds to hours). ``expr`` and
    ``where`` are SQL over the columns of the working set (constants of this
    catalog, never user input).
    """

    agg: Agg
    expr: str = "*"
    where: str = "TRUE"
    source: Source = "exceptions"
    exact: str | None = None
    per: float | None = None
    q: float | None = None


@dataclass(frozen=True, slots=True)
class Kpi:
    """One KPI: what it is called, what it means, and how it is computed."""

    name: str
    label: str
    kind: Kind
    unit: Unit
    good: Direction
    definition: str
    measure: Measure

    @property
    def nullable(self) -> bool:
        """Null over an empty set (means, shares, quantiles); else 0 (kpis.md)."""
        return self.measure.agg in ("mean", "share", "quantile")

    @property
    def integer(self) -> bool:
        """Counts are integers; everything else is a float."""
        return self.measure.agg in ("count", "rows")

    @property
    def targetable(self) -> bool:
        """Whether a target can be set (``metrics.targets``): the KPI has a good
        direction (``good`` is ``"up"`` or ``"down"``, not ``"neutral"``)."""
        return self.good != "neutral"

    @property
    def dimensions(self) -> tuple[str, ...]:
        """Dimensions this KPI can be broken down or filtered by (none: quality is global)."""
        if self.measure.source == "quality":
            return ()
        if self.measure.source == "orders":
            return tuple(d.name for d in DIMENSIONS.values() if d.order_column is not None)
        return tuple(DIMENSIONS)


CATALOG: tuple[Kpi, ...] = (
    Kpi(
        "open_exceptions",
        "Open exceptions",
        "stock",
        "count",
        "down",
        "Exceptions open or paused at T.",
        Measure("count", where="is_open"),
    ),
    Kpi(
        "paused_exceptions",
        "Paused",
        "stock",
        "count",
        "neutral",
        "Exceptions paused at T (SLA clock stopped).",
        Measure("count", where="status = 'paused'"),
    ),
    Kpi(
        "aging_lt_4h",
        "Aging < 4 h",
        "stock",
        "count",
        "neutral",
        "Open or paused exceptions with age (T - opened_at) in [0, 4) hours.",
        Measure("count", where="is_open AND age_h < 4"),
    ),
    Kpi(
        "aging_4_24h",
        "Aging 4–24 h",
        "stock",
        "count",
        "neutral",
        "Open or paused exceptions with age in [4, 24) hours.",
        Measure("count", where="is_open AND age_h >= 4 AND age_h < 24"),
    ),
    Kpi(
        "aging_1_3d",
        "Aging 1–3 d",
        "stock",
        "count",
        "down",
        "Open or paused exceptions with age in [24, 72) hours.",
        Measure("count", where="is_open AND age_h >= 24 AND age_h < 72"),
    ),
    Kpi(
        "aging_gt_3d",
        "Aging > 3 d",
        "stock",
        "count",
        "down",
        "Open or paused exceptions aged 72 hours or more.",
        Measure("count", where="is_open AND age_h >= 72"),
    ),
    Kpi(
        "breached_open",
        "Breached (open)",
        "stock",
        "count",
        "down",
        "Open or paused exceptions whose active (SLA-clock) time at T exceeds the target.",
        Measure("count", where="is_open AND is_breached"),
    ),
    Kpi(
        "at_risk_open",
        "At risk (open)",
        "stock",
        "count",
        "down",
        "Open or paused exceptions not breached with active time ≥ 0.8 × target.",
        Measure("count", where="is_open AND is_at_risk"),
    ),
    Kpi(
        "revenue_at_risk",
        "Revenue at risk",
        "stock",
        "currency",
        "down",
        "Sum over distinct orders with ≥ 1 open or paused exception of the order value "
        "(reporting currency) of its most recently opened open or paused exception.",
        Measure("sum", "value", source="at_risk_orders"),
    ),
    Kpi(
        "breached_revenue_at_risk",
        "Breached revenue at risk",
        "stock",
        "currency",
        "down",
        "Revenue at risk restricted to orders with ≥ 1 breached open or paused exception.",
        Measure("sum", "value", where="any_breached", source="at_risk_orders"),
    ),
    Kpi(
        "opened",
        "Opened",
        "flow",
        "count",
        "neutral",
        "Exceptions with opened_at in [from, to) (any status).",
        Measure("count", where="opened_at >= t_from AND opened_at < t"),
    ),
    Kpi(
        "resolved",
        "Resolved",
        "flow",
        "count",
        "up",
        "Exceptions resolved as of `to` with resolved_at in [from, to).",
        Measure("count", where="is_res"),
    ),
    Kpi(
        "cancelled",
        "Cancelled",
        "flow",
        "count",
        "neutral",
        "Exceptions cancelled in [from, to).",
        Measure(
            "count", where="status = 'cancelled' AND cancelled_at >= t_from AND cancelled_at < t"
        ),
    ),
    Kpi(
        "sla_adherence",
        "SLA adherence",
        "flow",
        "share",
        "up",
        "Resolved exceptions that met SLA (active time at resolution ≤ target) ÷ resolved.",
        Measure("share", rules.MET_SLA, where="is_res"),
    ),
    Kpi(
        "mttr_hours",
        "MTTR (h)",
        "flow",
        "hours",
        "down",
        "Mean resolution_hours (resolved_at - opened_at) of resolved exceptions.",
        Measure("mean", "resolution_us", where="is_res", per=US_PER_HOUR),
    ),
    Kpi(
        "p50_resolution_hours",
        "p50 resolution (h)",
        "flow",
        "hours",
        "down",
        "Median resolution_hours (linear interpolation, type 7).",
        Measure("quantile", "resolution_h", where="is_res", q=0.5),
    ),
    Kpi(
        "p90_resolution_hours",
        "p90 resolution (h)",
        "flow",
        "hours",
        "down",
        "90th percentile of resolution_hours (linear interpolation, type 7).",
        Measure("quantile", "resolution_h", where="is_res", q=0.9),
    ),
    Kpi(
        "avg_manual_touches",
        "Manual touches / exception",
        "flow",
        "touches",
        "down",
        "Mean manual (human) touches of resolved exceptions.",
        Measure("mean", "manual_touches", where="is_res"),
    ),
    Kpi(
        "first_touch_resolution_rate",
        "First-touch resolution",
        "flow",
        "share",
        "up",
        "Share of resolved with ≤ 1 manual touch and no reopen.",
        Measure("share", rules.FIRST_TOUCH_RESOLUTION, where="is_res"),
    ),
    Kpi(
        "auto_resolution_rate",
        "Auto-resolution",
        "flow",
        "share",
        "up",
        "Share of resolved with 0 manual touches and resolved by a system actor.",
        Measure("share", rules.AUTO_RESOLVED, where="is_res"),
    ),
    Kpi(
        "reopen_rate",
        "Reopen rate",
        "flow",
        "share",
        "down",
        "Share of resolved that were reopened at least once.",
        Measure("share", "reopen_count >= 1", where="is_res"),
    ),
    Kpi(
        "escalation_rate",
        "Escalation rate",
        "flow",
        "share",
        "down",
        "Share of resolved with escalation level ≥ 1.",
        Measure("share", "escalation_level >= 1", where="is_res"),
    ),
    Kpi(
        "sla_overrun_hours",
        "SLA overrun (h)",
        "flow",
        "hours",
        "down",
        "Sum of max(0, active hours - target hours) over exceptions resolved in the "
        "period plus those open or paused at `to`.",
        Measure(
            "sum",
            "greatest(0.0, active_s - target_s)",
            where="is_res OR is_open",
            exact="DECIMAL(18, 6)",
            per=SECONDS_PER_HOUR,
        ),
    ),
    Kpi(
        "otif",
        "OTIF",
        "orders",
        "share",
        "up",
        "Orders delivered in the period that were on time (≤ promised_delivery_at) and in full.",
        Measure(
            "share",
            "delivered_at <= promised_delivery_at AND in_full",
            where="is_dlv",
            source="orders",
        ),
    ),
    Kpi(
        "on_time_rate",
        "On time",
        "orders",
        "share",
        "up",
        "Orders delivered in the period at or before promised_delivery_at.",
        Measure("share", "delivered_at <= promised_delivery_at", where="is_dlv", source="orders"),
    ),
    Kpi(
        "in_full_rate",
        "In full",
        "orders",
        "share",
        "up",
        "Orders delivered in the period in full.",
        Measure("share", "in_full", where="is_dlv", source="orders"),
    ),
    Kpi(
        "exception_rate",
        "Exception rate",
        "orders",
        "share",
        "down",
        "Orders released in the period that have at least one exception.",
        Measure("share", "has_exception", where="is_rel", source="orders"),
    ),
    Kpi(
        "accepted_events",
        "Accepted events",
        "quality",
        "count",
        "neutral",
        "Events accepted and applied (each event_id once).",
        Measure("rows", QUALITY_TABLES["accepted_events"], source="quality"),
    ),
    Kpi(
        "duplicate_events",
        "Duplicate events",
        "quality",
        "count",
        "down",
        "Lines repeating an event_id already seen (they change nothing).",
        Measure("rows", QUALITY_TABLES["duplicate_events"], source="quality"),
    ),
    Kpi(
        "rejected_events",
        "Rejected events",
        "quality",
        "count",
        "down",
        "Lines rejected, each with a reason (see rejected_events).",
        Measure("rows", QUALITY_TABLES["rejected_events"], source="quality"),
    ),
    Kpi(
        "pending_events",
        "Pending events",
        "quality",
        "count",
        "down",
        "Events held waiting for their exception.opened.",
        Measure("rows", QUALITY_TABLES["pending_events"], source="quality"),
    ),
)

BY_NAME: dict[str, Kpi] = {k.name: k for k in CATALOG}

HELPERS: tuple[Kpi, ...] = (
    Kpi(
        "bottleneck_exceptions",
        "Exceptions",
        "flow",
        "count",
        "neutral",
        "Exceptions the SLA overrun is summed over: resolved in the period plus open or "
        "paused at `to`.",
        Measure("count", where="is_res OR is_open"),
    ),
    Kpi(
        "bottleneck_breached",
        "Breached",
        "flow",
        "count",
        "down",
        "Of those, the exceptions whose active time exceeded the target (at resolution, "
        "or at `to` while open).",
        Measure("count", where="(is_res OR is_open) AND is_breached"),
    ),
)
"""Measures the bottleneck list is derived from (``exceptions``, ``breach_rate``);
computed with the KPIs, not shown as KPIs."""


def names(*kinds: Kind) -> list[str]:
    """KPI names of the given kinds (all when none given), in catalog order."""
    return [k.name for k in CATALOG if not kinds or k.kind in kinds]


def of_source(source: Source, *, helpers: bool = False) -> tuple[Kpi, ...]:
    """The KPIs computed over one working set, in catalog order (with the helpers)."""
    pool = CATALOG + HELPERS if helpers else CATALOG
    return tuple(k for k in pool if k.measure.source == source)


def kpi(name: str) -> Kpi:
    """Look up a KPI (or helper measure); ``ValueError`` names the valid ones."""
    for k in CATALOG + HELPERS:
        if k.name == name:
            return k
    raise ValueError(f"unknown KPI {name!r}; use one of: {', '.join(BY_NAME)}")

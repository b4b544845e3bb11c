"""The KPI catalog: every number of ``shared/spec/kpis.md``, declared once.

Each entry has its exact name (used in JSON/CSV output and by other tools),
a label, its definition, its unit and which direction is good. The CLI, the
dashboard and the reports read labels, units and ordering from here; the
values come from ``metrics.query``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["stock", "flow", "orders", "quality"]
Unit = Literal["count", "hours", "share", "currency", "touches"]
Direction = Literal["up", "down", "neutral"]


@dataclass(frozen=True, slots=True)
class Kpi:
    """One KPI definition."""

    name: str
    label: str
    kind: Kind
    unit: Unit
    good: Direction
    definition: str


CATALOG: tuple[Kpi, ...] = (
    Kpi(
        "open_exceptions",
        "Open exceptions",
        "stock",
        "count",
        "down",
        "Exceptions open or paused at T.",
    ),
    Kpi(
        "paused_exceptions",
        "Paused",
        "stock",
        "count",
        "neutral",
        "Exceptions paused at T (SLA clock stopped).",
    ),
    Kpi(
        "aging_lt_4h",
        "Aging < 4 h",
        "stock",
        "count",
        "neutral",
        "Open or paused exceptions with age (T - opened_at) in [0, 4) hours.",
    ),
    Kpi(
        "aging_4_24h",
        "Aging 4–24 h",
        "stock",
        "count",
        "neutral",
        "Open or paused exceptions with age in [4, 24) hours.",
    ),
    Kpi(
        "aging_1_3d",
        "Aging 1–3 d",
        "stock",
        "count",
        "down",
        "Open or paused exceptions with age in [24, 72) hours.",
    ),
    Kpi(
        "aging_gt_3d",
        "Aging > 3 d",
        "stock",
        "count",
        "down",
        "Open or paused exceptions aged 72 hours or more.",
    ),
    Kpi(
        "breached_open",
        "Breached (open)",
        "stock",
        "count",
        "down",
        "Open or paused exceptions whose active (SLA-clock) time at T exceeds the target.",
    ),
    Kpi(
        "at_risk_open",
        "At risk (open)",
        "stock",
        "count",
        "down",
        "Open or paused exceptions not breached with active time ≥ 0.8 × target.",
    ),
    Kpi(
        "revenue_at_risk",
        "Revenue at risk",
        "stock",
        "currency",
        "down",
        "Sum over distinct orders with ≥ 1 open or paused exception of the order value "
        "(reporting currency) of its most recently opened open or paused exception.",
    ),
    Kpi(
        "breached_revenue_at_risk",
        "Breached revenue at risk",
        "stock",
        "currency",
        "down",
        "Revenue at risk restricted to orders with ≥ 1 breached open or paused exception.",
    ),
    Kpi(
        "opened",
        "Opened",
        "flow",
        "count",
        "neutral",
        "Exceptions with opened_at in [from, to) (any status).",
    ),
    Kpi(
        "resolved",
        "Resolved",
        "flow",
        "count",
        "up",
        "Exceptions resolved as of `to` with resolved_at in [from, to).",
    ),
    Kpi(
        "cancelled", "Cancelled", "flow", "count", "neutral", "Exceptions cancelled in [from, to)."
    ),
    Kpi(
        "sla_adherence",
        "SLA adherence",
        "flow",
        "share",
        "up",
        "Resolved exceptions that met SLA (active time at resolution ≤ target) ÷ resolved.",
    ),
    Kpi(
        "mttr_hours",
        "MTTR (h)",
        "flow",
        "hours",
        "down",
        "Mean resolution_hours (resolved_at - opened_at) of resolved exceptions.",
    ),
    Kpi(
        "p50_resolution_hours",
        "p50 resolution (h)",
        "flow",
        "hours",
        "down",
        "Median resolution_hours (linear interpolation, type 7).",
    ),
    Kpi(
        "p90_resolution_hours",
        "p90 resolution (h)",
        "flow",
        "hours",
        "down",
        "90th percentile of resolution_hours (linear interpolation, type 7).",
    ),
    Kpi(
        "avg_manual_touches",
        "Manual touches / exception",
        "flow",
        "touches",
        "down",
        "Mean manual (human) touches of resolved exceptions.",
    ),
    Kpi(
        "first_touch_resolution_rate",
        "First-touch resolution",
        "flow",
        "share",
        "up",
        "Share of resolved with ≤ 1 manual touch and no reopen.",
    ),
    Kpi(
        "auto_resolution_rate",
        "Auto-resolution",
        "flow",
        "share",
        "up",
        "Share of resolved with 0 manual touches and resolved by a system actor.",
    ),
    Kpi(
        "reopen_rate",
        "Reopen rate",
        "flow",
        "share",
        "down",
        "Share of resolved that were reopened at least once.",
    ),
    Kpi(
        "escalation_rate",
        "Escalation rate",
        "flow",
        "share",
        "down",
        "Share of resolved with escalation level ≥ 1.",
    ),
    Kpi(
        "sla_overrun_hours",
        "SLA overrun (h)",
        "flow",
        "hours",
        "down",
        "Sum of max(0, active hours - target hours) over exceptions resolved in the "
        "period plus those open or paused at `to`.",
    ),
    Kpi(
        "otif",
        "OTIF",
        "orders",
        "share",
        "up",
        "Orders delivered in the period that were on time (≤ promised_delivery_at) and in full.",
    ),
    Kpi(
        "on_time_rate",
        "On time",
        "orders",
        "share",
        "up",
        "Orders delivered in the period at or before promised_delivery_at.",
    ),
    Kpi(
        "in_full_rate",
        "In full",
        "orders",
        "share",
        "up",
        "Orders delivered in the period in full.",
    ),
    Kpi(
        "exception_rate",
        "Exception rate",
        "orders",
        "share",
        "down",
        "Orders released in the period that have at least one exception.",
    ),
    Kpi(
        "accepted_events",
        "Accepted events",
        "quality",
        "count",
        "neutral",
        "Events accepted and applied (each event_id once).",
    ),
    Kpi(
        "duplicate_events",
        "Duplicate events",
        "quality",
        "count",
        "down",
        "Lines repeating an event_id already seen (they change nothing).",
    ),
    Kpi(
        "rejected_events",
        "Rejected events",
        "quality",
        "count",
        "down",
        "Lines rejected, each with a reason (see rejected_events).",
    ),
    Kpi(
        "pending_events",
        "Pending events",
        "quality",
        "count",
        "down",
        "Events held waiting for their exception.opened.",
    ),
)

BY_NAME: dict[str, Kpi] = {k.name: k for k in CATALOG}


def names(*kinds: Kind) -> list[str]:
    """KPI names of the given kinds (all when none given), in catalog order."""
    return [k.name for k in CATALOG if not kinds or k.kind in kinds]

"""What a person reads: labels of KPIs, dimensions, columns and values, and numbers
formatted for people. Shared by the dashboard and the exported reports, so both
say the same thing the same way. Pure functions: no database, no Streamlit.

Labels:

* a **KPI** is labelled by the catalog (``Kpi.label``: ``sla_adherence`` ->
  "SLA adherence"); a **dimension** by the registry (``category`` -> "Root
  cause"); any other **column** by :data:`COLUMN_LABELS`, else by
  :func:`humanize` (``share_of_overrun`` -> "Share of overrun").
* a **value** of a dimension: root causes, severities, customer tiers and owner
  teams are free snake_case strings (events.md), so their label is derived by
  :func:`humanize` (``missed_pickup`` -> "Missed pickup"); sites, lanes,
  carriers and source systems are names (``DC-ATL``, ``REDLINE``, ``WMS``) and
  are shown as they are. Labels are for display only: filters, links, CSV files
  and JSON keep the raw value (two raw values may share a label, e.g.
  ``missed_pickup`` and ``Missed pickup``).

Numbers (:func:`format_value` by the KPI's catalog unit):

* counts with thousands separators (``1,234``);
* shares as percentages with one decimal (``90.0 %``);
* hours with a unit (``12.5 h``, ``1,234.0 h``);
* money with the reporting currency first, whole units, thousands separators
  (``USD 1,234,567``; negative ``-USD 1,234``);
* touches with two decimals (``2.35``);
* no value — ``None`` or NaN — as :data:`MISSING` ("—"), never "None" or "nan".

The headline bottleneck (:func:`top_bottleneck`, :func:`bottleneck_sentence`):
"Top bottleneck: carrier REDLINE carries 75 % of the SLA overrun".

Deltas (:func:`format_delta`) are in the KPI's unit, shares in percentage
points (``+2.5 pp``); against a previous period without a value they read
:data:`NO_DATA` ("no data"), never a number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl

from .catalog import BY_NAME, HELPERS
from .dimensions import DIMENSIONS
from .targets import Status, Target

MISSING = "—"
"""Shown for no value (null, NaN)."""
NO_DATA = "no data"
"""The delta against a previous period with no value."""

HUMANIZED_DIMENSIONS: tuple[str, ...] = ("category", "severity", "customer_tier", "owner_team")
"""Dimensions whose values are snake_case words, shown through :func:`humanize`."""

COLUMN_LABELS: dict[str, str] = {
    "as_of": "As of (UTC)",
    "period_from": "Period from (UTC)",
    "rank": "Rank",
    "share_of_overrun": "Share of overrun",
    "exceptions": "Exceptions",
    "breach_rate": "Breach rate",
    "bottleneck_exceptions": "Exceptions",
    "bottleneck_breached": "Breached",
    "exception_id": "Exception",
    "order_id": "Order",
    "status": "Status",
    "age_hours": "Age (h)",
    "active_hours": "Active time (h)",
    "sla_target_hours": "SLA target (h)",
    "sla_left_hours": "SLA left (h)",
    "breached": "Breached",
    "at_risk": "At risk",
    "order_value": "Order value",
    "order_value_reporting": "Order value",
    "manual_touches": "Manual touches",
    "escalation_level": "Escalation level",
    "reopen_count": "Reopens",
    "opened_at": "Opened (UTC)",
    "resolved_at": "Resolved (UTC)",
    "cancelled_at": "Cancelled (UTC)",
    "share": "Share",
    "cumulative_share": "Cumulative share",
    "kpi": "KPI",
    "value": "Value",
    "goal": "Target",
    "warning": "Warning",
    "target": "Target",
    "scope": "Target for",
    "direction": "Better when",
}
"""Labels of columns that are neither a KPI nor a dimension."""

STATUS_LABELS: dict[Status, str] = {
    "on_target": "On target",
    "at_risk": "At risk",
    "off_target": "Off target",
}
NO_TARGET = "No target"

_HELPER_LABELS = {h.name: h.label for h in HELPERS}


def humanize(text: str) -> str:
    """``missed_pickup`` -> ``Missed pickup``: underscores become spaces and the first
    character is upper-cased; the rest is kept (``ETA_slip`` -> ``ETA slip``). The
    empty string stays empty; a first character that is not a letter stays."""
    spaced = text.replace("_", " ")
    return spaced[:1].upper() + spaced[1:]


def kpi_label(name: str) -> str:
    """The catalog label of a KPI (``mttr_hours`` -> "MTTR (h)"); for a name that is
    not a KPI, :func:`column_label`."""
    kpi = BY_NAME.get(name)
    return kpi.label if kpi is not None else column_label(name)


def dimension_label(name: str) -> str:
    """The registry label of a dimension (``category`` -> "Root cause",
    ``customer_tier`` -> "Customer tier"); :func:`humanize` for other names."""
    dim = DIMENSIONS.get(name)
    return dim.label if dim is not None else humanize(name)


def column_label(name: str, currency: str | None = None) -> str:
    """The header of a column: a KPI's label, a dimension's label, a label of
    :data:`COLUMN_LABELS`, else :func:`humanize`. With ``currency``, money columns
    say it: "Revenue at risk (USD)", "Order value (USD)"."""
    if name in BY_NAME:
        text = BY_NAME[name].label
        money = BY_NAME[name].unit == "currency"
    elif name in DIMENSIONS:
        return DIMENSIONS[name].label
    elif name in COLUMN_LABELS:
        text = COLUMN_LABELS[name]
        money = name in ("order_value", "order_value_reporting")
    elif name in _HELPER_LABELS:
        return _HELPER_LABELS[name]
    else:
        return humanize(name)
    return f"{text} ({currency})" if money and currency else text


def value_label(dim: str | None, value: Any) -> str:
    """The label of one value of dimension ``dim``: :func:`humanize` for the
    dimensions of :data:`HUMANIZED_DIMENSIONS` (``missed_pickup`` -> "Missed
    pickup"), the value itself for names (sites, lanes, carriers, source systems)
    and for ``dim`` None; :data:`MISSING` for no value. Markers in parentheses
    (``(none)``, ``(unassigned)``) are kept as they are."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    text = str(value)
    if dim in HUMANIZED_DIMENSIONS and not text.startswith("("):
        return humanize(text)
    return text


def category_label(value: Any) -> str:
    """The label of a root cause (``carrier_failure`` -> "Carrier failure")."""
    return value_label("category", value)


# --- numbers ---------------------------------------------------------------------------


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_count(value: Any) -> str:
    """``1234`` -> ``1,234`` (rounded to a whole number); :data:`MISSING` for none."""
    return MISSING if _missing(value) else f"{round(float(value)):,}"


def format_share(value: Any, decimals: int = 1) -> str:
    """A fraction as a percentage: ``0.9`` -> ``90.0 %`` (``decimals`` digits)."""
    return MISSING if _missing(value) else f"{float(value) * 100:,.{decimals}f} %"


def format_hours(value: Any, decimals: int = 1) -> str:
    """Hours with the unit: ``12.5`` -> ``12.5 h``, ``1234`` -> ``1,234.0 h``."""
    return MISSING if _missing(value) else f"{float(value):,.{decimals}f} h"


def format_money(value: Any, currency: str, decimals: int = 0) -> str:
    """Money in the reporting currency: ``1234567.4`` -> ``USD 1,234,567``;
    a negative amount ``-USD 1,234``; an empty ``currency`` gives the number alone."""
    if _missing(value):
        return MISSING
    v = float(value)
    number = f"{abs(v):,.{decimals}f}"
    if float(number.replace(",", "")) == 0:
        v = 0.0  # no "-USD 0"
    text = f"{currency} {number}" if currency else number
    return f"-{text}" if v < 0 else text


def format_value(name: str, value: Any, currency: str = "") -> str:
    """A KPI value (or a column of :data:`COLUMN_LABELS` with a known unit) for
    people, by the catalog unit: see the module docstring. Unknown names are
    formatted as counts when integral, else with two decimals."""
    if _missing(value):
        return MISSING
    unit = _unit(name)
    if unit == "share":
        return format_share(value)
    if unit == "hours":
        return format_hours(value)
    if unit == "currency":
        return format_money(value, currency)
    if unit == "touches":
        return f"{float(value):,.2f}"
    if unit == "count":
        return format_count(value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


_COLUMN_UNITS = {
    "share_of_overrun": "share",
    "breach_rate": "share",
    "share": "share",
    "cumulative_share": "share",
    "exceptions": "count",
    "rank": "count",
    "age_hours": "hours",
    "active_hours": "hours",
    "sla_target_hours": "hours",
    "sla_left_hours": "hours",
    "order_value": "currency",
    "order_value_reporting": "currency",
    "manual_touches": "count",
    "escalation_level": "count",
    "reopen_count": "count",
}


def _unit(name: str) -> str | None:
    if name in BY_NAME:
        return BY_NAME[name].unit
    if name in _HELPER_LABELS:
        return "count"
    return _COLUMN_UNITS.get(name)


def unit_of(name: str) -> str | None:
    """The unit of a KPI or known column (``"count"``, ``"share"``, ``"hours"``,
    ``"currency"``, ``"touches"``), None when unknown."""
    return _unit(name)


def format_delta(name: str, now: Any, before: Any, currency: str = "") -> str | None:
    """The change ``now - before`` of KPI ``name`` in its unit: counts ``+3``/``-1``,
    shares in points ``+2.5 pp``, hours ``-1.5 h``, money ``+USD 1,200``, touches
    ``+0.25``; a change of zero has no sign (``0``, ``0.0 pp``). None when ``now``
    has no value (nothing to compare); :data:`NO_DATA` when ``before`` has none."""
    if _missing(now):
        return None
    if _missing(before):
        return NO_DATA
    d = float(now) - float(before)
    unit = _unit(name)
    if unit == "share":
        body, zero = f"{abs(d) * 100:,.1f} pp", f"{0.0:.1f} pp"
    elif unit == "hours":
        body, zero = f"{abs(d):,.1f} h", f"{0.0:.1f} h"
    elif unit == "touches":
        body, zero = f"{abs(d):,.2f}", f"{0.0:.2f}"
    elif unit == "currency":
        body = format_money(abs(d), currency)
        zero = format_money(0, currency)
    else:
        body, zero = f"{abs(round(d)):,}", "0"
    if body == zero:
        return zero
    return ("+" if d > 0 else "-") + body


def delta_is_zero(text: str | None) -> bool:
    """Whether a :func:`format_delta` text is a change of zero (no sign) — neither
    good nor bad, so it is not coloured."""
    return text is not None and text != NO_DATA and not text.startswith(("+", "-"))


# --- targets ---------------------------------------------------------------------------


def format_bound(name: str, value: float, currency: str = "") -> str:
    """A goal or warning of KPI ``name`` compactly: shares without a trailing
    ``.0`` (``90 %``, ``92.5 %``), hours ``12 h``, money ``USD 250,000``, counts."""
    unit = _unit(name)
    if unit == "share":
        pct = round(value * 100, 1)
        return f"{pct:g} %"
    if unit == "hours":
        return f"{value:,.1f}".removesuffix(".0") + " h"
    if unit == "currency":
        return format_money(value, currency)
    if unit == "touches":
        return f"{value:,.2f}"
    return f"{value:,.1f}".removesuffix(".0")


def target_text(target: Target, currency: str = "") -> str:
    """``Target 90 %`` (the chart line's label); the direction is in
    :func:`target_summary`."""
    return f"Target {format_bound(target.kpi, target.goal, currency)}"


def target_summary(target: Target, currency: str = "") -> str:
    """``target ≥ 90 % · off target below 85 %`` (``≤`` and "above" for KPIs where lower
    is better; without a warning the first part alone)."""
    sign = "≥" if target.direction == "up" else "≤"
    text = f"target {sign} {format_bound(target.kpi, target.goal, currency)}"
    if target.warning is not None:
        side = "below" if target.direction == "up" else "above"
        text += f" · off target {side} {format_bound(target.kpi, target.warning, currency)}"
    return text


def status_label(status: Status | None, *, has_target: bool = True) -> str:
    """ "On target", "At risk", "Off target"; for no status "No target" (no target
    configured) or :data:`MISSING` (a target but no value)."""
    if status is None:
        return NO_TARGET if not has_target else MISSING
    return STATUS_LABELS[status]


# --- the headline bottleneck -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopBottleneck:
    """The group with the largest share of the SLA overrun over the bottleneck lists."""

    dimension: str
    group: str
    share: float
    overrun_hours: float


def top_bottleneck(lists: Mapping[str, pl.DataFrame]) -> TopBottleneck | None:
    """The top bottleneck of ``metrics.bottlenecks.bottleneck_lists`` (dimension ->
    ranked list): of the first row of each list, the one with the largest
    ``share_of_overrun`` (each dimension splits the same total, so shares
    compare); ties go to the dimension listed first. None when there is no
    overrun at all (every share null or 0) or no list has a row."""
    best: TopBottleneck | None = None
    for dim, ranked in lists.items():
        if ranked.height == 0:
            continue
        row = ranked.row(0, named=True)
        share = row.get("share_of_overrun")
        if share is None or share <= 0:
            continue
        if best is None or share > best.share:
            best = TopBottleneck(dim, str(row[dim]), float(share), float(row["sla_overrun_hours"]))
    return best


def bottleneck_sentence(top: TopBottleneck, quote: Callable[[str], str] = str) -> str:
    """``Top bottleneck: carrier REDLINE carries 75 % of the SLA overrun`` (the share
    rounded to a whole percent; the group's label goes through ``quote``, e.g. a
    Markdown code span)."""
    dim = dimension_label(top.dimension).lower()
    group = quote(value_label(top.dimension, top.group))
    return f"Top bottleneck: {dim} {group} carries {format_share(top.share, 0)} of the SLA overrun"

"""Labels and number formats for people (``metrics.labels``), shared by the dashboard
and the reports."""

from __future__ import annotations

import math

import pytest

from metrics.catalog import CATALOG
from metrics.dimensions import DIMENSIONS
from metrics.labels import (
    MISSING,
    NO_DATA,
    category_label,
    column_label,
    delta_is_zero,
    dimension_label,
    format_bound,
    format_delta,
    format_hours,
    format_money,
    format_share,
    format_value,
    humanize,
    kpi_label,
    status_label,
    target_summary,
    target_text,
    value_label,
)
from metrics.targets import Target


def test_humanize() -> None:
    assert humanize("missed_pickup") == "Missed pickup"
    assert humanize("share_of_overrun") == "Share of overrun"
    assert humanize("ETA_slip") == "ETA slip"
    assert humanize("") == ""
    assert humanize("_x") == " x"


def test_labels_of_kpis_dimensions_and_columns() -> None:
    for k in CATALOG:
        assert kpi_label(k.name) == k.label == column_label(k.name) or k.unit == "currency"
    assert kpi_label("sla_adherence") == "SLA adherence"
    assert dimension_label("category") == "Root cause"
    assert all(dimension_label(d) == v.label for d, v in DIMENSIONS.items())
    assert column_label("share_of_overrun") == "Share of overrun"
    assert column_label("breach_rate") == "Breach rate"
    assert column_label("customer_tier") == "Customer tier"
    assert column_label("revenue_at_risk", "USD") == "Revenue at risk (USD)"
    assert column_label("order_value", "EUR") == "Order value (EUR)"
    assert column_label("order_value") == "Order value"
    assert column_label("bottleneck_exceptions") == "Exceptions"
    assert column_label("some_new_column") == "Some new column"
    assert kpi_label("some_new_column") == "Some new column"


def test_value_labels() -> None:
    assert category_label("missed_pickup") == "Missed pickup"
    assert value_label("owner_team", "inventory_control") == "Inventory control"
    assert value_label("severity", "critical") == "Critical"
    assert value_label("owner_team", "(unassigned)") == "(unassigned)"
    # names stay as they are
    assert value_label("carrier", "REDLINE") == "REDLINE"
    assert value_label("site", "dc_atl") == "dc_atl"
    assert value_label("lane", "ATL→MIA") == "ATL→MIA"
    assert value_label(None, "a_b") == "a_b"
    assert value_label("category", None) == MISSING
    assert value_label("category", math.nan) == MISSING


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("open_exceptions", 1234, "1,234"),
        ("open_exceptions", 0, "0"),
        ("sla_adherence", 0.9, "90.0 %"),
        ("sla_adherence", 1.0, "100.0 %"),
        ("mttr_hours", 3.0, "3.0 h"),
        ("sla_overrun_hours", 1234.56, "1,234.6 h"),
        ("revenue_at_risk", 1234567.4, "USD 1,234,567"),
        ("revenue_at_risk", 0.0, "USD 0"),
        ("avg_manual_touches", 2.345, "2.35"),
        ("share_of_overrun", 0.75, "75.0 %"),
        ("age_hours", 26.0, "26.0 h"),
        ("order_value", 540.0, "USD 540"),
        ("sla_adherence", None, MISSING),
        ("mttr_hours", math.nan, MISSING),
        ("revenue_at_risk", None, MISSING),
    ],
)
def test_format_value(name: str, value: object, text: str) -> None:
    assert format_value(name, value, "USD") == text


def test_number_formats() -> None:
    assert format_money(-1234.0, "USD") == "-USD 1,234"
    assert format_money(-0.2, "USD") == "USD 0"
    assert format_money(1500.0, "") == "1,500"
    assert format_share(0.1234, 2) == "12.34 %"
    assert format_hours(None) == MISSING
    assert format_value("rank", 3) == "3"


@pytest.mark.parametrize(
    ("name", "now", "before", "text"),
    [
        ("open_exceptions", 2, 3, "-1"),
        ("open_exceptions", 125, 0, "+125"),
        ("open_exceptions", 5, 5, "0"),
        ("sla_adherence", 0.9, 0.875, "+2.5 pp"),
        ("sla_adherence", 0.5, 0.5, "0.0 pp"),
        ("sla_adherence", 0.5, None, NO_DATA),
        ("mttr_hours", 10.0, 11.5, "-1.5 h"),
        ("mttr_hours", 10.0, 10.04, "0.0 h"),  # rounds to zero: no sign
        ("revenue_at_risk", 2400.0, 1200.0, "+USD 1,200"),
        ("revenue_at_risk", 1200.0, 1200.0, "USD 0"),
        ("avg_manual_touches", 2.0, 2.25, "-0.25"),
        ("otif", None, 0.9, None),
        ("otif", math.nan, 0.9, None),
        ("otif", 0.9, math.nan, NO_DATA),
    ],
)
def test_format_delta(name: str, now: object, before: object, text: str | None) -> None:
    got = format_delta(name, now, before, "USD")
    assert got == text
    assert delta_is_zero(got) == (text in ("0", "0.0 pp", "0.0 h", "USD 0"))


def test_target_texts() -> None:
    up = Target("sla_adherence", 0.9, 0.85, "up")
    down = Target("mttr_hours", 12.0, 16.5, "down")
    money = Target("revenue_at_risk", 250000.0, None, "down")
    assert target_text(up) == "Target 90 %"
    assert target_text(Target("otif", 0.925, None, "up")) == "Target 92.5 %"
    assert target_text(down) == "Target 12 h"
    assert target_text(money, "USD") == "Target USD 250,000"
    assert target_summary(up) == "target ≥ 90 % · off target below 85 %"
    assert target_summary(down) == "target ≤ 12 h · off target above 16.5 h"
    assert target_summary(money, "EUR") == "target ≤ EUR 250,000"
    assert format_bound("breached_open", 10.0) == "10"
    assert status_label("on_target") == "On target"
    assert status_label("at_risk") == "At risk"
    assert status_label("off_target") == "Off target"
    assert status_label(None, has_target=False) == "No target"
    assert status_label(None) == MISSING

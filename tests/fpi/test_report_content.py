"""What a report says (``fpi.report.content``, ``.kpi_line``, ``.headline``, ``.cells``):
changes and their tone, the previous period, the headline sentence, the focus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from core.config import builtin_settings
from core.db import open_read
from fpi.report.cells import cell_text, duration_text, step_text, time_text
from fpi.report.content import build_report, previous_window, trend_grain
from fpi.report.headline import Focus, find_focus, headline_kpi, sentence
from fpi.report.kpi_line import KpiLine
from fpi.report.render import report_format
from metrics.query import Window, compute
from metrics.targets import Target
from tests.dashboard.scenario import D0, T2, H, hand_db

GEN = datetime(2026, 6, 1, tzinfo=UTC)
SLA = Target("sla_adherence", 0.9, 0.85, "up")
MTTR = Target("mttr_hours", 12.0, 16.0, "down")


# --- one KPI: change, tone, status --------------------------------------------------


@pytest.mark.parametrize(
    ("name", "now", "before", "change", "tone"),
    [
        ("open_exceptions", 5, 5, "0", "neutral"),  # a change of zero is not red
        ("sla_adherence", 0.70001, 0.70002, "0.0 pp", "neutral"),  # rounds to zero
        ("sla_adherence", 0.75, 0.70, "+5.0 pp", "good"),
        ("sla_adherence", 0.65, 0.70, "-5.0 pp", "bad"),
        ("open_exceptions", 125, 100, "+25", "bad"),  # lower is better
        ("mttr_hours", 10.0, 12.5, "-2.5 h", "good"),
        ("revenue_at_risk", 2500.0, 1000.0, "+USD 1,500", "bad"),
        ("opened", 30, 10, "+20", "neutral"),  # no better direction
        ("open_exceptions", 125, None, "no data", "neutral"),  # nothing to compare with
        ("sla_adherence", None, 0.7, None, "neutral"),  # no value now
    ],
)
def test_change_and_tone(
    name: str, now: float | None, before: float | None, change: str | None, tone: str
) -> None:
    line = KpiLine(name, now, before, None)
    assert line.change("USD") == change
    assert line.tone("USD") == tone


def test_status_against_the_target() -> None:
    assert KpiLine("sla_adherence", 0.702, None, SLA).status == "off_target"
    assert KpiLine("sla_adherence", 0.87, None, SLA).status == "at_risk"
    assert KpiLine("sla_adherence", 0.9, None, SLA).status == "on_target"
    assert KpiLine("sla_adherence", None, None, SLA).status is None
    assert KpiLine("open_exceptions", 3, None, None).status is None


# --- the headline ----------------------------------------------------------------------


def _lines(**values: tuple[float | None, float | None, Target | None]) -> dict[str, KpiLine]:
    return {n: KpiLine(n, v, b, t) for n, (v, b, t) in values.items()}


def test_headline_names_the_gap_to_target_and_the_focus() -> None:
    lines = _lines(
        sla_adherence=(0.702, None, SLA),
        mttr_hours=(15.0, None, MTTR),
        sla_overrun_hours=(5067.4, None, None),
    )
    focus = Focus((("carrier", "REDLINE"), ("lane", "ATL→MIA")), 3524.9, 0.6956)
    assert sentence(lines, focus, "USD") == (
        "SLA adherence 70.2 %, 19.8 pp under target; carrier REDLINE on lane ATL→MIA "
        "carries 69.6 % of the SLA overrun."
    )


def test_headline_picks_off_target_before_at_risk_and_says_over_for_lower_is_better() -> None:
    lines = _lines(sla_adherence=(0.87, None, SLA), mttr_hours=(17.5, None, MTTR))
    assert headline_kpi(lines) == lines["mttr_hours"]
    assert sentence(lines, None, "USD") == (
        "MTTR (h) 17.5 h, 5.5 h over target; no SLA overrun in the period."
    )
    calm = _lines(sla_adherence=(0.95, 0.9, SLA), mttr_hours=(10.0, None, MTTR))
    assert sentence(calm, None, "USD").startswith("SLA adherence 95.0 %, on target;")


def test_headline_without_a_target_gives_the_change_or_says_there_is_no_previous_data() -> None:
    with_prev = _lines(sla_adherence=(0.75, 0.70, None))
    assert sentence(with_prev, None, "USD").startswith(
        "SLA adherence 75.0 %, +5.0 pp on the previous period;"
    )
    no_prev = _lines(sla_adherence=(0.75, None, None))
    assert sentence(no_prev, None, "USD").startswith("SLA adherence 75.0 % (no previous data);")
    nothing = _lines(sla_adherence=(None, None, SLA), open_exceptions=(4, None, None))
    assert sentence(nothing, None, "USD").startswith("Open exceptions 4 (no previous data)")


def _ranked(dim: str, rows: list[tuple[str, float, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            dim: [r[0] for r in rows],
            "sla_overrun_hours": [r[1] for r in rows],
            "share_of_overrun": [r[2] for r in rows],
        }
    )


LISTS = {
    "lane": _ranked("lane", [("ATL→MIA", 700.0, 0.70), ("CHI→MSP", 50.0, 0.05)]),
    "site": _ranked("site", [("DC-ATL", 740.0, 0.74)]),
    "carrier": _ranked("carrier", [("REDLINE", 750.0, 0.75), ("ACME", 80.0, 0.08)]),
    "category": _ranked("category", [("missed_pickup", 300.0, 0.30)]),
}


def _pairs(rows: list[tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "carrier": [r[0] for r in rows],
            "lane": [r[1] for r in rows],
            "sla_overrun_hours": [r[2] for r in rows],
        }
    )


def test_focus_narrows_a_carrier_to_its_lane_when_the_pair_holds_most_of_it() -> None:
    pairs = _pairs([("REDLINE", "ATL→MIA", 690.0), ("ACME", "CHI→MSP", 40.0)])
    focus = find_focus(LISTS, pairs, {})
    assert focus is not None
    assert focus.groups == (("carrier", "REDLINE"), ("lane", "ATL→MIA"))
    assert focus.share == pytest.approx(0.75 * 690 / 750)
    assert focus.text() == "carrier REDLINE on lane ATL→MIA"


def test_focus_stays_one_group_when_the_overrun_is_spread_over_lanes() -> None:
    pairs = _pairs([("REDLINE", "ATL→MIA", 400.0), ("REDLINE", "CHI→MSP", 350.0)])
    focus = find_focus(LISTS, pairs, {})
    assert focus == Focus((("carrier", "REDLINE"),), 750.0, 0.75)


def test_focus_leaves_out_a_dimension_pinned_by_a_filter_and_labels_root_causes() -> None:
    focus = find_focus(LISTS, None, {"carrier": ["REDLINE"], "site": ["DC-ATL"]})
    assert focus == Focus((("lane", "ATL→MIA"),), 700.0, 0.70)
    only_category = {"category": LISTS["category"]}
    focus = find_focus(only_category, None, {})
    assert focus is not None and focus.text() == "root cause Missed pickup"


def test_focus_is_not_narrowed_to_a_pinned_carrier() -> None:
    pairs = _pairs([("REDLINE", "ATL→MIA", 690.0)])
    focus = find_focus(LISTS, pairs, {"carrier": ["REDLINE"]})
    assert focus == Focus((("site", "DC-ATL"),), 740.0, 0.74)
    focus = find_focus({"lane": LISTS["lane"]}, pairs, {"carrier": ["REDLINE"]})
    assert focus == Focus((("lane", "ATL→MIA"),), 700.0, 0.70)


def test_no_focus_without_overrun() -> None:
    zero = {"lane": _ranked("lane", [("ATL→MIA", 0.0, 0.0)])}
    assert find_focus(zero, None, {}) is None
    assert find_focus({"lane": pl.DataFrame()}, None, {}) is None


# --- periods ---------------------------------------------------------------------------


def test_previous_period_has_the_same_length_and_ends_where_the_period_starts() -> None:
    win = Window(D0 + 48 * H, D0)
    assert previous_window(win) == Window(D0, D0 - 48 * H)


@pytest.mark.parametrize(
    ("length", "step"),
    [
        (timedelta(hours=12), timedelta(hours=1)),
        (timedelta(hours=59), timedelta(hours=1)),
        (timedelta(days=7), timedelta(hours=6)),
        (timedelta(days=30), timedelta(days=1)),
        (timedelta(days=400), timedelta(weeks=1)),
        (timedelta(0), timedelta(hours=1)),
    ],
)
def test_trend_grain_keeps_at_most_60_points(length: timedelta, step: timedelta) -> None:
    assert trend_grain(Window(D0 + length, D0)) == step


def test_report_numbers_are_the_metric_layers_and_an_empty_previous_period_has_no_data() -> None:
    with open_read(hand_db()) as con:
        rep = build_report(
            con, T2, D0 + 24 * H, generated_at=GEN, settings=builtin_settings(), where={}
        )
        expected = compute(con, Window(T2, D0 + 24 * H)).row(0, named=True)
        early = build_report(con, D0 + 7 * H, None, generated_at=GEN, settings=builtin_settings())
    assert rep.kpis == expected
    assert rep.previous_has_data
    assert rep.by_name["sla_adherence"].target == SLA
    # the first exception opens 05-04 06:00; the early report's previous
    # period ends 7 days before 07:00, when no exception existed
    assert early.previous is not None and early.previous.as_of < D0 + 6 * H
    assert not early.previous_has_data
    assert early.previous_kpis is None
    assert all(line.previous is None for line in early.lines)
    assert {line.change("USD") for line in early.lines} <= {"no data", None}


def test_report_of_a_zero_length_period_has_no_previous_data() -> None:
    with open_read(hand_db()) as con:
        rep = build_report(con, T2, T2, generated_at=GEN, settings=builtin_settings())
    assert not rep.previous_has_data


# --- cells and formats -----------------------------------------------------------------


def test_cell_text_is_for_people() -> None:
    t = datetime(2026, 5, 10, 23, 59, 38, tzinfo=UTC)
    assert cell_text("category", "missed_pickup", "USD") == "Missed pickup"
    assert cell_text("site", "DC-ATL", "USD") == "DC-ATL"
    assert cell_text("order_value", 7707.7, "EUR") == "EUR 7,708"
    assert cell_text("share_of_overrun", 0.7491, "USD") == "74.9 %"
    assert cell_text("sla_left_hours", -149.07, "USD") == "-149.1 h"
    assert cell_text("opened_at", t, "USD") == "2026-05-10 23:59 UTC"
    assert cell_text("breached", True, "USD") == "yes"
    assert cell_text("status", "open", "USD") == "Open"
    assert cell_text("mttr_hours", None, "USD") == "—"
    assert time_text(None) == "—"
    assert duration_text(timedelta(days=7)) == "7 days"
    assert duration_text(timedelta(hours=83.99)) == "3.5 days"
    assert duration_text(timedelta(hours=36)) == "36 hours"
    assert duration_text(timedelta(hours=1)) == "1 hour"
    assert step_text(timedelta(hours=6)) == "6 hours"
    assert step_text(timedelta(days=1)) == "day"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("r.PDF", ".pdf"), ("pdf", ".pdf"), (".xlsx", ".xlsx"), ("a/b/report.md", ".md")],
)
def test_report_format_from_a_name(name: str, fmt: str) -> None:
    assert report_format(name) == fmt


@pytest.mark.parametrize("name", ["report.docx", "report", "", "x.pdf.gz"])
def test_unknown_report_format_names_the_formats(name: str) -> None:
    with pytest.raises(ValueError, match=r"unknown report format .*; use \.pdf, \.xlsx, \.html"):
        report_format(name)

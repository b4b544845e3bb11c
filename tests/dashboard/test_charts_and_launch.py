"""Pure parts of the dashboard: figures, formatting, context parsing, the launcher."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest

from core.db import open_read
from dashboard import charts, launch, ui
from dashboard.context import (
    DEFAULT_PERIOD,
    Filters,
    app_settings,
    data_stamp,
    dates_window,
    parse_filters,
    resolve_window,
    span_text,
    window_dates,
)
from dashboard.ui import delta, fmt
from metrics import bottlenecks, breakdowns, labels, timeline
from metrics.query import Window
from metrics.series import trend
from metrics.targets import Target
from tests.dashboard.scenario import D0, T1, T2, hand_db

H = timedelta(hours=1)


@pytest.fixture(scope="module")
def frames() -> dict[str, object]:
    with open_read(hand_db()) as con:
        win = Window(T2, D0)
        long = breakdowns.group_kpis(con, win, ["carrier", "category", "site"])
        return {
            "trend": trend(con, T2, D0, "hour"),
            "lists": bottlenecks.rank_bottlenecks(long, ["carrier"]),
            "heat": breakdowns.heatmap(con, win, "site", "carrier"),
            "long": long,
            "events": timeline.timeline(con, "X-1", T2),
            "intervals": timeline.status_intervals(con, "X-1", T2),
        }


def test_trend_figures(frames: dict) -> None:
    tr = frames["trend"]
    fig = charts.backlog_by_aging(tr)
    assert isinstance(fig, go.Figure) and len(fig.data) == 4
    assert [t.name for t in fig.data] == [
        "Aging < 4 h",
        "Aging 4–24 h",
        "Aging 1–3 d",
        "Aging > 3 d",
    ]
    assert list(fig.data[2].y)[-1] == 2  # two exceptions aged 1-3 d at 05-05 12:00
    sla = charts.sla_adherence_trend(tr, "hour")
    assert sla.layout.yaxis2.tickformat == ".0%" and sla.data[1].yaxis == "y2"
    rev = charts.revenue_trend(tr, "USD")
    assert list(rev.data[0].y)[-1] == pytest.approx(1540.0)


def test_bottleneck_bars_put_the_top_group_on_top(frames: dict) -> None:
    fig = charts.bottleneck_bars(frames["lists"]["carrier"], "carrier")
    bar = fig.data[0]
    assert list(bar.y) == ["ZIP", "ACME", "(none)"]
    assert fig.layout.yaxis.autorange == "reversed"
    assert bar.text[0] == "97%"  # 29 of 30 overrun hours


def test_heatmap_and_pareto_figures(frames: dict) -> None:
    fig = charts.heatmap(frames["heat"], "site", "carrier", "sla_overrun_hours")
    hm = fig.data[0]
    assert list(hm.y) == ["DC-ATL", "DC-DAL"] and list(hm.x) == ["(none)", "ACME", "ZIP"]
    assert hm.z[1][2] == pytest.approx(26.0) and hm.z[0][0] is None
    assert hm.text[1][2] == "26.0" and hm.text[0][0] == ""
    causes = frames["long"].filter(pl.col("dimension") == "category").rename({"group": "category"})
    par = breakdowns.pareto(causes, "category", "sla_overrun_hours")
    pfig = charts.pareto(par, "category", "sla_overrun_hours")
    assert list(pfig.data[0].x)[0] == "carrier_failure"
    assert list(pfig.data[1].y)[-1] == pytest.approx(1.0)


def test_group_figures(frames: dict) -> None:
    site = frames["long"].filter(pl.col("dimension") == "site").rename({"group": "site"})
    assert len(charts.aging_by_group(site, "site").data) == 4
    assert len(charts.risk_by_group(site, "site").data) == 2
    fig = charts.sla_by_group(site.filter(pl.col("resolved") > 0), "site", 0.5)
    assert fig.layout.shapes[0].x0 == 0.5


def test_exception_timeline_merges_runs_and_marks_events(frames: dict) -> None:
    fig = charts.exception_timeline(frames["intervals"], frames["events"], "X-1")
    status = [t for t in fig.data if isinstance(t, go.Bar) and t.y[0] == "status"]
    assert [t.text[0] for t in status] == ["open", "paused", "open", "resolved", "open"]
    markers = {t.y[0]: len(t.x) for t in fig.data if isinstance(t, go.Scatter)}
    assert markers == {
        "opened": 1,
        "touched": 2,
        "paused": 1,
        "resumed": 1,
        "resolved": 1,
        "reopened": 1,
    }
    empty = charts.exception_timeline(frames["intervals"].head(0), frames["events"].head(0), "-")
    assert len(empty.data) == 0


def test_quality_figures() -> None:
    fig = charts.quality_funnel({"accepted_events": 5, "duplicate_events": 1})
    assert list(fig.data[0].y) == [5, 1, 0, 0]
    bars = charts.count_bars(
        pl.DataFrame({"reason": ["a", "b"], "events": [3, 1]}), "reason", "events", "t"
    )
    assert list(bars.data[0].y) == ["a", "b"]


def test_formatting_and_deltas() -> None:
    # the formats of metrics.labels (shared with the reports)
    assert fmt("open_exceptions", 1234) == "1,234"
    assert fmt("sla_adherence", 0.5) == "50.0 %"
    assert fmt("mttr_hours", 3.0) == "3.0 h"
    assert fmt("revenue_at_risk", 1540.0, "USD") == "USD 1,540"
    assert fmt("revenue_at_risk", 2_500_000.0, "EUR") == "EUR 2,500,000"
    assert fmt("otif", None) == "—" and fmt("otif", float("nan")) == "—"
    assert delta("open_exceptions", 2, 3) == "-1"
    assert delta("sla_adherence", 0.5, 0.25) == "+25.0 pp"
    assert delta("revenue_at_risk", 1000.0, 1540.0, "USD") == "-USD 540"
    assert delta("mttr_hours", None, 3.0) is None
    assert delta("mttr_hours", 3.0, None) == "no data"  # not a number against nothing
    assert delta("open_exceptions", 4, 4) == "0"


def test_delta_colours() -> None:
    # a change of zero and "no data" are grey without an arrow; else by good direction
    assert ui.delta_colour("open_exceptions", "0") == ("off", "off")
    assert ui.delta_colour("sla_adherence", "0.0 pp") == ("off", "off")
    assert ui.delta_colour("open_exceptions", "no data") == ("off", "off")
    assert ui.delta_colour("open_exceptions", None) == ("off", "off")
    assert ui.delta_colour("open_exceptions", "+3") == ("inverse", "auto")  # lower is better
    assert ui.delta_colour("sla_adherence", "-2.0 pp") == ("normal", "auto")
    assert ui.delta_colour("opened", "+3") == ("off", "auto")  # neutral


def test_parse_filters() -> None:
    f = parse_filters("2026-05-05T12:00:00Z", "last 24 hours", {"carrier": ["ZIP", "ACME"]})
    assert f.as_of == datetime(2026, 5, 5, 12, tzinfo=UTC)
    assert f.period == DEFAULT_PERIOD  # labels are mapped by the widget, keys here
    assert f.where == (("carrier", ("ACME", "ZIP")),)
    assert f.describe() == "carrier = ACME or ZIP"
    bad = parse_filters("noon-ish", "1d", {})
    assert bad.as_of is None and bad.as_of_error and bad.period == "1d"
    assert parse_filters("", "7d", {}).describe() == "all exceptions"


def test_app_settings_from_args_and_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    s = app_settings(["--db", str(tmp_path / "a.duckdb"), "--refresh", "5"])
    assert (s.db, s.refresh_seconds) == (tmp_path / "a.duckdb", 5.0)
    monkeypatch.setenv("FPI_DB", str(tmp_path / "b.duckdb"))
    monkeypatch.setenv("FPI_REFRESH_SECONDS", "0")
    s = app_settings([])
    assert (s.db, s.refresh_seconds) == (tmp_path / "b.duckdb", 0.0)
    assert s.stale_after_seconds == 30.0  # the default
    monkeypatch.setenv("FPI_STALE_AFTER_SECONDS", "12")
    assert app_settings([]).stale_after_seconds == 12.0
    assert app_settings(["--stale-after", "90"]).stale_after_seconds == 90.0
    with pytest.raises(ValueError, match="stale-after"):
        app_settings(["--stale-after", "nan"])
    monkeypatch.delenv("FPI_DB")
    with pytest.raises(SystemExit):
        app_settings([])


def test_data_stamp_changes_when_the_file_changes(tmp_path: Path) -> None:
    f = tmp_path / "x.duckdb"
    assert data_stamp(f) == "-|-"
    f.write_bytes(b"a")
    s1 = data_stamp(f)
    f.write_bytes(b"ab")
    assert data_stamp(f) != s1


def test_launch_command() -> None:
    cmd = launch.command(Path("/data/f.duckdb"), 8600, True, 7.5)
    assert cmd[:5] == [sys.executable, "-m", "streamlit", "run", str(launch.APP)]
    flags = dict(zip(cmd[5:-7:2], cmd[6:-7:2], strict=True))
    assert flags["--server.port"] == "8600"
    assert flags["--server.headless"] == "true"
    assert flags["--server.fileWatcherType"] == "none"
    assert flags["--browser.gatherUsageStats"] == "false"
    assert cmd[-7:] == ["--", "--db", "/data/f.duckdb", "--refresh", "7.5", "--stale-after", "30.0"]
    cmd = launch.command(Path("/data/f.duckdb"), 8600, True, 2, stale_after_seconds=5)
    assert cmd[-4:] == ["--refresh", "2", "--stale-after", "5"]


def test_launch_runs_the_child_and_returns_its_exit_code(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: dict[str, object] = {}

    def fake_command(
        db: Path, port: int, headless: bool, refresh: float, **kw: object
    ) -> list[str]:
        seen.update(db=db, port=port)
        code = "import os, sys; sys.exit(3 if os.environ['FPI_DB'].endswith('x.duckdb') else 9)"
        return [sys.executable, "-c", code]

    monkeypatch.setattr(launch, "command", fake_command)
    assert launch.launch(tmp_path / "x.duckdb", port=8999, headless=True) == 3
    assert seen == {"db": (tmp_path / "x.duckdb").resolve(), "port": 8999}
    assert signal.getsignal(signal.SIGTERM) is not None


def test_fpi_dashboard_refuses_a_missing_database(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "fpi", "dashboard", "--db", str(tmp_path / "nope.duckdb")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1 and "database not found" in r.stderr


def test_window_of_previous_period() -> None:
    from dashboard.data import previous

    win = Window(T2, T1)
    assert previous(win) == Window(T1, T1 - 24 * H)


# --- targets and labels in the figures ---------------------------------------------------


def _annotations(fig: go.Figure) -> list[str]:
    return [a.text for a in fig.layout.annotations]


def test_a_kpi_with_a_target_draws_a_labelled_target_line(frames: dict) -> None:
    tr = frames["trend"]
    target = Target("sla_adherence", 0.9, 0.85, "up")
    sla = charts.sla_adherence_trend(tr, "hour", target)
    (line,) = sla.layout.shapes
    assert (line.y0, line.y1, line.yref) == (0.9, 0.9, "y2")
    assert _annotations(sla) == ["Target 90 %"]
    assert not charts.sla_adherence_trend(tr, "hour").layout.shapes  # no target, no line
    rev = charts.revenue_trend(tr, "EUR", Target("revenue_at_risk", 250000.0, None, "down"))
    assert _annotations(rev) == ["Target EUR 250,000"]
    backlog = charts.backlog_by_aging(tr, Target("open_exceptions", 50.0, 80.0, "down"))
    assert _annotations(backlog) == ["Target 50"]


def test_reference_lines_are_labelled(frames: dict) -> None:
    site = frames["long"].filter(pl.col("dimension") == "site").rename({"group": "site"})
    resolved = site.filter(pl.col("resolved") > 0)
    fig = charts.sla_by_group(resolved, "site", 0.5, Target("sla_adherence", 0.9, 0.85, "up"))
    assert [s.x0 for s in fig.layout.shapes] == [0.5, 0.9]
    assert _annotations(fig) == ["Overall 50.0 %", "Target 90 %"]
    statuses = ["on_target", "off_target", None][: resolved.height]
    coloured = charts.sla_by_group(resolved, "site", 0.5, None, statuses)
    assert (
        list(coloured.data[0].marker.color)
        == [
            charts.STATUS_BAR_COLORS["on_target"],
            charts.STATUS_BAR_COLORS["off_target"],
            charts.ACCENT,
        ][: resolved.height]
    )
    causes = frames["long"].filter(pl.col("dimension") == "category").rename({"group": "category"})
    par = charts.pareto(breakdowns.pareto(causes, "category", "opened"), "category", "opened")
    assert _annotations(par) == ["80 % of the total"]


def test_root_causes_are_labelled_but_stay_raw_values(frames: dict) -> None:
    causes = frames["long"].filter(pl.col("dimension") == "category").rename({"group": "category"})
    par = breakdowns.pareto(causes, "category", "sla_overrun_hours")
    fig = charts.pareto(par, "category", "sla_overrun_hours")
    raw = par["category"].to_list()
    assert list(fig.data[0].x) == raw  # a click hands back the value the filters use
    assert list(fig.layout.xaxis.tickvals) == raw
    assert list(fig.layout.xaxis.ticktext) == [labels.category_label(v) for v in raw]
    assert "Carrier failure" in fig.layout.xaxis.ticktext
    assert list(fig.data[0].hovertext) == list(fig.layout.xaxis.ticktext)
    ranked = bottlenecks.rank_groups(
        causes,
        float(causes["sla_overrun_hours"].sum()),
        "category",
    )
    bars = charts.bottleneck_bars(ranked, "category", currency="USD")
    assert list(bars.data[0].y) == ranked["category"].to_list()
    assert "Carrier failure" in bars.layout.yaxis.ticktext
    assert bars.data[0].customdata[0][4].startswith("USD ")
    # names (carriers, sites) are not relabelled
    assert (
        charts.bottleneck_bars(frames["lists"]["carrier"], "carrier").layout.yaxis.ticktext is None
    )
    assert charts.label("share_of_overrun") == "Share of overrun"


# --- the date range picker ---------------------------------------------------------------


def test_a_picked_date_range_is_a_window_in_utc() -> None:
    clock = datetime(2026, 5, 10, 23, 59, 38, tzinfo=UTC)
    # a past range: from 00:00Z of the first day to the end of the last (next midnight)
    win = dates_window((date(2026, 5, 3), date(2026, 5, 5)), clock)
    assert win == Window(datetime(2026, 5, 6, tzinfo=UTC), datetime(2026, 5, 3, tzinfo=UTC))
    # a range reaching the data clock ends at it (latest data)
    win = dates_window((date(2026, 5, 8), date(2026, 5, 10)), clock)
    assert win == Window(clock, datetime(2026, 5, 8, tzinfo=UTC))
    # one day; a range after the data clock is as of its end; order does not matter
    assert dates_window((date(2026, 5, 4), date(2026, 5, 4)), clock).as_of == datetime(
        2026, 5, 5, tzinfo=UTC
    )
    assert dates_window((date(2026, 6, 2), date(2026, 6, 1)), clock) == Window(
        datetime(2026, 6, 3, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    )


def test_the_default_window_and_its_dates() -> None:
    clock = datetime(2026, 5, 10, 23, 59, 38, tzinfo=UTC)
    win, _ = resolve_window(Filters(), clock)
    assert win == Window(clock, clock - timedelta(days=7))  # the data clock, 7 days before
    assert window_dates(win) == (date(2026, 5, 3), date(2026, 5, 10))
    # an as-of at midnight ends the day before
    midnight = Window(datetime(2026, 5, 5, tzinfo=UTC), datetime(2026, 5, 4, tzinfo=UTC))
    assert window_dates(midnight) == (date(2026, 5, 4), date(2026, 5, 4))
    # a picked range wins over the default; without data there is no window
    picked = Filters(dates=(date(2026, 5, 1), date(2026, 5, 2)))
    assert resolve_window(picked, clock)[0] == dates_window(picked.dates, clock)
    assert resolve_window(picked, None) == (None, picked)
    assert parse_filters("", "7d", {}, (date(2026, 5, 2), date(2026, 5, 1))).dates == (
        date(2026, 5, 1),
        date(2026, 5, 2),
    )
    assert span_text(timedelta(days=7)) == "7 days"
    assert span_text(timedelta(hours=24)) == "24 hours"
    assert span_text(timedelta(hours=60)) == "2.5 days"
    assert span_text(timedelta(minutes=90)) == "90 minutes"

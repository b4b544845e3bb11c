"""Pure parts of the dashboard: figures, formatting, context parsing, the launcher."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import plotly.graph_objects as go
import polars as pl
import pytest

from core.db import open_read
from dashboard import charts, launch
from dashboard.context import (
    DEFAULT_PERIOD,
    app_settings,
    data_stamp,
    parse_filters,
)
from dashboard.ui import delta, fmt
from metrics import bottlenecks, breakdowns, timeline
from metrics.query import Window
from metrics.series import trend
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
    assert fmt("open_exceptions", 1234) == "1,234"
    assert fmt("sla_adherence", 0.5) == "50.0%"
    assert fmt("mttr_hours", 3.0) == "3.0 h"
    assert fmt("revenue_at_risk", 1540.0, "USD") == "1.5k USD"
    assert fmt("revenue_at_risk", 2_500_000.0, "EUR") == "2.5M EUR"
    assert fmt("otif", None) == "—" and fmt("otif", float("nan")) == "—"
    assert delta("open_exceptions", 2, 3) == "-1"
    assert delta("sla_adherence", 0.5, 0.25) == "+25.0 pp"
    assert delta("revenue_at_risk", 1000.0, 1540.0, "USD") == "-540 USD"
    assert delta("mttr_hours", 3.0, None) is None


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

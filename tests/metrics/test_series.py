"""``metrics.series``: trends over a grid of as-of times.

Hand-computed values on the hand-made scenario of ``tests/dashboard/scenario.py``
(day grain, as of 05-05 12:00, from 05-04 00:00 → grid 05-04 12:00, 05-05 12:00):

at 05-04 12:00 (bucket [05-03 12:00, 05-04 12:00)):
  X-1 paused (active 2 h, age 4 h), X-2 open 6 h > 4 h target (breached, age 6 h),
  X-3 opened exactly at 12:00 (open, age 0; not "opened" in the bucket, which ends
  before 12:00). Open 3, paused 1, < 4 h 1, 4–24 h 2, breached 1, at risk 0.
  Revenue: SO-1 valued by its most recently opened open exception X-3 = 2000,
  SO-2 = 540 → 2540; breached revenue 540. Opened 2 (X-1, X-2). Overrun 2 h (X-2).

at 05-05 12:00 (bucket [05-04 12:00, 05-05 12:00)):
  X-1 reopened at 08:00: active 6 + 4 = 10 h > 9 h, age 28 h; X-2 active 30 h, age 30 h;
  X-3 resolved 13:00 (1 h, met, no touch, system → auto); X-5 resolved 05:00 (5 h active
  > 2 h target, one touch); X-4 cancelled 21:00; X-1's resolution at 18:00 does not
  count (reopened by T). Open 2, 1–3 d 2, breached 2; revenue 1000 + 540 = 1540, all
  breached; opened 3 (X-3, X-4, X-5); resolved 2; cancelled 1; adherence 0.5; MTTR 3 h;
  p50 3 h; p90 1 + 0.9 × 4 = 4.6 h; touches 0.5; first-touch 1.0; auto 0.5;
  overrun X-5 3 + X-1 1 + X-2 26 = 30 h.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from core.db import open_read
from metrics.query import Window, compute, window
from metrics.series import GRAINS, MAX_POINTS, TREND_KPIS, grain_delta, grid, trend
from tests.dashboard.scenario import D0, T1, T2, hand_db, sample_db

H = timedelta(hours=1)


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    assert isinstance(a, int | float) and isinstance(b, int | float)
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_grid_steps_back_from_as_of_and_keeps_as_of() -> None:
    t = datetime(2026, 5, 5, 12, tzinfo=UTC)
    assert grid(t, t - 2 * H, "hour") == [t - 2 * H, t - H, t]
    assert grid(t, t - 90 * timedelta(minutes=1), "hour") == [t - H, t]
    assert grid(t, t, "day") == [t]
    assert grid(t, t + H, "day") == [t]  # start after as_of: just the as-of point
    assert len(grid(t, t - timedelta(days=400), "hour")) == MAX_POINTS
    assert grid(t, t - timedelta(days=400), "hour", max_points=3) == [t - 2 * H, t - H, t]


def test_grid_rejects_naive_times_and_unknown_grains() -> None:
    t = datetime(2026, 5, 5, 12, tzinfo=UTC)
    with pytest.raises(ValueError, match="naive"):
        grid(t.replace(tzinfo=None), t, "day")
    with pytest.raises(ValueError, match="unknown grain"):
        grain_delta("fortnight")
    with pytest.raises(ValueError, match="positive"):
        grain_delta(timedelta(0))
    assert grain_delta("week") == timedelta(days=7) == GRAINS["week"]


@pytest.fixture(scope="module")
def daily() -> pl.DataFrame:
    with open_read(hand_db()) as con:
        return trend(con, T2, D0, "day")


def test_trend_has_one_row_per_grid_point(daily: pl.DataFrame) -> None:
    assert daily["as_of"].to_list() == [T1, T2]
    assert daily["period_from"].to_list() == [T1 - 24 * H, T2 - 24 * H]
    assert daily.columns == ["as_of", "period_from", *TREND_KPIS]


def test_trend_stock_kpis_by_hand(daily: pl.DataFrame) -> None:
    a, b = daily.to_dicts()
    assert (a["open_exceptions"], a["paused_exceptions"]) == (3, 1)
    assert (a["aging_lt_4h"], a["aging_4_24h"], a["aging_1_3d"], a["aging_gt_3d"]) == (1, 2, 0, 0)
    assert (a["breached_open"], a["at_risk_open"]) == (1, 0)
    assert a["revenue_at_risk"] == pytest.approx(2540.0)
    assert a["breached_revenue_at_risk"] == pytest.approx(540.0)
    assert (b["open_exceptions"], b["paused_exceptions"], b["aging_1_3d"]) == (2, 0, 2)
    assert (b["breached_open"], b["at_risk_open"]) == (2, 0)
    assert b["revenue_at_risk"] == pytest.approx(1540.0)
    assert b["breached_revenue_at_risk"] == pytest.approx(1540.0)


def test_trend_flow_kpis_by_hand(daily: pl.DataFrame) -> None:
    a, b = daily.to_dicts()
    assert (a["opened"], a["resolved"], a["cancelled"]) == (2, 0, 0)
    assert a["sla_adherence"] is None and a["mttr_hours"] is None
    assert a["sla_overrun_hours"] == pytest.approx(2.0)
    assert (b["opened"], b["resolved"], b["cancelled"]) == (3, 2, 1)
    assert b["sla_adherence"] == pytest.approx(0.5)
    assert b["mttr_hours"] == pytest.approx(3.0)
    assert b["p50_resolution_hours"] == pytest.approx(3.0)
    assert b["p90_resolution_hours"] == pytest.approx(4.6)
    assert b["avg_manual_touches"] == pytest.approx(0.5)
    assert b["first_touch_resolution_rate"] == pytest.approx(1.0)
    assert b["auto_resolution_rate"] == pytest.approx(0.5)
    assert (b["reopen_rate"], b["escalation_rate"]) == (0.0, 0.0)
    assert b["sla_overrun_hours"] == pytest.approx(30.0)


def test_trend_with_filters_by_hand() -> None:
    with open_read(hand_db()) as con:
        zip_ = trend(con, T2, D0, "day", where={"carrier": ["ZIP"]}).to_dicts()
        atl = trend(con, T2, D0, "day", where={"site": ["DC-ATL"], "carrier": ["ACME"]})
    # ZIP: X-2 (open, breached) and X-5 (opened 05-05 00:00, resolved 05:00, late)
    assert [r["open_exceptions"] for r in zip_] == [1, 1]
    assert zip_[1]["resolved"] == 1 and zip_[1]["sla_adherence"] == 0.0
    assert zip_[1]["sla_overrun_hours"] == pytest.approx(26.0 + 3.0)
    # ACME at DC-ATL, both on order SO-1
    assert atl["open_exceptions"].to_list() == [2, 1]
    assert atl["revenue_at_risk"].to_list() == pytest.approx([2000.0, 1000.0])


def test_trend_points_without_anything_are_zero_or_null() -> None:
    early = D0 - timedelta(days=3)
    with open_read(hand_db()) as con:
        df = trend(con, early, early - timedelta(days=1), "hour")
    assert df.height == 25
    assert df["open_exceptions"].sum() == 0 and df["revenue_at_risk"].sum() == 0.0
    assert df["sla_adherence"].null_count() == 25


def test_trend_on_an_empty_database_is_all_zero(tmp_path: object) -> None:
    from tests.dashboard.scenario import empty_db

    with open_read(empty_db()) as con:
        df = trend(con, T2, D0, "hour")
    assert df.height == 37
    assert df["opened"].sum() == 0


def _assert_matches_compute(con: object, df: pl.DataFrame, where: dict | None = None) -> None:
    for row in df.iter_rows(named=True):
        ref = compute(con, Window(row["as_of"], row["period_from"]), where=where)  # type: ignore[arg-type]
        expected = ref.to_dicts()[0]
        for k in TREND_KPIS:
            assert _close(row[k], expected[k]), (row["as_of"], k, row[k], expected[k])


def test_every_hourly_point_of_the_hand_scenario_equals_compute() -> None:
    with open_read(hand_db()) as con:
        df = trend(con, T2 + 3 * H, D0, "hour")
        _assert_matches_compute(con, df)
        _assert_matches_compute(
            con,
            trend(con, T2, D0, "hour", where={"owner_team": ["carrier-desk"]}),
            {"owner_team": ["carrier-desk"]},
        )


@pytest.mark.parametrize(
    ("grain", "where"),
    [("day", None), ("hour", {"carrier": ["REDLINE"], "severity": ["high", "critical"]})],
)
def test_trend_equals_compute_on_the_sample_stream(grain: str, where: dict | None) -> None:
    with open_read(sample_db()) as con:
        win = window(con)
        assert win is not None
        df = trend(con, win.as_of, win.as_of - timedelta(days=3), grain, where=where)
        sample = df if df.height <= 12 else df.gather_every(df.height // 10)
        _assert_matches_compute(con, sample, where)

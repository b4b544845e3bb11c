"""Each KPI of kpis.md against hand-computed values on small named scenarios,
and the whole metric layer against an independent reference implementation."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import open_read
from metrics.bottlenecks import bottlenecks
from metrics.query import compute, kpis, window
from tests import reference
from tests.streams import ev, ingest_events, opened, random_stream, released, table, worked_example

H = timedelta(hours=1)
D = timedelta(days=1)


def day(d: int, h: float = 0) -> datetime:
    return datetime(2026, 5, d, tzinfo=UTC) + h * H


def _row(db: Path, t: datetime, start: datetime | None = None, **kw: object) -> dict:
    with open_read(db) as con:
        win = window(con, t, start)
        assert win is not None
        rows = compute(con, win, **kw).to_dicts()  # type: ignore[arg-type]
    assert len(rows) == 1
    return rows[0]


# --- the worked example of kpis.md -------------------------------------------------


@pytest.fixture(scope="module")
def worked_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db, summary = ingest_events(tmp_path_factory.mktemp("worked"), worked_example())
    assert (summary.after.accepted, summary.after.duplicates, summary.after.rejected) == (7, 1, 0)
    return db


def test_worked_example_at_noon_paused(worked_db: Path) -> None:
    r = _row(worked_db, day(4, 12))
    assert (r["open_exceptions"], r["paused_exceptions"], r["aging_4_24h"]) == (1, 1, 1)
    assert r["revenue_at_risk"] == 1000.0
    assert (r["breached_open"], r["at_risk_open"]) == (0, 0)


def test_worked_example_in_the_evening_resolved(worked_db: Path) -> None:
    r = _row(worked_db, day(4, 20))
    assert (r["open_exceptions"], r["resolved"]) == (0, 1)
    assert r["mttr_hours"] == 10.0
    assert r["sla_adherence"] == 1.0
    assert r["first_touch_resolution_rate"] == 1.0
    assert r["revenue_at_risk"] == 0.0


def test_worked_example_next_morning_reopened(worked_db: Path) -> None:
    r = _row(worked_db, day(5, 10))
    assert (r["open_exceptions"], r["aging_1_3d"], r["at_risk_open"]) == (1, 1, 1)
    assert r["breached_open"] == 0
    assert r["revenue_at_risk"] == 1000.0
    assert r["resolved"] == 0  # resolved as of T is required


def test_data_clock_is_the_default_as_of(worked_db: Path) -> None:
    with open_read(worked_db) as con:
        df = kpis(con)
    assert df["as_of"][0] == day(5, 9)
    assert df["period_from"][0] == day(5, 9) - 7 * D
    assert (df["accepted_events"][0], df["duplicate_events"][0]) == (7, 1)


# --- flow KPIs ----------------------------------------------------------------------


def _flow_scenario() -> list[dict]:
    m = dict(severity="medium", tier="standard")  # target 24 h
    return [
        # A: 10 h, 1 touch, met, first-touch
        opened("A", day(4), order_id="O1", **m),
        ev("exception.touched", "A", day(4, 1), human=True, action="call"),
        ev("exception.resolved", "A", day(4, 10), human=True, resolution_code="x"),
        # B: 30 h, no touch, system resolver: not met (overrun 6 h), auto-resolved
        opened("B", day(4), **m),
        ev("exception.resolved", "B", day(5, 6), human=False, resolution_code="x"),
        # C: escalated, 2 touches, resolved, reopened, resolved again at 6 h
        opened("C", day(5), order_id="O3", **m),
        ev("exception.escalated", "C", day(5, 1), level=2),
        ev("exception.touched", "C", day(5, 2), human=True, action="call"),
        ev("exception.touched", "C", day(5, 3), human=True, action="call"),
        ev("exception.resolved", "C", day(5, 4), human=True, resolution_code="x"),
        ev("exception.reopened", "C", day(5, 5)),
        ev("exception.resolved", "C", day(5, 6), human=False, resolution_code="x"),
        # D: paused after 1 h, resolved while paused after 24 h: active 1 h, met
        opened("D", day(6), **m),
        ev("exception.paused", "D", day(6, 1), reason="waiting_on_customer"),
        ev("exception.resolved", "D", day(7), human=True, resolution_code="x"),
        # E: cancelled
        opened("E", day(6), **m),
        ev("exception.cancelled", "E", day(6, 2)),
        # F: opened before the period, high/standard (12 h), still open: 216 h active
        opened("F", day(1), severity="high", tier="standard", value=700.0),
        # G: resolved before the period
        opened("G", datetime(2026, 4, 20, tzinfo=UTC), **m),
        ev("exception.resolved", "G", datetime(2026, 4, 21, tzinfo=UTC), resolution_code="x"),
        # orders
        released("O1", day(4), "2026-05-06T00:00:00Z"),
        ev("order.delivered", "O1", day(5), in_full=True),
        released("O2", day(4), "2026-05-06T00:00:00Z"),
        ev("order.delivered", "O2", day(7), in_full=True),
        released("O3", day(5), "2026-05-08T00:00:00+02:00", site="DC-DAL", origin="DAL"),
        ev("order.delivered", "O3", day(7), in_full=False),
        released("O4", day(5), "2026-05-08T00:00:00Z", site="DC-DAL", origin="DAL"),
        released(
            "O5",
            datetime(2026, 4, 1, tzinfo=UTC),
            "2026-04-03T00:00:00Z",
            site="DC-DAL",
            origin="DAL",
        ),
        ev("order.delivered", "O5", datetime(2026, 4, 2, tzinfo=UTC), in_full=True),
    ]


@pytest.fixture(scope="module")
def flow_row(tmp_path_factory: pytest.TempPathFactory) -> dict:
    db, _ = ingest_events(tmp_path_factory.mktemp("flow"), _flow_scenario())
    return _row(db, day(10), day(3))


@pytest.mark.parametrize(
    ("kpi", "expected"),
    [
        ("opened", 5),
        ("resolved", 4),
        ("cancelled", 1),
        ("sla_adherence", 0.75),
        ("mttr_hours", 17.5),  # (10 + 30 + 6 + 24) / 4
        ("p50_resolution_hours", 17.0),  # type 7 over [6, 10, 24, 30]
        ("p90_resolution_hours", 28.2),
        ("avg_manual_touches", 0.75),
        ("first_touch_resolution_rate", 0.75),
        ("auto_resolution_rate", 0.25),
        ("reopen_rate", 0.25),
        ("escalation_rate", 0.25),
        ("sla_overrun_hours", 210.0),  # B 6 h + F (216 - 12) h
        ("open_exceptions", 1),
        ("aging_gt_3d", 1),
        ("breached_open", 1),
        ("revenue_at_risk", 700.0),
        ("breached_revenue_at_risk", 700.0),
        ("otif", 1 / 3),
        ("on_time_rate", 2 / 3),
        ("in_full_rate", 2 / 3),
        ("exception_rate", 0.5),  # O1 and O3 of O1..O4
    ],
)
def test_flow_kpi(flow_row: dict, kpi: str, expected: float) -> None:
    assert flow_row[kpi] == pytest.approx(expected)


def test_empty_period_gives_zero_counts_and_null_means(tmp_path: Path) -> None:
    db, _ = ingest_events(tmp_path, _flow_scenario())
    r = _row(db, day(20), day(19))
    assert (r["resolved"], r["opened"], r["cancelled"]) == (0, 0, 0)
    for k in (
        "sla_adherence",
        "mttr_hours",
        "p50_resolution_hours",
        "avg_manual_touches",
        "first_touch_resolution_rate",
        "otif",
        "exception_rate",
    ):
        assert r[k] is None


# --- revenue at risk ---------------------------------------------------------------


@pytest.fixture(scope="module")
def revenue_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    low = dict(severity="low", tier="standard")  # target 72 h
    events = [
        opened("X", day(4), order_id="SO-1", value=100.0, site="DC-ATL", **low),
        opened("Y", day(5), order_id="SO-1", value=150.0, site="DC-DAL", **low),
        opened("Z", day(4), order_id="SO-2", value=500.0, currency="EUR", site="DC-ATL", **low),
        ev("exception.resolved", "Z", day(4, 5), resolution_code="x"),
        opened(
            "W",
            day(4),
            order_id="SO-3",
            value=70.0,
            site="DC-ATL",
            severity="critical",
            tier="strategic",
        ),
        opened(
            "V",
            day(4),
            order_id="SO-4",
            value=1000.0,
            currency="EUR",
            site="DC-DAL",
            carrier=None,
            **low,
        ),
    ]
    db, _ = ingest_events(tmp_path_factory.mktemp("rev"), events)
    return db


def test_revenue_at_risk_counts_each_order_once_at_its_latest_exception(revenue_db: Path) -> None:
    r = _row(revenue_db, day(6))
    assert r["revenue_at_risk"] == pytest.approx(150.0 + 70.0 + 1080.0)
    assert r["breached_revenue_at_risk"] == pytest.approx(70.0)


def test_revenue_at_risk_by_group_counts_an_order_in_each_group(revenue_db: Path) -> None:
    with open_read(revenue_db) as con:
        win = window(con, day(6))
        assert win is not None
        df = compute(con, win, by="site")
    by_site = dict(zip(df["site"], df["revenue_at_risk"], strict=True))
    assert by_site == pytest.approx({"DC-ATL": 170.0, "DC-DAL": 1230.0})


def test_filters_and_lane_alias(revenue_db: Path) -> None:
    r = _row(revenue_db, day(6), where={"site": ["DC-DAL"], "lane": ["ATL→MIA"]})
    assert r["open_exceptions"] == 2
    with open_read(revenue_db) as con:
        win = window(con, day(6))
        assert win is not None
        df = compute(con, win, by="carrier", where={"site": ["DC-DAL"]})
    assert dict(zip(df["carrier"], df["open_exceptions"], strict=True)) == {"(none)": 1, "ACME": 1}


def test_owner_team_is_taken_as_of_t(tmp_path: Path) -> None:
    events = [
        opened("X", day(4)),
        ev("exception.assigned", "X", day(4, 1), owner_team="alpha"),
        ev("exception.assigned", "X", day(4, 5), owner_team="beta"),
    ]
    db, _ = ingest_events(tmp_path, events)
    with open_read(db) as con:
        for t, team in [(day(4, 0.5), "(unassigned)"), (day(4, 2), "alpha"), (day(4, 6), "beta")]:
            win = window(con, t)
            assert win is not None
            df = compute(con, win, by="owner_team")
            assert df.filter(df["open_exceptions"] > 0)["owner_team"].to_list() == [team]


def test_bottlenecks_rank_by_overrun_with_shares(tmp_path: Path) -> None:
    db, _ = ingest_events(tmp_path, _flow_scenario())
    with open_read(db) as con:
        win = window(con, day(10), day(3))
        assert win is not None
        df = bottlenecks(con, win, "site")
    assert df.columns[:3] == ["site", "rank", "sla_overrun_hours"]
    top = df.row(0, named=True)
    assert top["site"] == "DC-ATL" and top["rank"] == 1
    assert top["share_of_overrun"] == pytest.approx(1.0)
    assert top["exceptions"] == 5  # A, B, C, D resolved in period + F open
    assert top["breach_rate"] == pytest.approx(2 / 5)  # B and F


# --- against the independent reference ----------------------------------------------


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 100_000))
def test_metric_layer_matches_reference(tmp_path_factory, seed: int) -> None:
    rng = random.Random(seed)
    events = random_stream(rng, n_exceptions=15)
    arrival = list(events)
    rng.shuffle(arrival)
    db, _ = ingest_events(tmp_path_factory.mktemp("ref"), arrival)
    with open_read(db) as con:
        for _ in range(3):
            t = reference.ts("2026-05-04T08:00:00Z") + timedelta(minutes=rng.randrange(0, 7000))
            start = t - timedelta(hours=rng.choice([12, 48, 168]))
            by = rng.choice([None, "site", "carrier", "owner_team", "severity"])
            win = window(con, t, start)
            assert win is not None
            got = compute(con, win, by=by)
            want = reference.kpis(arrival, t, start, by)
            rows = got.to_dicts()
            got_by = {("all" if by is None else r[by]): r for r in rows}
            for group, expected in want.items():
                for k, v in expected.items():
                    assert got_by[group][k] == pytest.approx(v, abs=1e-6), (group, k, t)


def test_sla_override_on_the_opened_event_beats_the_policy(tmp_path: Path) -> None:
    events = [
        opened("P", day(4), severity="high", tier="key"),  # policy: 12 h x 0.75 = 9 h
        opened("O", day(4), severity="high", tier="key", sla_target_hours=1.5),
    ]
    db, _ = ingest_events(tmp_path, events)
    targets = table(
        db, "SELECT exception_id, sla_target_hours, sla_target_source FROM exceptions ORDER BY 1"
    ).rows()
    assert targets == [("O", 1.5, "event"), ("P", 9.0, "policy")]
    r = _row(db, day(4, 2))
    assert (r["breached_open"], r["at_risk_open"]) == (1, 0)
    r = _row(db, day(4, 8))
    assert (r["breached_open"], r["at_risk_open"]) == (1, 1)  # P: 8 h >= 0.8 x 9 h


# --- exact arithmetic: the same database prints the same digits ---------------------


def test_sums_and_means_are_exact_whatever_the_order_of_addition(tmp_path: Path) -> None:
    """Money, overrun and MTTR equal their exact values, so no thread order can move them."""
    from decimal import Decimal
    from fractions import Fraction

    rng = random.Random(5)
    events: list[dict] = []
    values: list[float] = []
    overrun_us = 0
    res_us: list[int] = []
    for i in range(3000):
        at = day(4) + timedelta(seconds=i)
        value = round(rng.uniform(0, 10_000), 2) + 0.1
        events.append(opened(f"X-{i}", at, value=value, severity="critical", tier="strategic"))
        if i % 2:  # open: at T each is 2 h past its 2 h target plus i us
            values.append(value)
        else:
            res = timedelta(hours=1, microseconds=rng.randrange(10**9))
            res_us.append(res // timedelta(microseconds=1))
            events.append(ev("exception.resolved", f"X-{i}", at + res, resolution_code="ok"))
    t = day(4) + timedelta(hours=4)
    for i in range(1, 3000, 2):
        open_us = (t - (day(4) + timedelta(seconds=i))) // timedelta(microseconds=1)
        overrun_us += max(0, open_us - 2 * 3600 * 10**6)
    db, _ = ingest_events(tmp_path, events)
    with open_read(db) as con:
        row = compute(con, window(con, t, day(1))).row(0, named=True)  # type: ignore[arg-type]
    exact_money = sum(Decimal(repr(v)).quantize(Decimal("0.0001")) for v in values)
    assert row["revenue_at_risk"] == float(exact_money)
    assert row["sla_overrun_hours"] == float(Decimal(overrun_us) / 10**6) / 3600.0
    assert row["mttr_hours"] == float(Fraction(sum(res_us), len(res_us))) / 3.6e9
    rows = []
    for threads in (1, 2, 4, 1, 4):
        with open_read(db) as con:
            con.execute(f"SET threads = {threads}")
            rows.append(compute(con, window(con, t, day(1))).row(0, named=True))  # type: ignore[arg-type]
    assert all(r == rows[0] for r in rows)

"""``metrics.alerts``, ``metrics.flow_status`` and the data clock of ``metrics.query``.

On the hand-written rows of ``tests/dashboard/alerts_scenario.py`` (values in its
docstring), in an in-memory database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import duckdb
import pytest

from core.db import init_schema
from metrics import alerts
from metrics.flow_status import flow_status
from metrics.query import data_clock, window
from tests.dashboard.alerts_scenario import CLOCK, D0, H, build, set_flow_clock


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    build(c)
    yield c
    c.close()


def ids(df: object) -> list[str]:
    return df["alert_id"].to_list()  # type: ignore[index]


def test_every_alert_newest_first_with_status_and_overdue_hours(con) -> None:
    df = alerts.alerts(con)
    assert df.columns == list(alerts.ALERT_COLUMNS)
    assert ids(df) == [
        "A-1:breached:1",
        "A-3:at_risk:2",
        "A-1:at_risk:1",
        "A-3:at_risk:1",
        "A-2:breached:1",
    ]
    rows = {r["alert_id"]: r for r in df.to_dicts()}
    assert rows["A-1:breached:1"]["status"] == "open" and rows["A-1:breached:1"]["active"]
    assert rows["A-1:breached:1"]["overdue_hours"] == 1.0  # due 11:00, data clock 12:00
    assert rows["A-2:breached:1"]["status"] == "resolved"
    assert not rows["A-2:breached:1"]["active"]  # standing, but the exception is resolved
    assert rows["A-3:at_risk:1"]["retracted_at"] == D0 + 31 * H
    assert not rows["A-3:at_risk:1"]["active"]
    a1 = rows["A-1:at_risk:1"]
    assert (a1["site"], a1["order_value_reporting"], a1["sla_target_hours"]) == (
        "DC-ATL",
        1000.0,
        9.0,
    )
    assert a1["due_at"] == D0 + 33 * H and a1["revision"] == 1


def test_ties_on_raised_at_order_by_due_then_id(con) -> None:
    con.execute("UPDATE sla_alerts SET raised_at = ?", [CLOCK])
    assert ids(alerts.alerts(con))[:3] == ["A-1:breached:1", "A-3:at_risk:2", "A-1:at_risk:1"]
    con.execute("UPDATE sla_alerts SET due_at = ?", [CLOCK])
    assert ids(alerts.alerts(con)) == sorted(ids(alerts.alerts(con)))


def test_active_means_standing_and_open_or_paused(con) -> None:
    active = alerts.alerts(con, active_only=True)
    assert ids(active) == ["A-1:breached:1", "A-3:at_risk:2", "A-1:at_risk:1"]
    assert set(active["status"]) == {"open", "paused"} and active["active"].all()
    assert alerts.active_alerts(con).equals(active)


def test_kind_and_dimension_filters(con) -> None:
    assert ids(alerts.alerts(con, active_only=True, kind="breached")) == ["A-1:breached:1"]
    assert ids(alerts.alerts(con, kind="at_risk", where={"site": ["DC-DAL"]})) == [
        "A-3:at_risk:2",
        "A-3:at_risk:1",
    ]
    # values of one dimension ORed, dimensions ANDed; owner_team is the alert's
    both = alerts.alerts(con, where={"site": ["DC-ATL", "DC-DAL"], "carrier": ["ZIP"]})
    assert set(both["exception_id"]) == {"A-2", "A-3"}
    team = alerts.alerts(con, active_only=True, where={"owner_team": ["carrier-desk"]})
    assert ids(team) == ["A-3:at_risk:2"]
    lane = alerts.alerts(con, where={"lane": ["ATL→MIA"], "source_system": ["WMS"]})
    assert set(lane["exception_id"]) == {"A-1"}
    assert alerts.alerts(con, where={"severity": ["low"]}).height == 0


def test_bad_kind_or_dimension_is_a_value_error(con) -> None:
    with pytest.raises(ValueError, match="unknown alert kind"):
        alerts.alerts(con, kind="late")
    with pytest.raises(ValueError, match="unknown dimension"):
        alerts.alerts(con, where={"planet": ["x"]})


def test_as_of_a_time_counts_what_was_raised_and_standing_then(con) -> None:
    t = D0 + 30.5 * H  # A-3's first at-risk alert stands (retracted at 31:00), A-3 is open
    df = alerts.alerts(con, as_of=t)
    assert ids(df) == ["A-3:at_risk:1", "A-2:breached:1"]
    rows = {r["alert_id"]: r for r in df.to_dicts()}
    assert rows["A-3:at_risk:1"]["active"] and rows["A-3:at_risk:1"]["status"] == "open"
    assert rows["A-3:at_risk:1"]["overdue_hours"] == 0.5
    assert rows["A-2:breached:1"]["status"] == "resolved"
    assert ids(alerts.alerts(con, as_of=t, active_only=True)) == ["A-3:at_risk:1"]
    # at 12:00 A-3 is paused: its second alert is active, the first retracted
    later = alerts.alerts(con, as_of=CLOCK, active_only=True)
    assert ids(later) == ids(alerts.alerts(con, active_only=True))


def test_overdue_hours_follow_the_flow_clock(con) -> None:
    set_flow_clock(con, "stream", CLOCK + 2 * H, data_clock=CLOCK + 2 * H, caught_up=True)
    df = alerts.alerts(con, kind="breached", active_only=True)
    assert df["overdue_hours"].to_list() == [3.0]


def test_a_database_without_alerts_has_none(con) -> None:
    con.execute("DROP TABLE sla_alerts")
    df = alerts.alerts(con, active_only=True, where={"site": ["DC-ATL"]})
    assert df.height == 0 and df.columns == list(alerts.ALERT_COLUMNS)
    assert alerts.counts_by_kind(df) == {"at_risk": 0, "breached": 0}


def test_counts_by_kind(con) -> None:
    assert alerts.counts_by_kind(alerts.alerts(con)) == {"at_risk": 3, "breached": 2}


def test_data_clock_is_the_later_of_events_and_the_flow_clock(con) -> None:
    assert data_clock(con) == CLOCK  # no flow_clock row: the newest event
    set_flow_clock(con, "ingest", CLOCK + 48 * H, data_clock=CLOCK - H)
    assert data_clock(con) == CLOCK  # the writer's clock is behind the events
    set_flow_clock(con, "stream", CLOCK + 5 * H, data_clock=CLOCK + 3 * H, caught_up=True)
    assert data_clock(con) == CLOCK + 3 * H
    win = window(con)
    assert win is not None and win.as_of == CLOCK + 3 * H
    set_flow_clock(con, "stream", CLOCK, data_clock=None)
    assert data_clock(con) == CLOCK


def test_data_clock_of_a_database_without_events_or_flow_clock() -> None:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    init_schema(c)
    assert data_clock(c) is None and flow_status(c) is None
    set_flow_clock(c, "stream", D0, data_clock=D0 + H, caught_up=True)
    assert data_clock(c) == D0 + H  # a live flow that has only beaten so far
    c.execute("DROP TABLE flow_clock")  # a database from before the flow clock
    assert data_clock(c) is None and flow_status(c) is None


def test_flow_status_and_staleness(con) -> None:
    assert flow_status(con) is None
    set_flow_clock(con, "stream", CLOCK, data_clock=CLOCK, caught_up=False, lag=12)
    s = flow_status(con)
    assert s is not None
    assert (s.writer, s.heartbeat_at, s.data_clock, s.caught_up, s.lag) == (
        "stream",
        CLOCK,
        CLOCK,
        False,
        12,
    )
    assert s.detail == '{"0": 0}' and s.is_live
    assert s.heartbeat_age_seconds(CLOCK + timedelta(seconds=31)) == 31.0
    assert s.is_stale(CLOCK + timedelta(seconds=31), 30.0)
    assert not s.is_stale(CLOCK + timedelta(seconds=30), 30.0)
    set_flow_clock(con, "ingest", CLOCK)
    s = flow_status(con)
    assert s is not None and not s.is_live
    assert not s.is_stale(CLOCK + 1000 * H, 30.0)  # an ingest is not expected to beat

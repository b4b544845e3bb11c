"""``metrics.timeline``: one exception's audit trail.

On the hand-made scenario of ``tests/dashboard/scenario.py`` (its values by hand are
listed in ``tests/metrics/test_breakdowns.py``) and the sample stream.
"""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from core.db import open_read
from metrics import timeline
from tests.dashboard.scenario import D0, T1, T2, hand_db

H = timedelta(hours=1)
DIMS = ["site", "lane", "carrier", "category", "severity", "customer_tier", "owner_team"]


def test_timeline_of_the_worked_example() -> None:
    with open_read(hand_db()) as con:
        full = timeline.timeline(con, "X-1", T2)
        noon = timeline.timeline(con, "X-1", T1)
        intervals = timeline.status_intervals(con, "X-1", T2)
        held = timeline.pending_for(con, "X-9")
    assert full["kind"].to_list() == [
        "opened",
        "touched",
        "paused",
        "resumed",
        "resolved",
        "reopened",
        "touched",
    ]  # the duplicate touch appears once
    first_touch = full.to_dicts()[1]
    assert (first_touch["actor_id"], first_touch["actor_kind"]) == ("u-17", "human")
    assert first_touch["detail"] == "recount"
    assert noon["kind"].to_list() == ["opened", "touched", "paused"]
    runs = [
        s
        for i, s in enumerate(intervals["status"].to_list())
        if i == 0 or intervals["status"][i - 1] != s
    ]
    assert runs == ["open", "paused", "open", "resolved", "open"]
    assert intervals["start"][0] == D0 + 8 * H
    assert intervals["end"][-1] == T2
    paused = intervals.filter(pl.col("status") == "paused").to_dicts()[0]
    assert (paused["start"], paused["end"]) == (D0 + 10 * H, D0 + 14 * H)
    assert paused["active_hours_at_start"] == pytest.approx(2.0)
    assert held["event_type"].to_list() == ["exception.touched"]


def test_escalation_and_assignment_in_the_timeline() -> None:
    with open_read(hand_db()) as con:
        tl = timeline.timeline(con, "X-2", T2)
    rows = {r["kind"]: r for r in tl.to_dicts()}
    assert rows["escalated"]["escalation_level"] == 1
    assert rows["assigned"]["owner_team"] == "carrier-desk"


def test_the_working_time_sla_clock_of_the_worked_example(tmp_path) -> None:
    """kpis.md's calendar case: New York Mon-Fri 08:00-18:00 (12:00-22:00Z in May)."""
    from datetime import UTC, datetime

    from core.config import load_settings
    from flows.ingest import ingest
    from tests.streams import fixed_clock, worked_example, write_jsonl

    cfg = tmp_path / "cal.toml"
    cfg.write_text(
        '[calendars.ny]\ntimezone = "America/New_York"\n'
        + "".join(f'{d} = "08:00-18:00"\n' for d in ("mon", "tue", "wed", "thu", "fri"))
        + '[site_calendars]\nDC-ATL = "ny"\n'
    )
    db = tmp_path / "w.duckdb"
    events = worked_example()
    ingest([write_jsonl(tmp_path / "w.jsonl", events)], db, load_settings(cfg), fixed_clock)
    with open_read(db) as con:
        clock = timeline.sla_clock(con, "X-1", datetime(2026, 5, 5, 18, tzinfo=UTC))
        sites = timeline.site_calendars(con).rows()
        assert timeline.sla_clock(con, "X-1", datetime(2026, 5, 1, tzinfo=UTC)) is None
    assert clock is not None
    assert (clock["calendar"], clock["target_hours"]) == ("ny", 9.0)
    assert str(clock["calendar_hours"]).startswith("America/New_York: Mon 08:00-18:00")
    assert clock["active_hours"] == pytest.approx(10.0)  # 4 h on 05-04, 6 h on 05-05 from 12:00Z
    assert clock["at_risk_due_at"] == datetime(2026, 5, 5, 15, 12, tzinfo=UTC)
    assert clock["breach_due_at"] == datetime(2026, 5, 5, 17, tzinfo=UTC)
    points = dict(clock["points"].rows())  # type: ignore[union-attr]
    assert points[datetime(2026, 5, 4, 14, tzinfo=UTC)] == 0.0  # nothing before opening time
    assert points[datetime(2026, 5, 4, 18, tzinfo=UTC)] == pytest.approx(4.0)  # at the resolve
    assert points[datetime(2026, 5, 5, 12, tzinfo=UTC)] == pytest.approx(4.0)  # opens again
    assert points[datetime(2026, 5, 5, 18, tzinfo=UTC)] == pytest.approx(10.0)
    assert sites == [("DC-ATL", "ny", clock["calendar_hours"])]

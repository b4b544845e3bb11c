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

"""``metrics.timeline``: one exception's audit trail.

Hand-computed values on the hand-made scenario of ``tests/dashboard/scenario.py``
over the window [05-04 00:00, 05-05 12:00):

* SLA overrun: X-1 open, active 10 h vs 9 h → 1 h; X-2 open 30 h vs 4 h → 26 h;
  X-5 resolved in the window, 5 h vs 2 h → 3 h; X-3 met (0); X-4 cancelled (not
  counted). Total 30 h; by carrier ZIP 29 (X-2, X-5), ACME 1 (X-1, X-3), (none) 0.
* By carrier, "exceptions" (resolved in the window or open at T): ZIP 2, ACME 2,
  (none) 0; breach rate ZIP 2/2, ACME 1/2; MTTR ZIP 5 h (X-5), ACME 1 h (X-3);
  revenue at risk ZIP 540 (SO-2), ACME 1000 (SO-1 through X-1).
* At 05-05 12:00 the queue is X-1 (order value 1000, age 28 h, SLA left −1 h) and
  X-2 (540, 30 h, −26 h).
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

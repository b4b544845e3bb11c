"""``metrics.quality``: data-quality totals and samples.

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

from core.db import open_read
from metrics import quality
from tests.dashboard.scenario import hand_db, sample_db

H = timedelta(hours=1)
DIMS = ["site", "lane", "carrier", "category", "severity", "customer_tier", "owner_team"]


def test_data_quality_samples() -> None:
    with open_read(hand_db()) as con:
        rej = quality.rejected_samples(con)
        only = quality.rejected_samples(con, reason="invalid_json")
        pend = quality.pending_summary(con)
        sample = quality.pending_sample(con)
        dups = quality.duplicate_sample(con)
        acc = quality.accepted_by_type(con)
    assert sorted(rej["reason"].to_list()) == ["invalid_json", "unknown_event_type"]
    assert only["raw"].to_list() == ["{this is not json"]
    assert pend.to_dicts()[0]["events"] == 1 and sample["exception_id"].to_list() == ["X-9"]
    assert dups["event_id"].to_list() == ["h-x1-touch"]
    counts = dict(acc.iter_rows())
    assert counts["exception.opened"] == 5 and counts["exception.touched"] == 3
    assert sum(counts.values()) == 17  # X-1 7, X-2 3, X-3 2, X-4 2, X-5 3


def test_accepted_by_type_counts_each_accepted_event_once() -> None:
    """Order milestones are in ``exception_events`` too: by type they add up to accepted."""
    with open_read(sample_db()) as con:
        acc = quality.accepted_by_type(con)
        totals = quality.quality(con)
    assert int(acc["events"].sum()) == totals["accepted_events"]
    assert {"order.released", "exception.opened"} <= set(acc["event_type"])

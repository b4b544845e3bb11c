"""``metrics.quality``: data-quality totals and samples.

On the hand-made scenario of ``tests/dashboard/scenario.py`` (its values by hand are
listed in ``tests/metrics/test_breakdowns.py``) and the sample stream.
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

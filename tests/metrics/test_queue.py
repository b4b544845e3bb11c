"""``metrics.queue``: the open queue and one exception as of T.

On the hand-made scenario of ``tests/dashboard/scenario.py`` (its values by hand are
listed in ``tests/metrics/test_breakdowns.py``) and the sample stream.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.db import open_read
from metrics import filter_values, queue
from metrics.query import Window, compute
from tests.dashboard.scenario import D0, T1, T2, hand_db, sample_db

H = timedelta(hours=1)
DIMS = ["site", "lane", "carrier", "category", "severity", "customer_tier", "owner_team"]


def test_open_queue_by_hand() -> None:
    with open_read(hand_db()) as con:
        by_value = queue.open_queue(con, T2)
        by_age = queue.open_queue(con, T2, sort="age")
        by_left = queue.open_queue(con, T2, sort="sla_left", limit=1)
        zip_ = queue.open_queue(con, T2, where={"carrier": ["ZIP"]})
        n = queue.open_count(con, T2)
    assert tuple(by_value.columns) == queue.QUEUE_COLUMNS
    assert by_value["exception_id"].to_list() == ["X-1", "X-2"]
    assert by_age["exception_id"].to_list() == ["X-2", "X-1"]
    assert by_left["exception_id"].to_list() == ["X-2"]
    assert zip_["exception_id"].to_list() == ["X-2"]
    assert n == 2
    x1 = by_value.to_dicts()[0]
    assert x1["age_hours"] == pytest.approx(28.0)
    assert x1["active_hours"] == pytest.approx(10.0)
    assert x1["sla_target_hours"] == pytest.approx(9.0)
    assert x1["sla_left_hours"] == pytest.approx(-1.0)
    assert (x1["breached"], x1["at_risk"]) == (True, False)
    assert x1["order_value"] == pytest.approx(1000.0)
    assert (x1["manual_touches"], x1["reopen_count"], x1["status"]) == (2, 1, "open")
    x2 = by_value.to_dicts()[1]
    assert x2["sla_left_hours"] == pytest.approx(-26.0)
    assert (x2["owner_team"], x2["escalation_level"]) == ("carrier-desk", 1)
    assert x2["order_value"] == pytest.approx(540.0)


def test_open_queue_at_noon_the_first_day() -> None:
    with open_read(hand_db()) as con:
        q = queue.open_queue(con, T1, sort="age")
    assert q["exception_id"].to_list() == ["X-2", "X-1", "X-3"]
    assert q["status"].to_list() == ["open", "paused", "open"]
    assert q["active_hours"].to_list() == pytest.approx([6.0, 2.0, 0.0])


def test_open_queue_rejects_unknown_sort() -> None:
    with open_read(hand_db()) as con, pytest.raises(ValueError, match="unknown sort"):
        queue.open_queue(con, T2, sort="colour")


def test_exception_state_as_of() -> None:
    with open_read(hand_db()) as con:
        x3 = queue.exception_state(con, "X-3", T2)
        x1_noon = queue.exception_state(con, "X-1", T1)
        assert queue.exception_state(con, "X-5", T1) is None  # opened later
        assert queue.exception_state(con, "nope", T2) is None
    assert x3 is not None and x3["status"] == "resolved" and x3["age_hours"] is None
    assert x3["resolved_at"] == D0 + 13 * H
    assert x1_noon is not None and x1_noon["status"] == "paused"
    assert x1_noon["active_hours"] == pytest.approx(2.0)


def test_dimension_values_and_matching() -> None:
    with open_read(hand_db()) as con:
        values = filter_values.dimension_values(con)
        assert queue.matching_exceptions(con, T1) == 3
        assert queue.matching_exceptions(con, T2, {"carrier": ["ZIP"]}) == 2
        assert queue.matching_exceptions(con, T2, {"carrier": ["NOPE"]}) == 0
    assert values["carrier"] == ["(none)", "ACME", "ZIP"]
    assert values["site"] == ["DC-ATL", "DC-DAL"]
    assert values["lane"] == ["ATL→MIA", "DAL→AUS", "DAL→HOU"]
    assert set(values) == set(filter_values.FILTER_DIMENSIONS)


def test_open_queue_matches_the_stock_kpis(sample_win: Window) -> None:
    with open_read(sample_db()) as con:
        q = queue.open_queue(con, sample_win.as_of, limit=None)
        k = compute(con, sample_win).to_dicts()[0]
    assert q.height == k["open_exceptions"]
    assert int(q["breached"].sum()) == k["breached_open"]
    assert int(q["at_risk"].sum()) == k["at_risk_open"]
    assert q["order_value"].to_list() == sorted(q["order_value"].to_list(), reverse=True)

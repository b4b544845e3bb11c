"""``metrics.bottlenecks``: the bottleneck list, by hand (``tests/metrics/test_reference_*``
checks it against the independent reference on random streams).

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
from metrics import bottlenecks
from tests.dashboard.scenario import hand_db
from tests.metrics.drill_helpers import WIN

H = timedelta(hours=1)
DIMS = ["site", "lane", "carrier", "category", "severity", "customer_tier", "owner_team"]


@pytest.fixture(scope="module")
def by_carrier() -> pl.DataFrame:
    with open_read(hand_db()) as con:
        return bottlenecks.bottleneck_lists(con, WIN, ["carrier"])["carrier"]


def test_bottleneck_list_by_hand(by_carrier: pl.DataFrame) -> None:
    rows = {r["carrier"]: r for r in by_carrier.to_dicts()}
    assert by_carrier["carrier"].to_list() == ["ZIP", "ACME", "(none)"]
    assert by_carrier["rank"].to_list() == [1, 2, 3]
    assert rows["ZIP"]["sla_overrun_hours"] == pytest.approx(29.0)
    assert rows["ZIP"]["share_of_overrun"] == pytest.approx(29 / 30)
    assert rows["ACME"]["share_of_overrun"] == pytest.approx(1 / 30)
    assert (rows["ZIP"]["exceptions"], rows["ACME"]["exceptions"]) == (2, 2)
    assert rows["(none)"]["exceptions"] == 0 and rows["(none)"]["breach_rate"] is None
    assert rows["ZIP"]["breach_rate"] == pytest.approx(1.0)
    assert rows["ACME"]["breach_rate"] == pytest.approx(0.5)
    assert rows["ZIP"]["mttr_hours"] == pytest.approx(5.0)
    assert rows["ACME"]["mttr_hours"] == pytest.approx(1.0)
    assert rows["ZIP"]["avg_manual_touches"] == pytest.approx(1.0)
    assert rows["ZIP"]["revenue_at_risk"] == pytest.approx(540.0)
    assert rows["ACME"]["revenue_at_risk"] == pytest.approx(1000.0)

"""``metrics.breakdowns``: breakdowns, heatmap, Pareto and the order KPIs alone.

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
from metrics import bottlenecks, breakdowns, filter_values, quality, queue
from metrics.query import Window, compute, window
from tests.dashboard.scenario import T1, T2, empty_db, hand_db, sample_db
from tests.metrics.drill_helpers import WIN, close

H = timedelta(hours=1)
DIMS = ["site", "lane", "carrier", "category", "severity", "customer_tier", "owner_team"]


def test_group_kpis_total_row_and_revenue_counted_once_per_group() -> None:
    with open_read(hand_db()) as con:
        long = breakdowns.group_kpis(con, Window(T1, T1 - 24 * H), ["category", "site"])
    total = long.filter(pl.col("dimension") == breakdowns.TOTAL).to_dicts()[0]
    assert total["group"] == breakdowns.TOTAL
    assert total["open_exceptions"] == 3
    assert total["revenue_at_risk"] == pytest.approx(2540.0)  # SO-1 once, valued 2000
    cat = {
        r["group"]: r["revenue_at_risk"]
        for r in long.filter(pl.col("dimension") == "category").to_dicts()
    }
    # SO-1 counts in both of its groups, each time by that group's own exception
    assert cat == pytest.approx(
        {"inventory_shortfall": 1000.0, "credit_hold": 2000.0, "carrier_failure": 540.0}
    )
    site = {
        r["group"]: r["open_exceptions"]
        for r in long.filter(pl.col("dimension") == "site").to_dicts()
    }
    assert site == {"DC-ATL": 2, "DC-DAL": 1}


def test_heatmap_by_hand() -> None:
    with open_read(hand_db()) as con:
        hm = breakdowns.heatmap(con, WIN, "site", "carrier")
    cells = {(r["site"], r["carrier"]): r for r in hm.to_dicts()}
    assert set(cells) == {
        ("DC-ATL", "ACME"),
        ("DC-ATL", "ZIP"),
        ("DC-DAL", "ZIP"),
        ("DC-DAL", "(none)"),
    }
    assert cells[("DC-ATL", "ACME")]["sla_overrun_hours"] == pytest.approx(1.0)
    assert cells[("DC-ATL", "ZIP")]["sla_overrun_hours"] == pytest.approx(3.0)
    assert cells[("DC-DAL", "ZIP")]["sla_overrun_hours"] == pytest.approx(26.0)
    assert cells[("DC-DAL", "(none)")]["cancelled"] == 1
    assert cells[("DC-ATL", "ACME")]["open_exceptions"] == 1


def test_heatmap_of_a_dimension_with_itself_names_the_second_column() -> None:
    with open_read(hand_db()) as con:
        hm = breakdowns.heatmap(con, WIN, "site", "site")
    assert hm.columns[:2] == ["site", "site_2"]
    assert (hm["site"] == hm["site_2"]).all()


def test_pareto_by_hand() -> None:
    with open_read(hand_db()) as con:
        long = breakdowns.group_kpis(con, WIN, ["category"])
    causes = long.filter(pl.col("dimension") == "category").rename({"group": "category"})
    par = breakdowns.pareto(causes, "category", "sla_overrun_hours")
    assert par["category"].to_list() == [
        "carrier_failure",
        "inventory_shortfall",
        "address_issue",
        "credit_hold",
    ]
    assert par["share"].to_list() == pytest.approx([29 / 30, 1 / 30, 0.0, 0.0])
    assert par["cumulative_share"].to_list() == pytest.approx([29 / 30, 1.0, 1.0, 1.0])


def test_pareto_of_zeros_has_null_shares() -> None:
    df = pl.DataFrame({"category": ["a", "b"], "x": [0.0, 0.0]})
    par = breakdowns.pareto(df, "category", "x")
    assert par["share"].null_count() == 2 and par["category"].to_list() == ["a", "b"]


def test_empty_database() -> None:
    with open_read(empty_db()) as con:
        assert window(con) is None
        assert queue.open_queue(con, T2).height == 0
        assert filter_values.dimension_values(con) == {
            d: [] for d in filter_values.FILTER_DIMENSIONS
        }
        lists = bottlenecks.bottleneck_lists(con, WIN)
        assert all(df.height == 0 for df in lists.values())
        total = breakdowns.group_kpis(con, WIN, []).to_dicts()
        assert len(total) == 1 and total[0]["open_exceptions"] == 0
        assert total[0]["revenue_at_risk"] == 0.0 and total[0]["sla_adherence"] is None
        assert breakdowns.order_kpis(con, WIN) == dict.fromkeys(breakdowns.ORDER_KPIS)
        assert breakdowns.heatmap(con, WIN, "site", "category").height == 0
        assert quality.rejected_samples(con).height == 0


def test_group_kpis_equal_compute_for_every_group(sample_win: Window) -> None:
    where = {"severity": ["high", "critical", "medium"]}
    with open_read(sample_db()) as con:
        long = breakdowns.group_kpis(con, sample_win, DIMS, where=where)
        for dim in DIMS:
            ref = compute(con, sample_win, by=dim, where=where, extras=True)
            mine = long.filter(pl.col("dimension") == dim).rename({"group": dim})
            joined = mine.join(ref, on=dim, how="left", suffix="_ref")
            assert joined.height > 0
            for row in joined.iter_rows(named=True):
                for k in breakdowns.GROUP_KPIS:
                    assert close(row[k], row[f"{k}_ref"]), (dim, row[dim], k)


def test_heatmap_cells_equal_filtered_compute(sample_win: Window) -> None:
    with open_read(sample_db()) as con:
        hm = breakdowns.heatmap(con, sample_win, "site", "category")
        for row in hm.sort("sla_overrun_hours", descending=True).head(6).iter_rows(named=True):
            ref = compute(
                con,
                sample_win,
                where={"site": [row["site"]], "category": [row["category"]]},
                extras=True,
            ).to_dicts()[0]
            for k in breakdowns.GROUP_KPIS:
                assert close(row[k], ref[k]), (row["site"], row["category"], k)


@pytest.mark.parametrize(
    "where",
    [None, {"carrier": ["REDLINE"]}, {"site": ["DC-ATL", "DC-DAL"], "customer_tier": ["key"]}],
)
@pytest.mark.parametrize("days", [7, 1])
def test_order_kpis_equal_compute(sample_win: Window, where: dict | None, days: int) -> None:
    from metrics.query import ORDER_KPIS

    for win in (
        Window(sample_win.as_of, sample_win.as_of - timedelta(days=days)),
        Window(sample_win.as_of - timedelta(days=2), sample_win.as_of - timedelta(days=2 + days)),
    ):
        with open_read(sample_db()) as con:
            mine = breakdowns.order_kpis(con, win, where=where)
            ref = compute(con, win, where=where).select(ORDER_KPIS).to_dicts()[0]
        assert mine.keys() == ref.keys()
        for k in ref:
            assert close(mine[k], ref[k]), (win, where, k)
        assert mine["otif"] is not None


def test_order_kpis_are_null_for_dimensions_orders_lack(sample_win: Window) -> None:
    with open_read(sample_db()) as con:
        assert set(
            breakdowns.order_kpis(con, sample_win, where={"category": ["damaged_stock"]}).values()
        ) == {None}

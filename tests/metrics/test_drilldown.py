"""``metrics.drilldown``: breakdowns, bottleneck lists, heatmap, Pareto, the open
queue, one exception's timeline and the data-quality samples.

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

import math
from datetime import timedelta

import polars as pl
import pytest

from fpi.db import open_read
from metrics import drilldown as dd
from metrics.bottlenecks import bottlenecks
from metrics.query import Window, compute, window
from tests.dashboard.scenario import D0, T1, T2, empty_db, hand_db, sample_db

H = timedelta(hours=1)
WIN = Window(T2, D0)


def _close(a: object, b: object) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def by_carrier() -> pl.DataFrame:
    with open_read(hand_db()) as con:
        return dd.bottleneck_lists(con, WIN, ["carrier"])["carrier"]


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


def test_bottleneck_list_equals_metrics_bottlenecks_on_the_hand_scenario(
    by_carrier: pl.DataFrame,
) -> None:
    with open_read(hand_db()) as con:
        ref = bottlenecks(con, WIN, "carrier")
    assert by_carrier.to_dicts() == ref.to_dicts()


def test_group_kpis_total_row_and_revenue_counted_once_per_group() -> None:
    with open_read(hand_db()) as con:
        long = dd.group_kpis(con, Window(T1, T1 - 24 * H), ["category", "site"])
    total = long.filter(pl.col("dimension") == dd.TOTAL).to_dicts()[0]
    assert total["group"] == dd.TOTAL
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
        hm = dd.heatmap(con, WIN, "site", "carrier")
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
        hm = dd.heatmap(con, WIN, "site", "site")
    assert hm.columns[:2] == ["site", "site_2"]
    assert (hm["site"] == hm["site_2"]).all()


def test_pareto_by_hand() -> None:
    with open_read(hand_db()) as con:
        long = dd.group_kpis(con, WIN, ["category"])
    causes = long.filter(pl.col("dimension") == "category").rename({"group": "category"})
    par = dd.pareto(causes, "category", "sla_overrun_hours")
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
    par = dd.pareto(df, "category", "x")
    assert par["share"].null_count() == 2 and par["category"].to_list() == ["a", "b"]


def test_open_queue_by_hand() -> None:
    with open_read(hand_db()) as con:
        by_value = dd.open_queue(con, T2)
        by_age = dd.open_queue(con, T2, sort="age")
        by_left = dd.open_queue(con, T2, sort="sla_left", limit=1)
        zip_ = dd.open_queue(con, T2, where={"carrier": ["ZIP"]})
        n = dd.open_count(con, T2)
    assert tuple(by_value.columns) == dd.QUEUE_COLUMNS
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
        q = dd.open_queue(con, T1, sort="age")
    assert q["exception_id"].to_list() == ["X-2", "X-1", "X-3"]
    assert q["status"].to_list() == ["open", "paused", "open"]
    assert q["active_hours"].to_list() == pytest.approx([6.0, 2.0, 0.0])


def test_open_queue_rejects_unknown_sort() -> None:
    with open_read(hand_db()) as con, pytest.raises(ValueError, match="unknown sort"):
        dd.open_queue(con, T2, sort="colour")


def test_exception_state_as_of() -> None:
    with open_read(hand_db()) as con:
        x3 = dd.exception_state(con, "X-3", T2)
        x1_noon = dd.exception_state(con, "X-1", T1)
        assert dd.exception_state(con, "X-5", T1) is None  # opened later
        assert dd.exception_state(con, "nope", T2) is None
    assert x3 is not None and x3["status"] == "resolved" and x3["age_hours"] is None
    assert x3["resolved_at"] == D0 + 13 * H
    assert x1_noon is not None and x1_noon["status"] == "paused"
    assert x1_noon["active_hours"] == pytest.approx(2.0)


def test_timeline_of_the_worked_example() -> None:
    with open_read(hand_db()) as con:
        full = dd.timeline(con, "X-1", T2)
        noon = dd.timeline(con, "X-1", T1)
        intervals = dd.status_intervals(con, "X-1", T2)
        held = dd.pending_for(con, "X-9")
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
        tl = dd.timeline(con, "X-2", T2)
    rows = {r["kind"]: r for r in tl.to_dicts()}
    assert rows["escalated"]["escalation_level"] == 1
    assert rows["assigned"]["owner_team"] == "carrier-desk"


def test_dimension_values_and_matching() -> None:
    with open_read(hand_db()) as con:
        values = dd.dimension_values(con)
        assert dd.matching_exceptions(con, T1) == 3
        assert dd.matching_exceptions(con, T2, {"carrier": ["ZIP"]}) == 2
        assert dd.matching_exceptions(con, T2, {"carrier": ["NOPE"]}) == 0
    assert values["carrier"] == ["(none)", "ACME", "ZIP"]
    assert values["site"] == ["DC-ATL", "DC-DAL"]
    assert values["lane"] == ["ATL→MIA", "DAL→AUS", "DAL→HOU"]
    assert set(values) == set(dd.FILTER_DIMENSIONS)


def test_data_quality_samples() -> None:
    with open_read(hand_db()) as con:
        rej = dd.rejected_samples(con)
        only = dd.rejected_samples(con, reason="invalid_json")
        pend = dd.pending_summary(con)
        sample = dd.pending_sample(con)
        dups = dd.duplicate_sample(con)
        acc = dd.accepted_by_type(con)
    assert sorted(rej["reason"].to_list()) == ["invalid_json", "unknown_event_type"]
    assert only["raw"].to_list() == ["{this is not json"]
    assert pend.to_dicts()[0]["events"] == 1 and sample["exception_id"].to_list() == ["X-9"]
    assert dups["event_id"].to_list() == ["h-x1-touch"]
    counts = dict(acc.iter_rows())
    assert counts["exception.opened"] == 5 and counts["exception.touched"] == 3
    assert sum(counts.values()) == 17  # X-1 7, X-2 3, X-3 2, X-4 2, X-5 3


def test_empty_database() -> None:
    with open_read(empty_db()) as con:
        assert window(con) is None
        assert dd.open_queue(con, T2).height == 0
        assert dd.dimension_values(con) == {d: [] for d in dd.FILTER_DIMENSIONS}
        lists = dd.bottleneck_lists(con, WIN)
        assert all(df.height == 0 for df in lists.values())
        total = dd.group_kpis(con, WIN, []).to_dicts()
        assert len(total) == 1 and total[0]["open_exceptions"] == 0
        assert total[0]["revenue_at_risk"] == 0.0 and total[0]["sla_adherence"] is None
        assert dd.order_kpis(con, WIN) == dict.fromkeys(dd.ORDER_KPIS)
        assert dd.heatmap(con, WIN, "site", "category").height == 0
        assert dd.rejected_samples(con).height == 0


# --- the same numbers as metrics.query on the sample stream --------------------------


@pytest.fixture(scope="module")
def sample_win() -> Window:
    with open_read(sample_db()) as con:
        win = window(con)
    assert win is not None
    return win


DIMS = ["site", "lane", "carrier", "category", "severity", "customer_tier", "owner_team"]


def test_group_kpis_equal_compute_for_every_group(sample_win: Window) -> None:
    where = {"severity": ["high", "critical", "medium"]}
    with open_read(sample_db()) as con:
        long = dd.group_kpis(con, sample_win, DIMS, where=where)
        for dim in DIMS:
            ref = compute(con, sample_win, by=dim, where=where, extras=True)
            mine = long.filter(pl.col("dimension") == dim).rename({"group": dim})
            joined = mine.join(ref, on=dim, how="left", suffix="_ref")
            assert joined.height > 0
            for row in joined.iter_rows(named=True):
                for k in dd.GROUP_KPIS:
                    assert _close(row[k], row[f"{k}_ref"]), (dim, row[dim], k)


@pytest.mark.parametrize("dim", dd.BOTTLENECK_DIMENSIONS)
def test_bottleneck_lists_equal_metrics_bottlenecks(sample_win: Window, dim: str) -> None:
    with open_read(sample_db()) as con:
        mine = dd.bottleneck_lists(con, sample_win, [dim])[dim]
        ref = bottlenecks(con, sample_win, dim)
    # metrics.bottlenecks also lists values only orders have (zero overrun): skip those
    ref = ref.filter(pl.col(dim).is_in(mine[dim].implode()))
    assert mine[dim].to_list()[: ref.height] == ref[dim].to_list()[: mine.height]
    for a, b in zip(mine.drop("rank").to_dicts(), ref.drop("rank").to_dicts(), strict=True):
        for k in a:
            assert _close(a[k], b[k]), (dim, a[dim], k)


def test_heatmap_cells_equal_filtered_compute(sample_win: Window) -> None:
    with open_read(sample_db()) as con:
        hm = dd.heatmap(con, sample_win, "site", "category")
        for row in hm.sort("sla_overrun_hours", descending=True).head(6).iter_rows(named=True):
            ref = compute(
                con,
                sample_win,
                where={"site": [row["site"]], "category": [row["category"]]},
                extras=True,
            ).to_dicts()[0]
            for k in dd.GROUP_KPIS:
                assert _close(row[k], ref[k]), (row["site"], row["category"], k)


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
            mine = dd.order_kpis(con, win, where=where)
            ref = compute(con, win, where=where).select(ORDER_KPIS).to_dicts()[0]
        assert mine.keys() == ref.keys()
        for k in ref:
            assert _close(mine[k], ref[k]), (win, where, k)
        assert mine["otif"] is not None


def test_order_kpis_are_null_for_dimensions_orders_lack(sample_win: Window) -> None:
    with open_read(sample_db()) as con:
        assert set(
            dd.order_kpis(con, sample_win, where={"category": ["damaged_stock"]}).values()
        ) == {None}


def test_open_queue_matches_the_stock_kpis(sample_win: Window) -> None:
    with open_read(sample_db()) as con:
        q = dd.open_queue(con, sample_win.as_of, limit=None)
        k = compute(con, sample_win).to_dicts()[0]
    assert q.height == k["open_exceptions"]
    assert int(q["breached"].sum()) == k["breached_open"]
    assert int(q["at_risk"].sum()) == k["at_risk_open"]
    assert q["order_value"].to_list() == sorted(q["order_value"].to_list(), reverse=True)

"""``metrics.quality``: data-quality totals and samples.

On the hand-made scenario of ``tests/dashboard/scenario.py`` (its values by hand are
listed in ``tests/metrics/test_breakdowns.py``) and the sample stream.
"""

from __future__ import annotations

from datetime import timedelta

import duckdb

from core.db import init_schema, open_read
from metrics import quality
from tests.dashboard.alerts_scenario import build
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


def _scenario() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    build(con)
    return con


def test_quality_by_source_system() -> None:
    con = _scenario()
    df = quality.by_source(con)
    assert df.columns == list(quality.BY_SOURCE_COLUMNS)
    rows = {r["source_system"]: r for r in df.to_dicts()}
    assert list(rows) == ["(unknown)", "TMS", "WMS"]  # most rejected first
    assert rows["TMS"] == {
        "source_system": "TMS",
        "accepted_events": 2,
        "duplicate_events": 0,
        "rejected_events": 1,
        "pending_events": 1,
        "rejection_rate": 0.25,
    }
    # a NULL source_system (a row written without one) counts as (unknown)
    assert rows["(unknown)"]["rejected_events"] == 2
    assert rows["(unknown)"]["rejection_rate"] == 1.0
    assert rows["WMS"]["rejection_rate"] == 0.0 and rows["WMS"]["duplicate_events"] == 1
    total = quality.summary(con).to_dicts()
    assert total == [
        {
            "accepted_events": 6,
            "duplicate_events": 1,
            "rejected_events": 3,
            "pending_events": 1,
            "rejection_rate": 3 / 11,
        }
    ]
    for name in quality.QUALITY:  # every line belongs to exactly one source
        assert int(df[name].sum()) == total[0][name]


def test_quality_by_source_of_an_older_database_reads_the_raw_lines() -> None:
    con = _scenario()
    for table in ("rejected_events", "duplicate_events", "pending_events"):
        con.execute(f"ALTER TABLE {table} DROP COLUMN source_system")
    rows = {r["source_system"]: r for r in quality.by_source(con).to_dicts()}
    assert rows["TMS"]["rejected_events"] == 1 and rows["TMS"]["pending_events"] == 1
    assert rows["(unknown)"]["rejected_events"] == 2  # "{oops" and an object without one
    assert rows["WMS"]["duplicate_events"] == 1


def test_quality_of_an_empty_database_has_no_rate() -> None:
    con = duckdb.connect()
    init_schema(con)
    assert quality.by_source(con).height == 0
    (row,) = quality.summary(con).to_dicts()
    assert row["rejection_rate"] is None and row["accepted_events"] == 0


def test_quality_by_source_of_an_ingested_stream() -> None:
    """The writer stores each line's own source system: the hand stream's invalid JSON
    line has none, its unknown event type names ``X``; duplicates and pending follow-ups
    of the hand stream come from ``CRM``."""
    with open_read(hand_db()) as con:
        df = quality.by_source(con)
        totals = quality.quality(con)
    rows = {r["source_system"]: r for r in df.to_dicts()}
    assert rows["(unknown)"]["rejected_events"] == 1
    assert rows["X"]["rejected_events"] == 1 and rows["X"]["rejection_rate"] == 1.0
    assert rows["CRM"]["duplicate_events"] == 1 and rows["CRM"]["pending_events"] == 1
    for name in quality.QUALITY:
        assert int(df[name].sum()) == totals[name]

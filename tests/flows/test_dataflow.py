"""The whole flow: in-memory (TestingSource/TestingSink) and file -> DuckDB."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

from bytewax.testing import TestingSink, TestingSource, run_main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import load_settings
from flows.dataflow import build_flow
from flows.records import Delta
from flows.sink import merge
from flows.sources import Chunk
from tests.streams import T0, ev, fixed_clock, ingest_events, opened, random_stream, table

H = timedelta(hours=1)
STATE_COLUMNS = "* EXCLUDE (opened_seq)"
ALL_TABLES = (
    "exceptions",
    "exception_versions",
    "exception_events",
    "order_events",
    "rejected_events",
    "duplicate_events",
    "pending_events",
)


def _chunk(events: list[dict | str]) -> Chunk:
    lines = [(e if isinstance(e, str) else json.dumps(e)).encode() for e in events]
    return Chunk("mem", 1, 1, lines)


def test_in_memory_flow_with_testing_source_and_sink() -> None:
    events: list[dict | str] = [
        opened("X-1", T0, eid="a"),
        ev("exception.touched", "X-1", T0 + H, eid="b", human=True, action="call"),
        ev("exception.touched", "X-1", T0 + H, eid="b", human=True, action="call"),
        "{not json",
    ]
    out: list[tuple[str, list[Delta]]] = []
    flow = build_flow(
        TestingSource([_chunk(events)]),
        TestingSink(out),
        settings=load_settings(),
        clock=fixed_clock,
    )
    run_main(flow)
    merged = merge([d for _key, batch in out for d in batch])
    assert {r[0] for r in merged.events} == {"a", "b"}
    assert len(merged.duplicates) == 1
    assert [r[3] for r in merged.rejected] == ["invalid_json"]
    assert merged.exceptions["X-1"][24] == 1  # manual_touches


def test_follow_ups_before_opened_are_held_then_applied(tmp_path: Path) -> None:
    touch = ev("exception.touched", "X-1", T0 + H, human=True, action="call")
    resolve = ev("exception.resolved", "X-1", T0 + 2 * H, resolution_code="fixed")
    db, s1 = ingest_events(tmp_path, [touch, resolve], name="a.jsonl")
    assert (s1.after.accepted, s1.after.pending) == (0, 2)
    assert table(db, "SELECT count(*) AS n FROM pending_events")["n"][0] == 2
    _, s2 = ingest_events(tmp_path, [opened("X-1", T0)], db=db, name="b.jsonl")
    assert (s2.after.accepted, s2.after.pending) == (3, 0)
    row = table(db, "SELECT status, manual_touches FROM exceptions").row(0)
    assert row == ("resolved", 1)


def test_second_opened_is_rejected_as_duplicate_open(tmp_path: Path) -> None:
    db, s = ingest_events(tmp_path, [opened("X-1", T0), opened("X-1", T0 + H, value=5.0)])
    assert (s.after.accepted, s.after.rejected) == (1, 1)
    assert table(db, "SELECT reason FROM rejected_events")["reason"].to_list() == ["duplicate_open"]
    assert table(db, "SELECT order_value FROM exceptions")["order_value"][0] == 1000.0


def test_duplicate_with_different_body_changes_nothing(tmp_path: Path) -> None:
    a = ev("exception.touched", "X-1", T0 + H, eid="t", human=True, action="call")
    b = dict(a, exception_id="X-2", action="other")
    db, s = ingest_events(tmp_path, [opened("X-1", T0), opened("X-2", T0), a, b])
    assert (s.after.accepted, s.after.duplicates) == (3, 1)
    touches = table(db, "SELECT exception_id, manual_touches FROM exceptions ORDER BY 1")
    assert touches.rows() == [("X-1", 1), ("X-2", 0)]


def test_every_bad_line_is_kept_with_a_reason(tmp_path: Path) -> None:
    good = ev("exception.touched", "X-1", T0, action="call")
    lines: list[dict | str] = [
        "not json at all",
        "[1, 2, 3]",
        json.dumps(dict(good, event_type="exception.exploded")),
        json.dumps(dict(good, schema_version="2")),
        json.dumps(dict(good, occurred_at="2026-05-04T08:00:00")),
        json.dumps(opened("X-9", T0, currency="XYZ")),
        json.dumps({k: v for k, v in good.items() if k != "action"}),
        json.dumps(dict(good, event_id="")),
        json.dumps(opened("X-9", T0, severity="urgent")),
        "",
    ]
    db, s = ingest_events(tmp_path, lines)
    assert s.after.rejected == 9
    reasons = table(db, "SELECT source_offset, reason FROM rejected_events ORDER BY 1").rows()
    assert reasons == [
        (1, "invalid_json"),
        (2, "schema"),
        (3, "unknown_event_type"),
        (4, "unsupported_version"),
        (5, "naive_timestamp"),
        (6, "unknown_currency"),
        (7, "schema"),
        (8, "schema"),
        (9, "schema"),
    ]
    raw = table(db, "SELECT raw FROM rejected_events WHERE source_offset = 1")["raw"][0]
    assert raw == "not json at all"


def _snapshot(db: Path) -> dict[str, list[tuple]]:
    snap = {}
    for t in ALL_TABLES:
        cols = "* EXCLUDE (ingested_at)" if t == "exception_events" else "*"
        snap[t] = sorted(table(db, f"SELECT {cols} FROM {t}").rows(), key=repr)
    return snap


def test_ingesting_the_same_file_twice_changes_nothing(tmp_path: Path) -> None:
    events = random_stream(random.Random(3)) + ["garbage"]
    events.append(dict(events[2]))  # a duplicate
    db, s1 = ingest_events(tmp_path, events)
    first = _snapshot(db)
    _, s2 = ingest_events(tmp_path, events, db=db)
    assert _snapshot(db) == first
    assert s2.after == s1.after


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10_000))
def test_shuffled_arrival_gives_the_same_exceptions_table(tmp_path_factory, seed: int) -> None:
    rng = random.Random(seed)
    events = random_stream(rng)
    shuffled = list(events)
    rng.shuffle(shuffled)
    a, _ = ingest_events(tmp_path_factory.mktemp("a"), events)
    b, _ = ingest_events(tmp_path_factory.mktemp("b"), shuffled)
    q = f"SELECT {STATE_COLUMNS} FROM exceptions ORDER BY exception_id"
    assert table(a, q).rows() == table(b, q).rows()
    qv = "SELECT * FROM exception_versions ORDER BY exception_id, valid_from"
    assert table(a, qv).rows() == table(b, qv).rows()


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(
        st.one_of(st.text(max_size=80), st.binary(max_size=80).map(repr)), min_size=1, max_size=30
    )
)
def test_random_garbage_never_crashes_and_is_all_rejected(tmp_path_factory, lines) -> None:
    cleaned = [ln.replace("\n", " ").replace("\r", " ") for ln in lines]
    cleaned = [ln for ln in cleaned if ln.strip()]
    tmp = tmp_path_factory.mktemp("g")
    db, s = ingest_events(tmp, cleaned)
    assert s.after.rejected == len(cleaned)
    assert s.after.accepted == 0


def test_a_second_concurrent_ingest_is_refused(tmp_path: Path) -> None:
    import pytest

    from core.db import DatabaseError
    from flows.ingest import writer_lock

    db = tmp_path / "x.duckdb"
    with writer_lock(db):
        with pytest.raises(DatabaseError, match="another `fpi ingest`"):
            with writer_lock(db):
                pass
    assert not db.with_name("x.duckdb.ingest.lock").exists()

"""The DuckDB sink: idempotent writes, merge order, pending release, rows in the
order of ``core.schema``, the ``exceptions`` rule columns computed in SQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from core import schema
from core.config import load_settings
from core.timeutil import to_us
from flows.parse import Parsed, Rejected, parse_line
from flows.records import (
    Delta,
    duplicate_row,
    event_row,
    order_event_row,
    pending_row,
    rejected_row,
)
from flows.sink import ensure_database, frame, merge, write_deltas
from tests.streams import T0, ev, ingest_events, iso, released, table, worked_example

EV = (
    "e1",
    "exception.touched",
    0,
    0,
    "X",
    None,
    "S",
    "a",
    "human",
    "1",
    None,
    None,
    "call",
    "f",
    1,
    1,
    "{}",
    0,
)
REJ = ("f", 2, "bad", "invalid_json", "d", None, None, 5, "(unknown)")
PEND = ("p1", "X", "exception.touched", 0, "f", 3, 3, "{}", 0, "S")


def test_writing_a_delta_twice_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    ensure_database(db)
    d = Delta(
        events=[EV], rejected=[REJ], duplicates=[("f", 4, "e1", "{}", 0, "S")], pending_add=[PEND]
    )
    write_deltas(db, [d])
    write_deltas(db, [d])
    for t, n in [
        ("exception_events", 1),
        ("rejected_events", 1),
        ("duplicate_events", 1),
        ("pending_events", 1),
    ]:
        assert table(db, f"SELECT count(*) AS n FROM {t}")["n"][0] == n


def test_rejected_rows_keep_their_first_received_time(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    ensure_database(db)
    write_deltas(db, [Delta(rejected=[REJ])])
    write_deltas(db, [Delta(rejected=[(*REJ[:-2], 999, REJ[-1])])])
    got = table(db, "SELECT epoch_us(received_at) AS us FROM rejected_events")["us"][0]
    assert got == 5


def test_merge_applies_pending_add_then_remove_in_order() -> None:
    m = merge([Delta(pending_add=[PEND]), Delta(pending_remove=["p1"])])
    assert (m.pending_add, m.pending_remove) == ([], ["p1"])
    m = merge([Delta(pending_remove=["p1"]), Delta(pending_add=[PEND])])
    assert (m.pending_add, m.pending_remove) == ([PEND], [])


def test_later_versions_replace_earlier_ones(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    ensure_database(db)
    v = ("X", 0, None, "open", "(unassigned)", 0, 0, 0, 0.0, None, None, None, 0)
    write_deltas(db, [Delta(versions={"X": [v, v]})])
    write_deltas(db, [Delta(versions={"X": [v]})])
    assert table(db, "SELECT count(*) AS n FROM exception_versions")["n"][0] == 1


def _parsed(e: dict, seq: int = 7) -> Parsed:
    p = parse_line(json.dumps(e).encode(), "f.jsonl", 3, seq, load_settings(), to_us(T0))
    assert isinstance(p, Parsed)
    return p


def test_row_builders_follow_the_schema_column_order() -> None:
    touch = _parsed(ev("exception.touched", "X-1", T0, eid="t-1", human=True, action="call"))
    row = dict(zip(schema.EXCEPTION_EVENTS.columns, event_row(touch, 5, 9), strict=True))
    assert (row["event_id"], row["exception_id"], row["detail"]) == ("t-1", "X-1", "call")
    assert (row["occurred_at"], row["effective_at"], row["ingested_at"]) == (to_us(T0), 5, 9)
    assert (row["source"], row["source_offset"], row["arrival_seq"]) == ("f.jsonl", 3, 7)
    assert (row["actor_kind"], row["payload"]) == ("human", touch.raw)
    row = dict(zip(schema.PENDING_EVENTS.columns, pending_row(touch, 9), strict=True))
    assert (row["event_id"], row["exception_id"], row["received_at"]) == ("t-1", "X-1", 9)
    row = dict(zip(schema.DUPLICATE_EVENTS.columns, duplicate_row(touch, 9), strict=True))
    assert (row["source_offset"], row["event_id"], row["raw"]) == (3, "t-1", touch.raw)
    promised = T0 + timedelta(days=2)
    rel = _parsed(released("O-1", T0, iso(promised), origin="ATL", destination="MIA", lines=4))
    row = dict(zip(schema.ORDER_EVENTS.columns, order_event_row(rel), strict=True))
    assert (row["order_id"], row["lane"], row["lines"]) == ("O-1", "ATL→MIA", 4)
    assert (row["promised_delivery_at"], row["arrival_seq"]) == (to_us(promised), 7)
    rej = Rejected("f.jsonl", 4, "{", "invalid_json", "bad", None, None)
    row = dict(zip(schema.REJECTED_EVENTS.columns, rejected_row(rej, 9), strict=True))
    assert (row["reason"], row["detail"], row["received_at"]) == ("invalid_json", "bad", 9)


def test_frames_have_the_declared_dtypes() -> None:
    for t, rows in [
        (schema.EXCEPTION_EVENTS, [EV]),
        (schema.REJECTED_EVENTS, [REJ]),
        (schema.PENDING_EVENTS, [PEND]),
        (schema.EXCEPTION_VERSIONS, []),
    ]:
        f = frame(t, rows)
        assert dict(f.schema) == {c.name: c.type.polars for c in t.row_fields}, t.name
        assert f.height == len(rows)


def _exception_row(**state: object) -> tuple[object, ...]:
    """An ``exceptions`` row tuple: resolved, 9 h target, 4 h active, 1 touch, by a human."""
    row: dict[str, object] = {c: None for c in schema.EXCEPTIONS.columns}
    row.update(
        order_id="SO-1",
        category="c",
        severity="high",
        site="S",
        origin="A",
        destination="B",
        lane="A→B",
        carrier="(none)",
        customer_tier="key",
        source_system="T",
        order_value=1.0,
        currency="USD",
        order_value_reporting=1.0,
        sla_target_hours=9.0,
        sla_target_source="policy",
        opened_at=0,
        opened_event_id="e",
        opened_seq=1,
        status="resolved",
        status_since=1,
        active_seconds_at_status=4 * 3600.0,
        owner_team="(unassigned)",
        manual_touches=1,
        escalation_level=0,
        reopen_count=0,
        resolved_at=1,
        resolution_hours=1.0,
        resolved_by_kind="human",
        last_event_at=1,
        event_count=2,
    )
    row.update(state)
    return tuple(row[c] for c in schema.EXCEPTIONS.columns)


def _python_rules(row: tuple[object, ...]) -> tuple[bool | None, ...]:
    """The rules as ``flows.records`` computed them before they moved to SQL."""
    r = dict(zip(schema.EXCEPTIONS.columns, row, strict=True))
    if r["status"] != "resolved":
        return (None, None, None)
    active_us = round(float(str(r["active_seconds_at_status"])) * 1_000_000)
    touches, reopens = r["manual_touches"], r["reopen_count"]
    return (
        active_us <= float(str(r["sla_target_hours"])) * 3_600_000_000,
        touches in (0, 1) and reopens == 0,
        touches == 0 and r["resolved_by_kind"] == "system",
    )


STATES: list[dict[str, object]] = [
    {},
    {"active_seconds_at_status": 9 * 3600.0},
    {"active_seconds_at_status": 9 * 3600.0 + 1e-6},
    {"active_seconds_at_status": 0.0, "sla_target_hours": 2.5},
    {"active_seconds_at_status": 2.5 * 3600 + 1.0, "sla_target_hours": 2.5},
    {"manual_touches": 2},
    {"reopen_count": 1},
    {"manual_touches": 0, "resolved_by_kind": "system"},
    {"manual_touches": 0, "resolved_by_kind": "human"},
    {"manual_touches": 1, "resolved_by_kind": "system"},
    {"status": "open", "resolved_at": None, "resolved_by_kind": None},
    {"status": "paused", "resolved_at": None, "resolved_by_kind": None},
    {"status": "cancelled", "resolved_at": None, "resolved_by_kind": None, "cancelled_at": 1},
]


def test_the_rule_columns_are_computed_by_the_sink(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    ensure_database(db)
    rows = {f"X-{i}": _exception_row(exception_id=f"X-{i}", **st) for i, st in enumerate(STATES)}
    write_deltas(db, [Delta(exceptions=rows)])
    got = table(
        db,
        "SELECT exception_id, met_sla, first_touch_resolution, auto_resolved FROM exceptions",
    ).rows()
    assert {x: tuple(v) for x, *v in got} == {x: _python_rules(r) for x, r in rows.items()}
    assert {x: v for x, *v in got}["X-1"] == [True, True, False]  # active = target: met


@pytest.mark.parametrize("upto", [5, 8])
def test_the_worked_example_stores_its_rule_columns(tmp_path: Path, upto: int) -> None:
    db, _ = ingest_events(tmp_path, worked_example()[:upto])
    got = table(
        db, "SELECT status, met_sla, first_touch_resolution, auto_resolved FROM exceptions"
    ).rows()
    # kpis.md: resolved at 05-04 18:00, 6 h active of 9 h, one touch; then reopened
    want = ("resolved", True, True, False) if upto == 5 else ("open", None, None, None)
    assert got == [want]

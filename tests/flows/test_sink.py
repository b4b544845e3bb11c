"""The DuckDB sink: idempotent writes, merge order, pending release."""

from __future__ import annotations

from pathlib import Path

from flows.records import Delta
from flows.sink import ensure_database, merge, write_deltas
from tests.streams import table

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
REJ = ("f", 2, "bad", "invalid_json", "d", None, None, 5)
PEND = ("p1", "X", "exception.touched", 0, "f", 3, 3, "{}", 0)


def test_writing_a_delta_twice_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "s.duckdb"
    ensure_database(db)
    d = Delta(events=[EV], rejected=[REJ], duplicates=[("f", 4, "e1", "{}", 0)], pending_add=[PEND])
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
    write_deltas(db, [Delta(rejected=[(*REJ[:-1], 999)])])
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
    v = ("X", 0, None, "open", "(unassigned)", 0, 0, 0, 0.0, None, None, None)
    write_deltas(db, [Delta(versions={"X": [v, v]})])
    write_deltas(db, [Delta(versions={"X": [v]})])
    assert table(db, "SELECT count(*) AS n FROM exception_versions")["n"][0] == 1

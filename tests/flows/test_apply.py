"""The applier's memory: state leaves it once committed and comes back from the
store unchanged (late events, repeats across commits and runs)."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path

import pytest

from core.config import load_settings
from core.layout import Layout
from core.timeutil import to_us
from flows.apply import Applier
from flows.ingest import ingest
from flows.parse import Parsed, parse_line
from flows.sink import commit_delta, committed_tags, ensure_database, merge
from flows.store import Store, open_store
from tests.streams import (
    FIXED_NOW,
    T0,
    ev,
    fixed_clock,
    opened,
    random_mixed_stream,
    table,
    write_jsonl,
)

H = timedelta(hours=1)
NOW_US = to_us(FIXED_NOW)
TABLES = {
    "exceptions": "exception_id",
    "exception_versions": "exception_id, valid_from",
    "exception_events": "event_id",
    "order_events": "event_id",
    "order_state": "order_id",
    "rejected_events": "source, source_offset",
    "duplicate_events": "source, source_offset",
    "pending_events": "event_id",
}


def _dump(db: Path) -> dict[str, list[tuple[object, ...]]]:
    return {t: table(db, f"SELECT * FROM {t} ORDER BY {k}").rows() for t, k in TABLES.items()}


def _late_stream(rng: random.Random) -> list[dict]:
    """A mixed stream, shuffled, plus late follow-ups (after everything else) for
    exceptions closed long before and repeats of early ids."""
    events = random_mixed_stream(rng, n_exceptions=60, n_orders=30)
    rng.shuffle(events)
    late: list[dict] = []
    for i in range(0, 60, 7):
        late.append(ev("exception.reopened", f"X-{i}", T0 + 40 * 24 * H, reason="late"))
        late.append(ev("exception.touched", f"X-{i}", T0 + 41 * 24 * H, human=True, action="a"))
    late.append(ev("exception.touched", "X-NEVER", T0, human=True, action="held"))
    late.extend(dict(e) for e in events[:25])  # the same ids again, at new positions
    return events + late


@pytest.mark.parametrize("seed", [1, 2])
def test_committing_every_chunk_and_forgetting_changes_nothing(tmp_path: Path, seed: int) -> None:
    """One chunk per 9 lines committed one by one (state evicted all along) gives
    the same tables as a single transaction with everything in memory."""
    src = write_jsonl(tmp_path / "s.jsonl", _late_stream(random.Random(seed)))
    settings = load_settings()
    small, big = tmp_path / "small.duckdb", tmp_path / "big.duckdb"
    ingest([src], small, settings, fixed_clock, chunk_lines=9, flush_max_deltas=1)
    ingest([src], big, settings, fixed_clock)
    assert _dump(small) == _dump(big)
    # and a second run over the same file changes nothing in either
    ingest([src], small, settings, fixed_clock, chunk_lines=9, flush_max_deltas=1)
    assert _dump(small) == _dump(big)


def _parsed(events: list[dict], source: str = "mem", first: int = 1) -> list[Parsed]:
    out: list[Parsed] = []
    for i, e in enumerate(events):
        p = parse_line(
            json.dumps(e).encode(), source, first + i, first + i, load_settings(), NOW_US
        )
        assert isinstance(p, Parsed)
        out.append(p)
    return out


def _commit(store: Store, applier: Applier, events: list[Parsed]) -> None:
    delta = applier.apply(events, [])
    commit_delta(store.con, merge([delta]), append=True)
    store.committed.update(committed_tags([delta]))


def test_a_closed_exception_leaves_memory_and_a_late_event_brings_it_back(
    tmp_path: Path,
) -> None:
    db = tmp_path / "fpi.duckdb"
    ensure_database(db)
    with open_store(db) as store:
        a = Applier("k", load_settings(), fixed_clock, store)
        _commit(
            store,
            a,
            _parsed(
                [
                    opened("X-1", T0, eid="o1"),
                    ev(
                        "exception.resolved",
                        "X-1",
                        T0 + H,
                        eid="r1",
                        human=True,
                        resolution_code="fixed",
                    ),
                    opened("X-2", T0, eid="o2"),
                ]
            ),
        )
        _commit(
            store,
            a,
            _parsed([ev("exception.touched", "X-2", T0 + H, eid="t2", action="call")], first=10),
        )
        assert "X-1" not in a.hot  # resolved and committed: gone
        assert "X-2" in a.hot  # open: stays
        assert "o1" not in a.recent  # committed ids leave too
        late = _parsed(
            [
                ev("exception.reopened", "X-1", T0 + 30 * 24 * H, eid="re1"),
                opened("X-1", T0, eid="o1-again"),  # a second opened: still rejected
                opened("X-1", T0, eid="o1"),  # the same id at another position: a duplicate
            ],
            first=20,
        )
        delta = a.apply(late, [])
    row = delta.exceptions["X-1"]
    assert row[20] == "open" and row[26] == 1  # status, reopen_count
    assert row[32] == 3  # event_count: opened, resolved, reopened
    assert [r[3] for r in delta.rejected] == ["duplicate_open"]
    assert [d[2] for d in delta.duplicates] == ["o1"]


def test_an_open_exceptions_replay_is_kept_until_its_chunk_is_committed(
    tmp_path: Path,
) -> None:
    """The incremental derivation of an exception (``_Hot.replay``) is memory
    for recently active exceptions only: once the chunk that used it is
    committed it goes, and the next event derives from scratch, the same."""
    db = tmp_path / "fpi.duckdb"
    ensure_database(db)
    with open_store(db) as store:
        a = Applier("k", load_settings(), fixed_clock, store)
        first = a.apply(_parsed([opened("X-1", T0, eid="o1")]), [])
        touch = _parsed(
            [ev("exception.touched", "X-1", T0 + H, eid="t1", action="call", human=True)],
            first=10,
        )
        second = a.apply(touch, [])
        assert a.hot["X-1"].replay is not None  # nothing committed yet: kept and extended
        for delta in (first, second):
            commit_delta(store.con, merge([delta]), append=True)
            store.committed.update(committed_tags([delta]))
        late = _parsed(
            [ev("exception.touched", "X-1", T0 + 2 * H, eid="t2", action="call", human=True)],
            first=20,
        )
        third = a.apply(late, [])  # forgets the committed replay first, then rebuilds it
        assert len(a._replayed) == 1  # noqa: SLF001 - only the uncommitted chunk's entry
    in_memory = Applier("k", load_settings(), fixed_clock)
    for chunk in (_parsed([opened("X-1", T0, eid="o1")]), touch, late):
        kept = in_memory.apply(chunk, [])
    assert third.exceptions["X-1"] == kept.exceptions["X-1"]
    assert third.versions["X-1"] == kept.versions["X-1"]


def test_a_replayed_line_after_commit_is_dropped_silently(tmp_path: Path) -> None:
    db = tmp_path / "fpi.duckdb"
    ensure_database(db)
    with open_store(db) as store:
        a = Applier("k", load_settings(), fixed_clock, store)
        line = _parsed([opened("X-1", T0, eid="o1")])
        _commit(store, a, line)
        _commit(store, a, _parsed([opened("X-2", T0, eid="o2")], first=5))
        assert not a.recent.get("o1")
        delta = a.apply(line, [])
    assert delta.is_empty()


def test_held_events_leave_memory_and_are_released_from_the_store(tmp_path: Path) -> None:
    db = tmp_path / "fpi.duckdb"
    ensure_database(db)
    with open_store(db) as store:
        a = Applier("k", load_settings(), fixed_clock, store)
        _commit(
            store,
            a,
            _parsed([ev("exception.touched", "X-9", T0 + H, human=True, eid="h", action="c")]),
        )
        _commit(store, a, _parsed([opened("X-8", T0, eid="o8")], first=3))
        assert "X-9" not in a.held
        delta = a.apply(_parsed([opened("X-9", T0, eid="o9")], first=7), [])
    assert delta.pending_remove == ["h"]
    assert delta.exceptions["X-9"][24] == 1  # manual_touches: the held touch applied


def test_a_new_run_finds_what_earlier_runs_stored(tmp_path: Path) -> None:
    """The filters saved at the end of a run (and caught up from rows stamped
    after their save) find repeats across runs."""
    db = tmp_path / "fpi.duckdb"
    first = write_jsonl(
        tmp_path / "a.jsonl", [opened(f"X-{i}", T0, eid=f"a{i}") for i in range(50)]
    )
    ingest([first], db, load_settings(), fixed_clock)
    # saved in the writer's store (private: not published to readers)
    saved = table(Layout(db).store, "SELECT name, count FROM state_filters ORDER BY 1").rows()
    assert saved == [("event_ids", 50), ("exception_ids", 50)]
    second = write_jsonl(
        tmp_path / "b.jsonl",
        [opened("X-3", T0, eid="b3"), dict(opened("X-NEW", T0), event_id="a4")],
    )
    later = FIXED_NOW + 24 * H
    ingest([second], db, load_settings(), lambda: later)
    assert table(db, "SELECT reason FROM rejected_events").rows() == [("duplicate_open",)]
    assert table(db, "SELECT event_id FROM duplicate_events").rows() == [("a4",)]


def test_a_loaded_exception_that_a_late_event_reopens_stays_in_memory(tmp_path: Path) -> None:
    db = tmp_path / "fpi.duckdb"
    ensure_database(db)
    with open_store(db) as store:
        a = Applier("k", load_settings(), fixed_clock, store)
        resolved = ev("exception.resolved", "X-1", T0 + H, eid="r1", resolution_code="ok")
        _commit(store, a, _parsed([opened("X-1", T0, eid="o1"), resolved]))
        _commit(store, a, _parsed([opened("X-2", T0, eid="o2")], first=5))
        assert "X-1" not in a.hot
        reopen = ev("exception.reopened", "X-1", T0 + 9 * H, eid="re1")
        _commit(store, a, _parsed([reopen], first=9))  # loaded, changed: open again
        _commit(store, a, _parsed([opened("X-3", T0, eid="o3")], first=12))
        assert "X-1" in a.hot  # open: stays, like any open exception


def test_one_store_serves_one_stream_key(tmp_path: Path) -> None:
    db = tmp_path / "fpi.duckdb"
    ensure_database(db)
    with open_store(db) as store:
        Applier("a", load_settings(), fixed_clock, store)
        with pytest.raises(RuntimeError, match="one stream key per store"):
            Applier("b", load_settings(), fixed_clock, store)

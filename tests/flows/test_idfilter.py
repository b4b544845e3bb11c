"""The Bloom filter of ids: no false negatives, about 1 % false positives,
saved and loaded back (not rebuilt), caught up after a lost save."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from flows.idfilter import FILTERS_DDL, IdFilter, hash_ids
from flows.sink import ensure_database
from flows.store import EVENT_IDS, Store, open_store


def test_no_false_negatives_and_about_one_percent_false_positives() -> None:
    f = IdFilter.empty(100_000)
    stored = [f"ev-{i}" for i in range(100_000)]
    f.add(hash_ids(stored))
    assert f.maybe(hash_ids(stored)).all()
    others = f.maybe(hash_ids([f"other-{i}" for i in range(50_000)])).mean()
    assert 0.0 < others < 0.02
    assert not f.full


def test_a_saved_filter_is_loaded_back_as_saved() -> None:
    con = duckdb.connect()
    con.execute(FILTERS_DDL)
    f = IdFilter.empty(1000)
    f.add(hash_ids(["a", "b"]))
    f.save(con, "x", 42)
    loaded = IdFilter.load(con, "x")
    assert loaded is not None
    g, watermark = loaded
    assert watermark == 42 and g.count == 2 and (g.bits == f.bits).all()
    con.execute("UPDATE state_filters SET engine = 'another'")
    assert IdFilter.load(con, "x") is None  # another hash engine: rebuilt instead


def test_the_store_loads_the_saved_filter_and_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.duckdb"
    ensure_database(db)
    with open_store(db) as store:
        rows = [
            f"('e{i}', 'exception.opened', TIMESTAMPTZ '2026-05-04 00:00:00+00', NULL, 'X{i}', "
            f"'SO', 'T', 'a', 'human', '1', NULL, NULL, NULL, 'f', {i}, {i}, '{{}}', "
            f"make_timestamptz({ts}))"
            for i, ts in ((1, 1_000_000), (2, 5_000_000))
        ]
        store.con.execute(
            "INSERT INTO exception_events (event_id, event_type, occurred_at, effective_at, "
            "exception_id, order_id, source_system, actor_id, actor_kind, schema_version, "
            "owner_team, escalation_level, detail, source, source_offset, arrival_seq, payload, "
            f"ingested_at) VALUES {rows[0]}"
        )
        saved = store.load_filter(EVENT_IDS)  # a rebuild: nothing saved yet
        store.save_filter(saved, EVENT_IDS, 2_000_000)
        store.con.execute(  # a row stamped after the save (its run was killed)
            "INSERT INTO exception_events (event_id, event_type, occurred_at, effective_at, "
            "exception_id, order_id, source_system, actor_id, actor_kind, schema_version, "
            "owner_team, escalation_level, detail, source, source_offset, arrival_seq, payload, "
            f"ingested_at) VALUES {rows[1]}"
        )

        def no_rebuild(*_args: object) -> IdFilter:
            raise AssertionError("rebuilt instead of loaded")

        monkeypatch.setattr(Store, "_rebuild", no_rebuild)
        f = store.load_filter(EVENT_IDS)
        assert f.maybe(hash_ids(["e1", "e2"])).all()
        assert store.filter_watermark() == 2_000_000

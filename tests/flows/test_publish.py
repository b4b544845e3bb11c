"""The publisher: the views file always answers exactly what the store holds."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl
import pytest

from core import schema
from core.db import init_schema, open_read
from core.layout import Layout, migrate_legacy
from flows.publish import APPEND_TABLES, BOOKKEEPING, KEYED_TABLES, Publisher


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _expr(c: schema.Column, key: str) -> str:
    """A value of column ``c`` for row number ``k`` at version ``v`` (NULL now and then)."""
    if key and c.name == key:
        return "'key-' || k"
    t = c.type
    if t is schema.VARCHAR:
        e = f"'{c.name}-' || k || '-' || j || '-' || v"
    elif t is schema.BIGINT:
        e = "k * 1000 + j * 10 + v"
    elif t is schema.INTEGER:
        e = "(k % 1000 + j + v)::INTEGER"
    elif t is schema.DOUBLE:
        e = "k * 1.5 + v"
    elif t is schema.BOOLEAN:
        e = "(k + v) % 2 = 0"
    else:
        e = "to_timestamp(k * 60 + j + v)"
    return e if c.not_null else f"CASE WHEN (k + v) % 7 = 0 THEN NULL ELSE {e} END"


def write(
    con: duckdb.DuckDBPyConnection,
    pub: Publisher,
    table: schema.Table,
    ids: range | list[int],
    *,
    v: int = 0,
    per_key: int = 1,
    stage: bool = True,
) -> None:
    """Write rows ``ids`` of ``table`` in one store transaction, then stage them.

    Append tables: insert; keyed tables: replace every row of each key (``per_key``
    rows per key, e.g. a set of versions)."""
    key = KEYED_TABLES.get(table.name, ("",))[0]
    sel = ", ".join(f"{_expr(c, key)} AS {c.name}" for c in table.fields)
    con.execute("BEGIN")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE batch AS SELECT {sel} "
        "FROM (SELECT unnest(?::BIGINT[]) AS k), range(?) r(j), (SELECT ?::BIGINT AS v)",
        [sorted(set(ids)), per_key, v],
    )
    if key:
        con.execute(f"DELETE FROM {table.name} WHERE {key} IN (SELECT {key} FROM batch)")
    con.execute(f"INSERT INTO {table.name} SELECT * FROM batch")
    con.execute(pub.mark_written())
    con.execute("COMMIT")
    rows = con.sql("SELECT * FROM batch").to_arrow_table()
    if stage:
        pub.stage(table, rows)


def rows(con: duckdb.DuckDBPyConnection, table: str) -> pl.DataFrame:
    df = con.sql(f"SELECT * FROM {table}").pl()
    return df.sort(df.columns, nulls_last=True)


def types(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[object, ...]]:
    return [tuple(r[:2]) for r in con.execute(f"DESCRIBE {table}").fetchall()]


def assert_same(layout: Layout, store: duckdb.DuckDBPyConnection) -> None:
    names = [t.name for t in schema.TABLES if t.name not in BOOKKEEPING] + ["orders"]
    with open_read(layout.views) as view:
        for name in names:
            got, want = rows(view, name), rows(store, name)
            assert got.equals(want), (name, got, want)
            assert types(view, name) == types(store, name), name


@pytest.fixture
def store(tmp_path: Path) -> duckdb.DuckDBPyConnection:
    layout = Layout(tmp_path / "fpi.duckdb")
    layout.dir.mkdir()
    con = duckdb.connect(str(layout.store))
    con.execute("SET TimeZone = 'UTC'")
    init_schema(con)
    return con


def make(tmp_path: Path, store: duckdb.DuckDBPyConnection, **kw: object) -> Publisher:
    return Publisher(Layout(tmp_path / "fpi.duckdb"), store, **kw)  # type: ignore[arg-type]


def test_an_empty_store_publishes_typed_empty_views(tmp_path: Path, store) -> None:
    pub = make(tmp_path, store)
    assert pub.layout.views.is_file()
    assert_same(pub.layout, store)
    with open_read(pub.layout.views) as view:
        assert view.execute("SELECT count(*) FROM exceptions").fetchall() == [(0,)]
    assert not pub.publish()  # nothing changed


def test_appends_and_keyed_replacements_over_many_publishes(tmp_path: Path, store) -> None:
    pub = make(tmp_path, store, fanout=3, max_deltas=2, fold_min_rows=30, max_compactions=2)
    for step in range(10):
        ids = range(step * 10, step * 10 + 10)
        for t in APPEND_TABLES:
            write(store, pub, t, ids)
        # new keys and replaced keys; the versions' set shrinks and grows
        keys = [*range(step * 3, step * 3 + 5), 1]
        write(store, pub, schema.EXCEPTIONS, keys, v=step)
        write(store, pub, schema.EXCEPTION_VERSIONS, keys, v=step, per_key=1 + (step * 7) % 4)
        write(store, pub, schema.ORDER_STATE, keys, v=step)
        store.execute("INSERT INTO ingest_runs VALUES (?, now(), NULL, 'x', 1, 'running')", [step])
        if step % 2 == 1:  # several commits per publish: the later rows of a key win
            assert pub.publish()
        if step % 4 == 3:
            assert_same(pub.layout, store)
    pub.close()
    assert_same(pub.layout, store)
    # compaction ran: tiers above 0 and folded bases exist
    names = [f.name for fs in pub._live.values() for f in fs]  # noqa: SLF001
    assert any("part-t1" in n for n in names)
    assert len(pub._live["exceptions"]) <= 4  # noqa: SLF001


def test_the_same_key_staged_twice_keeps_the_later_rows(tmp_path: Path, store) -> None:
    pub = make(tmp_path, store)
    write(store, pub, schema.EXCEPTION_VERSIONS, [1, 2], per_key=4)
    write(store, pub, schema.EXCEPTION_VERSIONS, [2], v=1, per_key=2)
    pub.publish()
    write(store, pub, schema.EXCEPTION_VERSIONS, [1], v=2, per_key=1)
    pub.publish()
    assert_same(pub.layout, store)
    with open_read(pub.layout.views) as view:
        assert view.execute("SELECT count(*) FROM exception_versions").fetchall() == [(3,)]


def test_a_crash_between_commit_and_publish_is_rebuilt(tmp_path: Path, store) -> None:
    pub = make(tmp_path, store)
    write(store, pub, schema.EXCEPTIONS, range(10))
    pub.publish()
    write(store, pub, schema.EXCEPTIONS, range(5, 20), v=3, stage=False)  # staged rows lost
    write(store, pub, schema.EXCEPTION_EVENTS, range(7), stage=False)
    again = make(tmp_path, store)  # the next start
    assert_same(again.layout, store)


def test_a_missing_views_file_is_rebuilt(tmp_path: Path, store) -> None:
    pub = make(tmp_path, store)
    write(store, pub, schema.ORDER_EVENTS, range(10))
    pub.publish()
    pub.layout.views.unlink()
    again = make(tmp_path, store)
    assert_same(again.layout, store)


def test_a_legacy_database_is_migrated_and_published(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    init_schema(con)
    con.execute("INSERT INTO fpi_meta VALUES ('x', 'y')")
    con.close()
    layout = Layout(db)
    assert migrate_legacy(layout)
    assert layout.store.is_file() and not db.exists()
    assert not migrate_legacy(layout)
    store = duckdb.connect(str(layout.store))
    store.execute("SET TimeZone = 'UTC'")
    pub = Publisher(layout, store)
    write(store, pub, schema.EXCEPTIONS, range(3))
    pub.publish()
    assert_same(layout, store)
    assert not migrate_legacy(layout)  # a views file is not legacy


def test_retired_files_are_deleted_after_the_grace_period(tmp_path: Path, store) -> None:
    clock = Clock()
    pub = make(tmp_path, store, clock=clock, grace_seconds=60.0, fanout=2)
    parts = pub.layout.table_parts("exception_events")
    write(store, pub, schema.EXCEPTION_EVENTS, range(5))
    pub.publish()
    write(store, pub, schema.EXCEPTION_EVENTS, range(5, 10))
    pub.publish()  # the two tier-0 parts are merged; they are kept for now
    assert len(list(parts.glob("part-t0-*"))) == 2
    clock.now += 30
    write(store, pub, schema.EXCEPTION_EVENTS, range(10, 12))
    pub.publish()
    assert len(list(parts.glob("part-t0-*"))) == 3
    clock.now += 31
    write(store, pub, schema.EXCEPTION_EVENTS, range(12, 13))
    pub.publish()
    assert len(list(parts.glob("part-t0-*"))) == 2  # the first two are gone
    assert_same(pub.layout, store)
    # an orphan (a crash mid-publish) goes at the next start once it is old
    orphan = parts / "part-t0-999999999999-000.parquet"
    orphan.write_bytes(b"x")
    make(tmp_path, store, clock=clock, grace_seconds=60.0)
    assert orphan.exists()
    os.utime(orphan, (clock.now - 61, clock.now - 61))
    make(tmp_path, store, clock=clock, grace_seconds=60.0)
    assert not orphan.exists()


READER = r"""
import os, sys, duckdb
path, stop = sys.argv[1], sys.argv[2]
ok = fail = 0
while not os.path.exists(stop):
    try:
        con = duckdb.connect()
        con.execute(f"ATTACH '{path}' AS db (READ_ONLY)")
        con.execute("USE db")
        con.execute("SELECT count(*) FROM exception_events").fetchall()
        con.execute("SELECT count(*) FROM orders").fetchall()
        con.execute("SELECT count(*) FROM exceptions").fetchall()
        con.close()
        ok += 1
    except Exception as exc:
        fail += 1
        print(repr(exc), file=sys.stderr)
    if ok + fail == 1:
        print("ready", flush=True)
print(ok, fail)
"""


def test_a_bi_tool_without_retry_always_gets_in(tmp_path: Path, store) -> None:
    pub = make(tmp_path, store, fanout=4, max_deltas=4, fold_min_rows=20)
    stop = tmp_path / "stop"
    proc = subprocess.Popen(
        [sys.executable, "-c", READER, str(pub.layout.views), str(stop)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    for step in range(8):
        write(store, pub, schema.EXCEPTION_EVENTS, range(step * 5, step * 5 + 5))
        write(store, pub, schema.ORDER_EVENTS, range(step * 5, step * 5 + 5))
        write(store, pub, schema.EXCEPTIONS, [step, step // 2], v=step)
        write(store, pub, schema.ORDER_STATE, [step, step // 2], v=step)
        assert pub.publish()
        time.sleep(0.005)
    stop.touch()
    out, err = proc.communicate(timeout=30)
    ok, fail = map(int, out.split())
    assert fail == 0, err
    assert ok > 1
    assert_same(pub.layout, store)


def test_a_reader_in_this_process_sees_each_new_views_file(tmp_path: Path, store) -> None:
    pub = make(tmp_path, store)
    held = duckdb.connect()  # an old reader keeps its snapshot
    held.execute(f"ATTACH '{pub.layout.views}' AS old (READ_ONLY)")
    for i in range(3):
        write(store, pub, schema.EXCEPTION_EVENTS, [i])
        pub.publish()
        with open_read(pub.layout.views) as view:
            assert view.execute("SELECT count(*) FROM exception_events").fetchall() == [(i + 1,)]
    assert held.execute("SELECT count(*) FROM old.exception_events").fetchall() == [(0,)]


class _NoMemoryForCompaction:
    """The writer's connection, but every compaction's COPY (a merge of part
    files or a fold's export of a store table) runs out of DuckDB's memory,
    as a tier merge of 8.8M events did under the writer's 512 MB cap."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self.tight = False
        self.refused = 0

    def execute(self, sql: str, *args: object) -> duckdb.DuckDBPyConnection:
        compaction = "read_parquet" in sql or ".main." in sql
        if self.tight and sql.startswith("COPY") and compaction:
            self.refused += 1
            target = sql.rsplit(" TO '", 1)[1].split("'", 1)[0]
            Path(target).write_bytes(b"PAR1 half-written")  # what DuckDB may leave
            raise duckdb.OutOfMemoryException(
                "Out of Memory Error: failed to allocate data of size 38.2 MiB"
            )
        return self.con.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.con, name)


def test_a_compaction_out_of_memory_is_left_for_the_next_run(tmp_path: Path, store) -> None:
    tight = _NoMemoryForCompaction(store)
    kw = {"fanout": 3, "max_deltas": 2, "fold_min_rows": 30, "max_compactions": 2}
    pub = make(tmp_path, tight, **kw)  # type: ignore[arg-type]
    tight.tight = True
    for step in range(6):
        ids = range(step * 10, step * 10 + 10)
        for t in APPEND_TABLES:
            write(store, pub, t, ids)
        write(store, pub, schema.ORDER_STATE, [*range(step * 3, step * 3 + 5), 1], v=step)
        assert pub.publish()  # every publish of staged rows goes through
    assert_same(pub.layout, store)
    assert tight.refused == 1  # tried once, then left alone for the rest of the run
    assert len(pub.notes) == 1
    assert "ran out of the writer's memory; left for the next run" in pub.notes[0]
    named = {f.name for fs in pub._live.values() for f in fs}  # noqa: SLF001
    on_disk = {str(p.relative_to(pub.layout.parts)) for p in pub.layout.parts.rglob("*.parquet")}
    assert on_disk == named  # the half-written file was removed
    assert not any("part-t1" in n for n in named)
    again = make(tmp_path, store, **kw)  # the next run (memory to spare) compacts
    write(store, again, schema.EXCEPTION_EVENTS, range(100, 110))
    again.publish()
    assert_same(again.layout, store)
    assert any("part-t1" in f.name for fs in again._live.values() for f in fs)  # noqa: SLF001
    assert not again.notes

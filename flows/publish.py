"""Publish the writer's store as Parquet files behind a DuckDB file of views.

DuckDB lets one process open a file read-write *or* many open it read-only.
The writer keeps its own database (the **store**, ``core.layout.Layout.store``)
open for a whole run; readers open the **views file** (``Layout.views``, the
user's ``DB`` path), which :class:`Publisher` replaces atomically
(``os.replace``) after each publish. A reader that opens ``DB`` gets a
complete, consistent file at any moment, and one that has the old file open
keeps its snapshot (the files it names are kept for a grace period).

Table kinds (from ``core.schema``):

* **append** (:data:`APPEND_TABLES`): rows never change once written. Each
  publish writes the newly staged rows as one tier-0 *part*; when
  ``fanout`` parts of a tier exist they are merged into one part of the next
  tier (up to ``max_tier``; parts of that tier are never merged). The view is
  the union of the parts.
* **keyed** (:data:`KEYED_TABLES`): the rows of a key are replaced as a whole
  (``exception_versions`` holds a *set* of rows per ``exception_id``). There
  is one *base* (a full export of the store table) and *delta* files holding
  the complete current rows of the keys touched by a publish, with the
  publish's generation in :data:`GEN_COLUMN`. The view is "the base rows whose
  key is in no delta, plus, for every key in a delta, the rows of its newest
  generation". Deltas are merged into one when there are more than
  ``max_deltas`` of them, and folded into a new base (a fresh export) when
  their rows exceed ``max(fold_min_rows, fold_ratio × base rows)``. A key
  cannot be deleted by staging (a key staged with no rows is not a change).
* **small**: every other base table of the store except the publisher's own
  bookkeeping (:data:`FILES_TABLE`, :data:`STATE_TABLE`) — ``pending_events``,
  ``ingest_runs``, ``fpi_meta`` and any future table — copied in full into the
  views file at every publish. Staging rows of a small table only marks that a
  publish is due.

Crash safety: the sink bumps a write counter (:meth:`Publisher.mark_written`)
inside every store transaction; a publish records the counter it covered in
the same store transaction as its manifest rows. At construction, a missing
views file, a counter that differs from the last published one (a crash
between a commit and its publish), a manifest file that is gone, or a changed
store schema leads to :meth:`Publisher.rebuild`: every table exported anew.

Compaction is an optimisation: one that runs out of DuckDB's memory (the
writer's cap) is dropped for the rest of the run, its parts kept as they are
and a note left in :attr:`Publisher.notes`; the next run tries again. The
staged rows of a publish are never dropped (that failure stops the run).
Part files are written without DuckDB's insertion-order guarantee (rows of a
part are a set; keeping the order cost twice the time and the memory when 16
parts of 8.8M events were merged).

Files no longer in any view are deleted only ``grace_seconds`` after they were
retired (readers holding an older views file may still read them); files in
the parts folder that no manifest row names (left by a crash mid-publish) are
deleted at construction once older than the grace period.
"""

from __future__ import annotations

import os
import time
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import duckdb

from core import schema
from core.layout import Layout, wal
from core.order_state import ORDERS_VIEW

from .idfilter import FILTERS_TABLE

APPEND_TABLES: tuple[schema.Table, ...] = (
    schema.EXCEPTION_EVENTS,
    schema.ORDER_EVENTS,
    schema.REJECTED_EVENTS,
    schema.DUPLICATE_EVENTS,
)
"""Tables whose rows never change once written: published as parts."""

KEYED_TABLES: dict[str, tuple[str, ...]] = {
    schema.EXCEPTIONS.name: ("exception_id",),
    schema.EXCEPTION_VERSIONS.name: ("exception_id",),
    schema.ORDER_STATE.name: ("order_id",),
    schema.SLA_ALERTS.name: ("alert_id",),
}
"""Tables whose rows of a key are replaced as a whole, with that key."""

FILES_TABLE = "publish_files"
"""The manifest in the store: one row per published file (live or retired)."""

STATE_TABLE = "publish_state"
"""Counters in the store: ``written``, ``published``, ``generation``, ``schema``."""

BOOKKEEPING = frozenset({FILES_TABLE, STATE_TABLE, FILTERS_TABLE, schema.ALERT_OUTBOX.name})
"""The publisher's own tables and the writer's private state (``flows.idfilter``,
the alert messages' outbox): never published."""

GEN_COLUMN = "_publish_gen"
"""The generation (publish number) of each row of a delta file; hidden by the views."""

_STAGE_COLUMN = "_publish_stage"
_OUT = "fpi_publish_out"
_STAGE_PREFIX = "fpi_publish_stage_"

PART, BASE, DELTA = "part", "base", "delta"

MARK_WRITTEN_SQL = f"UPDATE {STATE_TABLE} SET value = value + 1 WHERE key = 'written'"  # noqa: S608
"""Bumps the write counter; run inside every store transaction that changes data."""

if any(
    t.name in BOOKKEEPING - {schema.ALERT_OUTBOX.name} for t in schema.TABLES
):  # pragma: no cover - a guard
    raise RuntimeError("a core.schema table clashes with the publisher's bookkeeping")


def lit(value: str | Path) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


class ArrowTable(Protocol):
    """What :meth:`Publisher.stage` needs of its rows: a ``pyarrow.Table``
    (pyarrow ships no type information, so it is described here)."""

    @property
    def num_rows(self) -> int:
        """The number of rows."""
        ...


class _CompactionOutOfMemory(Exception):
    """A compaction step ran out of DuckDB's memory (nothing of it was kept)."""

    def __init__(self, table: str, cause: str) -> None:
        super().__init__(f"{table}: {cause}")
        self.table = table
        self.cause = cause


@dataclass(frozen=True, slots=True)
class PartFile:
    """One published file: ``name`` relative to ``Layout.parts``.

    ``kind`` is :data:`PART` (append tables; ``tier`` ≥ 0), :data:`BASE` or
    :data:`DELTA` (keyed tables); ``generation`` the publish that wrote it
    (for a merged delta, the newest generation it holds); ``rows`` its rows.
    """

    name: str
    table: str
    kind: str
    tier: int
    generation: int
    rows: int


@dataclass(frozen=True, slots=True)
class Retired:
    """A file no longer in the views since ``at`` (clock seconds)."""

    file: PartFile
    at: float


class Publisher:
    """Publishes the store ``store`` (the writer's open connection) to ``layout``.

    Not thread-safe: the writer calls :meth:`stage` after each commit and
    :meth:`publish` (or :meth:`maybe_publish`) between transactions, never
    inside one. Construction creates the bookkeeping tables and recovers
    (see the module docstring).
    """

    def __init__(
        self,
        layout: Layout,
        store: duckdb.DuckDBPyConnection,
        *,
        grace_seconds: float = 600.0,
        clock: Callable[[], float] = time.time,
        min_interval: float = 0.5,
        fanout: int = 16,
        max_tier: int = 3,
        max_deltas: int = 32,
        fold_ratio: float = 0.25,
        fold_min_rows: int = 10_000,
        max_compactions: int = 1,
        compression: str = "zstd",
    ) -> None:
        if fanout < 2 or max_tier < 0 or max_deltas < 1 or max_compactions < 0:
            raise ValueError("fanout ≥ 2, max_tier ≥ 0, max_deltas ≥ 1, max_compactions ≥ 0")
        self.layout = layout
        self.store = store
        self.grace_seconds = grace_seconds
        self.clock = clock
        self.min_interval = min_interval
        self.fanout = fanout
        self.max_tier = max_tier
        self.max_deltas = max_deltas
        self.fold_ratio = fold_ratio
        self.fold_min_rows = fold_min_rows
        self.max_compactions = max_compactions
        self.compression = compression
        self._staged: dict[str, list[ArrowTable]] = {}
        self.notes: list[str] = []
        """One line per compaction dropped for the rest of the run (out of memory)."""
        self._compacting = True
        self._dirty = False
        self._live: dict[str, list[PartFile]] = {}
        self._retired: list[Retired] = []
        self._generation = 0
        self._published = -1
        self._last_publish = float("-inf")
        row = store.execute("SELECT current_database()").fetchall()
        self._catalog = str(row[0][0])
        layout.parts.mkdir(parents=True, exist_ok=True)
        self._ensure_bookkeeping()
        self._types = self._store_types()
        self._load_manifest()
        self.recover()

    # -- the sink's side -------------------------------------------------------

    @staticmethod
    def mark_written() -> str:
        """The statement that bumps the write counter (:data:`MARK_WRITTEN_SQL`).

        Run it inside every store transaction that changes any table, so a
        crash after the commit and before its publish is seen at the next start.
        """
        return MARK_WRITTEN_SQL

    def mark_written_in(self, con: duckdb.DuckDBPyConnection) -> None:
        """Run :meth:`mark_written` on ``con`` (inside the caller's transaction)."""
        con.execute(MARK_WRITTEN_SQL)

    def stage(self, table: schema.Table, rows: ArrowTable) -> None:
        """Keep ``rows`` of ``table`` (committed to the store) for the next publish.

        Append tables: exactly the newly inserted rows. Keyed tables: the
        complete current rows of every key the commit touched (for
        ``exception_versions`` the full new set of each touched
        ``exception_id``); a key staged twice before a publish keeps the later
        rows. Small tables: the rows are ignored (copied in full anyway), the
        next publish is marked due. Columns: the table's ``all_columns``
        (extra columns are ignored; types are cast to the store's).
        """
        self._dirty = True
        if table.name not in KEYED_TABLES and table not in APPEND_TABLES:
            return
        if rows.num_rows:
            self._staged.setdefault(table.name, []).append(rows)

    def staged_rows(self) -> int:
        """The number of rows staged and not yet published."""
        return sum(t.num_rows for ts in self._staged.values() for t in ts)

    def due(self) -> bool:
        """``min_interval`` passed since the last publish, and something was staged
        or written since (the write counter differs from the published one)."""
        if self.clock() - self._last_publish < self.min_interval:
            return False
        return self._dirty or bool(self._staged) or self._counter("written") != self._published

    def maybe_publish(self) -> bool:
        """:meth:`publish` when :meth:`due`; True if it published."""
        return self.publish() if self.due() else False

    def close(self) -> None:
        """Publish what is staged or written (the store connection stays open)."""
        self.publish()

    # -- publishing -----------------------------------------------------------

    def publish(self) -> bool:
        """Write staged rows as new files, record them, replace the views file.

        Does nothing (returns False) when nothing was staged and the write
        counter equals the last published one. Otherwise: one new file per
        staged table, at most ``max_compactions`` compaction steps, the
        manifest and counters in one store transaction, then a new views
        file, then deletion of files retired more than the grace period ago.
        On an error the new files are removed and the staged rows kept, so the
        next publish retries.
        """
        written = self._counter("written")
        if not self._staged and written == self._published:
            self._dirty = False
            return False
        gen = self._generation + 1
        new: list[PartFile] = []
        retired: list[PartFile] = []
        try:
            for name, pieces in self._staged.items():
                new.append(self._write_staged(name, pieces, gen, len(new)))
            live = self._live_after(new, retired)
            for _ in range(self.max_compactions if self._compacting else 0):
                try:
                    if not self._compact_once(live, gen, new, retired):
                        break
                except _CompactionOutOfMemory as exc:
                    self._compacting = False
                    self.notes.append(
                        f"compacting the published {exc.table} files ran out of the writer's "
                        f"memory; left for the next run ({exc.cause})"
                    )
                    break
                live = self._live_after(new, retired)
            self._commit(new, retired, gen, written)
        except BaseException:
            self._discard(new)
            raise
        self._installed()
        return True

    def rebuild(self) -> None:
        """Export every published table of the store anew and publish.

        Append tables become one part of ``max_tier`` each, keyed tables one
        base each (empty tables give empty, typed files); every file in force
        so far is retired. Used at recovery and after a legacy migration.
        Staged rows are dropped (the store already holds them).
        """
        written = self._counter("written")
        gen = self._generation + 1
        new: list[PartFile] = []
        try:
            for t in APPEND_TABLES:
                new.append(self._export(t.name, PART, self.max_tier, gen, len(new)))
            for name in KEYED_TABLES:
                new.append(self._export(name, BASE, 0, gen, len(new)))
            retired = [f for files in self._live.values() for f in files]
            self._commit(new, retired, gen, written, schema_hash=self._schema_hash())
        except BaseException:
            self._discard(new)
            raise
        self._installed()

    def _discard(self, new: list[PartFile]) -> None:
        """Remove the files of a publish that failed before its manifest commit."""
        for f in new:
            self._path(f).unlink(missing_ok=True)

    def _installed(self) -> None:
        """After a manifest commit: nothing staged, a new views file, old files swept."""
        self._staged.clear()
        self._dirty = False
        self._write_views()
        self._sweep()

    def recover(self) -> None:
        """Rebuild if needed (see the module docstring), else rewrite the views file.

        The views file is rewritten from the manifest even when nothing is
        missing: a crash after a manifest commit and before its ``os.replace``
        leaves an older views file. Stray temporary views files and orphan
        part files older than the grace period are removed.
        """
        self._remove_temp_views()
        missing = any(not self._path(f).exists() for fs in self._live.values() for f in fs)
        if (
            not self.layout.views.exists()
            or missing
            or self._counter("written") != self._published
            or self._counter("schema") != self._schema_hash()
            or any(name not in self._live for name in self._published_tables())
        ):
            self.rebuild()
        else:
            self._write_views()
            self._sweep()
        self._remove_orphans()

    # -- views ------------------------------------------------------------------

    def view_sql(self, table: str) -> str:
        """The SELECT of the view of the append or keyed ``table`` over its live files."""
        files = self._live.get(table, [])
        cols = self._casts(table)
        if table in KEYED_TABLES:
            key = ", ".join(KEYED_TABLES[table])
            bases = [f for f in files if f.kind == BASE]
            deltas = [f for f in files if f.kind == DELTA]
            selects: list[str] = []
            if bases:
                src = f"read_parquet({self._list(bases)})"
                if deltas:
                    keys = f"SELECT {key} FROM read_parquet({self._list(deltas)})"  # noqa: S608
                    src += f" ANTI JOIN ({keys}) USING ({key})"
                selects.append(f"SELECT {cols} FROM {src}")  # noqa: S608
            if deltas:
                selects.append(
                    f"SELECT {cols} FROM read_parquet({self._list(deltas)}) "  # noqa: S608
                    f"QUALIFY {GEN_COLUMN} = max({GEN_COLUMN}) OVER (PARTITION BY {key})"
                )
            if selects:
                return "\nUNION ALL\n".join(selects)
        elif files:
            return f"SELECT {cols} FROM read_parquet({self._list(files)})"  # noqa: S608
        empty = ", ".join(f"CAST(NULL AS {typ}) AS {ident(c)}" for c, typ in self._types[table])
        return f"SELECT {empty} WHERE false"

    def _write_views(self) -> None:
        views = self.layout.views
        tmp = views.with_name(f".{views.name}.publish-{os.getpid()}-{self._generation}.tmp")
        tmp.unlink(missing_ok=True)
        wal(tmp).unlink(missing_ok=True)
        cat = ident(self._catalog)
        self.store.execute(f"ATTACH {lit(tmp)} AS {_OUT}")
        try:
            self.store.execute(f"USE {_OUT}")
            for name in self._published_tables():
                self.store.execute(f"CREATE VIEW {ident(name)} AS {self.view_sql(name)}")
            for name in self._small_tables():
                self.store.execute(
                    f"CREATE TABLE {ident(name)} AS SELECT * FROM {cat}.main.{ident(name)}"  # noqa: S608
                )
            self.store.execute(ORDERS_VIEW)
        finally:
            self.store.execute(f"USE {cat}")
            self.store.execute(f"DETACH {_OUT}")
        os.replace(tmp, views)
        self._last_publish = self.clock()

    # -- files ----------------------------------------------------------------

    def _write_staged(self, table: str, pieces: list[ArrowTable], gen: int, n: int) -> PartFile:
        """One new file of the staged ``pieces`` of ``table``: a tier-0 part or a delta."""
        names = []
        try:
            for i, piece in enumerate(pieces):
                names.append(f"{_STAGE_PREFIX}{i}")
                self.store.register(names[-1], piece)
            cols = self._casts(table)
            union = " UNION ALL ".join(
                f"SELECT {cols}, {i} AS {_STAGE_COLUMN} FROM {v}"  # noqa: S608
                for i, v in enumerate(names)
            )
            if table in KEYED_TABLES:
                key = ", ".join(KEYED_TABLES[table])
                plain = ", ".join(ident(c) for c, _ in self._types[table])
                sql = (
                    f"SELECT {plain}, {gen}::BIGINT AS {GEN_COLUMN} FROM ({union}) "  # noqa: S608
                    f"QUALIFY {_STAGE_COLUMN} = max({_STAGE_COLUMN}) OVER (PARTITION BY {key})"
                )
                return self._copy(sql, table, DELTA, 0, gen, n)
            plain = ", ".join(ident(c) for c, _ in self._types[table])
            return self._copy(f"SELECT {plain} FROM ({union})", table, PART, 0, gen, n)  # noqa: S608
        finally:
            for v in names:
                self.store.unregister(v)

    def _export(
        self, table: str, kind: str, tier: int, gen: int, n: int, *, compaction: bool = False
    ) -> PartFile:
        """A full export of the store table ``table`` as one file."""
        cols = self._casts(table)
        sql = f"SELECT {cols} FROM {ident(self._catalog)}.main.{ident(table)}"  # noqa: S608
        copy = self._compaction if compaction else self._copy
        return copy(sql, table, kind, tier, gen, n)

    def _copy(self, sql: str, table: str, kind: str, tier: int, gen: int, n: int) -> PartFile:
        """``sql`` written as a new part file (rows in no particular order)."""
        label = f"{kind}-t{tier}" if kind == PART else kind
        f = PartFile(f"{table}/{label}-{gen:012d}-{n:03d}.parquet", table, kind, tier, gen, 0)
        path = self._path(f)
        path.parent.mkdir(parents=True, exist_ok=True)
        (ordered,) = self.store.execute(
            "SELECT current_setting('preserve_insertion_order')"
        ).fetchall()[0]
        self.store.execute("SET preserve_insertion_order = false")
        try:
            rows = self.store.execute(
                f"COPY ({sql}) TO {lit(path)} (FORMAT parquet, COMPRESSION {self.compression})"
            ).fetchall()
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        finally:
            self.store.execute(f"SET preserve_insertion_order = {bool(ordered)}")
        return PartFile(f.name, table, kind, tier, gen, int(rows[0][0]) if rows else 0)

    def _compaction(self, sql: str, table: str, kind: str, tier: int, gen: int, n: int) -> PartFile:
        """:meth:`_copy` for a compaction (out of memory: :class:`_CompactionOutOfMemory`)."""
        try:
            return self._copy(sql, table, kind, tier, gen, n)
        except duckdb.OutOfMemoryException as exc:
            raise _CompactionOutOfMemory(table, str(exc).strip().splitlines()[0]) from exc

    def _compact_once(
        self,
        live: dict[str, list[PartFile]],
        gen: int,
        new: list[PartFile],
        retired: list[PartFile],
    ) -> bool:
        """One compaction step if any is due (keyed folds, delta merges, tier merges)."""
        for table in KEYED_TABLES:
            files = live.get(table, [])
            base_rows = sum(f.rows for f in files if f.kind == BASE)
            deltas = [f for f in files if f.kind == DELTA]
            if not deltas:
                continue
            if sum(f.rows for f in deltas) > max(self.fold_min_rows, self.fold_ratio * base_rows):
                new.append(self._export(table, BASE, 0, gen, len(new), compaction=True))
                retired.extend(files)
                return True
            if len(deltas) > self.max_deltas:
                key = ", ".join(KEYED_TABLES[table])
                sql = (
                    f"SELECT * FROM read_parquet({self._list(deltas)}) "  # noqa: S608
                    f"QUALIFY {GEN_COLUMN} = max({GEN_COLUMN}) OVER (PARTITION BY {key})"
                )
                merged = self._compaction(sql, table, DELTA, 0, gen, len(new))
                top = max(f.generation for f in deltas)
                new.append(PartFile(merged.name, table, DELTA, 0, top, merged.rows))
                retired.extend(deltas)
                return True
        for t in APPEND_TABLES:
            files = live.get(t.name, [])
            for tier in range(self.max_tier):
                at = sorted((f for f in files if f.tier == tier), key=lambda f: f.name)
                if len(at) >= self.fanout:
                    group = at[: self.fanout]
                    sql = f"SELECT * FROM read_parquet({self._list(group)})"  # noqa: S608
                    new.append(self._compaction(sql, t.name, PART, tier + 1, gen, len(new)))
                    retired.extend(group)
                    return True
        return False

    def _live_after(
        self, new: list[PartFile], retired: list[PartFile]
    ) -> dict[str, list[PartFile]]:
        gone = {f.name for f in retired}
        out: dict[str, list[PartFile]] = {}
        for f in [*(f for fs in self._live.values() for f in fs), *new]:
            if f.name not in gone:
                out.setdefault(f.table, []).append(f)
        return out

    def _path(self, f: PartFile) -> Path:
        return self.layout.parts / f.name

    def _list(self, files: Iterable[PartFile]) -> str:
        return "[" + ", ".join(lit(self._path(f)) for f in files) + "]"

    def _casts(self, table: str) -> str:
        return ", ".join(
            f"CAST({ident(c)} AS {typ}) AS {ident(c)}" for c, typ in self._types[table]
        )

    # -- bookkeeping ------------------------------------------------------------

    def _ensure_bookkeeping(self) -> None:
        self.store.execute(
            f"CREATE TABLE IF NOT EXISTS {FILES_TABLE} (name VARCHAR NOT NULL, "
            "table_name VARCHAR NOT NULL, kind VARCHAR NOT NULL, tier INTEGER NOT NULL, "
            "generation BIGINT NOT NULL, rows BIGINT NOT NULL, retired_at DOUBLE)"
        )
        self.store.execute(
            f"CREATE TABLE IF NOT EXISTS {STATE_TABLE} "
            "(key VARCHAR NOT NULL, value BIGINT NOT NULL)"
        )
        for key, value in (("written", 0), ("published", -1), ("generation", 0), ("schema", 0)):
            self.store.execute(
                f"INSERT INTO {STATE_TABLE} SELECT ?, ? "  # noqa: S608
                f"WHERE NOT EXISTS (FROM {STATE_TABLE} WHERE key = ?)",
                [key, value, key],
            )

    def _counter(self, key: str) -> int:
        rows = self.store.execute(
            f"SELECT value FROM {STATE_TABLE} WHERE key = ?",  # noqa: S608
            [key],
        ).fetchall()
        return int(rows[0][0])

    def _load_manifest(self) -> None:
        rows = self.store.execute(
            f"SELECT name, table_name, kind, tier, generation, rows, retired_at FROM {FILES_TABLE}"  # noqa: S608
        ).fetchall()
        self._live = {}
        self._retired = []
        for name, table, kind, tier, gen, n, retired_at in rows:
            f = PartFile(str(name), str(table), str(kind), int(tier), int(gen), int(n))
            if retired_at is None:
                self._live.setdefault(f.table, []).append(f)
            else:
                self._retired.append(Retired(f, float(retired_at)))
        self._generation = self._counter("generation")
        self._published = self._counter("published")

    def _commit(
        self,
        new: list[PartFile],
        retired: list[PartFile],
        gen: int,
        written: int,
        *,
        schema_hash: int | None = None,
    ) -> None:
        """Record ``new`` and ``retired`` and the counters in one store transaction."""
        now = self.clock()
        con = self.store
        con.execute("BEGIN TRANSACTION")
        try:
            if new:
                con.executemany(
                    f"INSERT INTO {FILES_TABLE} VALUES (?, ?, ?, ?, ?, ?, NULL)",  # noqa: S608
                    [[f.name, f.table, f.kind, f.tier, f.generation, f.rows] for f in new],
                )
            if retired:
                con.execute(
                    f"UPDATE {FILES_TABLE} SET retired_at = ? WHERE list_contains(?, name)",  # noqa: S608
                    [now, [f.name for f in retired]],
                )
            sets = [("published", written), ("generation", gen)]
            if schema_hash is not None:
                sets.append(("schema", schema_hash))
            for key, value in sets:
                con.execute(f"UPDATE {STATE_TABLE} SET value = ? WHERE key = ?", [value, key])  # noqa: S608
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        self._generation = gen
        self._published = written
        self._retired.extend(Retired(f, now) for f in retired)
        self._live = self._live_after(new, retired)

    def _sweep(self) -> None:
        """Delete retired files older than the grace period, and their manifest rows."""
        limit = self.clock() - self.grace_seconds
        old = [r for r in self._retired if r.at <= limit]
        if not old:
            return
        for r in old:
            self._path(r.file).unlink(missing_ok=True)
        self.store.execute(
            f"DELETE FROM {FILES_TABLE} WHERE retired_at IS NOT NULL AND list_contains(?, name)",  # noqa: S608
            [[r.file.name for r in old]],
        )
        names = {r.file.name for r in old}
        self._retired = [r for r in self._retired if r.file.name not in names]

    def _remove_orphans(self) -> None:
        """Delete part files no manifest row names, once older than the grace period."""
        known = {f.name for fs in self._live.values() for f in fs}
        known.update(r.file.name for r in self._retired)
        limit = self.clock() - self.grace_seconds
        for path in self.layout.parts.glob("*/*"):
            name = path.relative_to(self.layout.parts).as_posix()
            if name in known or not path.is_file():
                continue
            try:
                if path.stat().st_mtime <= limit:
                    path.unlink()
            except FileNotFoundError:
                pass

    def _remove_temp_views(self) -> None:
        """Delete views files a crashed publish left under their temporary names."""
        views = self.layout.views
        for path in views.parent.glob(f".{views.name}.publish-*.tmp*"):
            path.unlink(missing_ok=True)

    def _store_types(self) -> dict[str, list[tuple[str, str]]]:
        """Each published table's columns and the store's type, in ``all_columns`` order."""
        rows = self.store.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE database_name = ? AND schema_name = 'main'",
            [self._catalog],
        ).fetchall()
        found: dict[str, dict[str, str]] = {}
        for table, column, typ in rows:
            found.setdefault(str(table), {})[str(column)] = str(typ)
        out: dict[str, list[tuple[str, str]]] = {}
        for t in schema.TABLES:
            if t.name not in KEYED_TABLES and t not in APPEND_TABLES:
                continue
            have = found.get(t.name)
            if have is None:
                raise ValueError(f"the store has no table {t.name!r} (run init_schema first)")
            extra = [c for c in have if c not in t.all_columns]
            out[t.name] = [(c, have.get(c, t.column(c).type.sql)) for c in (*t.all_columns, *extra)]
        return out

    def _schema_hash(self) -> int:
        text = ";".join(
            f"{t}:{c} {typ}" for t, cols in sorted(self._types.items()) for c, typ in cols
        )
        return zlib.crc32(text.encode())

    def _published_tables(self) -> list[str]:
        return [*(t.name for t in APPEND_TABLES), *KEYED_TABLES]

    def _small_tables(self) -> list[str]:
        """Base tables of the store neither append, keyed nor bookkeeping."""
        rows = self.store.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = ? "
            "AND schema_name = 'main' AND NOT temporary ORDER BY table_name",
            [self._catalog],
        ).fetchall()
        skip = {*self._published_tables(), *BOOKKEEPING}
        return [str(r[0]) for r in rows if str(r[0]) not in skip]

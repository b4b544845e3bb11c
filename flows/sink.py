"""The DuckDB sink: one writer, micro-batches in one transaction, idempotent upserts.

All deltas are routed to a single sink partition, so exactly one worker
writes. Each micro-batch (the deltas ``collect`` gathered, ≤ ~1 s) is merged
(later rows win per key), then written in one transaction:

* ``exception_events``, ``order_events``, ``exceptions``: insert-or-replace by id
  (``exceptions`` through ``core.schema``'s SELECT, which computes its rule
  columns ``met_sla``, ``first_touch_resolution``, ``auto_resolved`` with the
  ``core.rules`` expressions the KPIs use);
* ``exception_versions``: delete-then-insert per exception (the full set);
* ``order_state``: the batch's order events merged into their orders' rows
  (``core.order_state``; merging an event twice changes nothing);
* ``rejected_events``, ``duplicate_events``: insert-or-ignore by (source, offset),
  so a replayed line keeps its first ``received_at``;
* ``pending_events``: insert-or-replace held events, delete applied ones.

Writing the same delta twice therefore changes nothing. Rows are tuples in
the order of their table's ``columns`` in ``core.schema``, which also gives
the frames' dtypes and the primary keys ``merge`` uses. The file is opened per
batch and closed after it, so read-only readers get in between batches; while
a reader holds the file the writer waits (buffering, never dropping).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from core import order_state, schema
from core.db import DatabaseError, init_schema, open_write

from .records import Delta


def frame(table: schema.Table, rows: Sequence[tuple[object, ...]]) -> pl.DataFrame:
    """Rows of ``table`` (tuples of its ``columns``, times as UTC µs) -> typed frame."""
    fields = table.row_fields
    cols = list(zip(*rows, strict=True)) if rows else [() for _ in fields]
    data: dict[str, pl.Series] = {}
    for col, values in zip(fields, cols, strict=True):
        if col.is_time:
            s = pl.Series(col.name, values, dtype=pl.Int64).cast(col.type.polars)
        else:
            s = pl.Series(col.name, values, dtype=col.type.polars, strict=False)
        data[col.name] = s
    return pl.DataFrame(data)


# Where the primary key sits in each row tuple (unpacking checks its arity).
(_EVENT_KEY,) = schema.EXCEPTION_EVENTS.key_positions
(_ORDER_EVENT_KEY,) = schema.ORDER_EVENTS.key_positions
_REJECTED_KEY_1, _REJECTED_KEY_2 = schema.REJECTED_EVENTS.key_positions
_DUPLICATE_KEY_1, _DUPLICATE_KEY_2 = schema.DUPLICATE_EVENTS.key_positions
(_PENDING_KEY,) = schema.PENDING_EVENTS.key_positions


def merge(deltas: Sequence[Delta]) -> Delta:
    """Fold deltas in order into one; later rows win per natural key."""
    out = Delta()
    events: dict[object, tuple[object, ...]] = {}
    orders: dict[object, tuple[object, ...]] = {}
    rejected: dict[tuple[object, object], tuple[object, ...]] = {}
    duplicates: dict[tuple[object, object], tuple[object, ...]] = {}
    pending: dict[str, tuple[object, ...] | None] = {}
    ek, ok, pk = _EVENT_KEY, _ORDER_EVENT_KEY, _PENDING_KEY
    r1, r2, d1, d2 = _REJECTED_KEY_1, _REJECTED_KEY_2, _DUPLICATE_KEY_1, _DUPLICATE_KEY_2
    for d in deltas:
        for r in d.events:
            events[r[ek]] = r
        for r in d.order_events:
            orders[r[ok]] = r
        out.exceptions.update(d.exceptions)
        out.versions.update(d.versions)
        for r in d.rejected:
            rejected.setdefault((r[r1], r[r2]), r)
        for r in d.duplicates:
            duplicates.setdefault((r[d1], r[d2]), r)
        for r in d.pending_add:
            pending[str(r[pk])] = r
        for eid in d.pending_remove:
            pending[eid] = None
    out.events = list(events.values())
    out.order_events = list(orders.values())
    out.rejected = list(rejected.values())
    out.duplicates = list(duplicates.values())
    out.pending_add = [r for r in pending.values() if r is not None]
    out.pending_remove = [k for k, r in pending.items() if r is None]
    return out


def write_delta(con: duckdb.DuckDBPyConnection, d: Delta) -> None:
    """Write one merged delta in the current transaction (idempotent)."""

    def upsert(
        table: schema.Table,
        rows: Sequence[tuple[object, ...]],
        verb: str = "INSERT OR REPLACE",
    ) -> None:
        if not rows:
            return
        batch = frame(table, rows)  # noqa: F841 - read by DuckDB's replacement scan
        # the table's name and SELECT and the verb are constants, never user input
        con.execute(f"{verb} INTO {table.name} BY NAME {table.insert_from('batch')}")

    upsert(schema.EXCEPTION_EVENTS, d.events)
    upsert(schema.ORDER_EVENTS, d.order_events)
    if d.order_events:
        batch = frame(schema.ORDER_EVENTS, d.order_events)  # noqa: F841 - read by DuckDB
        for stmt in order_state.merge_statements("batch"):
            con.execute(stmt)
    upsert(schema.EXCEPTIONS, list(d.exceptions.values()))
    if d.versions:
        versions = schema.EXCEPTION_VERSIONS
        ids = pl.DataFrame({"exception_id": list(d.versions)})  # noqa: F841
        con.execute(
            f"DELETE FROM {versions.name} "  # noqa: S608 - a constant
            "WHERE exception_id IN (SELECT exception_id FROM ids)"
        )
        upsert(versions, [r for rows in d.versions.values() for r in rows], verb="INSERT")
    upsert(schema.REJECTED_EVENTS, d.rejected, verb="INSERT OR IGNORE")
    upsert(schema.DUPLICATE_EVENTS, d.duplicates, verb="INSERT OR IGNORE")
    if d.pending_remove:
        gone = pl.DataFrame({"event_id": d.pending_remove})  # noqa: F841
        con.execute(
            f"DELETE FROM {schema.PENDING_EVENTS.name} "  # noqa: S608 - a constant
            "WHERE event_id IN (SELECT event_id FROM gone)"
        )
    upsert(schema.PENDING_EVENTS, d.pending_add)


def write_deltas(path: Path, deltas: Sequence[Delta]) -> None:
    """Open ``path``, write ``deltas`` in one transaction, close."""
    merged = merge(deltas)
    if merged.is_empty():
        return
    with open_write(path) as con:
        con.execute("BEGIN TRANSACTION")
        try:
            write_delta(con, merged)
            con.execute("COMMIT")
        except BaseException:
            try:
                con.execute("ROLLBACK")
            except duckdb.Error:
                pass  # a failed COMMIT has already ended the transaction: keep its error
            raise


def ensure_database(path: Path) -> None:
    """Create the file and every table if missing (idempotent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_write(path) as con:
        init_schema(con)


def describe_write_error(path: Path, exc: BaseException) -> str:
    """One line naming the file and the cause of a failed write (disk full, read-only)."""
    if isinstance(exc, OSError) and exc.strerror:
        cause = exc.strerror
    else:
        lines = str(exc).strip().splitlines()
        cause = lines[0] if lines else type(exc).__name__
    return f"cannot write database {path}: {cause} (nothing of the failed batch was kept)"


class _Partition(StatefulSinkPartition[list[Delta], None]):
    def __init__(self, sink: DuckDBSink) -> None:
        self._sink = sink

    def write_batch(self, values: list[list[Delta]]) -> None:
        sink = self._sink
        if sink.failure is not None:
            return  # the run has failed: what is still in flight is not written
        try:
            write_deltas(sink.path, [d for batch in values for d in batch])
        except (duckdb.Error, OSError, DatabaseError) as exc:
            # Not raised into Bytewax (that is a panic with a page of Rust
            # backtrace): the source sees ``stop`` and ends the flow instead.
            sink.failure = describe_write_error(sink.path, exc)
            sink.stop.set()

    def snapshot(self) -> None:
        return None


class DuckDBSink(FixedPartitionedSink[list[Delta], None]):
    """Single-partition sink writing micro-batches of deltas to a DuckDB file.

    When a write fails (the transaction is rolled back, so the file stays
    consistent) ``failure`` holds one line for the user, ``stop`` is set so that
    a source watching it ends the run, and later batches are not written.
    """

    def __init__(self, path: Path, stop: threading.Event | None = None) -> None:
        self.path = path
        self.stop = stop or threading.Event()
        self.failure: str | None = None

    def list_parts(self) -> list[str]:
        return ["duckdb"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Partition:
        return _Partition(self)

"""The DuckDB sink: one writer, micro-batches in one transaction, then a publish.

All deltas are routed to a single sink partition, so exactly one worker
writes, on a thread of its own (:class:`DuckDBSink`), into the writer's
store (``flows.store``), which stays open for the run. Each micro-batch (the
deltas the micro-batch step gathered) is merged (later rows win per key),
then written in one transaction:

* ``exception_events``, ``order_events``: plain inserts for the dataflow
  (its dedupe guarantees new ids; :func:`write_deltas` used elsewhere
  inserts-or-replaces);
* ``exceptions``: insert-or-replace by id, through ``core.schema``'s SELECT,
  which computes its rule columns ``met_sla``, ``first_touch_resolution``,
  ``auto_resolved`` with the ``core.rules`` expressions the KPIs use;
* ``exception_versions``: delete-then-insert per exception (the full set);
* ``order_state``: the batch's order events merged into their orders' rows
  (``core.order_state``; merging an event twice changes nothing);
* ``rejected_events``, ``duplicate_events``: insert-or-ignore by (source, offset),
  so a replayed line keeps its first ``received_at``;
* ``pending_events``: insert-or-replace held events, delete applied ones;
* ``sla_alerts``: insert-or-replace by ``alert_id`` (a retraction rewrites
  its row); ``alert_outbox``: insert-or-ignore (a message delivered stays so);
* ``flow_clock``: the data clock and heartbeat (the data clock never moves
  back, whoever writes); ``stream_offsets``: insert-or-replace per partition,
  in the same transaction as every output of the messages before the offset.

Writing the same delta twice therefore changes nothing. Rows are tuples in
the order of their table's ``columns`` in ``core.schema``, which also gives
the frames' dtypes and the primary keys ``merge`` uses. After the commit the
rows it wrote, in their stored form, are staged for the publisher
(``flows.publish``), which writes them as Parquet behind the views file
readers open: readers never wait for the writer, nor it for them.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import cast

import duckdb
import polars as pl
from bytewax.outputs import FixedPartitionedSink, StatefulSinkPartition

from core import order_state, schema
from core.db import DatabaseError, init_schema, open_write

from .publish import ArrowTable, Publisher
from .records import Delta
from .store import Store


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
    outbox: dict[tuple[object, object], tuple[object, ...]] = {}
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
        out.alerts.update(d.alerts)
        for r in d.outbox:
            outbox.setdefault((r[0], r[1]), r)
        if d.clock is not None:
            out.clock = d.clock
        out.offsets.update(d.offsets)
    out.outbox = list(outbox.values())
    out.events = list(events.values())
    out.order_events = list(orders.values())
    out.rejected = list(rejected.values())
    out.duplicates = list(duplicates.values())
    out.pending_add = [r for r in pending.values() if r is not None]
    out.pending_remove = [k for k, r in pending.items() if r is None]
    return out


@contextmanager
def _registered(con: duckdb.DuckDBPyConnection, name: str, rows: object) -> Iterator[None]:
    """``rows`` (a frame) visible to SQL on ``con`` as ``name`` for the block."""
    con.register(name, rows)
    try:
        yield
    finally:
        try:
            con.unregister(name)
        except duckdb.Error:
            pass  # an aborted transaction refuses it: keep the error that aborted it


def _arrow(con: duckdb.DuckDBPyConnection, sql: str) -> ArrowTable:
    """The result of ``sql`` as an Arrow table."""
    return cast(ArrowTable, con.sql(sql).to_arrow_table())


Staged = dict[str, ArrowTable]
"""Rows a commit wrote, by table, in their stored form (what a publish needs)."""


def write_delta(con: duckdb.DuckDBPyConnection, d: Delta, *, append: bool = False) -> Staged:
    """Write one merged delta in the current transaction (idempotent); returns
    the rows written, by table, as ``flows.publish`` stages them: the new rows
    of append-only tables (a replayed reject or duplicate is not new), the
    complete current rows of every key touched in keyed ones.

    ``append``: insert ``exception_events`` and ``order_events`` rows plainly
    instead of insert-or-replace, for a writer whose dedupe guarantees they
    are new (the dataflow's); a repeated id then fails the transaction.
    """
    new_rows = "INSERT" if append else "INSERT OR REPLACE"
    staged: Staged = {}

    def upsert(
        table: schema.Table,
        rows: Sequence[tuple[object, ...]],
        verb: str = "INSERT OR REPLACE",
        *,
        new_only: bool = False,
    ) -> None:
        if not rows:
            return
        batch = frame(table, rows)
        # the table's name and SELECT and the verb are constants, never user input
        with _registered(con, "batch", batch):
            if table.rule_when is None and not new_only:
                out = cast(ArrowTable, batch.to_arrow())
            else:
                src = f"({table.insert_from('batch')})"
                if new_only:  # insert-or-ignore, keeping what was new to publish it
                    keys = ", ".join(table.key)
                    src = f"(SELECT * FROM {src} ANTI JOIN {table.name} USING ({keys}))"  # noqa: S608
                out = _arrow(con, f"SELECT * FROM {src}")  # noqa: S608
                if out.num_rows == 0:
                    return
        with _registered(con, "fresh", out):
            if verb == "INSERT OR REPLACE" and not table.enforced:
                # no constraint to replace by: delete the keys, then insert
                (key,) = table.key
                con.execute(
                    f"DELETE FROM {table.name} WHERE {key} IN (SELECT {key} FROM fresh)"  # noqa: S608
                )
                verb = "INSERT"
            con.execute(f"{verb} INTO {table.name} BY NAME SELECT * FROM fresh")  # noqa: S608
        staged[table.name] = out

    upsert(schema.EXCEPTION_EVENTS, d.events, verb=new_rows)
    upsert(schema.ORDER_EVENTS, d.order_events, verb=new_rows)
    if d.order_events:
        *merge_stmts, drop = order_state.merge_statements("batch")
        # the rows just inserted (their frame is built once)
        with _registered(con, "batch", staged[schema.ORDER_EVENTS.name]):
            for stmt in merge_stmts:
                con.execute(stmt)
        staged[schema.ORDER_STATE.name] = _arrow(
            con,
            f"SELECT * FROM {order_state.MERGED}",  # noqa: S608 - a constant
        )
        con.execute(drop)
    upsert(schema.EXCEPTIONS, list(d.exceptions.values()))
    if d.versions:
        versions = schema.EXCEPTION_VERSIONS
        with _registered(con, "ids", pl.DataFrame({"exception_id": list(d.versions)})):
            con.execute(
                f"DELETE FROM {versions.name} "  # noqa: S608 - a constant
                "WHERE exception_id IN (SELECT exception_id FROM ids)"
            )
        upsert(versions, [r for rows in d.versions.values() for r in rows], verb="INSERT")
    upsert(schema.REJECTED_EVENTS, d.rejected, verb="INSERT", new_only=True)
    upsert(schema.DUPLICATE_EVENTS, d.duplicates, verb="INSERT", new_only=True)
    if d.pending_remove:
        with _registered(con, "gone", pl.DataFrame({"event_id": d.pending_remove})):
            con.execute(
                f"DELETE FROM {schema.PENDING_EVENTS.name} "  # noqa: S608 - a constant
                "WHERE event_id IN (SELECT event_id FROM gone)"
            )
    upsert(schema.PENDING_EVENTS, d.pending_add)
    upsert(schema.SLA_ALERTS, list(d.alerts.values()))
    upsert(schema.ALERT_OUTBOX, d.outbox, verb="INSERT", new_only=True)
    if d.clock is not None:
        upsert(schema.FLOW_CLOCK, [_monotone_clock(con, d.clock)])
    if d.offsets:
        # never backwards: a message read again (a helper process resuming from
        # the published offsets) must not lower what the store already holds
        offsets = frame(schema.STREAM_OFFSETS, list(d.offsets.values()))
        with _registered(con, "fresh", offsets):
            con.execute(
                f"INSERT INTO {schema.STREAM_OFFSETS.name} BY NAME SELECT * FROM fresh "  # noqa: S608
                "ON CONFLICT (topic, partition) DO UPDATE SET "
                "next_offset = greatest(next_offset, excluded.next_offset), "
                "committed_at = excluded.committed_at"
            )
        staged[schema.STREAM_OFFSETS.name] = cast(ArrowTable, offsets.to_arrow())
    return staged


def _monotone_clock(con: duckdb.DuckDBPyConnection, row: tuple[object, ...]) -> tuple[object, ...]:
    """``row`` (a ``flow_clock`` row) with its data clock never behind the stored one."""
    stored = con.execute(
        f"SELECT epoch_us(data_clock) FROM {schema.FLOW_CLOCK.name} WHERE name = ?",  # noqa: S608
        [row[0]],
    ).fetchall()
    before = stored[0][0] if stored else None
    clock = row[2]
    if before is not None and (clock is None or int(str(clock)) < int(before)):
        return (*row[:2], int(before), *row[3:])
    return row


def commit_delta(
    con: duckdb.DuckDBPyConnection,
    merged: Delta,
    *,
    append: bool = False,
    also: Sequence[str] = (),
) -> Staged:
    """Write ``merged`` in one transaction on ``con`` (rolled back on any error),
    running the statements ``also`` in it too; returns what it wrote."""
    con.execute("BEGIN TRANSACTION")
    try:
        staged = write_delta(con, merged, append=append)
        for stmt in also:
            con.execute(stmt)
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.Error:
            pass  # a failed COMMIT has already ended the transaction: keep its error
        raise
    return staged


def write_deltas(path: Path, deltas: Sequence[Delta]) -> None:
    """Open ``path``, write ``deltas`` in one transaction, close."""
    merged = merge(deltas)
    if merged.is_empty():
        return
    with open_write(path) as con:
        commit_delta(con, merged)


def committed_tags(deltas: Sequence[Delta]) -> dict[str, int]:
    """The highest chunk tag of each stream key among ``deltas``."""
    tags: dict[str, int] = {}
    for d in deltas:
        if d.tag > tags.get(d.key, 0):
            tags[d.key] = d.tag
    return tags


def ensure_database(path: Path) -> None:
    """Create the file and every table if missing (idempotent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_write(path) as con:
        init_schema(con)


def _cause(exc: BaseException) -> str:
    """The first line of what went wrong."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    text = str(exc).strip()
    if "Original error:" in text:  # DuckDB names the root cause (e.g. a full disk) last
        text = text.rsplit("Original error:", 1)[1].strip()
    lines = text.splitlines()
    return lines[0] if lines else type(exc).__name__


def describe_write_error(path: Path, exc: BaseException) -> str:
    """One line naming the file and the cause of a failed write (disk full, read-only)."""
    return f"cannot write database {path}: {_cause(exc)} (nothing of the failed batch was kept)"


def describe_publish_error(path: Path, exc: BaseException) -> str:
    """One line naming the views file and the cause of a failed publish."""
    return (
        f"cannot publish database {path}: {_cause(exc)} (what was committed is kept "
        "in the store and published by the next run)"
    )


class _Partition(StatefulSinkPartition[list[Delta], None]):
    def __init__(self, sink: DuckDBSink) -> None:
        self._sink = sink

    def write_batch(self, values: list[list[Delta]]) -> None:
        self._sink.submit([d for batch in values for d in batch])

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        self._sink.drain()


class DuckDBSink(FixedPartitionedSink[list[Delta], None]):
    """Single-partition sink writing micro-batches of deltas to the writer's store.

    The writes run on a thread of their own (DuckDB works without the GIL, so
    a commit overlaps with parsing the next chunks: both cores work); at most
    ``QUEUE_BATCHES`` micro-batch waits for it, then the flow waits (never
    drops). After each commit the thread stages the rows for the publisher
    (``flows.publish``), publishes when one is due, and raises
    ``store.committed`` to the highest chunk tag of each stream key it wrote
    (the applier then lets go of that state).

    When a write fails (the transaction is rolled back, so the file stays
    consistent) ``failure`` holds one line for the user, ``stop`` is set so that
    a source watching it ends the run, and later batches are not written.
    :meth:`drain` waits for everything submitted (the run calls it at the end).
    """

    QUEUE_BATCHES = 1

    def __init__(
        self,
        store: Store,
        stop: threading.Event | None = None,
        publisher: Publisher | None = None,
        on_messages: Callable[[], None] | None = None,
    ) -> None:
        self.store = store
        self.publisher = publisher
        self.on_messages = on_messages
        """Called after a commit that wrote alert messages (wakes their delivery)."""
        self.stop = stop or threading.Event()
        self.failure: str | None = None
        self.error: BaseException | None = None
        """What ended the writer thread unexpectedly (for ``FPI_DEBUG``)."""
        self._queue: queue.Queue[list[Delta] | None] = queue.Queue(self.QUEUE_BATCHES)
        self._thread: threading.Thread | None = None

    def list_parts(self) -> list[str]:
        return ["duckdb"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Partition:
        return _Partition(self)

    def submit(self, deltas: list[Delta]) -> None:
        """Queue one micro-batch for the writer thread (waits while it is full)."""
        if self.failure is not None:
            return  # the run has failed: what is still in flight is not written
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fpi-writer", daemon=True)
            self._thread.start()
        self._put(deltas)

    def _put(self, item: list[Delta] | None) -> None:
        """Queue ``item``, never waiting on a writer thread that has ended."""
        thread = self._thread
        while thread is not None and thread.is_alive():
            try:
                self._queue.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def drain(self) -> None:
        """Wait until every submitted batch is written (or the writer failed);
        the writer publishes what is left before it ends."""
        if self._thread is not None:
            self._put(None)
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        try:
            while (deltas := self._queue.get()) is not None:
                if self.failure is None:
                    self._write(deltas)
            if self.failure is None and self.publisher is not None:
                self._publish(self.publisher.close)
        except Exception as exc:  # noqa: BLE001 - a dead writer must stop the run, with a reason
            self.error = exc
            self.failure = f"the database writer failed: {type(exc).__name__}: {_cause(exc)}"
            self.stop.set()
        finally:
            while True:  # let a producer blocked on the queue go on (and stop)
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break

    def _publish(self, publish: Callable[[], object]) -> bool:
        """Run one publish step; a failure stops the run with one line (the
        committed data stays in the store and is published by the next run)."""
        try:
            publish()
        except (duckdb.Error, OSError, DatabaseError) as exc:
            self.failure = describe_publish_error(self.store.path, exc)
            self.stop.set()
            return False
        return True

    def _write(self, deltas: list[Delta]) -> None:
        store, publisher = self.store, self.publisher
        try:
            merged = merge(deltas)
            if not merged.is_empty():
                also = (publisher.mark_written(),) if publisher is not None else ()
                staged = commit_delta(store.con, merged, append=True, also=also)
                if merged.outbox and self.on_messages is not None:
                    self.on_messages()
                if publisher is not None:
                    for name, rows in staged.items():
                        publisher.stage(schema.BY_NAME[name], rows)
        except (duckdb.Error, OSError, DatabaseError) as exc:
            # Not raised into Bytewax (that is a panic with a page of Rust
            # backtrace): the source sees ``stop`` and ends the flow instead.
            self.failure = describe_write_error(store.path, exc)
            self.stop.set()
            return
        if publisher is not None and not self._publish(publisher.maybe_publish):
            return
        store.committed.update(committed_tags(deltas))

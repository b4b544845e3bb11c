"""Run the dataflow over files to the end: what ``fpi ingest`` does.

One ingest writes a database at a time (a lock file beside it refuses a
second writer with a clear message); any number of readers may query it
meanwhile. The summary counts come from the database before and after the
run, so a re-run over the same input reports ``+0`` everywhere.
"""

from __future__ import annotations

import fcntl
import gc
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
from bytewax.dataflow import Dataflow
from bytewax.testing import run_main

from core import sla_record
from core.config import Settings, load_settings
from core.db import DatabaseError, fetch_row, quality_counts
from core.layout import Layout, is_legacy, migrate_legacy
from core.timeutil import Clock, system_clock

from .dataflow import build_flow
from .publish import Publisher
from .sink import DuckDBSink, describe_publish_error, ensure_database
from .sources import Inputs, JsonLinesSource, Progress, expand_paths
from .store import Store, open_store

INGEST_FLUSH_EVERY = timedelta(seconds=2)
"""Micro-batch bound for file ingest. Each write opens, commits and closes (and so
checkpoints) the file, ~60-100 ms: fewer, larger batches ingest faster, and
readers still get in between them. Live flows keep ``build_flow``'s 1 s."""
INGEST_FLUSH_MAX_DELTAS = 2000
INGEST_PUBLISH_EVERY = 2.0
"""Seconds between two publishes during a file ingest, at least (each costs
~0.1-0.3 s of the writer thread: new Parquet parts and a new views file).
A live flow publishes every 0.5 s."""


@dataclass(frozen=True, slots=True)
class Counts:
    """Data-quality totals stored in a database."""

    accepted: int
    duplicates: int
    rejected: int
    pending: int


@dataclass(frozen=True, slots=True)
class IngestSummary:
    """What one ``fpi ingest`` did."""

    files: int
    lines_read: int
    seconds: float
    before: Counts
    after: Counts

    def line(self) -> str:
        """The one-line summary printed by ``fpi ingest``."""
        a, b = self.after, self.before
        rate = self.lines_read / self.seconds if self.seconds > 0 else 0.0
        return (
            f"read {self.lines_read:,} lines from {self.files} file(s) in {self.seconds:.1f}s "
            f"({rate:,.0f} lines/s): accepted {a.accepted:,} (+{a.accepted - b.accepted:,}), "
            f"duplicates {a.duplicates:,} (+{a.duplicates - b.duplicates:,}), "
            f"rejected {a.rejected:,} (+{a.rejected - b.rejected:,}), "
            f"pending {a.pending:,} ({a.pending - b.pending:+,})"
        )


@dataclass(slots=True)
class PreparedRun:
    """A dataflow ready to run, with what it reads."""

    flow: Dataflow
    run_id: int
    files: list[Path]
    progress: Progress
    sink: DuckDBSink
    repeated: list[tuple[Path, Path]]


def counts(con: duckdb.DuckDBPyConnection) -> Counts:
    """Data-quality totals of the database ``con`` is open on (``core.db.quality_counts``)."""
    q = quality_counts(con)
    return Counts(
        q["accepted_events"], q["duplicate_events"], q["rejected_events"], q["pending_events"]
    )


@contextmanager
def writer_lock(db: Path) -> Iterator[Layout]:
    """Be the only writer of ``db``, whatever name it is reached by; yields its layout.

    ``db`` is the views file readers open; the writer's store and the
    published files live in ``<db>.d/`` (``core.layout``). A database written by
    an earlier release (one plain DuckDB file) is moved into the store first.

    Two locks, both ``flock``s that the kernel drops when the process dies (so a
    ``kill -9`` leaves nothing stale behind):

    1. ``<real path>.ingest.lock`` beside the resolved views file, held while
       the store is created (a symlink resolves to the same lock file);
    2. the store file itself, held for the whole run: a lock on the file's
       identity. DuckDB's own locks are ``fcntl`` record locks, independent of
       ``flock``, so they are not disturbed.

    A views file without its store beside it (a hard link or a copy of a
    published file) is refused: its store is elsewhere.

    The lock file is removed when the ingest ends.
    """
    layout = Layout(db)
    real = layout.views
    lock_path = real.with_name(real.name + ".ingest.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    busy = f"another `fpi ingest` or `fpi stream` is writing {db}; wait for it to finish"
    with lock_path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseError(busy) from None
        try:
            if is_legacy(layout):
                migrate_legacy(layout)
            elif real.exists() and not layout.store.exists():
                raise DatabaseError(
                    f"{db} is a published view of a database stored elsewhere (its "
                    f"{layout.dir.name}/ folder is missing): write to the original path"
                )
            ensure_database(layout.store)
            with layout.store.open("rb") as dbfh:
                try:
                    fcntl.flock(dbfh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise DatabaseError(busy) from None
                yield layout
        finally:
            lock_path.unlink(missing_ok=True)
            fcntl.flock(fh, fcntl.LOCK_UN)


def prepare_run(
    inputs: list[Path] | Inputs,
    store: Store,
    settings: Settings,
    clock: Clock,
    *,
    chunk_lines: int = 2000,
    flush_max_deltas: int = INGEST_FLUSH_MAX_DELTAS,
    publisher: Publisher | None = None,
) -> PreparedRun:
    """Record the run in the store and build the flow over it.

    Runs still marked ``running`` belong to a process that died (the caller
    holds the writer lock, so no other run is alive): they are marked
    ``interrupted``. No state is loaded here: the flow asks the store for
    what it needs as events arrive (``flows.apply``).
    """
    found = inputs if isinstance(inputs, Inputs) else expand_paths(inputs)
    files = found.files
    con = store.con
    con.execute(Publisher.mark_written())
    con.execute("UPDATE ingest_runs SET status = 'interrupted' WHERE status = 'running'")
    (last,) = fetch_row(con, "SELECT coalesce(max(run_id), 0) FROM ingest_runs")
    run_id = int(str(last)) + 1
    con.execute(
        "INSERT INTO ingest_runs VALUES (?, ?, NULL, ?, NULL, 'running')",
        [run_id, clock(), "\n".join(str(f) for f in files)],
    )
    progress = Progress()
    sink = DuckDBSink(store, publisher=publisher)
    source = JsonLinesSource(
        files, run_id, chunk_lines=chunk_lines, progress=progress, stop=sink.stop
    )
    flow = build_flow(
        source,
        sink,
        settings=settings,
        clock=clock,
        store=store,
        flush_every=INGEST_FLUSH_EVERY,
        flush_max_deltas=flush_max_deltas,
    )
    return PreparedRun(flow, run_id, files, progress, sink, found.repeated)


def ingest(
    inputs: list[Path],
    db: Path,
    settings: Settings,
    clock: Clock,
    *,
    on_progress: Callable[[Progress, int | None], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    chunk_lines: int = 2000,
    flush_max_deltas: int = INGEST_FLUSH_MAX_DELTAS,
) -> IngestSummary:
    """Run the dataflow over ``inputs`` into ``db`` to the end.

    ``on_progress(progress, total_bytes)`` is called about twice a second from
    a helper thread while the flow runs (``total_bytes`` is ``None`` when a
    compressed input makes the total unknown). ``on_note(line)`` receives one
    line per notable input problem: a file named twice, a file that could not
    be read to its end. ``chunk_lines`` and ``flush_max_deltas`` (lines per
    chunk, chunks per transaction at most) are for tests and benchmarks. A
    database that cannot be written (disk full, read-only) raises
    ``DatabaseError`` with one line naming the file and the cause; the run
    is then marked ``failed`` (or, when even that cannot be written,
    ``interrupted`` by the next run).
    """
    with writer_lock(db) as layout, open_store(layout.store) as store:
        sla_record.adopt(store.con, settings, str(db))
        started = time.perf_counter()  # a migration's or recovery's export counts too
        publisher = start_publisher(layout, store, INGEST_PUBLISH_EVERY)
        before = counts(store.con)
        found = expand_paths(inputs)
        if on_note is not None:
            for name, same in found.repeated:
                on_note(f"{name} is the same file as {same}: read once")
        run = prepare_run(
            found,
            store,
            settings,
            clock,
            chunk_lines=chunk_lines,
            flush_max_deltas=flush_max_deltas,
            publisher=publisher,
        )
        total = (
            None
            if any(f.name.endswith(".gz") for f in run.files)
            else sum(f.stat().st_size for f in run.files)
        )
        stop = threading.Event()
        ticker: threading.Thread | None = None
        if on_progress is not None:
            cb = on_progress

            def tick() -> None:
                while not stop.wait(0.5):
                    cb(run.progress, total)

            ticker = threading.Thread(target=tick, daemon=True)
            ticker.start()
        status = "failed"
        # The flow's state is acyclic and long-lived: the cyclic collector
        # would rescan it again and again (measured: 2x slower at 200k events).
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            run_main(run.flow)
            run.sink.drain()
            if run.sink.failure is None:
                status = "done"
        finally:
            run.sink.drain()
            if gc_was_enabled:
                gc.enable()
            stop.set()
            if ticker is not None:
                ticker.join()
            _finish_run(store, run, status, clock)
            _publish_last(publisher, status)
        if run.sink.failure is not None:  # the sink stopped the run and says why
            raise DatabaseError(run.sink.failure)
        if on_progress is not None:
            on_progress(run.progress, total)
        if on_note is not None:
            for fault in (*run.progress.faults, *publisher.notes):
                on_note(fault)
        after = counts(store.con)
        return IngestSummary(
            len(run.files), run.progress.lines_read, time.perf_counter() - started, before, after
        )


def start_publisher(layout: Layout, store: Store, every: float) -> Publisher:
    """The run's publisher (its start rewrites the views file, after a crash
    every file); a database that cannot be written is one line (``DatabaseError``)."""
    try:
        return Publisher(layout, store.con, min_interval=every)
    except (duckdb.Error, OSError) as exc:
        raise DatabaseError(describe_publish_error(layout.views, exc)) from exc


def _publish_last(publisher: Publisher, status: str) -> None:
    """Publish what the run left staged (readers then see all of it)."""
    try:
        publisher.close()
    except (duckdb.Error, OSError):
        if status == "done":
            raise


def _finish_run(store: Store, run: PreparedRun, status: str, clock: Clock) -> None:
    """Record how the run ended.

    A database that cannot record it keeps ``running``, which the next run turns
    into ``interrupted``: after a failed checkpoint (disk full) DuckDB refuses
    every further write in this process.
    """
    try:
        store.con.execute(
            "UPDATE ingest_runs SET finished_at = ?, lines_read = ?, status = ? WHERE run_id = ?",
            [clock(), run.progress.lines_read, status, run.run_id],
        )
        store.con.execute(Publisher.mark_written())
    except (DatabaseError, duckdb.Error):
        if status == "done":
            raise


def get_flow() -> Dataflow:
    """Factory for ``python -m bytewax.run "flows.ingest:get_flow()"``.

    Reads ``FPI_INPUT`` (files or folders, ``os.pathsep``-separated) into
    ``FPI_DB``; ``FPI_CONFIG`` as usual. No writer lock is taken: run one at a time.
    """
    inputs = [Path(p) for p in os.environ["FPI_INPUT"].split(os.pathsep)]
    layout = Layout(Path(os.environ["FPI_DB"]))
    if is_legacy(layout):
        migrate_legacy(layout)
    ensure_database(layout.store)
    # held open for the life of the process (Bytewax runs the flow after we return)
    store = open_store(layout.store).__enter__()
    run = prepare_run(
        inputs, store, load_settings(), system_clock, publisher=Publisher(layout, store.con)
    )
    return run.flow

"""``fpi stream``: the live dataflow from a Kafka topic into DuckDB.

The same flow as a file ingest (``flows.dataflow``: parse, then one apply
step, then one writer), with a Kafka source (``flows.kafka_source``) and a
live apply step:

* **exactly once into DuckDB.** Every partition's chunks go to the one apply
  step (a single stream key, ``stream``: dedupe across partitions is exact —
  "the first to be committed wins" — and one data clock sees every event),
  and each chunk becomes exactly one delta carrying its partition's next
  offset. The sink commits a micro-batch of deltas in one transaction with
  their ``stream_offsets`` rows, so the stored offset of a partition is
  always the low watermark below which every output of every message is
  committed. A restart — after ``kill -9`` too — resumes from those
  offsets; a message read twice lands on the same (source, offset) and
  changes nothing.
* **the data clock** (``kpis.md``): the latest event time while catching up
  on a backlog; once every partition is at its end, the wall clock of the
  heartbeat written with every commit (at least twice a second). SLA alerts
  are raised when the clock reaches their ``due_at``, by a timer on the wall
  clock when caught up (no event needed).
* **alert messages**: with a webhook, raises and retractions are written to
  ``alert_outbox`` in the transaction that made them and delivered by
  :class:`flows.webhook.AlertDelivery` (at least once, retried across restarts).

Ends cleanly on SIGINT/SIGTERM (or ``stop``): what was read is committed and
published before it returns.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType
from typing import Never

import duckdb
from bytewax.outputs import FixedPartitionedSink
from bytewax.run import cli_main
from bytewax.testing import run_main

from core import sla_record
from core.config import Settings
from core.db import DatabaseError, open_read
from core.timeutil import Clock, from_us, iso_z

from .apply import Applier
from .dataflow import LiveSetup, build_flow
from .ingest import start_publisher, writer_lock
from .kafka_source import KafkaChunkSource, list_partitions
from .records import Delta
from .sink import DuckDBSink
from .store import open_store
from .webhook import AlertDelivery

STREAM_KEY = "stream"
"""The one stream key of a live flow (every partition's chunks)."""

STREAM_FLUSH_EVERY = 0.2
"""Seconds a micro-batch waits for more deltas before its commit."""

STREAM_PUBLISH_EVERY = 0.5
"""Seconds between two publishes of the views file readers open."""


@dataclass(frozen=True, slots=True)
class StreamOptions:
    """How ``fpi stream`` runs."""

    brokers: str
    topic: str
    webhook: str | None = None
    secret: str | None = None
    workers: int = 1
    processes: int = 1
    """Bytewax processes on this machine (``--processes``): this one (process 0)
    holds the store; the others read and parse partitions and feed it."""
    process_id: int = 0
    addresses: tuple[str, ...] = ()
    """The cluster's ``host:port`` of each process (set by process 0 for the others)."""
    batch: int = 2000
    """Messages per chunk at most."""
    flush_every: float = STREAM_FLUSH_EVERY
    publish_every: float = STREAM_PUBLISH_EVERY
    kafka_config: dict[str, object] | None = None


@dataclass(frozen=True, slots=True)
class StreamSummary:
    """What a run of ``fpi stream`` did, for its last line."""

    lines: int
    """Messages parsed (accepted, duplicates, held and rejected)."""
    seconds: float
    caught_up: bool


@contextmanager
def _stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT/SIGTERM set ``stop`` (the source then ends the flow cleanly)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def status_line(live: LiveSetup) -> str:
    """One progress line: lag per partition, caught up or not, the data clock."""
    lag = live.status.get("lag") or {}
    assert isinstance(lag, dict)
    parts = " ".join(f"{p}:{'?' if n < 0 else n}" for p, n in lag.items())
    state = "caught up" if live.status.get("caught_up") else "catching up"
    applier = live.status.get("applier")
    clock = "-"
    extra = ""
    if isinstance(applier, Applier):
        if applier.clock_us is not None:
            clock = iso_z(from_us(applier.clock_us)) or "-"
        extra = f" · {len(applier.hot)} open in memory · {len(applier.book)} alerts pending"
    return f"fpi stream: lag {parts} ({state}) · data clock {clock}{extra}"


def stream(
    db: Path,
    options: StreamOptions,
    settings: Settings,
    clock: Clock,
    *,
    stop: threading.Event | None = None,
    on_status: Callable[[str], None] | None = None,
    status_every: float = 2.0,
) -> StreamSummary:
    """Run the live flow until ``stop`` is set (or SIGINT/SIGTERM in the main thread).

    ``on_status`` receives a progress line every ``status_every`` seconds.
    Errors a user can act on (broker unreachable, unknown topic, a second
    writer, a database that cannot be written) raise ``DatabaseError`` /
    ``RuntimeError`` with one line.
    """
    stop = stop or threading.Event()
    started = time.perf_counter()
    with writer_lock(db) as layout, open_store(layout.store) as store:
        sla_record.adopt(store.con, settings, str(db))
        partitions = list_partitions(options.brokers, options.topic)
        publisher = start_publisher(layout, store, options.publish_every)
        offsets = store.stream_offsets(options.topic)
        source = _source(options, partitions, offsets, stop)
        delivery: AlertDelivery | None = None
        if options.webhook:
            delivery = AlertDelivery(
                store.con, options.webhook, clock=clock, secret=options.secret
            ).start()
        sink = DuckDBSink(
            store, stop, publisher, on_messages=None if delivery is None else delivery.notify
        )
        live = LiveSetup(partitions, messages=delivery is not None)
        flow = build_flow(
            source,
            sink,
            settings=settings,
            clock=clock,
            store=store,
            key_of=lambda _c: STREAM_KEY,
            flush_every=timedelta(seconds=options.flush_every),
            live=live,
        )
        done = threading.Event()
        ticker: threading.Thread | None = None
        if on_status is not None:
            report = on_status

            def tick() -> None:
                shown = 0
                while not done.wait(status_every):
                    report(status_line(live))
                    for note in publisher.notes[shown:]:  # a compaction left for later
                        report(note)
                    shown = len(publisher.notes)

            ticker = threading.Thread(target=tick, name="fpi-stream-status", daemon=True)
            ticker.start()
        children: list[subprocess.Popen[bytes]] = []
        try:
            with _stop_on_signals(stop):
                if options.processes > 1:
                    addresses = _cluster_addresses(options.processes)
                    children = _start_helpers(db, options, addresses)
                    watcher = threading.Thread(
                        target=_stop_helpers_on, args=(stop, children), daemon=True
                    )
                    watcher.start()
                    cli_main(
                        flow,
                        workers_per_process=options.workers,
                        process_id=0,
                        addresses=list(addresses),
                    )
                elif options.workers > 1:
                    cli_main(flow, workers_per_process=options.workers)
                else:
                    run_main(flow)
        finally:
            stop.set()
            for child in children:
                _end(child)
            sink.drain()
            done.set()
            if ticker is not None:
                ticker.join()
            if delivery is not None:
                delivery.stop()
        if sink.failure is not None:
            raise DatabaseError(sink.failure)
        lines = live.status.get("lines", 0)
        assert isinstance(lines, int)
        return StreamSummary(
            lines, time.perf_counter() - started, bool(live.status.get("caught_up"))
        )


def _source(
    options: StreamOptions, partitions: list[int], offsets: dict[int, int], stop: threading.Event
) -> KafkaChunkSource:
    return KafkaChunkSource(
        options.brokers,
        options.topic,
        partitions,
        offsets,
        stop,
        batch=options.batch,
        config=options.kafka_config,
    )


def _cluster_addresses(n: int) -> tuple[str, ...]:
    """``n`` free loopback ``host:port`` for the processes of a local cluster."""
    socks = []
    try:
        for _ in range(n):
            sk = socket.socket()
            sk.bind(("127.0.0.1", 0))
            socks.append(sk)
        return tuple(f"127.0.0.1:{sk.getsockname()[1]}" for sk in socks)
    finally:
        for sk in socks:
            sk.close()


def _start_helpers(
    db: Path, options: StreamOptions, addresses: tuple[str, ...]
) -> list[subprocess.Popen[bytes]]:
    """Processes 1 … n-1 of the cluster: ``fpi stream`` again with a process id."""
    out = []
    for pid in range(1, options.processes):
        cmd = [sys.executable, "-m", "fpi", "stream", "--brokers", options.brokers]
        cmd += ["--topic", options.topic, "--db", str(db), "--quiet"]
        cmd += ["--processes", str(options.processes), "--workers", str(options.workers)]
        cmd += ["--process-id", str(pid), "--cluster", ",".join(addresses)]
        out.append(subprocess.Popen(cmd))
    return out


def _stop_helpers_on(stop: threading.Event, children: list[subprocess.Popen[bytes]]) -> None:
    """When this process is told to stop, so are the helper processes (SIGTERM)."""
    while not stop.wait(0.2):
        if any(c.poll() is not None for c in children):
            stop.set()  # a helper died: end the cluster (restart resumes from the offsets)
    for c in children:
        if c.poll() is None:
            c.send_signal(signal.SIGTERM)


def _end(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
    try:
        child.wait(30)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait(5)


class _NoWriterHere(FixedPartitionedSink[list[Delta], None]):
    """The sink as a helper process sees it: its one partition lives in process 0."""

    def list_parts(self) -> list[str]:
        return ["duckdb"]

    def part_fn(self, item_key: str) -> int:
        return 0

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> Never:
        raise RuntimeError(
            "the DuckDB writer was placed in a helper process: this cluster layout "
            "is not supported (use --processes with the default --workers 1)"
        )


def run_helper(db: Path, options: StreamOptions, settings: Settings, clock: Clock) -> None:
    """Process ``options.process_id`` > 0 of ``fpi stream --processes N``: reads
    and parses the partitions Bytewax gives it and sends their chunks to the
    apply step and writer in process 0. Its starting offsets come from the
    published views file (possibly older than the store after a crash: the
    messages read again land on their stored positions and change nothing)."""
    stop = threading.Event()
    partitions = list_partitions(options.brokers, options.topic)
    offsets: dict[int, int] = {}
    if db.exists():
        try:
            with open_read(db) as con:
                rows = con.execute(
                    "SELECT partition, next_offset FROM stream_offsets WHERE topic = ?",
                    [options.topic],
                ).fetchall()
            offsets = {int(p): int(o) for p, o in rows}
        except (duckdb.Error, DatabaseError):
            offsets = {}
    flow = build_flow(
        _source(options, partitions, offsets, stop),
        _NoWriterHere(),
        settings=settings,
        clock=clock,
        store=None,
        key_of=lambda _c: STREAM_KEY,
        flush_every=timedelta(seconds=options.flush_every),
        live=LiveSetup(partitions, helper=True),
    )
    with _stop_on_signals(stop):
        cli_main(
            flow,
            workers_per_process=options.workers,
            process_id=options.process_id,
            addresses=list(options.addresses),
        )


def print_status(line: str) -> None:
    """Progress on stderr."""
    print(line, file=sys.stderr, flush=True)

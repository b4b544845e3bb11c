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
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import FrameType

from bytewax.run import cli_main
from bytewax.testing import run_main

from core.config import Settings
from core.db import DatabaseError
from core.timeutil import Clock, from_us, iso_z

from .apply import Applier
from .dataflow import LiveSetup, build_flow
from .ingest import start_publisher, writer_lock
from .kafka_source import KafkaChunkSource, list_partitions
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
        partitions = list_partitions(options.brokers, options.topic)
        publisher = start_publisher(layout, store, options.publish_every)
        offsets = store.stream_offsets(options.topic)
        source = KafkaChunkSource(
            options.brokers,
            options.topic,
            partitions,
            offsets,
            stop,
            batch=options.batch,
            config=options.kafka_config,
        )
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
                while not done.wait(status_every):
                    report(status_line(live))

            ticker = threading.Thread(target=tick, name="fpi-stream-status", daemon=True)
            ticker.start()
        try:
            with _stop_on_signals(stop):
                if options.workers > 1:
                    cli_main(flow, workers_per_process=options.workers)
                else:
                    run_main(flow)
        finally:
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


def print_status(line: str) -> None:
    """Progress on stderr."""
    print(line, file=sys.stderr, flush=True)

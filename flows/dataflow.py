"""The Bytewax dataflow, built by a function that takes its source and sink.

```
read (Chunk of lines) ─► parse ─► key by stream key ─► apply (flows.apply:
    dedupe, lifecycle, held follow-ups, orders, rejects) ─► one Delta per chunk
    ─► key "db" ─► micro-batch ─► sink
```

Work travels in chunks, so Bytewax's per-item cost is paid per chunk. Each
chunk becomes exactly one :class:`~flows.records.Delta`, tagged with its
stream key and number, on a single path to the sink: so when the sink has
committed the delta of chunk *n* of a key, every earlier chunk of that key is
committed too — the low watermark below which the applier may forget state
(and, live, the offset to resume from). A file ingest has one stream key
(files are read in order by one source partition, so "the first
``exception.opened`` to arrive wins" holds). All deltas are keyed ``"db"`` so
exactly one sink partition (one worker) writes, one micro-batch per
transaction (at most ``flush_every`` after its first delta: 1 s by default,
5 s for file ingest).

Production: ``fpi ingest`` (files) passes :class:`flows.sources.JsonLinesSource`,
:class:`flows.sink.DuckDBSink` and the writer's :class:`flows.store.Store`;
tests pass ``TestingSource`` and ``TestingSink`` and no store (everything then
stays in memory). ``python -m bytewax.run "flows.ingest:get_flow()"`` runs it
from the environment (``FPI_INPUT``, ``FPI_DB``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import Source
from bytewax.operators import StatefulLogic
from bytewax.outputs import Sink

from core.config import Settings
from core.timeutil import Clock, from_us, system_clock, to_us

from .apply import Applier, LiveStatus
from .fast_parse import parse_chunk_fast
from .parse import Parsed, Rejected
from .records import Delta
from .sources import FILE_FAULT_OFFSET, Chunk, StreamPosition
from .store import Store

FILE_STREAM_KEY = "files"
"""The one stream key of a file ingest."""


SETTLE = timedelta(seconds=0.3)
"""How long every partition must stay at its end before a live flow counts as
caught up (then its data clock is the wall clock): a passing empty poll during
a backlog must not make it raise alerts by the wall clock."""

HEARTBEAT = timedelta(seconds=0.5)
"""A live flow's heartbeat: a commit at least this often (``kpis.md``: at least
once a second), with the data clock and the partitions' lag."""


@dataclass(slots=True)
class LiveSetup:
    """What the apply step of a live flow (``fpi stream``) needs to know."""

    partitions: list[int]
    """Every partition of the topic: caught up = each one read to its end."""
    writer: str = "stream"
    messages: bool = False
    """Write alert messages to the outbox (a webhook delivers them)."""
    helper: bool = False
    """A helper process of a cluster (no store): the apply step must not land here."""
    status: dict[str, object] = field(default_factory=dict)
    """Filled by the flow for progress lines: ``lag``, ``caught_up``,
    ``applier`` (the :class:`~flows.apply.Applier`)."""


@dataclass(slots=True)
class _Parsed:
    key: str
    events: list[Parsed]
    rejected: list[Rejected]
    position: StreamPosition | None = None


def _parse_chunk(chunk: Chunk, key: str, settings: Settings, clock: Clock) -> _Parsed:
    received_us = to_us(clock())
    # Clean lines take the fast path; every other line goes to parse_line.
    events, rejected = parse_chunk_fast(
        chunk.lines, chunk.source, chunk.first_offset, chunk.first_seq, settings, received_us
    )
    if chunk.fault is not None:
        rejected.append(
            Rejected(
                chunk.source, FILE_FAULT_OFFSET, "", "unreadable_file", chunk.fault, None, None
            )
        )
    return _Parsed(key, events, rejected, chunk.position)


class _ApplyLogic(StatefulLogic[_Parsed, Delta, None]):
    """The apply step of one stream key. State lives in the :class:`Applier`.

    Live (``live`` given): it tracks each partition's position; the flow is
    caught up when every partition is at its end. Its timer fires every
    :data:`HEARTBEAT` (a heartbeat delta) and, when caught up, at the next
    due of an SLA alert on the wall clock, which then raises it with no new
    event needed.
    """

    def __init__(
        self, settings: Settings, clock: Clock, store: Store | None, live: LiveSetup | None
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.store = store
        self.live = live
        self.applier: Applier | None = None
        self.positions: dict[int, StreamPosition] = {}
        self._end_since: datetime | None = None
        self._caught_up = False

    def _applier(self, key: str) -> Applier:
        if self.applier is None:  # Bytewax does not tell a builder its key
            live = self.live
            if live is not None and live.helper:
                raise RuntimeError(
                    "the apply step was placed in a helper process: this cluster layout "
                    "is not supported (use --processes with the default --workers 1)"
                )
            self.applier = Applier(
                key,
                self.settings,
                self.clock,
                self.store,
                writer="ingest" if live is None else live.writer,
                messages=live is not None and live.messages,
            )
            if live is not None:
                live.status["applier"] = self.applier
        return self.applier

    def _status(self, position: StreamPosition | None) -> LiveStatus | None:
        live = self.live
        if live is None:
            return None
        offsets: dict[tuple[str, int], int] = {}
        if position is not None:
            self.positions[position.partition] = position
            offsets[(position.topic, position.partition)] = position.next_offset
        at_end = all(
            (pos := self.positions.get(p)) is not None and pos.at_end for p in live.partitions
        )
        now = self.clock()
        if not at_end:
            self._end_since = None
        elif self._end_since is None:
            self._end_since = now
        caught_up = at_end and (
            self._caught_up or (self._end_since is not None and now - self._end_since >= SETTLE)
        )
        self._caught_up = caught_up
        lag = {str(p): (pos.lag if (pos := self.positions.get(p)) else -1) for p in live.partitions}
        live.status["caught_up"] = caught_up
        live.status["lag"] = lag
        return LiveStatus(caught_up, lag, offsets)

    def on_item(self, value: _Parsed) -> tuple[list[Delta], bool]:
        applier = self._applier(value.key)
        delta = applier.apply(value.events, value.rejected, self._status(value.position))
        if self.live is not None:
            seen = self.live.status.get("lines", 0)
            assert isinstance(seen, int)
            self.live.status["lines"] = seen + len(value.events) + len(value.rejected)
        return [delta], StatefulLogic.RETAIN

    def on_notify(self) -> tuple[list[Delta], bool]:
        status = self._status(None)
        if self.applier is None or status is None:
            return [], StatefulLogic.RETAIN
        return [self.applier.tick(status)], StatefulLogic.RETAIN

    def notify_at(self) -> datetime | None:
        if self.live is None or self.applier is None:
            return None
        at = self.clock() + HEARTBEAT
        if self.live.status.get("caught_up"):
            due = self.applier.next_due_us()
            if due is not None:
                at = min(at, from_us(due))
        return at

    def on_eof(self) -> tuple[list[Delta], bool]:
        if self.applier is not None:
            self.applier.save_filters()
        return [], StatefulLogic.RETAIN

    def snapshot(self) -> None:
        """No Bytewax snapshot: the store holds everything committed, and the
        applier loads what it needs from it (``flows.apply``)."""
        return None


class _MicroBatchLogic(StatefulLogic[Delta, list[Delta], None]):
    """Gather deltas into one sink write: at most ``every`` after the first one
    arrived, at most ``max_deltas`` of them, and whatever is left at EOF.

    Like ``op.collect`` but without its per-epoch deep copy of the buffer, and
    the deadline is set by the *first* delta (bounded latency while a stream
    keeps flowing, where ``collect`` would keep postponing it).
    """

    def __init__(self, clock: Clock, every: timedelta, max_deltas: int) -> None:
        self.clock = clock
        self.every = every
        self.max_deltas = max_deltas
        self.buffer: list[Delta] = []
        self.deadline: datetime | None = None

    def _flush(self) -> tuple[list[list[Delta]], bool]:
        out, self.buffer, self.deadline = self.buffer, [], None
        return ([out] if out else []), StatefulLogic.RETAIN

    def on_item(self, value: Delta) -> tuple[list[list[Delta]], bool]:
        if not self.buffer:
            self.deadline = self.clock() + self.every
        self.buffer.append(value)
        if len(self.buffer) >= self.max_deltas:
            return self._flush()
        return [], StatefulLogic.RETAIN

    def on_notify(self) -> tuple[list[list[Delta]], bool]:
        return self._flush()

    def on_eof(self) -> tuple[list[list[Delta]], bool]:
        return self._flush()

    def notify_at(self) -> datetime | None:
        return self.deadline

    def snapshot(self) -> None:
        """Unflushed deltas are not snapshotted: a restart rebuilds them from input."""
        return None


def build_flow(
    source: Source[Chunk],
    sink: Sink[tuple[str, list[Delta]]],
    *,
    settings: Settings,
    clock: Clock = system_clock,
    store: Store | None = None,
    key_of: Callable[[Chunk], str] = lambda _c: FILE_STREAM_KEY,
    flush_every: timedelta = timedelta(seconds=1),
    flush_max_deltas: int = 400,
    live: LiveSetup | None = None,
) -> Dataflow:
    """Build the dataflow from ``source`` (chunks of raw lines) to ``sink``.

    ``store`` is the writer's store the state reads what it does not hold
    from (``None``: all state in memory); ``key_of`` gives a chunk's stream
    key (dedupe and lifecycle state are per key, so a key must hold every
    event of an exception and every copy of an event); ``clock`` stamps
    ``received_at``/``ingested_at`` and is the only time read; event time
    comes from the events; ``live``: a live flow (``fpi stream``): caught-up
    tracking, heartbeats and alert timers on the wall clock.
    """
    flow = Dataflow("fpi")
    chunks = op.input("read", flow, source)
    parsed = op.map("parse", chunks, lambda c: _parse_chunk(c, key_of(c), settings, clock))
    keyed_chunks = op.key_on("by_stream_key", parsed, lambda pc: pc.key)

    def builder(_resume: object) -> _ApplyLogic:
        return _ApplyLogic(settings, clock, store, live)

    applied = op.key_rm("apply_unkey", op.stateful("apply", keyed_chunks, builder))
    keyed = op.key_on("to_db", applied, lambda _d: "db")
    batches = op.stateful(
        "micro_batch",
        keyed,
        lambda _resume: _MicroBatchLogic(clock, flush_every, flush_max_deltas),
    )
    op.output("sink", batches, sink)
    return flow

"""The Bytewax dataflow, built by a function that takes its source and sink.

```
read (Chunk of lines) ─► parse ─┬─► rejected rows ───────────────────────────────┐
                                └─► dedupe by event_id ──────────┬─► duplicates ──┤
                                        (one key, keeps order)   ├─► order events ┤
                                                                 └─► route by     │
                                      exception_id ─► lifecycle (shards xN) ──────┤
                                                                                  ▼
                                      merge ─► key "db" ─► micro-batch ─► sink
```

Work travels in chunks, so Bytewax's per-item cost is paid per chunk. Dedupe
runs under one key, which keeps arrival order into the lifecycle step (so "the
first ``exception.opened`` to arrive wins" holds). The lifecycle step is keyed by
a *shard* (``crc32(exception_id) % shards``), so it spreads over workers while
each exception always lands on the same shard. All deltas are keyed ``"db"`` so
exactly one sink partition (one worker) writes DuckDB, one micro-batch per
transaction (at most ``flush_every`` after its first delta: 1 s by default,
5 s for file ingest).

Production: ``fpi ingest`` (files) passes :class:`flows.sources.JsonLinesSource`
and :class:`flows.sink.DuckDBSink`; tests pass ``TestingSource`` and
``TestingSink``. ``python -m bytewax.run "flows.ingest:get_flow()"`` runs it
from the environment (``FPI_INPUT``, ``FPI_DB``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.operators import StatefulLogic
from bytewax.outputs import Sink

from core.config import Settings
from core.contract import ORDER_EVENT_TYPES
from core.timeutil import Clock, system_clock, to_us

from .dedupe import Deduper
from .exception_state import ExceptionShard
from .fast_parse import parse_chunk_fast
from .parse import Parsed, Rejected
from .prior import PriorState
from .records import Delta, event_row, order_event_row, rejected_row, shard_of
from .sources import FILE_FAULT_OFFSET, Chunk


@dataclass(slots=True)
class _Parsed:
    events: list[Parsed]
    rejected: list[Rejected]
    received_us: int


def _parse_chunk(chunk: Chunk, settings: Settings, clock: Clock) -> _Parsed:
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
    return _Parsed(events, rejected, received_us)


_Routed = tuple[int, list[Parsed], int]
_Deduped = tuple[list[Parsed], Delta, int]


def _route_exceptions(
    items: list[Parsed], shards: int, received_us: int
) -> list[tuple[str, _Routed]]:
    """Split exception events by shard of ``exception_id`` (order events are skipped)."""
    parts: dict[int, list[Parsed]] = {}
    for p in items:
        if p.event.event_type in ORDER_EVENT_TYPES:
            continue
        k = shard_of(p.exception_id, shards)
        parts.setdefault(k, []).append(p)
    return [(f"x{k}", (k, batch, received_us)) for k, batch in parts.items()]


class _DedupeLogic(StatefulLogic[_Routed, _Deduped, None]):
    """Dedupe step. State lives in the :class:`Deduper`; see ``snapshot``."""

    def __init__(self, deduper: Deduper) -> None:
        self.deduper = deduper

    def on_item(self, value: _Routed) -> tuple[list[_Deduped], bool]:
        _, batch, received_us = value
        fresh, dups = self.deduper.apply(batch, received_us)
        return [(fresh, Delta(duplicates=dups), received_us)], StatefulLogic.RETAIN

    def snapshot(self) -> None:
        """No Bytewax snapshot: state is rebuilt from DuckDB at start (``flows.rehydrate``).

        Copying the whole state every epoch (what ``stateful_map`` does) made
        ingest quadratic; the database already holds everything applied.
        """
        return None


class _LifecycleLogic(StatefulLogic[_Routed, Delta, None]):
    """Lifecycle step for one shard of exceptions."""

    def __init__(self, prior: PriorState, settings: Settings) -> None:
        self.prior = prior
        self.settings = settings
        self.shard: ExceptionShard | None = None

    def on_item(self, value: _Routed) -> tuple[list[Delta], bool]:
        shard_no, batch, received_us = value
        if self.shard is None:
            self.shard = self.prior.exceptions.pop(shard_no, None) or ExceptionShard()
        return [self.shard.apply(batch, self.settings, received_us)], StatefulLogic.RETAIN

    def snapshot(self) -> None:
        """See :meth:`_DedupeLogic.snapshot`."""
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
    prior: PriorState | None = None,
    flush_every: timedelta = timedelta(seconds=1),
    flush_max_deltas: int = 400,
) -> Dataflow:
    """Build the dataflow from ``source`` (chunks of raw lines) to ``sink``.

    ``prior`` carries state rebuilt from the database (``flows.rehydrate``);
    ``clock`` stamps ``received_at``/``ingested_at`` and is the only time
    read; event time comes from the events.
    """
    prior = prior or PriorState()
    shards = prior.shards
    flow = Dataflow("fpi")
    chunks = op.input("read", flow, source)
    parsed = op.map("parse", chunks, lambda c: _parse_chunk(c, settings, clock))

    rejects: Stream[Delta] = op.filter_map(
        "rejects",
        parsed,
        lambda pc: (
            Delta(rejected=[rejected_row(r, pc.received_us) for r in pc.rejected])
            if pc.rejected
            else None
        ),
    )

    # One dedupe key: it keeps arrival order into the lifecycle step (the first
    # `exception.opened` to arrive wins) and costs one dict lookup per event.
    by_event_id = op.filter_map(
        "route_event_id",
        parsed,
        lambda pc: ("dedupe", (0, pc.events, pc.received_us)) if pc.events else None,
    )

    deduped = op.key_rm(
        "dedupe_unkey",
        op.stateful("dedupe", by_event_id, lambda _resume: _DedupeLogic(prior.dedupe)),
    )
    duplicates = op.filter_map("duplicates", deduped, lambda v: v[1] if v[1].duplicates else None)

    def order_delta(v: tuple[list[Parsed], Delta, int]) -> Delta | None:
        fresh, _, received_us = v
        orders = [p for p in fresh if p.event.event_type in ORDER_EVENT_TYPES]
        if not orders:
            return None
        return Delta(
            events=[event_row(p, None, received_us) for p in orders],
            order_events=[order_event_row(p) for p in orders],
        )

    orders = op.filter_map("orders", deduped, order_delta)
    by_exception = op.flat_map(
        "route_exception_id",
        deduped,
        lambda v: _route_exceptions(v[0], shards, v[2]),
    )

    def lifecycle_builder(_resume: object) -> _LifecycleLogic:
        return _LifecycleLogic(prior, settings)

    lifecycle_out = op.key_rm(
        "lifecycle_unkey", op.stateful("lifecycle", by_exception, lifecycle_builder)
    )
    merged = op.merge("merge", rejects, duplicates, orders, lifecycle_out)
    nonempty = op.filter("nonempty", merged, lambda d: not d.is_empty())
    keyed = op.key_on("to_db", nonempty, lambda _d: "db")
    batches = op.stateful(
        "micro_batch",
        keyed,
        lambda _resume: _MicroBatchLogic(clock, flush_every, flush_max_deltas),
    )
    op.output("sink", batches, sink)
    return flow

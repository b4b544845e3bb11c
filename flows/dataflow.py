"""The Bytewax dataflow, built by a function that takes its source and sink.

```
read (Chunk of lines) ─► parse ─┬─► rejected rows ───────────────────────────────┐
                                └─► dedupe by event_id ──────────┬─► duplicates ──┤
                                        (one key, keeps order)   ├─► order events ┤
                                                                 └─► route by     │
                                      exception_id ─► lifecycle (shards xN) ──────┤
                                                                                  ▼
                                          merge ─► key "db" ─► collect (≤1 s) ─► sink
```

Work travels in chunks, so Bytewax's per-item cost is paid per chunk. Dedupe
runs under one key, which keeps arrival order into the lifecycle step (so "the
first ``exception.opened`` to arrive wins" holds). The lifecycle step is keyed by
a *shard* (``crc32(exception_id) % shards``), so it spreads over workers while
each exception always lands on the same shard. All deltas are keyed ``"db"`` so exactly one sink partition (one
worker) writes DuckDB.

Production: ``fpi ingest`` (files) passes :class:`flows.sources.JsonLinesSource`
and :class:`flows.sink.DuckDBSink`; tests pass ``TestingSource`` and
``TestingSink``. ``python -m bytewax.run "flows.dataflow:get_flow()"`` runs it
from the environment (``FPI_INPUT``, ``FPI_DB``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow, Stream
from bytewax.inputs import Source
from bytewax.outputs import Sink

from fpi.config import Settings, load_settings
from fpi.contract import ORDER_EVENT_TYPES
from fpi.timeutil import Clock, system_clock, to_us

from .dedupe import Deduper
from .exception_state import ExceptionShard
from .parse import Parsed, Rejected, parse_line
from .records import Delta, event_row, order_event_row, rejected_row, shard_of
from .sources import Chunk

DEFAULT_SHARDS = 4


@dataclass(slots=True)
class PriorState:
    """State rebuilt from DuckDB before a run (empty for a new database)."""

    shards: int = DEFAULT_SHARDS
    dedupe: Deduper = field(default_factory=Deduper)
    exceptions: dict[int, ExceptionShard] = field(default_factory=dict)


@dataclass(slots=True)
class _Parsed:
    events: list[Parsed]
    rejected: list[Rejected]
    received_us: int


def _parse_chunk(chunk: Chunk, settings: Settings, clock: Clock) -> _Parsed:
    received_us = to_us(clock())
    events: list[Parsed] = []
    rejected: list[Rejected] = []
    seq = chunk.first_seq
    offset = chunk.first_offset
    for line in chunk.lines:
        result = parse_line(line, chunk.source, offset, seq, settings)
        if isinstance(result, Parsed):
            events.append(result)
        elif result is not None:
            rejected.append(result)
        offset += 1
        seq += 1
    return _Parsed(events, rejected, received_us)


def _route(
    items: list[Parsed], key_of: str, shards: int, prefix: str, received_us: int
) -> list[tuple[str, tuple[int, list[Parsed], int]]]:
    parts: dict[int, list[Parsed]] = {}
    for p in items:
        k = shard_of(getattr(p.event, key_of), shards)
        parts.setdefault(k, []).append(p)
    return [(f"{prefix}{k}", (k, batch, received_us)) for k, batch in parts.items()]


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

    def dedupe(
        state: Deduper | None, value: tuple[int, list[Parsed], int]
    ) -> tuple[Deduper, tuple[list[Parsed], Delta, int]]:
        _, batch, received_us = value
        if state is None:
            state = prior.dedupe
        fresh, dups = state.apply(batch, received_us)
        return state, (fresh, Delta(duplicates=dups), received_us)

    deduped = op.key_rm("dedupe_unkey", op.stateful_map("dedupe", by_event_id, dedupe))
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
        lambda v: _route(
            [p for p in v[0] if p.event.event_type not in ORDER_EVENT_TYPES],
            "exception_id",
            shards,
            "x",
            v[2],
        ),
    )

    def lifecycle(
        state: ExceptionShard | None, value: tuple[int, list[Parsed], int]
    ) -> tuple[ExceptionShard, Delta]:
        shard, batch, received_us = value
        if state is None:
            state = prior.exceptions.pop(shard, None) or ExceptionShard()
        return state, state.apply(batch, settings, received_us)

    lifecycle_out = op.key_rm(
        "lifecycle_unkey", op.stateful_map("lifecycle", by_exception, lifecycle)
    )
    merged = op.merge("merge", rejects, duplicates, orders, lifecycle_out)
    nonempty = op.filter("nonempty", merged, lambda d: not d.is_empty())
    keyed = op.key_on("to_db", nonempty, lambda _d: "db")
    batches = op.collect("micro_batch", keyed, timeout=flush_every, max_size=flush_max_deltas)
    op.output("sink", batches, sink)
    return flow


def get_flow() -> Dataflow:
    """Factory for ``python -m bytewax.run "flows.dataflow:get_flow()"``.

    Reads ``FPI_INPUT`` (file or folder) into ``FPI_DB``; ``FPI_CONFIG`` as usual.
    """
    from .ingest import prepare_run

    inputs = [Path(p) for p in os.environ["FPI_INPUT"].split(os.pathsep)]
    run = prepare_run(inputs, Path(os.environ["FPI_DB"]), load_settings(), system_clock)
    return run.flow

"""Deduplication by ``event_id`` (``events.md``: the idempotency key).

The first time an ``event_id`` is seen, the event goes on; its position
(``source``, ``offset``) is remembered. The same id again:

* at the **same** position is a replay of the same line (a re-run of
  ``fpi ingest`` over the same file, or Bytewax redelivering after a restart):
  it is dropped silently, because it was already counted;
* at another position is a **duplicate**: it changes nothing, even when its
  body differs, and is recorded in ``duplicate_events``.

The memory is rehydrated from DuckDB when a run starts, so duplicates are found
across runs too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .parse import Parsed
from .records import duplicate_row

Position = tuple[str, int]


@dataclass(slots=True)
class Deduper:
    """Seen event ids of one dedupe shard."""

    seen: dict[str, Position] = field(default_factory=dict)

    def apply(
        self, batch: list[Parsed], received_us: int
    ) -> tuple[list[Parsed], list[tuple[object, ...]]]:
        """Split ``batch`` into first sightings and ``duplicate_events`` rows."""
        fresh: list[Parsed] = []
        duplicates: list[tuple[object, ...]] = []
        seen = self.seen
        for p in batch:
            eid = p.event.event_id
            pos = seen.get(eid)
            if pos is None:
                seen[eid] = (p.source, p.offset)
                fresh.append(p)
            elif pos != (p.source, p.offset):
                duplicates.append(duplicate_row(p, received_us))
        return fresh, duplicates

"""Per-key lifecycle state of a shard of exceptions, applied batch by batch.

For each exception the shard keeps its opened facts and a compact list of its
follow-up events; after a batch it re-derives the state versions of every
exception the batch touched (so late and out-of-order events simply re-derive
them) and emits the rows to upsert.

Follow-ups whose ``exception.opened`` has not arrived are *held* (written to
``pending_events``) and applied when it arrives. A second
``exception.opened`` for a known exception (new ``event_id``) is rejected with
reason ``duplicate_open``.

All exceptions stay in memory for the life of the process (a few hundred bytes
each); a new run rebuilds the shard from DuckDB (``flows.rehydrate``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.config import Settings

from .lifecycle import OPENED, Step, derive, effective_time
from .parse import Parsed, Rejected
from .records import (
    Delta,
    OpenedInfo,
    event_row,
    exception_row,
    pending_row,
    rejected_row,
    step_of,
    version_rows,
)


@dataclass(slots=True)
class ExceptionShard:
    """State of the exceptions whose id falls in one shard."""

    opened: dict[str, OpenedInfo] = field(default_factory=dict)
    steps: dict[str, list[Step]] = field(default_factory=dict)
    pending: dict[str, list[Parsed]] = field(default_factory=dict)

    def apply(self, batch: list[Parsed], settings: Settings, received_us: int) -> Delta:
        """Apply a batch of fresh (deduplicated) exception events."""
        delta = Delta()
        changed: set[str] = set()
        for p in batch:
            xid = p.exception_id
            if p.event.event_type == OPENED:
                if xid in self.opened:
                    reject = Rejected(
                        p.source,
                        p.offset,
                        p.raw,
                        "duplicate_open",
                        f"exception {xid} was already opened by event {self.opened[xid].event_id}",
                        p.event.event_id,
                        p.event.event_type,
                    )
                    delta.rejected.append(rejected_row(reject, received_us))
                    continue
                info = OpenedInfo.from_parsed(p, settings)
                self.opened[xid] = info
                self.steps[xid] = []
                delta.events.append(event_row(p, p.occurred_us, received_us))
                changed.add(xid)
                for held in self.pending.pop(xid, ()):
                    self._accept(held, info, delta, received_us)
                    delta.pending_remove.append(held.event.event_id)
            elif xid in self.opened:
                self._accept(p, self.opened[xid], delta, received_us)
                changed.add(xid)
            else:
                self.pending.setdefault(xid, []).append(p)
                delta.pending_add.append(pending_row(p, received_us))
        for xid in changed:
            info = self.opened[xid]
            steps = self.steps[xid]
            derived = derive(info.opened_us, steps)
            last_event = max((s.occurred_us for s in steps), default=info.opened_us)
            last_event = max(last_event, info.opened_us)
            delta.exceptions[xid] = exception_row(info, derived, len(steps) + 1, last_event)
            delta.versions[xid] = version_rows(xid, derived.versions)
        return delta

    def _accept(self, p: Parsed, info: OpenedInfo, delta: Delta, received_us: int) -> None:
        self.steps[info.exception_id].append(step_of(p))
        delta.events.append(
            event_row(p, effective_time(p.occurred_us, info.opened_us), received_us)
        )

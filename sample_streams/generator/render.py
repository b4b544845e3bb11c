"""Rendering world events as contract-v1 JSON lines (clean), with event ids.

:class:`Renderer` numbers the events (``ev-00000001…``), writes UTC ``Z``
timestamps and keeps them in event-time order; :class:`~.mess.MessyRenderer`
adds the mess on top of the same numbering.
"""

from __future__ import annotations

from typing import Any

import orjson

from .config import GeneratorConfig
from .labels import LABEL_EVENT
from .summary import Stats
from .timestamps import UTC_Z, format_ts
from .world_event import WEv

Item = tuple[int, int, str, str]
"""A line to write: (arrival time in epoch ms, sequence number, line, label).
Sorted, items are in arrival order (ties in the order they were made)."""


class Renderer:
    """Renders a day of world events as clean lines: valid, UTC ``Z``, no duplicates."""

    def __init__(self, cfg: GeneratorConfig, stats: Stats) -> None:
        self.cfg = cfg
        self.stats = stats
        self.event_no = 0
        self.seq = 0

    def next_seq(self) -> int:
        """The next sequence number (orders lines that arrive at the same time)."""
        self.seq += 1
        return self.seq

    def accept(self, reported: int) -> None:
        """Count one accepted event reported at ``reported`` (epoch ms)."""
        st = self.stats
        st.events += 1
        if st.last_ms is None or reported > st.last_ms:
            st.last_ms = reported
        if st.first_ms is None or reported < st.first_ms:
            st.first_ms = reported

    @staticmethod
    def body(eid: str, ev: WEv, occurred: str, version: str) -> dict[str, Any]:
        """The JSON object of ``ev`` (envelope, key, payload, actor)."""
        d: dict[str, Any] = {
            "event_id": eid,
            "event_type": ev.etype,
            "occurred_at": occurred,
            "source_system": ev.source,
            "schema_version": version,
        }
        if ev.key == "order_id":
            d["order_id"] = ev.kid
        d.update(ev.payload)
        if ev.actor is not None:
            d["actor"] = ev.actor
        return d

    def render(
        self, d: int, evs: list[WEv], items: list[Item], day_start: int, day_end: int
    ) -> None:
        """Append the lines of ``evs`` (the events of day ``d``) to ``items``."""
        dumps = orjson.dumps
        for ev in evs:
            self.event_no += 1
            eid = f"ev-{self.event_no:08d}"
            t = ev.t - ev.t % 1000
            line = dumps(self.body(eid, ev, format_ts(t, UTC_Z), "1")).decode()
            self.accept(t)
            items.append((ev.t, self.next_seq(), line, LABEL_EVENT))

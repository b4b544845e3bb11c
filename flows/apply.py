"""The state of one stream key, applied chunk by chunk: dedupe, lifecycle,
held follow-ups, order milestones and rejects — one :class:`Delta` per chunk.

Memory holds only what a stream needs hot (``kpis.md`` rules unchanged):

* ``recent``: the position of every event id applied and not yet committed;
  ids the sink has committed leave it, and are found again by the event-id
  filter plus an index lookup in the store (:mod:`flows.store`);
* ``hot``: the opened facts and follow-up steps of each exception in memory.
  Open (and paused) exceptions stay; a resolved or cancelled one leaves once
  the sink has committed its last change, and is loaded back from the store
  the next time one of its events arrives — a late event for an exception
  closed months ago costs one indexed lookup of its events, then applies
  exactly as if it had stayed;
* ``held``: follow-ups waiting for their ``exception.opened`` (also in
  ``pending_events``; they leave memory once committed, like closed exceptions).

Without a store (tests with ``TestingSink``) nothing is ever committed, so
everything stays in memory: the same results from the same events.

Ordering: events of a chunk are applied in arrival order; the first
``exception.opened`` to arrive for an id wins, a second one (new
``event_id``) is rejected ``duplicate_open``. Lifecycle derivation
(``flows.lifecycle``) is by event time, so arrival order changes nothing else.

Every row of a chunk is stamped with one time (``ingested_at``,
``received_at``): the injected clock, never earlier than the previous stamp,
so the filters' watermark (:mod:`flows.idfilter`) holds.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np
import orjson

from core.calendar import SlaCalendars
from core.config import Settings
from core.contract import ORDER_EVENT_TYPES
from core.timeutil import Clock, to_us

from .alerts import (
    Alert,
    AlertBook,
    Changes,
    ExceptionAlerts,
    due_times,
    message,
    raise_due,
    update_dues,
)
from .idfilter import IdFilter
from .lifecycle import (
    CANCELLED,
    OPENED,
    RESOLVED,
    UNASSIGNED,
    Derived,
    Replay,
    Step,
    effective_time,
)
from .parse import Parsed, Rejected
from .records import (
    Delta,
    OpenedInfo,
    alert_row,
    duplicate_row,
    event_row,
    exception_row,
    message_dims,
    order_event_row,
    order_row,
    outbox_row,
    pending_row,
    rejected_row,
    step_of,
    version_rows,
)
from .store import EVENT_IDS, EXCEPTION_IDS, Store

SAVE_FILTERS_EVERY = 500
"""Chunks between two saves of the filters (and one at the end of input)."""

Position = tuple[str, int]


@dataclass(slots=True)
class _Hot:
    info: OpenedInfo
    steps: list[Step]
    tag: int = 0
    """The chunk that last changed it (negated: loaded by that chunk, unchanged)."""
    alerts: ExceptionAlerts = field(default_factory=ExceptionAlerts)
    owner_team: str = UNASSIGNED
    replay: Replay | None = None
    """``steps`` derived so far (``None``: derive from scratch at the next
    refresh): a step that arrives in event-time order extends it. Kept only
    until the chunk that last used it is committed (``Applier._replayed``),
    so it costs memory for recently active exceptions, not for the backlog."""
    replay_tag: int = 0
    """The chunk that last used ``replay``."""


@dataclass(frozen=True, slots=True)
class LiveStatus:
    """What a live source knows when a chunk (or a heartbeat) is applied."""

    caught_up: bool
    """Read to the end of every partition: the data clock is the wall clock."""
    lag: dict[str, int]
    """Messages behind per partition (name -> count)."""
    offsets: dict[tuple[str, int], int]
    """(topic, partition) -> next offset to read, for the chunk's messages."""


@dataclass(slots=True)
class Applier:
    """State of one stream key (all of ``fpi ingest``; every partition of ``fpi stream``)."""

    key: str
    settings: Settings
    clock: Clock
    store: Store | None = None
    writer: str = "ingest"
    """Who writes ``flow_clock`` (``ingest`` or ``stream``)."""
    messages: bool = False
    """Write alert messages to ``alert_outbox`` (a webhook delivers them)."""
    tag: int = 0
    stamp_us: int = 0
    clock_us: int | None = None
    """The data clock (µs): never moves back."""
    book: AlertBook = field(default_factory=AlertBook)
    recent: dict[str, Position] = field(default_factory=dict)
    hot: dict[str, _Hot] = field(default_factory=dict)
    held: dict[str, list[Parsed]] = field(default_factory=dict)
    _held_tag: dict[str, int] = field(default_factory=dict)
    _recent_log: deque[tuple[int, list[str]]] = field(default_factory=deque)
    _closing: deque[tuple[int, str]] = field(default_factory=deque)
    _held_log: deque[tuple[int, str]] = field(default_factory=deque)
    _replayed: deque[tuple[int, str]] = field(default_factory=deque)
    """(chunk, exception) for each chunk that used an exception's replay."""
    _filters: dict[str, IdFilter] = field(default_factory=dict)
    _calendars: SlaCalendars = field(init=False)
    """``settings.sla_calendars``, read once (a pydantic private attribute costs
    ~1 µs per read, and it is asked for on every exception event)."""

    def __post_init__(self) -> None:
        self._calendars = self.settings.sla_calendars
        if self.store is not None:
            self.store.claim(self.key)
            for name in (EVENT_IDS, EXCEPTION_IDS):
                self._filters[name] = self.store.load_filter(name)
            self.stamp_us = self.store.filter_watermark()
            self.clock_us = self.store.data_clock()
            for due, xid, kind in self.store.pending_dues():
                self.book.push(due, xid, kind)

    # -- the chunk -----------------------------------------------------------

    def apply(
        self, events: list[Parsed], rejected: list[Rejected], live: LiveStatus | None = None
    ) -> Delta:
        """Apply one chunk's parsed events and parse rejects.

        The data clock (``kpis.md``): in a replay, or while a live flow
        catches up (``live.caught_up`` false), it is the latest ``occurred_at``
        of the accepted events, and it moves event by event: after each one,
        the exception's dues are recomputed (a standing alert whose due
        changed is retracted) and every due the clock has reached is raised —
        so the result does not depend on how lines fall into chunks. A
        caught-up flow's clock is the wall clock (the chunk's stamp): the
        chunk is applied whole, then its dues, then the raises.
        """
        self._forget_committed()
        self.tag += 1
        self.stamp_us = max(to_us(self.clock()), self.stamp_us)
        stamp = self.stamp_us
        delta = Delta(key=self.key, tag=self.tag)
        delta.rejected.extend(rejected_row(r, stamp) for r in rejected)
        fresh = self._dedupe(events, delta)
        caught_up = live is not None and live.caught_up
        if caught_up:
            self._advance(stamp)
        exception_events = [p for p in fresh if p.event.event_type not in ORDER_EVENT_TYPES]
        self._load(exception_events)
        derived: dict[str, Derived] = {}
        touched: dict[str, None] = {}
        new_xids: list[str] = []
        for p in fresh:
            if p.event.event_type in ORDER_EVENT_TYPES:
                delta.events.append(order_row(p, stamp))
                delta.order_events.append(order_event_row(p))
                moved: int | None = p.occurred_us
                xid = None
            else:
                moved, xid = self._exception_event(p, delta, new_xids)
            if caught_up:
                if xid is not None:
                    touched[xid] = None
                continue
            if moved is not None:
                self._advance(moved)
            if xid is not None:
                self._refresh(xid, derived, delta)
            self._raise(delta)
        for xid in touched:
            self._refresh(xid, derived, delta)
        if caught_up:
            self._raise(delta)
        self._state_rows(derived, delta)
        if self.store is not None and new_xids:
            f = self._filters[EXCEPTION_IDS]
            f.add(self.store.hashes(new_xids))
            if f.full:
                pending = [*self.hot, *self.held]
                self._filters[EXCEPTION_IDS] = self._rebuilt(EXCEPTION_IDS, f.count, pending)
        self._finish(delta, live)
        if self.store is not None and self.tag % SAVE_FILTERS_EVERY == 0:
            self.save_filters()
        return delta

    def _state_rows(self, derived: dict[str, Derived], delta: Delta) -> None:
        """The ``exceptions`` and ``exception_versions`` rows of the exceptions
        derived again by this chunk (they stay in memory until it is committed)."""
        for xid, d in derived.items():
            hot = self.hot[xid]
            info, steps = hot.info, hot.steps
            last_event = max((s.occurred_us for s in steps), default=info.opened_us)
            last_event = max(last_event, info.opened_us)
            ks = hot.alerts.kinds
            dues = (ks["at_risk"].due_us, ks["breached"].due_us)
            calendar = self._calendars.calendar_name(info.site)
            delta.exceptions[xid] = exception_row(
                info, d, len(steps) + 1, last_event, dues, calendar
            )
            delta.versions[xid] = version_rows(xid, d.versions)
            hot.tag = self.tag
            if d.final.status in (RESOLVED, CANCELLED):
                self._closing.append((self.tag, xid))

    def recompute(self, exception_ids: list[str]) -> Delta:
        """Derive the SLA figures of stored exceptions again under this applier's
        settings (``fpi recompute``): the policy target (unless the opened event
        gave one), the SLA clock in each site's working time, ``due_at`` of both
        alert kinds. A standing alert whose due changed is retracted at the data
        clock; every due the data clock has reached is raised then (recorded
        only: no messages unless :attr:`messages`); later dues wait for the
        clock as usual. Everything else (events, dedupe, quality) is untouched.
        """
        self._forget_committed()
        self.tag += 1
        self.stamp_us = max(to_us(self.clock()), self.stamp_us)
        delta = Delta(key=self.key, tag=self.tag)
        self._load_ids([x for x in exception_ids if x not in self.hot])
        derived: dict[str, Derived] = {}
        policy = self.settings.sla
        for xid in exception_ids:
            hot = self.hot.get(xid)
            if hot is None:
                continue
            info = hot.info
            if info.sla_target_source == "policy":
                target = policy.target_hours(info.severity, info.customer_tier)
                hot.info = replace(info, sla_target_hours=target)
            hot.replay = None
            self._refresh(xid, derived, delta)
        self._raise(delta)
        self._state_rows(derived, delta)
        return delta

    def tick(self, live: LiveStatus) -> Delta:
        """A heartbeat with no chunk: when caught up the data clock becomes the
        wall clock and every due it reached is raised; the delta carries the
        ``flow_clock`` row either way (written with every commit)."""
        return self.apply([], [], live)

    def next_due_us(self) -> int | None:
        """The earliest due not yet raised (µs), for a live flow's timer."""
        return self.book.next_due()

    def _finish(self, delta: Delta, live: LiveStatus | None) -> None:
        """The ``flow_clock`` row (every live delta carries it: the heartbeat;
        a replay's only when it writes something) and the offsets."""
        if live is None and delta.is_empty():
            return
        lag = None if live is None else sum(live.lag.values())
        detail = None if live is None else orjson.dumps(live.lag).decode()
        caught_up = live is not None and live.caught_up
        delta.clock = ("flow", self.writer, self.clock_us, self.stamp_us, caught_up, lag, detail)
        if live is not None:
            for (topic, part), offset in live.offsets.items():
                delta.offsets[(topic, part)] = (topic, part, offset, self.stamp_us)

    # -- the data clock and alerts --------------------------------------------

    def _advance(self, us: int) -> None:
        if self.clock_us is None or us > self.clock_us:
            self.clock_us = us

    def _refresh(self, xid: str, derived: dict[str, Derived], delta: Delta) -> None:
        """Derive the exception's state again and update its dues (retracting
        a standing alert whose due changed, at the current data clock)."""
        hot = self.hot[xid]
        clock = self._calendars.clock_for(hot.info.site)
        replay = hot.replay
        if replay is None or replay.clock is not clock:
            replay = hot.replay = Replay.of(hot.info.opened_us, hot.steps, clock)
        if self.store is not None and hot.replay_tag != self.tag:  # (no store: nothing leaves)
            hot.replay_tag = self.tag
            self._replayed.append((self.tag, xid))
        d = derived[xid] = replay.derived()
        if d.final.owner_team != hot.owner_team:
            hot.owner_team = d.final.owner_team
            for alert in hot.alerts.raised:  # the rows carry the current owner team
                delta.alerts[alert.alert_id] = alert_row(alert, hot.info, hot.owner_team)
        changes: Changes = []
        dues = due_times(d.versions, hot.info.sla_target_hours, clock)
        update_dues(hot.alerts, xid, dues, self.clock_us or 0, self.book, changes)
        for action, alert in changes:
            self._record(action, alert, hot, delta)

    def _raise(self, delta: Delta) -> None:
        """Raise every pending due the data clock has reached."""
        if self.clock_us is None:
            return
        entries = self.book.due_by(self.clock_us)
        if not entries:
            return
        missing = [xid for _, xid, _ in entries if xid not in self.hot]
        if missing:
            self._load_ids(list(dict.fromkeys(missing)))
        for due, xid, kind in entries:
            hot = self.hot.get(xid)
            if hot is None:
                continue  # not in the store either: nothing to raise
            alert = raise_due(hot.alerts, xid, kind, due, self.clock_us)
            if alert is not None:
                self._record("raised", alert, hot, delta)

    def _record(self, action: str, alert: Alert, hot: _Hot, delta: Delta) -> None:
        delta.alerts[alert.alert_id] = alert_row(alert, hot.info, hot.owner_team)
        if self.messages:
            payload = message(action, alert, message_dims(hot.info, hot.owner_team))
            delta.outbox.append(outbox_row(action, alert, payload))
        hot.tag = self.tag  # changed by this chunk: it stays until the chunk is committed

    def save_filters(self) -> None:
        """Save both filters with the current stamp as their watermark."""
        if self.store is not None:
            for name, f in self._filters.items():
                self.store.save_filter(f, name, self.stamp_us)

    # -- dedupe --------------------------------------------------------------

    def _dedupe(self, events: list[Parsed], delta: Delta) -> list[Parsed]:
        """First sightings of ``events``; repeats at another position become
        ``duplicate_events`` rows, repeats at the same position (a replayed line)
        are dropped silently."""
        recent = self.recent
        stored: dict[str, Position] = {}
        new_ids: list[str] = []
        hashes = np.empty(0, dtype=np.uint64)
        eids = [p.event.event_id for p in events]
        if self.store is not None:
            new_ids = list(dict.fromkeys(e for e in eids if e not in recent))
            hashes = self.store.hashes(new_ids)
            maybe = self._filters[EVENT_IDS].maybe(hashes)
            probe = [i for i, m in zip(new_ids, maybe.tolist(), strict=True) if m]
            stored = self.store.positions(probe)
        fresh: list[Parsed] = []
        applied: list[str] = []
        for p, eid in zip(events, eids, strict=True):
            pos = recent.get(eid) or stored.get(eid)
            if pos is None:
                recent[eid] = (p.source, p.offset)
                applied.append(eid)
                fresh.append(p)
            elif pos != (p.source, p.offset):
                delta.duplicates.append(duplicate_row(p, self.stamp_us))
        if applied:
            self._recent_log.append((self.tag, applied))
        if self.store is not None and new_ids:
            f = self._filters[EVENT_IDS]
            if applied == new_ids:  # the usual chunk: every new id applied, in order
                f.add(hashes)
            else:
                index = {eid: i for i, eid in enumerate(new_ids)}
                f.add(hashes[[index[e] for e in applied]] if applied else hashes[:0])
            if f.full:
                self._filters[EVENT_IDS] = self._rebuilt(EVENT_IDS, f.count, list(recent))
        return fresh

    # -- lifecycle -----------------------------------------------------------

    def _load(self, events: list[Parsed]) -> None:
        """Bring into memory the stored state of the batch's exceptions that are
        not in memory and that the exception-id filter cannot rule out."""
        if self.store is None or not events:
            return
        missing = list(
            dict.fromkeys(
                xid
                for p in events
                if (xid := p.exception_id) not in self.hot and xid not in self.held
            )
        )
        if not missing:
            return
        maybe = self._filters[EXCEPTION_IDS].maybe(self.store.hashes(missing))
        ask = [x for x, m in zip(missing, maybe.tolist(), strict=True) if m]
        self._load_ids(ask)

    def _load_ids(self, ask: list[str]) -> None:
        """Load the stored state (and alert state) of exceptions ``ask``."""
        if self.store is None or not ask:
            return
        loaded = self.store.load_exceptions(ask, self.settings)
        # Loaded state leaves memory again once this chunk is committed, unless
        # the chunk changes it (then the usual rules apply): a loaded entry's
        # tag is the chunk's, negated, until a change sets it.
        for xid, info in loaded.opened.items():
            self.hot[xid] = _Hot(
                info, loaded.steps[xid], -self.tag, loaded.alerts[xid], loaded.owner[xid]
            )
            self._closing.append((-self.tag, xid))
        for xid, held in loaded.held.items():
            self.held[xid] = held
            self._held_tag[xid] = self.tag
            self._held_log.append((self.tag, xid))

    def _exception_event(
        self, p: Parsed, delta: Delta, new_xids: list[str]
    ) -> tuple[int | None, str | None]:
        """Apply one exception event: returns the latest ``occurred_at`` it
        accepted (None: held or rejected, the data clock does not move) and
        the exception it changed (None: none)."""
        stamp = self.stamp_us
        xid = p.exception_id
        hot = self.hot.get(xid)
        if p.event.event_type == OPENED:
            if hot is not None:
                reject = Rejected(
                    p.source,
                    p.offset,
                    p.raw,
                    "duplicate_open",
                    f"exception {xid} was already opened by event {hot.info.event_id}",
                    p.event.event_id,
                    p.event.event_type,
                )
                delta.rejected.append(rejected_row(reject, stamp))
                return None, None
            info = OpenedInfo.from_parsed(p, self.settings)
            hot = self.hot[xid] = _Hot(info, [])
            new_xids.append(xid)
            delta.events.append(event_row(p, p.occurred_us, stamp))
            moved = p.occurred_us
            for held in self.held.pop(xid, ()):
                self._accept(held, hot, delta)
                delta.pending_remove.append(held.event.event_id)
                moved = max(moved, held.occurred_us)
            self._held_tag.pop(xid, None)
            return moved, xid
        if hot is not None:
            self._accept(p, hot, delta)
            return p.occurred_us, xid
        if xid not in self.held:
            new_xids.append(xid)
        self.held.setdefault(xid, []).append(p)
        self._held_tag[xid] = self.tag
        self._held_log.append((self.tag, xid))
        delta.pending_add.append(pending_row(p, stamp))
        return None, None

    def _rebuilt(self, name: str, count: int, uncommitted: list[str]) -> IdFilter:
        """A bigger filter of every stored id plus ``uncommitted`` ones (in
        memory, possibly not yet in the store: they must stay covered after
        they leave memory)."""
        assert self.store is not None
        f = self.store.rebuild_filter(name, count)
        f.add(self.store.hashes(uncommitted))
        return f

    def _accept(self, p: Parsed, hot: _Hot, delta: Delta) -> None:
        step = step_of(p)
        hot.steps.append(step)
        if hot.replay is not None and not hot.replay.feed(step):
            hot.replay = None  # out of event-time order: derived again from scratch
        delta.events.append(
            event_row(p, effective_time(p.occurred_us, hot.info.opened_us), self.stamp_us)
        )

    # -- memory --------------------------------------------------------------

    def _forget_committed(self) -> None:
        """Let go of what the sink has committed and the store can give back."""
        if self.store is None:
            return
        done = self.store.committed.get(self.key, 0)
        log = self._recent_log
        recent = self.recent
        while log and log[0][0] <= done:
            for eid in log.popleft()[1]:
                recent.pop(eid, None)
        closing = self._closing
        while closing and abs(closing[0][0]) <= done:
            tag, xid = closing.popleft()
            hot = self.hot.get(xid)
            if hot is not None and hot.tag == tag:
                del self.hot[xid]
        replayed = self._replayed
        while replayed and replayed[0][0] <= done:
            tag, xid = replayed.popleft()
            hot = self.hot.get(xid)
            if hot is not None and hot.replay_tag == tag:
                hot.replay = None  # derived from scratch (O(its events)) if it changes again
        held_log = self._held_log
        while held_log and held_log[0][0] <= done:
            tag, xid = held_log.popleft()
            if self._held_tag.get(xid) == tag:
                del self._held_tag[xid]
                self.held.pop(xid, None)

    def memory(self) -> dict[str, int]:
        """How many entries each in-memory structure holds (for progress and benchmarks)."""
        return {
            "recent_ids": len(self.recent),
            "hot_exceptions": len(self.hot),
            "held_exceptions": len(self.held),
        }

"""SLA alerts (``kpis.md``, "SLA alerts"): when each is due, and the book of
raises and retractions of one stream.

Definitions (event time, computed from an exception's events alone, so a
replay and a live run agree on them):

* **at-risk** is due at the first instant the SLA clock (``active_seconds``)
  reaches 0.8 × target while the exception is open. The status is open on
  ``[start, end)`` of each open interval, so a clock that reaches the amount
  exactly as the exception is paused, resolved or cancelled is due when it is
  open again (at the resume or reopen instant).
* **breached** is due at the instant from which the clock runs past the
  target while open: ``inf {t : clock(t) > target}``. On a 24×7 clock that is
  when the clock reaches the target (a clock that reaches it exactly as the
  exception stops is due when it runs again).

Each exception is due at most one alert of each kind, because the clock only
grows. The :class:`AlertBook` of a stream keeps, per exception and kind, the
current ``due_at``, the standing alert (if any) and the last revision; a
pending due waits in a heap until the data clock reaches it. A change of
``due_at`` (an event arriving late: a pause, resolve or cancel stamped at or
before it; or a new due after a reopen) retracts the standing alert — nothing
is deleted — and the new ``due_at`` is raised again when the clock reaches
it, with the next revision: ``alert_id`` = ``<exception_id>:<kind>:<revision>``
(revisions start at 1). A cancel after ``due_at`` does not change it, so the
alert stands (and is no longer *active*: its exception is not open).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import orjson

from core.calendar import WALL, Clock
from core.timeutil import US_PER_H, from_us, iso_z

from .lifecycle import OPEN, Version

AT_RISK = "at_risk"
BREACHED = "breached"
KINDS: tuple[str, str] = (AT_RISK, BREACHED)
AT_RISK_SHARE = 0.8
"""At-risk: the clock has reached this share of the target (``kpis.md``)."""

Interval = tuple[int, int | None]
"""An open interval ``[start, end)`` in µs (``end`` None: still open)."""


def open_intervals(versions: tuple[Version, ...]) -> list[Interval]:
    """The intervals in status open, from an exception's state versions."""
    out: list[Interval] = []
    for i, v in enumerate(versions):
        if v.status != OPEN:
            continue
        end = versions[i + 1].valid_from_us if i + 1 < len(versions) else None
        if out and out[-1][1] == v.valid_from_us:  # consecutive open versions: one interval
            out[-1] = (out[-1][0], end)
        else:
            out.append((v.valid_from_us, end))
    return out


def due_at_risk(intervals: list[Interval], amount_us: int, clock: Clock = WALL) -> int | None:
    """First instant the clock is ≥ ``amount_us`` while open (None: not due).

    Reaching the amount exactly as working time ends (still open) is due at that
    end; after a resume the clock may already be there: due at the resume, even
    outside working time.
    """
    acc = 0
    for start, end in intervals:
        if acc >= amount_us:
            return start
        reached = clock.reached_us(start, amount_us - acc)
        if reached is None:
            return None
        if end is None or reached < end:
            return reached
        acc += clock.working_us(start, end)
    return None


def due_breach(intervals: list[Interval], amount_us: int, clock: Clock = WALL) -> int | None:
    """The instant from which the clock runs past ``amount_us`` (None: not due):
    ``inf {t : clock(t) > amount}`` — reached exactly as working time ends (or as
    the exception stops), it is due when the clock runs again."""
    acc = 0
    for start, end in intervals:
        if end is None:
            return clock.passed_us(start, amount_us - acc)
        w = clock.working_us(start, end)
        if acc + w > amount_us:
            return clock.passed_us(start, amount_us - acc)
        acc += w
    return None


def due_times(
    versions: tuple[Version, ...], target_hours: float, clock: Clock = WALL
) -> tuple[int | None, int | None]:
    """``(at_risk due, breach due)`` in µs for an exception with these versions,
    its SLA clock running in ``clock``'s working time (default 24×7)."""
    intervals = open_intervals(versions)
    target_us = round(target_hours * US_PER_H)
    at_risk = round(AT_RISK_SHARE * target_hours * US_PER_H)
    return due_at_risk(intervals, at_risk, clock), due_breach(intervals, target_us, clock)


def alert_id(exception_id: str, kind: str, revision: int) -> str:
    """``<exception_id>:<kind>:<revision>``."""
    return f"{exception_id}:{kind}:{revision}"


@dataclass(slots=True)
class Alert:
    """One raised alert (a ``sla_alerts`` row without the dimensions)."""

    exception_id: str
    kind: str
    revision: int
    due_us: int
    raised_us: int
    retracted_us: int | None = None

    @property
    def alert_id(self) -> str:
        """``<exception_id>:<kind>:<revision>``."""
        return alert_id(self.exception_id, self.kind, self.revision)


@dataclass(slots=True)
class KindState:
    """Per exception and kind: current ``due_at``, standing alert, last revision."""

    due_us: int | None = None
    standing: Alert | None = None
    revision: int = 0


@dataclass(slots=True)
class ExceptionAlerts:
    """The alert state of one exception (both kinds)."""

    kinds: dict[str, KindState] = field(
        default_factory=lambda: {AT_RISK: KindState(), BREACHED: KindState()}
    )
    raised: list[Alert] = field(default_factory=list)
    """Every alert raised for it (standing or retracted): their rows carry the
    exception's dimensions and are rewritten when its owner team changes."""


Changes = list[tuple[str, Alert]]
"""``(action, alert)`` in the order they happened: ``raised`` or ``retracted``."""


@dataclass(slots=True)
class AlertBook:
    """Pending dues of a stream, raised by the data clock.

    The heap holds ``(due_us, exception_id, kind)``; an entry is stale (and
    skipped) when the exception's current due of that kind differs or an
    alert already stands for it. Exceptions whose state is not in memory (a
    restart) are named by :meth:`missing` so the caller loads them first.
    """

    heap: list[tuple[int, str, str]] = field(default_factory=list)
    pending: dict[tuple[str, str], int] = field(default_factory=dict)
    """The current unraised due of each (exception, kind): what makes a heap
    entry valid, so a stale one is skipped without loading its exception."""

    def push(self, due_us: int, exception_id: str, kind: str) -> None:
        """Wait for the data clock to reach ``due_us``."""
        self.pending[(exception_id, kind)] = due_us
        heapq.heappush(self.heap, (due_us, exception_id, kind))
        if len(self.heap) > 2 * len(self.pending) + 1024:  # mostly stale: compact
            self.heap = [e for e in self.heap if self.pending.get((e[1], e[2])) == e[0]]
            heapq.heapify(self.heap)

    def drop(self, exception_id: str, kind: str) -> None:
        """Stop waiting for the due of (exception, kind)."""
        self.pending.pop((exception_id, kind), None)

    def next_due(self) -> int | None:
        """The earliest pending due, or None."""
        heap = self.heap
        while heap and self.pending.get((heap[0][1], heap[0][2])) != heap[0][0]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def due_by(self, clock_us: int) -> list[tuple[int, str, str]]:
        """Pop every valid entry due at or before ``clock_us``, in (due, exception,
        kind) order; they are no longer pending."""
        out: list[tuple[int, str, str]] = []
        heap, pending = self.heap, self.pending
        while heap and heap[0][0] <= clock_us:
            entry = heapq.heappop(heap)
            key = (entry[1], entry[2])
            if pending.get(key) == entry[0]:
                del pending[key]
                out.append(entry)
        return out

    def __len__(self) -> int:
        return len(self.pending)


def update_dues(
    state: ExceptionAlerts,
    exception_id: str,
    dues: tuple[int | None, int | None],
    clock_us: int,
    book: AlertBook,
    changes: Changes,
) -> None:
    """Set an exception's dues: retract a standing alert whose ``due_at`` is no
    longer the computed one (at ``clock_us``), queue a new due that no alert
    stands for."""
    for kind, due in zip(KINDS, dues, strict=True):
        ks = state.kinds[kind]
        if ks.due_us == due:
            continue
        ks.due_us = due
        book.drop(exception_id, kind)
        if ks.standing is not None and ks.standing.due_us != due:
            ks.standing.retracted_us = clock_us
            changes.append(("retracted", ks.standing))
            ks.standing = None
        if due is not None and ks.standing is None:
            book.push(due, exception_id, kind)


def raise_due(
    state: ExceptionAlerts, exception_id: str, kind: str, due_us: int, clock_us: int
) -> Alert | None:
    """Raise the alert of a popped heap entry if it is still the current due
    and none stands (else None: a stale entry)."""
    ks = state.kinds[kind]
    if ks.due_us != due_us or ks.standing is not None:
        return None
    ks.revision += 1
    alert = Alert(exception_id, kind, ks.revision, due_us, clock_us)
    ks.standing = alert
    state.raised.append(alert)
    return alert


def message(action: str, alert: Alert, dims: dict[str, object]) -> str:
    """The alert message of ``interface.md`` as JSON text: ``action``,
    ``alert_id``, ``exception_id``, ``kind``, ``revision``, ``due_at``, ``at``
    (when raised or retracted), the exception's dimensions, order value and
    SLA target."""
    at = alert.raised_us if action == "raised" else alert.retracted_us
    assert at is not None
    body: dict[str, object] = {
        "action": action,
        "alert_id": alert.alert_id,
        "exception_id": alert.exception_id,
        "kind": alert.kind,
        "revision": alert.revision,
        "due_at": iso_z(from_us(alert.due_us)),
        "at": iso_z(from_us(at)),
        **dims,
    }
    return orjson.dumps(body).decode()

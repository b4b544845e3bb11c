"""The life of one exception, derived from its events (``shared/spec/kpis.md``).

Pure functions, no I/O, no clock: given the exception's opened facts and the
other events applied to it, :func:`derive` replays them in event-time order
and returns its *state versions* (one per distinct effective time at which
something changed) and its final state.

Ordering rules (``events.md``):

* events are applied by ``occurred_at``; equal times keep arrival order (``seq``);
* ``exception.opened`` comes first among events at its own time;
* an event earlier than the opened time counts as occurring at the opened
  time, right after the opened event; among such events their own order holds.

Status table (kpis.md): opened -> open; open -paused-> paused; paused
-resumed-> open; open|paused -resolved-> resolved; resolved -reopened-> open;
any but cancelled -cancelled-> cancelled (final). An event that does not fit
changes no status (it stays in the audit trail). Touches, escalations and
assignments apply in every status: ``manual_touches`` counts human touches,
``escalation_level`` is the highest level seen, ``owner_team`` the latest
assignment. The SLA clock (``active_seconds``) runs only while *open*, and
only in the working time of the exception's site calendar (``core.calendar``;
24×7 without one): between two instants it advances by
``clock.working_us(a, b)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.calendar import WALL, Clock
from core.timeutil import US_PER_H, US_PER_S

OPEN = "open"
PAUSED = "paused"
RESOLVED = "resolved"
CANCELLED = "cancelled"
UNASSIGNED = "(unassigned)"

OPENED = "exception.opened"
ASSIGNED = "exception.assigned"
TOUCHED = "exception.touched"
ESCALATED = "exception.escalated"
PAUSED_EV = "exception.paused"
RESUMED = "exception.resumed"
RESOLVED_EV = "exception.resolved"
REOPENED = "exception.reopened"
CANCELLED_EV = "exception.cancelled"


@dataclass(frozen=True, slots=True)
class Step:
    """One accepted follow-up event of an exception, reduced to what state needs.

    ``value`` is the owner team of an assignment or the level of an
    escalation, else ``None``.
    """

    occurred_us: int
    seq: int
    event_type: str
    human: bool
    value: str | int | None
    event_id: str


@dataclass(frozen=True, slots=True)
class Version:
    """The exception's state from ``valid_from_us`` until the next version."""

    valid_from_us: int
    status: str
    owner_team: str
    manual_touches: int
    escalation_level: int
    reopen_count: int
    active_us: int
    """SLA-clock microseconds accumulated up to ``valid_from_us``."""
    working_us_at_start: int
    """The site calendar's cumulative working µs at ``valid_from_us`` (24×7: the
    epoch µs itself), so the clock of an open version at ``t`` is
    ``active_us + clock.cum_us(t) − working_us_at_start``."""
    resolved_at_us: int | None
    resolved_by_human: bool | None
    cancelled_at_us: int | None


@dataclass(frozen=True, slots=True)
class Derived:
    """Everything :func:`derive` learns about one exception."""

    versions: tuple[Version, ...]

    @property
    def final(self) -> Version:
        """The state after the last event."""
        return self.versions[-1]


def effective_time(occurred_us: int, opened_us: int) -> int:
    """An event before the opened time counts as occurring at the opened time."""
    return occurred_us if occurred_us > opened_us else opened_us


def order_key(step: Step, opened_us: int) -> tuple[int, int, int]:
    """Sort key applying the ordering rules of the module docstring."""
    return (effective_time(step.occurred_us, opened_us), step.occurred_us, step.seq)


def derive(opened_us: int, steps: list[Step], clock: Clock = WALL) -> Derived:
    """Replay ``steps`` after an opened event at ``opened_us``.

    Returns one version per distinct effective time (the state after the
    last event at that time); the first version is the opened state. The
    SLA clock runs in ``clock``'s working time (default 24×7).
    """
    return Replay.of(opened_us, steps, clock).derived()


class Replay:
    """:func:`derive` as an accumulator, so that an exception whose events
    arrive in event-time order is derived in O(1) per event, not O(events).

    :meth:`feed` applies one more step *if* it sorts after every step fed so
    far (by :func:`order_key`); otherwise it changes nothing and returns
    ``False``, and the caller replays from scratch (:meth:`of`). Feeding
    steps one by one in order gives exactly what replaying them sorted gives:
    it is the same loop, stopped and resumed.
    """

    __slots__ = (
        "opened_us",
        "clock",
        "status",
        "owner",
        "touches",
        "level",
        "reopens",
        "active",
        "resolved_at",
        "resolved_by_human",
        "cancelled_at",
        "last_t",
        "last_key",
        "versions",
    )

    def __init__(self, opened_us: int, clock: Clock = WALL) -> None:
        self.opened_us = opened_us
        self.clock = clock
        self.status = OPEN
        self.owner = UNASSIGNED
        self.touches = 0
        self.level = 0
        self.reopens = 0
        self.active = 0
        self.resolved_at: int | None = None
        self.resolved_by_human: bool | None = None
        self.cancelled_at: int | None = None
        self.last_t = opened_us
        self.last_key: tuple[int, int, int] | None = None
        self.versions: list[Version] = [self._snapshot(opened_us)]

    @classmethod
    def of(cls, opened_us: int, steps: list[Step], clock: Clock = WALL) -> Replay:
        """A replay of all of ``steps`` (in any order)."""
        replay = cls(opened_us, clock)
        keyed = sorted(((order_key(s, opened_us), s) for s in steps), key=lambda ks: ks[0])
        for key, step in keyed:
            replay._apply(step, key)
        return replay

    def derived(self) -> Derived:
        """What :func:`derive` returns for the steps fed so far."""
        return Derived(tuple(self.versions))

    def feed(self, step: Step) -> bool:
        """Apply ``step`` if it sorts after every step fed so far (else ``False``)."""
        key = order_key(step, self.opened_us)
        if self.last_key is not None and key < self.last_key:
            return False
        self._apply(step, key)
        return True

    def _snapshot(self, t: int) -> Version:
        return Version(
            t,
            self.status,
            self.owner,
            self.touches,
            self.level,
            self.reopens,
            self.active,
            self.clock.cum_us(t),
            self.resolved_at,
            self.resolved_by_human,
            self.cancelled_at,
        )

    def _apply(self, step: Step, key: tuple[int, int, int]) -> None:
        self.last_key = key
        t = key[0]
        status = self.status
        if status == OPEN:
            self.active += self.clock.working_us(self.last_t, t)
        self.last_t = t
        et = step.event_type
        if et == TOUCHED:
            if step.human:
                self.touches += 1
        elif et == ASSIGNED:
            self.owner = str(step.value)
        elif et == ESCALATED:
            if isinstance(step.value, int) and step.value > self.level:
                self.level = step.value
        elif et == PAUSED_EV:
            if status == OPEN:
                self.status = PAUSED
        elif et == RESUMED:
            if status == PAUSED:
                self.status = OPEN
        elif et == RESOLVED_EV:
            if status in (OPEN, PAUSED):
                self.status = RESOLVED
                self.resolved_at = t
                self.resolved_by_human = step.human
        elif et == REOPENED:
            if status == RESOLVED:
                self.status = OPEN
                self.reopens += 1
                self.resolved_at = None
                self.resolved_by_human = None
        elif et == CANCELLED_EV:
            if status != CANCELLED:
                self.status = CANCELLED
                self.cancelled_at = t
                self.resolved_at = None
                self.resolved_by_human = None
        versions = self.versions
        version = self._snapshot(t)
        if version.valid_from_us == versions[-1].valid_from_us:
            versions[-1] = version
        elif _changed(versions[-1], version):
            versions.append(version)


def _changed(prev: Version, new: Version) -> bool:
    """Whether anything but the accumulated clock differs (else no new version)."""
    return (
        prev.status != new.status
        or prev.owner_team != new.owner_team
        or prev.manual_touches != new.manual_touches
        or prev.escalation_level != new.escalation_level
        or prev.reopen_count != new.reopen_count
    )


def active_us_at(version: Version, t_us: int, clock: Clock = WALL) -> int:
    """SLA-clock microseconds at ``t_us`` (≥ ``valid_from_us``) within ``version``."""
    if version.status == OPEN:
        return version.active_us + clock.cum_us(t_us) - version.working_us_at_start
    return version.active_us


def version_at(versions: tuple[Version, ...], t_us: int) -> Version | None:
    """The version in force at ``t_us`` (``None`` before the exception opened)."""
    found: Version | None = None
    for v in versions:
        if v.valid_from_us <= t_us:
            found = v
        else:
            break
    return found


def hours(us: int | float) -> float:
    """Microseconds -> hours."""
    return us / US_PER_H


def seconds(us: int | float) -> float:
    """Microseconds -> seconds."""
    return us / US_PER_S

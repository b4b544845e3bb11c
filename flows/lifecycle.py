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
    effective_us: dict[str, int]
    """Effective (clamped) time of each follow-up event, by event id."""

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
    status = OPEN
    owner = UNASSIGNED
    touches = 0
    level = 0
    reopens = 0
    active = 0
    resolved_at: int | None = None
    resolved_by_human: bool | None = None
    cancelled_at: int | None = None
    last_t = opened_us
    versions: list[Version] = []
    effective: dict[str, int] = {}

    def snapshot(t: int) -> Version:
        return Version(
            t,
            status,
            owner,
            touches,
            level,
            reopens,
            active,
            clock.cum_us(t),
            resolved_at,
            resolved_by_human,
            cancelled_at,
        )

    versions.append(snapshot(opened_us))
    for step in sorted(steps, key=lambda s: order_key(s, opened_us)):
        t = effective_time(step.occurred_us, opened_us)
        effective[step.event_id] = t
        if status == OPEN:
            active += clock.working_us(last_t, t)
        last_t = t
        et = step.event_type
        if et == TOUCHED:
            if step.human:
                touches += 1
        elif et == ASSIGNED:
            owner = str(step.value)
        elif et == ESCALATED:
            if isinstance(step.value, int) and step.value > level:
                level = step.value
        elif et == PAUSED_EV:
            if status == OPEN:
                status = PAUSED
        elif et == RESUMED:
            if status == PAUSED:
                status = OPEN
        elif et == RESOLVED_EV:
            if status in (OPEN, PAUSED):
                status = RESOLVED
                resolved_at = t
                resolved_by_human = step.human
        elif et == REOPENED:
            if status == RESOLVED:
                status = OPEN
                reopens += 1
                resolved_at = None
                resolved_by_human = None
        elif et == CANCELLED_EV:
            if status != CANCELLED:
                status = CANCELLED
                cancelled_at = t
                resolved_at = None
                resolved_by_human = None
        version = snapshot(t)
        if version.valid_from_us == versions[-1].valid_from_us:
            versions[-1] = version
        elif _changed(versions[-1], version):
            versions.append(version)
    return Derived(tuple(versions), effective)


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

"""Lifecycle edge cases as a table: events -> expected state (kpis.md)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.calendar import WALL, Clock, parse_calendars
from flows.lifecycle import (
    ASSIGNED,
    CANCELLED,
    CANCELLED_EV,
    ESCALATED,
    OPEN,
    PAUSED,
    PAUSED_EV,
    REOPENED,
    RESOLVED,
    RESOLVED_EV,
    RESUMED,
    TOUCHED,
    Derived,
    Replay,
    Step,
    active_us_at,
    derive,
    order_key,
    version_at,
)

H = 3_600_000_000  # one hour in microseconds
_OFFICE = parse_calendars(
    {
        "calendars": {"office": {"timezone": "UTC", "thu": "09:00-12:00,13:00-17:00"}},
        "site_calendars": {"S": "office"},
    }
).clock_for("S")
"""Thursday (1970-01-01 is one) 09-12 and 13-17 UTC: the clock stops at night and at lunch."""


def s(
    hour: float, kind: str, *, human: bool = False, value: object = None, seq: int | None = None
) -> Step:
    t = int(hour * H)
    return Step(
        t,
        seq if seq is not None else t,
        f"exception.{kind}",
        human,
        value,  # type: ignore[arg-type]
        f"{kind}@{hour}@{seq}",
    )


# (name, steps after an open at hour 0, expected final: status, active hours at the
#  start of the last version (events that change nothing add no version),
#  manual touches, reopens, escalation level, owner, resolved_at hour)
CASES = [
    (
        "pause then resume",
        [s(1, "paused", value=None), s(3, "resumed")],
        (OPEN, 1, 0, 0, 0, "(unassigned)", None),
    ),
    (
        "resume while open changes nothing",
        [s(1, "resumed")],
        (OPEN, 0, 0, 0, 0, "(unassigned)", None),
    ),
    (
        "pause while paused changes nothing",
        [s(1, "paused"), s(2, "paused"), s(4, "resumed")],
        (OPEN, 1, 0, 0, 0, "(unassigned)", None),
    ),
    (
        "resolve while paused stops the clock at the pause",
        [s(2, "paused"), s(5, "resolved", human=True)],
        (RESOLVED, 2, 0, 0, 0, "(unassigned)", 5),
    ),
    (
        "reopen and re-resolve: last resolution counts",
        [s(1, "resolved"), s(3, "reopened"), s(4, "resolved")],
        (RESOLVED, 2, 0, 1, 0, "(unassigned)", 4),
    ),
    ("reopen while open is ignored", [s(1, "reopened")], (OPEN, 0, 0, 0, 0, "(unassigned)", None)),
    (
        "cancel is final",
        [s(1, "cancelled"), s(2, "reopened"), s(3, "resolved")],
        (CANCELLED, 1, 0, 0, 0, "(unassigned)", None),
    ),
    (
        "cancel a resolved exception",
        [s(1, "resolved"), s(2, "cancelled")],
        (CANCELLED, 1, 0, 0, 0, "(unassigned)", None),
    ),
    (
        "system touches are not manual",
        [s(1, "touched", human=True), s(2, "touched", human=False), s(3, "touched", human=True)],
        (OPEN, 3, 2, 0, 0, "(unassigned)", None),
    ),
    (
        "touches after resolution still count",
        [s(1, "resolved"), s(2, "touched", human=True)],
        (RESOLVED, 1, 1, 0, 0, "(unassigned)", 1),
    ),
    (
        "highest escalation level is kept",
        [s(1, "escalated", value=2), s(2, "escalated", value=1)],
        (OPEN, 1, 0, 0, 2, "(unassigned)", None),
    ),
    (
        "latest assignment is the owner",
        [s(2, "assigned", value="beta"), s(1, "assigned", value="alpha")],
        (OPEN, 2, 0, 0, 0, "beta", None),
    ),
    (
        "events before opened count at the opened time, in their own order",
        [s(-2, "paused"), s(-1, "resumed"), s(3, "touched", human=True)],
        (OPEN, 3, 1, 0, 0, "(unassigned)", None),
    ),
    (
        "early resolve is applied right after open",
        [s(-1, "resolved", human=False)],
        (RESOLVED, 0, 0, 0, 0, "(unassigned)", 0),
    ),
    (
        "equal times: arrival order (pause then resume)",
        [s(2, "paused", seq=10), s(2, "resumed", seq=11)],
        (OPEN, 2, 0, 0, 0, "(unassigned)", None),
    ),
    (
        "equal times: arrival order (resume then pause)",
        [s(2, "resumed", seq=10), s(2, "paused", seq=11)],
        (PAUSED, 2, 0, 0, 0, "(unassigned)", None),
    ),
]


@pytest.mark.parametrize(("name", "steps", "expected"), CASES, ids=[c[0] for c in CASES])
def test_final_state(name: str, steps: list[Step], expected: tuple) -> None:
    status, active_h, touches, reopens, level, owner, resolved_h = expected
    final = derive(0, steps).final
    assert final.status == status
    assert final.active_us == active_h * H
    assert final.manual_touches == touches
    assert final.reopen_count == reopens
    assert final.escalation_level == level
    assert final.owner_team == owner
    assert final.resolved_at_us == (None if resolved_h is None else resolved_h * H)


def test_arrival_order_of_steps_does_not_matter() -> None:
    steps = [
        s(1, "paused"),
        s(3, "resumed"),
        s(5, "resolved"),
        s(7, "reopened"),
        s(2, "touched", human=True),
    ]
    assert derive(0, steps) == derive(0, list(reversed(steps)))


def test_worked_example_as_of() -> None:
    """kpis.md worked example: active hours 2 at 12:00, 6 at 20:00, 8 at 10:00 next day."""
    steps = [
        s(1, "touched", human=True),
        s(2, "paused"),
        s(6, "resumed"),
        s(10, "resolved", human=True),
        s(24, "reopened"),
        s(25, "touched", human=True),
    ]
    versions = derive(0, steps).versions
    for hour, status, active in [(4, PAUSED, 2), (12, RESOLVED, 6), (26, OPEN, 8)]:
        v = version_at(versions, hour * H)
        assert v is not None
        assert v.status == status
        assert active_us_at(v, hour * H) == active * H


def test_event_exactly_at_t_counts() -> None:
    versions = derive(0, [s(5, "resolved")]).versions
    at = version_at(versions, 5 * H)
    before = version_at(versions, 5 * H - 1)
    assert at is not None and at.status == RESOLVED
    assert before is not None and before.status == OPEN


def test_no_version_before_open() -> None:
    assert version_at(derive(10 * H, []).versions, 9 * H) is None


def test_unchanged_events_add_no_version() -> None:
    versions = derive(0, [s(1, "resumed"), s(2, "reopened")]).versions
    assert len(versions) == 1


_KINDS = (TOUCHED, ASSIGNED, ESCALATED, PAUSED_EV, RESUMED, RESOLVED_EV, REOPENED, CANCELLED_EV)


def _replay_as_the_applier_does(opened: int, arrivals: list[Step], clock: Clock) -> Derived:
    """Steps fed one by one in arrival order, derived from scratch whenever
    one arrives out of event-time order (``flows.apply``)."""
    replay: Replay | None = Replay(opened, clock)
    seen: list[Step] = []
    for step in arrivals:
        seen.append(step)
        if replay is not None and not replay.feed(step):
            replay = None
        if replay is None:
            replay = Replay.of(opened, seen, clock)
    assert replay is not None
    return replay.derived()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-3, 40),  # hour (before the open: clamped to it)
            st.sampled_from(_KINDS),
            st.booleans(),
            st.integers(1, 4),
        ),
        max_size=14,
    ),
    st.booleans(),
    st.booleans(),
)
def test_feeding_steps_as_they_arrive_equals_deriving_them_all(
    raw: list[tuple[int, str, bool, int]], in_order: bool, calendar: bool
) -> None:
    """The incremental replay (``Replay.feed``) gives exactly :func:`derive`'s
    versions, whether the steps arrive in event-time order (every step
    extends the replay) or not (a late one replays from scratch), on 24×7
    and on a business-hours clock."""
    opened = 2 * H
    steps = [
        Step(
            h * H,
            i,
            kind,
            human,
            f"team-{level}" if kind == ASSIGNED else (level if kind == ESCALATED else None),
            f"e{i}",
        )
        for i, (h, kind, human, level) in enumerate(raw)
    ]
    if in_order:
        steps.sort(key=lambda x: order_key(x, opened))
    clock = _OFFICE if calendar else WALL
    assert _replay_as_the_applier_does(opened, steps, clock) == derive(opened, steps, clock)


def test_a_step_out_of_event_time_order_is_refused_and_changes_nothing() -> None:
    replay = Replay(0)
    assert replay.feed(s(5, "paused"))
    before = replay.derived()
    assert not replay.feed(s(3, "resolved"))
    assert replay.derived() == before
    assert replay.feed(s(5, "resumed", seq=10**15))  # same time, later arrival: in order

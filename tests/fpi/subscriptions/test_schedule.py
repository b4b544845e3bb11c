"""Slots: local wall time in a time zone, daylight saving, weekly and monthly days."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from fpi.subscriptions.config import Cadence
from fpi.subscriptions.schedule import local_label, next_slot, slots

NY = ZoneInfo("America/New_York")


def _z(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def test_daily_0700_new_york_across_the_march_change() -> None:
    """07:00 local every day: 12:00Z before 2026-03-08 (EST), 11:00Z from it (EDT)."""
    c = Cadence("daily", (time(7),), (), NY)
    got = slots(c, _z("2026-03-06T00:00:00Z"), _z("2026-03-10T23:59:00Z"))
    assert got == [
        _z("2026-03-06T12:00:00Z"),
        _z("2026-03-07T12:00:00Z"),
        _z("2026-03-08T11:00:00Z"),
        _z("2026-03-09T11:00:00Z"),
        _z("2026-03-10T11:00:00Z"),
    ]
    assert {s.astimezone(NY).time() for s in got} == {time(7)}
    assert local_label(got[1], c) == "Sat 2026-03-07 07:00 EST"
    assert local_label(got[2], c) == "Sun 2026-03-08 07:00 EDT"


def test_and_back_in_november() -> None:
    c = Cadence("daily", (time(7),), (), NY)
    got = slots(c, _z("2026-10-31T00:00:00Z"), _z("2026-11-02T23:00:00Z"))
    assert got == [
        _z("2026-10-31T11:00:00Z"),
        _z("2026-11-01T12:00:00Z"),
        _z("2026-11-02T12:00:00Z"),
    ]


def test_skipped_and_repeated_wall_times_give_one_slot_each() -> None:
    """02:30 does not exist on 2026-03-08 in New York (it is 03:30 EDT = 07:30Z);
    01:30 happens twice on 2026-11-01 (the first, EDT, is taken: 05:30Z)."""
    spring = Cadence("daily", (time(2, 30),), (), NY)
    assert slots(spring, _z("2026-03-08T00:00:00Z"), _z("2026-03-08T23:59:00Z")) == [
        _z("2026-03-08T07:30:00Z")
    ]
    autumn = Cadence("daily", (time(1, 30),), (), NY)
    assert slots(autumn, _z("2026-11-01T00:00:00Z"), _z("2026-11-01T23:59:00Z")) == [
        _z("2026-11-01T05:30:00Z")
    ]


def test_weekly_monday_and_bounds_are_inclusive() -> None:
    c = Cadence("weekly", (time(7),), (0,), NY)
    first = _z("2026-03-02T12:00:00Z")  # Mon 07:00 EST
    got = slots(c, first, _z("2026-03-16T11:00:00Z"))
    assert got == [first, _z("2026-03-09T11:00:00Z"), _z("2026-03-16T11:00:00Z")]
    assert [s.astimezone(NY).strftime("%a %H:%M") for s in got] == ["Mon 07:00"] * 3
    assert slots(c, _z("2026-03-02T12:00:01Z"), _z("2026-03-09T10:59:59Z")) == []
    assert slots(c, _z("2026-03-10T00:00:00Z"), _z("2026-03-09T00:00:00Z")) == []


def test_several_days_and_times() -> None:
    c = Cadence("weekly", (time(7), time(15, 30)), (0, 3), ZoneInfo("UTC"))
    got = slots(c, _z("2026-05-04T00:00:00Z"), _z("2026-05-10T23:59:00Z"))
    assert got == [
        _z("2026-05-04T07:00:00Z"),
        _z("2026-05-04T15:30:00Z"),
        _z("2026-05-07T07:00:00Z"),
        _z("2026-05-07T15:30:00Z"),
    ]


def test_monthly_day_past_the_end_is_the_last_day() -> None:
    c = Cadence("monthly", (time(6),), (30, 31), ZoneInfo("UTC"))
    got = slots(c, _z("2026-01-01T00:00:00Z"), _z("2026-04-30T23:00:00Z"))
    assert got == [
        _z("2026-01-30T06:00:00Z"),
        _z("2026-01-31T06:00:00Z"),
        _z("2026-02-28T06:00:00Z"),  # one slot: 30 and 31 are both the 28th
        _z("2026-03-30T06:00:00Z"),
        _z("2026-03-31T06:00:00Z"),
        _z("2026-04-30T06:00:00Z"),
    ]


@pytest.mark.parametrize(
    ("cadence", "after", "expected"),
    [
        (Cadence("daily", (time(7),), (), NY), "2026-03-07T12:00:00Z", "2026-03-08T11:00:00Z"),
        (Cadence("daily", (time(7),), (), NY), "2026-03-07T11:59:59Z", "2026-03-07T12:00:00Z"),
        (Cadence("weekly", (time(7),), (0,), NY), "2026-03-03T00:00:00Z", "2026-03-09T11:00:00Z"),
        (
            Cadence("monthly", (time(0),), (31,), ZoneInfo("UTC")),
            "2026-02-01T00:00:00Z",
            "2026-02-28T00:00:00Z",
        ),
    ],
)
def test_next_slot_is_strictly_after(cadence: Cadence, after: str, expected: str) -> None:
    assert next_slot(cadence, _z(after)) == _z(expected)

"""``core.calendar``: working time on business-hours calendars (kpis.md, "Business-hours
calendars (SLA clock)" and "SLA alerts").

Every case of the tables below has its expected number written by hand (the arithmetic
in the comment) and is checked against ``core.calendar`` *and* the independent
reference ``tests.reference_sla`` (written from kpis.md alone, no shared code); a
property test then compares the two on random calendars, zones, intervals and amounts.
Configuration errors are checked through ``core.config.load_settings`` (one line,
``bad configuration at <key>: ...``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from core import calendar as cc
from core.config import builtin_settings, load_settings
from tests import reference_sla as ref

H = timedelta(hours=1)
US = timedelta(microseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def Z(mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0, y: int = 2026) -> datetime:  # noqa: N802
    """An instant in UTC (the local times are in the comments)."""
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


def to_us(t: datetime) -> int:
    return (t - EPOCH) // US


def from_us(t_us: int) -> datetime:
    return EPOCH + t_us * US


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

# --- the calendars of the hand cases (TOML tables as parsed) ---------------------------

CALENDARS: dict[str, dict[str, Any]] = {
    # kpis.md's example: New York (EDT = UTC-4 in May), lunch break on Wednesday,
    # Friday until 16:00, Memorial Day (Mon 2026-05-25) closed
    "us_east": {
        "timezone": "America/New_York",
        "mon": "08:00-18:00",
        "tue": "08:00-18:00",
        "wed": "08:00-12:00,13:00-18:00",
        "thu": "08:00-18:00",
        "fri": "08:00-16:00",
        "holidays": ["2026-05-25"],
    },
    # the worked example's calendar: New York, Mon-Fri 08:00-18:00
    "example": {"timezone": "America/New_York", **dict.fromkeys(WEEKDAYS, "08:00-18:00")},
    # a night shift Mon 22:00 -> Tue 06:00 -> Tue 22:00 -> Wed 06:00, Berlin (CEST = UTC+2)
    "night": {
        "timezone": "Europe/Berlin",
        "mon": "22:00-24:00",
        "tue": "00:00-06:00,22:00-24:00",
        "wed": "00:00-06:00",
    },
    # the same with the second day (Tue 2026-05-05) a holiday, or the first (Mon 05-04)
    "night_tue_off": {
        "timezone": "Europe/Berlin",
        "mon": "22:00-24:00",
        "tue": "00:00-06:00,22:00-24:00",
        "wed": "00:00-06:00",
        "holidays": ["2026-05-05"],
    },
    "night_mon_off": {
        "timezone": "Europe/Berlin",
        "mon": "22:00-24:00",
        "tue": "00:00-06:00,22:00-24:00",
        "wed": "00:00-06:00",
        "holidays": ["2026-05-04"],
    },
    # a range ending at 24:00
    "late": {"timezone": "Europe/Berlin", "sat": "20:00-24:00"},
    # Santiago: the spring change is at local 24:00 (Sat 2026-09-05 24:00 -> Sun 01:00,
    # so Sun 00:00 is in the gap), the autumn change at Sun 2026-04-05 00:00 -03 -> Sat 23:00 -04
    "santiago_late": {
        "timezone": "America/Santiago",
        "sat": "20:00-24:00",
        "sun": "00:00-02:00",
    },
    # New York DST days: spring Sun 2026-03-08 02:00 EST -> 03:00 EDT (07:00Z),
    # autumn Sun 2026-11-01 02:00 EDT -> 01:00 EST (06:00Z)
    "ny_sun_early": {"timezone": "America/New_York", "sun": "01:00-04:00"},
    "ny_gap_start": {"timezone": "America/New_York", "sun": "02:30-05:00"},
    "ny_repeat_start": {"timezone": "America/New_York", "sun": "01:30-05:00"},
    "ny_gap_end": {"timezone": "America/New_York", "sun": "00:00-02:30"},
    "ny_repeat_end": {"timezone": "America/New_York", "sun": "00:00-01:30"},
    "ny_empty": {"timezone": "America/New_York", "sun": "02:30-03:00", "mon": "08:00-09:00"},
    "ny_allday": {"timezone": "America/New_York", "sun": "00:00-24:00"},
    # east of UTC: Kolkata (IST = UTC+05:30, no DST) and Tokyo (JST = UTC+9)
    "kolkata": {"timezone": "Asia/Kolkata", **dict.fromkeys(WEEKDAYS, "09:00-17:30")},
    "kolkata_hol": {
        "timezone": "Asia/Kolkata",
        **dict.fromkeys(WEEKDAYS, "09:00-17:30"),
        "holidays": ["2026-05-04"],
    },
    "tokyo": {"timezone": "Asia/Tokyo", "mon": "09:00-12:00"},
}

PRODUCT = {n: cc.make_calendar(n, t) for n, t in CALENDARS.items()}
REFERENCE = {n: ref.make_calendar(n, t) for n, t in CALENDARS.items()}

BERLIN, TOKYO = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo")

# (case, calendar, a, b, hand-computed working seconds of [a, b))
WORKING = [
    # us_east, May 2026: local = UTC - 4 h
    ("fri-evening-to-monday", "us_east", Z(5, 8, 19), Z(5, 11, 14), 10_800),
    # Fri 15:00 -> Mon 10:00 local: Fri 15-16 (1 h) + Mon 08-10 (2 h) = 3 h
    ("whole-week", "us_east", Z(5, 4, 4), Z(5, 11, 4), 169_200),
    # Mon 00:00 -> Mon 00:00 local: 10 + 10 + (4 + 5) + 10 + 8 = 47 h
    ("lunch-break", "us_east", Z(5, 6, 15), Z(5, 6, 18), 7_200),
    # Wed 11:00 -> 14:00: 11-12 + 13-14 = 2 h
    ("inside-lunch", "us_east", Z(5, 6, 16), Z(5, 6, 17), 0),
    # Wed 12:00 -> 13:00: the break itself
    ("into-lunch", "us_east", Z(5, 6, 15, 30), Z(5, 6, 16, 30), 1_800),
    # Wed 11:30 -> 12:30: 30 min
    ("holiday", "us_east", Z(5, 22, 19), Z(5, 26, 13), 7_200),
    # Fri 05-22 15:00 -> Tue 05-26 09:00: Fri 1 h + Mon 05-25 holiday 0 + Tue 08-09 1 h
    ("holiday-week", "us_east", Z(5, 25, 4), Z(6, 1, 4), 133_200),
    # Mon 05-25 -> Mon 06-01: 0 + 10 + 9 + 10 + 8 = 37 h
    ("a=b-closed", "us_east", Z(5, 9, 16), Z(5, 9, 16), 0),
    # Sat 12:00 = Sat 12:00
    ("closed-to-open", "us_east", Z(5, 9, 16), Z(5, 11, 13), 3_600),
    # Sat 12:00 -> Mon 09:00: Mon 08-09
    ("open-to-closed", "us_east", Z(5, 8, 19, 30), Z(5, 9, 16), 1_800),
    # Fri 15:30 -> Sat 12:00: Fri 15:30-16:00
    ("closed-to-closed", "us_east", Z(5, 8, 21), Z(5, 11, 11), 0),
    # Fri 17:00 -> Mon 07:00: the weekend only
    ("a=b-open", "us_east", Z(5, 4, 14), Z(5, 4, 14), 0),
    ("b-before-a", "us_east", Z(5, 4, 16), Z(5, 4, 14), 0),
    ("exactly-one-range", "us_east", Z(5, 4, 12), Z(5, 4, 22), 36_000),
    # Mon 08:00 -> 18:00: 10 h
    ("microsecond", "us_east", Z(5, 4, 12, 0, 0, 1), Z(5, 4, 13), 3_599.999999),
    # Mon 08:00:00.000001 -> 09:00: 1 h - 1 us
    (
        "aware-in-other-zones",
        "us_east",
        datetime(2026, 5, 4, 14, tzinfo=BERLIN),  # 12:00Z = Mon 08:00 EDT
        datetime(2026, 5, 4, 23, tzinfo=TOKYO),  # 14:00Z = Mon 10:00 EDT
        7_200,
    ),
    # night shift, Berlin, May: local = UTC + 2 h
    ("night-shift", "night", Z(5, 4, 18), Z(5, 6, 10), 57_600),
    # Mon 20:00 -> Wed 12:00: Mon 22-24 (2) + Tue 00-06 (6) + Tue 22-24 (2) + Wed 00-06 (6)
    ("night-across-midnight", "night", Z(5, 4, 21), Z(5, 4, 23), 7_200),
    # Mon 23:00 -> Tue 01:00: one shift across midnight, 2 h
    ("night-holiday-second-day", "night_tue_off", Z(5, 4, 18), Z(5, 5, 10), 7_200),
    # Mon 20:00 -> Tue 12:00, Tue a holiday: Mon 22-24 still runs (2 h), Tue 00-06 closed
    ("night-holiday-second-day-2", "night_tue_off", Z(5, 4, 18), Z(5, 6, 10), 28_800),
    # Mon 20:00 -> Wed 12:00: Mon 22-24 (2) + Wed 00-06 (6); Tue's two parts closed
    ("night-holiday-first-day", "night_mon_off", Z(5, 4, 18), Z(5, 5, 10), 21_600),
    # Mon 20:00 -> Tue 12:00, Mon a holiday: the morning part Tue 00-06 still runs
    ("ends-at-2400", "late", Z(5, 9, 19), Z(5, 9, 23), 10_800),
    # Sat 21:00 -> Sun 01:00 CEST: 21-24 = 3 h
    ("2400-into-the-spring-gap", "santiago_late", Z(9, 5, 12), Z(9, 7), 18_000),
    # Sat 20:00 -04 (00:00Z) -> 24:00 = Sun 00:00 in the gap, offset before: -04 (04:00Z): 4 h;
    # Sun 00:00 (gap, -04: 04:00Z) -> 02:00 -03 (05:00Z): 1 h; 5 h
    ("2400-after-the-autumn-repeat", "santiago_late", Z(4, 4, 12), Z(4, 6), 25_200),
    # Sat 20:00 -03 (23:00Z) -> 24:00 = Sun 00:00 -04 (04:00Z): 5 h (23:00-24:00 twice);
    # Sun 00:00 -04 (04:00Z) -> 02:00 -04 (06:00Z): 2 h; 7 h
    # New York DST days
    ("spring-01-04", "ny_sun_early", Z(3, 8), Z(3, 9), 7_200),
    # Sun 03-08 01:00 EST (06:00Z) -> 04:00 EDT (08:00Z): 2 h
    ("autumn-01-04", "ny_sun_early", Z(11, 1), Z(11, 2), 14_400),
    # Sun 11-01 01:00 EDT (05:00Z) -> 04:00 EST (09:00Z): 4 h
    ("plain-sunday-01-04", "ny_sun_early", Z(3, 15), Z(3, 16), 10_800),
    ("spring-start-in-gap", "ny_gap_start", Z(3, 8), Z(3, 9), 5_400),
    # 02:30 is in the gap: offset before (EST) -> 07:30Z; 05:00 EDT = 09:00Z: 1.5 h
    ("autumn-start-after-repeat", "ny_gap_start", Z(11, 1), Z(11, 2), 9_000),
    # 02:30 EST (07:30Z) -> 05:00 EST (10:00Z): 2.5 h
    ("autumn-start-in-repeat", "ny_repeat_start", Z(11, 1), Z(11, 2), 16_200),
    # 01:30 is repeated: offset before (EDT) -> 05:30Z; 05:00 EST = 10:00Z: 4.5 h
    ("spring-end-in-gap", "ny_gap_end", Z(3, 8), Z(3, 9), 9_000),
    # 00:00 EST (05:00Z) -> 02:30 in the gap, EST (07:30Z): 2.5 h
    ("autumn-end-in-repeat", "ny_repeat_end", Z(11, 1), Z(11, 2), 5_400),
    # 00:00 EDT (04:00Z) -> 01:30 first occurrence, EDT (05:30Z): 1.5 h
    ("spring-range-empty", "ny_empty", Z(3, 8), Z(3, 9), 0),
    # 02:30 (gap, EST) = 07:30Z, 03:00 EDT = 07:00Z: end <= start, empty
    ("plain-sunday-range", "ny_empty", Z(3, 15), Z(3, 16), 1_800),
    ("spring-day-is-23h", "ny_allday", Z(3, 7), Z(3, 10), 82_800),
    # Sun 03-08 00:00 EST (05:00Z) -> Mon 00:00 EDT (03-09 04:00Z): 23 h
    ("autumn-day-is-25h", "ny_allday", Z(10, 31), Z(11, 3), 90_000),
    # Sun 11-01 00:00 EDT (04:00Z) -> Mon 00:00 EST (11-02 05:00Z): 25 h
    # east of UTC
    ("kolkata-day", "kolkata", Z(5, 4, 3), Z(5, 4, 12, 30), 30_600),
    # 08:30 IST -> 18:00 IST: 09:00-17:30 = 8.5 h
    ("kolkata-half-hour-offset", "kolkata", Z(5, 4, 3, 29), Z(5, 4, 3, 31), 60),
    # 08:59 -> 09:01 IST: 1 min
    ("kolkata-fri-to-mon", "kolkata", Z(5, 8, 11), Z(5, 11, 4, 30), 7_200),
    # Fri 16:30 IST -> Mon 10:00 IST: 1 h + 1 h
    ("kolkata-holiday", "kolkata_hol", Z(5, 3, 20), Z(5, 5, 4, 30), 3_600),
    # Mon 01:30 IST -> Tue 10:00 IST, Mon a holiday (local date): Tue 09-10
    ("tokyo-monday-starts-on-utc-sunday", "tokyo", Z(5, 3, 23), Z(5, 4, 1), 3_600),
    # Sun 23:00Z = Mon 08:00 JST -> Mon 10:00 JST: 09-10
    ("tokyo-utc-monday-is-closed", "tokyo", Z(5, 4, 3), Z(5, 5), 0),
    # Mon 12:00 JST -> Tue 09:00 JST: after Monday's range
]


@pytest.mark.parametrize(
    ("case", "name", "a", "b", "seconds"), WORKING, ids=[c[0] for c in WORKING]
)
def test_working_seconds_by_hand(
    case: str, name: str, a: datetime, b: datetime, seconds: float
) -> None:
    assert cc.working_seconds(PRODUCT[name], a, b) == seconds
    assert ref.working_seconds(REFERENCE[name], a, b) == seconds


def test_working_seconds_without_calendar_is_wall_time_and_rejects_naive() -> None:
    assert cc.working_seconds(None, Z(5, 9, 16), Z(5, 11, 13)) == 45 * 3600
    assert cc.working_seconds(None, Z(5, 9, 16), Z(5, 9, 15)) == 0
    naive = datetime(2026, 5, 4, 12)  # noqa: DTZ001 - the error under test
    with pytest.raises(ValueError, match="naive"):
        cc.working_seconds(PRODUCT["us_east"], naive, Z(5, 4, 13))


# (case, calendar (None: 24x7), start, amount in hours, reached (at-risk rule), passed
# (breach rule)), all by hand
INVERSES: list[tuple[str, str | None, datetime, float, datetime, datetime]] = [
    ("ends-with-working-time", "us_east", Z(5, 8, 19), 1, Z(5, 8, 20), Z(5, 11, 12)),
    # Fri 15:00 EDT + 1 h: reached Fri 16:00 (the end), passed when Mon 08:00 starts
    ("over-the-weekend", "us_east", Z(5, 8, 19), 1.5, Z(5, 11, 12, 30), Z(5, 11, 12, 30)),
    # Fri 15:00 + 1 h, then Mon 08:00 + 0.5 h = Mon 08:30
    ("from-closed-time", "us_east", Z(5, 9, 16), 2, Z(5, 11, 14), Z(5, 11, 14)),
    # Sat 12:00: Mon 08:00 + 2 h = Mon 10:00
    ("at-the-lunch-break", "us_east", Z(5, 6, 14), 2, Z(5, 6, 16), Z(5, 6, 17)),
    # Wed 10:00 + 2 h: reached 12:00, passed 13:00
    ("before-a-holiday", "us_east", Z(5, 22, 19), 1, Z(5, 22, 20), Z(5, 26, 12)),
    # Fri 05-22 15:00 + 1 h: reached 16:00, passed Tue 05-26 08:00 (Mon a holiday)
    ("zero-from-closed", "us_east", Z(5, 9, 16), 0, Z(5, 9, 16), Z(5, 11, 12)),
    # 0 h is reached at once; it is run past when working time starts (Mon 08:00)
    ("zero-from-open", "us_east", Z(5, 4, 13), 0, Z(5, 4, 13), Z(5, 4, 13)),
    ("negative", "us_east", Z(5, 9, 16), -1, Z(5, 9, 16), Z(5, 9, 16)),
    ("night-across-midnight", "night", Z(5, 4, 20), 2, Z(5, 4, 22), Z(5, 4, 22)),
    # Mon 22:00 CEST + 2 h = Tue 00:00, where the shift goes on: no gap, both there
    ("night-end-of-shift", "night", Z(5, 4, 20), 8, Z(5, 5, 4), Z(5, 5, 20)),
    # Mon 22:00 + 8 h: Tue 06:00 CEST (04:00Z) reached, passed Tue 22:00 CEST (20:00Z)
    ("spring-day", "ny_sun_early", Z(3, 8, 6), 2, Z(3, 8, 8), Z(3, 15, 5)),
    # Sun 01:00 EST + 2 h = 04:00 EDT (08:00Z, the end); next Sun 01:00 EDT = 05:00Z
    ("spring-day-gap", "ny_sun_early", Z(3, 8, 6), 1, Z(3, 8, 7), Z(3, 8, 7)),
    # 01:00 EST + 1 h = 07:00Z = 03:00 EDT (no 02:xx that day)
    ("autumn-day", "ny_sun_early", Z(11, 1, 5), 4, Z(11, 1, 9), Z(11, 8, 6)),
    # Sun 01:00 EDT + 4 h = 04:00 EST (09:00Z); next Sun 01:00 EST = 06:00Z
    ("kolkata-next-day", "kolkata", Z(5, 4, 10, 30), 3, Z(5, 5, 5), Z(5, 5, 5)),
    # Mon 16:00 IST: 1.5 h to 17:30, then Tue 09:00 IST (03:30Z) + 1.5 h = 05:00Z
    ("kolkata-end-of-day", "kolkata", Z(5, 4, 10, 30), 1.5, Z(5, 4, 12), Z(5, 5, 3, 30)),
    # reached 17:30 IST (12:00Z), passed Tue 09:00 IST (03:30Z)
    ("worked-example-at-risk", "example", Z(5, 5, 8), 3.2, Z(5, 5, 15, 12), Z(5, 5, 15, 12)),
    # kpis.md: 4 h at the resolve, reopened 05-05 08:00Z; 7.2 - 4 = 3.2 h from 12:00Z
    ("worked-example-breach", "example", Z(5, 5, 8), 5, Z(5, 5, 17), Z(5, 5, 17)),
    # 9 - 4 = 5 h from 12:00Z = 17:00Z
    ("24x7", None, Z(5, 9, 16), 2, Z(5, 9, 18), Z(5, 9, 18)),
]


def _clock(name: str | None) -> cc.Clock:
    return cc.WALL if name is None else cc.WorkClock(PRODUCT[name])


@pytest.mark.parametrize(
    ("case", "name", "start", "hours", "reached", "passed"), INVERSES, ids=[c[0] for c in INVERSES]
)
def test_inverses_by_hand(
    case: str, name: str | None, start: datetime, hours: float, reached: datetime, passed: datetime
) -> None:
    amount_us = round(hours * 3600 * 1_000_000)
    clock = _clock(name)
    assert clock.reached_us(to_us(start), amount_us) == to_us(reached)
    assert clock.passed_us(to_us(start), amount_us) == to_us(passed)
    cal = None if name is None else REFERENCE[name]
    assert ref.reached_at(cal, start, timedelta(hours=hours)) == reached
    assert ref.passed_at(cal, start, timedelta(hours=hours)) == passed
    if hours > 0:  # the amount is the working time up to both instants
        assert clock.working_us(to_us(start), to_us(reached)) == amount_us
        assert clock.working_us(to_us(start), to_us(passed)) == amount_us


NEXT_WORKING = [
    ("closed-saturday", Z(5, 9, 16), Z(5, 11, 12)),  # Sat 12:00 -> Mon 08:00 EDT
    ("inside", Z(5, 4, 13), Z(5, 4, 13)),
    ("at-a-start", Z(5, 4, 12), Z(5, 4, 12)),  # Mon 08:00: itself
    ("at-an-end", Z(5, 8, 20), Z(5, 11, 12)),  # Fri 16:00 (excluded) -> Mon 08:00
    ("lunch", Z(5, 6, 16), Z(5, 6, 17)),  # Wed 12:00 -> 13:00
    ("before-a-holiday", Z(5, 22, 20), Z(5, 26, 12)),  # Fri 16:00 -> Tue 08:00
]


@pytest.mark.parametrize(("case", "t", "want"), NEXT_WORKING, ids=[c[0] for c in NEXT_WORKING])
def test_next_working_instant_by_hand(case: str, t: datetime, want: datetime) -> None:
    assert cc.WorkClock(PRODUCT["us_east"]).next_working_us(to_us(t)) == to_us(want)
    assert ref.next_working_instant(REFERENCE["us_east"], t) == want


def test_the_site_map_gives_each_site_its_clock_and_24x7_elsewhere(tmp_path: Path) -> None:
    cfg = tmp_path / "cal.toml"
    cfg.write_text(SPEC_TOML)
    cals = load_settings(cfg).sla_calendars
    clock = cals.clock_for("DC-ATL")
    assert isinstance(clock, cc.WorkClock) and clock.calendar.name == "us_east"
    assert cals.clock_for("DC-DAL") is cc.WALL
    assert cals.calendar_for("DC-DAL") is None
    # the clock of the configuration is the clock of the hand cases
    a, b = to_us(Z(5, 22, 19)), to_us(Z(5, 26, 13))
    assert clock.working_us(a, b) == 7_200 * 1_000_000
    assert cc.WALL.working_us(a, b) == b - a and cc.WALL.cum_us(a) == a


# --- random calendars: the product agrees with the reference ---------------------------

ZONES = (
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # DST of 30 minutes
    "Asia/Kolkata",  # +05:30
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Santiago",  # changes at local midnight
)


def _transitions(zone: str, years: range) -> list[datetime]:
    """The UTC instants at which ``zone``'s offset changes (15-minute resolution)."""
    zi = ZoneInfo(zone)
    out: list[datetime] = []
    t = datetime(years.start, 1, 1, tzinfo=UTC)
    stop = datetime(years.stop, 1, 1, tzinfo=UTC)
    prev = t.astimezone(zi).utcoffset()
    while t < stop:
        t += timedelta(minutes=15)
        off = t.astimezone(zi).utcoffset()
        if off != prev:
            out.append(t)
            prev = off
    return out


TRANSITIONS = {z: _transitions(z, range(2025, 2028)) for z in ZONES}
# instants away from 2025-2027 too: the clock counts from 1970 and stops in 2200
FAR = [Z(1, 1, y=1971), Z(6, 30, y=1999), Z(12, 31, 23, y=2037), Z(3, 1, y=2100)]


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


@st.composite
def day_ranges(draw: st.DrawFn) -> str | None:
    n = draw(st.integers(0, 6)) // 2  # closed on about a third of the days
    parts = []
    for _ in range(n):
        if draw(st.booleans()):  # on the quarter hour, so ranges touch and hit DST edges
            s = 15 * draw(st.integers(0, 95))
            e = 15 * draw(st.integers(s // 15 + 1, 96))
        else:
            s = draw(st.integers(0, 1439))
            e = draw(st.integers(s + 1, 1440))
        parts.append(f"{_hhmm(s)}-{_hhmm(e)}")
    return ",".join(parts) if parts else None


@st.composite
def cases(draw: st.DrawFn) -> tuple[dict[str, Any], datetime, datetime, int]:
    zone = draw(st.sampled_from(ZONES))
    if draw(st.integers(0, 9)) == 0:
        base = draw(st.sampled_from(FAR))
    else:
        base = draw(st.sampled_from(TRANSITIONS[zone] or [Z(5, 4)]))
    a = base + timedelta(seconds=draw(st.integers(-3 * 86_400, 86_400)))
    if draw(st.booleans()):
        a += draw(st.integers(1, 999_999)) * US
    if draw(st.integers(0, 3)) == 0:  # short, possibly empty or negative
        b = a + timedelta(seconds=draw(st.integers(-3600, 6 * 3600)))
    else:
        b = a + timedelta(seconds=draw(st.integers(2 * 86_400, 21 * 86_400)))
    table: dict[str, Any] = {"timezone": zone}
    for d in cc.DAY_KEYS:
        r = draw(day_ranges())
        if r is not None:
            table[d] = r
    assume(any(d in table for d in cc.DAY_KEYS))
    local = a.astimezone(ZoneInfo(zone)).date()
    offsets = draw(st.lists(st.integers(-3, 21), max_size=6, unique=True))
    table["holidays"] = [(local + timedelta(days=k)).isoformat() for k in offsets]
    amount_h = draw(
        st.one_of(st.just(0.0), st.floats(0, 200, allow_nan=False), st.integers(1, 60).map(float))
    )
    return table, a, b, round(amount_h * 3600 * 1_000_000)


def _exact_amounts(cal: ref.Calendar, a: datetime) -> list[int]:
    """Amounts that end exactly where a working interval ends (the boundary rules)."""
    out = []
    total = timedelta(0)
    for lo, hi in ref.working_intervals(cal, a, a + timedelta(days=15))[:4]:
        total += hi - lo
        out.append(total // US)
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=cases())
def test_product_agrees_with_reference_on_random_calendars(
    case: tuple[dict[str, Any], datetime, datetime, int],
) -> None:
    table, a, b, amount_us = case
    mine, theirs = cc.make_calendar("r", table), ref.make_calendar("r", table)
    assert cc.working_seconds(mine, a, b) == ref.working_seconds(theirs, a, b), (table, a, b)
    clock = cc.WorkClock(mine)
    a_us = to_us(a)
    assert clock.working_us(a_us, to_us(b)) == ref.working_time(theirs, a, b) // US
    for amount in [amount_us, *_exact_amounts(theirs, a)]:
        want_reached = ref.reached_at(theirs, a, amount * US)
        want_passed = ref.passed_at(theirs, a, amount * US)
        got_reached = clock.reached_us(a_us, amount)
        got_passed = clock.passed_us(a_us, amount)
        assert got_reached is not None and got_passed is not None
        assert from_us(got_reached) == want_reached, (table, a, amount)
        assert from_us(got_passed) == want_passed, (table, a, amount)
    next_us = clock.next_working_us(a_us)
    assert next_us is not None and from_us(next_us) == ref.next_working_instant(theirs, a)


@settings(max_examples=30, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    a_s=st.integers(to_us(Z(1, 1, y=2025)) // 10**6, to_us(Z(1, 1, y=2028)) // 10**6),
    length_s=st.integers(0, 40 * 86_400),
)
def test_a_calendar_open_all_week_is_the_wall_clock(zone: str, a_s: int, length_s: int) -> None:
    """00:00-24:00 every day: the ranges of consecutive days touch, so even across a
    DST change the working time is the wall time."""
    table = {"timezone": zone, **dict.fromkeys(cc.DAY_KEYS, "00:00-24:00")}
    a = from_us(a_s * 10**6)
    b = a + timedelta(seconds=length_s)
    assert cc.working_seconds(cc.make_calendar("all", table), a, b) == length_s
    assert ref.working_seconds(ref.make_calendar("all", table), a, b) == length_s


# --- configuration --------------------------------------------------------------------

SPEC_TOML = """
[calendars.us_east]                 # any name
timezone = "America/New_York"       # IANA zone; local times below are in it (DST-aware)
mon = "08:00-18:00"                 # one or more ranges "HH:MM-HH:MM[,HH:MM-HH:MM]"
tue = "08:00-18:00"
wed = "08:00-12:00,13:00-18:00"
thu = "08:00-18:00"
fri = "08:00-16:00"                 # a weekday left out is closed all day
holidays = ["2026-05-25"]           # local dates closed all day

[site_calendars]
DC-ATL = "us_east"                  # sites not listed run 24x7
"""


def test_the_toml_of_kpis_md_loads_and_everything_else_keeps_its_default(tmp_path: Path) -> None:
    cfg = tmp_path / "cal.toml"
    cfg.write_text(SPEC_TOML)
    s = load_settings(cfg)
    default = builtin_settings()
    assert (s.reporting_currency, s.sla, s.rates) == (
        default.reporting_currency,
        default.sla,
        default.rates,
    )
    assert s.targets == default.targets
    cal = s.sla_calendars.calendar_for("DC-ATL")
    assert cal is not None and cal.name == "us_east" and cal.timezone == "America/New_York"
    ten = ((8 * 60, 18 * 60),)
    assert cal.week == (ten, ten, ((480, 720), (780, 1080)), ten, ((480, 960),), (), ())
    assert cal.holidays == frozenset({date(2026, 5, 25)})
    assert dict(s.sla_calendars.site_calendars) == {"DC-ATL": "us_east"}
    assert builtin_settings().sla_calendars.calendar_for("DC-ATL") is None  # no calendars: 24x7


def test_grammar_merges_touching_ranges_and_takes_toml_dates(tmp_path: Path) -> None:
    cfg = tmp_path / "cal.toml"
    cfg.write_text(
        "[calendars.x]\n"
        'timezone = "Asia/Kolkata"\n'
        'mon = "13:00-18:00, 08:00-12:00,12:00-13:30"\n'  # unsorted, touching, overlapping
        'sat = "20:00-24:00"\n'
        'holidays = [2026-05-04, "2026-05-05"]\n'  # a TOML date and a string
        "[site_calendars]\n"
        'DC-BLR = "x"\n'
    )
    cal = load_settings(cfg).sla_calendars.calendar_for("DC-BLR")
    assert cal is not None
    assert cal.week[0] == ((480, 1080),) and cal.week[5] == ((1200, 1440),)
    assert cal.holidays == frozenset({date(2026, 5, 4), date(2026, 5, 5)})


def _cal(body: str) -> str:
    return f'[calendars.x]\ntimezone = "America/New_York"\n{body}\n'


BAD_CONFIGS = [
    (
        "unknown-zone",
        '[calendars.x]\ntimezone = "Mars/Olympus"\nmon = "08:00-18:00"\n',
        "calendars.x.timezone",
    ),
    ("missing-zone", '[calendars.x]\nmon = "08:00-18:00"\n', "calendars.x.timezone"),
    ("hour-25", _cal('mon = "08:00-25:00"'), "calendars.x.mon"),
    ("minute-60", _cal('tue = "08:60-18:00"'), "calendars.x.tue"),
    ("across-midnight", _cal('fri = "22:00-06:00"'), "calendars.x.fri"),
    ("empty-range", _cal('mon = "08:00-08:00"'), "calendars.x.mon"),
    ("2400-as-start", _cal('sun = "24:00-24:00"'), "calendars.x.sun"),
    ("one-digit-hour", _cal('mon = "8:00-18:00"'), "calendars.x.mon"),
    ("not-a-range", _cal('mon = "all day"'), "calendars.x.mon"),
    ("empty-day-string", _cal('wed = ""'), "calendars.x.wed"),
    ("array-of-ranges", _cal('mon = ["08:00-18:00"]'), "calendars.x.mon"),
    (
        "no-working-time",
        '[calendars.x]\ntimezone = "America/New_York"\nholidays = []\n',
        "calendars.x",
    ),
    ("unknown-key", _cal('mon = "08:00-18:00"\nmonday = "08:00-18:00"'), "calendars.x.monday"),
    (
        "holidays-not-a-list",
        _cal('mon = "08:00-18:00"\nholidays = "2026-05-25"'),
        "calendars.x.holidays",
    ),
    (
        "holiday-not-a-date",
        _cal('mon = "08:00-18:00"\nholidays = ["2026-13-01"]'),
        "calendars.x.holidays",
    ),
    (
        "holiday-us-format",
        _cal('mon = "08:00-18:00"\nholidays = ["05/25/2026"]'),
        "calendars.x.holidays",
    ),
    (
        "holiday-a-datetime",
        _cal('mon = "08:00-18:00"\nholidays = [2026-05-25T00:00:00Z]'),
        "calendars.x.holidays",
    ),
    ("calendar-not-a-table", "calendars = { x = 5 }\n", "calendars.x"),
    (
        "unknown-calendar",
        _cal('mon = "08:00-18:00"') + '[site_calendars]\nDC-ATL = "nope"\n',
        "site_calendars.DC-ATL",
    ),
    (
        "site-not-a-name",
        _cal('mon = "08:00-18:00"') + "[site_calendars]\nDC-ATL = 3\n",
        "site_calendars.DC-ATL",
    ),
    ("site-without-calendars", '[site_calendars]\nDC-ATL = "us_east"\n', "site_calendars.DC-ATL"),
]


@pytest.mark.parametrize(("case", "toml", "key"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_a_bad_calendar_is_a_one_line_error_naming_the_key(
    tmp_path: Path, case: str, toml: str, key: str
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(toml)
    with pytest.raises(ValueError) as err:
        load_settings(cfg)
    msg = str(err.value)
    assert msg.startswith(f"bad configuration at {key}: "), msg
    assert "\n" not in msg and len(msg) < 300
    # the reference rejects the same document (naming the same key)
    with pytest.raises(ValueError, match="^" + re.escape(key) + ": "):
        ref.load_sla_config(toml)

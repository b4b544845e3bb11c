"""Business-hours calendars: the SLA clock in each site's working time (kpis.md).

Configuration (TOML, beside the SLA policy)::

    [calendars.us_east]                 # any name
    timezone = "America/New_York"       # IANA zone; the local times below are in it
    mon = "08:00-18:00"                 # one or more ranges "HH:MM-HH:MM[,HH:MM-HH:MM]"
    wed = "08:00-12:00,13:00-18:00"
    fri = "08:00-16:00"                 # a weekday left out is closed all day
    holidays = ["2026-05-25"]           # local dates closed all day

    [site_calendars]
    DC-ATL = "us_east"                  # sites not listed run 24x7

Grammar: day keys ``mon`` … ``sun``; each range lies within one local day
(``HH:MM-HH:MM``, two-digit hours and minutes, start < end, ``24:00`` as an end
only), so a night shift is two ranges on two days; touching or overlapping
ranges of a day merge; a holiday closes that local date's ranges only (the
morning part of a night shift that started the evening before still runs).
``timezone`` is required. An unknown key, an unknown zone, a malformed range, a
calendar with no working time at all and a site mapped to an unknown calendar
are errors naming the key.

Turning local ranges into instants: IANA rules, DST-aware; an endpoint in the
spring gap or the autumn repeat takes the offset in force *before* the change
(PEP 495 ``fold=0``), so a range across the spring gap is an hour shorter and
one across the autumn repeat an hour longer; ``HH:MM-24:00`` runs to the next
local midnight. A range whose endpoints become instants with end ≤ start is
empty, and ranges that overlap once turned into instants count once.

The clock (:class:`WorkClock`): ``cum_us(t)`` = working microseconds from local
1970-01-01 00:00 to ``t``, built lazily one local year at a time from a sorted
table of the year's working intervals and the cumulative working time at each
interval start, so ``working_us(a, b) = cum_us(b) − cum_us(a)`` is two binary
searches and a subtraction, and its inverse (:meth:`WorkClock.reached_us`)
gives ``due_at``. The 24×7 clock (:data:`WALL`) is the identity:
``cum_us(t) = t`` (epoch microseconds). The store keeps ``cum_us`` at the start
of every state version, so a reader's "as of T" needs ``cum_us(T)`` once per
calendar and a subtraction in SQL.
"""

from __future__ import annotations

import hashlib
import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

DAY_KEYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day keys, index = ``date.weekday()``."""
CALENDAR_KEYS = frozenset({"timezone", "holidays", *DAY_KEYS})
DAY_MINUTES = 24 * 60
FIRST_YEAR = 1970
"""The clock's origin is local 1970-01-01 00:00 of each calendar (before it, ``cum_us`` is 0)."""
LAST_YEAR = 2200
"""Accepted events end before 2200-01-01Z (events.md); the clock stops growing there."""
US_PER_S = 1_000_000

_HHMM = r"\s*([0-9]{2}):([0-9]{2})\s*"
_RANGE = re.compile(rf"^{_HHMM}-{_HHMM}$")
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")

Ranges = tuple[tuple[int, int], ...]
"""Merged ``(start, end)`` minutes of a local day, sorted (1440 = next midnight)."""


# --- grammar --------------------------------------------------------------------------


def _minute(key: str, hh: str, mm: str, *, end: bool) -> int:
    h, m = int(hh), int(mm)
    if h == 24 and m == 0:
        if not end:
            raise ValueError(f"{key}: 24:00 is allowed as the end of a range only")
        return DAY_MINUTES
    if h > 23 or m > 59:
        raise ValueError(f"{key}: {hh}:{mm} is not a time of day (00:00-23:59, 24:00 as an end)")
    return h * 60 + m


def parse_day(key: str, value: object) -> Ranges:
    """``"HH:MM-HH:MM[,HH:MM-HH:MM]"`` → merged ranges in minutes (ValueError names ``key``)."""
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string of ranges 'HH:MM-HH:MM[,HH:MM-HH:MM]'")
    ranges: list[tuple[int, int]] = []
    for part in value.split(","):
        m = _RANGE.match(part)
        if m is None:
            raise ValueError(f"{key}: malformed range {part.strip()!r} (expected HH:MM-HH:MM)")
        start = _minute(key, m.group(1), m.group(2), end=False)
        end = _minute(key, m.group(3), m.group(4), end=True)
        if start >= end:
            raise ValueError(
                f"{key}: range {part.strip()!r} must start before it ends within one day "
                "(write a night shift as two ranges on two days)"
            )
        ranges.append((start, end))
    ranges.sort()
    merged: list[tuple[int, int]] = []
    for s, e in ranges:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return tuple(merged)


def _zone(key: str, value: object) -> ZoneInfo:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key}: expected an IANA time zone name such as 'America/New_York'")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"{key}: unknown time zone {value!r}") from None


def _holidays(key: str, value: object) -> frozenset[date]:
    if not isinstance(value, list):
        raise ValueError(f"{key}: expected a list of local dates 'YYYY-MM-DD'")
    out: set[date] = set()
    for item in value:
        if isinstance(item, date) and not isinstance(item, datetime):
            out.add(item)
            continue
        if isinstance(item, str) and _DATE.match(item):
            try:
                out.add(date.fromisoformat(item))
                continue
            except ValueError:
                pass
        raise ValueError(f"{key}: {item!r} is not a local date 'YYYY-MM-DD'")
    return frozenset(out)


# --- one calendar ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Calendar:
    """One working calendar: merged local ranges per weekday and closed local dates."""

    name: str
    timezone: str
    week: tuple[Ranges, ...]
    """Seven entries, Monday first."""
    holidays: frozenset[date] = frozenset()
    zone: ZoneInfo = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "zone", ZoneInfo(self.timezone))

    def ranges_on(self, day: date) -> Ranges:
        """The working ranges of a local date (none on a holiday)."""
        return () if day in self.holidays else self.week[day.weekday()]

    def spec(self) -> dict[str, Any]:
        """The calendar as canonical plain data (what its fingerprint is taken of)."""
        days = {
            DAY_KEYS[i]: ",".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in r)
            for i, r in enumerate(self.week)
            if r
        }
        return {
            "timezone": self.timezone,
            **days,
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    def describe(self) -> str:
        """One line for people: zone, weekly hours, number of holidays."""
        week = "; ".join(
            f"{DAY_KEYS[i].capitalize()} {','.join(f'{_hhmm(s)}-{_hhmm(e)}' for s, e in r)}"
            for i, r in enumerate(self.week)
            if r
        )
        hol = f"; {len(self.holidays)} holidays" if self.holidays else ""
        return f"{self.timezone}: {week}{hol}"


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def make_calendar(name: str, table: object, *, prefix: str = "calendars") -> Calendar:
    """One ``[calendars.NAME]`` table → :class:`Calendar` (ValueError names the key)."""
    where = f"{prefix}.{name}"
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table")
    unknown = sorted(set(table) - CALENDAR_KEYS)
    if unknown:
        raise ValueError(
            f"{where}.{unknown[0]}: unknown key (expected timezone, mon..sun, holidays)"
        )
    if "timezone" not in table:
        raise ValueError(f"{where}.timezone: missing (an IANA zone such as 'America/New_York')")
    zone = _zone(f"{where}.timezone", table["timezone"])
    week = tuple(parse_day(f"{where}.{d}", table[d]) if d in table else () for d in DAY_KEYS)
    if not any(week):
        raise ValueError(f"{where}: the calendar has no working time at all")
    holidays = _holidays(f"{where}.holidays", table.get("holidays", []))
    return Calendar(name, zone.key, week, holidays)


def local_instant_us(cal: Calendar, day: date, minute: int) -> int:
    """Local ``day`` + ``minute`` (1440: the next local midnight) as epoch µs; in the
    spring gap or the autumn repeat the offset before the change applies (fold=0)."""
    if minute == DAY_MINUTES:
        day, minute = day + timedelta(days=1), 0
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=cal.zone)
    return int(local.timestamp()) * US_PER_S


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _day_intervals(cal: Calendar, day: date, ranges: Ranges) -> list[tuple[int, int]]:
    """The ranges of one local date as epoch-µs intervals (see :func:`local_instant_us`).

    Fast path: when the zone's offset is the same at this local midnight and the
    next, no transition falls inside the day and every endpoint uses that offset.
    """
    zone = cal.zone
    mid = datetime(day.year, day.month, day.day, tzinfo=zone)
    nxt = mid + timedelta(days=1)  # wall-clock arithmetic: the next local midnight
    off, off_next = mid.utcoffset(), nxt.utcoffset()
    if off is None or off != off_next:
        return [(local_instant_us(cal, day, s), local_instant_us(cal, day, e)) for s, e in ranges]
    base = (day.toordinal() - _EPOCH_ORDINAL) * 86_400 - int(off.total_seconds())
    return [((base + s * 60) * US_PER_S, (base + e * 60) * US_PER_S) for s, e in ranges]


# --- the clock -------------------------------------------------------------------------


@dataclass(slots=True)
class _Year:
    starts: list[int]
    ends: list[int]
    cum_before: list[int]
    """Working µs of the year before each interval start."""
    cum_end: list[int]
    """Working µs of the year at each interval end."""
    total: int


class WorkClock:
    """Cumulative working time of one calendar (see the module docstring).

    The table is built one *local* calendar year at a time (from local midnight of
    1 January, fold=0), so each chunk holds whole local days. ``cum_us`` before a
    year needs only the totals of the years before it: :meth:`_total` computes
    those from the weekly hours, exactly, generating instants only for the weeks in
    which the zone's offset changes (a DST week), and gives the same number as the
    full table of that year.
    """

    __slots__ = ("_prefix", "_starts", "_totals", "_years", "calendar")

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self._starts = [
            local_instant_us(calendar, date(y, 1, 1), 0) for y in range(FIRST_YEAR, LAST_YEAR + 2)
        ]
        self._years: dict[int, _Year] = {}
        self._totals: dict[int, int] = {}
        self._prefix: list[int] = [0]  # working µs before local 1 January of FIRST_YEAR + i

    @property
    def name(self) -> str | None:
        """The calendar's name."""
        return self.calendar.name

    def _bounds(self, year: int) -> tuple[int, int]:
        return self._starts[year - FIRST_YEAR], self._starts[year - FIRST_YEAR + 1]

    def _intervals(self, first: date, stop: date, lo_us: int, hi_us: int) -> list[tuple[int, int]]:
        """Merged working intervals of the local dates ``[first, stop)``, clipped."""
        cal = self.calendar
        raw: list[tuple[int, int]] = []
        day, one = first, timedelta(days=1)
        while day < stop:
            ranges = cal.ranges_on(day)
            if ranges:
                for lo, hi in _day_intervals(cal, day, ranges):
                    lo, hi = max(lo, lo_us), min(hi, hi_us)
                    if lo < hi:
                        raw.append((lo, hi))
            day += one
        raw.sort()
        out: list[tuple[int, int]] = []
        for lo, hi in raw:
            if out and lo <= out[-1][1]:
                out[-1] = (out[-1][0], max(out[-1][1], hi))
            else:
                out.append((lo, hi))
        return out

    def _year(self, year: int) -> _Year:
        found = self._years.get(year)
        if found is not None:
            return found
        y0, y1 = self._bounds(year)
        merged = self._intervals(date(year, 1, 1), date(year + 1, 1, 1), y0, y1)
        starts = [lo for lo, _ in merged]
        ends = [hi for _, hi in merged]
        cum_before: list[int] = []
        cum_end: list[int] = []
        acc = 0
        for lo, hi in merged:
            cum_before.append(acc)
            acc += hi - lo
            cum_end.append(acc)
        found = self._years[year] = _Year(starts, ends, cum_before, cum_end, acc)
        self._totals[year] = acc
        return found

    def _total(self, year: int) -> int:
        """Working µs of the local year (equal to its full table's total)."""
        found = self._totals.get(year)
        if found is not None:
            return found
        cal = self.calendar
        y0, y1 = self._bounds(year)
        week_us = [sum(e - s for s, e in r) * 60 * US_PER_S for r in cal.week]
        first, stop = date(year, 1, 1), date(year + 1, 1, 1)
        total = 0
        day = first
        off = datetime(day.year, day.month, day.day, tzinfo=cal.zone).utcoffset()
        while day < stop:
            nxt = min(day + timedelta(days=7), stop)
            off_next = datetime(nxt.year, nxt.month, nxt.day, tzinfo=cal.zone).utcoffset()
            if off == off_next:  # no offset change in the week: nominal lengths
                d = day
                while d < nxt:
                    if d not in cal.holidays:
                        total += week_us[d.weekday()]
                    d += timedelta(days=1)
            else:  # a DST week: its instants, exactly as the full table has them
                lo = local_instant_us(cal, day, 0)
                hi = local_instant_us(cal, nxt, 0)
                total += sum(b - a for a, b in self._intervals(day, nxt, max(lo, y0), min(hi, y1)))
            day, off = nxt, off_next
        self._totals[year] = total
        return total

    def _prefix_of(self, year: int) -> int:
        """Working µs from the origin to local 1 January of ``year``."""
        i = year - FIRST_YEAR
        while len(self._prefix) <= i:
            y = FIRST_YEAR + len(self._prefix) - 1
            self._prefix.append(self._prefix[-1] + self._total(y))
        return self._prefix[i]

    def _year_of(self, t_us: int) -> int | None:
        """The local year holding ``t`` (None before the origin); capped at 2200."""
        i = bisect_right(self._starts, t_us) - 1
        return None if i < 0 else min(FIRST_YEAR + i, LAST_YEAR + 1)

    def cum_us(self, t_us: int) -> int:
        """Working µs from local 1970-01-01 00:00 to ``t`` (0 before it)."""
        year = self._year_of(t_us)
        if year is None:
            return 0
        if year > LAST_YEAR:
            return self._prefix_of(LAST_YEAR + 1)
        y = self._year(year)
        k = bisect_right(y.starts, t_us) - 1
        inside = 0 if k < 0 else y.cum_before[k] + min(t_us, y.ends[k]) - y.starts[k]
        return self._prefix_of(year) + inside

    def working_us(self, a_us: int, b_us: int) -> int:
        """Working µs of ``[a, b)`` (0 when ``b ≤ a``)."""
        return self.cum_us(b_us) - self.cum_us(a_us) if b_us > a_us else 0

    def _at_cum_from(self, year: int, c_us: int) -> int | None:
        """The first instant with ``cum_us ≥ c`` (> 0), searching from ``year`` on."""
        for yr in range(year, LAST_YEAR + 1):
            base = self._prefix_of(yr)
            if base + self._total(yr) >= c_us:
                y = self._year(yr)
                need = c_us - base
                k = bisect_left(y.cum_end, need)
                return y.starts[k] + (need - y.cum_before[k])
        return None

    def reached_us(self, start_us: int, amount_us: int) -> int | None:
        """The first instant ``t ≥ start`` with ``working_us(start, t) ≥ amount``; an
        amount ≤ 0 is reached at ``start``; reached exactly as working time ends, that
        end (the at-risk rule). None: not before 2200."""
        if amount_us <= 0:
            return start_us
        year = self._year_of(start_us) or FIRST_YEAR
        return self._at_cum_from(year, self.cum_us(start_us) + amount_us)

    def next_working_us(self, t_us: int) -> int | None:
        """The first instant ``≥ t`` from which working time runs (``t`` itself inside
        working time). None: no working time before 2200."""
        for year in range(self._year_of(t_us) or FIRST_YEAR, LAST_YEAR + 1):
            y = self._year(year)
            k = bisect_right(y.starts, t_us) - 1
            if k >= 0 and t_us < y.ends[k]:
                return t_us
            if k + 1 < len(y.starts):
                return max(t_us, y.starts[k + 1])
        return None

    def passed_us(self, start_us: int, amount_us: int) -> int | None:
        """The instant from which ``working_us(start, ·)`` runs past ``amount``: an
        amount reached exactly as working time ends is passed when working time starts
        again (the breach rule); a negative amount is passed at ``start``."""
        if amount_us < 0:
            return start_us
        reached = self.reached_us(start_us, amount_us)
        return None if reached is None else self.next_working_us(reached)

    def edges_us(self, a_us: int, b_us: int) -> list[int]:
        """The instants in ``(a, b)`` where working time starts or ends, in order
        (where the clock's slope changes: for drawing it)."""
        out: list[int] = []
        first, last = self._year_of(a_us) or FIRST_YEAR, self._year_of(b_us)
        for year in range(first, min(last or FIRST_YEAR, LAST_YEAR) + 1):
            y = self._year(year)
            lo = bisect_left(y.ends, a_us)
            for s, e in zip(y.starts[lo:], y.ends[lo:], strict=True):
                if s >= b_us:
                    break
                out.extend(t for t in (s, e) if a_us < t < b_us)
        return out


class WallClock:
    """The 24×7 clock: every instant is working time (``cum_us(t) = t``)."""

    __slots__ = ()

    @property
    def name(self) -> str | None:
        """No calendar."""
        return None

    def cum_us(self, t_us: int) -> int:
        """Epoch µs."""
        return t_us

    def working_us(self, a_us: int, b_us: int) -> int:
        """``b − a`` (0 when ``b ≤ a``)."""
        return b_us - a_us if b_us > a_us else 0

    def reached_us(self, start_us: int, amount_us: int) -> int | None:
        """``start + amount`` (an amount ≤ 0: ``start``)."""
        return start_us + amount_us if amount_us > 0 else start_us

    def next_working_us(self, t_us: int) -> int | None:
        """``t``."""
        return t_us

    def passed_us(self, start_us: int, amount_us: int) -> int | None:
        """``start + amount`` (a negative amount: ``start``)."""
        return start_us + amount_us if amount_us > 0 else start_us

    def edges_us(self, a_us: int, b_us: int) -> list[int]:
        """None: the 24×7 clock never stops."""
        return []


Clock = WorkClock | WallClock
WALL = WallClock()
"""The clock of a site without a calendar."""


# --- the configuration -----------------------------------------------------------------


@dataclass(frozen=True)
class SlaCalendars:
    """The ``[calendars.*]`` and ``[site_calendars]`` tables, validated."""

    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    site_calendars: Mapping[str, str] = field(default_factory=dict)
    _clocks: dict[str, WorkClock] = field(default_factory=dict, compare=False, repr=False)

    def calendar_for(self, site: str) -> Calendar | None:
        """The site's calendar (None: the site runs 24×7)."""
        name = self.site_calendars.get(site)
        return None if name is None else self.calendars[name]

    def calendar_name(self, site: str) -> str | None:
        """The name of the site's calendar (None: 24×7)."""
        return self.site_calendars.get(site)

    def clock(self, name: str | None) -> Clock:
        """The clock of a calendar by name (None: :data:`WALL`); one per calendar."""
        if name is None:
            return WALL
        found = self._clocks.get(name)
        if found is None:
            found = self._clocks[name] = WorkClock(self.calendars[name])
        return found

    def clock_for(self, site: str) -> Clock:
        """The clock of a site."""
        return self.clock(self.site_calendars.get(site))

    def spec(self) -> dict[str, Any]:
        """Canonical plain data: calendars by name and the site map."""
        return {
            "calendars": {n: c.spec() for n, c in sorted(self.calendars.items())},
            "site_calendars": dict(sorted(self.site_calendars.items())),
        }


NO_CALENDARS = SlaCalendars()


def parse_calendars(doc: Mapping[str, Any]) -> SlaCalendars:
    """The calendars of a configuration document (other keys are ignored).

    ValueError naming the key for: a calendars/site_calendars entry that is not a
    table, every error of :func:`make_calendar`, a site mapped to a non-string or to
    a calendar that is not defined.
    """
    raw = doc.get("calendars", {})
    if not isinstance(raw, Mapping):
        raise ValueError("calendars: expected tables [calendars.NAME]")
    cals = {str(name): make_calendar(str(name), table) for name, table in raw.items()}
    raw_sites = doc.get("site_calendars", {})
    if not isinstance(raw_sites, Mapping):
        raise ValueError('site_calendars: expected a table of site = "calendar name"')
    sites: dict[str, str] = {}
    for site, name in raw_sites.items():
        key = f"site_calendars.{site}"
        if not isinstance(name, str):
            raise ValueError(f"{key}: expected a calendar name (a string)")
        if name not in cals:
            known = ", ".join(sorted(cals)) or "none defined"
            raise ValueError(f"{key}: unknown calendar {name!r} (calendars: {known})")
        sites[str(site)] = name
    return SlaCalendars(cals, sites)


def from_spec(spec: Mapping[str, Any]) -> SlaCalendars:
    """The inverse of :meth:`SlaCalendars.spec` (a stored configuration)."""
    return parse_calendars(
        {"calendars": spec.get("calendars", {}), "site_calendars": spec.get("site_calendars", {})}
    )


def fingerprint(data: Mapping[str, Any]) -> str:
    """A short stable hash of plain data (sorted keys): 16 hex digits of SHA-256."""
    blob = orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(blob).hexdigest()[:16]


def working_seconds(cal: Calendar | None, a: datetime, b: datetime) -> float:
    """kpis.md ``working_seconds(a, b)``: seconds of ``[a, b)`` in working time
    (24×7 when ``cal`` is None; 0 when ``b ≤ a``)."""
    for t in (a, b):
        if t.tzinfo is None or t.utcoffset() is None:
            raise ValueError(f"naive datetime {t!r}: a UTC offset is required")
    a_us = round((a - _EPOCH) / _US)
    b_us = round((b - _EPOCH) / _US)
    clock: Clock = WALL if cal is None else _clock_of(cal)
    return clock.working_us(a_us, b_us) / US_PER_S


@lru_cache(maxsize=32)
def _clock_of(cal: Calendar) -> WorkClock:
    """One clock per calendar for :func:`working_seconds` (its tables are reused)."""
    return WorkClock(cal)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

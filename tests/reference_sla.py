"""An independent reference of the SLA clock on business-hours calendars and of SLA alerts.

Written from ``kpis.md`` ("Business-hours calendars (SLA clock)", "SLA alerts", the
worked example and the data clock at the top of the page), ``interface.md``
(``sla_alerts`` and the alert messages) and ``events.md`` alone; it shares no code
with ``core``/``flows``/``metrics``. Slow and literal on purpose: every question is
answered from the accepted events by folding them again.

Layers, from the bottom up:

* calendars: :func:`parse_sla_config` / :func:`load_sla_config` (the TOML of kpis.md),
  :func:`make_calendar` (one calendar table), :class:`Calendar`, :class:`SlaConfig`;
* working time: :func:`working_intervals`, :func:`working_time`, :func:`working_seconds`
  and the inverses :func:`reached_at` (first instant the clock reaches an amount, the
  at-risk rule) and :func:`passed_at` (instant from which it runs past it, the breach
  rule: "a clock that reaches the target just as working time ends is due when working
  time starts again"), :func:`next_working_instant`;
* one exception: :func:`accepted_histories`, :func:`fold`, :func:`sla_clock` (as of T),
  :func:`due_times` (due_at of both alert kinds, from all events given);
* alerts: :class:`AlertEngine` (events arriving in batches, the data clock moving by
  event time or by a live flow's wall-clock heartbeat) and :func:`replay_alerts`.

All durations are computed exactly as :class:`datetime.timedelta` (microseconds);
thresholds given in hours are rounded to the microsecond once.

AMBIGUOUS choices are marked so in the docstrings below; ``AMBIGUOUS_CHOICES`` lists
them in one place.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # index = date.weekday()
CALENDAR_KEYS = frozenset({"timezone", "holidays", *DAY_KEYS})
BASE_HOURS = {"critical": 4.0, "high": 12.0, "medium": 24.0, "low": 72.0}
TIER_FACTOR = {"strategic": 0.5, "key": 0.75, "standard": 1.0}
RATES = {"USD": 1.0, "EUR": 1.08}  # the reporting-currency table the project's tests use
AT_RISK_SHARE = 0.8
ZERO = timedelta(0)
DAY_MINUTES = 24 * 60
_WINDOW = timedelta(days=14)  # search step of the inverses
_HORIZON = timedelta(days=366 * 50)  # an inverse never searches further than this

Kind = Literal["at_risk", "breached"]
KINDS: tuple[Kind, Kind] = ("at_risk", "breached")
Interval = tuple[datetime, datetime]
Event = dict[str, Any]  # one event of events.md, as parsed JSON

AMBIGUOUS_CHOICES = (
    "grammar: blanks around ranges, around '-' and around ',' are allowed",
    "grammar: an empty day string (\"\") is malformed, not 'closed' (leave the key out)",
    "grammar: hours and minutes need two digits ('8:00' is malformed)",
    "grammar: a day value must be a string; a TOML array of ranges is malformed",
    "config: an unknown key in a calendar table (e.g. 'monday') is an error",
    "config: 'timezone' is required (no default zone)",
    "config: holidays may be TOML dates or 'YYYY-MM-DD' strings",
    "config: a calendar no site uses is still validated",
    "DST: a range whose endpoints map to instants end <= start is empty; ranges that "
    "overlap once mapped to instants count once (length of the union)",
    "at-risk: reaching 0.8 x target as working time ends is due at that end "
    "(the 'due when working time starts again' rule is for the breach only)",
    "at-risk: reaching 0.8 x target at the instant of a pause/resolve/cancel is not due "
    "(not open then); after a resume it is due at the resume instant, even outside "
    "working time",
    "alerts: a standing alert whose recomputed due_at changes in any way (later, gone, "
    "or earlier) is retracted, and the new due_at raised when the data clock reaches it",
    "alerts: raised_at / retracted_at / message 'at' = the data clock after the batch",
    "alerts: alert_id = '<exception_id>:<kind>:<revision>', revisions start at 1",
    "alerts: a cancel after due_at leaves the alert standing (inactive)",
    "data clock: never moves back; held, duplicate and rejected events do not move it; "
    "order events do; a caught-up flow's events do not move it past its heartbeat",
    "messages: owner_team from all accepted events; order_value in the reporting currency",
    "acceptance: a held event's event_id is taken (a re-sent held event is a duplicate); "
    "a rejected duplicate open's event_id is not",
    "batches: a batch's events are all applied before its raises, so a pause stamped at "
    "due_at committed with the event that moves the clock there raises nothing (one by "
    "one: raised, then retracted)",
    "ties: events stamped before opened_at (counted at opened_at) come before events "
    "stamped exactly at opened_at",
)


def _ts(text: str) -> datetime:
    """An RFC 3339 timestamp with offset, in UTC."""
    dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"naive timestamp {text!r}")
    return dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    """ISO 8601 in UTC with a 'Z'."""
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _aware(dt: datetime, what: str) -> None:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {dt!r}")


# --- calendars -------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """One working calendar: merged local ranges per weekday, in minutes of the day."""

    name: str
    zone: ZoneInfo
    week: tuple[tuple[tuple[int, int], ...], ...]  # 7 entries, Mon..Sun
    holidays: frozenset[date] = frozenset()

    def ranges_on(self, day: date) -> tuple[tuple[int, int], ...]:
        """The local ranges of a local date (none on a holiday)."""
        return () if day in self.holidays else self.week[day.weekday()]


@dataclass(frozen=True)
class SlaConfig:
    """The ``[calendars.*]`` and ``[site_calendars]`` tables, validated."""

    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    site_calendars: Mapping[str, str] = field(default_factory=dict)

    def calendar_for(self, site: str) -> Calendar | None:
        """The site's calendar, or None: a site not listed runs 24x7."""
        name = self.site_calendars.get(site)
        return None if name is None else self.calendars[name]


_HHMM = r"\s*([0-9]{2}):([0-9]{2})\s*"
_RANGE = re.compile(rf"^{_HHMM}-{_HHMM}$")


def _minute(key: str, hh: str, mm: str, *, end: bool) -> int:
    h, m = int(hh), int(mm)
    if h == 24 and m == 0:
        if not end:
            raise ValueError(f"{key}: 24:00 is allowed as the end of a range only")
        return DAY_MINUTES
    if h > 23 or m > 59:
        raise ValueError(f"{key}: {hh}:{mm} is not a time of day (00:00-23:59, or 24:00 as end)")
    return h * 60 + m


def parse_day_ranges(key: str, value: object) -> tuple[tuple[int, int], ...]:
    """``"HH:MM-HH:MM[,HH:MM-HH:MM]"`` -> merged ``(start, end)`` minutes, sorted.

    Each range lies within one local day: start < end, ``24:00`` as an end only (a
    night shift is two ranges on two days). Touching or overlapping ranges merge.

    AMBIGUOUS: blanks around the pieces are allowed; ``""`` is malformed (leave the day
    out to close it); one-digit hours are malformed; only a string is accepted.
    """
    if not isinstance(value, str):
        raise ValueError(f"{key}: expected a string of ranges 'HH:MM-HH:MM[,...]'")
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
        raise ValueError(f"{key}: expected an IANA time zone name")
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"{key}: unknown time zone {value!r}") from exc


def _holidays(key: str, value: object) -> frozenset[date]:
    if not isinstance(value, list):
        raise ValueError(f"{key}: expected a list of local dates 'YYYY-MM-DD'")
    out: set[date] = set()
    for item in value:
        if isinstance(item, date) and not isinstance(item, datetime):
            out.add(item)
        elif isinstance(item, str) and re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", item):
            try:
                out.add(date.fromisoformat(item))
            except ValueError as exc:
                raise ValueError(f"{key}: {item!r} is not a date") from exc
        else:
            raise ValueError(f"{key}: {item!r} is not a local date 'YYYY-MM-DD'")
    return frozenset(out)


def make_calendar(name: str, table: Mapping[str, Any], *, prefix: str = "calendars") -> Calendar:
    """One ``[calendars.NAME]`` table -> :class:`Calendar` (ValueError names the key).

    AMBIGUOUS: ``timezone`` is required and an unknown key (a typo such as ``monday``,
    which would otherwise silently close Mondays) is an error.
    """
    where = f"{prefix}.{name}"
    if not isinstance(table, Mapping):
        raise ValueError(f"{where}: expected a table")
    unknown = sorted(set(table) - CALENDAR_KEYS)
    if unknown:
        raise ValueError(
            f"{where}.{unknown[0]}: unknown key (expected timezone, mon..sun, holidays)"
        )
    if "timezone" not in table:
        raise ValueError(f"{where}.timezone: missing")
    zone = _zone(f"{where}.timezone", table["timezone"])
    week = tuple(parse_day_ranges(f"{where}.{d}", table[d]) if d in table else () for d in DAY_KEYS)
    if not any(week):
        raise ValueError(f"{where}: the calendar has no working time at all")
    holidays = _holidays(f"{where}.holidays", table.get("holidays", []))
    return Calendar(name, zone, week, holidays)


def parse_sla_config(doc: Mapping[str, Any]) -> SlaConfig:
    """The parsed TOML document (other keys, e.g. the SLA policy, are ignored).

    Errors (ValueError naming the key): a table that is not a table, every calendar
    error of :func:`make_calendar`, a site mapped to a non-string or to a calendar
    name that is not defined.
    AMBIGUOUS: a calendar that no site uses is validated all the same.
    """
    raw_cals = doc.get("calendars", {})
    if not isinstance(raw_cals, Mapping):
        raise ValueError("calendars: expected a table of calendars")
    cals = {name: make_calendar(name, table) for name, table in raw_cals.items()}
    raw_sites = doc.get("site_calendars", {})
    if not isinstance(raw_sites, Mapping):
        raise ValueError("site_calendars: expected a table site = calendar name")
    sites: dict[str, str] = {}
    for site, name in raw_sites.items():
        key = f"site_calendars.{site}"
        if not isinstance(name, str):
            raise ValueError(f"{key}: expected a calendar name")
        if name not in cals:
            raise ValueError(f"{key}: unknown calendar {name!r}")
        sites[site] = name
    return SlaConfig(cals, sites)


def load_sla_config(text: str) -> SlaConfig:
    """The TOML text of the SLA configuration (malformed TOML -> ValueError too)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"invalid TOML: {exc}") from exc
    return parse_sla_config(doc)


# --- working time ----------------------------------------------------------------------


def local_instant(cal: Calendar, day: date, minute: int) -> datetime:
    """Local wall-clock ``day`` + ``minute`` (1440 = the next local midnight) as a UTC
    instant. In the spring gap or the autumn repeat the offset in force before the
    change applies (PEP 495 ``fold=0``)."""
    if minute == DAY_MINUTES:
        day, minute = day + timedelta(days=1), 0
    local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=cal.zone)
    return local.replace(fold=0).astimezone(UTC)


def working_intervals(cal: Calendar, a: datetime, b: datetime) -> list[Interval]:
    """The working time inside [a, b) as sorted, disjoint, non-touching UTC intervals.

    AMBIGUOUS: a range whose endpoints become instants with end <= start (e.g.
    02:30-03:00 on a US spring-forward day: 07:30Z-07:00Z) is empty; ranges that
    overlap once turned into instants count once (the length of their union).
    """
    _aware(a, "start")
    _aware(b, "end")
    if b <= a:
        return []
    day = a.astimezone(cal.zone).date() - timedelta(days=2)
    last = b.astimezone(cal.zone).date() + timedelta(days=2)
    raw: list[Interval] = []
    while day <= last:
        for s, e in cal.ranges_on(day):
            lo = max(local_instant(cal, day, s), a)
            hi = min(local_instant(cal, day, e), b)
            if lo < hi:
                raw.append((lo, hi))
        day += timedelta(days=1)
    raw.sort()
    out: list[Interval] = []
    for lo, hi in raw:
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def working_time(cal: Calendar | None, a: datetime, b: datetime) -> timedelta:
    """Length of [a, b) inside working time (24x7 when ``cal`` is None); 0 if b <= a."""
    _aware(a, "start")
    _aware(b, "end")
    if b <= a:
        return ZERO
    if cal is None:
        return b - a
    return sum((hi - lo for lo, hi in working_intervals(cal, a, b)), ZERO)


def working_seconds(cal: Calendar | None, start: datetime, end: datetime) -> float:
    """kpis.md ``working_seconds(a, b)``: seconds of [start, end) in working time."""
    return working_time(cal, start, end).total_seconds()


def _amount(amount: float | timedelta) -> timedelta:
    return amount if isinstance(amount, timedelta) else timedelta(seconds=amount)


def reached_at(cal: Calendar | None, start: datetime, amount: float | timedelta) -> datetime:
    """The first instant t >= start with working_time(start, t) >= amount (seconds or a
    timedelta; an amount <= 0 is reached at ``start``). If the amount is reached exactly
    as working time ends, that end is the answer (the at-risk rule)."""
    _aware(start, "start")
    need = _amount(amount)
    if need <= ZERO:
        return start
    if cal is None:
        return start + need
    lo = start
    while lo - start < _HORIZON:
        hi = lo + _WINDOW
        for s, e in working_intervals(cal, lo, hi):
            if e - s >= need:
                return s + need
            need -= e - s
        lo = hi
    raise ValueError(f"calendar {cal.name!r}: no working time within {_HORIZON} of {start}")


def next_working_instant(cal: Calendar | None, t: datetime) -> datetime:
    """The first instant >= t from which working time runs (t itself inside working time)."""
    _aware(t, "t")
    if cal is None:
        return t
    lo = t
    while lo - t < _HORIZON:
        found = working_intervals(cal, lo, lo + _WINDOW)
        if found:
            return found[0][0]
        lo += _WINDOW
    raise ValueError(f"calendar {cal.name!r}: no working time within {_HORIZON} of {t}")


def passed_at(cal: Calendar | None, start: datetime, amount: float | timedelta) -> datetime:
    """The instant from which working_time(start, .) runs past ``amount``: the infimum of
    {t : working_time(start, t) > amount} (the breach rule). On a 24x7 clock that is
    start + amount; with a calendar, an amount reached exactly as working time ends is
    passed when working time starts again. A negative amount is passed at ``start``."""
    if _amount(amount) < ZERO:
        return start
    return next_working_instant(cal, reached_at(cal, start, amount))


# --- one exception -----------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """The SLA target policy: base hours by severity x factor by customer tier."""

    base_hours: Mapping[str, float] = field(default_factory=lambda: dict(BASE_HOURS))
    tier_factor: Mapping[str, float] = field(default_factory=lambda: dict(TIER_FACTOR))

    def target_hours(self, opened: Mapping[str, Any]) -> float:
        given = opened.get("sla_target_hours")
        if given is not None:
            return float(given)
        return self.base_hours[opened["severity"]] * self.tier_factor[opened["customer_tier"]]


DEFAULT_POLICY = Policy()


@dataclass
class History:
    """The accepted events of one exception: its opened event and the others, in arrival
    order."""

    opened: Event
    follow: list[Event] = field(default_factory=list)

    @property
    def exception_id(self) -> str:
        return str(self.opened["exception_id"])


def accepted_histories(events: Iterable[Event]) -> dict[str, History]:
    """Events in arrival order -> histories of the exceptions whose opened event arrived:
    a repeated ``event_id`` is a duplicate (the first wins), a second ``exception.opened``
    of an exception is rejected (``duplicate_open``), held events are applied once their
    opened event arrives, order events are left out."""
    seen: set[str] = set()
    out: dict[str, History] = {}
    held: dict[str, list[Event]] = {}
    for e in events:
        if e["event_id"] in seen or str(e["event_type"]).startswith("order."):
            seen.add(e["event_id"])
            continue
        xid = e["exception_id"]
        if e["event_type"] == "exception.opened":
            if xid in out:
                continue  # duplicate_open: rejected, its event_id not taken
            seen.add(e["event_id"])
            out[xid] = History(e, held.pop(xid, []))
        else:
            seen.add(e["event_id"])
            if xid in out:
                out[xid].follow.append(e)
            else:
                held.setdefault(xid, []).append(e)
    return out


@dataclass(frozen=True)
class Folded:
    """An exception's state after applying its events (those with occurred_at <= T)."""

    status: str  # open | paused | resolved | cancelled
    opened_at: datetime
    open_intervals: tuple[tuple[datetime, datetime | None], ...]  # None: still open
    resolved_at: datetime | None
    owner_team: str


_TRANSITIONS = {
    ("open", "exception.paused"): "paused",
    ("paused", "exception.resumed"): "open",
    ("open", "exception.resolved"): "resolved",
    ("paused", "exception.resolved"): "resolved",
    ("resolved", "exception.reopened"): "open",
}


def fold(history: History, t: datetime | None = None) -> Folded | None:
    """Apply the events (all, or those with occurred_at <= t) in occurred_at order, ties
    in arrival order; an event stamped before the opened event counts at the opened time,
    right after it, in its own order. None when the exception is not opened by t.

    AMBIGUOUS: such early events come before the events stamped exactly at opened_at.
    """
    opened_at = _ts(history.opened["occurred_at"])
    if t is not None and opened_at > t:
        return None
    items: list[tuple[datetime, datetime, int, Event]] = []
    for i, e in enumerate(history.follow):
        occ = _ts(e["occurred_at"])
        if t is not None and occ > t:
            continue
        items.append((max(occ, opened_at), occ, i, e))
    items.sort(key=lambda it: (it[0], it[1], it[2]))
    status, since = "open", opened_at
    intervals: list[tuple[datetime, datetime | None]] = []
    resolved_at: datetime | None = None
    owner = "(unassigned)"
    for at, _occ, _i, e in items:
        kind = e["event_type"]
        if kind == "exception.assigned":
            owner = str(e["owner_team"])
        if kind == "exception.cancelled" and status != "cancelled":
            new = "cancelled"
        else:
            new = _TRANSITIONS.get((status, kind), status)
        if status == "open" and new != "open" and since < at:
            intervals.append((since, at))
        if status != "open" and new == "open":
            since = at
        if new == "resolved" and status != "resolved":
            resolved_at = at
        elif new != "resolved":
            resolved_at = None
        status = new
    if status == "open":
        intervals.append((since, None))
    return Folded(status, opened_at, tuple(intervals), resolved_at, owner)


def _hours(hours: float) -> timedelta:
    return timedelta(hours=hours)


def active_time(
    intervals: Sequence[tuple[datetime, datetime | None]], t: datetime, cal: Calendar | None
) -> timedelta:
    """The SLA clock as of t: working time of the open intervals, cut at t."""
    total = ZERO
    for s, e in intervals:
        end = t if e is None else min(e, t)
        total += working_time(cal, s, end)
    return total


@dataclass(frozen=True)
class SlaClock:
    """One exception's SLA clock as of T (kpis.md state + calendar rules)."""

    exception_id: str
    site: str
    calendar: str | None  # None: 24x7
    status: str
    opened_at: datetime
    target_hours: float
    active_seconds: float
    breached: bool  # active > target
    at_risk: bool  # not breached and active >= 0.8 x target (at_risk_open if open/paused)
    age_hours: float | None  # wall clock, for open or paused
    resolution_hours: float | None  # wall clock, while resolved
    met_sla: bool | None  # while resolved: active(resolved_at) <= target


def sla_clock(
    history: History | Sequence[Event],
    t: datetime,
    config: SlaConfig | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> SlaClock | None:
    """The SLA clock of one exception as of T: status from the events with occurred_at <=
    T, clock = working time in status open (wall time when its site has no calendar).
    ``history`` may be the raw events of one exception in arrival order."""
    _aware(t, "T")
    h = _history(history)
    f = fold(h, t)
    if f is None:
        return None
    cal = (config or SlaConfig()).calendar_for(h.opened["site"])
    target = _hours(policy.target_hours(h.opened))
    active = active_time(f.open_intervals, t, cal)
    breached = active > target
    at_risk = not breached and active >= _hours(AT_RISK_SHARE * policy.target_hours(h.opened))
    age = (t - f.opened_at) / timedelta(hours=1) if f.status in ("open", "paused") else None
    res_h = met = None
    if f.status == "resolved" and f.resolved_at is not None:
        res_h = (f.resolved_at - f.opened_at) / timedelta(hours=1)
        met = active_time(f.open_intervals, f.resolved_at, cal) <= target
    return SlaClock(
        h.exception_id,
        h.opened["site"],
        None if cal is None else cal.name,
        f.status,
        f.opened_at,
        policy.target_hours(h.opened),
        active.total_seconds(),
        breached,
        at_risk,
        age,
        res_h,
        met,
    )


def _history(history: History | Sequence[Event]) -> History:
    if isinstance(history, History):
        return history
    found = accepted_histories(history)
    if len(found) != 1:
        raise ValueError(f"expected the events of one opened exception, got {sorted(found)}")
    return next(iter(found.values()))


def due_at_risk(
    intervals: Sequence[tuple[datetime, datetime | None]], amount: timedelta, cal: Calendar | None
) -> datetime | None:
    """The first instant the clock is >= ``amount`` while the exception is open.

    The status is open on [start, end) of each open interval (as of the instant of a
    pause, resolve or cancel the exception is no longer open), so a clock that reaches
    the amount exactly when it stops is due when the exception is open again.
    AMBIGUOUS: reaching the amount exactly as working time ends (still open) is due at
    that end; after a resume it is due at the resume instant even outside working time.
    """
    clock = ZERO
    for s, e in intervals:
        if clock >= amount:
            return s
        r = reached_at(cal, s, amount - clock)
        if e is None or r < e:
            return r
        clock += working_time(cal, s, e)
    return None


def due_breach(
    intervals: Sequence[tuple[datetime, datetime | None]], amount: timedelta, cal: Calendar | None
) -> datetime | None:
    """The instant from which the clock runs past ``amount`` (breached at every T after
    it): inf {t : clock(t) > amount}. A clock reaching the target just as working time
    ends (or as the exception is paused) is due when it runs again."""
    clock = ZERO
    for s, e in intervals:
        w = None if e is None else working_time(cal, s, e)
        if w is None or clock + w > amount:
            return passed_at(cal, s, amount - clock)
        clock += w
    return None


def due_times(
    history: History | Sequence[Event],
    config: SlaConfig | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> dict[Kind, datetime | None]:
    """``due_at`` of each alert kind, from all the events given (event time only)."""
    h = _history(history)
    f = fold(h)
    assert f is not None
    cal = (config or SlaConfig()).calendar_for(h.opened["site"])
    target_h = policy.target_hours(h.opened)
    return {
        "at_risk": due_at_risk(f.open_intervals, _hours(AT_RISK_SHARE * target_h), cal),
        "breached": due_breach(f.open_intervals, _hours(target_h), cal),
    }


# --- alerts ------------------------------------------------------------------------------


@dataclass
class AlertRow:
    """One row of ``sla_alerts`` (without the dimensions; see :meth:`AlertEngine.dims`)."""

    alert_id: str
    exception_id: str
    kind: Kind
    revision: int
    due_at: datetime
    raised_at: datetime
    retracted_at: datetime | None = None


@dataclass(frozen=True)
class Tick:
    """A caught-up live flow's heartbeat: the data clock becomes this wall-clock time."""

    at: datetime


@dataclass(frozen=True)
class Arrival:
    """A batch of events (arrival order) committed together. ``wall_clock`` None: a replay
    or a backlog, the data clock is the largest occurred_at of the accepted events; else
    a caught-up live flow, the data clock is that heartbeat time."""

    events: tuple[Event, ...]
    wall_clock: datetime | None = None


Step = Event | Arrival | Tick


def alert_id(exception_id: str, kind: Kind, revision: int) -> str:
    """AMBIGUOUS: the spec fixes the parts (exception, kind, revision), not the spelling."""
    return f"{exception_id}:{kind}:{revision}"


class AlertEngine:
    """SLA alerts raised by the data clock, retracted by late events.

    Each step (a batch of events or a heartbeat): accept the events (dedupe by
    ``event_id``, hold follow-ups until their opened event, reject a second opened),
    advance the data clock, recompute ``due_at`` of each kind for the exceptions the
    batch touched, retract every standing alert whose ``due_at`` is no longer the
    computed one, then raise every computed ``due_at`` <= data clock that has no standing
    alert, with the next revision. Retractions come before raises in the messages.

    AMBIGUOUS: retraction on any change of due_at (later, gone, or earlier: an earlier
    due_at — only possible with contradicting status events — is retracted and re-raised
    at once); ``raised_at``/``retracted_at`` are the data clock after the batch; the
    data clock never moves back, and held, duplicate and rejected events do not move it;
    a held event's event_id is taken; a batch is applied whole before its raises.
    """

    def __init__(
        self,
        config: SlaConfig | None = None,
        policy: Policy = DEFAULT_POLICY,
        rates: Mapping[str, float] = RATES,
    ) -> None:
        self.config = config or SlaConfig()
        self.policy = policy
        self.rates = rates
        self.clock: datetime | None = None
        self.histories: dict[str, History] = {}
        self.rows: list[AlertRow] = []
        self.messages: list[dict[str, Any]] = []
        self._seen: set[str] = set()
        self._held: dict[str, list[Event]] = {}
        self._due: dict[tuple[str, Kind], datetime | None] = {}
        self._standing: dict[tuple[str, Kind], AlertRow] = {}
        self._revision: dict[tuple[str, Kind], int] = {}

    # steps

    def run(self, steps: Iterable[Step]) -> AlertEngine:
        for step in steps:
            if isinstance(step, Tick):
                self.tick(step.at)
            elif isinstance(step, Arrival):
                self.arrive(step.events, step.wall_clock)
            else:
                self.arrive([step])
        return self

    def tick(self, at: datetime) -> list[dict[str, Any]]:
        """A heartbeat at wall-clock ``at`` (no event needed to raise)."""
        return self.arrive([], at)

    def arrive(
        self, events: Iterable[Event], wall_clock: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Commit a batch; returns the messages it produced."""
        first_message = len(self.messages)
        touched: list[str] = []
        latest: datetime | None = None

        def accept(e: Event) -> None:
            nonlocal latest
            occ = _ts(e["occurred_at"])
            latest = occ if latest is None else max(latest, occ)

        for e in events:
            eid = e["event_id"]
            if eid in self._seen:
                continue  # duplicate
            if str(e["event_type"]).startswith("order."):
                self._seen.add(eid)
                accept(e)
                continue
            xid = e["exception_id"]
            if e["event_type"] == "exception.opened":
                if xid in self.histories:
                    continue  # duplicate_open: rejected
                self._seen.add(eid)
                accept(e)
                held = self._held.pop(xid, [])
                for h in held:
                    accept(h)
                self.histories[xid] = History(e, held)
                touched.append(xid)
            elif xid in self.histories:
                self._seen.add(eid)
                accept(e)
                self.histories[xid].follow.append(e)
                touched.append(xid)
            else:
                self._seen.add(eid)  # held: a re-sent copy is a duplicate
                self._held.setdefault(xid, []).append(e)
        if wall_clock is not None:
            _aware(wall_clock, "wall_clock")
            moved_to: datetime | None = wall_clock.astimezone(UTC)
        else:
            moved_to = latest
        if moved_to is not None:
            self.clock = moved_to if self.clock is None else max(self.clock, moved_to)
        for xid in dict.fromkeys(touched):
            dues = due_times(self.histories[xid], self.config, self.policy)
            for kind in KINDS:
                key = (xid, kind)
                self._due[key] = dues[kind]
                row = self._standing.get(key)
                if row is not None and row.due_at != dues[kind]:
                    assert self.clock is not None
                    row.retracted_at = self.clock
                    del self._standing[key]
                    self._message("retracted", row, self.clock)
        if self.clock is not None:
            pending = [
                (due, xid, kind)
                for (xid, kind), due in self._due.items()
                if due is not None and due <= self.clock and (xid, kind) not in self._standing
            ]
            for due, xid, kind in sorted(pending, key=lambda p: (p[0], p[1], KINDS.index(p[2]))):
                self._raise(xid, kind, due)
        return self.messages[first_message:]

    def _raise(self, xid: str, kind: Kind, due: datetime) -> None:
        assert self.clock is not None
        key = (xid, kind)
        rev = self._revision.get(key, 0) + 1
        self._revision[key] = rev
        row = AlertRow(alert_id(xid, kind, rev), xid, kind, rev, due, self.clock)
        self.rows.append(row)
        self._standing[key] = row
        self._message("raised", row, self.clock)

    # views

    def dims(self, xid: str) -> dict[str, Any]:
        """The exception's dimensions, order value (reporting currency) and SLA target.
        AMBIGUOUS: owner_team from all accepted events, not as of the data clock."""
        h = self.histories[xid]
        o = h.opened
        f = fold(h)
        assert f is not None
        return {
            "site": o["site"],
            "lane": f"{o['origin']}→{o['destination']}",
            "carrier": o.get("carrier") or "(none)",
            "category": o["category"],
            "severity": o["severity"],
            "customer_tier": o["customer_tier"],
            "owner_team": f.owner_team,
            "source_system": o["source_system"],
            "order_value": float(o["order_value"]) * self.rates[o["currency"]],
            "sla_target_hours": self.policy.target_hours(o),
        }

    def _message(self, action: str, row: AlertRow, at: datetime) -> None:
        self.messages.append(
            {
                "action": action,
                "alert_id": row.alert_id,
                "exception_id": row.exception_id,
                "kind": row.kind,
                "revision": row.revision,
                "due_at": iso(row.due_at),
                "at": iso(at),
                **self.dims(row.exception_id),
            }
        )

    def standing(self) -> list[AlertRow]:
        """Alerts not retracted (at most one per exception and kind)."""
        return [r for r in self.rows if r.retracted_at is None]

    def active(self, t: datetime | None = None) -> list[AlertRow]:
        """Standing alerts whose exception is open or paused as of t (default: the data
        clock), newest raise first."""
        at = t or self.clock
        if at is None:
            return []
        out = []
        for r in self.standing():
            f = fold(self.histories[r.exception_id], at)
            if f is not None and f.status in ("open", "paused"):
                out.append(r)
        return sorted(out, key=lambda r: (r.raised_at, r.due_at), reverse=True)

    def table(self) -> list[dict[str, Any]]:
        """``sla_alerts`` rows: alert fields and the exception's dimensions."""
        return [
            {
                "alert_id": r.alert_id,
                "exception_id": r.exception_id,
                "kind": r.kind,
                "revision": r.revision,
                "due_at": r.due_at,
                "raised_at": r.raised_at,
                "retracted_at": r.retracted_at,
                **{
                    k: v
                    for k, v in self.dims(r.exception_id).items()
                    if k not in ("order_value", "sla_target_hours")
                },
            }
            for r in self.rows
        ]


def replay_alerts(
    events: Iterable[Event],
    data_clock: datetime | None = None,
    config: SlaConfig | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> AlertEngine:
    """A replay: each event arrives on its own in the order given (the data clock is the
    largest occurred_at so far), then, if ``data_clock`` is given, the clock is moved
    there as by a caught-up flow's heartbeat (never backwards)."""
    engine = AlertEngine(config, policy)
    engine.run(events)
    if data_clock is not None:
        engine.tick(data_clock)
    return engine

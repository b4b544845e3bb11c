"""Tests of tests/reference_sla.py alone: the worked example's calendar and alert numbers,
hand-computed calendar cases, the inverses, and alert raise/retract sequences."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reference_sla import (
    AlertEngine,
    Arrival,
    Calendar,
    SlaConfig,
    Tick,
    accepted_histories,
    due_times,
    fold,
    load_sla_config,
    make_calendar,
    next_working_instant,
    parse_day_ranges,
    parse_sla_config,
    passed_at,
    reached_at,
    replay_alerts,
    sla_clock,
    working_intervals,
    working_seconds,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)
US = timedelta(microseconds=1)
NY = ZoneInfo("America/New_York")

SPEC_TOML = """
[calendars.us_east]
timezone = "America/New_York"
mon = "08:00-18:00"
tue = "08:00-18:00"
wed = "08:00-12:00,13:00-18:00"
thu = "08:00-18:00"
fri = "08:00-16:00"
holidays = ["2026-05-25"]

[site_calendars]
DC-ATL = "us_east"
"""
SPEC = load_sla_config(SPEC_TOML)
US_EAST = SPEC.calendars["us_east"]
# the worked example's calendar: Mon-Fri 08:00-18:00 New York
EXAMPLE_CAL = make_calendar(
    "example",
    {
        "timezone": "America/New_York",
        **dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "08:00-18:00"),
    },
)
EXAMPLE = SlaConfig({"example": EXAMPLE_CAL}, {"DC-ATL": "example"})


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=UTC)


def local(
    zone: ZoneInfo, y: int, mo: int, d: int, h: int = 0, mi: int = 0, fold: int = 0
) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=zone, fold=fold)


def cal(
    timezone: str = "America/New_York", holidays: list[str] | None = None, **days: str
) -> Calendar:
    table: dict[str, object] = {"timezone": timezone, **days}
    if holidays is not None:
        table["holidays"] = holidays
    return make_calendar("t", table)


# --- event builders (no project imports) -------------------------------------------------

_ids = itertools.count()


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def ev(kind: str, xid: str, at: datetime, eid: str | None = None, **fields: object) -> dict:
    e: dict[str, object] = {
        "event_id": eid or f"t-{next(_ids)}",
        "event_type": f"exception.{kind}",
        "occurred_at": iso(at),
        "source_system": "TEST",
        "schema_version": "1",
        "exception_id": xid,
    }
    e.update(fields)
    return e


def opened(xid: str, at: datetime, eid: str | None = None, **extra: object) -> dict:
    fields: dict[str, object] = dict(
        order_id=f"SO-{xid}",
        category="inventory_shortfall",
        severity="high",
        site="DC-ATL",
        origin="ATL",
        destination="MIA",
        carrier="ACME",
        customer_tier="key",
        order_value=1000.0,
        currency="USD",
    )
    fields.update(extra)
    return ev("opened", xid, at, eid, **fields)


def worked_example() -> list[dict]:
    d = utc(2026, 5, 4)
    human = {"actor": {"id": "u-1", "kind": "human"}}
    touch = ev("touched", "X-1", d + 9 * H, "w-2", action="recount", **human)
    return [
        opened("X-1", d + 8 * H, "w-1"),
        touch,
        ev("paused", "X-1", d + 10 * H, "w-3", reason="waiting_on_customer"),
        ev("resumed", "X-1", d + 14 * H, "w-4"),
        ev("resolved", "X-1", d + 18 * H, "w-5", resolution_code="split_ship", **human),
        ev("reopened", "X-1", d + 32 * H, "w-6"),
        ev("touched", "X-1", d + 33 * H, "w-7", action="call", **human),
        dict(touch),
    ]


def order_event(at: datetime) -> dict:
    """An unrelated accepted event that only moves a replay's data clock."""
    return {
        "event_id": f"o-{next(_ids)}",
        "event_type": "order.shipped",
        "occurred_at": iso(at),
        "source_system": "TMS",
        "schema_version": "1",
        "order_id": "SO-clock",
    }


def summary(engine: AlertEngine) -> list[tuple[str, int, datetime, datetime, datetime | None]]:
    return [(r.kind, r.revision, r.due_at, r.raised_at, r.retracted_at) for r in engine.rows]


# --- worked example -------------------------------------------------------------------------


def test_worked_example_24x7_clock():
    x = worked_example()
    for t, status, active_h, age_h in [
        (utc(2026, 5, 4, 12), "paused", 2, 4),
        (utc(2026, 5, 4, 20), "resolved", 6, None),
        (utc(2026, 5, 5, 10), "open", 8, 26),
    ]:
        c = sla_clock(x, t)
        assert c is not None
        assert (c.status, c.active_seconds, c.age_hours) == (status, active_h * 3600, age_h)
        assert c.calendar is None and c.target_hours == 9
    c = sla_clock(x, utc(2026, 5, 4, 20))
    assert c is not None and c.met_sla is True and c.resolution_hours == 10
    c = sla_clock(x, utc(2026, 5, 5, 10))
    assert c is not None and c.at_risk and not c.breached  # 8 >= 7.2, not > 9
    assert due_times(x) == {"at_risk": utc(2026, 5, 5, 9, 12), "breached": utc(2026, 5, 5, 11)}


def test_worked_example_24x7_nothing_due_on_05_04():
    events = worked_example()[:5]  # up to the resolve: the clock stops at 6 h
    assert due_times(events) == {"at_risk": None, "breached": None}
    assert replay_alerts(events, utc(2026, 5, 4, 23, 59)).rows == []


def test_worked_example_replay_at_0900_raises_neither():
    engine = replay_alerts(worked_example())
    assert engine.clock == utc(2026, 5, 5, 9)
    assert engine.rows == [] and engine.messages == []


def test_worked_example_live_raises_at_wall_clock_then_late_resolve_retracts():
    engine = replay_alerts(worked_example())
    assert engine.tick(utc(2026, 5, 5, 9, 11)) == []
    msgs = engine.tick(utc(2026, 5, 5, 9, 12))  # no new event needed
    assert [(m["action"], m["kind"], m["revision"], m["due_at"], m["at"]) for m in msgs] == [
        ("raised", "at_risk", 1, "2026-05-05T09:12:00Z", "2026-05-05T09:12:00Z")
    ]
    m = msgs[0]
    assert m["alert_id"] == "X-1:at_risk:1" and m["exception_id"] == "X-1"
    assert m["order_value"] == 1000.0 and m["sla_target_hours"] == 9
    assert m["site"] == "DC-ATL" and m["lane"] == "ATL→MIA" and m["owner_team"] == "(unassigned)"
    # a resolve stamped 09:00 arrives at 09:30 on the wall clock
    late = ev("resolved", "X-1", utc(2026, 5, 5, 9), resolution_code="fixed")
    msgs = engine.arrive([late], wall_clock=utc(2026, 5, 5, 9, 30))
    assert [(m["action"], m["alert_id"], m["at"]) for m in msgs] == [
        ("retracted", "X-1:at_risk:1", "2026-05-05T09:30:00Z")
    ]
    assert engine.tick(utc(2026, 5, 5, 12)) == []  # the breach is not due any more
    assert summary(engine) == [
        ("at_risk", 1, utc(2026, 5, 5, 9, 12), utc(2026, 5, 5, 9, 12), utc(2026, 5, 5, 9, 30))
    ]
    assert engine.active() == [] and engine.standing() == []


def test_worked_example_live_breach_at_1100():
    engine = replay_alerts(worked_example(), utc(2026, 5, 5, 11))
    assert summary(engine) == [
        ("at_risk", 1, utc(2026, 5, 5, 9, 12), utc(2026, 5, 5, 11), None),
        ("breached", 1, utc(2026, 5, 5, 11), utc(2026, 5, 5, 11), None),
    ]
    assert [r.alert_id for r in engine.active()] == ["X-1:breached:1", "X-1:at_risk:1"]


def test_worked_example_calendar():
    x = worked_example()
    assert utc(2026, 5, 4, 12).astimezone(NY).strftime("%a") == "Mon"
    # Mon-Fri 08:00-18:00 local = 12:00-22:00Z in May
    assert working_intervals(EXAMPLE_CAL, utc(2026, 5, 4), utc(2026, 5, 5)) == [
        (utc(2026, 5, 4, 12), utc(2026, 5, 4, 22))
    ]
    assert working_seconds(EXAMPLE_CAL, utc(2026, 5, 4, 8), utc(2026, 5, 4, 10)) == 0
    at_resolve = sla_clock(x, utc(2026, 5, 4, 18), EXAMPLE)
    assert at_resolve is not None and at_resolve.calendar == "example"
    assert at_resolve.active_seconds == 4 * 3600 and at_resolve.met_sla is True
    assert at_resolve.resolution_hours == 10  # wall clock
    paused = sla_clock(x, utc(2026, 5, 4, 12), EXAMPLE)
    assert paused is not None and paused.active_seconds == 0 and paused.age_hours == 4
    assert due_times(x, EXAMPLE) == {
        "at_risk": utc(2026, 5, 5, 15, 12),
        "breached": utc(2026, 5, 5, 17),
    }
    reopened = sla_clock(x, utc(2026, 5, 5, 10), EXAMPLE)
    assert reopened is not None and reopened.active_seconds == 4 * 3600
    assert reopened.age_hours == 26 and not reopened.at_risk
    engine = replay_alerts(x, utc(2026, 5, 5, 17), EXAMPLE)
    assert [(r.kind, r.due_at) for r in engine.standing()] == [
        ("at_risk", utc(2026, 5, 5, 15, 12)),
        ("breached", utc(2026, 5, 5, 17)),
    ]


# --- configuration -----------------------------------------------------------------------


def test_spec_toml_parses():
    assert US_EAST.zone == NY
    assert US_EAST.week[0] == ((480, 1080),)
    assert US_EAST.week[2] == ((480, 720), (780, 1080))
    assert US_EAST.week[4] == ((480, 960),)
    assert US_EAST.week[5] == () and US_EAST.week[6] == ()
    assert US_EAST.holidays == frozenset({date(2026, 5, 25)})
    assert SPEC.calendar_for("DC-ATL") is US_EAST
    assert SPEC.calendar_for("DC-DAL") is None  # 24x7


def test_ranges_merge_and_blanks():
    assert parse_day_ranges("k", "13:00-14:00,08:00-12:00,11:00-13:00") == ((480, 840),)
    assert parse_day_ranges("k", "08:00-10:00,10:00-12:00") == ((480, 720),)
    assert parse_day_ranges("k", " 08:00 - 12:00 , 13:00-24:00") == ((480, 720), (780, 1440))
    assert parse_day_ranges("k", "00:00-24:00") == ((0, 1440),)


def test_toml_dates_are_holidays_too():
    cfg = load_sla_config(
        '[calendars.c]\ntimezone = "UTC"\nmon = "08:00-09:00"\n'
        'holidays = [2026-05-25, "2026-12-25"]\n'
    )
    assert cfg.calendars["c"].holidays == frozenset({date(2026, 5, 25), date(2026, 12, 25)})


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"timezone": "Mars/Olympus_Mons", "mon": "08:00-18:00"}, "calendars.c.timezone"),
        ({"timezone": "", "mon": "08:00-18:00"}, "calendars.c.timezone"),
        ({"timezone": 5, "mon": "08:00-18:00"}, "calendars.c.timezone"),
        ({"mon": "08:00-18:00"}, "calendars.c.timezone"),
        ({"timezone": "UTC", "mon": "25:00-26:00"}, "calendars.c.mon"),
        ({"timezone": "UTC", "tue": "08:00-25:00"}, "calendars.c.tue"),
        ({"timezone": "UTC", "wed": "08:60-09:00"}, "calendars.c.wed"),
        ({"timezone": "UTC", "thu": "22:00-06:00"}, "calendars.c.thu"),  # across midnight
        ({"timezone": "UTC", "fri": "08:00-08:00"}, "calendars.c.fri"),
        ({"timezone": "UTC", "sat": "24:00-24:00"}, "calendars.c.sat"),  # 24:00 as a start
        ({"timezone": "UTC", "sun": "00:00-24:30"}, "calendars.c.sun"),
        ({"timezone": "UTC", "mon": "8:00-18:00"}, "calendars.c.mon"),
        ({"timezone": "UTC", "mon": "08:00-12:00,"}, "calendars.c.mon"),
        ({"timezone": "UTC", "mon": ""}, "calendars.c.mon"),
        ({"timezone": "UTC", "mon": "08:00"}, "calendars.c.mon"),
        ({"timezone": "UTC", "mon": "0800-1800"}, "calendars.c.mon"),
        ({"timezone": "UTC", "mon": ["08:00-18:00"]}, "calendars.c.mon"),
        ({"timezone": "UTC", "monday": "08:00-18:00"}, "calendars.c.monday"),
        ({"timezone": "UTC"}, "calendars.c"),  # no working time at all
        ({"timezone": "UTC", "holidays": ["2026-05-25"]}, "calendars.c"),
        (
            {"timezone": "UTC", "mon": "08:00-09:00", "holidays": "2026-05-25"},
            "calendars.c.holidays",
        ),
        (
            {"timezone": "UTC", "mon": "08:00-09:00", "holidays": ["2026-13-01"]},
            "calendars.c.holidays",
        ),
        (
            {"timezone": "UTC", "mon": "08:00-09:00", "holidays": ["25.05.2026"]},
            "calendars.c.holidays",
        ),
    ],
)
def test_invalid_calendars(table: dict, key: str):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        parse_sla_config({"calendars": {"c": table}})


@pytest.mark.parametrize(
    ("doc", "key"),
    [
        ({"calendars": {}, "site_calendars": {"DC-ATL": "us_east"}}, "site_calendars.DC-ATL"),
        ({"site_calendars": {"DC-ATL": "nope"}}, "site_calendars.DC-ATL"),
        (
            {
                "calendars": {"c": {"timezone": "UTC", "mon": "08:00-09:00"}},
                "site_calendars": {"S": 1},
            },
            "site_calendars.S",
        ),
        ({"calendars": "x"}, "calendars"),
        ({"calendars": {"c": "x"}}, "calendars.c"),
        ({"site_calendars": ["x"]}, "site_calendars"),
    ],
)
def test_invalid_config(doc: dict, key: str):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        parse_sla_config(doc)


def test_invalid_toml_is_value_error():
    with pytest.raises(ValueError, match="TOML"):
        load_sla_config("[calendars.c\n")


def test_other_top_level_keys_are_ignored():
    cfg = parse_sla_config({"sla_policy": {"base_hours": {"high": 12}}})
    assert cfg.calendars == {} and cfg.calendar_for("X") is None


# --- working_seconds: hand-computed cases -------------------------------------------------

NIGHT = cal(mon="22:00-24:00", tue="00:00-06:00")
NIGHT_HOLIDAY = cal(mon="22:00-24:00", tue="00:00-06:00", holidays=["2026-05-05"])
LATE = cal(mon="18:00-24:00")
ALL_SUNDAY = cal(sun="00:00-24:00")
TOKYO = cal("Asia/Tokyo", **dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), "09:00-18:00"))
BERLIN_SUNDAY = cal("Europe/Berlin", sun="00:00-24:00")
SYDNEY_SUNDAY = cal("Australia/Sydney", sun="00:00-24:00")

CASES = [
    # (id, calendar, start, end, hours)
    ("fri-evening-to-mon", US_EAST, local(NY, 2026, 5, 8, 15), local(NY, 2026, 5, 11, 9), 2),
    (
        "fri-after-close-to-mon-open",
        US_EAST,
        local(NY, 2026, 5, 8, 17),
        local(NY, 2026, 5, 11, 8),
        0,
    ),
    ("weekend", US_EAST, local(NY, 2026, 5, 9), local(NY, 2026, 5, 11), 0),
    ("lunch-break", US_EAST, local(NY, 2026, 5, 6, 11), local(NY, 2026, 5, 6, 14), 2),
    ("inside-lunch", US_EAST, local(NY, 2026, 5, 6, 12, 10), local(NY, 2026, 5, 6, 12, 50), 0),
    ("holiday-memorial-day", US_EAST, local(NY, 2026, 5, 22, 15), local(NY, 2026, 5, 26, 9), 2),
    ("on-the-holiday", US_EAST, local(NY, 2026, 5, 25, 9), local(NY, 2026, 5, 25, 17), 0),
    ("full-week", US_EAST, local(NY, 2026, 5, 4), local(NY, 2026, 5, 11), 10 + 10 + 9 + 10 + 8),
    ("start-outside-end-inside", US_EAST, local(NY, 2026, 5, 4, 7), local(NY, 2026, 5, 4, 9), 1),
    ("start-inside-end-outside", US_EAST, local(NY, 2026, 5, 4, 17), local(NY, 2026, 5, 4, 19), 1),
    ("both-inside", US_EAST, local(NY, 2026, 5, 4, 9, 15), local(NY, 2026, 5, 4, 10), 0.75),
    ("both-outside-overnight", US_EAST, local(NY, 2026, 5, 4, 19), local(NY, 2026, 5, 5, 7), 0),
    (
        "both-outside-spanning-a-day",
        US_EAST,
        local(NY, 2026, 5, 4, 19),
        local(NY, 2026, 5, 5, 19),
        10,
    ),
    ("empty", US_EAST, local(NY, 2026, 5, 4, 9), local(NY, 2026, 5, 4, 9), 0),
    ("reversed", US_EAST, local(NY, 2026, 5, 4, 10), local(NY, 2026, 5, 4, 9), 0),
    ("ends-at-24:00", LATE, local(NY, 2026, 5, 4, 23), local(NY, 2026, 5, 5, 1), 1),
    ("24:00-whole-evening", LATE, local(NY, 2026, 5, 4), local(NY, 2026, 5, 6), 6),
    ("night-shift-across-midnight", NIGHT, local(NY, 2026, 5, 4, 23), local(NY, 2026, 5, 5, 5), 6),
    ("night-shift-whole", NIGHT, local(NY, 2026, 5, 4, 12), local(NY, 2026, 5, 5, 12), 8),
    (
        "night-shift-tue-holiday",
        NIGHT_HOLIDAY,
        local(NY, 2026, 5, 4, 12),
        local(NY, 2026, 5, 5, 12),
        2,
    ),
    ("spring-forward-whole-day", ALL_SUNDAY, local(NY, 2026, 3, 8), local(NY, 2026, 3, 9), 23),
    ("autumn-back-whole-day", ALL_SUNDAY, local(NY, 2026, 11, 1), local(NY, 2026, 11, 2), 25),
    ("normal-sunday", ALL_SUNDAY, local(NY, 2026, 3, 1), local(NY, 2026, 3, 2), 24),
    ("spring-across-gap", cal(sun="01:00-03:00"), local(NY, 2026, 3, 8), local(NY, 2026, 3, 9), 1),
    (
        "autumn-across-repeat",
        cal(sun="00:30-02:30"),
        local(NY, 2026, 11, 1),
        local(NY, 2026, 11, 2),
        3,
    ),
    # endpoints inside the gap / the repeat take the offset before the change
    ("spring-gap-endpoints", cal(sun="02:00-02:30"), utc(2026, 3, 8), utc(2026, 3, 9), 0.5),
    ("spring-gap-start", cal(sun="02:30-04:00"), utc(2026, 3, 8), utc(2026, 3, 9), 0.5),
    ("spring-gap-start-empty", cal(sun="02:30-03:00"), utc(2026, 3, 8), utc(2026, 3, 9), 0),
    ("autumn-repeat-start", cal(sun="01:30-03:00"), utc(2026, 11, 1), utc(2026, 11, 2), 2.5),
    ("autumn-repeat-end", cal(sun="00:00-01:30"), utc(2026, 11, 1), utc(2026, 11, 2), 1.5),
    ("autumn-within-repeat", cal(sun="01:15-01:45"), utc(2026, 11, 1), utc(2026, 11, 2), 0.5),
    # part of the day in UTC instants across the spring change: 06:00Z-08:00Z is 2 h
    ("spring-utc-slice", ALL_SUNDAY, utc(2026, 3, 8, 6), utc(2026, 3, 8, 8), 2),
    ("east-tokyo-monday-morning", TOKYO, utc(2026, 5, 10, 23), utc(2026, 5, 11, 1), 1),
    ("east-tokyo-monday-in-utc", TOKYO, utc(2026, 5, 11), utc(2026, 5, 12), 9),
    ("east-tokyo-sunday-utc-is-monday", TOKYO, utc(2026, 5, 10, 12), utc(2026, 5, 11), 0),
    ("east-berlin-spring", BERLIN_SUNDAY, utc(2026, 3, 28, 23), utc(2026, 3, 29, 22), 23),
    ("east-berlin-autumn", BERLIN_SUNDAY, utc(2026, 10, 24, 22), utc(2026, 10, 25, 23), 25),
    ("east-sydney-autumn-back", SYDNEY_SUNDAY, utc(2026, 4, 4, 13), utc(2026, 4, 5, 14), 25),
    ("24x7", None, utc(2026, 5, 8, 15), utc(2026, 5, 11, 9), 66),
]


@pytest.mark.parametrize(
    ("calendar", "start", "end", "hours"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_working_seconds_cases(
    calendar: Calendar | None, start: datetime, end: datetime, hours: float
):
    assert working_seconds(calendar, start, end) == hours * 3600


def test_working_intervals_are_instants():
    # Wednesday with lunch, in May (EDT, UTC-4)
    assert working_intervals(US_EAST, utc(2026, 5, 6), utc(2026, 5, 7)) == [
        (utc(2026, 5, 6, 12), utc(2026, 5, 6, 16)),
        (utc(2026, 5, 6, 17), utc(2026, 5, 6, 22)),
    ]
    # the night shift is one interval across local midnight (EDT)
    assert working_intervals(NIGHT, utc(2026, 5, 4), utc(2026, 5, 6)) == [
        (utc(2026, 5, 5, 2), utc(2026, 5, 5, 10))
    ]
    # in January (EST, UTC-5)
    assert working_intervals(US_EAST, utc(2026, 1, 5), utc(2026, 1, 6)) == [
        (utc(2026, 1, 5, 13), utc(2026, 1, 5, 23))
    ]


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="aware"):
        working_seconds(US_EAST, datetime(2026, 5, 4), utc(2026, 5, 5))  # noqa: DTZ001


# --- the inverses ---------------------------------------------------------------------------


def test_reached_and_passed_hand_cases():
    fri_15 = local(NY, 2026, 5, 8, 15)
    # 1 h reached exactly at Friday close: reached then, passed only at Monday's open
    assert reached_at(US_EAST, fri_15, 3600) == local(NY, 2026, 5, 8, 16)
    assert passed_at(US_EAST, fri_15, 3600) == local(NY, 2026, 5, 11, 8)
    assert reached_at(US_EAST, fri_15, 1.5 * 3600) == local(NY, 2026, 5, 11, 8, 30)
    assert passed_at(US_EAST, fri_15, 1.5 * 3600) == local(NY, 2026, 5, 11, 8, 30)
    # across the lunch break
    wed_11 = local(NY, 2026, 5, 6, 11)
    assert reached_at(US_EAST, wed_11, 3600) == local(NY, 2026, 5, 6, 12)
    assert passed_at(US_EAST, wed_11, 3600) == local(NY, 2026, 5, 6, 13)
    # across the holiday (Friday 05-22 close to Tuesday 05-26 open)
    assert passed_at(US_EAST, local(NY, 2026, 5, 22, 15), 3600) == local(NY, 2026, 5, 26, 8)
    # a start outside working time
    assert reached_at(US_EAST, local(NY, 2026, 5, 9, 12), 3600) == local(NY, 2026, 5, 11, 9)
    # zero: reached at once, passed when working time runs
    sat = local(NY, 2026, 5, 9, 12)
    assert reached_at(US_EAST, sat, 0) == sat
    assert passed_at(US_EAST, sat, 0) == local(NY, 2026, 5, 11, 8)
    assert passed_at(US_EAST, local(NY, 2026, 5, 11, 9), 0) == local(NY, 2026, 5, 11, 9)
    # night shift: working time continues across local midnight
    assert reached_at(NIGHT, local(NY, 2026, 5, 4, 22), 2 * 3600) == local(NY, 2026, 5, 5)
    assert passed_at(NIGHT, local(NY, 2026, 5, 4, 22), 2 * 3600) == local(NY, 2026, 5, 5)
    # ... but not when Tuesday is a holiday: next Monday 22:00
    assert passed_at(NIGHT_HOLIDAY, local(NY, 2026, 5, 4, 22), 2 * 3600) == local(
        NY, 2026, 5, 11, 22
    )
    # a long amount: 72 working hours from Monday 08:00 on Mon-Fri 08-18 (10 h a day)
    assert reached_at(EXAMPLE_CAL, local(NY, 2026, 5, 4, 8), 72 * 3600) == local(
        NY, 2026, 5, 13, 10
    )
    # across the spring change: 23 h of Sunday
    assert passed_at(ALL_SUNDAY, local(NY, 2026, 3, 8), 23 * 3600) == local(NY, 2026, 3, 15)
    # 24x7
    assert reached_at(None, fri_15, 3600) == passed_at(None, fri_15, 3600) == fri_15 + H
    assert next_working_instant(None, fri_15) == fri_15
    assert next_working_instant(US_EAST, fri_15) == fri_15
    assert next_working_instant(US_EAST, local(NY, 2026, 5, 8, 16)) == local(NY, 2026, 5, 11, 8)


CALENDARS = [
    US_EAST,
    EXAMPLE_CAL,
    NIGHT,
    NIGHT_HOLIDAY,
    LATE,
    ALL_SUNDAY,
    TOKYO,
    BERLIN_SUNDAY,
    cal(sun="01:30-03:00,02:00-02:30", sat="02:30-04:00"),  # DST endpoints
    cal("Europe/Berlin", mon="00:00-02:30", sun="02:15-03:15,23:00-24:00"),
    None,
]
# minutes from 2026-01-01, covering both US and EU changes
START = st.integers(0, 365 * 24 * 60).map(lambda m: utc(2026, 1, 1) + m * M)
AMOUNT = st.integers(0, 60 * 60).map(lambda m: m * M)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(CALENDARS), START, AMOUNT)
def test_inverses_agree_with_working_seconds(
    calendar: Calendar | None, start: datetime, amount: timedelta
):
    r = reached_at(calendar, start, amount)
    p = passed_at(calendar, start, amount)
    assert r >= start and p >= r
    assert working_seconds(calendar, start, r) == amount.total_seconds()
    assert working_seconds(calendar, start, p) == amount.total_seconds()
    if r > start:  # the first instant: a microsecond earlier is not enough
        assert working_seconds(calendar, start, r - US) < amount.total_seconds()
    # from p on, the clock runs past the amount
    assert working_seconds(calendar, start, p + US) > amount.total_seconds()
    assert p == next_working_instant(calendar, r)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(CALENDARS), START, st.integers(0, 5 * 24 * 60), st.integers(0, 5 * 24 * 60))
def test_working_seconds_is_additive_and_bounded(
    calendar: Calendar | None, a: datetime, m1: int, m2: int
):
    b, c = a + m1 * M, a + (m1 + m2) * M
    ab, bc, ac = (working_seconds(calendar, *x) for x in ((a, b), (b, c), (a, c)))
    assert ac == ab + bc
    assert 0 <= ab <= (b - a).total_seconds()


def _brute_force_minutes(calendar: Calendar, a: datetime, b: datetime) -> int:
    """Count UTC minutes whose local wall time lies in a range (valid when no range
    endpoint falls in a DST gap or repeat)."""
    n, t = 0, a
    while t < b:
        lt = t.astimezone(calendar.zone)
        minute = lt.hour * 60 + lt.minute
        n += any(s <= minute < e for s, e in calendar.ranges_on(lt.date()))
        t += M
    return n


BRUTE = [
    US_EAST,
    NIGHT_HOLIDAY,
    LATE,
    ALL_SUNDAY,
    TOKYO,
    BERLIN_SUNDAY,
    cal(sun="00:00-01:00,03:00-07:30,23:00-24:00", sat="05:00-24:00"),
    cal("Europe/Berlin", sun="00:00-02:00,03:00-04:00,23:30-24:00", mon="00:00-01:00"),
]
DST_WEEKS = st.sampled_from(
    [utc(2026, 3, 6), utc(2026, 3, 27), utc(2026, 10, 23), utc(2026, 10, 30), utc(2026, 5, 21)]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BRUTE), DST_WEEKS, st.integers(0, 3 * 24 * 60), st.integers(0, 3 * 24 * 60))
def test_working_seconds_matches_minute_brute_force(
    calendar: Calendar, base: datetime, m1: int, m2: int
):
    a = base + m1 * M
    b = a + m2 * M
    assert working_seconds(calendar, a, b) == 60 * _brute_force_minutes(calendar, a, b)


# --- the SLA clock of one exception ----------------------------------------------------------


def test_pause_stops_the_clock_and_cancel_is_final():
    t0 = utc(2026, 5, 4, 8)
    x = [opened("P", t0), ev("paused", "P", t0 + 2 * H, reason="r")]
    assert due_times(x) == {"at_risk": None, "breached": None}
    c = sla_clock(x, t0 + 100 * H)
    assert c is not None and c.status == "paused" and c.active_seconds == 2 * 3600
    x.append(ev("resumed", "P", t0 + 12 * H))
    assert due_times(x) == {"at_risk": t0 + 17 * H + 12 * M, "breached": t0 + 19 * H}
    x.append(ev("cancelled", "P", t0 + 13 * H))
    assert due_times(x) == {"at_risk": None, "breached": None}
    x.append(ev("reopened", "P", t0 + 14 * H))  # cancelled is final
    assert due_times(x) == {"at_risk": None, "breached": None}
    c = sla_clock(x, t0 + 100 * H)
    assert c is not None and c.status == "cancelled" and c.active_seconds == 3 * 3600


def test_events_that_do_not_fit_and_events_before_opened():
    t0 = utc(2026, 5, 4, 8)
    x = [
        opened("Q", t0),
        ev("resumed", "Q", t0 + H),  # resumed while open: no change
        ev("reopened", "Q", t0 + 2 * H),  # reopened while open: no change
        ev("paused", "Q", t0 - H, reason="r"),  # before opened: counts at the opened time
    ]
    f = fold(accepted_histories(x)["Q"])
    assert f is not None and f.status == "open" and f.open_intervals == ((t0 + H, None),)
    c = sla_clock(x, t0 + 3 * H)
    assert c is not None and c.active_seconds == 2 * 3600


def test_sla_target_hours_override_and_policy():
    t0 = utc(2026, 5, 4, 8)
    assert due_times([opened("A", t0, sla_target_hours=2.5)])["breached"] == t0 + 150 * M
    critical = opened("B", t0, severity="critical", customer_tier="strategic")  # 4 x 0.5
    assert due_times([critical]) == {"at_risk": t0 + 96 * M, "breached": t0 + 2 * H}
    assert sla_clock([critical], t0 - H) is None  # not opened yet


def test_calendar_breach_reached_as_working_time_ends_is_due_next_opening():
    fri_9 = local(NY, 2026, 5, 8, 9)  # Friday; Mon-Fri 08-18 calendar
    x = [opened("C", fri_9, sla_target_hours=9)]
    assert due_times(x, EXAMPLE) == {
        "at_risk": local(NY, 2026, 5, 8, 16, 12),
        "breached": local(NY, 2026, 5, 11, 8),  # 9 h reached Friday 18:00
    }
    at_close = sla_clock(x, local(NY, 2026, 5, 8, 18), EXAMPLE)
    weekend = sla_clock(x, local(NY, 2026, 5, 10, 12), EXAMPLE)
    monday = sla_clock(x, local(NY, 2026, 5, 11, 8, 1), EXAMPLE)
    assert at_close is not None and weekend is not None and monday is not None
    assert not at_close.breached and at_close.at_risk
    assert not weekend.breached and weekend.active_seconds == 9 * 3600
    assert monday.breached
    # at-risk: 0.8 x 11.25 h = 9 h reached at Friday's close is due at the close
    y = [opened("D", fri_9, sla_target_hours=11.25)]
    assert due_times(y, EXAMPLE)["at_risk"] == local(NY, 2026, 5, 8, 18)
    # a resolve on Monday at the opening instant: never breached
    y = [*x, ev("resolved", "C", local(NY, 2026, 5, 11, 8), resolution_code="f")]
    assert due_times(y, EXAMPLE)["breached"] is None


def test_pause_exactly_at_due_moves_due_to_resume():
    t0 = utc(2026, 5, 4, 8)
    x = [opened("E", t0), ev("paused", "E", t0 + 7 * H + 12 * M, reason="r")]
    assert due_times(x) == {"at_risk": None, "breached": None}
    x.append(ev("resumed", "E", t0 + 8 * H))
    assert due_times(x) == {"at_risk": t0 + 8 * H, "breached": t0 + 9 * H + 48 * M}
    y = [opened("F", t0), ev("paused", "F", t0 + 9 * H, reason="r")]
    assert due_times(y)["breached"] is None  # reached 9 h, never past it
    c = sla_clock(y, t0 + 20 * H)
    assert c is not None and not c.breached and c.at_risk
    y.append(ev("resumed", "F", t0 + 10 * H))
    assert due_times(y)["breached"] == t0 + 10 * H
    # with a calendar: resumed on Saturday, the clock runs past 9 h at Monday's opening
    fri = local(NY, 2026, 5, 8, 9)
    z = [
        opened("G", fri, sla_target_hours=9),
        ev("paused", "G", local(NY, 2026, 5, 8, 18), reason="r"),
        ev("resumed", "G", local(NY, 2026, 5, 9, 10)),
    ]
    assert due_times(z, EXAMPLE) == {
        "at_risk": local(NY, 2026, 5, 8, 16, 12),
        "breached": local(NY, 2026, 5, 11, 8),
    }


# --- alert sequences ---------------------------------------------------------------------------


def test_late_pause_retracts_and_resume_re_raises_same_due_with_new_revision():
    t0 = utc(2026, 5, 4, 8)
    engine = AlertEngine()
    engine.run([opened("R", t0), order_event(t0 + 8 * H)])
    assert summary(engine) == [("at_risk", 1, t0 + 7 * H + 12 * M, t0 + 8 * H, None)]
    engine.run([ev("paused", "R", t0 + 7 * H, reason="r")])  # late: clock stays 16:00
    engine.run([ev("resumed", "R", t0 + 7 * H)])  # same instant, applied after the pause
    assert summary(engine) == [
        ("at_risk", 1, t0 + 7 * H + 12 * M, t0 + 8 * H, t0 + 8 * H),
        ("at_risk", 2, t0 + 7 * H + 12 * M, t0 + 8 * H, None),
    ]
    assert [(m["action"], m["alert_id"]) for m in engine.messages] == [
        ("raised", "R:at_risk:1"),
        ("retracted", "R:at_risk:1"),
        ("raised", "R:at_risk:2"),
    ]


def test_late_resolve_retracts_then_reopen_re_raises():
    t0 = utc(2026, 5, 4, 8)
    engine = AlertEngine()
    engine.run([opened("S", t0), order_event(t0 + 8 * H)])
    engine.run([ev("resolved", "S", t0 + 7 * H, resolution_code="f")])  # 7 h < 7.2 h
    assert summary(engine) == [("at_risk", 1, t0 + 7 * H + 12 * M, t0 + 8 * H, t0 + 8 * H)]
    assert engine.standing() == []
    engine.run([ev("reopened", "S", t0 + 9 * H)])  # the clock moves to 17:00
    assert len(engine.rows) == 1  # due 17:12 is not reached yet
    engine.tick(t0 + 9 * H + 11 * M)
    assert len(engine.rows) == 1
    engine.tick(t0 + 9 * H + 12 * M)
    assert summary(engine)[1:] == [("at_risk", 2, t0 + 9 * H + 12 * M, t0 + 9 * H + 12 * M, None)]
    engine.tick(t0 + 11 * H)
    assert summary(engine)[2:] == [("breached", 1, t0 + 11 * H, t0 + 11 * H, None)]
    assert [r.alert_id for r in engine.active()] == ["S:breached:1", "S:at_risk:2"]


def test_resolve_after_due_does_not_retract_and_alert_goes_inactive():
    t0 = utc(2026, 5, 4, 8)
    engine = replay_alerts([opened("T", t0), ev("resolved", "T", t0 + 8 * H, resolution_code="f")])
    # the replay's clock jumped from 08:00 to 16:00 past the 15:12 due: raised at 16:00
    assert summary(engine) == [("at_risk", 1, t0 + 7 * H + 12 * M, t0 + 8 * H, None)]
    assert engine.active() == [] and len(engine.standing()) == 1
    engine = replay_alerts([opened("T2", t0), ev("cancelled", "T2", t0 + 8 * H)])
    assert len(engine.standing()) == 1 and engine.active() == []


def test_pause_stops_the_clock_no_alert_until_resume():
    t0 = utc(2026, 5, 4, 8)
    engine = replay_alerts([opened("U", t0), ev("paused", "U", t0 + H, reason="r")], t0 + 1000 * H)
    assert engine.rows == []
    engine.run([Arrival((ev("resumed", "U", t0 + 1000 * H),), wall_clock=t0 + 1000 * H)])
    assert engine.rows == []
    engine.tick(t0 + 1006 * H + 12 * M)
    assert summary(engine) == [("at_risk", 1, t0 + 1006 * H + 12 * M, t0 + 1006 * H + 12 * M, None)]


def test_pause_at_due_in_the_same_batch_raises_nothing_but_one_by_one_retracts():
    t0 = utc(2026, 5, 4, 8)
    due = t0 + 7 * H + 12 * M
    pause = ev("paused", "V", due, reason="r")
    other = order_event(due)
    batch = AlertEngine().run([opened("V", t0), Arrival((other, pause))])
    assert batch.rows == []
    single = AlertEngine().run([opened("V", t0), other, pause])
    assert summary(single) == [("at_risk", 1, due, due, due)]


def test_data_clock_ignores_duplicates_held_and_rejected_events():
    t0 = utc(2026, 5, 4, 8)
    first = opened("W", t0, "same-id")
    engine = AlertEngine().run(
        [
            first,
            {**first, "occurred_at": iso(t0 + 50 * H)},  # duplicate event_id
            opened("W", t0 + 60 * H),  # duplicate_open: rejected
            ev("touched", "Z", t0 + 70 * H, action="call"),  # held: Z not opened
        ]
    )
    assert engine.clock == t0 and engine.rows == []
    engine.run([opened("Z", t0 + H)])  # releases the held touch: the clock moves to 78:00
    assert engine.clock == t0 + 70 * H
    assert {(r.exception_id, r.kind) for r in engine.rows} == {
        ("W", "at_risk"),
        ("W", "breached"),
        ("Z", "at_risk"),
        ("Z", "breached"),
    }


def test_caught_up_events_do_not_move_the_clock_past_the_heartbeat():
    t0 = utc(2026, 5, 4, 8)
    engine = AlertEngine()
    engine.run([Arrival((opened("Y", t0), ev("touched", "Y", t0 + 8 * H, action="c")), t0 + H)])
    assert engine.clock == t0 + H and engine.rows == []
    engine.run([Tick(t0)])  # the clock never moves back
    assert engine.clock == t0 + H


def test_due_moving_earlier_is_retracted_and_re_raised():
    t0 = utc(2026, 5, 4, 8)
    engine = AlertEngine().run(
        [
            opened("K", t0),
            ev("paused", "K", t0 + H, reason="r"),
            ev("resumed", "K", t0 + 5 * H),
            order_event(t0 + 20 * H),
        ]
    )
    assert [(r.kind, r.due_at) for r in engine.standing()] == [
        ("at_risk", t0 + 11 * H + 12 * M),
        ("breached", t0 + 13 * H),
    ]
    engine.run([ev("resumed", "K", t0 + 2 * H)])  # late: resumed earlier
    assert [(r.kind, r.revision, r.due_at) for r in engine.standing()] == [
        ("at_risk", 2, t0 + 8 * H + 12 * M),
        ("breached", 2, t0 + 10 * H),
    ]


def test_calendar_alerts_live():
    fri_9 = local(NY, 2026, 5, 8, 9)
    engine = AlertEngine(EXAMPLE)
    engine.arrive([opened("L", fri_9, sla_target_hours=9)], wall_clock=fri_9)
    engine.tick(local(NY, 2026, 5, 8, 16, 12))
    engine.tick(local(NY, 2026, 5, 10, 12))  # Sunday: 9 h reached, not past it
    assert [(r.kind, r.due_at) for r in engine.rows] == [("at_risk", local(NY, 2026, 5, 8, 16, 12))]
    engine.tick(local(NY, 2026, 5, 11, 8))
    assert [(r.kind, r.due_at, r.raised_at) for r in engine.rows][1:] == [
        ("breached", local(NY, 2026, 5, 11, 8), local(NY, 2026, 5, 11, 8))
    ]
    row = engine.table()[1]
    assert (
        row["alert_id"] == "L:breached:1"
        and row["carrier"] == "ACME"
        and row["retracted_at"] is None
    )


# --- invariants over random streams --------------------------------------------------------------

KINDS_OF_FOLLOWUPS = ["touched", "paused", "resumed", "resolved", "reopened", "cancelled", "paused"]


def random_stream(rng: random.Random, n: int = 5) -> list[dict]:
    t0 = utc(2026, 3, 5, 10)
    events: list[dict] = []
    for i in range(n):
        xid = f"X{i}"
        at = t0 + rng.randrange(0, 24 * 4) * 30 * M
        events.append(
            opened(
                xid,
                at,
                severity=rng.choice(["critical", "high"]),
                site=rng.choice(["DC-ATL", "DC-DAL"]),
            )
        )
        for offset in rng.sample(range(-2, 60), rng.randrange(0, 6)):  # no ties
            kind = rng.choice(KINDS_OF_FOLLOWUPS)
            extra = {"reason": "r"} if kind == "paused" else {}
            if kind == "resolved":
                extra = {"resolution_code": "f"}
            if kind == "touched":
                extra = {"action": "call"}
            events.append(ev(kind, xid, at + offset * 30 * M, **extra))
    return events


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10**6), st.booleans())
def test_alert_invariants_and_consistency(seed: int, with_calendar: bool):
    rng = random.Random(seed)
    events = random_stream(rng)
    config = EXAMPLE if with_calendar else None
    orders = [list(events), rng.sample(events, len(events)), rng.sample(events, len(events))]
    finals = []
    for arrival in orders:
        engine = replay_alerts(arrival, config=config)
        t = engine.clock
        assert t is not None and t == max(datetime.fromisoformat(e["occurred_at"]) for e in events)
        standing = engine.standing()
        keys = [(r.exception_id, r.kind) for r in standing]
        assert len(keys) == len(set(keys))  # at most one standing per exception and kind
        for _key, group in itertools.groupby(
            sorted(engine.rows, key=lambda r: (r.exception_id, r.kind, r.revision)),
            key=lambda r: (r.exception_id, r.kind),
        ):
            rows = list(group)
            assert [r.revision for r in rows] == list(range(1, len(rows) + 1))
            assert all(r.retracted_at is not None for r in rows[:-1])
            assert all(r.due_at <= r.raised_at for r in rows)
            assert all(r.retracted_at is None or r.retracted_at >= r.raised_at for r in rows)
        histories = accepted_histories(arrival)
        for xid, h in histories.items():
            dues = due_times(h, config)
            c = sla_clock(h, t, config)
            assert c is not None
            stand = {r.kind: r for r in standing if r.exception_id == xid}
            for kind in ("at_risk", "breached"):
                due = dues[kind]  # type: ignore[index]
                assert (kind in stand) == (due is not None and due <= t)
                if kind in stand:
                    assert stand[kind].due_at == due
            # kpis.md consistency: breached_open <-> standing breach alert with due_at < T
            if c.status in ("open", "paused"):
                assert c.breached == ("breached" in stand and stand["breached"].due_at < t)
            assert c.breached == (dues["breached"] is not None and dues["breached"] < t)
            if c.status == "open":
                assert (c.at_risk or c.breached) == ("at_risk" in stand)
            elif "at_risk" in stand:
                assert c.at_risk or c.breached
        n_raised = sum(m["action"] == "raised" for m in engine.messages)
        n_retracted = sum(m["action"] == "retracted" for m in engine.messages)
        assert n_raised == len(engine.rows)
        assert n_retracted == sum(r.retracted_at is not None for r in engine.rows)
        finals.append(sorted((r.exception_id, r.kind, r.due_at) for r in standing))
    assert finals[0] == finals[1] == finals[2]  # the standing alerts do not depend on arrival order

"""SLA alerts (``flows.alerts`` and the applier): when they are due, raised by the
data clock of a replay, retracted by late events — checked against the
independent reference (``tests/reference_sla.py``, written from ``kpis.md`` alone)."""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from core.config import Settings, load_settings
from core.db import open_read
from core.timeutil import UTC
from flows.alerts import AlertBook, ExceptionAlerts, due_times, raise_due, update_dues
from flows.ingest import ingest
from flows.lifecycle import PAUSED_EV, RESOLVED_EV, RESUMED, Step, derive
from metrics.query import kpis
from tests import reference_sla as ref
from tests.streams import (
    alert_rows,
    ev,
    fixed_clock,
    opened,
    random_stream,
    worked_example,
    write_jsonl,
)

H = 3_600_000_000
T = datetime(2026, 5, 4, 8, tzinfo=UTC)
T_US = int(T.timestamp() * 1_000_000)


def _step(et: str, hours: float, i: int) -> Step:
    return Step(T_US + round(hours * H), i, et, False, None, f"s{i}")


def test_due_times_of_the_worked_example() -> None:
    # 9 h target; open 08:00-10:00 (2 h), paused, open 14:00-18:00 (6 h), resolved,
    # reopened 05-05 08:00: at-risk (7.2 h) due at 09:12, breach (9 h) at 11:00.
    steps = [
        _step(PAUSED_EV, 2, 1),
        _step(RESUMED, 6, 2),
        _step(RESOLVED_EV, 10, 3),
        _step("exception.reopened", 24, 4),
    ]
    at_risk, breach = due_times(derive(T_US, steps).versions, 9.0)
    assert at_risk == T_US + round(25.2 * H)
    assert breach == T_US + 27 * H
    # before the reopen nothing is due (6 h < 7.2 h, resolved)
    assert due_times(derive(T_US, steps[:3]).versions, 9.0) == (None, None)


@pytest.mark.parametrize(
    ("steps", "want"),
    [
        # the clock reaches 7.2 h exactly as it is paused: due at the resume
        ([(PAUSED_EV, 7.2), (RESUMED, 10)], (10.0, 11.8)),
        # it reaches 9 h exactly as it is paused: breach due when it runs again
        ([(PAUSED_EV, 9), (RESUMED, 12)], (7.2, 12.0)),
        # resolved at 9 h exactly: never breached
        ([(RESOLVED_EV, 9)], (7.2, None)),
        # paused for good before 7.2 h: nothing due
        ([(PAUSED_EV, 5)], (None, None)),
    ],
)
def test_due_times_at_the_edges(steps: list[tuple[str, float]], want: tuple) -> None:
    got = due_times(
        derive(T_US, [_step(et, h, i) for i, (et, h) in enumerate(steps)]).versions, 9.0
    )
    assert got == tuple(None if w is None else T_US + round(w * H) for w in want)


def test_a_changed_due_retracts_the_standing_alert_and_queues_the_new_one() -> None:
    book, state, changes = AlertBook(), ExceptionAlerts(), []
    update_dues(state, "X", (100, 200), 0, book, changes)
    assert book.due_by(150) == [(100, "X", "at_risk")]
    alert = raise_due(state, "X", "at_risk", 100, 150)
    assert alert is not None and alert.alert_id == "X:at_risk:1"
    update_dues(state, "X", (300, 400), 160, book, changes)  # a late pause moved it
    assert changes == [("retracted", alert)] and alert.retracted_us == 160
    assert book.due_by(350) == [(300, "X", "at_risk")]  # the stale 200 breach is skipped
    again = raise_due(state, "X", "at_risk", 300, 350)
    assert again is not None and again.alert_id == "X:at_risk:2"


def _ingest(
    tmp: Path, events: list[dict], chunk_lines: int, name: str, settings: Settings | None = None
) -> Path:
    path = write_jsonl(tmp / f"{name}.jsonl", events)
    db = tmp / f"{name}.duckdb"
    ingest([path], db, settings or load_settings(), fixed_clock, chunk_lines=chunk_lines)
    return db


def _reference(events: list[dict], config: ref.SlaConfig | None = None) -> list[tuple]:
    engine = ref.replay_alerts((json.loads(json.dumps(e)) for e in events), config=config)
    rows = []
    for r in engine.table():
        rows.append(
            (
                r["alert_id"],
                r["exception_id"],
                r["kind"],
                r["revision"],
                r["due_at"],
                r["raised_at"],
                r["retracted_at"],
                r["site"],
                r["lane"],
                r["carrier"],
                r["category"],
                r["severity"],
                r["customer_tier"],
                r["owner_team"],
                r["source_system"],
            )
        )
    return sorted(rows)


def test_the_worked_example_raises_at_risk_and_breach_after_the_reopen(tmp_path: Path) -> None:
    events = worked_example()
    db = _ingest(tmp_path, events, 2000, "w")
    # the data clock is the last event (05-05 09:00): neither alert is due yet
    assert alert_rows(db) == []
    late = ev("exception.touched", "X-1", T + timedelta(hours=27, minutes=30), action="call")
    db = _ingest(tmp_path, [*events, late], 2000, "w2")
    got = {(r[2], r[4]) for r in alert_rows(db)}
    assert got == {
        ("at_risk", T + timedelta(hours=25, minutes=12)),
        ("breached", T + timedelta(hours=27)),
    }
    assert alert_rows(db) == _reference([*events, late])


def test_a_late_resolve_retracts_and_a_reopen_raises_a_new_revision(tmp_path: Path) -> None:
    x = opened("X-9", T, severity="critical", tier="standard")  # 4 h target
    events = [
        x,
        ev("exception.touched", "X-9", T + timedelta(hours=5), action="call"),  # clock -> 5 h
        ev("exception.resolved", "X-9", T + timedelta(hours=2), resolution_code="fixed"),
        ev("exception.reopened", "X-9", T + timedelta(hours=6)),  # clock runs again at 6 h
        ev("exception.touched", "X-9", T + timedelta(hours=9), action="call"),
    ]
    db = _ingest(tmp_path, events, 2000, "r")
    rows = alert_rows(db)
    assert rows == _reference(events)
    ids = [(r[0], r[6] is not None) for r in rows]
    assert ids == [
        ("X-9:at_risk:1", True),
        ("X-9:at_risk:2", False),
        ("X-9:breached:1", True),
        ("X-9:breached:2", False),
    ]


@pytest.mark.parametrize("seed", range(8))
def test_replays_match_the_reference_whatever_the_chunking(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    events = random_stream(rng, n_exceptions=25, orders=6)
    if seed % 2:
        rng.shuffle(events)  # held follow-ups, late events, a clock that jumps
    want = _reference(events)
    one_by_one = alert_rows(_ingest(tmp_path, events, 1, "a"))
    assert one_by_one == want
    assert alert_rows(_ingest(tmp_path, events, 7, "b")) == want
    assert alert_rows(_ingest(tmp_path, events, 2000, "c")) == want


def test_a_rerun_and_a_split_run_change_nothing(tmp_path: Path) -> None:
    rng = random.Random(99)
    events = random_stream(rng, n_exceptions=30, orders=6)
    rng.shuffle(events)
    whole = _ingest(tmp_path, events, 5, "whole")
    first = write_jsonl(tmp_path / "first.jsonl", events[: len(events) // 2])
    second = write_jsonl(tmp_path / "second.jsonl", events[len(events) // 2 :])
    split = tmp_path / "split.duckdb"
    ingest([first], split, load_settings(), fixed_clock, chunk_lines=5)
    ingest([second], split, load_settings(), fixed_clock, chunk_lines=5)
    ingest([first, second], split, load_settings(), fixed_clock, chunk_lines=5)  # a rerun
    assert alert_rows(split) == alert_rows(whole) == _reference(events)


@pytest.mark.parametrize("seed", range(4))
def test_breached_open_equals_standing_breach_alerts_due_before_the_data_clock(
    tmp_path: Path, seed: int
) -> None:
    """The consistency rule of kpis.md, as of the data clock."""
    rng = random.Random(seed)
    events = random_stream(rng, n_exceptions=40, orders=8)
    rng.shuffle(events)
    db = _ingest(tmp_path, events, 50, "k")
    with open_read(db) as con:
        breached_open = kpis(con)["breached_open"][0]
        (standing,) = con.execute(
            "SELECT count(*) FROM sla_alerts a JOIN exceptions e USING (exception_id) "
            "WHERE a.kind = 'breached' AND a.retracted_at IS NULL "
            "AND e.status IN ('open', 'paused') "
            "AND a.due_at < (SELECT data_clock FROM flow_clock)"
        ).fetchall()[0]
    assert breached_open == standing


CALENDARS = """
[calendars.ny]
timezone = "America/New_York"
mon = "08:00-12:00,13:00-18:00"
tue = "08:00-18:00"
wed = "08:00-18:00"
thu = "07:30-18:00"
fri = "08:00-16:00"
holidays = ["2026-05-05"]

[calendars.night]
timezone = "Asia/Tokyo"
mon = "22:00-24:00"
tue = "00:00-06:00,22:00-24:00"
wed = "00:00-06:00,22:00-24:00"
thu = "00:00-06:00"
sat = "09:00-13:00"

[site_calendars]
DC-ATL = "ny"
DC-DAL = "night"
"""


def _calendar_settings(tmp: Path) -> tuple[Settings, ref.SlaConfig]:
    cfg = tmp / "calendars.toml"
    cfg.write_text(CALENDARS)
    return load_settings(cfg), ref.load_sla_config(CALENDARS)


@pytest.mark.parametrize("seed", range(6))
def test_replays_on_working_calendars_match_the_reference(tmp_path: Path, seed: int) -> None:
    """Both sites of the random streams on a calendar (a lunch break, a holiday, a
    night shift split across midnight in a zone east of UTC): ``due_at``,
    ``raised_at`` and retractions as the reference derives them."""
    settings, config = _calendar_settings(tmp_path)
    rng = random.Random(100 + seed)
    events = random_stream(rng, n_exceptions=25, orders=6)
    if seed % 2:
        rng.shuffle(events)
    want = _reference(events, config)
    assert want != _reference(events)  # the calendars change what is due
    assert alert_rows(_ingest(tmp_path, events, 1, "a", settings)) == want
    assert alert_rows(_ingest(tmp_path, events, 2000, "c", settings)) == want


def test_a_breach_after_closing_time_is_due_at_the_next_working_minute(tmp_path: Path) -> None:
    """A 4 h target opened Friday 15:00 New York time: 1 h on Friday (to 16:00), the
    weekend closed, 3 h more on Monday from 08:00: due Monday 11:00 local."""
    settings, config = _calendar_settings(tmp_path)
    fri = datetime(2026, 5, 8, 19, tzinfo=UTC)  # Friday 15:00 EDT
    x = opened("X-F", fri, severity="critical", tier="standard", site="DC-ATL")
    probe = ev("exception.touched", "X-F", fri + timedelta(days=4), action="call")
    db = _ingest(tmp_path, [x, probe], 2000, "f", settings)
    rows = {r[2]: r[4] for r in alert_rows(db)}
    monday = datetime(2026, 5, 11, 15, tzinfo=UTC)  # Monday 11:00 EDT
    assert rows == {"at_risk": monday - timedelta(minutes=48), "breached": monday}
    assert alert_rows(db) == _reference([x, probe], config)


def test_a_caught_up_flow_raises_the_breach_at_the_next_working_minute(tmp_path: Path) -> None:
    """The live flow's timer: nothing over the weekend, the at-risk alert on Monday
    10:12 New York time (1 h on Friday + 2.2 h), the breach at 11:00 — by the wall
    clock, with no new event."""
    from flows.apply import Applier, LiveStatus
    from flows.parse import Parsed, parse_line

    settings, _ = _calendar_settings(tmp_path)
    fri = datetime(2026, 5, 8, 19, tzinfo=UTC)  # Friday 15:00 EDT
    now = [fri]
    applier = Applier("live", settings, lambda: now[0])
    x = opened("X-F", fri, severity="critical", tier="standard", site="DC-ATL")
    p = parse_line(json.dumps(x).encode(), "kafka:t/0", 0, 1, settings, int(fri.timestamp() * 1e6))
    assert isinstance(p, Parsed)
    live = LiveStatus(caught_up=True, lag={"0": 0}, offsets={})
    assert applier.apply([p], [], live).alerts == {}
    at_risk = datetime(2026, 5, 11, 14, 12, tzinfo=UTC)
    breach = datetime(2026, 5, 11, 15, tzinfo=UTC)
    assert applier.next_due_us() == int(at_risk.timestamp() * 1e6)  # what the timer waits for
    now[0] = datetime(2026, 5, 9, 20, tzinfo=UTC)  # Saturday: closed
    assert applier.tick(live).alerts == {}
    now[0] = at_risk + timedelta(milliseconds=300)
    raised = list(applier.tick(live).alerts.values())
    assert [(r[2], r[4]) for r in raised] == [("at_risk", int(at_risk.timestamp() * 1e6))]
    assert applier.next_due_us() == int(breach.timestamp() * 1e6)
    now[0] = breach + timedelta(milliseconds=300)
    raised = list(applier.tick(live).alerts.values())
    assert [(r[2], r[4]) for r in raised] == [("breached", int(breach.timestamp() * 1e6))]

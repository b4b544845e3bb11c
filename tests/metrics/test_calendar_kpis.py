"""KPIs and SLA alerts on business-hours calendars (kpis.md, "Business-hours calendars
(SLA clock)", "SLA alerts" and the worked example's calendar case).

Generated streams over three calendars and one 24x7 site, with timestamps on and
around the edges of working time, across nights, weekends, holidays and the European
and US autumn DST changes, are ingested through ``fpi --config FILE ingest`` and
compared with the independent references (``tests/reference.py`` with calendars for
the KPIs and bottlenecks, ``tests/reference_sla.py`` for the alerts) at as-of times
inside and outside working hours, by and under dimensions. The same stream ingested
without calendars must give the same wall-clock KPIs (ages, MTTR and its quantiles).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from core.config import load_settings
from core.db import open_read
from flows.ingest import ingest
from fpi import cli
from fpi.cli import main
from metrics.bottlenecks import bottlenecks
from metrics.query import compute, kpis, window
from metrics.queue import exception_state
from tests import reference
from tests import reference_sla as ref_sla
from tests.reference import DIMENSIONS, Snapshot, Where
from tests.streams import (
    ALERT_COLUMNS,
    alert_rows,
    ev,
    opened,
    worked_example,
    write_jsonl,
)

H = timedelta(hours=1)
D = timedelta(days=1)


def Z(mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:  # noqa: N802
    return datetime(2026, mo, d, h, mi, s, tzinfo=UTC)


CONFIG = """
# New York (EDT = UTC-4 until Sun 2026-11-01 06:00Z, then EST = UTC-5): the spec's
# week plus a Sunday range across the 02:00 change (4 h on 11-01); Fri 10-30 closed
[calendars.us_east]
timezone = "America/New_York"
mon = "08:00-18:00"
tue = "08:00-18:00"
wed = "08:00-12:00,13:00-18:00"
thu = "08:00-18:00"
fri = "08:00-16:00"
sun = "01:00-04:00"
holidays = ["2026-10-30"]

# Berlin night shift (CEST = UTC+2 until Sun 2026-10-25 01:00Z, then CET = UTC+1),
# split across midnight; Sun 00:00-04:00 is 5 h on 10-25; Tue 10-27 a holiday (closes
# its own 00:00-06:00 and 22:00-24:00, not Monday's 22:00-24:00)
[calendars.eu_night]
timezone = "Europe/Berlin"
mon = "22:00-24:00"
tue = "00:00-06:00,22:00-24:00"
wed = "00:00-06:00,22:00-24:00"
thu = "00:00-06:00,22:00-24:00"
fri = "00:00-06:00,22:00-24:00"
sat = "00:00-06:00"
sun = "00:00-04:00"
holidays = ["2026-10-27"]

# Kolkata (UTC+05:30), Monday to Saturday
[calendars.apac]
timezone = "Asia/Kolkata"
mon = "09:30-18:00"
tue = "09:30-18:00"
wed = "09:30-18:00"
thu = "09:30-18:00"
fri = "09:30-18:00"
sat = "09:30-13:00"
holidays = ["2026-11-02"]

[site_calendars]
DC-ATL = "us_east"
DC-BER = "eu_night"
DC-BLR = "apac"
# DC-DAL runs 24x7
"""
REF_CONFIG = ref_sla.load_sla_config(CONFIG)
SITES = ("DC-ATL", "DC-BER", "DC-BLR", "DC-DAL")
W0, W1 = Z(10, 21), Z(11, 6)  # Wed 10-21 .. Fri 11-06: both DST changes, three holidays

SLA_KPIS = frozenset(
    {
        "breached_open",
        "at_risk_open",
        "breached_revenue_at_risk",
        "sla_adherence",
        "sla_overrun_hours",
    }
)
"""The KPIs that use the SLA clock; every other KPI is wall-clock or a count."""


def _edges() -> list[datetime]:
    """Every instant at which working time starts or ends, on any of the calendars."""
    out: set[datetime] = set()
    for cal in REF_CONFIG.calendars.values():
        for lo, hi in ref_sla.working_intervals(cal, W0 - 3 * D, W1 + 8 * D):
            out |= {lo, hi}
    return sorted(out)


EDGES = _edges()


def pick(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A time in [lo, hi]: often exactly an edge of working time or a second off one."""
    r = rng.random()
    near = [e for e in EDGES if lo <= e <= hi]
    if near and r < 0.35:
        return rng.choice(near)
    if near and r < 0.45:
        return rng.choice(near) + timedelta(seconds=rng.choice([-60, -1, 1, 60]))
    return lo + timedelta(minutes=rng.randrange(int((hi - lo) / timedelta(minutes=1)) + 1))


KINDS = (
    "touched",
    "touched",
    "assigned",
    "escalated",
    "paused",
    "paused",
    "resumed",
    "resumed",
    "resolved",
    "resolved",
    "reopened",
    "cancelled",
)


def calendar_stream(rng: random.Random, n_exceptions: int = 44) -> list[dict]:
    """A valid stream over the four sites: every lifecycle kind, follow-ups up to five
    days later (some stamped before the open), ties, duplicates; and, last, a touch
    that moves the data clock past the window so that most alerts are due."""
    events: list[dict] = []
    for i in range(n_exceptions):
        xid = f"X-{i}"
        t = pick(rng, W0, W1 - 4 * D)
        events.append(
            opened(
                xid,
                t,
                order_id=f"SO-{rng.randrange(14)}",
                severity=rng.choice(["low", "medium", "high", "critical"]),
                tier=rng.choice(["strategic", "key", "standard"]),
                value=rng.randrange(10_000, 500_000) / 100,
                currency=rng.choice(["USD", "EUR"]),
                site=SITES[i % len(SITES)],
                origin=rng.choice(["ATL", "BER"]),
                carrier=rng.choice(["ACME", "ZIP", None]),
                category=rng.choice(["inventory_shortfall", "carrier_failure", "credit_hold"]),
                source_system=rng.choice(["WMS", "ERP"]),
                **(
                    {"sla_target_hours": rng.choice([0.5, 2.5, 30.0])} if rng.random() < 0.2 else {}
                ),
            )
        )
        for _ in range(rng.randrange(0, 9)):
            at = pick(rng, t - 1.5 * H, t + 5 * D)
            kind = rng.choice(KINDS)
            extra: dict[str, object] = {}
            if kind == "touched":
                extra["action"] = "call"
            elif kind == "assigned":
                extra["owner_team"] = rng.choice(["alpha", "beta"])
            elif kind == "escalated":
                extra["level"] = rng.randrange(1, 4)
            elif kind == "paused":
                extra["reason"] = "waiting_on_customer"
            elif kind == "resolved":
                extra["resolution_code"] = "fixed"
            events.append(ev(f"exception.{kind}", xid, at, human=rng.random() < 0.7, **extra))
            if rng.random() < 0.04:
                events.append(dict(events[-1]))  # a duplicate
    events.append(ev("exception.touched", "X-0", W1 + 4 * D, human=False, action="ping"))
    return events


# --- comparing with the reference ------------------------------------------------------


def same(got: object, want: object) -> bool:
    if want is None or got is None:
        return got is None and want is None
    if isinstance(want, str):
        return got == want
    return got == pytest.approx(want, rel=1e-9, abs=1e-9)


def kpi_rows(
    con: duckdb.DuckDBPyConnection, t: datetime, start: datetime, by: str | None, where: Where
) -> dict[str, dict]:
    """``metrics.query.compute`` keyed by group ('all' without ``by``)."""
    win = window(con, t, start)
    assert win is not None
    rows = compute(con, win, by=by, where=where).to_dicts()
    return {("all" if by is None else r.pop(by)): r for r in rows}


def check_kpis(
    con: duckdb.DuckDBPyConnection,
    snap: Snapshot,
    by: str | None,
    where: Where,
    got: dict[str, dict] | None = None,
) -> int:
    """Every KPI of every group against the reference (``got``: rows computed already)."""
    ctx = f"T={snap.t} from={snap.start} by={by} where={where}"
    if got is None:
        got = kpi_rows(con, snap.t, snap.start, by, where)
    want = snap.compute(by, where)
    assert set(got) == set(want), ctx
    n = 0
    for g, w in want.items():
        assert set(got[g]) == set(w), (ctx, g)
        for k, v in w.items():
            assert same(got[g][k], v), (ctx, g, k, got[g][k], v)
            n += 1
    return n


def check_bottlenecks(con: duckdb.DuckDBPyConnection, snap: Snapshot, by: str, where: Where) -> int:
    ctx = f"T={snap.t} from={snap.start} by={by} where={where}"
    win = window(con, snap.t, snap.start)
    assert win is not None
    rows = bottlenecks(con, win, by, where=where).to_dicts()
    want = snap.bottlenecks(by, where)
    assert [r[by] for r in rows] == [w[by] for w in want], ctx
    n = 0
    for r, w in zip(rows, want, strict=True):
        for k, v in w.items():
            assert same(r[k], v), (ctx, r[by], k, r[k], v)
            n += 1
    return n


def reference_alerts(events: list[dict], config: ref_sla.SlaConfig) -> list[tuple]:
    engine = ref_sla.replay_alerts([dict(e) for e in events], config=config)
    return sorted(tuple(r[f] for f in ALERT_COLUMNS) for r in engine.table())


def as_of_times(rng: random.Random) -> list[datetime]:
    """As-of times inside and outside working hours of each calendar."""
    inside = [e for e in EDGES if W0 + D <= e <= W1]
    return [
        rng.choice(inside),  # exactly where working time starts or ends
        rng.choice(inside) + timedelta(seconds=rng.choice([-1, 1])),
        Z(10, 25, 1, 30),  # Sun 02:30 CET after the Berlin change, inside eu_night's 00-04
        Z(10, 27, 3),  # Tue 04:00 CET: the eu_night holiday (closed), 23:00 EDT (closed)
        Z(10, 31, 16),  # Sat noon EDT, Sat 17:00 CET, Sat 21:30 IST: all closed
        Z(11, 1, 6, 30),  # Sun 01:30 EST, the second 01:30: inside us_east's Sunday range
        Z(11, 2, 15),  # Mon 10:00 EST (open), Kolkata holiday, Berlin 16:00 (closed)
        W0 + timedelta(minutes=rng.randrange(int((W1 - W0) / timedelta(minutes=1)))),
    ]


def _where(rng: random.Random, snap: Snapshot) -> Where:
    """A filter on a set of sites (mixing calendars) and maybe one more dimension."""
    where: Where = {"site": rng.sample([*SITES, "DC-NONE"], k=rng.choice([1, 2, 3]))}
    if rng.random() < 0.5:
        d = rng.choice([x for x in DIMENSIONS if x != "site"])
        where[d] = rng.sample(sorted(snap.exception_values(d)) or ["none"], k=1)
    return where


@pytest.fixture(scope="module")
def config_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "calendars.toml"
    path.write_text(CONFIG)
    return path


def received() -> datetime:
    """The receive clock of every ingest here (events more than 7 days after it are
    rejected as future timestamps)."""
    return datetime(2027, 1, 1, tzinfo=UTC)


def _cli_ingest(cfg: Path, events: list[dict], tmp: Path, name: str) -> Path:
    """``fpi --config CFG ingest`` (receive clock: :func:`received`)."""
    src = write_jsonl(tmp / f"{name}.jsonl", events)
    db = tmp / f"{name}.duckdb"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli, "system_clock", received)
        assert main(["--config", str(cfg), "ingest", str(src), "--db", str(db), "--quiet"]) == 0
    return db


@pytest.mark.parametrize("seed", [3, 11, 2026])
def test_kpis_bottlenecks_and_alerts_match_the_references_on_calendars(
    tmp_path: Path, config_file: Path, seed: int
) -> None:
    rng = random.Random(seed)
    arrival = calendar_stream(rng)
    rng.shuffle(arrival)  # late events, held follow-ups, a data clock that jumps
    db = _cli_ingest(config_file, arrival, tmp_path, "cal")
    wall = tmp_path / "wall.duckdb"  # the same stream, every site 24x7
    ingest([write_jsonl(tmp_path / "wall.jsonl", arrival)], wall, load_settings(), received)
    compared = 0
    sla_moved = 0
    with open_read(db) as con, open_read(wall) as wcon:
        for i, t in enumerate(as_of_times(rng)):
            start = t - rng.choice([12 * H, 2 * D, 7 * D, 30 * D])
            snap = reference.snapshot(arrival, t, start, REF_CONFIG)
            compared += check_kpis(con, snap, None, {})
            by_site = kpi_rows(con, t, start, "site", {})
            compared += check_kpis(con, snap, "site", {}, by_site)
            by, where = (
                (DIMENSIONS[i % len(DIMENSIONS)], {}) if i % 2 else (None, _where(rng, snap))
            )
            compared += check_kpis(con, snap, by, where)
            if i % 2:
                compared += check_bottlenecks(con, snap, "site", {})
            else:
                compared += check_bottlenecks(con, snap, rng.choice(DIMENSIONS), _where(rng, snap))
            # the wall-clock KPIs do not depend on the calendars; the SLA ones do
            wall_site = kpi_rows(wcon, t, start, "site", {})
            assert set(wall_site) == set(by_site)
            for site, c in by_site.items():
                w = wall_site[site]
                for k in c:
                    if k not in SLA_KPIS:
                        assert same(c[k], w[k]), (t, site, k, c[k], w[k])
                if site == "DC-DAL":  # 24x7 in both
                    assert all(same(c[k], w[k]) for k in SLA_KPIS), (t, c, w)
                sla_moved += any(not same(c[k], w[k]) for k in SLA_KPIS)
        # the data clock (the default as-of time): the last touch, far after the window
        win = window(con)
        assert win is not None and win.as_of == W1 + 4 * D
        compared += check_kpis(
            con, reference.snapshot(arrival, win.as_of, win.start, REF_CONFIG), "site", {}
        )
        # kpis.md's consistency rule, as of the data clock
        breached_open = kpis(con)["breached_open"][0]
        (standing,) = con.execute(
            "SELECT count(*) FROM sla_alerts a JOIN exceptions e USING (exception_id) "
            "WHERE a.kind = 'breached' AND a.retracted_at IS NULL "
            "AND e.status IN ('open', 'paused') AND a.due_at < $t",
            {"t": win.as_of},
        ).fetchall()[0]
        assert breached_open == standing
    assert compared > 1000
    assert sla_moved > 0  # the calendars changed some SLA figure: the stream exercises them
    # alerts: one by one as a replay, whatever the chunking
    want = reference_alerts(arrival, REF_CONFIG)
    assert len(want) >= 20 and any(r[6] is not None for r in want)  # raises and retractions
    assert alert_rows(db) == want
    chunked = tmp_path / "chunked.duckdb"
    src = tmp_path / "cal.jsonl"
    ingest([src], chunked, load_settings(config_file), received, chunk_lines=5)
    assert alert_rows(chunked) == want
    # and the calendars moved alerts: 24x7 due times differ
    assert reference_alerts(arrival, ref_sla.SlaConfig()) != want


def test_a_changed_calendar_applies_to_the_whole_history(tmp_path: Path, config_file: Path) -> None:
    """kpis.md: "a changed calendar applies to the whole history" — after ``fpi recompute``
    with the changed configuration every SLA figure and every standing alert follows it;
    no alert row is deleted."""
    rng = random.Random(7)
    arrival = calendar_stream(rng, n_exceptions=32)
    rng.shuffle(arrival)
    db = _cli_ingest(config_file, arrival, tmp_path, "cal")
    before = alert_rows(db)
    changed = CONFIG.replace('wed = "08:00-12:00,13:00-18:00"', 'wed = "08:00-18:00"').replace(
        'holidays = ["2026-10-27"]', 'holidays = ["2026-10-28"]'
    )
    assert changed.count("holidays") == CONFIG.count("holidays") and changed != CONFIG
    new_cfg = tmp_path / "changed.toml"
    new_cfg.write_text(changed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(cli, "system_clock", received)
        assert main(["--config", str(new_cfg), "recompute", "--db", str(db), "--quiet"]) == 0
    new_ref = ref_sla.load_sla_config(changed)
    with open_read(db) as con:
        for t in (Z(10, 28, 14), Z(10, 29, 3), Z(11, 3, 13)):
            snap = reference.snapshot(arrival, t, t - 7 * D, new_ref)
            check_kpis(con, snap, "site", {})
            check_bottlenecks(con, snap, "site", {})
    after = alert_rows(db)
    assert {r[0] for r in before} <= {r[0] for r in after}  # nothing deleted
    standing = {(r[1], r[2], r[4]) for r in after if r[6] is None}
    want = {(r[1], r[2], r[4]) for r in reference_alerts(arrival, new_ref) if r[6] is None}
    assert standing == want
    old = {(r[1], r[2], r[4]) for r in reference_alerts(arrival, REF_CONFIG) if r[6] is None}
    assert want != old  # the change moved some due_at


# --- hand-computed: a holiday and the US autumn change ---------------------------------


@pytest.fixture(scope="module")
def dst_db(tmp_path_factory: pytest.TempPathFactory, config_file: Path) -> tuple[Path, list[dict]]:
    crit = dict(severity="critical", tier="strategic", order_id="SO-D")  # target 2 h
    events = [
        # Thu 10-29 17:00 EDT: 1 h to 18:00; Fri 10-30 a holiday; the weekend closed
        # until Sun 11-01 01:00 EDT (05:00Z), whose range runs to 04:00 EST (09:00Z)
        opened("D-ATL", Z(10, 29, 21), site="DC-ATL", **crit),
        opened("D-DAL", Z(10, 29, 21), site="DC-DAL", **crit),  # the same, 24x7
        ev("exception.touched", "D-ATL", Z(11, 2, 12), action="call", human=False),
    ]
    tmp = tmp_path_factory.mktemp("dst")
    return _cli_ingest(config_file, events, tmp, "dst"), events


@pytest.mark.parametrize(
    ("t", "active_h", "at_risk", "breached", "overrun_h"),
    [
        (Z(10, 29, 22), 1.0, 0, 0, 0.0),  # Thu 18:00 EDT: the first hour, then closed
        (Z(10, 31, 16), 1.0, 0, 0, 0.0),  # Fri holiday and Saturday: still 1 h
        (Z(11, 1, 5, 36), 1.6, 1, 0, 0.0),  # Sun 01:36 EDT: 1 h + 36 min = 0.8 x 2 h
        (Z(11, 1, 6), 2.0, 1, 0, 0.0),  # Sun 01:00 EST (the repeat): exactly 2 h, not > 2
        (Z(11, 1, 6, 30), 2.5, 0, 1, 0.5),  # the second 01:30: breached
        (Z(11, 2, 12), 5.0, 0, 1, 3.0),  # Mon 07:00 EST: 1 h + 4 h (05:00Z-09:00Z)
    ],
)
def test_a_holiday_and_the_autumn_change_by_hand(
    dst_db: tuple[Path, list[dict]],
    t: datetime,
    active_h: float,
    at_risk: int,
    breached: int,
    overrun_h: float,
) -> None:
    db, events = dst_db
    with open_read(db) as con:
        state = exception_state(con, "D-ATL", t)
        assert state is not None
        assert state["active_hours"] == pytest.approx(active_h)
        assert state["age_hours"] == pytest.approx((t - Z(10, 29, 21)) / H)  # wall clock
        win = window(con, t, t - 7 * D)
        assert win is not None
        row = compute(con, win, where={"site": ["DC-ATL"]}).row(0, named=True)
        assert (row["at_risk_open"], row["breached_open"]) == (at_risk, breached)
        assert row["sla_overrun_hours"] == pytest.approx(overrun_h)
        dal = exception_state(con, "D-DAL", t)
        assert dal is not None and dal["active_hours"] == pytest.approx((t - Z(10, 29, 21)) / H)
        check_kpis(con, reference.snapshot(events, t, t - 7 * D, REF_CONFIG), "site", {})


def test_alerts_of_the_holiday_and_autumn_change_case(dst_db: tuple[Path, list[dict]]) -> None:
    db, events = dst_db
    got = {(r[1], r[2]): (r[4], r[5]) for r in alert_rows(db)}
    # D-ATL: at risk at 1.6 h = Sun 05:36Z, breach at 2 h = 06:00Z (inside working time);
    # D-DAL (24x7): 22:36Z and 23:00Z on Thursday; all raised at the data clock 11-02 12:00Z
    raised = Z(11, 2, 12)
    assert got == {
        ("D-ATL", "at_risk"): (Z(11, 1, 5, 36), raised),
        ("D-ATL", "breached"): (Z(11, 1, 6), raised),
        ("D-DAL", "at_risk"): (Z(10, 29, 22, 36), raised),
        ("D-DAL", "breached"): (Z(10, 29, 23), raised),
    }
    assert alert_rows(db) == reference_alerts(events, REF_CONFIG)


# --- hand-computed: the clock reaching a threshold exactly as working time ends --------


def _edge_events() -> list[dict]:
    """us_east, 2 h targets (at risk at 1.6 h); Fri 10-23 16:00 EDT = 20:00Z ends the
    working week until Sun 10-25 01:00 EDT = 05:00Z (the Sunday range)."""
    crit = dict(severity="critical", tier="strategic", site="DC-ATL")
    pause = dict(reason="waiting_on_customer")
    return [
        opened("A", Z(10, 23, 18, 24), **crit),  # 1.6 h exactly at 20:00Z
        opened("B", Z(10, 23, 18, 24), **crit),  # the same, paused at 20:00Z, resumed Sat
        ev("exception.paused", "B", Z(10, 23, 20), **pause),
        ev("exception.resumed", "B", Z(10, 24, 14)),
        opened("C", Z(10, 23, 18), **crit),  # 2 h exactly at 20:00Z
        opened("E", Z(10, 23, 18), **crit),  # the same, paused at 20:00Z, resumed Sat
        ev("exception.paused", "E", Z(10, 23, 20), **pause),
        ev("exception.resumed", "E", Z(10, 24, 14)),
        ev("exception.touched", "A", Z(10, 28), action="call"),  # the data clock: 10-28
    ]


@pytest.fixture(scope="module")
def edge_db(tmp_path_factory: pytest.TempPathFactory, config_file: Path) -> Path:
    return _cli_ingest(config_file, _edge_events(), tmp_path_factory.mktemp("edge"), "edge")


def test_thresholds_reached_as_working_time_ends_by_hand(edge_db: Path) -> None:
    due = {(r[1], r[2]): (r[4], r[5]) for r in alert_rows(edge_db)}
    assert due == {
        # at risk as working time ends: due at that end, raised when B's pause arrives
        ("A", "at_risk"): (Z(10, 23, 20), Z(10, 23, 20)),
        # breach: 0.4 h more from Sun 01:00 EDT (05:00Z)
        ("A", "breached"): (Z(10, 25, 5, 24), Z(10, 28)),
        # reached 1.6 h as it was paused: not open then, due at the resume (Saturday)
        ("B", "at_risk"): (Z(10, 24, 14), Z(10, 24, 14)),
        ("B", "breached"): (Z(10, 25, 5, 24), Z(10, 28)),
        # 2 h exactly as working time ends: breach due when it starts again (kpis.md);
        # the at-risk alerts at 1.6 h (19:36Z) are raised by the clock of Sat 14:00Z
        ("C", "at_risk"): (Z(10, 23, 19, 36), Z(10, 24, 14)),
        ("C", "breached"): (Z(10, 25, 5), Z(10, 28)),
        ("E", "at_risk"): (Z(10, 23, 19, 36), Z(10, 24, 14)),
        ("E", "breached"): (Z(10, 25, 5), Z(10, 28)),  # paused at 2 h, resumed Sat
    }
    assert alert_rows(edge_db) == reference_alerts(_edge_events(), REF_CONFIG)
    with open_read(edge_db) as con:
        for t, at_risk, breached, overrun_h in [
            (Z(10, 23, 20), 4, 0, 0.0),  # A, B 1.6 h; C, E 2 h, not > 2
            (Z(10, 24, 12), 4, 0, 0.0),  # Saturday: nothing moves (B, E paused count too)
            (Z(10, 25, 5), 4, 0, 0.0),  # Sun 01:00 EDT: working time starts again
            (Z(10, 25, 5, 12), 2, 2, 0.4),  # A, B 1.8 h; C, E 2.2 h
            (Z(10, 25, 5, 30), 0, 4, 1.2),  # A, B 2.1 h; C, E 2.5 h: 0.1 + 0.1 + 0.5 + 0.5
        ]:
            row = compute(con, window(con, t)).row(0, named=True)  # type: ignore[arg-type]
            got = (row["at_risk_open"], row["breached_open"], row["sla_overrun_hours"])
            assert got == (at_risk, breached, pytest.approx(overrun_h)), t


# --- the worked example's calendar case (kpis.md) --------------------------------------

EXAMPLE_CONFIG = """
[calendars.ny]
timezone = "America/New_York"
mon = "08:00-18:00"
tue = "08:00-18:00"
wed = "08:00-18:00"
thu = "08:00-18:00"
fri = "08:00-18:00"

[site_calendars]
DC-ATL = "ny"
"""


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The worked example at a New York site (05-04 is a Monday; 08:00-18:00 EDT =
    12:00-22:00Z), as given and with a late touch at 05-05 17:30Z moving the data clock."""
    tmp = tmp_path_factory.mktemp("example")
    cfg = tmp / "ny.toml"
    cfg.write_text(EXAMPLE_CONFIG)
    events = worked_example()
    late = ev("exception.touched", "X-1", Z(5, 5, 17, 30), action="call")
    return _cli_ingest(cfg, events, tmp, "x"), _cli_ingest(cfg, [*events, late], tmp, "x-late")


def test_worked_example_calendar_case_kpis(example: tuple[Path, Path]) -> None:
    db, _ = example
    with open_read(db) as con:
        # 05-04 12:00Z: paused after 08:00-10:00Z, all before opening time: 0 h; age 4 h
        s = exception_state(con, "X-1", Z(5, 4, 12))
        assert s is not None and (s["status"], s["active_hours"], s["age_hours"]) == (
            "paused",
            0,
            4,
        )
        row = compute(con, window(con, Z(5, 4, 12))).row(0, named=True)  # type: ignore[arg-type]
        assert (row["aging_4_24h"], row["at_risk_open"], row["breached_open"]) == (1, 0, 0)
        # resolved at 18:00Z: open 14:00-18:00Z, all working time: 4 h, met SLA (4 <= 9);
        # resolution time stays wall-clock: 10 h
        s = exception_state(con, "X-1", Z(5, 4, 20))
        assert s is not None and (s["status"], s["active_hours"]) == ("resolved", 4)
        row = compute(con, window(con, Z(5, 4, 20), Z(5, 4))).row(0, named=True)  # type: ignore[arg-type]
        assert (row["resolved"], row["sla_adherence"], row["mttr_hours"]) == (1, 1.0, 10.0)
        assert row["p50_resolution_hours"] == 10.0
        # 05-05 10:00Z: reopened at 08:00Z, before opening time: still 4 h, not at risk
        # (24x7 it would be 8 h, at risk); age 26 h
        s = exception_state(con, "X-1", Z(5, 5, 10))
        assert s is not None and (s["active_hours"], s["age_hours"]) == (4, 26)
        row = compute(con, window(con, Z(5, 5, 10))).row(0, named=True)  # type: ignore[arg-type]
        assert (row["aging_1_3d"], row["at_risk_open"], row["breached_open"]) == (1, 0, 0)
        # at risk from 15:12Z (7.2 h), breached after 17:00Z (9 h)
        for t, at_risk, breached in [
            (Z(5, 5, 15, 11), 0, 0),
            (Z(5, 5, 15, 12), 1, 0),
            (Z(5, 5, 17), 1, 0),
            (Z(5, 5, 17, 0, 1), 0, 1),
        ]:
            row = compute(con, window(con, t)).row(0, named=True)  # type: ignore[arg-type]
            assert (row["at_risk_open"], row["breached_open"]) == (at_risk, breached), t
        # overrun: 18:00Z 4 + 6 = 10 h (1 h over); after 22:00Z 4 + 10 = 14 h all night
        for t, over in [(Z(5, 5, 18), 1.0), (Z(5, 5, 23), 5.0), (Z(5, 6, 11), 5.0)]:
            row = compute(con, window(con, t)).row(0, named=True)  # type: ignore[arg-type]
            assert row["sla_overrun_hours"] == pytest.approx(over), t


def test_worked_example_calendar_case_alerts(example: tuple[Path, Path]) -> None:
    db, late_db = example
    assert alert_rows(db) == []  # the data clock is 05-05 09:00Z: nothing due yet
    rows = alert_rows(late_db)
    assert [(r[0], r[4], r[5], r[6]) for r in rows] == [
        ("X-1:at_risk:1", Z(5, 5, 15, 12), Z(5, 5, 17, 30), None),
        ("X-1:breached:1", Z(5, 5, 17), Z(5, 5, 17, 30), None),
    ]
    events = [*worked_example(), ev("exception.touched", "X-1", Z(5, 5, 17, 30), action="call")]
    assert rows == reference_alerts(events, ref_sla.load_sla_config(EXAMPLE_CONFIG))


def test_a_bad_calendar_stops_the_command_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text('[calendars.x]\ntimezone = "America/New_York"\nmon = "22:00-06:00"\n')
    src = write_jsonl(tmp_path / "x.jsonl", worked_example())
    db = tmp_path / "x.duckdb"
    assert main(["--config", str(cfg), "ingest", str(src), "--db", str(db), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("fpi: error: bad configuration at calendars.x.mon: ")
    assert err.count("\n") == 1
    assert not db.exists()

"""One exception's life: its accepted events in applied order, its state
intervals, and the events still held for it."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from core.db import fetch_pl
from core.timeutil import from_us

from .sla_clock import calendars, has_clock

_TIMELINE = """
SELECT coalesce(effective_at, occurred_at) AS applied_at, occurred_at, event_type,
       replace(event_type, 'exception.', '') AS kind, actor_id, actor_kind, source_system,
       owner_team, escalation_level, detail, event_id
FROM exception_events
WHERE exception_id = $xid AND occurred_at <= $t
ORDER BY applied_at, occurred_at, arrival_seq
"""


def timeline(con: duckdb.DuckDBPyConnection, exception_id: str, as_of: datetime) -> pl.DataFrame:
    """The accepted events of one exception with ``occurred_at <= as_of``, in applied order.

    ``applied_at`` is when the event took effect (its ``occurred_at``, or the opened
    time for an event stamped before the exception opened — events.md);
    ``kind`` is the event type without its ``exception.`` prefix; ``detail``
    is the event's main field (category, action, reason, resolution code …).
    """
    return fetch_pl(con, _TIMELINE, {"xid": exception_id, "t": as_of})


_INTERVALS = """
SELECT valid_from AS start, least(coalesce(valid_to, $t), $t) AS "end", status, owner_team,
       manual_touches, escalation_level, reopen_count,
       active_seconds / 3600.0 AS active_hours_at_start
FROM exception_versions
WHERE exception_id = $xid AND valid_from <= $t
ORDER BY valid_from
"""


def status_intervals(
    con: duckdb.DuckDBPyConnection, exception_id: str, as_of: datetime
) -> pl.DataFrame:
    """The state versions of one exception up to ``as_of`` (the last one ends at ``as_of``).

    One row per interval between changes: status, owner team, touches so far,
    escalation level, reopens and SLA-clock hours at its start.
    """
    return fetch_pl(con, _INTERVALS, {"xid": exception_id, "t": as_of})


def pending_for(con: duckdb.DuckDBPyConnection, exception_id: str) -> pl.DataFrame:
    """Events held for ``exception_id`` (waiting for its ``exception.opened``)."""
    return fetch_pl(
        con,
        "SELECT occurred_at, event_type, event_id, source, source_offset, received_at "
        "FROM pending_events WHERE exception_id = $xid ORDER BY occurred_at, arrival_seq",
        {"xid": exception_id},
    )


_CLOCK = """
SELECT e.site, e.sla_calendar, e.sla_target_hours, e.at_risk_due_at, e.breach_due_at,
       epoch_us(v.valid_from) AS start_us,
       epoch_us(least(coalesce(v.valid_to, $t), $t)) AS end_us, v.status,
       round(v.active_seconds * 1e6)::BIGINT AS active_us
FROM exception_versions v JOIN exceptions e USING (exception_id)
WHERE v.exception_id = $xid AND v.valid_from <= $t
ORDER BY v.valid_from
"""


def sla_clock(
    con: duckdb.DuckDBPyConnection, exception_id: str, as_of: datetime
) -> dict[str, object] | None:
    """The working-time SLA clock of one exception up to ``as_of`` (None: not opened).

    Keys: ``calendar`` (the site's calendar name, None = 24×7), ``calendar_hours``
    (its weekly hours in words, None for 24×7), ``target_hours``, ``active_hours``
    (the clock at ``as_of``), ``at_risk_due_at`` / ``breach_due_at`` (the deadlines
    derived from all stored events, event time), and ``points``: a frame of
    ``at`` / ``active_hours`` at every instant the clock's slope changes (a
    status change, working time starting or ending) — drawn as straight lines
    between them, it is the clock.
    """
    if not has_clock(con):  # a database of an earlier release, not upgraded
        return None
    rows = fetch_pl(con, _CLOCK, {"xid": exception_id, "t": as_of}).to_dicts()
    if not rows:
        return None
    first = rows[0]
    name = first["sla_calendar"]
    cals = calendars(con)
    clock = cals.clock(name if name in cals.calendars else None)
    at: list[int] = []
    hours: list[float] = []
    active = 0
    for r in rows:
        start, end, active = int(r["start_us"]), int(r["end_us"]), int(r["active_us"])
        at.append(start)
        hours.append(active / 3.6e9)
        if r["status"] == "open":
            base = clock.cum_us(start)
            for t in [*clock.edges_us(start, end), end]:
                at.append(t)
                hours.append((active + clock.cum_us(t) - base) / 3.6e9)
            active += clock.cum_us(end) - base
    points = pl.DataFrame(
        {"at": [from_us(t) for t in at], "active_hours": hours},
        schema={"at": pl.Datetime("us", "UTC"), "active_hours": pl.Float64},
    )
    cal = cals.calendars.get(name) if name is not None else None
    return {
        "calendar": name,
        "calendar_hours": None if cal is None else cal.describe(),
        "target_hours": float(first["sla_target_hours"]),
        "active_hours": active / 3.6e9,
        "at_risk_due_at": first["at_risk_due_at"],
        "breach_due_at": first["breach_due_at"],
        "points": points.unique("at", keep="last", maintain_order=True),
    }


def site_calendars(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Which working calendar each site uses (as the database's figures were
    computed): ``site``, ``calendar`` (``24x7`` when none), ``hours`` (in words),
    for every site with an exception, sorted by site; no rows when every site
    runs 24×7."""
    cals = calendars(con)
    sites = [str(r[0]) for r in con.execute("SELECT DISTINCT site FROM exceptions").fetchall()]
    sites = sites if cals.calendars else []
    names = {s: cals.calendar_name(s) for s in sorted(set(sites) | set(cals.site_calendars))}
    return pl.DataFrame(
        {
            "site": list(names),
            "calendar": [n or "24x7" for n in names.values()],
            "hours": [
                "every hour of every day" if n is None else cals.calendars[n].describe()
                for n in names.values()
            ],
        },
        schema={"site": pl.String, "calendar": pl.String, "hours": pl.String},
    )

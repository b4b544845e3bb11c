"""One exception's life: its accepted events in applied order, its state
intervals, and the events still held for it."""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from core.db import fetch_pl

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

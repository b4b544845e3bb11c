"""Data quality (kpis.md): integration failures, kept apart from operational exceptions.

Totals — accepted, duplicate, rejected and pending events — and the samples
the Data quality page shows: rejected lines by reason, held events, duplicates.
"""

from __future__ import annotations

import duckdb
import polars as pl

from core.db import fetch_pl, quality_counts

from .catalog import names

QUALITY: list[str] = names("quality")
"""The data-quality KPIs, in catalog order."""


def quality(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Data-quality totals: accepted, duplicate, rejected, pending events (global)."""
    counts = quality_counts(con)
    return {name: counts[name] for name in QUALITY}


def rejected_by_reason(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Rejected lines per reason, most frequent first."""
    return fetch_pl(
        con,
        "SELECT reason, count(*) AS events FROM rejected_events GROUP BY reason "
        "ORDER BY events DESC, reason",
    )


_REJECTED = """
SELECT reason, detail, raw, source, source_offset, received_at FROM rejected_events
WHERE {cond}
QUALIFY row_number() OVER (PARTITION BY reason
                           ORDER BY received_at DESC, source DESC, source_offset DESC) <= $n
ORDER BY reason, received_at DESC, source_offset DESC
"""


def rejected_samples(
    con: duckdb.DuckDBPyConnection, *, reason: str | None = None, per_reason: int = 5
) -> pl.DataFrame:
    """The most recently received rejected lines, ``per_reason`` of each reason.

    Columns: reason, detail, raw (the line as received), source, source_offset,
    received_at. With ``reason`` only that reason.
    """
    params: dict[str, object] = {"n": per_reason}
    cond = "TRUE"
    if reason is not None:
        params["reason"] = reason
        cond = "reason = $reason"
    return fetch_pl(con, _REJECTED.format(cond=cond), params)


def pending_summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Held events per event type: count, distinct exceptions, oldest and newest event time."""
    return fetch_pl(
        con,
        "SELECT event_type, count(*) AS events, count(DISTINCT exception_id) AS exceptions, "
        "min(occurred_at) AS oldest, max(occurred_at) AS newest FROM pending_events "
        "GROUP BY event_type ORDER BY events DESC, event_type",
    )


def pending_sample(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pl.DataFrame:
    """The oldest held events (waiting for their ``exception.opened``)."""
    return fetch_pl(
        con,
        "SELECT exception_id, event_type, occurred_at, event_id, source, source_offset, "
        "received_at, payload FROM pending_events ORDER BY occurred_at, arrival_seq LIMIT $n",
        {"n": limit},
    )


def duplicate_sample(con: duckdb.DuckDBPyConnection, limit: int = 50) -> pl.DataFrame:
    """The most recently received duplicate lines (an ``event_id`` already accepted)."""
    return fetch_pl(
        con,
        "SELECT event_id, source, source_offset, received_at, raw FROM duplicate_events "
        "ORDER BY received_at DESC, source DESC, source_offset DESC LIMIT $n",
        {"n": limit},
    )


def accepted_by_type(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Accepted events per ``event_type``, most first; they add up to ``accepted_events``.

    ``exception_events`` holds every accepted event, order milestones included
    (``order_events`` repeats those with their order columns, so it is not added).
    """
    return fetch_pl(
        con,
        "SELECT event_type, count(*) AS events FROM exception_events "
        "GROUP BY event_type ORDER BY events DESC, event_type",
    )

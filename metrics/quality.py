"""Data quality (kpis.md): integration failures, kept apart from operational exceptions.

Totals — accepted, duplicate, rejected and pending events — and the samples
the Data quality page shows: rejected lines by reason, held events, duplicates.

By source system (:func:`by_source`, :func:`summary`): each count per
``source_system`` — an accepted event's own, and for a duplicate, rejected or
held line the line's own non-empty string ``source_system`` when it is a JSON
object with one, else ``(unknown)`` (stored by the writer; derived from the raw
line here for a database written before those columns existed) — with
``rejection_rate`` = rejected ÷ (accepted + duplicates + rejected + pending),
null when a source has no line.
"""

from __future__ import annotations

import duckdb
import polars as pl

from core.db import fetch_pl, quality_counts

from .catalog import names
from .flow_status import relation_columns

QUALITY: list[str] = names("quality")
"""The data-quality KPIs, in catalog order."""


def quality(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Data-quality totals: accepted, duplicate, rejected, pending events (global)."""
    counts = quality_counts(con)
    return {name: counts[name] for name in QUALITY}


UNKNOWN_SOURCE = "(unknown)"
"""The ``source_system`` of a line that does not name one (kpis.md, "Data quality")."""

RATE = "rejection_rate"
BY_SOURCE_COLUMNS: tuple[str, ...] = ("source_system", *QUALITY, RATE)
"""Columns of :func:`by_source` (and of :func:`summary` without ``source_system``)."""

_SOURCE_OF_LINE = """CASE WHEN json_valid({col}) AND json_type({col}) = 'OBJECT'
    AND json_type({col}, '$.source_system') = 'VARCHAR'
    AND json_extract_string({col}, '$.source_system') <> ''
    THEN json_extract_string({col}, '$.source_system') ELSE '(unknown)' END"""
"""SQL: the data-quality source system of a raw line (when the table has no column)."""

_LINE_TABLES: dict[str, tuple[str, str]] = {
    "duplicate_events": ("duplicate_events", "raw"),
    "rejected_events": ("rejected_events", "raw"),
    "pending_events": ("pending_events", "payload"),
}
"""Count -> (table of its lines, the column holding the line as received)."""


def _source_sql(con: duckdb.DuckDBPyConnection, table: str, raw: str) -> str:
    if "source_system" in relation_columns(con, table):
        return f"coalesce(nullif(source_system, ''), '{UNKNOWN_SOURCE}')"
    return _SOURCE_OF_LINE.format(col=raw)


def _with_rate(df: pl.DataFrame) -> pl.DataFrame:
    lines = sum((pl.col(n) for n in QUALITY), pl.lit(0, dtype=pl.Int64))
    return df.with_columns(
        pl.when(lines > 0)
        .then(pl.col("rejected_events") / lines)
        .otherwise(None)
        .cast(pl.Float64)
        .alias(RATE)
    )


def by_source(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The data-quality counts per source system, with ``rejection_rate``.

    One row per source system that has any line (columns
    :data:`BY_SOURCE_COLUMNS`), most rejected lines first, then by name; the
    rows add up to :func:`summary`. Global: the dashboard's filters do not apply.
    """
    parts = ["SELECT source_system AS src, 'accepted_events' AS k FROM exception_events"]
    for name, (table, raw) in _LINE_TABLES.items():
        # table and column names are constants of this module
        parts.append(f"SELECT {_source_sql(con, table, raw)} AS src, '{name}' AS k FROM {table}")  # noqa: S608
    counts = ", ".join(f"count(*) FILTER (WHERE k = '{n}')::BIGINT AS {n}" for n in QUALITY)
    sql = (
        f"SELECT coalesce(nullif(src, ''), '{UNKNOWN_SOURCE}') AS source_system, {counts} "  # noqa: S608
        f"FROM ({' UNION ALL '.join(parts)}) GROUP BY 1"
    )
    df = _with_rate(fetch_pl(con, sql))
    return df.select(BY_SOURCE_COLUMNS).sort(
        ["rejected_events", "source_system"], descending=[True, False]
    )


def summary(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The data-quality totals as one row: the counts and ``rejection_rate`` over every line."""
    totals = quality(con)
    df = pl.DataFrame({n: [totals[n]] for n in QUALITY}, schema={n: pl.Int64 for n in QUALITY})
    return _with_rate(df)


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

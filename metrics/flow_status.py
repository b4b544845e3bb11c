"""The writer's clock and heartbeat (``flow_clock``, one row ``name = 'flow'``).

``fpi ingest`` and ``fpi stream`` write the row with every commit: which
command wrote it (``writer``), the data clock of ``kpis.md`` it reached
(``data_clock``), its wall clock at that commit (``heartbeat_at``), whether a
live flow has read to the end of every partition (``caught_up``) and how far
behind it is (``lag``, ``detail``). Readers use it for the data clock
(:func:`metrics.query.data_clock`) and to say when the live flow was last seen.

A database written before the table existed (or a views file published by
such a release) has no ``flow_clock``: :func:`flow_status` is then None, as
for a database whose writer has not committed yet. Nothing here reads the
wall clock: "now" is passed in (:func:`is_stale`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb

from core import schema
from core.db import fetch_pl

FLOW_ROW = "flow"
"""The ``name`` of the one row of ``flow_clock``."""
STREAM_WRITER = "stream"
"""``writer`` of a live flow (``fpi stream``): its heartbeat can go stale."""
INGEST_WRITER = "ingest"
"""``writer`` of a file ingest (``fpi ingest``): it ends, so it has no heartbeat to watch."""


def relation_columns(con: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    """The columns of the table or view ``name`` of the default catalog's ``main``
    schema (empty when there is none): lets a reader work on a database written by
    an older release, whose tables lack newer columns or tables."""
    rows = con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
        "AND schema_name = 'main' AND table_name = ?",
        [name],
    ).fetchall()
    return {str(r[0]) for r in rows}


@dataclass(frozen=True, slots=True)
class FlowStatus:
    """The ``flow_clock`` row (see the module docstring); times aware UTC."""

    writer: str
    data_clock: datetime | None
    heartbeat_at: datetime
    caught_up: bool
    lag: int | None
    detail: str | None

    @property
    def is_live(self) -> bool:
        """Written by a live flow (``fpi stream``), whose heartbeat is watched."""
        return self.writer == STREAM_WRITER

    def heartbeat_age_seconds(self, now: datetime) -> float:
        """Seconds from the last heartbeat to ``now`` (negative if ``now`` is before it)."""
        return (now - self.heartbeat_at).total_seconds()

    def is_stale(self, now: datetime, stale_after_seconds: float) -> bool:
        """A live flow whose last heartbeat is more than ``stale_after_seconds`` before
        ``now`` (a file ingest is never stale: it is not expected to beat)."""
        return self.is_live and self.heartbeat_age_seconds(now) > stale_after_seconds


_COLUMNS = ("writer", "data_clock", "heartbeat_at", "caught_up", "lag", "detail")


def flow_status(con: duckdb.DuckDBPyConnection) -> FlowStatus | None:
    """The ``flow_clock`` row, or None when the table is missing (an older database)
    or holds no row yet."""
    table = schema.FLOW_CLOCK.name
    have = relation_columns(con, table)
    if not set(_COLUMNS) | {"name"} <= have:
        return None
    # the table name and columns are constants of this module and core.schema
    df = fetch_pl(
        con,
        f"SELECT {', '.join(_COLUMNS)} FROM {table} WHERE name = $name",  # noqa: S608
        {"name": FLOW_ROW},
    )
    if df.height == 0:
        return None
    row = df.row(0, named=True)
    if row["heartbeat_at"] is None:  # pragma: no cover - NOT NULL in the schema
        return None
    clock = row["data_clock"]
    return FlowStatus(
        writer=str(row["writer"]),
        data_clock=None if clock is None else clock.astimezone(UTC),
        heartbeat_at=row["heartbeat_at"].astimezone(UTC),
        caught_up=bool(row["caught_up"]),
        lag=None if row["lag"] is None else int(row["lag"]),
        detail=row["detail"],
    )

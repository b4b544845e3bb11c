"""The DuckDB database: schema, and the one-writer/many-readers connection rules.

DuckDB lets one process open a file read-write *or* many processes open it
read-only, never both at once. So:

* the writer (the dataflow's sink) opens the file per micro-batch, writes it in
  one transaction and closes it; when a reader holds the file it waits and
  retries, buffering, never dropping;
* readers (``fpi kpis``, the dashboard) open read-only, query, close, and retry
  briefly on a lock error, so no lock error reaches a user.

Stable tables (``interface.md``): ``exceptions``, ``exception_events``,
``rejected_events``. The others are documented in the README;
``order_state`` in ``core.order_state``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from .order_state import REBUILD_SQL

SCHEMA_VERSION = "1"

DDL: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS exception_events (
        event_id VARCHAR PRIMARY KEY,
        event_type VARCHAR NOT NULL,
        occurred_at TIMESTAMPTZ NOT NULL,
        effective_at TIMESTAMPTZ,
        exception_id VARCHAR,
        order_id VARCHAR,
        source_system VARCHAR NOT NULL,
        actor_id VARCHAR NOT NULL,
        actor_kind VARCHAR NOT NULL,
        schema_version VARCHAR NOT NULL,
        owner_team VARCHAR,
        escalation_level INTEGER,
        detail VARCHAR,
        source VARCHAR NOT NULL,
        source_offset BIGINT NOT NULL,
        arrival_seq BIGINT NOT NULL,
        payload VARCHAR NOT NULL,
        ingested_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS exceptions (
        exception_id VARCHAR PRIMARY KEY,
        order_id VARCHAR NOT NULL,
        category VARCHAR NOT NULL,
        severity VARCHAR NOT NULL,
        site VARCHAR NOT NULL,
        origin VARCHAR NOT NULL,
        destination VARCHAR NOT NULL,
        lane VARCHAR NOT NULL,
        carrier VARCHAR NOT NULL,
        customer_tier VARCHAR NOT NULL,
        customer_id VARCHAR,
        source_system VARCHAR NOT NULL,
        order_value DOUBLE NOT NULL,
        currency VARCHAR NOT NULL,
        order_value_reporting DOUBLE NOT NULL,
        sla_target_hours DOUBLE NOT NULL,
        sla_target_source VARCHAR NOT NULL,
        opened_at TIMESTAMPTZ NOT NULL,
        opened_event_id VARCHAR NOT NULL,
        opened_seq BIGINT NOT NULL,
        status VARCHAR NOT NULL,
        status_since TIMESTAMPTZ NOT NULL,
        active_seconds_at_status DOUBLE NOT NULL,
        owner_team VARCHAR NOT NULL,
        manual_touches INTEGER NOT NULL,
        escalation_level INTEGER NOT NULL,
        reopen_count INTEGER NOT NULL,
        resolved_at TIMESTAMPTZ,
        resolution_hours DOUBLE,
        resolved_by_kind VARCHAR,
        met_sla BOOLEAN,
        first_touch_resolution BOOLEAN,
        auto_resolved BOOLEAN,
        cancelled_at TIMESTAMPTZ,
        last_event_at TIMESTAMPTZ NOT NULL,
        event_count INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS exception_versions (
        exception_id VARCHAR NOT NULL,
        valid_from TIMESTAMPTZ NOT NULL,
        valid_to TIMESTAMPTZ,
        status VARCHAR NOT NULL,
        owner_team VARCHAR NOT NULL,
        manual_touches INTEGER NOT NULL,
        escalation_level INTEGER NOT NULL,
        reopen_count INTEGER NOT NULL,
        active_seconds DOUBLE NOT NULL,
        resolved_at TIMESTAMPTZ,
        resolved_by_kind VARCHAR,
        cancelled_at TIMESTAMPTZ
    )""",
    """CREATE TABLE IF NOT EXISTS order_events (
        event_id VARCHAR PRIMARY KEY,
        order_id VARCHAR NOT NULL,
        event_type VARCHAR NOT NULL,
        occurred_at TIMESTAMPTZ NOT NULL,
        arrival_seq BIGINT NOT NULL,
        source_system VARCHAR NOT NULL,
        site VARCHAR,
        origin VARCHAR,
        destination VARCHAR,
        lane VARCHAR,
        carrier VARCHAR,
        customer_tier VARCHAR,
        customer_id VARCHAR,
        order_value DOUBLE,
        currency VARCHAR,
        order_value_reporting DOUBLE,
        promised_delivery_at TIMESTAMPTZ,
        lines INTEGER,
        in_full BOOLEAN,
        invoice_id VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS rejected_events (
        source VARCHAR NOT NULL,
        source_offset BIGINT NOT NULL,
        raw VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        detail VARCHAR NOT NULL,
        event_id VARCHAR,
        event_type VARCHAR,
        received_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (source, source_offset)
    )""",
    """CREATE TABLE IF NOT EXISTS duplicate_events (
        source VARCHAR NOT NULL,
        source_offset BIGINT NOT NULL,
        event_id VARCHAR NOT NULL,
        raw VARCHAR NOT NULL,
        received_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (source, source_offset)
    )""",
    """CREATE TABLE IF NOT EXISTS pending_events (
        event_id VARCHAR PRIMARY KEY,
        exception_id VARCHAR NOT NULL,
        event_type VARCHAR NOT NULL,
        occurred_at TIMESTAMPTZ NOT NULL,
        source VARCHAR NOT NULL,
        source_offset BIGINT NOT NULL,
        arrival_seq BIGINT NOT NULL,
        payload VARCHAR NOT NULL,
        received_at TIMESTAMPTZ NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS ingest_runs (
        run_id BIGINT PRIMARY KEY,
        started_at TIMESTAMPTZ NOT NULL,
        finished_at TIMESTAMPTZ,
        inputs VARCHAR NOT NULL,
        lines_read BIGINT,
        status VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS fpi_meta (
        key VARCHAR PRIMARY KEY,
        value VARCHAR NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS order_state (
        order_id VARCHAR PRIMARY KEY,
        first_event_at TIMESTAMPTZ NOT NULL,
        last_event_at TIMESTAMPTZ NOT NULL,
        released_at TIMESTAMPTZ,
        release_at TIMESTAMPTZ,
        release_seq BIGINT,
        site VARCHAR,
        lane VARCHAR,
        carrier VARCHAR,
        customer_tier VARCHAR,
        source_system VARCHAR,
        promised_delivery_at TIMESTAMPTZ,
        delivered_at TIMESTAMPTZ,
        delivery_seq BIGINT,
        in_full BOOLEAN,
        ship_at TIMESTAMPTZ,
        ship_seq BIGINT,
        ship_carrier VARCHAR
    )""",
    """CREATE OR REPLACE VIEW orders AS
    WITH r AS (
        SELECT *, row_number() OVER (PARTITION BY order_id
                                     ORDER BY occurred_at DESC, arrival_seq DESC) AS rn
        FROM order_events WHERE event_type = 'order.released'
    ), agg AS (
        SELECT order_id,
               min(occurred_at) FILTER (event_type = 'order.released') AS released_at,
               max(occurred_at) FILTER (event_type = 'order.shipped') AS shipped_at,
               max(occurred_at) FILTER (event_type = 'order.delivered') AS delivered_at,
               arg_max(in_full, occurred_at) FILTER (event_type = 'order.delivered') AS in_full,
               max(occurred_at) FILTER (event_type = 'order.invoiced') AS invoiced_at,
               arg_max(carrier, occurred_at) FILTER (event_type = 'order.shipped'
                                                     AND carrier IS NOT NULL) AS shipped_carrier
        FROM order_events GROUP BY order_id
    )
    SELECT agg.order_id, r.site, r.origin, r.destination, r.lane,
           coalesce(r.carrier, agg.shipped_carrier, '(none)') AS carrier,
           r.customer_tier, r.customer_id, r.order_value, r.currency, r.order_value_reporting,
           r.promised_delivery_at, r.lines, agg.released_at, agg.shipped_at, agg.delivered_at,
           agg.in_full, agg.invoiced_at
    FROM agg LEFT JOIN r ON r.order_id = agg.order_id AND r.rn = 1""",
)


class DatabaseError(RuntimeError):
    """A database problem explained in one line for the user."""


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("could not set" in text or "conflicting" in text)


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table and view (idempotent)."""
    for stmt in DDL:
        con.execute(stmt)
    (has_state, has_orders) = fetch_row(
        con,
        "SELECT EXISTS (FROM order_state), EXISTS (FROM order_events)",
    )
    if has_orders and not has_state:  # a database from before `order_state`
        con.execute(REBUILD_SQL)
    con.execute("INSERT OR IGNORE INTO fpi_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on *stdout* for queries over ~2 s, which
    # would corrupt `fpi kpis --format json > file` on a large database.
    con.execute("SET enable_progress_bar = false")


@contextmanager
def open_write(
    path: Path, *, wait_seconds: float = 600.0, poll_seconds: float = 0.05
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path`` read-write (creating it), waiting while readers hold it.

    The caller writes inside one transaction; the file is closed on exit so
    readers can get in. Raises ``DatabaseError`` after ``wait_seconds``.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(path))
            break
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise DatabaseError(f"cannot open database {path}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise DatabaseError(
                    f"database {path} is locked by another process for more than "
                    f"{wait_seconds:.0f}s"
                ) from exc
            time.sleep(poll_seconds)
            poll_seconds = min(poll_seconds * 1.5, 0.5)
    try:
        _configure(con)
        yield con
    finally:
        con.close()


@contextmanager
def open_read(
    path: Path | str, *, wait_seconds: float = 30.0, poll_seconds: float = 0.02
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path`` read-only for a short query, retrying while a writer holds it.

    Raises ``DatabaseError`` for a missing file, a file that is not an fpi
    database, or a lock held for longer than ``wait_seconds``.
    """
    p = Path(path)
    if not p.is_file():
        raise DatabaseError(f"database not found: {p} (run `fpi ingest ... --db {p}` first)")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = duckdb.connect(str(p), read_only=True)
            break
        except duckdb.Error as exc:
            if not _is_lock_error(exc):
                raise DatabaseError(f"cannot open database {p}: {exc}") from exc
            if time.monotonic() >= deadline:
                raise DatabaseError(
                    f"database {p} stayed locked by a writer for {wait_seconds:.0f}s"
                ) from exc
            time.sleep(poll_seconds)
            poll_seconds = min(poll_seconds * 1.5, 0.25)
    try:
        _configure(con)
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "exceptions" not in tables:
            raise DatabaseError(f"{p} is not an fpi database (no `exceptions` table)")
        if "order_state" not in tables:
            raise DatabaseError(
                f"{p} was made by an older fpi (no `order_state` table): run "
                f"`fpi ingest ... --db {p}` once to upgrade it"
            )
        yield con
    finally:
        con.close()


QUALITY_TABLES: dict[str, str] = {
    "accepted_events": "exception_events",
    "duplicate_events": "duplicate_events",
    "rejected_events": "rejected_events",
    "pending_events": "pending_events",
}
"""The data-quality counts of kpis.md: each is the number of rows of one table
(``exception_events`` holds every accepted event, order milestones included)."""


def quality_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """The counts of :data:`QUALITY_TABLES` (global: never filtered)."""
    # table names are the constants above, never input
    sql = ", ".join(f"(SELECT count(*) FROM {t})" for t in QUALITY_TABLES.values())  # noqa: S608
    row = fetch_row(con, f"SELECT {sql}")
    return {name: int(str(v)) for name, v in zip(QUALITY_TABLES, row, strict=True)}


def fetch_pl(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, object] | None = None
) -> pl.DataFrame:
    """Run a parameterised query and return a polars DataFrame (times in UTC)."""
    df: pl.DataFrame = con.sql(sql, params=params or {}).pl()
    return df


def fetch_row(
    con: duckdb.DuckDBPyConnection, sql: str, params: list[object] | dict[str, object] | None = None
) -> tuple[object, ...]:
    """The first row of a query, with the result fully consumed (DuckDB 2 needs that)."""
    rows = con.execute(sql, params or []).fetchall()
    if not rows:
        raise DatabaseError(f"query returned no row: {sql[:60]}")
    return tuple(rows[0])

"""The DuckDB database: schema, and the one-writer/many-readers connection rules.

DuckDB lets one process open a file read-write *or* many processes open it
read-only, never both at once. So:

* the writer keeps its own file, the *store* (``core.layout``), open for a
  run (:func:`open_write`), and publishes what it commits as Parquet files
  behind a DuckDB file of views at the user's path (``flows.publish``);
* readers (``fpi kpis``, the dashboard, BI tools) open that path read-only
  (:func:`open_read`): a views file, or a plain database written by an
  earlier release; a lock error (a plain file still being written by an old
  release) is retried briefly, so none reaches a user.

The tables are declared once in ``core.schema`` (stable for BI tools,
``interface.md``: ``exceptions``, ``exception_events``, ``rejected_events``;
the others are documented in the README; ``order_state`` and the ``orders``
view in ``core.order_state``).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl

from . import schema
from .order_state import BACKFILL as ORDER_STATE_BACKFILL
from .order_state import ORDERS_VIEW, REBUILD_SQL

SCHEMA_VERSION = "1"

DDL: tuple[str, ...] = (*schema.ddl(), ORDERS_VIEW)
"""Every table (``core.schema``), then the ``orders`` view (``core.order_state``)."""


class DatabaseError(RuntimeError):
    """A database problem explained in one line for the user."""


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("could not set" in text or "conflicting" in text)


_SOURCE_SYSTEM_OF_RAW = """CASE WHEN json_valid(raw) AND json_type(raw) = 'OBJECT'
    AND json_type(raw, '$.source_system') = 'VARCHAR'
    AND json_extract_string(raw, '$.source_system') <> ''
    THEN json_extract_string(raw, '$.source_system') ELSE '(unknown)' END"""
"""SQL: the data-quality ``source_system`` of a raw line (``kpis.md``), for
rows written before the column existed."""

_BACKFILL: dict[tuple[str, str], str] = {
    ("rejected_events", "source_system"): _SOURCE_SYSTEM_OF_RAW,
    ("duplicate_events", "source_system"): _SOURCE_SYSTEM_OF_RAW,
    ("pending_events", "source_system"): _SOURCE_SYSTEM_OF_RAW.replace("raw", "payload"),
    **{(schema.ORDER_STATE.name, c): fill for c, fill in ORDER_STATE_BACKFILL.items()},
}
"""How a column added to an existing table is filled for its old rows (else NULL)."""


def _add_missing_columns(con: duckdb.DuckDBPyConnection) -> None:
    """Columns added since a database was written (always nullable, at the end,
    so the table ends up exactly as a new one): added and back-filled."""
    have: dict[str, set[str]] = {}
    for table, column in con.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE schema_name = current_schema()"
    ).fetchall():
        have.setdefault(str(table), set()).add(str(column))
    for t in schema.TABLES:
        for c in t.fields:
            if c.name in have.get(t.name, {c.name}):
                continue
            con.execute(f"ALTER TABLE {t.name} ADD COLUMN {c.name} {c.type.sql}")
            fill = _BACKFILL.get((t.name, c.name))
            if fill is not None:
                con.execute(f"UPDATE {t.name} SET {c.name} = {fill}")  # noqa: S608 - constants


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create every table and view (idempotent); add the columns a database
    written by an earlier release lacks."""
    for stmt in DDL:
        con.execute(stmt)
    _add_missing_columns(con)
    (has_state, has_orders) = fetch_row(
        con,
        f"SELECT EXISTS (FROM {schema.ORDER_STATE.name}), EXISTS (FROM {schema.ORDER_EVENTS.name})",  # noqa: S608
    )
    if has_orders and not has_state:  # a database from before `order_state`
        con.execute(REBUILD_SQL)
    con.execute("INSERT OR IGNORE INTO fpi_meta VALUES ('schema_version', ?)", [SCHEMA_VERSION])


def _configure(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on *stdout* for queries over ~2 s, which
    # would corrupt `fpi kpis --format json > file` on a large database.
    con.execute("SET enable_progress_bar = false")


STORE_ROW_GROUP_SIZE = 16_384
"""Rows per row group of a database fpi writes (DuckDB's default: 122,880).

A transaction that appends at least one row group to a table writes it
straight to the file ("optimistic write"); a smaller append goes to the WAL
and is written a second time, compressed, by the checkpoint at commit —
which cost the writer more than everything else it did (issue 9: 567k event
rows in 73k-row micro-batches, 4.9 s against 2.8 s). Readers do not scan
the store (they read the published Parquet) and its lookups use indexes.

Every read-write open of a file must use the same size: a checkpoint by a
connection with another size rewrote the whole file (3.4 s for a 685k-line
store, at the close of a connection that had only run ``CREATE TABLE IF
NOT EXISTS``)."""


@contextmanager
def open_write(
    path: Path,
    *,
    wait_seconds: float = 600.0,
    poll_seconds: float = 0.05,
    row_group_size: int | None = STORE_ROW_GROUP_SIZE,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path`` read-write (creating it), waiting while readers hold it.

    The caller writes inside one transaction; the file is closed on exit so
    readers can get in. Raises ``DatabaseError`` after ``wait_seconds``.

    ``row_group_size``: attach the file with this row-group size (rows), by
    default :data:`STORE_ROW_GROUP_SIZE` — every writer of a file must use
    the same one (see there); ``None``: DuckDB's own.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = _connect(path, row_group_size)
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


def _connect(path: Path, row_group_size: int | None) -> duckdb.DuckDBPyConnection:
    """A read-write connection whose default catalog is the file ``path``.

    With ``row_group_size`` the file is attached to an in-memory connection
    with that option (DuckDB's ``ROW_GROUP_SIZE`` is an ``ATTACH`` option,
    not a setting) and made the default catalog; spilling then goes to
    ``<path>.tmp``, where DuckDB puts it for a file it opens itself.
    """
    if row_group_size is None:
        return duckdb.connect(str(path))
    con = duckdb.connect()
    try:
        literal = "'" + str(path).replace("'", "''") + "'"
        tmp = "'" + f"{path}.tmp".replace("'", "''") + "'"
        con.execute(f"SET temp_directory = {tmp}")
        con.execute(f"ATTACH {literal} AS store (ROW_GROUP_SIZE {int(row_group_size)})")
        con.execute("USE store")
    except BaseException:
        con.close()
        raise
    return con


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A cursor of ``con`` (another connection to the same database, for
    another thread) whose default catalog is ``con``'s: a cursor starts in
    the connection's first catalog, which is not the store's when
    :func:`open_write` attached it."""
    (name,) = fetch_row(con, "SELECT current_database()")
    cur = con.cursor()
    cur.execute("USE " + '"' + str(name).replace('"', '""') + '"')
    return cur


READ_ALIAS = "fpi"
"""The catalog name a reader's database is attached under (and made the default)."""


def _attach_read_only(path: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory connection with ``path`` attached read-only as the default catalog.

    Not ``duckdb.connect(path, read_only=True)``: within one process that
    returns a cached instance for a path already open, which after the writer
    ``os.replace``s the views file is the *old* file. Unqualified table names
    resolve in the attached file (``USE``).
    """
    con = duckdb.connect()
    try:
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"ATTACH {literal} AS {READ_ALIAS} (READ_ONLY)")
        con.execute(f"USE {READ_ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def _relations(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the tables and views of the default catalog's ``main`` schema."""
    rows = con.execute(
        "SELECT table_name FROM duckdb_tables() "
        "WHERE database_name = current_database() AND schema_name = 'main' "
        "UNION SELECT view_name FROM duckdb_views() "
        "WHERE database_name = current_database() AND schema_name = 'main' AND NOT internal"
    ).fetchall()
    return {str(r[0]) for r in rows}


@contextmanager
def open_read(
    path: Path | str, *, wait_seconds: float = 30.0, poll_seconds: float = 0.02
) -> Iterator[duckdb.DuckDBPyConnection]:
    """Open ``path`` read-only for a short query, retrying while a writer holds it.

    ``path`` is either a plain fpi database (what earlier releases wrote, with
    the tables themselves) or a views file published by ``flows.publish``
    (views over Parquet files plus small tables); both answer the same
    unqualified table names. The file is attached read-only to an in-memory
    connection and made the default catalog, so each call reads the file now
    at ``path`` (see :func:`_attach_read_only`).

    Raises ``DatabaseError`` for a missing file, a file that is not an fpi
    database, or a lock held for longer than ``wait_seconds``.
    """
    p = Path(path)
    if not p.is_file():
        raise DatabaseError(f"database not found: {p} (run `fpi ingest ... --db {p}` first)")
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            con = _attach_read_only(p)
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
        tables = _relations(con)
        if schema.EXCEPTIONS.name not in tables:
            raise DatabaseError(f"{p} is not an fpi database (no `{schema.EXCEPTIONS.name}` table)")
        if schema.ORDER_STATE.name not in tables:
            raise DatabaseError(
                f"{p} was made by an older fpi (no `{schema.ORDER_STATE.name}` table): run "
                f"`fpi ingest ... --db {p}` once to upgrade it"
            )
        yield con
    finally:
        con.close()


QUALITY_TABLES: dict[str, str] = {
    "accepted_events": schema.EXCEPTION_EVENTS.name,
    "duplicate_events": schema.DUPLICATE_EVENTS.name,
    "rejected_events": schema.REJECTED_EVENTS.name,
    "pending_events": schema.PENDING_EVENTS.name,
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

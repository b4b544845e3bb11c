"""Where the files of one fpi database live (pure path logic, plus the legacy check).

For the user-facing path ``DB`` (e.g. ``/x/fpi.duckdb``):

* ``DB`` itself — the **views file**: a small DuckDB file of views over the
  published Parquet files plus small tables copied in full. Readers (``fpi
  kpis``, the dashboard, BI tools) open it read-only; the writer replaces it
  atomically (``os.replace``), so a reader always opens a complete file;
* ``DB.d/store.duckdb`` — the **store**: the writer's private DuckDB database
  holding every table of ``core.schema``, open read-write for a whole run;
* ``DB.d/parts/<table>/*.parquet`` — the published data files the views read.

Every path is absolute and resolved (symlinks followed), because the views
name their Parquet files by absolute path and a replace must land on the real
file, not on a symlink to it.

A **legacy plain** database is what releases before this layout wrote: ``DB``
is a DuckDB file with a base table ``exceptions`` and there is no store yet.
:func:`migrate_legacy` turns it into the store of the new layout.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .schema import EXCEPTIONS

DUCKDB_MAGIC = b"DUCK"
"""The magic bytes of a DuckDB database file, at offset 8."""

WAL_SUFFIX = ".wal"
"""DuckDB's write-ahead log sits beside its database as ``<file>.wal``."""


@dataclass(frozen=True, slots=True)
class Layout:
    """The files of the database whose user-facing path is ``db``."""

    db: Path

    @property
    def views(self) -> Path:
        """The views file: ``db`` itself, absolute and resolved."""
        return Path(self.db).expanduser().resolve()

    @property
    def dir(self) -> Path:
        """The writer's directory beside the views file: ``<db>.d``."""
        v = self.views
        return v.with_name(v.name + ".d")

    @property
    def store(self) -> Path:
        """The writer's own DuckDB database: ``<db>.d/store.duckdb``."""
        return self.dir / "store.duckdb"

    @property
    def parts(self) -> Path:
        """The root of the published Parquet files: ``<db>.d/parts``."""
        return self.dir / "parts"

    def table_parts(self, table: str) -> Path:
        """The folder of the published files of ``table``: ``<db>.d/parts/<table>``."""
        return self.parts / table


def wal(path: Path) -> Path:
    """The write-ahead log of the DuckDB file ``path`` (may not exist)."""
    return path.with_name(path.name + WAL_SUFFIX)


def is_duckdb_file(path: Path) -> bool:
    """``path`` is a regular file starting with a DuckDB header (magic ``DUCK`` at byte 8)."""
    try:
        with path.open("rb") as f:
            head = f.read(12)
    except OSError:
        return False
    return head[8:12] == DUCKDB_MAGIC


def has_base_table(path: Path, table: str) -> bool:
    """The DuckDB file ``path`` has a base table (not a view) named ``table``.

    Opened read-only through an in-memory connection (so a file this process
    already has open elsewhere is not served from a cache). Errors (a lock
    held by a writer, a corrupt file) propagate as ``duckdb.Error``.
    """
    con = duckdb.connect()
    try:
        literal = "'" + str(path).replace("'", "''") + "'"
        con.execute(f"ATTACH {literal} AS fpi_probe (READ_ONLY)")
        rows = con.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE database_name = 'fpi_probe' AND schema_name = 'main' AND table_name = ?",
            [table],
        ).fetchall()
        return bool(rows[0][0])
    finally:
        con.close()


def is_legacy(layout: Layout) -> bool:
    """``layout.db`` is a legacy plain fpi database.

    True when the views path is a DuckDB file holding a base table
    ``exceptions`` and ``<db>.d/store.duckdb`` does not exist. A views file
    (whose ``exceptions`` is a view), a missing file, a non-DuckDB file, or a
    layout that already has a store are not legacy.
    """
    if layout.store.exists() or not is_duckdb_file(layout.views):
        return False
    return has_base_table(layout.views, EXCEPTIONS.name)


def migrate_legacy(layout: Layout) -> bool:
    """Move a legacy plain database into the store location.

    Renames ``db`` (and its ``.wal`` when there is one) to ``<db>.d/store.duckdb``
    (creating ``<db>.d``); the views file is then missing, so the publisher
    rebuilds it. Returns True if it moved anything, False when ``db`` is not
    legacy (:func:`is_legacy`). The caller must hold the writer's lock: no
    reader or writer may have the file open read-write meanwhile.
    """
    if not is_legacy(layout):
        return False
    src = layout.views
    layout.dir.mkdir(parents=True, exist_ok=True)
    # the log first: after a crash in between, the file is still legacy (no
    # store yet), the next migration moves it, and its log is already beside it
    if wal(src).exists():
        os.replace(wal(src), wal(layout.store))
    os.replace(src, layout.store)
    return True

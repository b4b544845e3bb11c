"""Connection rules of ``core.db``: settings every connection gets, clear errors."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from core.db import DatabaseError, init_schema, open_read, open_write


def _setting(con: duckdb.DuckDBPyConnection, name: str) -> object:
    return con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0]


def test_connections_are_utc_and_never_draw_a_progress_bar(tmp_path: Path) -> None:
    # DuckDB's progress bar is written to stdout: it would corrupt JSON output
    db = tmp_path / "a.duckdb"
    with open_write(db) as con:
        init_schema(con)
        assert _setting(con, "TimeZone") == "UTC"
        assert _setting(con, "enable_progress_bar") is False
    with open_read(db) as con:
        assert _setting(con, "TimeZone") == "UTC"
        assert _setting(con, "enable_progress_bar") is False


def test_reading_a_missing_or_foreign_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="not found"), open_read(tmp_path / "none.duckdb"):
        pass
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(DatabaseError, match="not an fpi database"), open_read(other):
        pass


def test_a_database_from_before_order_state_asks_for_an_upgrade(tmp_path: Path) -> None:
    db = tmp_path / "old.duckdb"
    with open_write(db) as con:
        init_schema(con)
        con.execute("DROP TABLE order_state")
    with pytest.raises(DatabaseError, match="fpi ingest"), open_read(db):
        pass

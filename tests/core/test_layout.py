"""Paths of the writer's layout, and the legacy plain database."""

from __future__ import annotations

from pathlib import Path

import duckdb

from core.db import init_schema
from core.layout import Layout, is_legacy, migrate_legacy, wal


def test_the_paths_are_absolute_and_beside_the_database(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    layout = Layout(Path("x/fpi.duckdb"))
    assert layout.views == tmp_path / "x" / "fpi.duckdb"
    assert layout.dir == tmp_path / "x" / "fpi.duckdb.d"
    assert layout.store == tmp_path / "x" / "fpi.duckdb.d" / "store.duckdb"
    assert layout.parts == tmp_path / "x" / "fpi.duckdb.d" / "parts"
    assert layout.table_parts("exceptions") == layout.parts / "exceptions"
    assert wal(layout.store).name == "store.duckdb.wal"


def test_a_symlinked_database_resolves_to_its_target(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    assert Layout(tmp_path / "link" / "a.duckdb").views == tmp_path / "real" / "a.duckdb"


def test_only_a_plain_fpi_database_without_a_store_is_legacy(tmp_path: Path) -> None:
    db = tmp_path / "fpi.duckdb"
    layout = Layout(db)
    assert not is_legacy(layout)  # missing
    db.write_text("not a database")
    assert not is_legacy(layout)
    db.unlink()
    duckdb.connect(str(db)).close()
    assert not is_legacy(layout)  # no exceptions table
    db.unlink()
    con = duckdb.connect(str(db))
    con.execute("CREATE VIEW exceptions AS SELECT 1 AS exception_id")  # a views file
    con.close()
    assert not is_legacy(layout)
    db.unlink()
    con = duckdb.connect(str(db))
    init_schema(con)
    con.close()
    assert is_legacy(layout)
    layout.dir.mkdir()
    layout.store.touch()
    assert not is_legacy(layout)  # the store exists already


def test_migration_moves_the_file_and_its_log_into_the_store(tmp_path: Path) -> None:
    db = tmp_path / "fpi.duckdb"
    con = duckdb.connect(str(db))
    init_schema(con)
    con.execute("INSERT INTO fpi_meta VALUES ('k', 'v')")
    con.close()
    wal(db).write_bytes(b"")  # an (empty) log left beside it
    layout = Layout(db)
    assert migrate_legacy(layout)
    assert not db.exists() and not wal(db).exists()
    assert layout.store.is_file() and wal(layout.store).exists()
    wal(layout.store).unlink()
    con = duckdb.connect(str(layout.store), read_only=True)
    assert con.execute("SELECT value FROM fpi_meta WHERE key = 'k'").fetchall() == [("v",)]
    con.close()
    assert not migrate_legacy(layout)

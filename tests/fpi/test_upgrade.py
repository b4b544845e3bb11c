"""A database written by the previous release keeps working: read as it is, and
upgraded in place by the next ``fpi ingest`` into it (``tests/fixtures/README.md``)."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from core.config import load_settings
from core.db import open_read
from flows.ingest import ingest
from metrics.query import kpis
from tests.streams import fixed_clock, table

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
DEMO = Path(__file__).resolve().parents[2] / "sample_streams" / "demo.jsonl.gz"


def _lines(start: int, stop: int) -> list[bytes]:
    with gzip.open(DEMO, "rb") as fh:
        return [line for i, line in enumerate(fh) if start <= i < stop]


@pytest.fixture
def previous(tmp_path: Path) -> Path:
    db = tmp_path / "previous.duckdb"
    with gzip.open(FIXTURES / "release-9dfb7f0.duckdb.gz", "rb") as src, db.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return db


def _kpis(db: Path) -> list[dict]:
    with open_read(db) as con:
        return (
            kpis(con)
            .drop("accepted_events", "duplicate_events", "rejected_events", "pending_events")
            .to_dicts()
        )


def test_the_previous_release_database_reads_the_same_as_a_fresh_one(
    previous: Path, tmp_path: Path
) -> None:
    part1 = tmp_path / "part1.jsonl"
    part1.write_bytes(b"".join(_lines(0, 2000)))
    fresh = tmp_path / "fresh.duckdb"
    ingest([part1], fresh, load_settings(), fixed_clock)
    assert _kpis(previous) == _kpis(fresh)


def test_the_next_ingest_continues_the_previous_release_history(
    previous: Path, tmp_path: Path
) -> None:
    part1 = tmp_path / "part1.jsonl"
    part2 = tmp_path / "part2.jsonl"
    part1.write_bytes(b"".join(_lines(0, 2000)))
    part2.write_bytes(b"".join(_lines(2000, 6000)))
    s = ingest([part2], previous, load_settings(), fixed_clock)
    assert s.after.accepted > s.before.accepted > 0
    fresh = tmp_path / "fresh.duckdb"
    ingest([part1], fresh, load_settings(), fixed_clock)
    ingest([part2], fresh, load_settings(), fixed_clock)
    assert _kpis(previous) == _kpis(fresh)
    q = "SELECT * EXCLUDE (opened_seq) FROM exceptions ORDER BY exception_id"
    assert table(previous, q).rows() == table(fresh, q).rows()
    runs = table(previous, "SELECT status FROM ingest_runs ORDER BY run_id")["status"].to_list()
    assert runs == ["done", "done"]

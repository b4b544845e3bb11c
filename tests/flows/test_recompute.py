"""``fpi recompute``: a changed calendar or SLA policy applied to the whole history,
explicitly; the SLA configuration a database was computed with is recorded, and
writers refuse a different one."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from core import sla_record
from core.config import Settings, load_settings
from core.db import open_read, open_write
from flows.ingest import ingest
from flows.recompute import recompute
from tests.flows.test_alerts import CALENDARS
from tests.streams import fixed_clock, random_stream, table, write_jsonl

STATE = (
    "SELECT exception_id, sla_calendar, sla_target_hours, status, active_seconds_at_status, "
    "met_sla, at_risk_due_at, breach_due_at FROM exceptions ORDER BY exception_id"
)
VERSIONS = (
    "SELECT exception_id, valid_from, valid_to, status, active_seconds, working_us_at_start "
    "FROM exception_versions ORDER BY exception_id, valid_from"
)
STANDING = (
    "SELECT exception_id, kind, due_at FROM sla_alerts WHERE retracted_at IS NULL "
    "ORDER BY exception_id, kind"
)


def _settings(tmp: Path, text: str, name: str) -> Settings:
    cfg = tmp / f"{name}.toml"
    cfg.write_text(text)
    return load_settings(cfg)


def _rows(db: Path, sql: str) -> list[tuple]:
    return [tuple(r) for r in table(db, sql).iter_rows()]


def _events(seed: int) -> list[dict]:
    rng = random.Random(seed)
    events = random_stream(rng, n_exceptions=40, orders=8)
    rng.shuffle(events)
    return events


def _ingest(tmp: Path, events: list[dict], name: str, settings: Settings) -> Path:
    db = tmp / f"{name}.duckdb"
    ingest([write_jsonl(tmp / f"{name}.jsonl", events)], db, settings, fixed_clock)
    return db


POLICY = """
[sla.base_hours]
critical = 2
high = 8
medium = 16
low = 48
"""


@pytest.mark.parametrize("change", ["calendars", "policy"])
def test_a_recompute_gives_what_a_fresh_ingest_under_the_new_configuration_gives(
    tmp_path: Path, change: str
) -> None:
    events = _events(7)
    new = _settings(tmp_path, CALENDARS if change == "calendars" else POLICY, "new")
    fresh = _ingest(tmp_path, events, "fresh", new)
    db = _ingest(tmp_path, events, "old", load_settings())
    assert _rows(db, STATE) != _rows(fresh, STATE)
    summary = recompute(db, new, fixed_clock, batch=7)
    assert summary.exceptions == 40
    for sql in (STATE, VERSIONS, STANDING):
        assert _rows(db, sql) == _rows(fresh, sql)
    with open_read(db) as con:
        record = sla_record.recorded(con)
        assert (record.fingerprint, record.state) == (new.sla_fingerprint, "current")
        assert sla_record.mismatch(record, new) is None
        assert sla_record.mismatch(record, load_settings()) is not None
    # the old alerts are kept, retracted (nothing is deleted), and nothing was delivered
    with open_write(tmp_path / "old.duckdb.d" / "store.duckdb") as con:  # private table
        assert con.execute("SELECT count(*) FROM alert_outbox").fetchall() == [(0,)]
    before = _rows(db, "SELECT * FROM sla_alerts ORDER BY alert_id")
    recompute(db, new, fixed_clock)  # again: nothing changes
    assert _rows(db, "SELECT * FROM sla_alerts ORDER BY alert_id") == before
    # and back: the figures of the original configuration again
    recompute(db, load_settings(), fixed_clock)
    old = _ingest(tmp_path, events, "again", load_settings())
    for sql in (STATE, VERSIONS, STANDING):
        assert _rows(db, sql) == _rows(old, sql)


def test_a_writer_refuses_figures_computed_with_another_configuration(tmp_path: Path) -> None:
    events = _events(3)
    cal = _settings(tmp_path, CALENDARS, "cal")
    db = _ingest(tmp_path, events[:30], "db", load_settings())
    before = _rows(db, STATE)
    path = write_jsonl(tmp_path / "more.jsonl", events[30:])
    with pytest.raises(ValueError, match=r"run `fpi recompute --db .*` to apply the one in use"):
        ingest([path], db, cal, fixed_clock)
    assert _rows(db, STATE) == before  # nothing written
    recompute(db, cal, fixed_clock)
    ingest([path], db, cal, fixed_clock)  # now it adds to a history computed the same way
    assert _rows(db, STATE) == _rows(_ingest(tmp_path, events, "whole", cal), STATE)


def test_a_recompute_that_did_not_finish_is_refused_until_one_does(tmp_path: Path) -> None:
    events = _events(5)
    cal = _settings(tmp_path, CALENDARS, "cal")
    db = _ingest(tmp_path, events, "db", load_settings())
    store = tmp_path / "db.duckdb.d" / "store.duckdb"
    assert store.is_file()
    with open_write(store) as con:  # what a killed recompute leaves behind
        sla_record.write(con, cal, sla_record.RECOMPUTING)
    with pytest.raises(ValueError, match="did not finish"):
        ingest([write_jsonl(tmp_path / "e.jsonl", events)], db, cal, fixed_clock)
    recompute(db, cal, fixed_clock)
    ingest([write_jsonl(tmp_path / "e.jsonl", events)], db, cal, fixed_clock)


def test_an_empty_or_24x7_database_is_adopted(tmp_path: Path) -> None:
    cal = _settings(tmp_path, CALENDARS, "cal")
    db = _ingest(tmp_path, [], "empty", load_settings())
    ingest([write_jsonl(tmp_path / "e.jsonl", _events(1))], db, cal, fixed_clock)
    with open_read(db) as con:
        assert sla_record.recorded(con).fingerprint == cal.sla_fingerprint

"""``core.schema``: the one declaration of the tables, and what is derived from it."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from core import rules, schema
from core.db import init_schema
from core.order_state import replay_sql

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TABLE_SQL = "SELECT table_name, sql FROM duckdb_tables() ORDER BY table_name"
CONSTRAINTS = """SELECT table_name, constraint_type, constraint_column_names
    FROM duckdb_constraints() ORDER BY ALL"""


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    init_schema(c)
    return c


COLUMNS_SQL = """SELECT table_name, column_name, data_type, is_nullable
    FROM duckdb_columns() ORDER BY table_name, column_index"""

ADDED_SINCE_9DFB7F0 = {
    "exceptions": ["at_risk_due_at", "breach_due_at", "sla_calendar"],
    "exception_versions": ["working_us_at_start"],
    "rejected_events": ["source_system"],
    "duplicate_events": ["source_system"],
    "pending_events": ["source_system"],
    "order_state": ["first_delivered_at", "first_ship_at"],
}
NEW_TABLES_SINCE_9DFB7F0 = {"sla_alerts", "alert_outbox", "flow_clock", "stream_offsets"}
UNENFORCED = {(t.name, "PRIMARY KEY", str(list(t.key))) for t in schema.TABLES if not t.enforced}
"""Primary keys a new database no longer declares (issue 9); an upgraded one keeps them."""


def _previous(tmp_path: Path) -> Path:
    previous = tmp_path / "previous.duckdb"
    with gzip.open(FIXTURES / "release-9dfb7f0.duckdb.gz", "rb") as src, previous.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    return previous


def test_the_previous_releases_tables_are_kept_and_only_extended(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    old = duckdb.connect(str(_previous(tmp_path)), read_only=True)
    try:
        before = old.sql(COLUMNS_SQL).fetchall()
        old_constraints = old.sql(CONSTRAINTS).fetchall()
    finally:
        old.close()
    now = con.sql(COLUMNS_SQL).fetchall()
    old_tables = {r[0] for r in before}
    assert {r[0] for r in now} == old_tables | NEW_TABLES_SINCE_9DFB7F0
    for table in old_tables:
        was = [r[1:] for r in before if r[0] == table]
        is_ = [r[1:] for r in now if r[0] == table]
        added = ADDED_SINCE_9DFB7F0.get(table, [])
        # every earlier column as it was, in order; the new ones nullable, at the end
        assert is_[: len(was)] == was, table
        assert [r[0] for r in is_[len(was) :]] == added, table
        assert all(r[2] for r in is_[len(was) :]), table
    now_constraints = [tuple(map(str, r)) for r in con.sql(CONSTRAINTS).fetchall()]
    kept = [tuple(map(str, r)) for r in old_constraints]
    assert all(r in now_constraints for r in kept if r not in UNENFORCED)
    assert not UNENFORCED & set(now_constraints)
    assert {t for t, _, _ in UNENFORCED} == {"order_events"}
    names = [r[0] for r in con.sql(TABLE_SQL).fetchall()]
    assert sorted(t.name for t in schema.TABLES) == names


def test_an_upgraded_database_is_exactly_a_new_one_and_keeps_its_rows(
    tmp_path: Path, con: duckdb.DuckDBPyConnection
) -> None:
    path = _previous(tmp_path)
    old = duckdb.connect(str(path))
    try:
        rejected_before = old.sql("SELECT count(*) FROM rejected_events").fetchall()
        init_schema(old)
        init_schema(old)  # idempotent
        unenforced = {t for t, _, _ in UNENFORCED}
        upgraded_sql = [
            (t, sql.replace(" PRIMARY KEY", " NOT NULL") if t in unenforced else sql)
            for t, sql in old.sql(TABLE_SQL).fetchall()
        ]
        assert upgraded_sql == con.sql(TABLE_SQL).fetchall()
        upgraded = [tuple(map(str, r)) for r in old.sql(CONSTRAINTS).fetchall()]
        new_db = [tuple(map(str, r)) for r in con.sql(CONSTRAINTS).fetchall()]
        assert [r for r in upgraded if r not in UNENFORCED] == new_db
        assert old.sql("SELECT count(*) FROM rejected_events").fetchall() == rejected_before
        # old rejects get the data-quality source system of their raw line
        unknown = old.sql(
            "SELECT count(*) FROM rejected_events WHERE source_system IS NULL"
        ).fetchall()
        assert unknown == [(0,)]
    finally:
        old.close()


def test_declared_polars_dtypes_are_what_duckdb_gives(con: duckdb.DuckDBPyConnection) -> None:
    for t in schema.TABLES:
        got = con.sql(f"SELECT * FROM {t.name} LIMIT 0").pl().schema
        assert dict(got) == {c.name: c.type.polars for c in t.fields}, t.name
        times = {c.name for c in t.fields if c.is_time}
        assert times == {n for n, d in got.items() if isinstance(d, pl.Datetime)}, t.name


def test_row_tuples_carry_every_column_but_the_derived_ones() -> None:
    derived = ("met_sla", "first_touch_resolution", "auto_resolved")
    assert tuple(c for c in schema.EXCEPTIONS.all_columns if c not in derived) == (
        schema.EXCEPTIONS.columns
    )
    assert [schema.EXCEPTIONS.column(n).rule for n in derived] == [
        rules.MET_SLA,
        rules.FIRST_TOUCH_RESOLUTION,
        rules.AUTO_RESOLVED,
    ]
    for t in schema.TABLES:
        if t is not schema.EXCEPTIONS:
            assert t.columns == t.all_columns, t.name
    assert schema.REJECTED_EVENTS.key_positions == (0, 1)
    assert schema.EXCEPTION_EVENTS.key_positions == (0,)


def test_the_order_fold_yields_exactly_the_order_state_columns(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert tuple(con.sql(replay_sql(schema.ORDER_EVENTS.name)).columns) == (
        schema.ORDER_STATE.all_columns
    )


def test_select_lists_check_names_and_give_times_as_microseconds() -> None:
    sql = schema.PENDING_EVENTS.select("event_id", "occurred_at")
    assert sql == "event_id, epoch_us(occurred_at) AS occurred_at"
    with pytest.raises(KeyError, match="pending_events has no column 'nope'"):
        schema.PENDING_EVENTS.select("nope")
    with pytest.raises(KeyError):
        schema.ORDER_STATE.group("opened")
    assert schema.EXCEPTIONS.group(schema.OPENED)[-3:] == (
        "opened_at",
        "opened_event_id",
        "opened_seq",
    )


def test_a_table_declaration_is_checked() -> None:
    col = schema.Column("a", schema.VARCHAR)
    with pytest.raises(ValueError, match="NOT NULL"):
        schema.Table("t", (col,), key=("a",))
    with pytest.raises(ValueError, match="twice"):
        schema.Table("t", (col, col))
    with pytest.raises(ValueError, match="rule_when"):
        schema.Table("t", (col, schema.Column("b", schema.BOOLEAN, rule="TRUE")))


def _exception(**state: object) -> dict[str, object]:
    """One ``exceptions`` row (a resolved exception with a 9 h target) with ``state``."""
    row: dict[str, object] = {c: None for c in schema.EXCEPTIONS.columns}
    row.update(
        exception_id=f"X-{len(state)}-{sorted(state.items())}",
        status="resolved",
        sla_target_hours=9.0,
        active_seconds_at_status=4 * 3600.0,
        manual_touches=1,
        reopen_count=0,
        resolved_by_kind="human",
    )
    row.update(state)
    return row


RULE_CASES: list[tuple[dict[str, object], tuple[bool | None, bool | None, bool | None]]] = [
    # (state, (met_sla, first_touch_resolution, auto_resolved))
    ({}, (True, True, False)),
    ({"active_seconds_at_status": 9 * 3600.0}, (True, True, False)),  # = target: met
    ({"active_seconds_at_status": 9 * 3600.0 + 1e-6}, (False, True, False)),
    ({"manual_touches": 2}, (True, False, False)),
    ({"reopen_count": 1}, (True, False, False)),
    ({"manual_touches": 0, "resolved_by_kind": "system"}, (True, True, True)),
    ({"manual_touches": 1, "resolved_by_kind": "system"}, (True, True, False)),
    ({"manual_touches": 0, "resolved_by_kind": "human"}, (True, True, False)),
    ({"status": "open", "resolved_by_kind": None}, (None, None, None)),
    ({"status": "paused", "resolved_by_kind": None}, (None, None, None)),
    ({"status": "cancelled", "resolved_by_kind": None}, (None, None, None)),
]


def test_derived_columns_apply_the_rules_to_resolved_exceptions_only(
    con: duckdb.DuckDBPyConnection,
) -> None:
    fields = schema.EXCEPTIONS.row_fields
    rows = [_exception(**state) for state, _ in RULE_CASES]
    batch = pl.DataFrame(  # noqa: F841 - read by DuckDB
        {c.name: [r[c.name] for r in rows] for c in fields},
        schema={c.name: pl.Int64() if c.is_time else c.type.polars for c in fields},
    )
    got = con.sql(
        f"SELECT met_sla, first_touch_resolution, auto_resolved "
        f"FROM ({schema.EXCEPTIONS.insert_from('batch')})"
    ).fetchall()
    assert got == [want for _, want in RULE_CASES]

"""A hand-written database with SLA alerts, a flow clock and per-source quality rows.

Written row by row with ``core.db.init_schema`` and INSERTs (no dataflow), as a
plain fpi database file, which ``core.db.open_read`` reads like a views file.
Used by the metric, CLI and dashboard tests of alerts, the flow heartbeat and
data quality by source system.

As of the data clock :data:`CLOCK` (05-05 12:00Z):

* ``A-1`` — open, DC-ATL ACME, high/key (9 h): an at-risk alert (due 05-05 09:00,
  raised 09:00) and a breach alert (due 11:00, raised 11:00), both standing;
* ``A-2`` — resolved, DC-DAL ZIP: a standing breach alert (due 05-04 20:00) that
  is not active (its exception is resolved);
* ``A-3`` — paused, DC-DAL ZIP, owner ``carrier-desk``: an at-risk alert raised
  05-05 06:00, retracted 07:00 (revision 1), raised again at 10:00 (revision 2,
  standing, active);
* data quality: accepted 6 (WMS 4, TMS 2), duplicates 1 (WMS), rejected 3
  (TMS 1, ``(unknown)`` 2: one stored without a source, one invalid line),
  pending 1 (TMS).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from core import schema
from core.db import init_schema

D0 = datetime(2026, 5, 4, tzinfo=UTC)
H = timedelta(hours=1)
CLOCK = D0 + 36 * H
"""05-05 12:00Z: the latest event time."""

_DEFAULTS = {"VARCHAR": "x", "BIGINT": 0, "INTEGER": 0, "DOUBLE": 0.0, "BOOLEAN": False}


def insert(con: duckdb.DuckDBPyConnection, table: schema.Table, **values: object) -> None:
    """One row of ``table``: ``values`` by column, NOT NULL columns not given get a
    placeholder (times: :data:`D0`), the others NULL. Derived columns stay NULL."""
    unknown = set(values) - set(table.all_columns)
    assert not unknown, f"{table.name} has no {unknown}"
    row: list[object] = []
    for c in table.fields:
        if c.name in values:
            row.append(values[c.name])
        elif c.not_null and c.rule is None:
            row.append(D0 if c.is_time else _DEFAULTS[c.type.sql])
        else:
            row.append(None)
    marks = ", ".join("?" for _ in row)
    con.execute(f"INSERT INTO {table.name} VALUES ({marks})", row)


_DIMS = {
    "A-1": {
        "site": "DC-ATL",
        "lane": "ATL→MIA",
        "carrier": "ACME",
        "category": "inventory_shortfall",
        "severity": "high",
        "customer_tier": "key",
        "owner_team": "(unassigned)",
        "source_system": "WMS",
        "order_id": "SO-1",
        "order_value_reporting": 1000.0,
        "sla_target_hours": 9.0,
    },
    "A-2": {
        "site": "DC-DAL",
        "lane": "DAL→HOU",
        "carrier": "ZIP",
        "category": "carrier_failure",
        "severity": "critical",
        "customer_tier": "standard",
        "owner_team": "(unassigned)",
        "source_system": "TMS",
        "order_id": "SO-2",
        "order_value_reporting": 540.0,
        "sla_target_hours": 4.0,
    },
    "A-3": {
        "site": "DC-DAL",
        "lane": "DAL→HOU",
        "carrier": "ZIP",
        "category": "address_issue",
        "severity": "medium",
        "customer_tier": "standard",
        "owner_team": "carrier-desk",
        "source_system": "WMS",
        "order_id": "SO-3",
        "order_value_reporting": 300.0,
        "sla_target_hours": 24.0,
    },
}
_STATUS = {"A-1": "open", "A-2": "resolved", "A-3": "paused"}
_OPENED = {"A-1": D0 + 32 * H, "A-2": D0 + 6 * H, "A-3": D0}


def _exception(con: duckdb.DuckDBPyConnection, xid: str) -> None:
    d = dict(_DIMS[xid])
    opened = _OPENED[xid]
    status = _STATUS[xid]
    lane = str(d["lane"])
    origin, destination = lane.split("→")
    resolved = D0 + 20 * H if status == "resolved" else None
    insert(
        con,
        schema.EXCEPTIONS,
        exception_id=xid,
        origin=origin,
        destination=destination,
        order_value=d["order_value_reporting"],
        currency="USD",
        sla_target_source="policy",
        opened_at=opened,
        opened_event_id=f"{xid}-open",
        status=status,
        status_since=resolved or opened,
        last_event_at=resolved or opened,
        event_count=1,
        resolved_at=resolved,
        **{k: v for k, v in d.items()},
    )
    insert(
        con,
        schema.EXCEPTION_VERSIONS,
        exception_id=xid,
        valid_from=opened,
        valid_to=resolved,
        status="open",
        owner_team=d["owner_team"],
    )
    if resolved is not None:
        insert(
            con,
            schema.EXCEPTION_VERSIONS,
            exception_id=xid,
            valid_from=resolved,
            status="resolved",
            owner_team=d["owner_team"],
            resolved_at=resolved,
        )


def _alert(
    con: duckdb.DuckDBPyConnection,
    xid: str,
    kind: str,
    due: datetime,
    raised: datetime,
    *,
    revision: int = 1,
    retracted: datetime | None = None,
) -> None:
    insert(
        con,
        schema.SLA_ALERTS,
        alert_id=f"{xid}:{kind}:{revision}",
        exception_id=xid,
        kind=kind,
        revision=revision,
        due_at=due,
        raised_at=raised,
        retracted_at=retracted,
        **_DIMS[xid],
    )


def _event(con: duckdb.DuckDBPyConnection, eid: str, at: datetime, source: str) -> None:
    insert(
        con,
        schema.EXCEPTION_EVENTS,
        event_id=eid,
        event_type="exception.touched",
        occurred_at=at,
        exception_id="A-1",
        source_system=source,
        ingested_at=at,
    )


def build(con: duckdb.DuckDBPyConnection) -> None:
    """Create the schema and write the rows of the module docstring into ``con``."""
    init_schema(con)
    for xid in _DIMS:
        _exception(con, xid)
    _alert(con, "A-1", "at_risk", D0 + 33 * H, D0 + 33 * H)
    _alert(con, "A-1", "breached", D0 + 35 * H, D0 + 35 * H)
    _alert(con, "A-2", "breached", D0 + 10 * H, D0 + 20 * H)
    _alert(con, "A-3", "at_risk", D0 + 30 * H, D0 + 30 * H, retracted=D0 + 31 * H)
    _alert(con, "A-3", "at_risk", D0 + 34 * H, D0 + 34 * H, revision=2)
    # in exception_versions A-3 is paused from 05-05 08:00
    con.execute(
        "UPDATE exception_versions SET valid_to = ? WHERE exception_id = 'A-3'", [D0 + 32 * H]
    )
    insert(
        con,
        schema.EXCEPTION_VERSIONS,
        exception_id="A-3",
        valid_from=D0 + 32 * H,
        status="paused",
        owner_team="carrier-desk",
    )
    for i, src in enumerate(["WMS", "WMS", "WMS", "WMS", "TMS", "TMS"]):
        _event(con, f"e-{i}", D0 + (31 + i) * H if i < 5 else CLOCK, src)
    raw_tms = '{"event_id": "r-1", "source_system": "TMS"}'
    for off, raw, src in ((1, raw_tms, "TMS"), (2, "{oops", "(unknown)"), (3, '{"a": 1}', None)):
        insert(
            con,
            schema.REJECTED_EVENTS,
            source="s.jsonl",
            source_offset=off,
            raw=raw,
            reason="invalid_json" if raw == "{oops" else "missing_field",
            received_at=CLOCK,
            source_system=src,
        )
    insert(
        con,
        schema.DUPLICATE_EVENTS,
        source="s.jsonl",
        source_offset=9,
        event_id="e-0",
        raw='{"source_system": "WMS"}',
        received_at=CLOCK,
        source_system="WMS",
    )
    insert(
        con,
        schema.PENDING_EVENTS,
        event_id="p-1",
        exception_id="A-9",
        event_type="exception.touched",
        occurred_at=CLOCK,
        payload='{"source_system": "TMS"}',
        received_at=CLOCK,
        source_system="TMS",
    )


def set_flow_clock(
    con: duckdb.DuckDBPyConnection,
    writer: str,
    heartbeat_at: datetime,
    *,
    data_clock: datetime | None = None,
    caught_up: bool = False,
    lag: int | None = 0,
) -> None:
    """Write the ``flow_clock`` row (replacing it)."""
    con.execute("DELETE FROM flow_clock")
    insert(
        con,
        schema.FLOW_CLOCK,
        name="flow",
        writer=writer,
        data_clock=data_clock,
        heartbeat_at=heartbeat_at,
        caught_up=caught_up,
        lag=lag,
        detail=None if writer == "ingest" else '{"0": 0}',
    )


def alerts_db(
    folder: Path,
    *,
    writer: str | None = None,
    heartbeat_at: datetime | None = None,
    data_clock: datetime | None = None,
    name: str = "alerts.duckdb",
) -> Path:
    """:func:`build` into a new plain database file ``folder/name``; with ``writer``
    also a ``flow_clock`` row beating at ``heartbeat_at``."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / name
    con = duckdb.connect(str(db))
    try:
        con.execute("SET TimeZone = 'UTC'")
        build(con)
        if writer is not None:
            assert heartbeat_at is not None
            set_flow_clock(con, writer, heartbeat_at, data_clock=data_clock)
    finally:
        con.close()
    return db

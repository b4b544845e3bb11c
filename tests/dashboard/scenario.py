"""Databases for the dashboard and drill-down tests.

* :func:`hand_db` — a tiny hand-made stream whose KPIs are computed by hand in
  the tests (``tests/metrics/test_series.py``, ``test_breakdowns.py`` and its siblings);
* :func:`sample_db` — the shipped demo stream (``sample_streams`` DEMO_CONFIG,
  with its planted bottleneck), generated and ingested once per process;
* :func:`empty_db` — a database with the schema and nothing in it;
* :func:`rejects_only_db` — every line rejected: no data clock, but quality numbers;
* :func:`hostile_db` — names in the data that are Markdown, HTML, links or
  spreadsheet formulas (:data:`HOSTILE`).

All ingests go through ``flows.ingest.ingest`` with a fixed clock.
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from core.config import load_settings
from flows.ingest import ingest

D0 = datetime(2026, 5, 4, tzinfo=UTC)
H = timedelta(hours=1)
T1 = D0 + 12 * H
"""05-04 12:00: X-1 paused, X-2 breached, X-3 just opened."""
T2 = D0 + 36 * H
"""05-05 12:00: X-1 reopened and breached, X-2 breached, X-3 and X-5 resolved, X-4 cancelled."""


def clock() -> datetime:
    """The fixed ingest clock (``received_at`` of rejected/duplicate lines).

    After every event of the streams: an event stamped more than 7 days after it
    is received is rejected (``future_timestamp``, events.md).
    """
    return datetime(2026, 6, 1, tzinfo=UTC)


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


_n = 0


def _ev(etype: str, xid: str, at: datetime, eid: str | None = None, **fields: object) -> dict:
    global _n
    _n += 1
    e: dict[str, object] = {
        "event_id": eid or f"h-{xid}-{_n}",
        "event_type": f"exception.{etype}",
        "occurred_at": _iso(at),
        "source_system": fields.pop("source_system", "CRM"),
        "schema_version": "1",
        "exception_id": xid,
    }
    who = fields.pop("human", None)
    if who is not None:
        e["actor"] = {"id": str(who), "kind": "human"}
    e.update(fields)
    return e


def _opened(xid: str, at: datetime, **fields: object) -> dict:
    base: dict[str, object] = {
        "source_system": "WMS",
        "origin": "ATL",
        "destination": "MIA",
        "currency": "USD",
    }
    base.update(fields)
    return _ev("opened", xid, at, **base)


def hand_lines() -> list[str]:
    """The hand-made stream (see the module docstrings of the metric tests for values).

    * X-1 — high/key (9 h), SO-1 1000 USD, DC-ATL ATL→MIA ACME, inventory_shortfall:
      the worked example of kpis.md (opened 05-04 08:00, human touch 09:00, paused
      10:00–14:00, resolved 18:00, reopened 05-05 08:00, human touch 09:00);
    * X-2 — critical/standard (4 h), SO-2 500 EUR = 540 USD, DC-DAL DAL→HOU ZIP,
      carrier_failure: opened 05-04 06:00, assigned 06:30, escalated (level 1) 07:00;
    * X-3 — medium/strategic (12 h), SO-1 2000 USD, DC-ATL ATL→MIA ACME, credit_hold:
      opened 05-04 12:00, resolved 13:00 by a system (auto-resolved);
    * X-4 — low/standard (72 h), SO-4 300 USD, DC-DAL DAL→AUS no carrier,
      address_issue: opened 05-04 20:00, cancelled 21:00;
    * X-5 — critical/key with ``sla_target_hours`` 2, SO-5 800 USD, DC-ATL ATL→MIA ZIP,
      carrier_failure: opened 05-05 00:00, human touch 01:00, resolved 05:00;
    * plus a duplicate of X-1's first touch, a touch for X-9 (never opened: pending),
      one invalid JSON line and one unknown event type.
    """
    d = D0
    touch = _ev("touched", "X-1", d + 9 * H, eid="h-x1-touch", human="u-17", action="recount")
    events: list[dict | str] = [
        _opened(
            "X-1",
            d + 8 * H,
            eid="h-x1-open",
            order_id="SO-1",
            category="inventory_shortfall",
            severity="high",
            site="DC-ATL",
            carrier="ACME",
            customer_tier="key",
            order_value=1000.0,
        ),
        touch,
        _ev("paused", "X-1", d + 10 * H, human="u-17", reason="waiting_on_customer"),
        _ev("resumed", "X-1", d + 14 * H),
        _ev("resolved", "X-1", d + 18 * H, human="u-17", resolution_code="split_ship"),
        _ev("reopened", "X-1", d + 32 * H, reason="customer_called"),
        _ev("touched", "X-1", d + 33 * H, human="u-18", action="call"),
        _opened(
            "X-2",
            d + 6 * H,
            source_system="TMS",
            order_id="SO-2",
            category="carrier_failure",
            severity="critical",
            site="DC-DAL",
            origin="DAL",
            destination="HOU",
            carrier="ZIP",
            customer_tier="standard",
            order_value=500.0,
            currency="EUR",
        ),
        _ev("assigned", "X-2", d + 6.5 * H, owner_team="carrier-desk"),
        _ev("escalated", "X-2", d + 7 * H, human="u-2", level=1),
        _opened(
            "X-3",
            d + 12 * H,
            order_id="SO-1",
            category="credit_hold",
            severity="medium",
            site="DC-ATL",
            carrier="ACME",
            customer_tier="strategic",
            order_value=2000.0,
        ),
        _ev("resolved", "X-3", d + 13 * H, source_system="ERP", resolution_code="credit_released"),
        _opened(
            "X-4",
            d + 20 * H,
            order_id="SO-4",
            category="address_issue",
            severity="low",
            site="DC-DAL",
            origin="DAL",
            destination="AUS",
            customer_tier="standard",
            order_value=300.0,
        ),
        _ev("cancelled", "X-4", d + 21 * H, human="u-3", reason="opened_in_error"),
        _opened(
            "X-5",
            d + 24 * H,
            order_id="SO-5",
            category="carrier_failure",
            severity="critical",
            site="DC-ATL",
            carrier="ZIP",
            customer_tier="key",
            order_value=800.0,
            sla_target_hours=2,
        ),
        _ev("touched", "X-5", d + 25 * H, human="u-9", action="rebook"),
        _ev("resolved", "X-5", d + 29 * H, human="u-9", resolution_code="rebooked"),
        dict(touch),
        _ev("touched", "X-9", d + 7 * H, eid="h-x9-touch", human="u-4", action="note"),
        "{this is not json",
        json.dumps(
            {
                "event_id": "h-bad",
                "event_type": "exception.teleported",
                "occurred_at": "2026-05-04T10:00:00Z",
                "source_system": "X",
                "schema_version": "1",
                "exception_id": "X-1",
            }
        ),
    ]
    return [e if isinstance(e, str) else json.dumps(e) for e in events]


_ROOT: list[Path] = []


def _root() -> Path:
    if not _ROOT:
        _ROOT.append(Path(tempfile.mkdtemp(prefix="fpi-dash-tests-")))
        atexit.register(shutil.rmtree, _ROOT[0], True)
    return _ROOT[0]


def ingest_lines(lines: list[str], folder: Path, name: str = "fpi.duckdb") -> Path:
    """Write ``lines`` as JSON Lines in ``folder`` and ingest them into ``folder/name``."""
    folder.mkdir(parents=True, exist_ok=True)
    src = folder / "stream.jsonl"
    src.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    db = folder / name
    ingest([src], db, load_settings(), clock)
    return db


@cache
def hand_db() -> Path:
    """The hand-made scenario, ingested (once per process; treat as read-only)."""
    return ingest_lines(hand_lines(), _root() / "hand")


@cache
def empty_db() -> Path:
    """A database with the schema but no line ingested (read-only)."""
    return ingest_lines([], _root() / "empty")


@cache
def rejects_only_db() -> Path:
    """A database where every line was rejected: no data clock (read-only)."""
    return ingest_lines(["{oops", "[]", '{"event_id": 1}'], _root() / "rejects")


@cache
def sample_stream() -> Path:
    """The demo stream of ``sample_streams``: the shipped file, else generated from
    its DEMO_CONFIG (once)."""
    from sample_streams.generator import DEMO_CONFIG, DEMO_PATH, write_stream

    if DEMO_PATH.is_file():
        return DEMO_PATH
    path = _root() / "sample" / "demo.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_stream(path, DEMO_CONFIG)
    return path


@cache
def sample_db() -> Path:
    """The demo stream ingested (once per process; treat as read-only)."""
    src = sample_stream()
    folder = _root() / "sample"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "demo.duckdb"
    ingest([src], db, load_settings(), clock)
    return db


def copy_db(src: Path, dest_dir: Path) -> Path:
    """A private copy of a database (for tests that write to it): the views
    file and its ``.d`` folder (the store and the published files; the copy's
    views point at the original's files until its first write re-points them)."""
    dest_dir.mkdir(parents=True, exist_ok=True)
    dest = dest_dir / src.name
    shutil.copy2(src, dest)
    folder = src.with_name(src.name + ".d")
    if folder.is_dir():
        shutil.copytree(folder, dest.with_name(dest.name + ".d"))
    wal = src.with_name(src.name + ".wal")
    if wal.exists():
        shutil.copy2(wal, dest.with_name(dest.name + ".wal"))
    return dest


EVIL = "evil.example"
"""The domain of every link planted in :func:`hostile_lines` (must never be a link)."""
HOSTILE = {
    "category": "[clickme](https://evil.example)",
    "category_html": "<a href='https://evil.example'>x</a>",
    "category_md": "**bold** ___ ? :red[x] $x$",
    "category_formula": '=HYPERLINK("https://evil.example","x")',
    "site": "<script>alert(1)</script> www.evil.example",
    "carrier": "x@evil.example",
    "exception_id": "X-[a](https://evil.example)",
    "actor": "=cmd|' /C calc'!A0",
    "raw": "=1+1 not json https://evil.example",
}
"""Hostile values of :func:`hostile_db`: categories are any string up to 128 characters."""


def hostile_lines() -> list[str]:
    """Four open exceptions whose names are Markdown/HTML/links/formulas, a touch by
    a formula-named actor, and one rejected line that is a formula."""
    d = D0
    h = HOSTILE
    events: list[dict | str] = [
        _opened(
            h["exception_id"],
            d + 8 * H,
            order_id="SO-H1",
            category=h["category"],
            severity="critical",
            site=h["site"],
            carrier=h["carrier"],
            customer_tier="key",
            order_value=100.0,
        ),
        _ev("touched", h["exception_id"], d + 9 * H, human=h["actor"], action="=2+2"),
        _opened(
            "H-2",
            d + 8 * H,
            order_id="SO-H2",
            category=h["category_html"],
            severity="high",
            site="DC-ATL",
            carrier="ACME",
            customer_tier="standard",
            order_value=200.0,
        ),
        _opened(
            "H-3",
            d + 8 * H,
            order_id="SO-H3",
            category=h["category_md"],
            severity="low",
            site=h["site"],
            customer_tier="standard",
            order_value=300.0,
        ),
        _opened(
            "H-4",
            d + 8 * H,
            order_id="SO-H4",
            category=h["category_formula"],
            severity="medium",
            site="DC-ATL",
            customer_tier="strategic",
            order_value=400.0,
        ),
        h["raw"],
    ]
    return [e if isinstance(e, str) else json.dumps(e) for e in events]


@cache
def hostile_db() -> Path:
    """:func:`hostile_lines` ingested (once per process; treat as read-only)."""
    return ingest_lines(hostile_lines(), _root() / "hostile")

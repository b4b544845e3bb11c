"""Builders of contract-v1 events and small streams for tests."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from core.config import load_settings
from flows.ingest import IngestSummary, ingest

T0 = datetime(2026, 5, 4, 8, 0, tzinfo=UTC)
FIXED_NOW = datetime(2026, 6, 1, tzinfo=UTC)


def fixed_clock() -> datetime:
    return FIXED_NOW


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


_counter = iter(range(10**9))


def ev(
    event_type: str,
    xid: str | None,
    at: datetime,
    *,
    eid: str | None = None,
    human: bool | None = None,
    **fields: object,
) -> dict:
    """One event dict. ``xid`` is the exception id (or the order id for order events)."""
    e: dict[str, object] = {
        "event_id": eid or f"ev-{next(_counter)}",
        "event_type": event_type,
        "occurred_at": iso(at),
        "source_system": "TEST",
        "schema_version": "1",
    }
    if event_type.startswith("order."):
        e["order_id"] = xid
    else:
        e["exception_id"] = xid
    if human is not None:
        e["actor"] = {"id": "u-1" if human else "bot", "kind": "human" if human else "system"}
    e.update(fields)
    return e


def opened(
    xid: str,
    at: datetime,
    *,
    order_id: str | None = None,
    severity: str = "high",
    tier: str = "key",
    value: float = 1000.0,
    currency: str = "USD",
    site: str = "DC-ATL",
    origin: str = "ATL",
    destination: str = "MIA",
    carrier: str | None = "ACME",
    category: str = "inventory_shortfall",
    eid: str | None = None,
    **extra: object,
) -> dict:
    fields: dict[str, object] = dict(
        order_id=order_id or f"SO-{xid}",
        category=category,
        severity=severity,
        site=site,
        origin=origin,
        destination=destination,
        customer_tier=tier,
        order_value=value,
        currency=currency,
    )
    if carrier is not None:
        fields["carrier"] = carrier
    fields.update(extra)
    return ev("exception.opened", xid, at, eid=eid, **fields)


def released(
    oid: str,
    at: datetime,
    promised: str,
    *,
    site: str = "DC-ATL",
    origin: str = "ATL",
    destination: str = "MIA",
    tier: str = "key",
    value: float = 10.0,
    currency: str = "USD",
    **extra: object,
) -> dict:
    """An ``order.released`` event; ``promised`` is the RFC 3339 promised delivery time."""
    return ev(
        "order.released",
        oid,
        at,
        site=site,
        origin=origin,
        destination=destination,
        customer_tier=tier,
        order_value=value,
        currency=currency,
        promised_delivery_at=promised,
        **extra,
    )


def worked_example() -> list[dict]:
    """The worked example of kpis.md: X-1, high/key (9 h target), 1000 USD."""
    d = datetime(2026, 5, 4, tzinfo=UTC)
    h = timedelta(hours=1)
    touch = ev("exception.touched", "X-1", d + 9 * h, eid="w-2", human=True, action="recount")
    return [
        opened("X-1", d + 8 * h, eid="w-1"),
        touch,
        ev("exception.paused", "X-1", d + 10 * h, eid="w-3", reason="waiting_on_customer"),
        ev("exception.resumed", "X-1", d + 14 * h, eid="w-4"),
        ev(
            "exception.resolved",
            "X-1",
            d + 18 * h,
            eid="w-5",
            human=True,
            resolution_code="split_ship",
        ),
        ev("exception.reopened", "X-1", d + 32 * h, eid="w-6"),
        ev("exception.touched", "X-1", d + 33 * h, eid="w-7", human=True, action="call"),
        dict(touch),
    ]


def write_jsonl(path: Path, events: Iterable[dict | str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for e in events:
            fh.write((e if isinstance(e, str) else json.dumps(e, ensure_ascii=False)) + "\n")
    return path


def ingest_events(
    tmp: Path, events: Iterable[dict | str], db: Path | None = None, name: str = "stream.jsonl"
) -> tuple[Path, IngestSummary]:
    """Write ``events`` as JSON Lines under ``tmp`` and ingest them into ``db``."""
    path = write_jsonl(tmp / name, events)
    db = db or tmp / "fpi.duckdb"
    summary = ingest([path], db, load_settings(), fixed_clock)
    return db, summary


def table(db: Path, sql: str) -> pl.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


ALERT_COLUMNS = (
    "alert_id",
    "exception_id",
    "kind",
    "revision",
    "due_at",
    "raised_at",
    "retracted_at",
    "site",
    "lane",
    "carrier",
    "category",
    "severity",
    "customer_tier",
    "owner_team",
    "source_system",
)
"""The ``sla_alerts`` columns the alert tests compare with the reference."""


def alert_rows(db: Path) -> list[tuple]:
    """``sla_alerts`` rows of ``db`` (:data:`ALERT_COLUMNS`), by ``alert_id``."""
    df = table(db, f"SELECT {', '.join(ALERT_COLUMNS)} FROM sla_alerts ORDER BY alert_id")
    return [tuple(r) for r in df.iter_rows()]


def random_stream(rng: random.Random, n_exceptions: int = 12, orders: int = 4) -> list[dict]:
    """A random but valid stream: every lifecycle event kind, distinct opened times."""
    events: list[dict] = []
    base = T0
    used_minutes: set[int] = set()
    for i in range(n_exceptions):
        xid = f"X-{i}"
        while True:
            m = rng.randrange(0, 60 * 24 * 3)
            if m not in used_minutes:
                used_minutes.add(m)
                break
        t = base + timedelta(minutes=m)
        events.append(
            opened(
                xid,
                t,
                order_id=f"SO-{rng.randrange(orders)}",
                severity=rng.choice(["low", "medium", "high", "critical"]),
                tier=rng.choice(["strategic", "key", "standard"]),
                value=float(rng.randrange(100, 5000)),
                currency=rng.choice(["USD", "EUR"]),
                site=rng.choice(["DC-ATL", "DC-DAL"]),
                carrier=rng.choice(["ACME", "ZIP", None]),
                category=rng.choice(["inventory_shortfall", "carrier_failure", "credit_hold"]),
                **({"sla_target_hours": 2.5} if rng.random() < 0.15 else {}),
            )
        )
        used_seconds: set[int] = {0}
        for _ in range(rng.randrange(0, 9)):
            sec = 0
            while sec in used_seconds:
                sec = rng.randrange(-5400, 3600 * 60)
            used_seconds.add(sec)
            t2 = t + timedelta(seconds=sec)
            kind = rng.choice(
                [
                    "touched",
                    "touched",
                    "assigned",
                    "escalated",
                    "paused",
                    "resumed",
                    "resolved",
                    "resolved",
                    "reopened",
                    "cancelled" if rng.random() < 0.2 else "touched",
                ]
            )
            extra: dict[str, object] = {}
            if kind == "touched":
                extra["action"] = "call"
            elif kind == "assigned":
                extra["owner_team"] = rng.choice(["alpha", "beta"])
            elif kind == "escalated":
                extra["level"] = rng.randrange(1, 4)
            elif kind == "paused":
                extra["reason"] = "waiting_on_customer"
            elif kind == "resolved":
                extra["resolution_code"] = "fixed"
            events.append(ev(f"exception.{kind}", xid, t2, human=rng.random() < 0.7, **extra))
    return events


def _grid_time(rng: random.Random, step_minutes: int, slots: int) -> datetime:
    return T0 + timedelta(minutes=step_minutes * rng.randrange(slots))


def _promise(rng: random.Random, at: datetime) -> str:
    """An RFC 3339 promise, in one of a few offsets (the instant is what counts)."""
    tz = timezone(timedelta(hours=rng.choice([0, 2, -5])))
    return at.astimezone(tz).isoformat().replace("+00:00", "Z")


def random_order_milestones(rng: random.Random, oid: str) -> list[dict]:
    """Milestones of one order: released once or twice (the second release possibly
    at the same time or earlier, with another promise and attributes), sometimes
    never released, shipped with or without a carrier, delivered in full or not
    (possibly twice, possibly at the same time), invoiced."""
    h = timedelta(hours=1)
    events: list[dict] = []
    r1 = _grid_time(rng, 30, 6 * 24)
    release_times = [r1]
    if rng.random() < 0.4:
        release_times.append(r1 + rng.choice([0, -2, 5, 30]) * h)
    if rng.random() < 0.15:
        release_times = []  # never released: shipped or delivered only
    for at in release_times:
        events.append(
            released(
                oid,
                at,
                _promise(rng, at + rng.randrange(6, 72) * h),
                site=rng.choice(["DC-ATL", "DC-DAL", "DC-RNO"]),
                origin=rng.choice(["ATL", "DAL"]),
                destination=rng.choice(["MIA", "NYC"]),
                tier=rng.choice(["strategic", "key", "standard"]),
                value=float(rng.randrange(10, 900)),
                source_system=rng.choice(["ERP", "TMS"]),
                **(
                    {"carrier": c}
                    if (c := rng.choice(["ACME", "ZIP", None, ""])) is not None
                    else {}
                ),
            )
        )
    if events and rng.random() < 0.1:  # the same event_id again with another body
        events.append({**events[0], "site": "DC-DUP"})
    for _ in range(rng.randrange(0, 3)):
        c = rng.choice(["ACME", "ZIP", "FAST", None, ""])
        at = r1 + rng.randrange(1, 40) * h
        events.append(ev("order.shipped", oid, at, **({} if c is None else {"carrier": c})))
    delivered_at = r1 + rng.randrange(-10, 100) * h  # at times before the release
    for _ in range(rng.choice([0, 1, 1, 1, 2])):
        events.append(ev("order.delivered", oid, delivered_at, in_full=rng.random() < 0.7))
        delivered_at += rng.choice([0, 0, 3, 20]) * h
    if rng.random() < 0.3:
        events.append(ev("order.invoiced", oid, delivered_at + 2 * h, invoice_id=f"INV-{oid}"))
    return events


def _random_opened_fields(rng: random.Random, order_id: str) -> dict[str, Any]:
    """Keyword arguments of ``opened`` over every dimension (carrier possibly empty)."""
    carrier = rng.choice(["ACME", "ZIP", None, ""])
    return dict(
        order_id=order_id,
        severity=rng.choice(["low", "medium", "high", "critical"]),
        tier=rng.choice(["strategic", "key", "standard"]),
        value=rng.randrange(10_000, 500_000) / 100,
        currency=rng.choice(["USD", "EUR"]),
        site=rng.choice(["DC-ATL", "DC-DAL", "DC-RNO"]),
        origin=rng.choice(["ATL", "DAL"]),
        destination=rng.choice(["MIA", "NYC"]),
        carrier=carrier,
        category=rng.choice(["inventory_shortfall", "carrier_failure", "credit_hold"]),
        source_system=rng.choice(["WMS", "ERP", "CRM"]),
        **({"sla_target_hours": 2.5} if rng.random() < 0.15 else {}),
    )


def random_mixed_stream(
    rng: random.Random, n_exceptions: int = 14, n_orders: int = 12
) -> list[dict]:
    """A random valid stream over every dimension of kpis.md: exceptions (varied
    site, lane, carrier incl. empty, category, severity, tier, owner team, source
    system; times on a coarse grid so ties happen, some opened on the same order
    at the same time as the one before; a few duplicate opens and duplicate
    follow-ups) and order milestones of orders ``SO-0`` … whose ids
    overlap with the exceptions' order ids (some exception orders have no
    milestones, some orders no exceptions)."""
    events: list[dict] = []
    t = _grid_time(rng, 15, 4 * 24 * 3)
    order_id = "SO-0"
    for i in range(n_exceptions):
        xid = f"X-{i}"
        sibling = rng.random() < 0.2  # same order, same opened time as the one before
        if not sibling:
            t = _grid_time(rng, 15, 4 * 24 * 3)
            order_id = f"SO-{rng.randrange(n_orders + 3)}"
        events.append(opened(xid, t, **_random_opened_fields(rng, order_id)))
        if rng.random() < 0.05:  # duplicate_open: the first to arrive wins
            events.append(
                opened(
                    xid,
                    t + rng.choice([0, 1, -1]) * timedelta(hours=1),
                    **_random_opened_fields(rng, order_id),
                )
            )
        for _ in range(rng.randrange(0, 9)):
            t2 = t + timedelta(minutes=5 * rng.randrange(-18, 12 * 60))
            kind = rng.choice(
                [
                    "touched",
                    "touched",
                    "assigned",
                    "assigned",
                    "escalated",
                    "paused",
                    "resumed",
                    "resolved",
                    "resolved",
                    "reopened",
                    "cancelled" if rng.random() < 0.4 else "touched",
                ]
            )
            extra: dict[str, object] = {}
            if kind == "touched":
                extra["action"] = "call"
            elif kind == "assigned":
                extra["owner_team"] = rng.choice(["alpha", "beta", "gamma"])
            elif kind == "escalated":
                extra["level"] = rng.randrange(1, 4)
            elif kind == "paused":
                extra["reason"] = "waiting_on_customer"
            elif kind == "resolved":
                extra["resolution_code"] = "fixed"
            human = rng.choice([True, False, None])
            events.append(ev(f"exception.{kind}", xid, t2, human=human, **extra))
            if rng.random() < 0.05:
                events.append(dict(events[-1]))  # a duplicate, same body
    for k in range(n_orders):
        events.extend(random_order_milestones(rng, f"SO-{k}"))
    return events

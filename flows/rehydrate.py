"""Rebuild the flow's state from DuckDB before a run.

The database is the source of truth: what it holds is exactly what earlier
runs applied. Before a run we load, per shard, the seen event ids (with their
positions, for replay-vs-duplicate), each exception's opened facts and
compact follow-up steps, and the held (pending) events. So a second
``fpi ingest`` finds duplicates across runs, applies late follow-ups to
exceptions opened earlier, and releases held events when their opened event
finally arrives.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from core.config import Settings
from core.db import open_write

from .exception_state import ExceptionShard
from .lifecycle import Step
from .parse import Parsed, parse_line
from .prior import DEFAULT_SHARDS, PriorState
from .records import OpenedInfo, shard_of


def _dedupe(con: duckdb.DuckDBPyConnection, prior: PriorState) -> None:
    rows = con.execute(
        """SELECT event_id, source, source_offset FROM exception_events
           UNION ALL SELECT event_id, source, source_offset FROM pending_events
           UNION ALL SELECT event_id, source, source_offset FROM rejected_events
                     WHERE reason = 'duplicate_open' AND event_id IS NOT NULL"""
    ).fetchall()
    sources: dict[str, str] = {}
    seen = prior.dedupe.seen
    for eid, source, offset in rows:
        seen.setdefault(eid, (sources.setdefault(source, source), offset))


def _shard(prior: PriorState, exception_id: str) -> ExceptionShard:
    k = shard_of(exception_id, prior.shards)
    s = prior.exceptions.get(k)
    if s is None:
        s = prior.exceptions[k] = ExceptionShard()
    return s


def _exceptions(con: duckdb.DuckDBPyConnection, prior: PriorState, settings: Settings) -> None:
    for row in con.execute(
        """SELECT exception_id, order_id, category, severity, site, origin, destination,
                  carrier, customer_tier, customer_id, source_system, order_value, currency,
                  order_value_reporting, sla_target_hours, sla_target_source,
                  epoch_us(opened_at), opened_event_id, opened_seq
           FROM exceptions"""
    ).fetchall():
        info = OpenedInfo(*row)
        shard = _shard(prior, info.exception_id)
        shard.opened[info.exception_id] = info
        shard.steps[info.exception_id] = []
    for xid, occurred, seq, etype, kind, owner, level, eid in con.execute(
        """SELECT exception_id, epoch_us(occurred_at), arrival_seq, event_type, actor_kind,
                  owner_team, escalation_level, event_id
           FROM exception_events
           WHERE exception_id IS NOT NULL AND event_type <> 'exception.opened'"""
    ).fetchall():
        value = owner if owner is not None else level
        _shard(prior, xid).steps[xid].append(
            Step(occurred, seq, etype, kind == "human", value, eid)
        )
    for source, offset, seq, payload, received in con.execute(
        "SELECT source, source_offset, arrival_seq, payload, epoch_us(received_at) "
        "FROM pending_events ORDER BY arrival_seq"
    ).fetchall():
        p = parse_line(payload.encode("utf-8"), source, offset, seq, settings, received)
        if isinstance(p, Parsed):
            xid = p.exception_id
            _shard(prior, xid).pending.setdefault(xid, []).append(p)


def load_prior(db: Path, settings: Settings, shards: int = DEFAULT_SHARDS) -> PriorState:
    """State for a run over ``db`` (which must exist with its schema)."""
    prior = PriorState(shards=shards)
    with open_write(db) as con:
        _dedupe(con, prior)
        _exceptions(con, prior, settings)
    return prior

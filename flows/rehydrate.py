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

from core import schema
from core.config import Settings
from core.db import open_write

from .exception_state import ExceptionShard
from .lifecycle import Step
from .parse import Parsed, parse_line
from .prior import DEFAULT_SHARDS, PriorState
from .records import OpenedInfo, shard_of

_EVENTS, _PENDING, _REJECTED = (
    schema.EXCEPTION_EVENTS,
    schema.PENDING_EVENTS,
    schema.REJECTED_EVENTS,
)
_POSITION = ("event_id", "source", "source_offset")
_STEP = (
    "exception_id",
    "occurred_at",
    "arrival_seq",
    "event_type",
    "actor_kind",
    "owner_team",
    "escalation_level",
    "event_id",
)
_HELD = ("source", "source_offset", "arrival_seq", "payload", "received_at")

# Select lists come from core.schema (checked names, times as integer µs);
# the names and conditions are constants of this module.
_SEEN_SQL = f"""SELECT {_EVENTS.select(*_POSITION)} FROM {_EVENTS.name}
UNION ALL SELECT {_PENDING.select(*_POSITION)} FROM {_PENDING.name}
UNION ALL SELECT {_REJECTED.select(*_POSITION)} FROM {_REJECTED.name}
    WHERE reason = 'duplicate_open' AND event_id IS NOT NULL"""  # noqa: S608
_OPENED_SQL = (
    f"SELECT {schema.EXCEPTIONS.select(*schema.EXCEPTIONS.group(schema.OPENED))} "  # noqa: S608
    f"FROM {schema.EXCEPTIONS.name}"
)
_STEPS_SQL = f"""SELECT {_EVENTS.select(*_STEP)} FROM {_EVENTS.name}
    WHERE exception_id IS NOT NULL AND event_type <> 'exception.opened'"""  # noqa: S608
_HELD_SQL = f"SELECT {_PENDING.select(*_HELD)} FROM {_PENDING.name} ORDER BY arrival_seq"  # noqa: S608


def _dedupe(con: duckdb.DuckDBPyConnection, prior: PriorState) -> None:
    rows = con.execute(_SEEN_SQL).fetchall()
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
    for row in con.execute(_OPENED_SQL).fetchall():
        info = OpenedInfo(*row)
        shard = _shard(prior, info.exception_id)
        shard.opened[info.exception_id] = info
        shard.steps[info.exception_id] = []
    for xid, occurred, seq, etype, kind, owner, level, eid in con.execute(_STEPS_SQL).fetchall():
        value = owner if owner is not None else level
        _shard(prior, xid).steps[xid].append(
            Step(occurred, seq, etype, kind == "human", value, eid)
        )
    for source, offset, seq, payload, received in con.execute(_HELD_SQL).fetchall():
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

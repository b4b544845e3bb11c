"""The writer's store: one DuckDB connection held for the whole run, and the
lookups the dataflow's state makes in it.

The store is the source of truth: what it holds is exactly what was
committed. The dataflow keeps only *hot* state in memory (open exceptions,
ids not yet committed, two :class:`~flows.idfilter.IdFilter`\\ s) and asks the
store, one batched query per chunk, for what it does not hold:

* :meth:`Store.positions` — where an already-stored event id was read (exact
  dedupe for the ids the event-id filter cannot rule out);
* :meth:`Store.load_exceptions` — the opened facts, follow-up steps, held
  events and alert state (dues, standing alerts, revisions) of exceptions
  not in memory (evicted closed ones, ones opened by an earlier run), for
  the ids the exception-id filter cannot rule out;
* :meth:`Store.pending_dues` — at start, the dues of open exceptions that no
  alert stands for yet (what the data clock must raise, event or no event).

Both are index lookups (the primary key of ``exception_events`` /
``exceptions`` / ``pending_events``, and ``exception_events_exception`` on
``exception_events(exception_id)``), so their cost follows the number of ids
asked, not the size of the history (held events and alerts, by exception,
scan their small tables).

``committed`` is written by the sink after each commit: for each stream key,
the highest chunk tag whose output is committed. State for anything at or
below it may leave memory, because the store can give it back.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from core import schema
from core.config import Settings
from core.db import cursor, init_schema, open_write

from .alerts import AT_RISK, BREACHED, Alert, ExceptionAlerts
from .idfilter import FILTERS_DDL, FILTERS_TABLE, Hashes, IdFilter, hash_ids, hash_series
from .lifecycle import OPENED, Step
from .parse import Parsed, parse_line
from .records import OpenedInfo

INDEXES: tuple[str, ...] = (
    f"CREATE INDEX IF NOT EXISTS exception_events_exception "
    f"ON {schema.EXCEPTION_EVENTS.name}(exception_id)",
)
"""Indexes the state lookups use (created once, kept by DuckDB on insert).

``sla_alerts`` and ``pending_events`` have none beside their keys: their rows
are replaced and deleted, and an extra ART index on such a table failed
DuckDB's WAL replay after a ``kill -9`` ("Failed to delete all rows from
index"; with ``pending_events``, a held event lost). Both are small next to
the events, so their lookups by exception scan them."""

DROPPED_INDEXES: tuple[str, ...] = ("DROP INDEX IF EXISTS pending_events_exception",)
"""Indexes earlier releases created (see above)."""

EVENT_IDS = "event_ids"
EXCEPTION_IDS = "exception_ids"

_EVENTS, _PENDING, _REJECTED = (
    schema.EXCEPTION_EVENTS,
    schema.PENDING_EVENTS,
    schema.REJECTED_EVENTS,
)
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
_HELD = ("exception_id", "source", "source_offset", "arrival_seq", "payload", "received_at")
_OPENED_COLS = schema.EXCEPTIONS.group(schema.OPENED)

# Every id a filter must cover, with the time its row was stamped (µs). The
# names and conditions are constants of this module.
_EVENT_ID_ROWS = f"""
    SELECT event_id AS id, epoch_us(ingested_at) AS t FROM {_EVENTS.name}
    UNION ALL SELECT event_id, epoch_us(received_at) FROM {_PENDING.name}
    UNION ALL SELECT event_id, epoch_us(received_at) FROM {_REJECTED.name}
        WHERE reason = 'duplicate_open' AND event_id IS NOT NULL"""  # noqa: S608
_EXCEPTION_ID_ROWS = f"""
    SELECT exception_id AS id, epoch_us(ingested_at) AS t FROM {_EVENTS.name}
        WHERE event_type = '{OPENED}'
    UNION ALL SELECT exception_id, epoch_us(received_at) FROM {_PENDING.name}"""  # noqa: S608
_ID_ROWS = {EVENT_IDS: _EVENT_ID_ROWS, EXCEPTION_IDS: _EXCEPTION_ID_ROWS}


def _marks(n: int) -> str:
    return ", ".join("?" * n)


@dataclass(slots=True)
class Loaded:
    """What the store holds about some exceptions."""

    opened: dict[str, OpenedInfo] = field(default_factory=dict)
    steps: dict[str, list[Step]] = field(default_factory=dict)
    held: dict[str, list[Parsed]] = field(default_factory=dict)
    alerts: dict[str, ExceptionAlerts] = field(default_factory=dict)
    owner: dict[str, str] = field(default_factory=dict)
    """Each exception's current ``owner_team``."""


_STATE_COLS = ("owner_team", "at_risk_due_at", "breach_due_at")
_ALERT_COLS = ("exception_id", "kind", "revision", "due_at", "raised_at", "retracted_at")

# Open exceptions with a due no alert stands for (a constant query).
_PENDING_DUES = f"""
    WITH due AS (
        SELECT exception_id, '{AT_RISK}' AS kind, epoch_us(at_risk_due_at) AS due_us
        FROM {schema.EXCEPTIONS.name} WHERE status = 'open' AND at_risk_due_at IS NOT NULL
        UNION ALL
        SELECT exception_id, '{BREACHED}', epoch_us(breach_due_at)
        FROM {schema.EXCEPTIONS.name} WHERE status = 'open' AND breach_due_at IS NOT NULL)
    SELECT due.due_us, due.exception_id, due.kind FROM due
    ANTI JOIN (SELECT exception_id, kind, epoch_us(due_at) AS due_us
               FROM {schema.SLA_ALERTS.name} WHERE retracted_at IS NULL) standing
        USING (exception_id, kind, due_us)"""  # noqa: S608


class Store:
    """The writer's connection to its DuckDB file (held open for the run)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path) -> None:
        self.con = con
        self.path = path
        self.committed: dict[str, int] = {}
        self._key: str | None = None
        self._lookup = cursor(con)
        self._lock = threading.Lock()

    def claim(self, key: str) -> None:
        """Be the store of the stream key ``key``'s state (its commits restart at 0).

        One stream key per store: the dedupe state (uncommitted ids, filters)
        is per applier, so two keys writing one store could each take the
        same event id for new. A second key is refused.
        """
        if self._key is not None and self._key != key:
            raise RuntimeError(f"one stream key per store: {self._key!r} is here, not {key!r}")
        self._key = key
        self.committed[key] = 0

    # -- lookups -------------------------------------------------------------

    def positions(self, event_ids: Sequence[str]) -> dict[str, tuple[str, int]]:
        """Where each of ``event_ids`` that is stored was read (absent: never stored)."""
        if not event_ids:
            return {}
        ids = list(dict.fromkeys(event_ids))
        m = _marks(len(ids))
        sql = f"""
            SELECT event_id, source, source_offset FROM {_EVENTS.name} WHERE event_id IN ({m})
            UNION ALL SELECT event_id, source, source_offset FROM {_PENDING.name}
                WHERE event_id IN ({m})
            UNION ALL SELECT event_id, source, source_offset FROM {_REJECTED.name}
                WHERE reason = 'duplicate_open' AND event_id IN ({m})"""  # noqa: S608
        with self._lock:
            rows = self._lookup.execute(sql, ids * 3).fetchall()
        out: dict[str, tuple[str, int]] = {}
        for eid, source, offset in rows:
            out.setdefault(eid, (source, offset))
        return out

    def load_exceptions(self, exception_ids: Sequence[str], settings: Settings) -> Loaded:
        """Opened facts, follow-up steps and held events of ``exception_ids``."""
        loaded = Loaded()
        if not exception_ids:
            return loaded
        ids = list(dict.fromkeys(exception_ids))
        m = _marks(len(ids))
        x = schema.EXCEPTIONS
        with self._lock:
            cur = self._lookup
            rows = cur.execute(
                f"SELECT {x.select(*_OPENED_COLS, *_STATE_COLS)} "  # noqa: S608
                f"FROM {x.name} WHERE exception_id IN ({m})",
                ids,
            ).fetchall()
            alerts = cur.execute(
                f"SELECT {schema.SLA_ALERTS.select(*_ALERT_COLS)} "  # noqa: S608
                f"FROM {schema.SLA_ALERTS.name} WHERE exception_id IN ({m})",
                ids,
            ).fetchall()
            # the id list alone, so DuckDB probes the index (adding the event
            # type to the WHERE turned it into a scan of the whole table)
            steps = cur.execute(
                f"SELECT {_EVENTS.select(*_STEP)} FROM {_EVENTS.name} "  # noqa: S608
                f"WHERE exception_id IN ({m})",
                ids,
            ).fetchall()
            held = cur.execute(
                f"SELECT {_PENDING.select(*_HELD)} FROM {_PENDING.name} "  # noqa: S608
                f"WHERE exception_id IN ({m}) ORDER BY arrival_seq",
                ids,
            ).fetchall()
        opened = [r[: -len(_STATE_COLS)] for r in rows]
        dues = {str(r[0]): (r[-2], r[-1]) for r in rows}
        loaded.owner = {str(r[0]): str(r[-3]) for r in rows}
        for row in opened:
            info = OpenedInfo(*row)
            loaded.opened[info.exception_id] = info
            loaded.steps[info.exception_id] = []
        for xid, occurred, seq, etype, kind, owner, level, eid in steps:
            if xid in loaded.steps and etype != OPENED:
                value = owner if owner is not None else level
                loaded.steps[xid].append(Step(occurred, seq, etype, kind == "human", value, eid))
        for xid, source, offset, seq, payload, received in held:
            p = parse_line(payload.encode("utf-8"), source, offset, seq, settings, received)
            if isinstance(p, Parsed):
                loaded.held.setdefault(xid, []).append(p)
        for row in opened:
            xid = str(row[0])
            state = loaded.alerts[xid] = ExceptionAlerts()
            state.kinds[AT_RISK].due_us, state.kinds[BREACHED].due_us = dues[xid]
        for xid, kind, revision, due, raised, retracted in alerts:
            ks = loaded.alerts[xid].kinds[kind] if xid in loaded.alerts else None
            if ks is None:
                continue
            ks.revision = max(ks.revision, int(revision))
            alert = Alert(xid, kind, int(revision), int(due), int(raised), retracted)
            loaded.alerts[xid].raised.append(alert)
            if retracted is None:
                ks.standing = alert
        return loaded

    def pending_dues(self) -> list[tuple[int, str, str]]:
        """``(due_us, exception_id, kind)`` of every open exception's due that no
        alert stands for: what a restarted flow waits for (one scan of the
        open exceptions, not of the history)."""
        with self._lock:
            rows = self._lookup.execute(_PENDING_DUES).fetchall()
        return [(int(d), str(x), str(k)) for d, x, k in rows]

    def data_clock(self) -> int | None:
        """The stored data clock (µs), None when nothing set it yet."""
        with self._lock:
            rows = self._lookup.execute(
                f"SELECT epoch_us(data_clock) FROM {schema.FLOW_CLOCK.name} WHERE name = 'flow'"  # noqa: S608
            ).fetchall()
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def stream_offsets(self, topic: str) -> dict[int, int]:
        """The next offset to read of each partition of ``topic`` (as committed)."""
        with self._lock:
            rows = self._lookup.execute(
                f"SELECT partition, next_offset FROM {schema.STREAM_OFFSETS.name} "  # noqa: S608
                "WHERE topic = ?",
                [topic],
            ).fetchall()
        return {int(p): int(o) for p, o in rows}

    # -- filters -------------------------------------------------------------

    def load_filter(self, name: str) -> IdFilter:
        """The saved filter ``name`` caught up with rows stamped since its save;
        rebuilt from every stored id when absent, from another hash engine,
        or over capacity."""
        with self._lock:
            cur = self._lookup
            saved = IdFilter.load(cur, name)
            if saved is not None:
                f, watermark = saved
                sql = f"SELECT id FROM ({_ID_ROWS[name]}) WHERE t >= ?"  # noqa: S608
                self._add_all(f, cur.sql(sql, params=[watermark]))
                if not f.full:
                    return f
            return self._rebuild(cur, name, 0)

    def rebuild_filter(self, name: str, at_least: int) -> IdFilter:
        """A new filter of every stored id, sized for twice ``at_least`` ids."""
        with self._lock:
            return self._rebuild(self._lookup, name, at_least)

    def _rebuild(self, cur: duckdb.DuckDBPyConnection, name: str, at_least: int) -> IdFilter:
        (n,) = cur.execute(f"SELECT count(*) FROM ({_ID_ROWS[name]})").fetchall()[0]  # noqa: S608
        f = IdFilter.empty(2 * max(int(n), at_least))
        self._add_all(f, cur.sql(f"SELECT id FROM ({_ID_ROWS[name]})"))  # noqa: S608
        return f

    @staticmethod
    def _add_all(f: IdFilter, result: duckdb.DuckDBPyRelation) -> None:
        """Add every id of a one-column query result, a million rows at a time."""
        reader: Iterable[Any] = result.to_arrow_reader(1_000_000)
        for batch in reader:
            ids = pl.Series(batch.column(0))
            f.add(hash_series(ids))

    def filter_watermark(self) -> int:
        """The latest watermark of a saved filter (0: none saved)."""
        with self._lock:
            (w,) = self._lookup.execute(
                f"SELECT coalesce(max(watermark_us), 0) FROM {FILTERS_TABLE}"  # noqa: S608
            ).fetchall()[0]
        return int(w)

    def save_filter(self, f: IdFilter, name: str, watermark_us: int) -> bool:
        """Save ``f`` (its own short transaction); ``False`` when the database
        cannot be written (the sink reports that): an unsaved filter only makes
        the next run catch up from an older save."""
        with self._lock:
            try:
                f.save(self._lookup, name, watermark_us)
            except (duckdb.Error, OSError):
                return False
        return True

    def hashes(self, ids: Sequence[str]) -> Hashes:
        """Hashes of ``ids`` (see :func:`flows.idfilter.hash_ids`)."""
        return hash_ids(ids)


WRITER_MEMORY_LIMIT = "512MB"
"""DuckDB's memory cap for the writer's store (its cache of table blocks and
indexes would otherwise grow with the history, up to 80 % of RAM); above it
DuckDB evicts cached blocks and spills to ``<store>.tmp``."""

# DuckDB's own checkpoint threshold (16 MB of WAL) is kept. A larger one
# (256 MB, for fewer checkpoints inside commits) was measured to corrupt the
# store after a crash: rows replayed from a long write-ahead log and then
# appended to were missing from the row groups' min/max statistics and the
# ART index after the next checkpoint, so lookups by exception skipped them
# (tests/flows/test_stream.py, kill -9 and crash-in-a-chunk).


def prepare_store(con: duckdb.DuckDBPyConnection) -> None:
    """Every table, the lookup indexes and the filters table (idempotent);
    memory capped at :data:`WRITER_MEMORY_LIMIT`."""
    init_schema(con)
    for stmt in (*DROPPED_INDEXES, *INDEXES, FILTERS_DDL):
        con.execute(stmt)
    con.execute(f"SET memory_limit = '{WRITER_MEMORY_LIMIT}'")


@contextmanager
def open_store(path: Path) -> Iterator[Store]:
    """Open the store at ``path`` (creating it) for a run; closed on exit.

    Its tables are written in row groups of ``core.db.STORE_ROW_GROUP_SIZE``."""
    with open_write(path) as con:
        prepare_store(con)
        yield Store(con, path)

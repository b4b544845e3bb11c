"""``fpi recompute``: apply a changed SLA policy or calendar to the whole history.

A changed calendar or policy applies to every exception ever opened (kpis.md),
so it is an explicit, O(history) step rather than something a run does
quietly: every stored exception is loaded (its opened facts, follow-up events
and alert state, in batches of :data:`BATCH` ids), derived again under the
configuration in use (:meth:`flows.apply.Applier.recompute`) and written back —
``exceptions``, ``exception_versions``, ``sla_alerts`` — then published.

Alerts: a standing alert whose ``due_at`` changed is retracted at the data
clock, and every ``due_at`` the data clock has already reached is raised at
it: recorded in ``sla_alerts``, **not delivered** (no messages: they are about
the past). Dues still ahead wait for the clock as usual; ``fpi stream`` raises
(and, with a webhook, delivers) them when the clock reaches them.

Crash safety: the database records ``sla_state = recomputing`` (with the new
fingerprint) before the first batch and ``current`` after the last one, so a
killed recompute leaves a database that every writer refuses, with one line,
until a recompute finishes; running it again is always safe (it derives every
exception from its events again).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import duckdb

from core import sla_record
from core.config import Settings
from core.db import DatabaseError
from core.timeutil import Clock

from .apply import Applier
from .ingest import INGEST_PUBLISH_EVERY, start_publisher, writer_lock
from .publish import Publisher
from .sink import DuckDBSink
from .store import open_store

BATCH = 2000
"""Exceptions loaded, derived and written per transaction."""


@dataclass(frozen=True)
class RecomputeSummary:
    """What a recompute did."""

    exceptions: int
    alerts_before: int
    alerts_after: int
    standing_after: int
    seconds: float
    fingerprint: str

    def line(self) -> str:
        """One line for people."""
        return (
            f"recomputed the SLA figures of {self.exceptions:,} exceptions in "
            f"{self.seconds:.1f}s (configuration {self.fingerprint}); sla_alerts rows "
            f"{self.alerts_before:,} -> {self.alerts_after:,}, {self.standing_after:,} standing"
        )


def _alert_counts(con: duckdb.DuckDBPyConnection) -> tuple[int, int]:
    ((total, standing),) = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE retracted_at IS NULL) FROM sla_alerts"
    ).fetchall()
    return int(total), int(standing)


def recompute(
    db: Path,
    settings: Settings,
    clock: Clock,
    *,
    batch: int = BATCH,
    on_progress: Callable[[int, int], None] | None = None,
) -> RecomputeSummary:
    """Derive every SLA figure and alert of ``db`` again under ``settings``.

    ``on_progress(done, total)`` is called after each batch is queued. A
    database that cannot be written raises ``DatabaseError`` with one line.
    """
    started = time.perf_counter()
    with writer_lock(db) as layout, open_store(layout.store) as store:
        con = store.con
        publisher = start_publisher(layout, store, INGEST_PUBLISH_EVERY)
        before, _ = _alert_counts(con)
        con.execute("BEGIN TRANSACTION")
        sla_record.write(con, settings, sla_record.RECOMPUTING)
        con.execute(Publisher.mark_written())
        con.execute("COMMIT")
        ids = [str(r[0]) for r in con.execute("SELECT exception_id FROM exceptions").fetchall()]
        ids.sort()
        applier = Applier("recompute", settings, clock, store)
        sink = DuckDBSink(store, publisher=publisher)
        for i in range(0, len(ids), batch):
            sink.submit([applier.recompute(ids[i : i + batch])])
            if sink.failure is not None:
                break
            if on_progress is not None:
                on_progress(min(i + batch, len(ids)), len(ids))
        sink.drain()
        if sink.failure is not None:
            raise DatabaseError(sink.failure)
        con.execute("BEGIN TRANSACTION")
        sla_record.write(con, settings, sla_record.CURRENT)
        con.execute(Publisher.mark_written())
        con.execute("COMMIT")
        publisher.close()
        after, standing = _alert_counts(con)
    return RecomputeSummary(
        len(ids), before, after, standing, time.perf_counter() - started, settings.sla_fingerprint
    )

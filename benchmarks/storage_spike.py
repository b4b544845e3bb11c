r"""Storage spike: can readers (BI tools: no retry) open the database while the writer writes?

A benchmark, not a test: it measures and prints, it asserts nothing. Everything
runs on this machine, in a temporary folder that is removed at the end; every
reader and writer is a separate process started here and stopped by its PID.

Candidates (``--candidates``):

* ``today``    one DuckDB file; the writer opens it read-write per micro-batch,
               commits, closes (``core.db.open_write``'s back-off); readers open
               read-only (the dashboard with ``open_read``'s 30 s retry, the BI
               tool with none);
* ``snapshot`` the writer keeps its own file open; at most every
               ``--publish-ms`` it CHECKPOINTs and copies the whole file to a
               temporary name, then ``os.replace``s it over the readers' file;
* ``parquet``  the writer keeps its own file open; at most every
               ``--publish-ms`` it writes the new events as one Parquet part
               file, rewrites the exceptions partitions (by opened day) it
               touched, and replaces a small DuckDB file of views
               (``read_parquet([explicit list])``) with ``os.replace``.

``NAME@MS`` (e.g. ``parquet@500``) runs a candidate with its own publish interval.

Simulated load: the writer loops over micro-batches as fast as it can (a
backlog, as in file ingest): 2,000 event rows with a ~285-byte JSON payload
plus an upsert of 200 rows (150 recent, 50 new) into a 100k-row
``exceptions`` table with a primary key, on a database pre-filled with
``--sizes`` event rows (built with DuckDB SQL, ``range()``, not through fpi).
Readers: a "BI tool" (read-only open, no retry, a count, close, every 50 ms)
and a "dashboard" (``open_read``-like retry, a GROUP BY over all events and
one over exceptions, every 0.2 s; it also reads ``max(batch_id)`` to measure
freshness against the writer's commit times). ``dashlite`` is the same
dashboard with one DuckDB thread that skips the query while the file is
unchanged (same inode and mtime).

One-off measurements: the cost of each publish method (file copy,
``COPY FROM DATABASE``, ``EXPORT DATABASE``, Parquet rewrites), read latency
over Parquet vs native tables, part-file accumulation and compaction, the
old-views-file-stays-readable check, and probes of DuckDB's own options.

Usage::

    python benchmarks/storage_spike.py                  # 1M and 10M: ~10 min (2 min: the 10M build)
    python benchmarks/storage_spike.py --sizes 1000000 --no-oneoffs  # ~3 min
    python benchmarks/storage_spike.py --repeat 2 --candidates today,snapshot,parquet,parquet@500
    python benchmarks/storage_spike.py --sizes 10000000 --candidates today,parquet@500 \
        --readers alone,dashlite,dashlite+bi,alone --repeat 2 --no-oneoffs
    python benchmarks/storage_spike.py --keep /tmp/spike     # keep the files

The machine is shared: each run first waits (``--wait-quiet``) for other
processes to idle, and records the load it saw (``machine`` in each run).
Lock waits and CPU per batch are the numbers that other load disturbs least.

Raw results: ``benchmarks/out/storage_spike.json`` (``--out``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "out" / "storage_spike.json"

ROWS_PER_BATCH = 2000
EXC_UPDATES = 150  # upserted per batch: recent exceptions ...
EXC_NEW = 50  # ... and new ones
EXC_RECENT = 3000  # "recent" = the newest 3,000 ids (about a day)
EXCEPTIONS = 100_000
SECONDS_PER_EXC = 25.92  # 100k exceptions over 30 days: 30 day-partitions
BATCHES_PER_BASE_FILE = 500  # base Parquet: one file per 1M event rows
BI_EVERY = 0.05
DASH_EVERY = 0.2
GRACE_SECONDS = 30.0  # retired Parquet files are deleted only this long after

# Every SQL text below that interpolates values interpolates only integers
# computed here or paths under the spike's own temporary folder (quoted by
# `lit`); nothing comes from outside. Hence the `noqa: S608` markers.

EVENT_COLUMNS = """
    'evt-' || lpad(i::VARCHAR, 10, '0') AS event_id,
    i // 2000 AS batch_id,
    (['exception.opened', 'exception.assigned', 'exception.touched', 'exception.paused',
      'exception.resumed', 'exception.resolved', 'order.shipped', 'order.delivered'])[1 + i % 8]
        AS event_type,
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i * 0.25) AS occurred_at,
    'EXC-' || lpad((hash(i) % 100000)::VARCHAR, 8, '0') AS exception_id,
    'ORD-' || lpad((hash(i + 1) % 300000)::VARCHAR, 9, '0') AS order_id,
    (['wms', 'tms', 'oms', 'crm'])[1 + i % 4] AS source_system,
    (['human', 'system'])[1 + i % 2] AS actor_kind,
    (['ops-east', 'ops-west', 'carrier-desk', 'returns', 'billing', 'cs-tier1', 'cs-tier2',
      'it'])[1 + i % 8] AS owner_team,
    '{"schema_version":"1","event_id":"evt-' || lpad(i::VARCHAR, 10, '0')
      || '","occurred_at":"2026-01-01T00:00:00Z","actor":{"id":"u-' || (i % 997)::VARCHAR
      || '","kind":"human"},"site":"DC-' || (i % 13)::VARCHAR || '","carrier":"CAR-'
      || (i % 17)::VARCHAR || '","note":"' || hash(i)::VARCHAR || '-' || hash(i * 7)::VARCHAR
      || '","ref":"' || (hash(i * 3) % 1000000007)::VARCHAR
      || '","detail":"customer called about late delivery, rebooked"}' AS payload,
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(i * 0.25 + 3) AS ingested_at
"""

EXC_COLUMNS = """
    'EXC-' || lpad(id::VARCHAR, 8, '0') AS exception_id,
    'ORD-' || lpad((id * 3)::VARCHAR, 9, '0') AS order_id,
    (['carrier_delay', 'damaged', 'address', 'stockout', 'customs'])[1 + id % 5] AS category,
    (['low', 'medium', 'high'])[1 + id % 3] AS severity,
    'DC-' || (id % 13)::VARCHAR AS site,
    'CAR-' || (id % 17)::VARCHAR AS carrier,
    'L-' || (id % 41)::VARCHAR AS lane,
    (['gold', 'silver', 'bronze'])[1 + id % 3] AS customer_tier,
    (['wms', 'tms', 'oms', 'crm'])[1 + id % 4] AS source_system,
    (id % 1000) * 1.7 AS order_value,
    24.0 + (id % 4) * 24 AS sla_target_hours,
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(id * 25.92) AS opened_at,
    floor(id * 25.92 / 86400)::BIGINT AS opened_day,
    (['open', 'in_progress', 'paused', 'resolved'])[1 + (id + rev) % 4] AS status,
    (['ops-east', 'ops-west', 'carrier-desk', 'returns'])[1 + (id + rev) % 4] AS owner_team,
    (rev % 7)::INTEGER AS manual_touches,
    (rev % 3)::INTEGER AS escalation_level,
    (rev % 50 + 1)::INTEGER AS event_count,
    TIMESTAMPTZ '2026-01-01 00:00:00+00' + to_seconds(id * 25.92 + rev) AS last_event_at,
    rev AS revision
"""

INSERT_EVENTS = "INSERT INTO events SELECT" + EVENT_COLUMNS + "FROM range($lo, $hi) t(i)"
UPSERT_EXCEPTIONS = (
    "INSERT OR REPLACE INTO exceptions SELECT"
    + EXC_COLUMNS
    + "FROM (SELECT unnest($ids::BIGINT[]) AS id, $rev::BIGINT AS rev)"
)
DASH_EVENTS = (
    "SELECT event_type, count(*) AS n, max(batch_id) AS last_batch FROM events GROUP BY event_type"
)
DASH_EXCEPTIONS = "SELECT status, count(*) AS n FROM exceptions GROUP BY status"
BI_QUERY = "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM exceptions)"


def lit(value: str | Path) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def day_of(exc_id: int) -> int:
    return int(exc_id * SECONDS_PER_EXC // 86400)


def is_lock_error(exc: BaseException) -> bool:
    """`core.db._is_lock_error`, copied so the spike imports nothing of fpi."""
    text = str(exc).lower()
    return "lock" in text and ("could not set" in text or "conflicting" in text)


def stats_ms(seconds: Sequence[float]) -> dict[str, Any]:
    """n, p50, p95, max of durations given in seconds, in ms."""
    xs = sorted(seconds)
    if not xs:
        return {"n": 0, "p50": None, "p95": None, "max": None}

    def q(p: float) -> float:
        k = (len(xs) - 1) * p
        lo = int(k)
        hi = min(lo + 1, len(xs) - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)

    return {
        "n": len(xs),
        "p50": round(q(0.5) * 1000, 1),
        "p95": round(q(0.95) * 1000, 1),
        "max": round(xs[-1] * 1000, 1),
    }


def remove_db(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal")):
        p.unlink(missing_ok=True)


def mb(path: Path) -> float:
    if path.is_dir():
        return round(sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6, 1)
    return round(path.stat().st_size / 1e6, 1)


def open_retry(
    path: Path, *, read_only: bool, wait_seconds: float, poll: float, cap: float
) -> tuple[duckdb.DuckDBPyConnection, float, int]:
    """Open like ``core.db.open_write`` / ``open_read``: retry lock errors with back-off.

    Returns the connection, seconds spent waiting and the number of retries.
    """
    t0 = time.perf_counter()
    deadline = t0 + wait_seconds
    retries = 0
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            return con, time.perf_counter() - t0, retries
        except duckdb.Error as exc:
            if not is_lock_error(exc) or time.perf_counter() >= deadline:
                raise
            retries += 1
            time.sleep(poll)
            poll = min(poll * 1.5, cap)


# --------------------------------------------------------------------------- build


def build_base(path: Path, rows: int) -> dict[str, Any]:
    """A database with ``rows`` events and 100k exceptions, built with SQL."""
    remove_db(path)
    t = time.perf_counter()
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE events AS SELECT" + EVENT_COLUMNS + "FROM range($lo, $hi) t(i)",
        {
            "lo": 0,
            "hi": rows,
        },
    )
    con.execute(
        "CREATE TABLE exceptions AS SELECT"  # noqa: S608
        + EXC_COLUMNS
        + "FROM (SELECT range AS id, 0::BIGINT AS rev FROM range(100000))"
    )
    con.execute("ALTER TABLE exceptions ADD PRIMARY KEY (exception_id)")
    con.execute("CHECKPOINT")
    con.close()
    return {"rows": rows, "seconds": round(time.perf_counter() - t, 1), "file_mb": mb(path)}


def export_base_parquet(base: Path, out: Path) -> dict[str, Any]:
    """The base as Parquet: events in files of 1M rows, exceptions one file per opened day."""
    out.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    con = duckdb.connect(str(base), read_only=True)
    (last,) = con.execute("SELECT max(batch_id) FROM events").fetchall()[0]
    events: list[str] = []
    for k in range(int(last) // BATCHES_PER_BASE_FILE + 1):
        f = out / f"events-base-{k:04d}.parquet"
        lo, hi = k * BATCHES_PER_BASE_FILE, (k + 1) * BATCHES_PER_BASE_FILE
        con.execute(
            f"COPY (SELECT * FROM events WHERE batch_id >= {lo} AND batch_id < {hi}) "  # noqa: S608
            f"TO {lit(f)} (FORMAT parquet, COMPRESSION zstd)"
        )
        events.append(str(f))
    days = [int(r[0]) for r in con.execute("SELECT DISTINCT opened_day FROM exceptions").fetchall()]
    exc: dict[str, str] = {}
    for d in sorted(days):
        f = out / f"exceptions-day{d:05d}-base.parquet"
        con.execute(
            f"COPY (SELECT * FROM exceptions WHERE opened_day = {d}) "  # noqa: S608
            f"TO {lit(f)} (FORMAT parquet, COMPRESSION zstd)"
        )
        exc[str(d)] = str(f)
    con.close()
    return {
        "seconds": round(time.perf_counter() - t, 1),
        "parquet_mb": mb(out),
        "event_files": events,
        "exception_files": exc,
    }


# --------------------------------------------------------------------------- writer


def write_batch(con: duckdb.DuckDBPyConnection, batch: int, ids: list[int]) -> None:
    con.execute("BEGIN TRANSACTION")
    con.execute(INSERT_EVENTS, {"lo": batch * ROWS_PER_BATCH, "hi": (batch + 1) * ROWS_PER_BATCH})
    con.execute(UPSERT_EXCEPTIONS, {"ids": ids, "rev": batch})
    con.execute("COMMIT")


class ParquetPublisher:
    """Publishes the writer's database as Parquet files behind a DuckDB file of views.

    Append-only ``events``: one new part file per publish with the batches since
    the last one. Mutable ``exceptions``: the touched opened-day partitions are
    rewritten under a new name (files are never overwritten: a reader holding
    an old views file still reads the old ones). The views file is written
    under a temporary name and ``os.replace``d over ``read_path``. Files that
    fall out of the views are deleted only after ``GRACE_SECONDS``.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, root: Path, read_path: Path, state: Any
    ) -> None:
        self.con = con
        self.root = root
        self.read_path = read_path
        self.event_files: list[str] = list(state["event_files"])
        self.exc_files: dict[str, str] = dict(state["exception_files"])
        self.published_batch: int = int(state["published_batch"])
        self.seq: int = int(state.get("seq", 0))
        self.retired: list[tuple[float, str]] = []
        (root / "parts").mkdir(parents=True, exist_ok=True)

    def state(self) -> dict[str, Any]:
        return {
            "event_files": self.event_files,
            "exception_files": self.exc_files,
            "published_batch": self.published_batch,
            "seq": self.seq,
        }

    def _copy(self, select: str, final: Path) -> None:
        tmp = final.with_name(final.name + ".tmp")
        self.con.execute(f"COPY ({select}) TO {lit(tmp)} (FORMAT parquet, COMPRESSION zstd)")
        os.replace(tmp, final)

    def publish(self, last_batch: int, touched_days: Iterable[int]) -> dict[str, float]:
        """Publish batches up to ``last_batch``; returns ms per step."""
        self.seq += 1
        out: dict[str, float] = {}
        t = time.perf_counter()
        if last_batch > self.published_batch:
            part = self.root / "parts" / f"events-{self.seq:08d}.parquet"
            self._copy(
                f"SELECT * FROM events WHERE batch_id > {self.published_batch} "  # noqa: S608
                f"AND batch_id <= {last_batch}",
                part,
            )
            self.event_files.append(str(part))
        out["events_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        for d in sorted(set(touched_days)):
            f = self.root / "parts" / f"exceptions-day{d:05d}-v{self.seq:08d}.parquet"
            self._copy(f"SELECT * FROM exceptions WHERE opened_day = {d}", f)  # noqa: S608
            old = self.exc_files.get(str(d))
            if old is not None:
                self.retired.append((time.time(), old))
            self.exc_files[str(d)] = str(f)
        out["exceptions_ms"] = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        self.write_views(last_batch)
        out["views_ms"] = (time.perf_counter() - t) * 1000
        self.published_batch = max(self.published_batch, last_batch)
        self._delete_retired()
        return out

    def compact(self) -> dict[str, Any]:
        """Merge the part files (not the base files) into one; retire the parts."""
        parts = [f for f in self.event_files if Path(f).is_relative_to(self.root)]
        if len(parts) < 2:
            return {"merged": len(parts)}
        t = time.perf_counter()
        self.seq += 1
        merged = self.root / "parts" / f"events-compact-{self.seq:08d}.parquet"
        self._copy(
            f"SELECT * FROM read_parquet([{', '.join(lit(f) for f in parts)}])",  # noqa: S608
            merged,
        )
        self.event_files = [f for f in self.event_files if f not in parts] + [str(merged)]
        self.write_views(self.published_batch)
        now = time.time()
        self.retired += [(now, f) for f in parts]
        return {"merged": len(parts), "ms": round((time.perf_counter() - t) * 1000, 1)}

    def write_views(self, last_batch: int) -> None:
        tmp = self.read_path.with_name("views-next.duckdb")
        remove_db(tmp)
        events = ", ".join(lit(f) for f in self.event_files)
        exc = ", ".join(lit(f) for _, f in sorted(self.exc_files.items()))
        self.con.execute(f"ATTACH {lit(tmp)} AS pub")
        try:
            self.con.execute(f"CREATE VIEW pub.events AS SELECT * FROM read_parquet([{events}])")  # noqa: S608
            self.con.execute(f"CREATE VIEW pub.exceptions AS SELECT * FROM read_parquet([{exc}])")  # noqa: S608
            self.con.execute(
                f"CREATE VIEW pub.published AS SELECT {last_batch}::BIGINT AS last_batch, "
                f"to_timestamp({time.time()}) AS published_at, {len(self.event_files)} AS "
                "event_files"
            )
        finally:
            self.con.execute("DETACH pub")
        if Path(str(tmp) + ".wal").exists():
            raise RuntimeError("views file left a WAL behind: it would not be self-contained")
        os.replace(tmp, self.read_path)

    def _delete_retired(self) -> None:
        now = time.time()
        keep: list[tuple[float, str]] = []
        for at, f in self.retired:
            if now - at >= GRACE_SECONDS and Path(f).is_relative_to(self.root):
                Path(f).unlink(missing_ok=True)
            else:
                keep.append((at, f))
        self.retired = keep


def publish_snapshot(con: duckdb.DuckDBPyConnection, private: Path, read: Path, how: str) -> None:
    """Replace ``read`` with an immutable copy of the writer's database."""
    tmp = read.with_name("snapshot-next.duckdb")
    remove_db(tmp)
    if how == "copy":
        con.execute("CHECKPOINT")
        shutil.copyfile(private, tmp)
    else:  # COPY FROM DATABASE
        (name,) = con.execute("SELECT current_database()").fetchall()[0]
        con.execute(f"ATTACH {lit(tmp)} AS snap")
        con.execute(f'COPY FROM DATABASE "{name}" TO snap')
        con.execute("DETACH snap")
    os.replace(tmp, read)


def writer_main(cfg: dict[str, Any]) -> dict[str, Any]:
    mode: str = cfg["mode"]
    rng = random.Random(7)
    batch = int(cfg["first_batch"])
    next_id = int(cfg["next_exc_id"])
    publish_every = float(cfg["publish_ms"]) / 1000
    private = Path(cfg["private"])
    read = Path(cfg["read"])
    commits: list[list[float]] = []  # [batch, t_commit, t_visible]
    waits: list[float] = []
    writes: list[float] = []
    closes: list[float] = []
    publishes: list[float] = []
    steps: dict[str, list[float]] = {}
    pending: list[int] = []  # committed, not yet published (indexes into commits)
    touched: set[int] = set()
    cpu0 = time.process_time()
    t_start = time.perf_counter()
    deadline = t_start + float(cfg["seconds"])
    con: duckdb.DuckDBPyConnection | None = None
    publisher: ParquetPublisher | None = None
    if mode != "today":
        con = duckdb.connect(str(private))
        if mode == "parquet":
            publisher = ParquetPublisher(con, Path(cfg["root"]), read, cfg["parquet_state"])
    last_publish = time.perf_counter()

    def publish() -> None:
        nonlocal last_publish
        assert con is not None
        t = time.perf_counter()
        if publisher is not None:
            for k, v in publisher.publish(batch - 1, touched).items():
                steps.setdefault(k, []).append(v)
            touched.clear()
        else:
            publish_snapshot(con, private, read, cfg["snapshot_how"])
        now = time.time()
        for i in pending:
            commits[i][2] = now
        pending.clear()
        publishes.append(time.perf_counter() - t)
        last_publish = time.perf_counter()

    while time.perf_counter() < deadline:
        recent = range(max(0, next_id - EXC_RECENT), next_id)
        ids = rng.sample(recent, EXC_UPDATES) + list(range(next_id, next_id + EXC_NEW))
        next_id += EXC_NEW
        if mode == "today":
            c, waited, _ = open_retry(
                Path(cfg["read"]), read_only=False, wait_seconds=600, poll=0.05, cap=0.5
            )
            waits.append(waited)
            t = time.perf_counter()
            write_batch(c, batch, ids)
            t_commit = time.time()
            writes.append(time.perf_counter() - t)
            t = time.perf_counter()
            c.close()
            closes.append(time.perf_counter() - t)
            commits.append([batch, t_commit, time.time()])
        else:
            assert con is not None
            t = time.perf_counter()
            write_batch(con, batch, ids)
            writes.append(time.perf_counter() - t)
            commits.append([batch, time.time(), 0.0])
            pending.append(len(commits) - 1)
            touched.update(day_of(i) for i in ids)
        batch += 1
        if mode != "today" and time.perf_counter() - last_publish >= publish_every:
            publish()
    if mode != "today":
        if pending:
            publish()
        assert con is not None
        con.close()
    elapsed = time.perf_counter() - t_start
    n = len(commits)
    out: dict[str, Any] = {
        "batches": n,
        "seconds": round(elapsed, 3),
        "batches_per_s": round(n / elapsed, 2),
        "cpu_seconds": round(time.process_time() - cpu0, 2),
        "last_batch": batch - 1,
        "next_exc_id": next_id,
        "lock_wait_total_s": round(sum(waits), 3),
        "lock_wait_ms": stats_ms(waits),
        "write_ms": stats_ms(writes),
        "close_ms": stats_ms(closes),
        "publish_ms": stats_ms(publishes),
        "publishes": len(publishes),
        "publish_ms_per_batch": round(sum(publishes) * 1000 / n, 1) if n else None,
        "publish_steps_ms": {k: stats_ms([x / 1000 for x in v]) for k, v in steps.items()},
        "commits": commits,
    }
    if publisher is not None:
        out["event_files"] = len(publisher.event_files)
    return out


# --------------------------------------------------------------------------- readers


def bi_main(cfg: dict[str, Any]) -> dict[str, Any]:
    """A BI tool: read-only open with no retry, a count, close; every 50 ms."""
    path, stop = Path(cfg["read"]), Path(cfg["stop"])
    ok: list[float] = []
    errors: dict[str, int] = {}
    fails = 0
    next_t = time.perf_counter()
    while not stop.exists():
        t = time.perf_counter()
        try:
            con = duckdb.connect(str(path), read_only=True)
            try:
                con.execute(BI_QUERY).fetchall()
            finally:
                con.close()
            ok.append(time.perf_counter() - t)
        except duckdb.Error as exc:
            fails += 1
            key = str(exc).splitlines()[0][:120]
            errors[key] = errors.get(key, 0) + 1
        next_t += BI_EVERY
        time.sleep(max(0.0, next_t - time.perf_counter()))
        next_t = max(next_t, time.perf_counter())
    total = len(ok) + fails
    return {
        "cpu_seconds": round(time.process_time(), 2),
        "attempts": total,
        "failures": fails,
        "success_pct": round(100 * len(ok) / total, 2) if total else None,
        "latency_ms": stats_ms(ok),
        "errors": errors,
    }


def dashboard_main(cfg: dict[str, Any]) -> dict[str, Any]:
    """A dashboard: open_read-like retry, two GROUP BYs, close; every 0.2 s.

    ``lite`` (role ``dashlite``): one DuckDB thread, and no query while the
    read file is the same file as at the last query (same inode and mtime:
    a publish always makes a new file).
    """
    path, stop = Path(cfg["read"]), Path(cfg["stop"])
    lite = bool(cfg.get("lite"))
    obs: list[list[Any]] = []  # [t_start, t_end, seconds, last_batch, retries, wait_s]
    errors: dict[str, int] = {}
    skipped = 0
    seen: tuple[int, int] | None = None
    next_t = time.perf_counter()
    while not stop.exists():
        t_start, t = time.time(), time.perf_counter()
        try:
            if lite:
                st = os.stat(path)
                if (st.st_ino, st.st_mtime_ns) == seen:
                    skipped += 1
                    next_t += DASH_EVERY
                    time.sleep(max(0.0, next_t - time.perf_counter()))
                    next_t = max(next_t, time.perf_counter())
                    continue
                seen = (st.st_ino, st.st_mtime_ns)
            con, waited, retries = open_retry(
                path, read_only=True, wait_seconds=30, poll=0.02, cap=0.25
            )
            try:
                if lite:
                    con.execute("SET threads = 1")
                rows = con.execute(DASH_EVENTS).fetchall()
                con.execute(DASH_EXCEPTIONS).fetchall()
            finally:
                con.close()
            last = max(int(r[2]) for r in rows)
            obs.append([t_start, time.time(), time.perf_counter() - t, last, retries, waited])
        except duckdb.Error as exc:
            key = str(exc).splitlines()[0][:120]
            errors[key] = errors.get(key, 0) + 1
        next_t += DASH_EVERY
        time.sleep(max(0.0, next_t - time.perf_counter()))
        next_t = max(next_t, time.perf_counter())
    return {
        "cpu_seconds": round(time.process_time(), 2),
        "polls": len(obs) + sum(errors.values()) + skipped,
        "skipped_unchanged": skipped,
        "errors": errors,
        "latency_ms": stats_ms([o[2] for o in obs]),
        "lock_wait_ms": stats_ms([o[5] for o in obs]),
        "polls_that_waited": sum(1 for o in obs if o[4]),
        "obs": obs,
    }


def hold_main(cfg: dict[str, Any]) -> dict[str, Any]:
    """Hold a database open (read-write or read-only) until the stop file appears."""
    con = duckdb.connect(cfg["path"], read_only=bool(cfg["read_only"]))
    con.execute("SELECT count(*) FROM t").fetchall()
    Path(cfg["ready"]).touch()
    while not Path(cfg["stop"]).exists():
        time.sleep(0.02)
    con.close()
    return {}


def query_main(cfg: dict[str, Any]) -> dict[str, Any]:
    """Open read-only, count events, close (a fresh process: no instance cache)."""
    con = duckdb.connect(cfg["path"], read_only=True)
    (n,) = con.execute("SELECT count(*) FROM events").fetchall()[0]
    con.close()
    return {"events": int(n)}


ROLES = {
    "writer": writer_main,
    "bi": bi_main,
    "dashboard": dashboard_main,
    "dashlite": lambda cfg: dashboard_main({**cfg, "lite": True}),
    "hold": hold_main,
    "query": query_main,
}


def child_main(role: str, cfg_path: Path) -> None:
    cfg = json.loads(cfg_path.read_text())
    result = ROLES[role](cfg)
    Path(cfg["result"]).write_text(json.dumps(result))


# --------------------------------------------------------------------------- orchestration


class Children:
    """Child processes of this script, each stopped by its own PID."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []
        self.count = 0

    def start(self, role: str, cfg: dict[str, Any]) -> tuple[subprocess.Popen[bytes], Path]:
        self.count += 1
        result = self.folder / f"{role}-{self.count}.result.json"
        cfg = {**cfg, "result": str(result)}
        cfg_path = self.folder / f"{role}-{self.count}.cfg.json"
        cfg_path.write_text(json.dumps(cfg))
        proc = subprocess.Popen([sys.executable, __file__, "_child", role, str(cfg_path)])
        self.procs.append(proc)
        return proc, result

    def wait(self, proc: subprocess.Popen[bytes], timeout: float) -> None:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            raise RuntimeError(f"child {proc.args!r} exited with {proc.returncode}")

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


def freshness(commits: list[list[float]], obs: list[list[Any]]) -> dict[str, Any]:
    """Per committed batch: first dashboard result that includes it, minus commit time."""
    seen = sorted((o[1], o[3]) for o in obs)  # (t_end, last_batch)
    lags: list[float] = []
    unseen = 0
    for b, t_commit, _ in commits:
        hit = next((t_end for t_end, last in seen if last >= b and t_end >= t_commit), None)
        if hit is None:
            unseen += 1
        else:
            lags.append(hit - t_commit)
    return {**stats_ms(lags), "unseen": unseen}


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        vals = [int(v) for v in fh.readline().split()[1:9]]
    idle = vals[3] + vals[4]
    return sum(vals) - idle, sum(vals)


def wait_quiet(max_seconds: float, threshold: float = 0.3) -> float:
    """Wait (at most ``max_seconds``) until other processes use < ``threshold`` cores.

    Returns the busy cores of the last 1 s sample (all of it is someone else's:
    nothing of the spike runs while it waits).
    """
    deadline = time.perf_counter() + max_seconds
    cpus = os.cpu_count() or 1
    while True:
        a = cpu_jiffies()
        time.sleep(1.0)
        b = cpu_jiffies()
        busy = cpus * (b[0] - a[0]) / max(1, b[1] - a[1])
        if busy < threshold or time.perf_counter() >= deadline:
            return round(busy, 2)


def count_published(path: Path) -> tuple[int, int, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        row = con.execute(
            "SELECT (SELECT count(*) FROM events), (SELECT max(batch_id) FROM events), "
            "(SELECT count(*) FROM exceptions)"
        ).fetchall()[0]
    finally:
        con.close()
    return int(row[0]), int(row[1]), int(row[2])


def run_case(
    work: Path,
    children: Children,
    size: dict[str, Any],
    candidate: str,
    readers: str,
    seconds: float,
    publish_ms: float,
    quiet: float,
) -> dict[str, Any]:
    rows = int(size["rows"])
    mode, _, every = candidate.partition("@")  # "parquet@500": publish at most every 500 ms
    if mode not in {"today", "snapshot", "parquet"}:
        raise SystemExit(f"unknown candidate {candidate!r}")
    if every:
        publish_ms = float(every)
    run = work / f"run-{mode}-{every or 'default'}-{rows}-{readers}"
    run.mkdir()
    base = Path(size["path"])
    private = run / "writer.duckdb"
    read = run / "read.duckdb"
    cfg: dict[str, Any] = {
        "mode": mode,
        "seconds": seconds,
        "publish_ms": publish_ms,
        "first_batch": rows // ROWS_PER_BATCH,
        "next_exc_id": EXCEPTIONS,
        "private": str(private),
        "read": str(read),
        "root": str(run),
        "snapshot_how": "copy",
    }
    if mode == "today":
        shutil.copyfile(base, read)
    elif mode == "snapshot":
        shutil.copyfile(base, private)
        shutil.copyfile(base, read)
    else:
        shutil.copyfile(base, private)
        con = duckdb.connect(str(private))
        state = {**size["parquet"], "published_batch": rows // ROWS_PER_BATCH - 1}
        pub = ParquetPublisher(con, run, read, state)
        pub.write_views(rows // ROWS_PER_BATCH - 1)
        con.close()
        cfg["parquet_state"] = pub.state()
    stop = run / "stop"
    reader_procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []
    for role in readers.split("+") if readers != "alone" else []:
        proc, res = children.start(role, {"read": str(read), "stop": str(stop)})
        reader_procs.append((role, proc, res))
    if reader_procs:
        time.sleep(1.0)  # the readers are importing duckdb and polling
    other_before = wait_quiet(quiet)
    load_before = os.getloadavg()[0]
    j0 = cpu_jiffies()
    writer, wres = children.start("writer", cfg)
    children.wait(writer, timeout=seconds + 300)
    j1 = cpu_jiffies()
    time.sleep(1.5 if reader_procs else 0)  # let the dashboard see the last publish
    stop.touch()
    out: dict[str, Any] = {"candidate": candidate, "rows": rows, "readers": readers}
    for role, proc, res in reader_procs:
        children.wait(proc, timeout=60)
        out[role] = json.loads(res.read_text())
    w = json.loads(wres.read_text())
    out["writer"] = w
    cpus = os.cpu_count() or 1
    busy = cpus * (j1[0] - j0[0]) / max(1, j1[1] - j0[1])
    own = w["cpu_seconds"] / w["seconds"] + sum(
        out[role]["cpu_seconds"] / (w["seconds"] + 2.5) for role, _, _ in reader_procs
    )
    out["machine"] = {
        "loadavg_1m_before": round(load_before, 2),
        "other_cores_before": other_before,
        "busy_cores": round(busy, 2),
        "own_cores_est": round(own, 2),
        "other_cores_est": round(max(0.0, busy - own), 2),
    }
    for dash in ("dashboard", "dashlite"):
        if dash in out:
            out["freshness_ms"] = freshness(w["commits"], out[dash]["obs"])
            out[dash]["obs"] = len(out[dash]["obs"])
    lags = [c[2] - c[1] for c in w["commits"]]
    out["publish_lag_ms"] = stats_ms(lags)
    w["commits"] = len(w["commits"])
    n_events, last, n_exc = count_published(read)
    expected_events = rows + w["batches"] * ROWS_PER_BATCH
    out["check"] = {
        "events": n_events,
        "expected_events": expected_events,
        "lost_events": expected_events - n_events,
        "last_batch_seen": last,
        "last_batch_written": w["last_batch"],
        "exceptions": n_exc,
        "expected_exceptions": w["next_exc_id"],
    }
    shutil.rmtree(run)
    return out


# --------------------------------------------------------------------------- one-offs


def timed(fn: Any, reps: int) -> dict[str, Any]:
    xs = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t)
    return stats_ms(xs)


def publish_costs(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """What one publish of the whole database costs, per method."""
    rows = int(size["rows"])
    d = work / f"publish-{rows}"
    d.mkdir()
    private, read = d / "writer.duckdb", d / "read.duckdb"
    shutil.copyfile(size["path"], private)
    con = duckdb.connect(str(private))
    write_batch(con, rows // ROWS_PER_BATCH, list(range(EXCEPTIONS, EXCEPTIONS + EXC_NEW)))
    big = rows >= 5_000_000
    out: dict[str, Any] = {"file_mb": mb(private)}
    out["checkpoint_ms"] = timed(lambda: con.execute("CHECKPOINT"), 1)
    out["checkpoint_and_file_copy_ms"] = timed(
        lambda: publish_snapshot(con, private, read, "copy"), 3
    )
    out["copy_from_database_ms"] = timed(
        lambda: publish_snapshot(con, private, read, "copydb"), 1 if big else 2
    )
    out["copy_from_database_file_mb"] = mb(read)
    exp = d / "export"

    def export() -> None:
        shutil.rmtree(exp, ignore_errors=True)
        con.execute(f"EXPORT DATABASE {lit(exp)} (FORMAT parquet, COMPRESSION zstd)")

    out["export_database_parquet_ms"] = timed(export, 1)
    out["export_database_parquet_mb"] = mb(exp)
    out["exceptions_full_rewrite_parquet_ms"] = timed(
        lambda: con.execute(
            f"COPY exceptions TO {lit(d / 'exc.parquet')} (FORMAT parquet, COMPRESSION zstd)"
        ),
        3,
    )
    out["exceptions_one_day_rewrite_parquet_ms"] = timed(
        lambda: con.execute(
            f"COPY (SELECT * FROM exceptions WHERE opened_day = 29) TO {lit(d / 'exc1.parquet')} "  # noqa: S608
            "(FORMAT parquet, COMPRESSION zstd)"
        ),
        3,
    )
    con.close()
    shutil.rmtree(d)
    return out


def dash_once(path: Path) -> None:
    con = duckdb.connect(str(path), read_only=True)
    con.execute(DASH_EVENTS).fetchall()
    con.execute(DASH_EXCEPTIONS).fetchall()
    con.close()


def bi_once(path: Path) -> None:
    con = duckdb.connect(str(path), read_only=True)
    con.execute(BI_QUERY).fetchall()
    con.close()


def views_file(path: Path, event_files: Sequence[str], exc_files: Iterable[str]) -> None:
    remove_db(path)
    con = duckdb.connect(str(path))
    ev = ", ".join(lit(f) for f in event_files)
    ex = ", ".join(lit(f) for f in exc_files)
    con.execute(f"CREATE VIEW events AS SELECT * FROM read_parquet([{ev}])")  # noqa: S608
    con.execute(f"CREATE VIEW exceptions AS SELECT * FROM read_parquet([{ex}])")  # noqa: S608
    con.close()


def read_latency(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """Quiet machine: dashboard and BI query, native file vs views over Parquet."""
    rows = int(size["rows"])
    views = work / f"views-{rows}.duckdb"
    pq = size["parquet"]
    views_file(views, pq["event_files"], pq["exception_files"].values())
    base = Path(size["path"])
    out = {
        "native_dashboard_ms": timed(lambda: dash_once(base), 7),
        "parquet_dashboard_ms": timed(lambda: dash_once(views), 7),
        "native_bi_ms": timed(lambda: bi_once(base), 7),
        "parquet_bi_ms": timed(lambda: bi_once(views), 7),
        "parquet_files": len(pq["event_files"]) + len(pq["exception_files"]),
    }
    remove_db(views)
    return out


def parts_and_compaction(work: Path, size: dict[str, Any]) -> dict[str, Any]:
    """Latency as small part files accumulate (1 per publish), and what compaction costs.

    The first 1M-row base file is replaced by K part files holding the same
    rows (K = 100, 500, 1000: about 2, 8, 17 minutes of publishing once a
    second at 1k-2k events per part), so every variant has the same rows.
    """
    pq = size["parquet"]
    first, rest = pq["event_files"][0], pq["event_files"][1:]
    exc = list(pq["exception_files"].values())
    d = work / "parts"
    d.mkdir()
    con = duckdb.connect()
    out: dict[str, Any] = {"rows": size["rows"]}
    con.execute(f"CREATE TEMP TABLE chunk AS SELECT * FROM read_parquet({lit(first)})")  # noqa: S608
    (chunk_rows,) = con.execute("SELECT count(*) FROM chunk").fetchall()[0]
    for k in (100, 500, 1000):
        per = -(-int(chunk_rows) // k)
        t = time.perf_counter()
        parts: list[str] = []
        for j in range(k):
            f = d / f"k{k}-{j:05d}.parquet"
            con.execute(
                f"COPY (SELECT * FROM chunk WHERE rowid >= {j * per} AND rowid < {(j + 1) * per}) "  # noqa: S608
                f"TO {lit(f)} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            parts.append(str(f))
        make_s = time.perf_counter() - t
        views = d / f"views-{k}.duckdb"
        views_file(views, parts + rest, exc)
        merged = d / f"merged-{k}.parquet"
        plist = ", ".join(lit(f) for f in parts)
        compact_sql = (
            f"COPY (SELECT * FROM read_parquet([{plist}])) TO {lit(merged)} "  # noqa: S608
            "(FORMAT parquet, COMPRESSION zstd)"
        )
        out[f"k{k}"] = {
            "part_rows": per,
            "make_parts_s": round(make_s, 1),
            "dashboard_ms": timed(functools.partial(dash_once, views), 5),
            "bi_ms": timed(functools.partial(bi_once, views), 5),
            "compact_parts_to_one_ms": timed(functools.partial(con.execute, compact_sql), 1),
        }
        for part in parts:
            Path(part).unlink()
        remove_db(views)
        merged.unlink()
    con.close()
    shutil.rmtree(d)
    return out


def replace_check(work: Path, children: Children, size: dict[str, Any]) -> dict[str, Any]:
    """Does a reader holding the old views file keep working across os.replace?"""
    rows = int(size["rows"])
    d = work / "replace-check"
    d.mkdir()
    private, read = d / "writer.duckdb", d / "read.duckdb"
    shutil.copyfile(size["path"], private)
    wcon = duckdb.connect(str(private))
    pub = ParquetPublisher(
        wcon, d, read, {**size["parquet"], "published_batch": rows // ROWS_PER_BATCH - 1}
    )
    pub.write_views(rows // ROWS_PER_BATCH - 1)
    out: dict[str, Any] = {}

    def count(con: duckdb.DuckDBPyConnection) -> int | str:
        try:
            return int(con.execute("SELECT count(*) FROM events").fetchall()[0][0])
        except duckdb.Error as exc:
            return "error: " + str(exc).splitlines()[0][:150]

    def other_process() -> int:
        proc, res = children.start("query", {"path": str(read)})
        children.wait(proc, timeout=60)
        return int(json.loads(res.read_text())["events"])

    old = duckdb.connect(str(read), read_only=True)
    out["old_reader_before"] = count(old)
    batch = rows // ROWS_PER_BATCH
    write_batch(wcon, batch, list(range(EXCEPTIONS, EXCEPTIONS + EXC_NEW)))
    pub.publish(batch, {day_of(EXCEPTIONS)})
    out["old_reader_after_replace"] = count(old)
    out["new_open_other_process"] = other_process()
    same = duckdb.connect(str(read), read_only=True)
    out["new_open_same_process_while_old_open"] = count(same)
    same.close()
    try:
        cfg_con = duckdb.connect(str(read), read_only=True, config={"threads": 1})
        out["new_open_same_process_other_config"] = count(cfg_con)
        cfg_con.close()
    except duckdb.Error as exc:
        out["new_open_same_process_other_config"] = "error: " + str(exc).splitlines()[0][:150]
    mem = duckdb.connect()
    mem.execute(f"ATTACH {lit(read)} AS r (READ_ONLY)")
    out["attach_read_only_same_process_while_old_open"] = int(
        mem.execute("SELECT count(*) FROM r.events").fetchall()[0][0]
    )
    mem.close()
    # `v1` holds the views file that lists part 1; a second part, then compaction
    # merges both into one file and replaces the views file again.
    old.close()
    v1 = duckdb.connect(str(read), read_only=True)
    out["v1_reader"] = count(v1)
    write_batch(wcon, batch + 1, list(range(EXCEPTIONS + EXC_NEW, EXCEPTIONS + 2 * EXC_NEW)))
    pub.publish(batch + 1, {day_of(EXCEPTIONS)})
    out["compaction"] = pub.compact()
    out["v1_reader_after_compaction"] = count(v1)
    out["new_open_other_process_after_compaction"] = other_process()
    # a compaction that deleted the merged parts at once (no grace period):
    for _, f in pub.retired:
        Path(f).unlink(missing_ok=True)
    out["v1_reader_after_its_parts_deleted"] = count(v1)
    v1.close()
    out["new_open_after_parts_deleted"] = other_process()
    wcon.close()
    shutil.rmtree(d)
    return out


def probes(work: Path, children: Children) -> dict[str, Any]:
    """DuckDB's own options for one writer + other readers across processes."""
    d = work / "probes"
    d.mkdir()
    db = d / "p.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE t AS SELECT range AS x FROM range(10)")
    con.close()
    out: dict[str, Any] = {}

    def attempt(fn: Any) -> str:
        try:
            fn()
            return "ok"
        except duckdb.Error as exc:
            return "error: " + str(exc).splitlines()[0][:160]

    def ro() -> None:
        duckdb.connect(str(db), read_only=True).close()

    def access_mode() -> None:
        duckdb.connect(str(db), config={"access_mode": "READ_ONLY"}).close()

    def attach_ro() -> None:
        m = duckdb.connect()
        m.execute(f"ATTACH {lit(db)} AS x (READ_ONLY)")
        m.close()

    def rw() -> None:
        duckdb.connect(str(db)).close()

    for holder in ("read_write", "read_only"):
        stop, ready = d / f"stop-{holder}", d / f"ready-{holder}"
        proc, _ = children.start(
            "hold",
            {
                "path": str(db),
                "read_only": holder == "read_only",
                "stop": str(stop),
                "ready": str(ready),
            },
        )
        while not ready.exists():
            time.sleep(0.02)
        out[f"while_other_process_holds_{holder}"] = {
            "connect_read_only": attempt(ro),
            "connect_access_mode_READ_ONLY": attempt(access_mode),
            "attach_READ_ONLY": attempt(attach_ro),
            "connect_read_write": attempt(rw),
        }
        stop.touch()
        children.wait(proc, timeout=30)
    shutil.rmtree(d)
    return out


# --------------------------------------------------------------------------- report


def summary_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    runs = results["runs"]
    for r in runs:
        if r["readers"] == "alone":
            continue
        alone = [
            a["writer"]["batches_per_s"]
            for a in runs
            if a["readers"] == "alone"
            and a["candidate"] == r["candidate"]
            and a["rows"] == r["rows"]
            and a.get("round") == r.get("round")
        ]
        w = r["writer"]
        dash = r.get("dashboard") or r["dashlite"]
        bps_alone = round(sum(alone) / len(alone), 2) if alone else None
        rows.append(
            {
                "candidate": r["candidate"],
                "rows": r["rows"],
                "readers": r["readers"],
                "round": r.get("round", 0),
                "bps_alone": bps_alone,
                "bps_readers": w["batches_per_s"],
                "delay_pct": round(100 * (1 - w["batches_per_s"] / bps_alone), 1)
                if bps_alone
                else None,
                "wall_ms_per_batch": round(1000 * w["seconds"] / max(1, w["batches"]), 1),
                "cpu_ms_per_batch": round(1000 * w["cpu_seconds"] / max(1, w["batches"]), 1),
                "lock_wait_ms_per_batch": round(
                    1000 * w["lock_wait_total_s"] / max(1, w["batches"]), 1
                ),
                "other_load_cores": r["machine"]["other_cores_est"],
                "bi_success_pct": r.get("bi", {}).get("success_pct"),
                "dash_p50_ms": dash["latency_ms"]["p50"],
                "dash_p95_ms": dash["latency_ms"]["p95"],
                "dash_errors": sum(dash["errors"].values()),
                "fresh_p50_ms": r["freshness_ms"]["p50"],
                "fresh_p95_ms": r["freshness_ms"]["p95"],
                "publish_p50_ms": w["publish_ms"]["p50"],
                "publish_ms_per_batch": w["publish_ms_per_batch"],
                "lost_events": r["check"]["lost_events"],
            }
        )
    return rows


def median_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The summary rows of each (candidate, rows, readers), medians over the rounds."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["candidate"], r["rows"], r["readers"]), []).append(r)
    out: list[dict[str, Any]] = []
    for (cand, n, readers), rs in groups.items():
        row: dict[str, Any] = {"candidate": cand, "rows": n, "readers": readers, "rounds": len(rs)}
        for k in rs[0]:
            if k in row or k == "round":
                continue
            vals = [r[k] for r in rs if isinstance(r[k], int | float)]
            row[k] = round(statistics.median(vals), 1) if vals else None
        out.append(row)
    return out


def print_table(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.rjust(width[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).rjust(width[c]) for c in cols))


def save(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(results, indent=1))
    os.replace(tmp, path)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_child":
        child_main(sys.argv[2], Path(sys.argv[3]))
        return
    ap = argparse.ArgumentParser(
        description="Spike: DuckDB storage layouts for one writer + BI/dashboard readers.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("Usage::")[1] if __doc__ else None,
    )
    ap.add_argument("--sizes", default="1000000,10000000", help="pre-filled event rows")
    ap.add_argument(
        "--candidates",
        default="today,snapshot,parquet",
        help="today, snapshot, parquet; NAME@MS publishes at most every MS ms",
    )
    ap.add_argument(
        "--readers",
        default="alone,dashboard,dashboard+bi,alone",
        help="reader sets per run, in order: alone (the writer's baseline: the mean of its"
        " runs), dashboard, dashlite (1 thread, no query while the file is unchanged), bi;"
        " join with +",
    )
    ap.add_argument("--seconds", type=float, default=6.0, help="writer run time per case")
    ap.add_argument("--publish-ms", type=float, default=1000.0, help="publish at most this often")
    ap.add_argument(
        "--wait-quiet",
        type=float,
        default=10.0,
        help="before each run, wait up to this many seconds for other processes to idle",
    )
    ap.add_argument(
        "--repeat", type=int, default=1, help="rounds of the run matrix (the summary: medians)"
    )
    ap.add_argument("--no-oneoffs", action="store_true", help="skip the one-off measurements")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = ap.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="fpi-storage-spike-"))
    work.mkdir(parents=True, exist_ok=True)
    children = Children(work)
    t0 = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {
            "duckdb": duckdb.__version__,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "machine": platform.platform(),
            "seconds_per_case": args.seconds,
            "publish_ms": args.publish_ms,
            "rows_per_batch": ROWS_PER_BATCH,
            "exception_upserts_per_batch": EXC_UPDATES + EXC_NEW,
            "started_unix": time.time(),
        },
        "sizes": {},
        "runs": [],
        "oneoffs": {},
    }
    try:
        sizes: list[dict[str, Any]] = []
        for n in (int(s) for s in args.sizes.split(",")):
            base = work / f"base-{n}.duckdb"
            print(f"building {n:,} rows ...", flush=True)
            info = build_base(base, n)
            pq = export_base_parquet(base, work / f"parquet-{n}")
            size = {"rows": n, "path": str(base), "parquet": pq}
            sizes.append(size)
            results["sizes"][str(n)] = {
                **info,
                "parquet_export_s": pq["seconds"],
                "parquet_mb": pq["parquet_mb"],
                "parquet_event_files": len(pq["event_files"]),
                "parquet_exception_files": len(pq["exception_files"]),
            }
            print(f"  {results['sizes'][str(n)]}", flush=True)
        for size, rnd, cand, readers in (
            (size, rnd, cand, readers)
            for size in sizes
            for rnd in range(args.repeat)
            for cand in args.candidates.split(",")
            for readers in args.readers.split(",")
        ):
            print(f"run {cand} {size['rows']:,} {readers} (round {rnd}) ...", flush=True)
            r = run_case(
                work,
                children,
                size,
                cand,
                readers,
                args.seconds,
                args.publish_ms,
                args.wait_quiet,
            )
            r["round"] = rnd
            results["runs"].append(r)
            save(args.out, results)
            w = r["writer"]
            print(
                f"  {w['batches_per_s']} batches/s, publish p50 {w['publish_ms']['p50']}"
                f" ms, bi {r.get('bi', {}).get('success_pct')} %, dash "
                f"{r.get('dashboard', r.get('dashlite', {})).get('latency_ms', {}).get('p50')} ms, "
                f"fresh {r.get('freshness_ms', {}).get('p95')} ms, "
                f"lost {r['check']['lost_events']}, machine {r['machine']}",
                flush=True,
            )
        if not args.no_oneoffs:
            one = results["oneoffs"]
            print("probes ...", flush=True)
            one["probes"] = probes(work, children)
            print("replace check ...", flush=True)
            one["replace_check"] = replace_check(work, children, sizes[0])
            for size in sizes:
                key = str(size["rows"])
                print(f"publish costs {key} ...", flush=True)
                one[f"publish_costs_{key}"] = publish_costs(work, size)
                print(f"read latency {key} ...", flush=True)
                one[f"read_latency_{key}"] = read_latency(work, size)
            print("parts and compaction ...", flush=True)
            one["parts_and_compaction"] = parts_and_compaction(work, sizes[-1])
        results["summary_per_run"] = summary_rows(results)
        results["summary"] = median_rows(results["summary_per_run"])
        results["meta"]["total_seconds"] = round(time.perf_counter() - t0, 1)
        save(args.out, results)
        print()
        print_table(results["summary"])
        print(json.dumps(results["oneoffs"], indent=1))
        print(f"\nraw results: {args.out} ({results['meta']['total_seconds']} s)")
    finally:
        children.stop_all()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

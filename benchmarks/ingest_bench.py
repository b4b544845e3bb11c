"""Ingest benchmark (issue 9): fpi against a DuckDB batch recompute, paired.

Not a test: speed is measured here and written into the README, never asserted.
Machines here are shared and noisy, so every comparison is *paired*: the two
sides run alternately in the same session and the report gives medians and
the ratio of medians.

    ./dev bench                  # everything below, default sizes
    ./dev bench --quick          # smaller streams, one repeat (a smoke run)
    ./dev bench --only throughput incremental

Sections:

* ``throughput`` — `fpi ingest` of the generated stream (``fpi generate --days 3
  --lines-per-day 130000``, ~297k lines, ~93 % order milestones) and of the
  exception events only of a 10-day stream at that rate (~90k lines: the
  lifecycle engine), each paired with
  :data:`BATCH_SQL`: a DuckDB batch job that reads the same file and
  recomputes everything from scratch (dedupe, exception state, order state,
  headline KPIs) into a new DuckDB file. Lines/s, wall seconds, peak RSS.
* ``readers`` — while `fpi ingest` writes, a BI-like reader opens the
  database read-only every 0.2 s *without retrying* and runs a query: how
  many opens succeed, and the writer's wall time with vs without the reader.
* ``incremental`` — the same 1,000 new events folded into a ~100k-line and a
  ~900k-line history (copies of the databases, alternating): wall time and
  peak RSS of each, and their ratio.
* ``memory`` — peak RSS of `fpi ingest` at ~1M and ~5M events, against a
  tiny run's (the fixed base), per exception open at the end.
* ``dedupe`` — see ``benchmarks/dedupe_bench.py`` (run separately: it builds
  10M- and 50M-id tables).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
FPI = [PY, "-m", "fpi"]
START = datetime(2026, 5, 4, tzinfo=UTC)

BATCH_SQL = """
CREATE TABLE events AS
    SELECT * EXCLUDE (occurred_at, promised_delivery_at),
           TRY_CAST(occurred_at AS TIMESTAMPTZ) AS t,
           TRY_CAST(promised_delivery_at AS TIMESTAMPTZ) AS promised,
           exception_id AS xid, order_id AS oid, actor.kind AS kind, order_value AS value,
           sla_target_hours AS target
    FROM read_json('{path}', format = 'newline_delimited', ignore_errors = true,
        columns = {event_id: 'VARCHAR', event_type: 'VARCHAR', occurred_at: 'VARCHAR',
                   exception_id: 'VARCHAR', order_id: 'VARCHAR',
                   actor: 'STRUCT(id VARCHAR, kind VARCHAR)', severity: 'VARCHAR',
                   site: 'VARCHAR', carrier: 'VARCHAR', category: 'VARCHAR',
                   order_value: 'DOUBLE', sla_target_hours: 'DOUBLE',
                   promised_delivery_at: 'VARCHAR'})
    WHERE event_id IS NOT NULL AND event_type IS NOT NULL AND t IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY event_id) = 1;
CREATE TABLE exceptions AS
    WITH opened AS (
        SELECT xid, t AS opened_at, severity, site, carrier, category, value,
               coalesce(target, CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 8
                                              ELSE 24 END) AS target
        FROM events WHERE event_type = 'exception.opened'
        QUALIFY row_number() OVER (PARTITION BY xid ORDER BY t) = 1
    ), follow AS (
        SELECT xid,
               count(*) FILTER (event_type = 'exception.touched' AND kind = 'human') AS touches,
               arg_max(event_type, t) FILTER (event_type IN ('exception.resolved',
                   'exception.reopened', 'exception.cancelled', 'exception.paused',
                   'exception.resumed')) AS last_status,
               max(t) FILTER (event_type = 'exception.resolved') AS resolved_at,
               count(*) AS events
        FROM events WHERE xid IS NOT NULL AND event_type <> 'exception.opened'
        GROUP BY xid
    )
    SELECT o.*, coalesce(f.touches, 0) AS touches, coalesce(f.events, 0) + 1 AS events,
           CASE f.last_status WHEN 'exception.resolved' THEN 'resolved'
                WHEN 'exception.cancelled' THEN 'cancelled'
                WHEN 'exception.paused' THEN 'paused' ELSE 'open' END AS status,
           f.resolved_at
    FROM opened o LEFT JOIN follow f USING (xid);
CREATE TABLE orders AS
    SELECT oid, min(t) FILTER (event_type = 'order.released') AS released_at,
           max(t) FILTER (event_type = 'order.shipped') AS shipped_at,
           max(t) FILTER (event_type = 'order.delivered') AS delivered_at,
           arg_max(promised, t) FILTER (event_type = 'order.released') AS promised,
           arg_max(value, t) FILTER (event_type = 'order.released') AS value
    FROM events WHERE event_type LIKE 'order.%' GROUP BY oid;
CREATE TABLE kpis AS
    WITH clock AS (SELECT max(t) AS now FROM events)
    SELECT count(*) FILTER (status IN ('open', 'paused')) AS open_exceptions,
           count(*) FILTER (status = 'open'
               AND epoch(now - opened_at) / 3600 > target) AS breached_open,
           sum(value) FILTER (status IN ('open', 'paused')) AS revenue_at_risk,
           avg(touches) FILTER (status = 'resolved') AS touches_per_resolved
    FROM exceptions, clock;
"""
"""The batch recompute fpi is paired with: every event of the file read
(DuckDB's JSON reader with the fields the state needs), deduplicated, folded
into exception and order state and headline KPIs, from scratch, into a new
DuckDB file. Simplified rules (no payload kept, no reasons for bad lines, no
as-of history): a lean baseline of the same job, not a second implementation
of kpis.md."""


def timed_process(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MiB, from ``wait4``) and stdout of one process."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd[:5])} failed: {err.strip()[-600:]}")
    return seconds, usage.ru_maxrss / 1024, out.strip()


def count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def generate(out: Path, days: float, lines_per_day: int, seed: int = 7) -> int:
    """``fpi generate`` into ``out``; returns its line count."""
    if not out.exists():
        timed_process(
            [
                *FPI,
                "generate",
                "--out",
                str(out),
                "--days",
                str(days),
                "--lines-per-day",
                str(lines_per_day),
                "--seed",
                str(seed),
            ]
        )
    return count_lines(out)


def exception_only(src: Path, out: Path) -> int:
    """The lines of ``src`` that are not order milestones (bad lines kept)."""
    n = 0
    with src.open("rb") as fin, out.open("wb") as fout:
        for line in fin:
            if b'"event_type": "order.' not in line and b'"event_type":"order.' not in line:
                fout.write(line)
                n += 1
    return n


def drop_db(db: Path) -> None:
    """Remove a database: its views file, store folder, WAL and lock file."""
    for p in db.parent.glob(db.name + "*"):
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def copy_db(db: Path, copy: Path) -> None:
    """A copy of a database: its views file and its ``.d`` folder (store and parts)."""
    drop_db(copy)
    shutil.copy2(db, copy)
    shutil.copytree(db.with_name(db.name + ".d"), copy.with_name(copy.name + ".d"))


def fpi_ingest(stream: Path, db: Path) -> tuple[float, float]:
    seconds, rss, _ = timed_process([*FPI, "ingest", str(stream), "--db", str(db), "--quiet"])
    return seconds, rss


def batch_recompute(stream: Path, out: Path) -> tuple[float, float]:
    drop_db(out)
    sql = BATCH_SQL.replace("{path}", str(stream).replace("'", "''"))
    code = (
        "import duckdb,sys; c=duckdb.connect(sys.argv[1]); "
        "c.execute(\"SET TimeZone='UTC'\"); c.execute(sys.argv[2]); c.close()"
    )
    seconds, rss, _ = timed_process([PY, "-c", code, str(out), sql])
    return seconds, rss


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def paired(
    label: str,
    lines: int,
    a: Callable[[], tuple[float, float]],
    b: Callable[[], tuple[float, float]],
    repeats: int,
) -> dict[str, float]:
    """Run ``a`` (fpi) and ``b`` (batch) alternately; medians and ratio."""
    fa: list[tuple[float, float]] = []
    fb: list[tuple[float, float]] = []
    for _ in range(repeats):
        fa.append(a())
        fb.append(b())
    sa, sb = med([x[0] for x in fa]), med([x[0] for x in fb])
    row = {
        "lines": lines,
        "fpi_s": sa,
        "fpi_lines_per_s": lines / sa,
        "fpi_rss_mib": med([x[1] for x in fa]),
        "batch_s": sb,
        "batch_rss_mib": med([x[1] for x in fb]),
        "ratio": sa / sb,
    }
    print(
        f"{label}: {lines:,} lines | fpi {sa:.2f}s ({lines / sa:,.0f} lines/s, "
        f"{row['fpi_rss_mib']:.0f} MiB) | batch {sb:.2f}s ({row['batch_rss_mib']:.0f} MiB) | "
        f"fpi/batch {sa / sb:.1f}x",
        flush=True,
    )
    return row


READER_CODE = """
import duckdb, sys, time, json
db, stop = sys.argv[1], sys.argv[2]
ok = fail = 0
errors = []
import os
while not os.path.exists(stop):
    try:
        con = duckdb.connect(db, read_only=True)
        con.execute("SELECT count(*) FROM exception_events").fetchall()
        con.close()
        ok += 1
    except Exception as exc:
        fail += 1
        errors.append(str(exc).splitlines()[0][:120])
    time.sleep(0.2)
print(json.dumps({"ok": ok, "fail": fail, "errors": errors[:3]}))
"""


def readers(stream: Path, lines: int, work: Path, repeats: int) -> dict[str, object]:
    """Writer alone vs writer with a BI-like reader (0.2 s polling, no retry)."""
    alone: list[float] = []
    together: list[float] = []
    ok = fail = 0
    errors: list[str] = []
    for r in range(repeats):
        db = work / "readers.duckdb"
        drop_db(db)
        alone.append(fpi_ingest(stream, db)[0])
        drop_db(db)
        stop = work / f"stop-{r}"
        stop.unlink(missing_ok=True)
        # the views file exists from the writer's first moment; start the
        # reader once it does, as a BI tool pointed at the path would
        writer = subprocess.Popen(
            [*FPI, "ingest", str(stream), "--db", str(db), "--quiet"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        t = time.perf_counter()
        while not db.exists() and writer.poll() is None:
            time.sleep(0.01)
        reader = subprocess.Popen(
            [PY, "-c", READER_CODE, str(db), str(stop)], stdout=subprocess.PIPE, text=True
        )
        writer.wait()
        together.append(time.perf_counter() - t)
        stop.touch()
        out, _ = reader.communicate()
        res = json.loads(out)
        ok += res["ok"]
        fail += res["fail"]
        errors += res["errors"]
    a, b = med(alone), med(together)
    print(
        f"readers: {ok + fail:,} read-only opens while writing, {ok:,} succeeded, "
        f"{fail:,} failed {errors[:2]} | writer {a:.2f}s alone, {b:.2f}s with the reader "
        f"({(b / a - 1) * 100:+.0f} %)",
        flush=True,
    )
    return {"opens": ok + fail, "ok": ok, "fail": fail, "alone_s": a, "with_reader_s": b}


def incremental(work: Path, repeats: int, quick: bool) -> dict[str, float]:
    """The same 1,000 new events into a ~100k- and a ~900k-line history."""
    big_lines = 300_000 if quick else 900_000
    src = work / f"hist-{big_lines}.jsonl"
    n = generate(src, 3, big_lines // 3 + 400, seed=11)
    lines = src.read_bytes().splitlines(keepends=True)
    new, rest = lines[-1000:], lines[:-1000]
    (work / "new.jsonl").write_bytes(b"".join(new))
    hist = {"small": rest[-100_000:], "big": rest}
    dbs: dict[str, Path] = {}
    for name, part in hist.items():
        f = work / f"hist-{name}.jsonl"
        f.write_bytes(b"".join(part))
        db = work / f"hist-{name}.duckdb"
        drop_db(db)
        fpi_ingest(f, db)
        dbs[name] = db
    results: dict[str, list[tuple[float, float]]] = {"small": [], "big": []}
    for _ in range(repeats):
        for name, db in dbs.items():
            copy = work / f"copy-{name}.duckdb"
            copy_db(db, copy)
            results[name].append(fpi_ingest(work / "new.jsonl", copy))
            drop_db(copy)
    out = {
        "history_small_lines": len(hist["small"]),
        "history_big_lines": len(hist["big"]),
        "small_s": med([x[0] for x in results["small"]]),
        "big_s": med([x[0] for x in results["big"]]),
        "small_rss_mib": med([x[1] for x in results["small"]]),
        "big_rss_mib": med([x[1] for x in results["big"]]),
    }
    print(
        f"incremental: 1,000 new events into {out['history_small_lines']:,} vs "
        f"{out['history_big_lines']:,} lines of history: {out['small_s']:.2f}s / "
        f"{out['small_rss_mib']:.0f} MiB vs {out['big_s']:.2f}s / {out['big_rss_mib']:.0f} MiB "
        f"(ratio {out['big_s'] / out['small_s']:.2f}x time, "
        f"{out['big_rss_mib'] / out['small_rss_mib']:.2f}x memory); generated {n:,}",
        flush=True,
    )
    return out


def open_exceptions(db: Path) -> int:
    code = (
        "import sys; from core.db import open_read\n"
        "with open_read(sys.argv[1]) as c:\n"
        "    print(c.execute(\"SELECT count(*) FROM exceptions WHERE status IN ('open','paused')\")"
        ".fetchall()[0][0])"
    )
    _, _, out = timed_process([PY, "-c", code, str(db)])
    return int(out)


def memory(work: Path, sizes: list[int]) -> list[dict[str, float]]:
    """Peak RSS at each size against a tiny run (the fixed base)."""
    tiny = work / "tiny.jsonl"
    generate(tiny, 1, 300, seed=3)
    db = work / "tiny.duckdb"
    drop_db(db)
    base = fpi_ingest(tiny, db)[1]
    rows = []
    for n in sizes:
        src = work / f"mem-{n}.jsonl"
        lines = generate(src, 3, int(n / 3 / 0.99), seed=5)
        db = work / f"mem-{n}.duckdb"
        drop_db(db)
        seconds, rss = fpi_ingest(src, db)
        opened = open_exceptions(db)
        per = (rss - base) * 2**20 / max(opened, 1)
        rows.append(
            {
                "lines": lines,
                "rss_mib": rss,
                "base_mib": base,
                "open": opened,
                "bytes_per_open": per,
                "seconds": seconds,
            }
        )
        print(
            f"memory: {lines:,} lines in {seconds:.0f}s ({lines / seconds:,.0f} lines/s), peak "
            f"{rss:.0f} MiB, base {base:.0f} MiB, {opened:,} exceptions open at the end: "
            f"{per:,.0f} bytes above base per open exception",
            flush=True,
        )
        drop_db(db)
    if len(rows) >= 2:
        a, b = rows[0], rows[-1]
        slope = (b["rss_mib"] - a["rss_mib"]) * 2**20 / max(b["open"] - a["open"], 1)
        print(
            f"memory: from {a['lines']:,} to {b['lines']:,} lines peak RSS grew "
            f"{b['rss_mib'] - a['rss_mib']:+.0f} MiB while open exceptions grew "
            f"{b['open'] - a['open']:+,}: {slope:,.0f} bytes per open exception",
            flush=True,
        )
    return rows


def state_bytes(n: int = 5000, follow_ups: int = 4) -> float:
    """Python memory the applier holds per open exception (tracemalloc): its
    opened facts and compact follow-up steps, after commits let go of ids."""
    import gc
    import json as _json
    import tracemalloc
    from datetime import timedelta

    from core.config import load_settings
    from core.timeutil import to_us
    from flows.apply import Applier
    from flows.parse import Parsed, parse_line

    settings = load_settings()
    t0 = datetime(2026, 5, 4, 8, tzinfo=UTC)
    now = to_us(datetime(2026, 6, 1, tzinfo=UTC))
    chunks: list[list[Parsed]] = []
    for k in range(0, n, 500):
        chunk: list[Parsed] = []
        for i in range(k, k + 500):
            x = f"EXC-{i:07d}"
            lines = [
                {
                    "event_id": f"o-{i}",
                    "event_type": "exception.opened",
                    "exception_id": x,
                    "occurred_at": "2026-05-04T08:00:00Z",
                    "source_system": "WMS",
                    "schema_version": "1",
                    "order_id": f"SO-{i:07d}",
                    "category": "carrier_failure",
                    "severity": "high",
                    "site": f"DC-{i % 7}",
                    "origin": "ATL",
                    "destination": "MIA",
                    "carrier": "ACME",
                    "customer_tier": "key",
                    "order_value": 1234.5,
                    "currency": "USD",
                }
            ] + [
                {
                    "event_id": f"t-{i}-{j}",
                    "event_type": "exception.touched",
                    "exception_id": x,
                    "occurred_at": (t0 + timedelta(hours=j + 1)).isoformat(),
                    "action": "call",
                    "source_system": "CRM",
                    "schema_version": "1",
                    "actor": {"id": "u-1", "kind": "human"},
                }
                for j in range(follow_ups)
            ]
            for e in lines:
                off = len(chunk) + k * 10
                p = parse_line(_json.dumps(e).encode(), "f", off, off, settings, now)
                assert isinstance(p, Parsed), p
                chunk.append(p)
        chunks.append(chunk)
    applier = Applier("k", settings, lambda: datetime(2026, 6, 1, tzinfo=UTC))
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for chunk in chunks:
        applier.apply(chunk, [])
    applier.recent.clear()  # what commits let go of
    applier._recent_log.clear()  # noqa: SLF001 - a benchmark looks inside
    for hot in applier.hot.values():  # and so do replays (``Applier._forget_committed``)
        hot.replay = None
    applier._replayed.clear()  # noqa: SLF001
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    total = sum(d.size_diff for d in after.compare_to(before, "filename"))
    per = total / max(len(applier.hot), 1)
    print(
        f"memory: {len(applier.hot):,} open exceptions with {follow_ups} follow-ups each "
        f"hold {per:,.0f} bytes each in the applier (tracemalloc)",
        flush=True,
    )
    return per


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--only",
        nargs="+",
        choices=["throughput", "readers", "incremental", "memory"],
        default=["throughput", "readers", "incremental", "memory"],
    )
    ap.add_argument("--quick", action="store_true", help="small streams, one repeat")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--memory-sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--keep", type=Path, help="keep streams and databases in this folder")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    args = ap.parse_args()
    repeats = 1 if args.quick else args.repeats
    work = args.keep or Path(tempfile.mkdtemp(prefix="fpi-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}", flush=True)
    report: dict[str, object] = {}
    lpd = 30_000 if args.quick else 130_000
    stream = work / f"gen-{lpd}.jsonl"
    lines = generate(stream, 3, lpd)
    if "throughput" in args.only:
        out = work / "throughput.duckdb"
        batch_db = work / "batch.duckdb"

        def run_fpi(src: Path) -> Callable[[], tuple[float, float]]:
            def go() -> tuple[float, float]:
                drop_db(out)
                return fpi_ingest(src, out)

            return go

        report["throughput"] = paired(
            "generated stream",
            lines,
            run_fpi(stream),
            lambda: batch_recompute(stream, batch_db),
            repeats,
        )
        # the exception events of a longer stream (10 days), so that start-up
        # does not dominate: ~7 % of the lines are exception events
        long_stream = work / f"gen-{lpd}-10d.jsonl"
        generate(long_stream, 3 if args.quick else 10, lpd)
        exc = work / f"exceptions-{lpd}.jsonl"
        n_exc = exception_only(long_stream, exc)
        report["exceptions_only"] = paired(
            "exception events only",
            n_exc,
            run_fpi(exc),
            lambda: batch_recompute(exc, batch_db),
            repeats,
        )
    if "readers" in args.only:
        report["readers"] = readers(stream, lines, work, repeats)
    if "incremental" in args.only:
        report["incremental"] = incremental(work, repeats, args.quick)
    if "memory" in args.only:
        sizes = [200_000] if args.quick else args.memory_sizes
        report["memory"] = memory(work, sizes)
        report["state_bytes_per_open_exception"] = state_bytes()
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Ingest benchmark: generate N events, run `fpi ingest`, report throughput and memory.

Not a test: speed is measured here and written into the README, never asserted.

    ./dev bench                       # 100k and 1M events
    ./dev bench --events 200000 --profile

For each size it reports end-to-end events/s of `fpi ingest` (a fresh process:
start-up, parse + validate, dedupe, lifecycle, DuckDB writes, final commit),
peak resident memory of that process, the database size, and the latency of
`fpi kpis` (read-only open + all KPIs) on the result. ``--profile`` also runs
one in-process ingest under cProfile and prints where the time goes by stage.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sample_streams.generator import GeneratorConfig, write_stream

ROOT = Path(__file__).resolve().parents[1]
FPI = [sys.executable, "-m", "fpi"]
START = datetime(2026, 5, 4, tzinfo=UTC)


def events_per_line() -> float:
    """Events per order line of the generator (pilot run)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pilot.jsonl"
        write_stream(path, GeneratorConfig(start=START, days=2, lines_per_day=5000, seed=1))
        with path.open("rb") as fh:
            n = sum(1 for _ in fh)
    return n / 10_000


def generate(n_events: int, out: Path, ratio: float) -> tuple[int, float]:
    """Write about ``n_events`` events (3 days of the scaled seed scenario)."""
    days = 3.0
    lines_per_day = max(100, int(n_events / ratio / days))
    t = time.perf_counter()
    write_stream(out, GeneratorConfig(start=START, days=days, lines_per_day=lines_per_day, seed=42))
    opener = gzip.open if out.name.endswith(".gz") else open
    with opener(out, "rb") as fh:
        n = sum(1 for _ in fh)
    return n, time.perf_counter() - t


def run_ingest(stream: Path, db: Path) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KiB) and summary line of one `fpi ingest` process."""
    t = time.perf_counter()
    proc = subprocess.Popen(
        [*FPI, "ingest", str(stream), "--db", str(db), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t
    assert proc.stdout is not None and proc.stderr is not None
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"fpi ingest failed: {err}")
    return seconds, usage.ru_maxrss, out.strip()


def kpi_latency(db: Path, runs: int = 5) -> tuple[float, float]:
    """Median seconds of `fpi kpis --format json` (process) and of the query alone."""
    from core.db import open_read
    from metrics.query import kpis

    process, query = [], []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(
            [*FPI, "kpis", "--db", str(db), "--format", "json"], check=True, capture_output=True
        )
        process.append(time.perf_counter() - t)
        t = time.perf_counter()
        with open_read(db) as con:
            kpis(con, by="carrier")
        query.append(time.perf_counter() - t)
    return statistics.median(process), statistics.median(query)


def profile(stream: Path, db: Path) -> None:
    """cProfile one in-process ingest; print the top functions by own time."""
    from core.config import load_settings
    from core.timeutil import system_clock
    from flows.ingest import ingest

    prof = cProfile.Profile()
    prof.enable()
    ingest([stream], db, load_settings(), system_clock)
    prof.disable()
    stats = pstats.Stats(prof)
    stats.sort_stats("tottime").print_stats(18)
    stats.sort_stats("cumulative").print_stats("flows|fpi|metrics", 18)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--keep", type=Path, help="keep streams and databases in this folder")
    args = ap.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="fpi-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    ratio = events_per_line()
    rows = []
    for n in args.events:
        stream = work / f"stream_{n}.jsonl"
        db = work / f"bench_{n}.duckdb"
        db.unlink(missing_ok=True)
        events, gen_s = generate(n, stream, ratio)
        print(f"generated {events:,} events in {gen_s:.1f}s", file=sys.stderr)
        seconds, rss_kib, summary = run_ingest(stream, db)
        print(summary, file=sys.stderr)
        p_lat, q_lat = kpi_latency(db)
        rows.append(
            (
                events,
                seconds,
                events / seconds,
                rss_kib / 1024,
                db.stat().st_size / 2**20,
                p_lat,
                q_lat,
            )
        )
        if args.profile and n == args.events[0]:
            prof_db = work / "profile.duckdb"
            prof_db.unlink(missing_ok=True)
            profile(stream, prof_db)
    print("\n| events | ingest s | events/s | peak RSS MiB | DB MiB | `fpi kpis` s | query s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for ev, s, rate, rss, size, pl, ql in rows:
        print(
            f"| {ev:,} | {s:.1f} | {rate:,.0f} | {rss:,.0f} | {size:,.0f} | {pl:.2f} | {ql:.2f} |"
        )
    print(f"\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""What working calendars cost readers (issue 11; a benchmark, not a test).

One generated stream (about 1M lines by default) is ingested twice: 24×7 and with
three calendars covering the generator's five sites; a copy of the 24×7 database
is recomputed (``fpi recompute``) with the calendars, to measure a recompute's
O(history) cost.
Then, alternating between the two databases (paired, medians of ``--rounds``):

* ``fpi kpis`` end to end (a process, as a user runs it);
* the heaviest dashboard page's metric work, in process on a fresh read-only
  connection each round: the Overview's KPIs, previous-period KPIs, the daily
  and the hourly trend and the bottleneck list by carrier.

Usage::

    python benchmarks/calendar_bench.py [--days 10] [--lines-per-day 100000] [--rounds 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out" / "calendar"
FPI = str(Path(sys.executable).with_name("fpi"))

CALENDARS = """
[calendars.us_east]
timezone = "America/New_York"
mon = "08:00-12:00,13:00-18:00"
tue = "08:00-12:00,13:00-18:00"
wed = "08:00-12:00,13:00-18:00"
thu = "08:00-12:00,13:00-18:00"
fri = "08:00-16:00"
holidays = ["2026-05-25", "2026-07-03"]

[calendars.us_central_nights]
timezone = "America/Chicago"
mon = "06:00-22:00"
tue = "06:00-22:00"
wed = "06:00-22:00"
thu = "06:00-22:00"
fri = "06:00-24:00"
sat = "00:00-02:00,08:00-14:00"

[calendars.us_west]
timezone = "America/Los_Angeles"
mon = "07:00-19:00"
tue = "07:00-19:00"
wed = "07:00-19:00"
thu = "07:00-19:00"
fri = "07:00-19:00"
sat = "09:00-13:00"

[site_calendars]
DC-ATL = "us_east"
DC-NJ = "us_east"
DC-DAL = "us_central_nights"
DC-CHI = "us_central_nights"
DC-LAX = "us_west"
"""


def _run(*args: str) -> float:
    started = time.perf_counter()
    subprocess.run([FPI, *args], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _config(db: Path, cfg: Path) -> list[str]:
    """``--config`` for the recomputed database (the plain one uses the defaults)."""
    return ["--config", str(cfg)] if db.name.startswith("cal") else []


def _overview(db: Path) -> float:
    from core.db import open_read
    from metrics.bottlenecks import bottlenecks
    from metrics.query import compute, window
    from metrics.series import trend

    started = time.perf_counter()
    with open_read(db) as con:
        win = window(con, None)
        assert win is not None
        compute(con, win)
        length = win.as_of - win.start
        prev = window(con, win.start, win.start - length)
        assert prev is not None
        compute(con, prev)
        trend(con, win.as_of, win.as_of - timedelta(days=30), "day")
        trend(con, win.as_of, win.start, "hour")
        bottlenecks(con, win, "carrier")
    return time.perf_counter() - started


def _paired(label: str, rounds: int, fn: Callable[[Path], float], plain: Path, cal: Path) -> str:
    a: list[float] = []
    b: list[float] = []
    for _ in range(rounds):
        a.append(fn(plain))
        b.append(fn(cal))
    ma, mb = statistics.median(a), statistics.median(b)
    return (
        f"{label}: 24x7 {ma:.3f}s, calendars {mb:.3f}s, ratio {mb / ma:.2f}x (medians of {rounds})"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=10)
    ap.add_argument("--lines-per-day", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    stream = OUT / "stream.jsonl"
    cfg = OUT / "calendars.toml"
    cfg.write_text(CALENDARS)
    gen = ["generate", "--out", str(stream), "--days", str(args.days)]
    _run(*gen, "--lines-per-day", str(args.lines_per_day))
    lines = sum(1 for _ in stream.open("rb"))
    plain, cal, again = OUT / "plain.duckdb", OUT / "cal.duckdb", OUT / "again.duckdb"
    t_plain = _run("ingest", str(stream), "--db", str(plain), "--quiet")
    t_cal = _run("--config", str(cfg), "ingest", str(stream), "--db", str(cal), "--quiet")
    shutil.copy(plain, again)
    shutil.copytree(OUT / "plain.duckdb.d", OUT / "again.duckdb.d")
    t_recompute = _run("--config", str(cfg), "recompute", "--db", str(again), "--quiet")
    shutil.rmtree(OUT / "again.duckdb.d")
    again.unlink()
    print(f"stream: {lines:,} lines; fpi ingest 24x7 {t_plain:.1f}s, with calendars {t_cal:.1f}s")
    print(f"fpi recompute of the 24x7 database with the 3 calendars: {t_recompute:.1f}s")
    print(
        _paired(
            "fpi kpis",
            args.rounds,
            lambda db: _run(*_config(db, cfg), "kpis", "--db", str(db), "--format", "json"),
            plain,
            cal,
        )
    )
    print(_paired("Overview page metric work", args.rounds, _overview, plain, cal))
    return 0


if __name__ == "__main__":
    sys.exit(main())

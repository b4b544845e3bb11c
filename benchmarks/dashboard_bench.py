"""Page render time of the dashboard at scale (a benchmark, not a test).

For each database and each page, the page script runs through
``streamlit.testing.v1.AppTest`` exactly as a browser session would run it:

* **cold** — Streamlit's data cache cleared first: every query runs;
* **warm** — the same view again (cached; what a rerun without new data costs).

The cold run is split by timing every call the page makes into
``dashboard.data`` (metric-layer queries, each on its own read-only
connection) and ``dashboard.charts`` (Plotly figure building); the rest is
Streamlit itself (script, widgets, serialising figures). The view is the
default one: latest data, flows over the last 7 days, no filter; plus the
Overview filtered to the top carrier and at hourly grain, and the heatmap of
lane × root cause.

Usage::

    python benchmarks/dashboard_bench.py --db 1M=/tmp/e1m.duckdb --db 10M=/tmp/e10m.duckdb
    python benchmarks/dashboard_bench.py --generate 1000000 --days 7   # builds benchmarks/out/

``--generate N`` writes a stream of about N accepted events with ``fpi generate``
and ingests it with ``fpi ingest`` (about 10k lines/s here, so 10M takes ~20 min).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PAGES = {
    "overview": "app_pages/overview.py",
    "bottlenecks": "app_pages/bottlenecks.py",
    "aging": "app_pages/aging.py",
    "queue": "app_pages/queue.py",
    "quality": "app_pages/quality.py",
}
EVENTS_PER_ORDER_LINE = 0.94  # measured on the generator's default world


class Timer:
    """Accumulates the time spent in wrapped functions."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, bucket: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds[bucket] = self.seconds.get(bucket, 0.0) + time.perf_counter() - t0

        return timed

    def reset(self) -> None:
        self.seconds.clear()


@contextmanager
def instrumented(timer: Timer) -> Iterator[None]:
    """Time every public function of ``dashboard.data`` and ``dashboard.charts``."""
    import dashboard.charts as charts
    import dashboard.data as data

    saved: list[tuple[Any, str, object]] = []
    for module, bucket in ((data, "query"), (charts, "figure")):
        for name in dir(module):
            obj = getattr(module, name)
            if name.startswith("_") or not callable(obj) or isinstance(obj, type):
                continue
            if name in ("run_scope", "previous"):  # not reads
                continue
            if getattr(obj, "__module__", module.__name__) != module.__name__ and not hasattr(
                obj, "clear"
            ):
                continue
            saved.append((module, name, obj))
            setattr(module, name, timer.wrap(f"{bucket}:{name}", obj))
    try:
        yield
    finally:
        for module, name, obj in saved:
            setattr(module, name, obj)


def run_page(db: Path, page: str, query: dict[str, str] | None = None) -> tuple[float, Any]:
    """Run one page through AppTest; seconds and the AppTest."""
    from streamlit.testing.v1 import AppTest

    import dashboard

    os.environ["FPI_DB"] = str(db)
    os.environ["FPI_REFRESH_SECONDS"] = "0"
    at = AppTest.from_file(str(Path(dashboard.__file__).with_name("app.py")), default_timeout=600)
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.switch_page(PAGES[page])
    t0 = time.perf_counter()
    at.run()
    elapsed = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError(f"{page}: {at.exception[0].message}")
    return elapsed, at


def counts(db: Path) -> dict[str, int]:
    from core.db import fetch_row, open_read

    with open_read(db) as con:
        row = fetch_row(
            con,
            "SELECT (SELECT count(*) FROM exception_events), (SELECT count(*) FROM order_events),"
            " (SELECT count(*) FROM exceptions), (SELECT count(*) FROM exception_versions)",
        )
    names = ("exception_events", "order_events", "exceptions", "versions")
    return {n: int(str(v)) for n, v in zip(names, row, strict=True)}


def bench(label: str, db: Path, repeat: int) -> list[dict[str, Any]]:
    import streamlit as st

    timer = Timer()
    rows: list[dict[str, Any]] = []
    views: list[tuple[str, str, dict[str, str]]] = [(p, p, {}) for p in PAGES]
    top_carrier = _top_carrier(db)
    if top_carrier:
        views.append(("overview", f"overview carrier={top_carrier}", {"carrier": top_carrier}))
    views.append(("overview", "overview grain=hour", {"grain": "hour"}))
    views.append(("bottlenecks", "bottlenecks lane x category", {"hm_rows": "Lane"}))
    # one throw-away run: imports, plotly/streamlit warm-up
    run_page(db, "quality")
    for page, name, query in views:
        cold: list[float] = []
        split: list[dict[str, float]] = []
        for _ in range(repeat):
            st.cache_data.clear()
            timer.reset()
            with instrumented(timer):
                secs, _ = run_page(db, page, query)
            cold.append(secs)
            split.append(dict(timer.seconds))
        warm, _ = run_page(db, page, query)
        best = min(range(repeat), key=lambda i: cold[i])
        parts = split[best]
        q = sum(v for k, v in parts.items() if k.startswith("query:"))
        f = sum(v for k, v in parts.items() if k.startswith("figure:"))
        top = sorted(
            ((v, k.split(":", 1)[1]) for k, v in parts.items() if k.startswith("query:")),
            reverse=True,
        )[:3]
        row = {
            "db": label,
            "view": name,
            "cold_s": statistics.median(cold),
            "query_s": q,
            "figure_s": f,
            "streamlit_s": cold[best] - q - f,
            "warm_s": warm,
            "top": ", ".join(f"{n} {v:.2f}" for v, n in top),
        }
        rows.append(row)
        print(
            f"  {label:>4} {name:<28} cold {row['cold_s']:6.2f}s  warm {warm:5.2f}s"
            f"  [{row['top']}]",
            flush=True,
        )
    return rows


def _top_carrier(db: Path) -> str | None:
    from core.db import open_read
    from metrics.bottlenecks import bottleneck_lists
    from metrics.query import window

    with open_read(db) as con:
        win = window(con)
        if win is None:
            return None
        ranked = bottleneck_lists(con, win, ["carrier"])["carrier"]
    return str(ranked["carrier"][0]) if ranked.height else None


def generate(events: int, days: float, out: Path) -> Path:
    """Write and ingest a stream of about ``events`` accepted events; the database path."""
    out.mkdir(parents=True, exist_ok=True)
    tag = f"{events // 1000}k" if events < 1_000_000 else f"{events / 1e6:g}M"
    src, db = out / f"stream-{tag}.jsonl", out / f"bench-{tag}.duckdb"
    if db.exists():
        return db
    per_day = max(1, int(events / EVENTS_PER_ORDER_LINE / days))
    fpi = [sys.executable, "-m", "fpi"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    subprocess.run(
        [*fpi, "generate", "--out", str(src), "--days", str(days), "--lines-per-day", str(per_day)],
        check=True,
        env=env,
    )
    t0 = time.perf_counter()
    subprocess.run([*fpi, "ingest", str(src), "--db", str(db), "--quiet"], check=True, env=env)
    print(f"ingested {src.name} in {time.perf_counter() - t0:.0f}s", flush=True)
    return db


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--db",
        action="append",
        default=[],
        metavar="LABEL=PATH",
        help="an ingested database to measure (repeat)",
    )
    ap.add_argument(
        "--generate",
        type=int,
        action="append",
        default=[],
        metavar="EVENTS",
        help="build a database of about EVENTS events first (repeat)",
    )
    ap.add_argument("--days", type=float, default=7.0, help="days of the generated streams")
    ap.add_argument("--repeat", type=int, default=2, help="cold runs per view (median)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    args = ap.parse_args(argv)

    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    targets: list[tuple[str, Path]] = []
    for item in args.db:
        label, _, path = item.partition("=")
        targets.append((label, Path(path)) if path else (Path(label).stem, Path(label)))
    for n in args.generate:
        db = generate(n, args.days, args.out)
        targets.append((f"{n / 1e6:g}M", db))
    if not targets:
        ap.error("give --db LABEL=PATH or --generate EVENTS")

    rows: list[dict[str, Any]] = []
    for label, db in targets:
        c = counts(db)
        size = db.stat().st_size / 1e6
        print(
            f"{label}: {db} ({size:,.0f} MB) — {c['exception_events']:,} accepted events, "
            f"{c['order_events']:,} order events, {c['exceptions']:,} exceptions, "
            f"{c['versions']:,} state versions",
            flush=True,
        )
        rows += bench(label, db, args.repeat)

    print()
    print(
        f"{'db':>5} | {'view':<28} | {'cold s':>7} | {'query s':>7} | {'figure s':>8} | "
        f"{'streamlit s':>11} | {'warm s':>6} | slowest queries (s)"
    )
    print("-" * 140)
    for r in rows:
        print(
            f"{r['db']:>5} | {r['view']:<28} | {r['cold_s']:7.2f} | {r['query_s']:7.2f} | "
            f"{r['figure_s']:8.3f} | {r['streamlit_s']:11.2f} | {r['warm_s']:6.2f} | {r['top']}"
        )
    print(
        f"\n{os.cpu_count()} CPUs; cold = cache cleared (median of {args.repeat}); "
        "query = metric layer incl. opening the database; warm = cached rerun."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

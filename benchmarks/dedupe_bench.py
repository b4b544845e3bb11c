"""Exact dedupe of a micro-batch of event ids against every id stored (a benchmark).

Measures, for stored-id counts such as 1M, 10M and 50M, the cost of finding
which ids of one batch (half already stored, half new) are already in a
primary-keyed DuckDB table, three ways:

* ``join`` — the batch as a frame, joined to the table (a hash join: scans all ids);
* ``in-list`` — the batch as a literal ``IN (...)`` list (DuckDB probes the
  primary key's ART index: one lookup per id);
* ``point`` — one parameterised ``WHERE event_id = ?`` query per id;
* ``filter`` — what ``fpi`` does (``flows/idfilter.py``, ``flows/store.py``):
  hash the batch, test it against a Bloom filter of every stored id, and probe
  the primary key (an ``IN`` list) only for the ids the filter cannot rule
  out (the stored half plus ~1 % false positives of the new half). The
  filter is built once per size (its build time and size are reported).

Usage::

    python benchmarks/dedupe_bench.py --sizes 1000000 10000000 50000000 --batch 2000

Each size builds a scratch database (ids ``e-<n>``, random order) in
``--dir`` and deletes it afterwards. Figures are medians of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from flows.idfilter import IdFilter, hash_ids, hash_series


def build(path: Path, n: int) -> None:
    """A table of ``n`` ids with a primary key (inserted in random order)."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE ids (event_id VARCHAR PRIMARY KEY, source_offset BIGINT)")
    con.execute(
        "INSERT INTO ids SELECT 'e-' || i, i FROM range(?) t(i) ORDER BY hash(i)",
        [n],
    )
    con.execute("CHECKPOINT")
    con.close()


def timed(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    """Median seconds of ``fn`` over ``repeat`` runs, and its last result."""
    times: list[float] = []
    found = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        found = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), found


def measure(path: Path, n: int, batch: int, repeat: int) -> dict[str, float]:
    """Seconds per batch for each method on a database of ``n`` ids."""
    rng = random.Random(n)
    old = [f"e-{rng.randrange(n)}" for _ in range(batch // 2)]
    new = [f"new-{i}" for i in range(batch - len(old))]
    ids = old + new
    literal = ", ".join("'" + i.replace("'", "''") + "'" for i in ids)
    con = duckdb.connect(str(path), read_only=True)
    con.register("frame", pl.DataFrame({"event_id": ids}))
    try:
        join_sql = "SELECT i.event_id FROM frame f JOIN ids i USING (event_id)"
        in_sql = f"SELECT event_id FROM ids WHERE event_id IN ({literal})"  # noqa: S608 - ours
        out: dict[str, float] = {}
        out["join"], _ = timed(lambda: len(con.execute(join_sql).fetchall()), repeat)
        out["in-list"], _ = timed(lambda: len(con.execute(in_sql).fetchall()), repeat)

        def points() -> int:
            hits = 0
            for i in ids[:200]:
                hits += len(con.execute("SELECT 1 FROM ids WHERE event_id = ?", [i]).fetchall())
            return hits

        per200, _ = timed(points, repeat)
        out["point"] = per200 * batch / 200

        t0 = time.perf_counter()
        filt = IdFilter.empty(n)
        for chunk in con.sql("SELECT event_id FROM ids").to_arrow_reader(1_000_000):
            filt.add(hash_series(pl.Series(chunk.column(0))))
        out["filter_build"] = time.perf_counter() - t0
        out["filter_mib"] = filt.bits.nbytes / 2**20

        def filtered(batch_ids: list[str]) -> int:
            maybe = filt.maybe(hash_ids(batch_ids))
            probe = [i for i, m in zip(batch_ids, maybe.tolist(), strict=True) if m]
            marks = ", ".join("?" * len(probe))
            sql = f"SELECT event_id FROM ids WHERE event_id IN ({marks})"  # noqa: S608
            return len(con.execute(sql, probe).fetchall()) if probe else 0

        # a realistic batch: ~1 % repeats (the generator's duplicate rate)
        typical = old[: batch // 100] + [f"new2-{i}" for i in range(batch - batch // 100)]
        out["filter"], _ = timed(lambda: filtered(ids), repeat)
        out["filter_1pct"], _ = timed(lambda: filtered(typical), repeat)
        out["filter_probed"] = float(sum(filt.maybe(hash_ids(ids)).tolist()))
        out["filter_probed_1pct"] = float(sum(filt.maybe(hash_ids(typical)).tolist()))
    finally:
        con.close()
    return out


def main() -> None:
    """Run the benchmark and print one line per size."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"seconds to dedupe one batch of {args.batch:,} ids (half stored, half new)")
        print(
            f"{'stored ids':>12} | {'join':>8} | {'in-list':>8} | {'point':>8} | "
            f"{'filter':>8} | probed | filter, 1 % repeats | probed | filter MiB | "
            "filter build s | table build s"
        )
        for n in args.sizes:
            path = Path(tmp) / f"ids-{n}.duckdb"
            t0 = time.perf_counter()
            build(path, n)
            built = time.perf_counter() - t0
            r = measure(path, n, args.batch, args.repeat)
            print(
                f"{n:>12,} | {r['join']:>8.3f} | {r['in-list']:>8.3f} | {r['point']:>8.3f} | "
                f"{r['filter']:>8.3f} | {r['filter_probed']:>6.0f} | "
                f"{r['filter_1pct']:>19.4f} | {r['filter_probed_1pct']:>6.0f} | "
                f"{r['filter_mib']:>10.1f} | "
                f"{r['filter_build']:>14.1f} | {built:.0f}",
                flush=True,
            )
            path.unlink()


if __name__ == "__main__":
    main()

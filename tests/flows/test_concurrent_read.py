"""A reader (`fpi kpis`) succeeds while `fpi ingest` writes the same database."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path

from core.db import open_read
from metrics.query import kpis
from tests.streams import random_stream, write_jsonl


def _big_stream(path: Path, batches: int) -> int:
    rng = random.Random(11)
    events: list[dict] = []
    for b in range(batches):
        for e in random_stream(rng, n_exceptions=400, orders=200):
            e["event_id"] = f"{e['event_id']}-{b}"
            e["exception_id"] = f"{e['exception_id']}-{b}"
            events.append(e)
    write_jsonl(path, events)
    return len(events)


def test_reader_succeeds_while_ingest_writes(tmp_path: Path) -> None:
    stream = tmp_path / "big.jsonl"
    n = _big_stream(stream, batches=40)
    db = tmp_path / "live.duckdb"
    writer = subprocess.Popen(
        [sys.executable, "-m", "fpi", "ingest", str(stream), "--db", str(db), "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    cli_reads: list[int] = []
    lib_reads: list[int] = []
    try:
        deadline = time.monotonic() + 300
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        while writer.poll() is None and time.monotonic() < deadline:
            with open_read(db) as con:
                tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
                if "exception_versions" in tables:
                    df = kpis(con)
                    lib_reads.append(0 if df.is_empty() else int(df["accepted_events"][0]))
            proc = subprocess.run(
                [sys.executable, "-m", "fpi", "kpis", "--db", str(db), "--format", "json"],
                capture_output=True,
                text=True,
                check=False,
            )
            assert proc.returncode == 0, proc.stderr
            assert "lock" not in proc.stderr.lower()
            rows = json.loads(proc.stdout)
            cli_reads.append(rows[0]["accepted_events"] if rows else 0)
        out, err = writer.communicate(timeout=300)
    finally:
        if writer.poll() is None:
            writer.kill()
    assert writer.returncode == 0, err
    assert f"accepted {n:,}" in out
    assert len(cli_reads) >= 1 and len(lib_reads) >= 2
    # readers saw the database grow, and never more than what was finally written
    assert max(cli_reads + lib_reads) <= n
    assert lib_reads == sorted(lib_reads)

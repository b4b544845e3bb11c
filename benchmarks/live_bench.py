"""Live-flow benchmark (issue 10): freshness, alert latency, throughput.

Against a real Kafka-protocol broker (Tansu, ``tests/broker.py``) on loopback:

* **freshness** — while ``fpi stream`` runs caught up, events are produced at
  a steady rate; a reader polling the views file every 0.2 s (the way the
  dashboard does) notes when each becomes visible: latency = seen − sent.
* **alert latency** — exceptions whose breach falls due a few seconds ahead
  (no further event): latency = when a reader sees the ``sla_alerts`` row −
  ``due_at``.
* **throughput** — a backlog (the shipped sample, then a generated stream)
  read to the end by one process, by two Bytewax workers in it
  (``--workers 2``) and by two processes (``--processes 2``): lines/s from
  the start of the process to its last offset committed.

Rates: the seed's distributor (a year ≈ 70M events) is about 2.2 events/s;
``--rates`` lists multiples of it. Prints medians and p95.

    python benchmarks/live_bench.py [--seconds 45] [--rates 1,10]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from confluent_kafka import Producer

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.db import open_read  # noqa: E402
from tests.broker import Broker, start_broker  # noqa: E402

SEED_RATE = 70_000_000 / 365 / 86_400
"""Events per second of the seed's distributor (a year ≈ 70M events)."""

SAMPLE = ROOT / "sample_streams" / "demo.jsonl.gz"


def now() -> datetime:
    return datetime.now(UTC)


def iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


def opened(xid: str, at: datetime, severity: str = "low") -> dict[str, Any]:
    return {
        "event_id": f"{xid}-o",
        "event_type": "exception.opened",
        "occurred_at": iso(at),
        "source_system": "WMS",
        "schema_version": "1",
        "exception_id": xid,
        "order_id": f"SO-{xid}",
        "category": "inventory_shortfall",
        "severity": severity,
        "site": "DC-ATL",
        "origin": "ATL",
        "destination": "MIA",
        "customer_tier": "standard",
        "order_value": 100.0,
        "currency": "USD",
    }


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    try:
        with open_read(db) as con:
            out: list[tuple[Any, ...]] = con.sql(sql).pl().rows()
            return out
    except Exception:  # noqa: BLE001 - not published yet
        return []


def start_stream(
    db: Path, broker: Broker, topic: str, workers: int = 1, processes: int = 1
) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "fpi", "stream", "--brokers", broker.bootstrap]
    cmd += ["--topic", topic, "--db", str(db), "--quiet", "--workers", str(workers)]
    cmd += ["--processes", str(processes)]
    return subprocess.Popen(cmd, cwd=ROOT, stderr=subprocess.DEVNULL, start_new_session=True)


def stop(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(signal.SIGINT)
    p.wait(60)


def wait(pred: Any, timeout: float, every: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {pred}")
        time.sleep(every)


def caught_up(db: Path) -> bool:
    got = rows(db, "SELECT caught_up FROM flow_clock")
    return bool(got and got[0][0])


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def freshness(work: Path, broker: Broker, rate: float, seconds: float) -> dict[str, float]:
    topic = broker.create_topic(f"fresh-{rate:g}".replace(".", "_"), 3)
    db = work / f"fresh-{rate:g}.duckdb"
    p = start_stream(db, broker, topic)
    try:
        wait(lambda: caught_up(db), 60)
        producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 0})
        sent: dict[str, float] = {}
        dues: dict[str, datetime] = {}
        seen: dict[str, float] = {}
        alerts_seen: dict[str, float] = {}
        done = threading.Event()

        def reader() -> None:
            while not done.is_set():
                t = time.time()
                for (eid,) in rows(
                    db, "SELECT event_id FROM exception_events WHERE source_system = 'BENCH'"
                ):
                    seen.setdefault(eid, t)
                for (xid,) in rows(
                    db, "SELECT exception_id FROM sla_alerts WHERE kind = 'breached'"
                ):
                    alerts_seen.setdefault(xid, t)
                time.sleep(0.2)

        r = threading.Thread(target=reader, daemon=True)
        r.start()
        n = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            xid = f"F{rate:g}-{n}"
            e = opened(xid, now())
            e["source_system"] = "BENCH"
            producer.produce(topic, json.dumps(e).encode(), key=xid.encode())
            producer.poll(0)
            sent[e["event_id"]] = time.time()
            if n % max(1, round(rate * 3)) == 0:  # about one alert every 3 s
                due = now() + timedelta(seconds=5)
                a = opened(f"A{rate:g}-{n}", due - timedelta(hours=4), severity="critical")
                producer.produce(topic, json.dumps(a).encode(), key=a["exception_id"].encode())
                dues[a["exception_id"]] = due
            n += 1
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
        producer.flush(10)
        time.sleep(8)
        done.set()
        r.join()
    finally:
        stop(p)
    lat = [seen[e] - sent[e] for e in sent if e in seen]
    alat = [alerts_seen[x] - dues[x].timestamp() for x in dues if x in alerts_seen]
    return {
        "events": len(sent),
        "visible": len(lat),
        "fresh_p50": statistics.median(lat),
        "fresh_p95": pct(lat, 0.95),
        "alerts": len(dues),
        "alerts_seen": len(alat),
        "alert_p50": statistics.median(alat) if alat else float("nan"),
        "alert_p95": pct(alat, 0.95) if alat else float("nan"),
    }


def throughput(
    work: Path, broker: Broker, files: list[Path], workers: int, tag: str, processes: int = 1
) -> float:
    topic = broker.create_topic(f"tp-{tag}-{workers}-{processes}", 3)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "fpi",
            "produce",
            *map(str, files),
            "--brokers",
            broker.bootstrap,
            "--topic",
            topic,
            "--quiet",
        ],
        cwd=ROOT,
        check=True,
    )
    total = 0
    for f in files:
        opener = gzip.open if f.suffix == ".gz" else open
        with opener(f, "rb") as fh:
            total += sum(1 for line in fh if line.strip())
    db = work / f"tp-{tag}-{workers}-{processes}.duckdb"
    t0 = time.monotonic()
    p = start_stream(db, broker, topic, workers, processes)
    try:
        sql = "SELECT coalesce(sum(next_offset), 0)::BIGINT FROM stream_offsets"
        wait(lambda: (got := rows(db, sql)) and got[0][0] >= total, 900, 0.2)
        took = time.monotonic() - t0
    finally:
        stop(p)
    return total / took


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=45)
    ap.add_argument("--rates", default="1,10", help="multiples of the seed's rate")
    ap.add_argument("--lines-per-day", type=int, default=130_000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fpi-live-bench-"))
    broker = start_broker(work)
    try:
        for m in (float(x) for x in args.rates.split(",")):
            r = freshness(work, broker, SEED_RATE * m, args.seconds)
            print(
                f"rate {m:g}x seed ({SEED_RATE * m:.1f} ev/s): "
                f"{r['visible']}/{r['events']} visible, "
                f"freshness p50 {r['fresh_p50']:.2f} s p95 {r['fresh_p95']:.2f} s; "
                f"breach alerts {r['alerts_seen']}/{r['alerts']} seen, latency after due_at "
                f"p50 {r['alert_p50']:.2f} s p95 {r['alert_p95']:.2f} s",
                flush=True,
            )
        gen = work / "gen.jsonl"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "fpi",
                "generate",
                "--out",
                str(gen),
                "--days",
                "3",
                "--lines-per-day",
                str(args.lines_per_day),
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        for tag, files in (("sample", [SAMPLE]), ("generated", [gen])):
            one = throughput(work, broker, files, 1, tag)
            two = throughput(work, broker, files, 2, tag)
            two_p = throughput(work, broker, files, 1, tag, processes=2)
            print(
                f"throughput {tag}: 1 process {one:,.0f} lines/s; 2 workers in it "
                f"{two:,.0f} lines/s ({two / one:.2f}x); 2 processes {two_p:,.0f} lines/s "
                f"({two_p / one:.2f}x)",
                flush=True,
            )
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

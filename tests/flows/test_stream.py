"""``fpi stream`` against a real Kafka-protocol broker (Tansu, ``tests/broker.py``):
exactly once across ``kill -9``, SLA alerts on the wall clock, retraction and
re-raise, a restart after downtime, webhook delivery."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import duckdb
import pytest
from confluent_kafka import Producer

from core.config import load_settings
from core.db import DatabaseError, open_read
from core.timeutil import system_clock
from flows.stream import StreamOptions, stream
from tests.broker import Broker
from tests.streams import ev, iso, opened

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_streams" / "demo.jsonl.gz"

WALL_CLOCK_COLUMNS = {
    "exception_events": ["ingested_at"],
    "rejected_events": ["received_at"],
    "duplicate_events": ["received_at"],
    "pending_events": ["received_at"],
    "stream_offsets": ["committed_at"],
}
"""Columns stamped by the wall clock, left out when two runs are compared."""

COMPARED = [
    "exceptions",
    "exception_events",
    "exception_versions",
    "order_events",
    "order_state",
    "rejected_events",
    "duplicate_events",
    "pending_events",
    "stream_offsets",
]


def _key(event: dict[str, Any]) -> bytes | None:
    k = event.get("exception_id") or event.get("order_id")
    return str(k).encode() if k else None


def send(broker: Broker, topic: str, events: list[dict[str, Any] | str]) -> None:
    p = Producer({"bootstrap.servers": broker.bootstrap, "enable.idempotence": True})
    for e in events:
        if isinstance(e, str):
            p.produce(topic, e.encode())
        else:
            p.produce(topic, json.dumps(e).encode(), key=_key(e))
    assert p.flush(15) == 0


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with open_read(db) as con:  # through polars: aware datetimes without pytz
        return con.sql(sql).pl().rows()


def wait_for(predicate: Any, timeout: float = 30.0, every: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            got = predicate()
        except (duckdb.Error, OSError, DatabaseError):  # the views file is not there yet
            got = None
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {predicate}")
        time.sleep(every)


def caught_up(db: Path) -> bool:
    rows = query(db, "SELECT caught_up FROM flow_clock WHERE name = 'flow'")
    return bool(rows and rows[0][0])


@contextmanager
def running(db: Path, broker: Broker, topic: str, **kw: Any) -> Iterator[threading.Event]:
    """``fpi stream`` in a thread of this process until the block ends."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def run() -> None:
        try:
            stream(
                db,
                StreamOptions(broker.bootstrap, topic, **kw),
                load_settings(),
                system_clock,
                stop=stop,
            )
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    try:
        yield stop
    finally:
        stop.set()
        t.join(60)
        assert not t.is_alive(), "fpi stream did not stop"
    assert not errors, errors


def now() -> datetime:
    return datetime.now(UTC)


# -- alerts on the wall clock -----------------------------------------------------


def test_a_caught_up_flow_raises_a_breach_on_the_wall_clock_with_no_new_event(
    tmp_path: Path, broker: Broker
) -> None:
    topic = broker.create_topic("wall", 3)
    db = tmp_path / "live.duckdb"
    due = now() + timedelta(seconds=12)
    # critical x standard: a 4 h target, so it breaches 12 s from now (the flow
    # starts and catches up before)
    send(
        broker,
        topic,
        [opened("W-1", due - timedelta(hours=4), severity="critical", tier="standard")],
    )
    t_start = time.monotonic()
    with running(db, broker, topic):
        wait_for(lambda: caught_up(db))
        assert now() < due, f"the flow took {time.monotonic() - t_start:.1f}s to catch up"
        # at-risk (3.2 h) is already past: raised as soon as the flow is caught up
        wait_for(lambda: query(db, "SELECT 1 FROM sla_alerts WHERE kind = 'at_risk'"))
        assert not query(db, "SELECT 1 FROM sla_alerts WHERE kind = 'breached'")
        rows = wait_for(
            lambda: query(
                db,
                "SELECT due_at, raised_at, alert_id FROM sla_alerts WHERE kind = 'breached'",
            ),
            timeout=15,
            every=0.2,
        )
        seen = now()
    ((due_at, raised_at, alert_id),) = rows
    assert alert_id == "W-1:breached:1"
    assert abs((due_at - due).total_seconds()) < 0.001
    assert timedelta(0) <= raised_at - due_at <= timedelta(seconds=1)
    assert seen - due_at <= timedelta(seconds=3)  # visible to a reader polling every 0.2 s


def test_a_late_resolve_retracts_and_a_reraise_at_the_same_due_gets_a_new_id(
    tmp_path: Path, broker: Broker
) -> None:
    topic = broker.create_topic("retract", 3)
    db = tmp_path / "live.duckdb"
    t0 = now() - timedelta(hours=6)
    x = opened("R-1", t0, severity="critical", tier="standard")  # due at t0 + 4 h
    with running(db, broker, topic):
        send(broker, topic, [x])
        wait_for(lambda: query(db, "SELECT 1 FROM sla_alerts WHERE alert_id = 'R-1:breached:1'"))
        resolved_at = t0 + timedelta(hours=2)
        send(
            broker,
            topic,
            [ev("exception.resolved", "R-1", resolved_at, resolution_code="fixed")],
        )
        wait_for(
            lambda: query(
                db,
                "SELECT 1 FROM sla_alerts WHERE alert_id = 'R-1:breached:1' "
                "AND retracted_at IS NOT NULL",
            )
        )
        # reopened at the very instant it was resolved: the clock never stopped,
        # so the same due_at is due again — a new alert
        send(broker, topic, [ev("exception.reopened", "R-1", resolved_at)])
        wait_for(lambda: query(db, "SELECT 1 FROM sla_alerts WHERE alert_id = 'R-1:breached:2'"))
    rows = query(
        db,
        "SELECT alert_id, due_at, retracted_at IS NULL FROM sla_alerts "
        "WHERE kind = 'breached' ORDER BY revision",
    )
    assert [r[0] for r in rows] == ["R-1:breached:1", "R-1:breached:2"]
    assert rows[0][1] == rows[1][1] == t0 + timedelta(hours=4)
    assert [r[2] for r in rows] == [False, True]


def test_a_restart_after_downtime_does_not_raise_what_the_backlog_retracts(
    tmp_path: Path, broker: Broker
) -> None:
    topic = broker.create_topic("downtime", 3)
    db = tmp_path / "live.duckdb"
    due = now() + timedelta(seconds=20)  # after the first run is caught up and stopped
    opened_at = due - timedelta(hours=4)
    with running(db, broker, topic):
        send(broker, topic, [opened("D-1", opened_at, severity="critical", tier="standard")])
        wait_for(lambda: query(db, "SELECT 1 FROM exceptions WHERE exception_id = 'D-1'"))
        wait_for(lambda: caught_up(db))
    # down: the resolve (stamped before the due) arrives while nobody reads,
    # and the wall clock passes the due
    send(
        broker,
        topic,
        [ev("exception.resolved", "D-1", due - timedelta(minutes=1), resolution_code="ok")],
    )
    time.sleep(max(0.0, (due - now()).total_seconds()) + 1.0)
    with running(db, broker, topic):
        wait_for(lambda: query(db, "SELECT 1 FROM exceptions WHERE status = 'resolved'"))
        wait_for(lambda: caught_up(db))
        time.sleep(1.0)
    # the at-risk alert was due (and raised) before the downtime; the breach never
    assert query(db, "SELECT kind, retracted_at IS NULL FROM sla_alerts ORDER BY kind") == [
        ("at_risk", True)
    ]


# -- webhook --------------------------------------------------------------------------


class _Hook(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, Any], bool]] = []
    secret = b"s3cret"
    up = True

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if not type(self).up:
            self.send_response(503)
            self.end_headers()
            return
        ts = self.headers.get("X-FPI-Timestamp", "")
        want = hmac.new(self.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(self.headers.get("X-FPI-Signature", ""), f"sha256={want}")
        type(self).received.append((json.loads(body), ok))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_alert_messages_reach_a_webhook_signed_and_survive_an_endpoint_that_is_down(
    tmp_path: Path, broker: Broker
) -> None:
    topic = broker.create_topic("hook", 3)
    db = tmp_path / "live.duckdb"
    _Hook.received = []
    _Hook.up = False
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/alerts"
    t0 = now() - timedelta(hours=6)
    try:
        with running(db, broker, topic, webhook=url, secret="s3cret"):
            send(broker, topic, [opened("H-1", t0, severity="critical", tier="standard")])
            wait_for(lambda: query(db, "SELECT count(*) = 2 FROM sla_alerts")[0][0])
            time.sleep(1.0)
            assert _Hook.received == []  # down: nothing lost, retried
        _Hook.up = True
        with running(db, broker, topic, webhook=url, secret="s3cret"):  # delivered after a restart
            wait_for(lambda: len(_Hook.received) >= 2, timeout=30)
    finally:
        server.shutdown()
    messages = {m["alert_id"]: (m, ok) for m, ok in _Hook.received}
    assert set(messages) == {"H-1:at_risk:1", "H-1:breached:1"}
    for m, ok in messages.values():
        assert ok, "signature"
        assert m["action"] == "raised" and m["exception_id"] == "H-1"
        assert m["sla_target_hours"] == 4.0 and m["site"] and "order_value" in m
    assert messages["H-1:breached:1"][0]["due_at"] == iso(t0 + timedelta(hours=4))


# -- exactly once across kill -9 --------------------------------------------------------


def _stream_args(broker: Broker, topic: str, db: Path) -> list[str]:
    return ["stream", "--brokers", broker.bootstrap, "--topic", topic, "--db", str(db)]


def _fpi_stream(db: Path, broker: Broker, topic: str, *extra: str) -> subprocess.Popen[bytes]:
    log = db.with_name(db.name + ".stream.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "fpi", *_stream_args(broker, topic, db), "--quiet", *extra],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=log,
        start_new_session=True,
    )


def _until_caught_up_then_stop(
    db: Path, broker: Broker, topic: str, total: int, *extra: str
) -> None:
    started = now()
    p = _fpi_stream(db, broker, topic, *extra)
    try:
        wait_for(
            lambda: (
                caught_up(db)
                # a heartbeat of this run (the database may be caught up from before)
                and query(db, "SELECT heartbeat_at FROM flow_clock")[0][0] > started
                and query(db, "SELECT sum(next_offset) FROM stream_offsets")[0][0] == total
            ),
            timeout=180,
            every=0.5,
        )
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
    assert p.returncode == 0, db.with_name(db.name + ".stream.log").read_text()[-3000:]


def _same(a: dict[str, list[tuple[Any, ...]]], b: dict[str, list[tuple[Any, ...]]]) -> None:
    """Each table equal; else the first differing row, column by column."""
    for t in a:
        if a[t] == b[t]:
            continue
        cols = a.get(f"{t}.columns") or []
        for x, y in zip(a[t], b[t], strict=False):
            if x != y:
                diff = {c: (u, v) for c, u, v in zip(cols, x, y, strict=False) if u != v}
                raise AssertionError(f"{t}: {x[0]!r} differs: {diff}")
        raise AssertionError(f"{t}: {len(a[t])} rows vs {len(b[t])}")


def _tables(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, Any] = {}
    with open_read(db) as con:
        for t in COMPARED:
            cols = [
                c
                for (c,) in con.execute(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = ? "
                    "ORDER BY column_index",
                    [t],
                ).fetchall()
                if c not in WALL_CLOCK_COLUMNS.get(t, [])
            ]
            out[t] = sorted(con.sql(f"SELECT {', '.join(cols)} FROM {t}").pl().rows(), key=repr)
            out[f"{t}.columns"] = cols
        # alerts raised by the wall clock carry wall-clock times; which ones stand
        # and when they are due is decided by the events alone
        out["sla_alerts"] = sorted(
            con.sql("SELECT exception_id, kind, due_at FROM sla_alerts WHERE retracted_at IS NULL")
            .pl()
            .rows()
        )
    return out


def _produce_sample(broker: Broker, topic: str) -> int:
    """The shipped sample into ``topic`` with ``fpi produce``; its number of lines."""
    cmd = [sys.executable, "-m", "fpi", "produce", str(SAMPLE), "--brokers", broker.bootstrap]
    produced = subprocess.run(
        [*cmd, "--topic", topic, "--quiet"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert produced.returncode == 0, produced.stderr
    with gzip.open(SAMPLE, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def test_kill_9_at_any_moment_then_a_restart_gives_the_uninterrupted_tables(
    tmp_path: Path, broker: Broker
) -> None:
    topic = broker.create_topic("exactly-once", 3)
    total = _produce_sample(broker, topic)
    whole = tmp_path / "whole.duckdb"
    _until_caught_up_then_stop(whole, broker, topic, total)

    killed = tmp_path / "killed.duckdb"
    rng = random.Random(7)

    def progress() -> int:
        got = query(killed, "SELECT coalesce(sum(next_offset), 0)::BIGINT FROM stream_offsets")
        return int(got[0][0])

    # kill -9 mid-stream: mid-commit, mid-publish, anywhere (the published offsets
    # lag the writer, and the flow reads fast: the last kill comes at half way)
    for share in (0.1, 0.3, 0.5):
        p = _fpi_stream(killed, broker, topic)
        wait_for(lambda s=share: progress() >= s * total, timeout=120, every=0.05)
        time.sleep(rng.uniform(0.0, 0.2))
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(30)
    assert 0 < progress() < total  # the last kill landed mid-stream
    _until_caught_up_then_stop(killed, broker, topic, total)
    _same(_tables(whole), _tables(killed))
    assert len(_tables(whole)["exception_events"]) > 10_000


CRASH_IN_ONE_CHUNK = """
import os, sys
import flows.sink as sink
real = sink.write_delta
calls = [0]
def write_delta(con, d, *, append=False):
    calls[0] += bool(d.events)  # count batches with data, not heartbeats
    staged = real(con, d, append=append)
    if calls[0] == int(sys.argv[1]):
        # every output of the batch's chunks is written in the transaction (events,
        # exceptions, rejects, alerts, offsets), and the process dies before COMMIT
        os._exit(9)
    return staged
sink.write_delta = write_delta
from fpi.cli import main
sys.exit(main(sys.argv[2:]))
"""


def test_a_crash_between_the_outputs_of_one_chunk_loses_and_doubles_nothing(
    tmp_path: Path, broker: Broker
) -> None:
    topic = broker.create_topic("one-chunk", 3)
    total = _produce_sample(broker, topic)
    db = tmp_path / "crash.duckdb"
    for nth in (3, 2):  # the 3rd batch with data of the first run, the 2nd of the next
        r = subprocess.run(
            [sys.executable, "-c", CRASH_IN_ONE_CHUNK, str(nth), *_stream_args(broker, topic, db)]
            + ["--quiet"],
            cwd=ROOT,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert r.returncode == 9, r.stderr.decode()[-2000:]
    _until_caught_up_then_stop(db, broker, topic, total)
    whole = tmp_path / "whole.duckdb"
    _until_caught_up_then_stop(whole, broker, topic, total)
    _same(_tables(whole), _tables(db))


def _fpi_stream_once(db: Path, broker: Broker, topic: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fpi", *_stream_args(broker, topic, db)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_second_writer_is_refused(tmp_path: Path, broker: Broker) -> None:
    topic = broker.create_topic("second", 1)
    db = tmp_path / "live.duckdb"
    with running(db, broker, topic):
        wait_for(lambda: caught_up(db))
        r = _fpi_stream_once(db, broker, topic)
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "another" in r.stderr


def test_an_unknown_topic_is_one_line(tmp_path: Path, broker: Broker) -> None:
    r = _fpi_stream_once(tmp_path / "x.duckdb", broker, "no-such-topic")
    assert r.returncode == 1
    assert r.stderr.strip().count("\n") == 0 and "no-such-topic" in r.stderr


@pytest.mark.parametrize("bad", ["not json", '{"event_id": "x"}'])
def test_bad_messages_are_kept_with_a_reason_and_a_source_system(
    tmp_path: Path, broker: Broker, bad: str
) -> None:
    topic = broker.create_topic(f"bad-{len(bad)}", 1)
    db = tmp_path / "live.duckdb"
    with running(db, broker, topic):
        wrong = {**ev("exception.touched", "Q", now(), action="x"), "schema_version": "9"}
        send(broker, topic, [bad, json.dumps({**wrong, "source_system": "EDI"})])
        sql = "SELECT reason, source_system, source FROM rejected_events ORDER BY source_offset"
        rows = wait_for(lambda: len(q := query(db, sql)) == 2 and q)
    assert rows[0][1] == "(unknown)" and rows[1] == (
        "unsupported_version",
        "EDI",
        f"kafka:{topic}/0",
    )


def test_two_processes_read_the_partitions_and_one_writes_the_same_tables(
    tmp_path: Path, broker: Broker
) -> None:
    topic = broker.create_topic("two-processes", 3)
    total = _produce_sample(broker, topic)
    one, two = tmp_path / "one.duckdb", tmp_path / "two.duckdb"
    _until_caught_up_then_stop(one, broker, topic, total)
    _until_caught_up_then_stop(two, broker, topic, total, "--processes", "2")
    _same(_tables(one), _tables(two))

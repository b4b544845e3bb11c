"""Webhook delivery of ``alert_outbox`` rows: a real HTTP server on loopback and
a real DuckDB file."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import duckdb
import pytest

from core.db import init_schema
from flows.webhook import AlertDelivery, DeliveryStatus, header_value, signature

T0 = datetime(2026, 5, 5, 9, 12, tzinfo=UTC)
SECRET = "s3cret-ü"


# -- a receiver -------------------------------------------------------------


@dataclass
class Got:
    at: float  # time.monotonic() when received
    headers: Message  # case-insensitive, as HTTP header names are
    body: bytes
    status: int  # what the server answered
    signature_ok: bool | None  # None: no signature header


@dataclass
class Receiver:
    """An HTTP server on 127.0.0.1; bound at once, listening only after ``up()``
    (so until then a connection is refused)."""

    secret: bytes | None = None
    answer: Callable[[int], int] = lambda n: 200  # request number -> status
    got: list[Got] = field(default_factory=list)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                sig = self.headers.get("X-FPI-Signature")
                ok: bool | None = None
                if sig is not None:
                    assert receiver.secret is not None
                    ts = self.headers["X-FPI-Timestamp"]
                    mac = hmac.new(receiver.secret, ts.encode() + b"." + body, hashlib.sha256)
                    ok = hmac.compare_digest("sha256=" + mac.hexdigest(), sig)
                status = receiver.answer(len(receiver.got))
                receiver.got.append(Got(time.monotonic(), self.headers, body, status, ok))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                text = b"nope\r\nsecond line" if status >= 300 else b"ok"
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.server_bind()
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/fpi?token=abc"

    def up(self) -> Receiver:
        self.server.server_activate()
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()
        return self

    def close(self) -> None:
        if self.thread is not None:
            self.server.shutdown()
            self.thread.join(5)
        self.server.server_close()

    def accepted(self) -> list[Got]:
        return [g for g in self.got if 200 <= g.status < 300]


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(**kwargs: object) -> Receiver:
        r = Receiver(**kwargs)  # type: ignore[arg-type]
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


# -- the outbox -----------------------------------------------------------------


@pytest.fixture
def con(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect(str(tmp_path / "store.duckdb"))
    init_schema(c)
    yield c
    c.close()


def payload(alert_id: str, action: str, at: datetime) -> str:
    # Odd spacing and non-ASCII on purpose: the body must be these bytes exactly.
    return json.dumps(
        {"action": action, "alert_id": alert_id, "at": at.isoformat(), "site": "Zürich"},
        ensure_ascii=False,
        separators=(", ", ":  "),
    )


def add(con: duckdb.DuckDBPyConnection, alert_id: str, action: str, at: datetime) -> str:
    text = payload(alert_id, action, at)
    con.execute(
        "INSERT INTO alert_outbox VALUES (?, ?, ?, ?, NULL, NULL, NULL)",
        [alert_id, action, at, text],
    )
    return text


def outbox(
    con: duckdb.DuckDBPyConnection,
) -> dict[tuple[str, str], tuple[int | None, int | None, str | None]]:
    rows = con.execute(
        "SELECT alert_id, action, epoch_us(delivered_at), attempts, last_error FROM alert_outbox"
    ).fetchall()
    return {(a, b): (d, n, e) for a, b, d, n, e in rows}


def waiting(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("SELECT count(*) FROM alert_outbox WHERE delivered_at IS NULL").fetchone()
    assert row is not None
    return int(row[0])


def until(pred: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


class Clock:
    """Aware UTC, one second later at each call."""

    def __init__(self) -> None:
        self.now = T0
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            self.now += timedelta(seconds=1)
            return self.now


def delivery(con: duckdb.DuckDBPyConnection, url: str, **kwargs: object) -> AlertDelivery:
    options: dict[str, object] = {
        "clock": Clock(),
        "poll_seconds": 0.02,
        "backoff_initial_seconds": 0.02,
        "backoff_max_seconds": 0.2,
        "timeout_seconds": 2.0,
        "rand": lambda: 0.5,
        "log": lambda line: None,
    }
    options.update(kwargs)
    return AlertDelivery(con, url, **options)  # type: ignore[arg-type]


def some_rows(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str]]:
    """Rows inserted out of order; returns (alert_id, action, payload) in delivery order."""
    t = T0
    spec = [
        ("X-2:breached:1", "raised", t + timedelta(minutes=5)),
        ("X-1:at_risk:1", "retracted", t + timedelta(minutes=1)),
        ("X-1:at_risk:1", "raised", t + timedelta(minutes=1)),  # same instant: raised first
        ("X-0:at_risk:1", "raised", t + timedelta(minutes=1)),  # then by alert_id
        ("X-9:at_risk:3", "raised", t),
        ("X-3:at_risk:1", "raised", t + timedelta(minutes=9)),
    ]
    texts = {(a, b): add(con, a, b, at) for a, b, at in spec}
    order = [
        ("X-9:at_risk:3", "raised"),
        ("X-0:at_risk:1", "raised"),
        ("X-1:at_risk:1", "raised"),
        ("X-1:at_risk:1", "retracted"),
        ("X-2:breached:1", "raised"),
        ("X-3:at_risk:1", "raised"),
    ]
    return [(a, b, texts[a, b]) for a, b in order]


def sent(got: list[Got]) -> list[tuple[str, str, str]]:
    return [
        (g.headers["X-FPI-Alert-Id"], g.headers["X-FPI-Action"], g.body.decode("utf-8"))
        for g in got
    ]


# -- tests --------------------------------------------------------------------


def test_delivers_in_order_body_exact_no_signature_without_secret(con, receivers) -> None:
    expected = some_rows(con)
    server = receivers().up()
    clock = Clock()
    with delivery(con, server.url, clock=clock) as d:
        until(lambda: waiting(con) == 0)
        until(lambda: d.status().delivered == len(expected))
        status = d.status()
    assert sent(server.got) == expected
    for g, (_, _, text) in zip(server.got, expected, strict=True):
        assert g.body == text.encode("utf-8")
        assert g.headers["Content-Type"] == "application/json"
        assert "X-FPI-Signature" not in g.headers
        assert "X-FPI-Timestamp" not in g.headers
        assert g.signature_ok is None
    rows = outbox(con)
    assert {n for _, n, _ in rows.values()} == {1}
    assert {e for _, _, e in rows.values()} == {None}
    stamps = [rows[a, b][0] for a, b, _ in expected]
    assert stamps == sorted(stamps)
    assert all(T0.timestamp() * 1e6 < s <= clock.now.timestamp() * 1e6 for s in stamps if s)
    assert status == DeliveryStatus(waiting=0, delivered=6, last_error=None, failing=False)
    assert status.line() == "alerts: 0 waiting, 6 delivered"


def test_signature_verifies(con, receivers) -> None:
    expected = some_rows(con)
    server = receivers(secret=SECRET.encode()).up()
    clock = Clock()
    with delivery(con, server.url, secret=SECRET, clock=clock):
        until(lambda: waiting(con) == 0)
    assert sent(server.got) == expected
    assert [g.signature_ok for g in server.got] == [True] * len(expected)
    for g in server.got:
        ts = g.headers["X-FPI-Timestamp"]
        assert T0.timestamp() < int(ts) <= clock.now.timestamp()
        assert g.headers["X-FPI-Signature"] == signature(SECRET.encode(), ts, g.body)
        # The signature covers the timestamp: another one does not verify.
        assert g.headers["X-FPI-Signature"] != signature(SECRET.encode(), str(int(ts) + 1), g.body)


def test_endpoint_down_then_up_delivers_everything_in_order(con, receivers) -> None:
    expected = some_rows(con)
    server = receivers()  # bound, not listening: connection refused
    lines: list[str] = []
    with delivery(con, server.url, log=lines.append) as d:
        until(lambda: (outbox(con)[expected[0][:2]][1] or 0) >= 3)
        assert waiting(con) == len(expected)
        status = d.status()
        assert status.failing and status.delivered == 0
        assert status.last_error is not None and "refused" in status.last_error.lower()
        assert "webhook failing" in status.line()
        server.up()
        until(lambda: waiting(con) == 0)
        until(lambda: not d.status().failing)
    assert sent(server.got) == expected  # exactly once each, in order
    rows = outbox(con)
    first = rows[expected[0][:2]]
    assert first[1] is not None and first[1] >= 4  # the refused attempts, then the one accepted
    assert first[2] is not None and "refused" in first[2].lower()
    assert all(rows[a, b][1] == 1 for a, b, _ in expected[1:])  # the queue waited its turn
    # Rate-limited: one line going down, one coming back.
    assert len(lines) == 2, lines
    assert lines[0].startswith("fpi: webhook http://127.0.0.1:")
    assert "/hooks/fpi unreachable: " in lines[0]
    assert lines[0].endswith("(6 messages waiting)")
    assert "token" not in lines[0]  # no query string (credentials) in logs
    assert "delivering again" in lines[1]


@pytest.mark.parametrize("code", [503, 500, 404, 429, 302])
def test_failures_are_retried_with_backoff_nothing_lost(con, receivers, code: int) -> None:
    expected = some_rows(con)
    server = receivers(answer=lambda n: code if n < 4 else 200).up()
    with delivery(con, server.url, rand=lambda: 0.0):
        until(lambda: waiting(con) == 0)
    assert [g.status for g in server.got] == [code] * 4 + [200] * len(expected)
    assert sent(server.accepted()) == expected
    assert sent(server.got[:5]) == [expected[0]] * 5  # the head is retried, nothing overtakes it
    gaps = [b.at - a.at for a, b in zip(server.got, server.got[1:5], strict=False)]
    for gap, want in zip(gaps, [0.02, 0.04, 0.08, 0.16], strict=True):
        assert gap >= want * 0.9, gaps  # exponential backoff
    rows = outbox(con)
    head = rows[expected[0][:2]]
    assert head[1] == 5
    assert head[2] is not None and head[2].startswith(f"HTTP {code}")
    assert "\n" not in head[2] and "\r" not in head[2]


def test_backoff_is_capped_and_jittered(con) -> None:
    d = AlertDelivery(
        con,
        "http://127.0.0.1:9/",
        clock=Clock(),
        backoff_initial_seconds=0.5,
        backoff_max_seconds=60.0,
        jitter=0.1,
        rand=lambda: 1.0,
    )
    delays = []
    for failures in range(1, 12):
        d._failures = failures  # noqa: SLF001
        delays.append(d._backoff())  # noqa: SLF001
    d.stop()
    assert delays[:3] == pytest.approx([0.45, 0.9, 1.8])
    assert delays[-1] == pytest.approx(54.0)
    assert max(delays) <= 60.0


def test_restart_delivers_what_is_left(con, receivers) -> None:
    expected = some_rows(con)
    first = receivers(answer=lambda n: 200 if n < 2 else 503).up()
    d = delivery(con, first.url, backoff_initial_seconds=5.0, backoff_max_seconds=5.0).start()
    until(lambda: len(first.got) == 3)
    started = time.monotonic()
    assert d.stop(timeout=2.0)
    assert time.monotonic() - started < 1.0
    assert waiting(con) == len(expected) - 2
    second = receivers().up()
    with delivery(con, second.url):  # the next run, same database
        until(lambda: waiting(con) == 0)
    assert sent(first.accepted()) + sent(second.got) == expected
    assert outbox(con)[expected[2][:2]][1] == 2  # one 503 in the first run, then accepted


def test_row_committed_by_the_writer_while_running_is_delivered(con, receivers) -> None:
    server = receivers().up()
    with delivery(con, server.url, poll_seconds=30.0) as d:
        time.sleep(0.05)
        assert server.got == []
        writer = con.cursor()
        writer.execute("BEGIN")
        text = add(writer, "X-7:breached:1", "raised", T0)
        writer.execute("UPDATE alert_outbox SET attempts = NULL WHERE alert_id = 'nobody'")
        writer.execute("COMMIT")
        writer.close()
        d.notify()  # the poll is 30 s: only notify() can have woken it
        until(lambda: len(server.got) == 1, timeout=3.0)
        until(lambda: waiting(con) == 0)
    assert sent(server.got) == [("X-7:breached:1", "raised", text)]


def test_rows_added_by_another_cursor_are_polled(con, receivers) -> None:
    server = receivers().up()
    other = con.cursor()
    with delivery(con, server.url):
        texts = [
            add(other, f"X-{i}:at_risk:1", "raised", T0 + timedelta(seconds=i)) for i in range(3)
        ]
        until(lambda: waiting(con) == 0)
    other.close()
    assert [g.body.decode() for g in server.got] == texts


def test_stop_is_prompt_while_backing_off(con, receivers) -> None:
    some_rows(con)
    server = receivers(answer=lambda n: 503).up()
    d = delivery(con, server.url, backoff_initial_seconds=30.0, backoff_max_seconds=60.0).start()
    until(lambda: len(server.got) == 1)
    time.sleep(0.05)  # in the 30 s backoff now
    d.notify()  # a notify does not cut a backoff short
    time.sleep(0.05)
    assert len(server.got) == 1
    started = time.monotonic()
    assert d.stop(timeout=2.0)
    assert time.monotonic() - started < 0.5
    assert waiting(con) == 6


def test_stop_without_start_and_large_backlog_in_batches(con, receivers) -> None:
    assert delivery(con, "http://127.0.0.1:9/").stop()
    con.execute("BEGIN")
    texts = [add(con, f"A-{i:03d}", "raised", T0 + timedelta(seconds=i)) for i in range(25)]
    con.execute("COMMIT")
    server = receivers().up()
    with delivery(con, server.url, batch_size=4) as d:
        until(lambda: waiting(con) == 0)
        until(lambda: d.status().delivered == 25)
    assert [g.body.decode() for g in server.got] == texts


def test_database_trouble_is_logged_not_raised(tmp_path: Path, receivers) -> None:
    c = duckdb.connect(str(tmp_path / "store.duckdb"))
    init_schema(c)
    add(c, "X-1:at_risk:1", "raised", T0)
    c.execute("DROP TABLE alert_outbox")  # the outbox is gone: every read fails
    lines: list[str] = []
    server = receivers().up()
    d = delivery(c, server.url, log=lines.append, remind_seconds=1e9).start()
    until(lambda: len(lines) >= 1)
    time.sleep(0.1)
    assert d.stop(timeout=2.0)
    c.close()
    assert len(lines) == 1, lines  # rate-limited
    assert lines[0].startswith("fpi: webhook outbox failing: ")
    assert "\n" not in lines[0]
    assert server.got == []


def test_bad_arguments_and_header_values(con) -> None:
    for url in ["ftp://example.com/", "not a url", "http:///path"]:
        with pytest.raises(ValueError, match="http"):
            AlertDelivery(con, url, clock=Clock())
    with pytest.raises(ValueError, match="secret"):
        AlertDelivery(con, "http://127.0.0.1:9/", clock=Clock(), secret="")
    assert header_value("X-1:at_risk:2") == "X-1:at_risk:2"
    assert header_value("Zü\r\nX: y%") == "Z%C3%BC%0D%0AX: y%25"


def test_non_ascii_alert_id_header_is_encoded(con, receivers) -> None:
    text = add(con, "Zü-1:at_risk:1", "raised", T0)
    server = receivers().up()
    with delivery(con, server.url):
        until(lambda: waiting(con) == 0)
    assert [g.body.decode() for g in server.got] == [text]
    assert server.got[0].headers["X-FPI-Alert-Id"] == "Z%C3%BC-1:at_risk:1"


def test_transaction_conflict_is_retried_without_resending(con, receivers) -> None:
    text = add(con, "X-1:at_risk:1", "raised", T0)
    writer = con.cursor()
    writer.execute("BEGIN")  # the writer holds an uncommitted change of the same row
    writer.execute("UPDATE alert_outbox SET attempts = 0 WHERE alert_id = 'X-1:at_risk:1'")
    lines: list[str] = []
    server = receivers().up()
    with delivery(con, server.url, log=lines.append) as d:
        until(lambda: len(lines) >= 1)
        assert "Conflict" in lines[0], lines
        time.sleep(0.1)
        writer.execute("COMMIT")
        until(lambda: waiting(con) == 0)
        until(lambda: len(lines) == 2)
        assert d.status().delivered == 1
    writer.close()
    assert [g.body.decode() for g in server.got] == [text]  # sent once, marked later
    assert lines[0].startswith("fpi: webhook outbox failing: TransactionException")
    assert lines[1] == "fpi: webhook outbox working again"
    assert outbox(con)["X-1:at_risk:1", "raised"][1] == 1

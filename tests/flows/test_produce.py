"""``fpi produce``: files -> Kafka topic, keys, pacing and the rebase to now.

The round trips run against a real broker (Tansu, ``tests.broker``); the pacing
tests use a fake clock and producer, so nothing sleeps.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import AwareDatetime

from core import contract
from core.timeutil import to_us
from flows.produce import (
    TIME_FIELDS,
    Instant,
    Line,
    Plan,
    check_topic,
    format_instant,
    format_offset,
    message_key,
    parse_instant,
    produce,
    rebase_offset,
    shift_event,
)
from fpi.cli import main
from tests.broker import Broker, free_port, start_broker

NOW = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def ev(event_id: str, etype: str, at: str, **body: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "event_type": etype,
        "occurred_at": at,
        "source_system": "WMS",
        "schema_version": "1",
        **body,
    }


OPENED = ev(
    "e-1",
    "exception.opened",
    "2026-05-04T08:15:00+02:00",
    exception_id="X-1",
    order_id="SO-1",
    category="inventory_shortfall",
    severity="high",
    site="DC-ATL",
    origin="ATL",
    destination="MIA",
    customer_tier="strategic",
    order_value=18250.0,
    currency="USD",
)
EVENTS: list[dict[str, Any]] = [
    OPENED,
    ev("e-2", "exception.touched", "2026-05-04T09:00:00.123456789Z", exception_id="X-1",
       action="recount", actor={"id": "u-17", "kind": "human"}),
    ev("e-3", "order.released", "2026-05-04T07:00:00-05:00", order_id="SO-2", site="DC-DAL",
       origin="DAL", destination="AUS", customer_tier="key", order_value=10.5, currency="USD",
       promised_delivery_at="2026-05-06T17:00:00-05:00"),
    ev("e-4", "exception.opened", "2026-05-04T10:00:00Z", exception_id="X-2", order_id="SO-2",
       category="carrier_failure", severity="low", site="DC-DAL", origin="DAL",
       destination="AUS", customer_tier="key", order_value=10.5, currency="USD"),
    ev("e-5", "order.shipped", "2026-05-04T12:30:00Z", order_id="SO-2", carrier="ACME"),
    ev("e-6", "exception.resolved", "2026-05-04T13:00:00Z", exception_id="X-1",
       resolution_code="split_ship"),
    ev("e-7", "exception.assigned", "2026-05-04T11:00:00Z", exception_id="X-2",
       owner_team="carrier_desk"),  # out of order: later in the file, earlier in time
]  # fmt: skip
LATEST_US = to_us(datetime(2026, 5, 4, 13, 0, tzinfo=UTC))
NAIVE = ev("e-8", "exception.touched", "2026-05-04T09:00:00", exception_id="X-1", action="x")
BAD_LINES = [b'{"event_id": "broken', b"[1, 2, 3]", b'{"event_id": "e-9", "note": "no ids"}']


def write_stream(tmp: Path) -> tuple[list[Path], list[bytes]]:
    """Two files (one gzipped), the non-blank lines they hold in order."""
    first = [json.dumps(e).encode() for e in EVENTS[:4]] + BAD_LINES[:2]
    second = [json.dumps(NAIVE).encode(), BAD_LINES[2]] + [
        json.dumps(e).encode() for e in EVENTS[4:]
    ]
    a = tmp / "a.jsonl"
    a.write_bytes(b"\n".join(first[:3]) + b"\n\n  \n" + b"\r\n".join(first[3:]) + b"\n")
    b = tmp / "b.jsonl.gz"
    with gzip.open(b, "wb") as fh:
        fh.write(b"\n".join(second))  # no newline at the end
    return [a, b], first + second


def topic_name() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


# --- against a real broker ----------------------------------------------------


def test_round_trip_every_line_once_keyed_and_partitioned(broker: Broker, tmp_path: Path) -> None:
    topic = broker.create_topic(topic_name(), 3)
    paths, lines = write_stream(tmp_path)
    summary = produce(paths, brokers=broker.bootstrap, topic=topic)
    assert summary.ok, summary.errors
    assert (summary.sent, summary.delivered, summary.failed) == (len(lines), len(lines), 0)
    assert summary.blank == 2 and summary.unkeyed == 3 and summary.offset_us is None

    records = broker.read_all(topic, expect=len(lines))
    assert sorted(r.value for r in records) == sorted(lines)  # every line once, unchanged
    expected_key = {
        line: message_key(json.loads(line)) if line not in BAD_LINES[:2] else None for line in lines
    }
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for r in records:
        assert r.key == expected_key[r.value]
        if r.key is not None:
            partitions[r.key].add(r.partition)
    assert {k for k in partitions} == {b"X-1", b"X-2", b"SO-2"}
    assert all(len(p) == 1 for p in partitions.values())  # one key, one partition
    # each key's partition holds its events in file order
    order = {line: i for i, line in enumerate(lines)}
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for r in records:  # (partition, offset) order
        if r.key is not None:
            by_key[r.key].append(order[r.value])
    assert all(seq == sorted(seq) for seq in by_key.values())


def test_round_trip_rebased_to_now_shifts_exactly(broker: Broker, tmp_path: Path) -> None:
    topic = broker.create_topic(topic_name(), 3)
    paths, lines = write_stream(tmp_path)
    summary = produce(
        paths, brokers=broker.bootstrap, topic=topic, rebase_to_now=True, clock=lambda: NOW
    )
    offset = to_us(NOW) - LATEST_US  # no pacing: the latest occurred_at lands at now
    assert summary.ok and summary.offset_us == offset
    assert summary.rebased == len(EVENTS) and summary.total == len(lines)

    by_id: dict[str, dict[str, Any]] = {}
    unchanged: list[bytes] = []
    for r in broker.read_all(topic, expect=len(lines)):
        try:
            obj = json.loads(r.value)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and obj.get("event_id") in {e["event_id"] for e in EVENTS}:
            by_id[obj["event_id"]] = obj
            assert r.key == message_key(obj)
        else:
            unchanged.append(r.value)
    assert sorted(unchanged) == sorted([json.dumps(NAIVE).encode(), *BAD_LINES])
    for e in EVENTS:
        got = by_id[e["event_id"]]
        for name in TIME_FIELDS:
            if name in e:
                before, after = parse_instant(e[name]), parse_instant(got[name])
                assert before is not None and after is not None
                assert after.us - before.us == offset and after.extra == before.extra
                assert got[name].endswith("Z")
        rest = {k: v for k, v in got.items() if k not in TIME_FIELDS}
        assert rest == {k: v for k, v in e.items() if k not in TIME_FIELDS}
    assert by_id["e-6"]["occurred_at"] == "2030-01-02T03:04:05.678901Z"
    assert by_id["e-2"]["occurred_at"] == "2030-01-01T23:04:05.802357789Z"


def test_missing_topic_and_missing_broker_are_one_line_errors(
    broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths, _ = write_stream(tmp_path)
    with pytest.raises(ValueError, match="does not exist"):
        produce(paths, brokers=broker.bootstrap, topic=topic_name())
    with pytest.raises(ValueError, match="no Kafka broker answers"):
        check_topic(f"127.0.0.1:{free_port()}", "t", timeout=0.5)
    code = main(["produce", str(paths[0]), "--brokers", broker.bootstrap, "--topic", "nope"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "topic 'nope' does not exist" in err


def test_cli_produce(broker: Broker, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    topic = broker.create_topic(topic_name(), 3)
    paths, lines = write_stream(tmp_path)
    argv = ["produce", *map(str, paths), "--brokers", broker.bootstrap, "--topic", topic]
    assert main([*argv, "--rebase-to-now", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"sent {len(lines)} lines from 2 file(s) to topic {topic}" in out
    assert "rebased by +" in out
    assert len(broker.read_all(topic, expect=len(lines))) == len(lines)


def test_cli_rejects_rate_with_speedup_and_bad_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths, _ = write_stream(tmp_path)
    base = ["produce", str(paths[0]), "--brokers", "127.0.0.1:1", "--topic", "t"]
    with pytest.raises(SystemExit) as exc:
        main([*base, "--rate", "5", "--speedup", "2"])
    assert exc.value.code == 2 and "not allowed with" in capsys.readouterr().err
    for bad in (["--rate", "0"], ["--speedup", "-1"], ["--rate", "nan"]):
        assert main([*base, *bad]) == 2
        assert capsys.readouterr().err.startswith("fpi: error: --")
    assert main(["produce", str(tmp_path / "missing.jsonl"), *base[2:]]) == 1
    assert "input not found" in capsys.readouterr().err


def test_broker_helper_stops_its_process(tmp_path: Path, broker: Broker) -> None:
    # ``broker`` first: without a binary this test is skipped (or fails in CI) the same way
    b = start_broker(tmp_path)
    assert b.running() and b.pid != broker.pid
    b.create_topic("stop-me", 2)
    assert b.partitions("stop-me") == 2
    b.stop(timeout=5)
    assert not b.running()
    with pytest.raises(ProcessLookupError):
        os.kill(b.pid, 0)  # reaped: the PID names no process of ours any more
    assert broker.running()  # the shared one is untouched
    assert "listening on" in b.log.read_text()


# --- pacing with a fake clock ---------------------------------------------------


class FakeTime:
    """A clock that moves only when slept on."""

    def __init__(self) -> None:
        self.elapsed = 0.0
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return NOW + timedelta(seconds=self.elapsed)

    def monotonic(self) -> float:
        return 1000.0 + self.elapsed

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.elapsed += seconds


class FakeProducer:
    """Records (time sent, key, value); delivery reports come on the next poll/flush."""

    def __init__(self, clock: FakeTime, fail: frozenset[int] = frozenset(), stuck: int = -1):
        self.clock, self.fail, self.stuck = clock, fail, stuck
        self.sent: list[tuple[float, bytes | None, bytes]] = []
        self.pending: list[tuple[int, Any, Any]] = []

    def produce(self, topic: str, value: Any = None, key: Any = None, on_delivery: Any = None):
        i = len(self.sent)
        self.sent.append((self.clock.elapsed, key, value))
        self.pending.append((i, on_delivery, "Broker: boom" if i in self.fail else None))

    def poll(self, timeout: float = 0) -> int:
        served = [p for p in self.pending if p[0] != self.stuck]  # ``stuck`` is never acked
        self.pending = [p for p in self.pending if p[0] == self.stuck]
        for _, cb, err in served:
            cb(err, None)
        return len(served)

    def flush(self, timeout: float = 0) -> int:
        self.poll()
        return len(self.pending)


def fake_run(paths: list[Path], **kw: Any) -> tuple[Any, FakeProducer, FakeTime]:
    t = FakeTime()
    prod = FakeProducer(t, **kw.pop("producer_kw", {}))
    summary = produce(
        paths,
        brokers="unused",
        topic="t",
        clock=t.now,
        timer=t.monotonic,
        sleep=t.sleep,
        producer=prod,
        **kw,
    )
    return summary, prod, t


def lines_file(tmp: Path, times: list[str]) -> Path:
    path = tmp / "s.jsonl"
    path.write_text(
        "".join(
            json.dumps(ev(f"e-{i}", "exception.touched", at, exception_id="X", action="a")) + "\n"
            for i, at in enumerate(times)
        )
    )
    return path


def test_rate_paces_lines_evenly_without_sleeping(tmp_path: Path) -> None:
    path = lines_file(tmp_path, ["2026-05-04T00:00:00Z"] * 5)
    summary, prod, t = fake_run([path], rate=4.0)
    assert [s for s, _, _ in prod.sent] == pytest.approx([0, 0.25, 0.5, 0.75, 1.0])
    assert t.elapsed == pytest.approx(1.0) and summary.seconds == pytest.approx(1.0)
    assert summary.ok and summary.delivered == 5


def test_speedup_plays_event_time_gaps_faster_and_late_events_at_once(tmp_path: Path) -> None:
    times = [
        "2026-05-04T00:00:00Z",
        "2026-05-04T00:01:00Z",  # +60 s -> 1 s at 60x
        "2026-05-04T00:00:30Z",  # late: goes right after the one before
        "2026-05-04T03:02:00+03:00",  # +120 s in UTC -> 2 s
        "not a time",  # unparseable: at once
        "2026-05-04T00:12:00Z",  # +720 s -> 12 s
    ]
    summary, prod, t = fake_run([lines_file(tmp_path, times)], speedup=60.0)
    assert [s for s, _, _ in prod.sent] == pytest.approx([0, 1, 1, 2, 2, 12])
    assert t.elapsed == pytest.approx(12)
    assert summary.ok


def test_no_pacing_never_sleeps(tmp_path: Path) -> None:
    times = ["2026-05-04T00:00:00Z", "2026-05-09T00:00:00Z"]
    _, prod, t = fake_run([lines_file(tmp_path, times)])
    assert t.sleeps == [] and len(prod.sent) == 2


def test_rebase_with_speedup_ends_the_replay_at_now(tmp_path: Path) -> None:
    """The latest event is sent when its shifted time comes; none is sent before its time."""
    times = [
        "2026-05-04T00:00:00Z",
        "2026-05-04T01:00:00Z",
        "2026-05-04T00:30:00Z",
        "2026-05-04T02:00:00Z",
        "2026-05-04T01:59:00Z",
    ]
    summary, prod, t = fake_run([lines_file(tmp_path, times)], speedup=10.0, rebase_to_now=True)
    assert t.elapsed == pytest.approx(720)  # 2 h at 10x
    latest = parse_instant("2026-05-04T02:00:00Z")
    assert latest is not None and summary.offset_us is not None
    assert latest.us + summary.offset_us == to_us(NOW) + 720 * 1_000_000
    for sent_at, _, value in prod.sent:
        shifted = parse_instant(json.loads(value)["occurred_at"])
        assert shifted is not None
        assert shifted.us <= to_us(NOW + timedelta(seconds=sent_at))


def test_rebase_with_rate_sends_nothing_before_its_time(tmp_path: Path) -> None:
    times = ["2026-05-04T00:00:00Z", "2026-05-04T00:00:01Z", "2026-05-04T00:00:10Z"]
    summary, prod, _ = fake_run([lines_file(tmp_path, times)], rate=1.0, rebase_to_now=True)
    assert summary.offset_us is not None
    slack = []
    for sent_at, _, value in prod.sent:
        shifted = parse_instant(json.loads(value)["occurred_at"])
        assert shifted is not None
        slack.append(to_us(NOW + timedelta(seconds=sent_at)) - shifted.us)
    assert min(slack) == 0 and all(s >= 0 for s in slack)  # as late as it can be


def test_delivery_failures_are_counted_and_reported(tmp_path: Path) -> None:
    path = lines_file(tmp_path, ["2026-05-04T00:00:00Z"] * 4)
    summary, _, _ = fake_run([path], producer_kw={"fail": frozenset({1}), "stuck": 3})
    assert summary.sent == 4 and summary.delivered == 2 and summary.failed == 2
    assert not summary.ok
    assert summary.errors[0] == "Broker: boom" and "not delivered within" in summary.errors[1]


def test_progress_is_reported_and_unreadable_files_are_faults(tmp_path: Path) -> None:
    good = lines_file(tmp_path, ["2026-05-04T00:00:00Z", "2026-05-04T00:00:10Z"])
    broken = tmp_path / "broken.jsonl.gz"
    data = gzip.compress(good.read_bytes())
    broken.write_bytes(data[: len(data) // 2])
    seen: list[int] = []
    summary, prod, _ = fake_run([broken, good], rate=0.5, progress=lambda s: seen.append(s.sent))
    assert len(summary.faults) == 1 and "truncated" in summary.faults[0]
    assert not summary.ok and len(prod.sent) >= 2  # the next file still went
    assert seen and seen[-1] == summary.sent


# --- keys and timestamps ---------------------------------------------------------


def test_message_key() -> None:
    assert message_key(OPENED) == b"X-1"  # exception events: exception_id, not order_id
    assert message_key(EVENTS[2]) == b"SO-2"
    assert message_key({"event_type": "order.shipped", "order_id": "O", "exception_id": "E"})
    assert message_key({"event_type": "order.shipped", "order_id": "O"}) == b"O"
    assert message_key({"event_type": "weird", "order_id": "O"}) == b"O"
    assert message_key({"exception_id": 7}) is None
    assert message_key({"exception_id": ""}) is None
    assert message_key(None) is None


def test_time_fields_are_the_contracts_time_fields() -> None:
    union = get_args(get_args(contract.MilestoneEvent)[0])
    found = {
        name
        for model in union
        for name, f in model.model_fields.items()
        if AwareDatetime in (f.annotation, *get_args(f.annotation))
    }
    assert found == set(TIME_FIELDS)


@pytest.mark.parametrize(
    ("text", "out"),
    [
        ("2026-05-04T08:15:00+02:00", "2026-05-04T06:15:00Z"),
        ("2026-05-04t08:15:00.5z", "2026-05-04T08:15:00.5Z"),
        ("2026-05-04 08:15:00.000001-00:30", "2026-05-04T08:45:00.000001Z"),
        ("2026-05-04T08:15:00.1234567891Z", "2026-05-04T08:15:00.1234567891Z"),
        ("2026-05-04T23:59:59.999999-23:59", "2026-05-05T23:58:59.999999Z"),
    ],
)
def test_instants_round_trip_exactly(text: str, out: str) -> None:
    t = parse_instant(text)
    assert t is not None and format_instant(t) == out
    assert parse_instant(out) == t


@pytest.mark.parametrize(
    "text",
    [
        "2026-05-04T08:15:00",  # naive
        "2026-05-04",
        "2026-05-04T08:15Z",
        "2026-13-04T08:15:00Z",
        "2026-05-04T08:15:60Z",
        "2026-05-04T08:15:00+24:00",
        "２０２６-05-04T08:15:00Z",  # fullwidth digits
        "2026-05-04T08:15:00+0200",
        1777000000,
        None,
    ],
)
def test_unparseable_times(text: object) -> None:
    assert parse_instant(text) is None


def test_shift_event() -> None:
    day = 86_400_000_000
    moved = shift_event(EVENTS[2], day + 1)
    assert moved is not None
    assert moved["occurred_at"] == "2026-05-05T12:00:00.000001Z"
    assert moved["promised_delivery_at"] == "2026-05-07T22:00:00.000001Z"
    assert list(moved) == list(EVENTS[2])  # key order kept
    assert shift_event(NAIVE, day) is None
    assert shift_event({**EVENTS[2], "promised_delivery_at": "soon"}, day) is None
    assert shift_event({"event_id": "x"}, day) is None  # nothing to shift
    far = {"occurred_at": "9999-12-31T00:00:00Z"}
    assert shift_event(far, day) is None  # beyond what a datetime holds: sent unchanged
    assert format_offset(-(day + 3_600_000_001)) == "-1d 01:00:00.000001"


def test_rebase_offset_without_pacing_puts_the_latest_time_at_now() -> None:
    lines = [
        Line(b"", {"occurred_at": "2026-05-04T00:00:00Z"}),
        Line(b"", {"occurred_at": "2026-05-06T00:00:00+02:00"}),
        Line(b"", {"occurred_at": "naive-2026"}),
        Line(b"", None),
    ]
    latest = to_us(datetime(2026, 5, 5, 22, tzinfo=UTC))
    assert rebase_offset(lines, Plan(None, None), 5) == 5 - latest
    assert rebase_offset(lines[2:], Plan(None, None), 5) is None
    assert Instant(1).extra == ""


def test_interrupt_stops_the_replay_and_flushes_what_was_sent(tmp_path: Path) -> None:
    path = lines_file(tmp_path, ["2026-05-04T00:00:00Z"] * 5)
    t = FakeTime()
    prod = FakeProducer(t)

    def sleep(seconds: float) -> None:
        if len(prod.sent) == 2:
            raise KeyboardInterrupt
        t.sleep(seconds)

    summary = produce(
        [path], brokers="-", topic="t", rate=1.0, timer=t.monotonic, sleep=sleep, producer=prod
    )
    assert summary.interrupted and not summary.ok
    assert summary.sent == summary.delivered == 2 and summary.line().endswith("(interrupted)")


def test_sigterm_stops_fpi_produce_with_everything_sent_delivered(
    broker: Broker, tmp_path: Path
) -> None:
    topic = broker.create_topic(topic_name(), 3)
    path = lines_file(tmp_path, [f"2026-05-04T00:00:{i:02d}Z" for i in range(60)])
    proc = subprocess.Popen(
        [sys.executable, "-m", "fpi", "produce", str(path), "--brokers", broker.bootstrap,
         "--topic", topic, "--rate", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first progress line: it is sending
        assert first.startswith("produce: "), first
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "(interrupted)" in out and "fpi: interrupted" in err
    sent = int(out.split()[1].replace(",", ""))
    assert 0 < sent < 60 and f"delivered {sent}," in out
    assert len(broker.read_all(topic, expect=sent)) == sent

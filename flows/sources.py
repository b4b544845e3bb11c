"""JSON Lines file/folder source for the dataflow.

All input files are read by one partition, **one after the other in the order
given** (events.md: "files in the order given"), so ``fpi ingest a b`` applies
exactly what two runs ``a`` then ``b`` would. The partition emits
:class:`Chunk` items of up to ``chunk_lines`` raw lines, so per-item overhead
is paid per chunk, not per event. The resume state is (file index, lines
consumed). ``.gz`` files are read transparently.

A file that cannot be read to its end (a truncated or corrupt ``.gz``, a file
that is not gzip, permission denied) does not stop the run: the lines read
before the fault go on, and a last chunk carries the fault, which becomes one
``rejected_events`` row with reason ``unreadable_file`` at offset 0 of that
file (line numbers start at 1), saying how many lines were read.

Positions: ``source`` is the file's absolute path and ``offset`` the 1-based
line number; together they identify a line across runs (see ``flows.apply``).
``seq`` orders lines by arrival: run, then file (in the order given, folders
expanded in name order), then line.
"""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
_RUN_SHIFT = 44
_PART_SHIFT = 32
FILE_FAULT_OFFSET = 0
"""``source_offset`` of an ``unreadable_file`` reject (real lines start at 1)."""
_READ_ERRORS = (OSError, EOFError, zlib.error)


def arrival_seq(run_id: int, part_index: int, line: int) -> int:
    """Global arrival order of a line (fits a signed 64-bit integer)."""
    return (run_id << _RUN_SHIFT) | (part_index << _PART_SHIFT) | line


@dataclass(frozen=True, slots=True)
class StreamPosition:
    """Where one Kafka partition stands after a chunk (``flows.kafka_source``)."""

    topic: str
    partition: int
    next_offset: int
    """The offset after the chunk's last message (what a restart resumes from)."""
    at_end: bool
    """Read to the end of the partition (as far as the broker said)."""
    lag: int
    """Messages behind the partition's end (at the last lag query)."""


@dataclass(slots=True)
class Chunk:
    """Consecutive raw lines of one source; ``fault`` ends a file that broke;
    ``position``: a Kafka partition's state after the chunk (files: None)."""

    source: str
    first_offset: int
    first_seq: int
    lines: list[bytes]
    fault: str | None = None
    position: StreamPosition | None = None


@dataclass(frozen=True, slots=True)
class Inputs:
    """The files of a run, each once, and the names that repeated one."""

    files: list[Path]
    repeated: list[tuple[Path, Path]] = field(default_factory=list)
    """(name given, the file already in the list it is the same as)."""


def expand_paths(paths: Iterable[Path]) -> Inputs:
    """Files to read: files as given, folders expanded (recursively, by name).

    A file named twice — the same path again, or another name for the same
    file (a symlink, a hard link) — is read once, where it first appears, and
    reported in :attr:`Inputs.repeated`. Raises ``FileNotFoundError`` for a
    path that does not exist and ``ValueError`` when nothing readable is found.
    """
    found: list[Path] = []
    for p in paths:
        if p.is_dir():
            found.extend(
                sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(SUFFIXES))
            )
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"input not found: {p}")
    if not found:
        raise ValueError("no JSON Lines files found in the given paths")
    files: list[Path] = []
    repeated: list[tuple[Path, Path]] = []
    first: dict[tuple[int, int], Path] = {}
    for f in found:
        st = f.stat()
        ident = (st.st_dev, st.st_ino)
        if ident in first:
            repeated.append((f, first[ident]))
            continue
        first[ident] = f.resolve()
        files.append(f.resolve())
    return Inputs(files, repeated)


class Progress:
    """Bytes read so far across partitions (thread-safe), for progress display."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes_read = 0
        self.lines_read = 0
        self.faults: list[str] = []
        """One line per file that could not be read to its end."""

    def add(self, nbytes: int, nlines: int) -> None:
        """Count a chunk."""
        with self._lock:
            self.bytes_read += nbytes
            self.lines_read += nlines

    def fault(self, text: str) -> None:
        """Record a file that could not be read to its end."""
        with self._lock:
            self.faults.append(text)


def open_input(path: Path) -> IO[bytes]:
    """An input file for reading bytes (``.gz`` decompressed)."""
    if path.name.endswith(".gz"):
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


def describe_read_error(exc: BaseException) -> str:
    """One line for an input that broke while being read."""
    if isinstance(exc, EOFError):
        return "the compressed file is truncated"
    if isinstance(exc, gzip.BadGzipFile):
        return f"not a gzip file ({exc})"
    if isinstance(exc, zlib.error):
        return f"corrupt compressed data ({exc})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


class _FilesPartition(StatefulSourcePartition[Chunk, tuple[int, int]]):
    """Reads the files in order; never raises on a file it cannot read."""

    def __init__(
        self,
        files: list[Path],
        run_id: int,
        chunk_lines: int,
        resume: tuple[int, int],
        progress: Progress | None,
        stop: threading.Event | None,
    ) -> None:
        self._files = files
        self._stop = stop
        self._run = run_id
        self._chunk = chunk_lines
        self._progress = progress
        self._index, skip = resume
        self._fh: IO[bytes] | None = None
        self._consumed = 0
        self._fault: str | None = None
        if self._index < len(files):
            self._start(skip)

    def _start(self, skip: int) -> None:
        """Open the current file, skipping ``skip`` lines already consumed."""
        self._consumed, self._fault = 0, None
        path = self._files[self._index]
        try:
            self._fh = open_input(path)
            for _ in range(skip):
                if not self._fh.readline():
                    break
                self._consumed += 1
        except _READ_ERRORS as exc:
            self._fail(exc)

    def _fail(self, exc: BaseException) -> None:
        path = self._files[self._index]
        self._fault = f"{describe_read_error(exc)}; {self._consumed:,} lines read before the fault"
        if self._progress is not None:
            self._progress.fault(f"{path}: unreadable: {self._fault}")
        self._close()

    def _close(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except _READ_ERRORS:
                pass
            self._fh = None

    def _next_file(self) -> None:
        self._close()
        self._index += 1
        self._consumed = 0
        if self._index < len(self._files):
            self._start(0)

    def next_batch(self) -> list[Chunk]:
        if self._stop is not None and self._stop.is_set():
            raise StopIteration  # the run failed downstream (see DuckDBSink)
        while self._index < len(self._files):
            source = str(self._files[self._index])
            lines: list[bytes] = []
            nbytes = 0
            first = self._consumed + 1
            if self._fh is not None:
                readline = self._fh.readline
                try:
                    for _ in range(self._chunk):
                        line = readline()
                        if not line:
                            break
                        nbytes += len(line)
                        lines.append(line)
                except _READ_ERRORS as exc:
                    self._consumed += len(lines)
                    self._fail(exc)
                else:
                    self._consumed += len(lines)
            if self._progress is not None and lines:
                self._progress.add(nbytes, len(lines))
            seq = arrival_seq(self._run, self._index, first)
            fault = self._fault
            if fault is not None or not lines:
                self._next_file()  # the file ended or broke: the next one starts
            if lines or fault is not None:
                return [Chunk(source, first, seq, lines, fault)]
        raise StopIteration

    def snapshot(self) -> tuple[int, int]:
        return (self._index, self._consumed)

    def close(self) -> None:
        self._close()


class JsonLinesSource(FixedPartitionedSource[Chunk, tuple[int, int]]):
    """Reads JSON Lines files to their end, one after the other, in one partition.

    When ``stop`` is set (a failed sink sets it) the source ends early.
    """

    def __init__(
        self,
        files: list[Path],
        run_id: int,
        *,
        chunk_lines: int = 2000,
        progress: Progress | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self._files = files
        self._stop = stop
        self._run = run_id
        self._chunk = chunk_lines
        self._progress = progress

    def list_parts(self) -> list[str]:
        return ["files"]

    def build_part(
        self, step_id: str, for_part: str, resume_state: tuple[int, int] | None
    ) -> _FilesPartition:
        return _FilesPartition(
            self._files,
            self._run,
            self._chunk,
            resume_state or (0, 0),
            self._progress,
            self._stop,
        )

"""JSON Lines file/folder source for the dataflow.

Each input file is one Bytewax partition; a partition emits :class:`Chunk`
items of up to ``chunk_lines`` raw lines, so per-item overhead is paid per
chunk, not per event. The resume state is the number of lines consumed, so a
recovered run continues where it stopped. ``.gz`` files are read transparently.

Positions: ``source`` is the file's absolute path and ``offset`` the 1-based
line number; together they identify a line across runs (see ``flows.dedupe``).
``seq`` orders lines by arrival: run, then file (in the order given, folders
expanded in name order), then line.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition

SUFFIXES: tuple[str, ...] = (".jsonl", ".ndjson", ".json", ".jsonl.gz", ".ndjson.gz", ".json.gz")
_RUN_SHIFT = 44
_PART_SHIFT = 32


def arrival_seq(run_id: int, part_index: int, line: int) -> int:
    """Global arrival order of a line (fits a signed 64-bit integer)."""
    return (run_id << _RUN_SHIFT) | (part_index << _PART_SHIFT) | line


@dataclass(slots=True)
class Chunk:
    """Consecutive raw lines of one source."""

    source: str
    first_offset: int
    first_seq: int
    lines: list[bytes]


def expand_paths(paths: Iterable[Path]) -> list[Path]:
    """Files to read: files as given, folders expanded (recursively, by name).

    Raises ``FileNotFoundError`` for a path that does not exist and
    ``ValueError`` when nothing readable is found.
    """
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.name.endswith(SUFFIXES))
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise FileNotFoundError(f"input not found: {p}")
    if not files:
        raise ValueError("no JSON Lines files found in the given paths")
    return [f.resolve() for f in files]


class Progress:
    """Bytes read so far across partitions (thread-safe), for progress display."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.bytes_read = 0
        self.lines_read = 0

    def add(self, nbytes: int, nlines: int) -> None:
        """Count a chunk."""
        with self._lock:
            self.bytes_read += nbytes
            self.lines_read += nlines


def _open(path: Path) -> IO[bytes]:
    if path.name.endswith(".gz"):
        return gzip.open(path, "rb")
    return path.open("rb")


class _FilePartition(StatefulSourcePartition[Chunk, int]):
    def __init__(
        self,
        path: Path,
        part_index: int,
        run_id: int,
        chunk_lines: int,
        resume_lines: int,
        progress: Progress | None,
    ) -> None:
        self._path = path
        self._source = str(path)
        self._part = part_index
        self._run = run_id
        self._chunk = chunk_lines
        self._progress = progress
        self._fh = _open(path)
        self._consumed = 0
        for _ in range(resume_lines):
            if not self._fh.readline():
                break
            self._consumed += 1

    def next_batch(self) -> list[Chunk]:
        lines: list[bytes] = []
        nbytes = 0
        readline = self._fh.readline
        for _ in range(self._chunk):
            line = readline()
            if not line:
                break
            nbytes += len(line)
            lines.append(line)
        if not lines:
            raise StopIteration
        first = self._consumed + 1
        self._consumed += len(lines)
        if self._progress is not None:
            self._progress.add(nbytes, len(lines))
        return [Chunk(self._source, first, arrival_seq(self._run, self._part, first), lines)]

    def snapshot(self) -> int:
        return self._consumed

    def close(self) -> None:
        self._fh.close()


class JsonLinesSource(FixedPartitionedSource[Chunk, int]):
    """Reads JSON Lines files to their end, one partition per file."""

    def __init__(
        self,
        files: list[Path],
        run_id: int,
        *,
        chunk_lines: int = 2000,
        progress: Progress | None = None,
    ) -> None:
        self._files = files
        self._index = {str(f): i for i, f in enumerate(files)}
        self._run = run_id
        self._chunk = chunk_lines
        self._progress = progress

    def list_parts(self) -> list[str]:
        return list(self._index)

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _FilePartition:
        return _FilePartition(
            Path(for_part),
            self._index[for_part],
            self._run,
            self._chunk,
            resume_state or 0,
            self._progress,
        )

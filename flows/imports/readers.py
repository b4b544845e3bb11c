"""Stream the rows of a status log (CSV) or event log (XES), plain, ``.gz`` or in a ``.zip``.

Nothing is loaded whole: CSV goes through :mod:`csv` record by record, XES
through :func:`xml.etree.ElementTree.iterparse`, one trace at a time (each
element cleared once read), so a 40 MB XES file needs a few MB of memory.

A :class:`Row` holds only the *present* cells (see ``flows.imports.mapping``:
stripped, not empty, not a "missing" value) of the columns the mapping reads.

* CSV: the first record is the header; a column the mapping names that is not
  in it is a ``MappingError``. ``Row.line`` is the physical line the record
  ends on (1-based, header = line 1). ``Row.last`` is ``None`` (unknown).
* XES: a row per ``<event>``, its attributes by ``key``, plus the trace's
  attributes as ``case:<key>`` (PM4Py's convention: the case id is
  ``case:concept:name``). ``Row.line`` is the trace number, ``Row.event`` the
  event's number in it (both 1-based) and ``Row.last`` whether it is the
  trace's last event. Nested attributes and lists are ignored; ``<global>``
  defaults are not applied (an absent attribute is a missing cell).
"""

from __future__ import annotations

import csv
import gzip
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast
from xml.parsers import expat

from .mapping import Mapping, MappingError


class LogReadError(ValueError):
    """The input file cannot be read (corrupt archive, bad XML, bad CSV): one line."""


@dataclass(slots=True)
class Row:
    """One row of the log: present cells, its position, and whether it is its case's last."""

    cells: dict[str, str]
    line: int
    event: int | None = None
    last: bool | None = None


def _strip_compression(name: str) -> str:
    low = name.lower()
    return name[:-3] if low.endswith(".gz") else name


def infer_format(name: str) -> str | None:
    """``csv`` or ``xes`` from a file name: ``.csv``/``.tsv``/``.txt``, ``.xes`` (or ``….gz``)."""
    low = _strip_compression(name).lower()
    if low.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if low.endswith(".xes"):
        return "xes"
    return None


class LogReader:
    """Rows of one input file, with progress in bytes of the file on disk."""

    def __init__(self, path: Path, mapping: Mapping) -> None:
        self.path = path
        self.mapping = mapping
        self.total_bytes = path.stat().st_size
        self._raw: IO[bytes] = path.open("rb")
        self.name = path.name
        stream: IO[bytes]
        try:
            if path.name.lower().endswith(".zip"):
                stream, inner = self._zip_member()
                self.name = f"{path.name}:{inner}"
            elif path.name.lower().endswith(".gz"):
                stream, inner = (
                    cast(IO[bytes], gzip.GzipFile(fileobj=self._raw, mode="rb")),
                    path.name,
                )
            else:
                stream, inner = self._raw, path.name
        except BaseException:
            self._raw.close()
            raise
        self._stream = stream
        fmt = mapping.input.format or infer_format(inner)
        if fmt is None:
            self.close()
            raise MappingError(
                f'cannot tell the format of {self.name}: set [input] format = "csv" or "xes"'
            )
        self.format = fmt
        self._missing = mapping.missing_values

    def _zip_member(self) -> tuple[IO[bytes], str]:
        try:
            zf = zipfile.ZipFile(self._raw)
        except zipfile.BadZipFile as exc:
            raise LogReadError(f"{self.path}: not a readable zip file ({exc})") from None
        names = [i.filename for i in zf.infolist() if not i.is_dir()]
        member = self.mapping.input.member
        if member is None:
            if len(names) != 1:
                raise MappingError(
                    f"{self.path} holds {len(names)} files: set [input] member to one of "
                    + ", ".join(names[:10])
                )
            member = names[0]
        elif member not in names:
            raise MappingError(
                f"{self.path} has no member {member!r} (it holds {', '.join(names[:10])})"
            )
        return zf.open(member), member

    def bytes_read(self) -> int:
        """Bytes of the file on disk consumed so far (for progress)."""
        try:
            return self._raw.tell()
        except (ValueError, OSError):
            return self.total_bytes

    def where(self, row: Row) -> str:
        """Where a row is, for messages: ``file line 12`` or ``file trace 3 event 2``."""
        if row.event is None:
            return f"{self.name} line {row.line}"
        return f"{self.name} trace {row.line} event {row.event}"

    def rows(self) -> Iterator[Row]:
        """The rows, in file order."""
        try:
            if self.format == "csv":
                yield from self._csv_rows()
            else:
                yield from self._xes_rows()
        except (EOFError, zipfile.BadZipFile, gzip.BadGzipFile, OSError, UnicodeDecodeError) as exc:
            raise LogReadError(f"{self.name}: cannot read to the end ({exc})") from None

    def _csv_rows(self) -> Iterator[Row]:
        text = io.TextIOWrapper(self._stream, encoding=self.mapping.input.encoding, newline="")
        reader = csv.reader(text, delimiter=self.mapping.input.delimiter)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise LogReadError(f"{self.name}: empty file (no header line)") from None
        index: dict[str, int] = {}
        for i, h in enumerate(header):
            index.setdefault(h, i)
        wanted: dict[str, int] = {}
        for key, column in self.mapping.columns():
            if column not in index:
                shown = ", ".join(header[:12]) + (" …" if len(header) > 12 else "")
                raise MappingError(
                    f"{key} names column {column!r}, which {self.name} does not have "
                    f"(its header: {shown})"
                )
            wanted[column] = index[column]
        pairs = list(wanted.items())
        missing = self._missing
        try:
            for record in reader:
                if not record:
                    continue
                n = len(record)
                cells: dict[str, str] = {}
                for column, i in pairs:
                    if i < n:
                        v = record[i].strip()
                        if v not in missing:
                            cells[column] = v
                yield Row(cells, reader.line_num)
        except csv.Error as exc:
            raise LogReadError(f"{self.name} line {reader.line_num}: bad CSV ({exc})") from None

    def _xes_rows(self) -> Iterator[Row]:
        parser = _XesParser(self._missing)
        read = self._stream.read
        while True:
            block = read(XES_BLOCK)
            try:
                parser.feed(block, final=not block)
            except expat.ExpatError as exc:
                raise LogReadError(f"{self.name}: bad XML ({exc})") from None
            if parser.rows:
                yield from parser.rows
                parser.rows = []
            if not block:
                return

    def close(self) -> None:
        """Close the file."""
        try:
            if self._stream is not self._raw:
                self._stream.close()
        finally:
            self._raw.close()

    def __enter__(self) -> LogReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


XES_BLOCK = 1 << 16
_ATTRIBUTE_TAGS = frozenset({"string", "date", "int", "float", "boolean", "id"})


class _XesParser:
    """Expat callbacks turning XES into rows: no element tree is built at all.

    Depth 1 is ``<log>``, 2 a ``<trace>`` (or a log-level element, skipped), 3
    a trace attribute or an ``<event>``, 4 an event attribute; anything deeper
    (nested attributes, lists) is ignored. A trace's rows are released at its
    end tag, when its attributes and its last event are known.
    """

    def __init__(self, missing: frozenset[str]) -> None:
        self.missing = missing
        self.rows: list[Row] = []
        self.depth = 0
        self.trace_no = 0
        self.in_trace = False
        self.trace_attrs: dict[str, str] = {}
        self.events: list[dict[str, str]] = []
        self.event: dict[str, str] | None = None
        p = expat.ParserCreate()
        p.StartElementHandler = self._start
        p.EndElementHandler = self._end
        self._parser = p

    def feed(self, block: bytes, *, final: bool) -> None:
        """Parse the next block of bytes (``final``: the end of the document)."""
        self._parser.Parse(block, final)

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        self.depth += 1
        depth = self.depth
        if depth == 2:
            if name.rpartition(":")[2] == "trace":
                self.in_trace = True
                self.trace_no += 1
                self.trace_attrs = {}
                self.events = []
            return
        if not self.in_trace or depth > 4:
            return
        tag = name.rpartition(":")[2]
        if depth == 3 and tag == "event":
            self.event = {}
            return
        if tag not in _ATTRIBUTE_TAGS:
            return
        key, value = attrs.get("key"), attrs.get("value")
        if key is None or value is None:
            return
        value = value.strip()
        if value in self.missing:
            return
        if depth == 3:
            self.trace_attrs[f"case:{key}"] = value
        elif self.event is not None:
            self.event[key] = value

    def _end(self, name: str) -> None:
        depth = self.depth
        self.depth -= 1
        if not self.in_trace:
            return
        if depth == 3 and self.event is not None:
            self.events.append(self.event)
            self.event = None
        elif depth == 2:
            self.in_trace = False
            attrs, last, no = self.trace_attrs, len(self.events), self.trace_no
            self.rows.extend(
                Row({**attrs, **cells}, no, i, i == last)
                for i, cells in enumerate(self.events, start=1)
            )
            self.events = []

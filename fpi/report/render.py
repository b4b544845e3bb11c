"""Render a report in one format, and write it to a file.

Formats (:data:`FORMATS`, chosen by the file's ending): ``.pdf`` (the HTML
document printed by Chromium, ``fpi.report.pdf``), ``.xlsx``
(``fpi.report.workbook``), ``.html`` (``fpi.report.document``), ``.md``,
``.json``, ``.csv`` (``fpi.report.plain``).

:func:`write_report` writes atomically: the bytes go to a hidden file beside
``out`` that replaces it when complete, so whoever reads ``out`` (a mail job,
a web server) never sees half a report; the directory is made (and checked
for writing) before anything is computed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from datetime import datetime
from pathlib import Path

import duckdb

from core.config import Settings, builtin_settings

from .content import Report, build_report
from .document import html_document
from .pdf import print_pdf
from .plain import to_csv, to_json, to_markdown
from .workbook import workbook_bytes

FORMATS: tuple[str, ...] = (".pdf", ".xlsx", ".html", ".md", ".json", ".csv")
"""Report formats, by file ending."""

MEDIA_TYPES: dict[str, str] = {
    ".pdf": "application/pdf",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".html": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
}
"""The media type of each format (for an e-mail attachment or an HTTP response)."""


def report_format(name: str) -> str:
    """The format of a file name or format name (``report.PDF``, ``pdf``, ``.pdf`` ->
    ``.pdf``); ``ValueError`` naming the formats for anything else."""
    text = name.strip().lower()
    suffix = Path(text).suffix or (f".{text}" if text and "." not in text else text)
    if suffix not in FORMATS:
        shown = Path(name).suffix or name
        raise ValueError(f"unknown report format {shown!r}; use {', '.join(FORMATS)}")
    return suffix


def render(rep: Report, fmt: str, *, chromium: str | None = None) -> bytes:
    """A computed report in format ``fmt`` (see :func:`report_format`)."""
    suffix = report_format(fmt)
    if suffix == ".pdf":
        return print_pdf(html_document(rep), chromium=chromium)
    if suffix == ".xlsx":
        return workbook_bytes(rep)
    if suffix == ".html":
        text = html_document(rep)
    elif suffix == ".json":
        text = to_json(rep)
    elif suffix == ".csv":
        text = to_csv(rep)
    else:
        text = to_markdown(rep)
    return text.encode("utf-8")


def render_report(
    con: duckdb.DuckDBPyConnection,
    fmt: str,
    as_of: datetime | None = None,
    start: datetime | None = None,
    *,
    generated_at: datetime,
    where: dict[str, list[str]] | None = None,
    settings: Settings | None = None,
    chromium: str | None = None,
) -> bytes:
    """The report over [``start``, ``as_of``) (defaults as ``fpi kpis``) filtered by
    ``where``, in format ``fmt``, as bytes. ``settings`` give the targets and the
    reporting currency (default: the built-in settings). ``ValueError`` for an
    unknown format, a start after the as-of time or bad targets;
    ``fpi.report.pdf.ChromiumError`` when a PDF cannot be printed."""
    suffix = report_format(fmt)
    rep = build_report(
        con,
        as_of,
        start,
        generated_at=generated_at,
        where=where,
        settings=settings or builtin_settings(),
    )
    return render(rep, suffix, chromium=chromium)


def write_report(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    as_of: datetime | None,
    start: datetime | None,
    *,
    generated_at: datetime,
    where: dict[str, list[str]] | None = None,
    settings: Settings | None = None,
    chromium: str | None = None,
) -> None:
    """Write the report to ``out`` in the format of its ending (see :func:`render_report`;
    ``OSError`` when ``out`` cannot be written)."""
    out = Path(out)
    suffix = report_format(out.name)
    if out.is_dir():
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    try:
        data = render_report(
            con,
            suffix,
            as_of,
            start,
            generated_at=generated_at,
            where=where,
            settings=settings,
            chromium=chromium,
        )
        with os.fdopen(fd, "wb") as f:
            fd = -1
            f.write(data)
        os.chmod(tmp, 0o644)  # as a file written with the usual umask 022 (mkstemp: 0600)
        try:
            os.replace(tmp, out)
        except OSError as exc:  # name the file asked for, not the temporary one
            raise OSError(exc.errno, exc.strerror, str(out)) from None
    finally:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)

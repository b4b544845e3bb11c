"""Render result frames for people and tools: JSON, CSV or a terminal table.

JSON (``interface.md``): a list of objects; KPI names as in kpis.md;
timestamps ISO 8601 in UTC (``Z``); shares as fractions; hours as numbers;
absent values as ``null``.
"""

from __future__ import annotations

import io
import math
import shutil
from datetime import datetime
from typing import Any

import orjson
import polars as pl
from rich.console import Console
from rich.table import Table
from rich.text import Text

from core.safe_text import printable, to_csv
from core.timeutil import iso_z

FORMATS = ("json", "csv", "table")


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    return value


def records(df: pl.DataFrame) -> list[dict[str, Any]]:
    """Rows as plain dicts (times as ISO strings, NaN as None)."""
    return [{k: _plain(v) for k, v in row.items()} for row in df.iter_rows(named=True)]


def to_json(df: pl.DataFrame) -> str:
    """A JSON list of objects."""
    return orjson.dumps(records(df), option=orjson.OPT_INDENT_2).decode("utf-8")


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return printable(str(value))


_PAD = 3  # a cell's border and padding in a rich table


def _natural_width(columns: list[list[str]]) -> int:
    return 1 + sum(max(len(c) for c in col) + _PAD for col in columns)


def _terminal_width() -> int:
    return max(60, shutil.get_terminal_size(fallback=(100, 24)).columns)


def to_table(df: pl.DataFrame, title: str | None = None, width: int | None = None) -> str:
    """A terminal table that fits ``width`` columns (default: the terminal's).

    A frame whose rows fit is printed as it is. A wider one is turned around —
    one KPI per line, one group per column — and split into as many tables as
    it takes to show every group in full ("groups 1-3 of 12"): no cell is
    cut. Text from the data is shown as text: no markup, no control characters.
    """
    width = width or _terminal_width()
    cells = [[printable(c)] + [_cell(v) for v in df[c]] for c in df.columns]
    console = Console(width=width, record=True, file=io.StringIO(), color_system=None)
    if _natural_width(cells) <= width:
        table = Table(title=title)
        for col in df.columns:
            table.add_column(
                Text(printable(col)),
                justify="left" if df.schema[col] == pl.String else "right",
                overflow="fold",
            )
        for row in zip(*[c[1:] for c in cells], strict=True):
            table.add_row(*[Text(v) for v in row])
        console.print(table)
        return console.export_text()
    first = df.columns[0]
    labelled = df.schema[first] == pl.String
    headers = [c for c in cells[0][1:]] if labelled else [f"row {i + 1}" for i in range(df.height)]
    fields = cells[1:] if labelled else cells
    label_w = max(len(f[0]) for f in fields) + _PAD
    col_ws = [max(len(h), *(len(f[i + 1]) for f in fields)) + _PAD for i, h in enumerate(headers)]
    pages: list[list[int]] = [[]]
    used = 1 + label_w
    for i, w in enumerate(col_ws):
        if pages[-1] and used + w > width:
            pages.append([])
            used = 1 + label_w
        pages[-1].append(i)
        used += w
    for n, page in enumerate(pages):
        caption = None
        if len(pages) > 1:
            caption = f"{first} {page[0] + 1}-{page[-1] + 1} of {len(headers)}"
        table = Table(title=title if n == 0 else None, caption=caption)
        table.add_column(Text(printable(first) if labelled else "kpi"), overflow="fold")
        for i in page:
            table.add_column(Text(headers[i]), justify="right", overflow="fold")
        for f in fields:
            table.add_row(Text(f[0]), *[Text(f[i + 1]) for i in page])
        console.print(table)
    return console.export_text()


def render(df: pl.DataFrame, fmt: str, title: str | None = None) -> str:
    """Render ``df`` in one of :data:`FORMATS`."""
    if fmt == "json":
        return to_json(df)
    if fmt == "csv":
        return to_csv(df)
    if fmt == "table":
        if df.width == 0:
            return "no data yet: the database holds no accepted events"
        return to_table(df, title)
    raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")

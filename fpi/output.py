"""Render result frames for people and tools: JSON, CSV or a terminal table.

JSON (``interface.md``): a list of objects; KPI names as in kpis.md;
timestamps ISO 8601 in UTC (``Z``); shares as fractions; hours as numbers;
absent values as ``null``.
"""

from __future__ import annotations

import io
import math
from datetime import datetime
from typing import Any

import orjson
import polars as pl
from rich.console import Console
from rich.table import Table

from .timeutil import iso_z

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


def to_csv(df: pl.DataFrame) -> str:
    """CSV with a header; times ISO 8601 UTC; empty cells for nulls."""
    times = [c for c, t in df.schema.items() if isinstance(t, pl.Datetime)]
    out = df.with_columns(
        [pl.col(c).dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%dT%H:%M:%S%.fZ") for c in times]
    )
    buf = io.StringIO()
    out.write_csv(buf)
    return buf.getvalue()


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def to_table(df: pl.DataFrame, title: str | None = None, width: int = 160) -> str:
    """A terminal table. Many columns are shown transposed (one KPI per line)."""
    console = Console(width=width, record=True, file=io.StringIO())
    if df.width > 8 and df.height <= 6:
        table = Table(title=title)
        table.add_column("kpi")
        first = df.columns[0]
        label_cols = df.columns if df.schema[first] != pl.String else df.columns[1:]
        headers = (
            [str(v) for v in df[first]] if df.schema[first] == pl.String else ["value"] * df.height
        )
        for h in headers:
            table.add_column(h, justify="right")
        for col in label_cols:
            table.add_row(col, *[_cell(v) for v in df[col]])
    else:
        table = Table(title=title)
        for col in df.columns:
            table.add_column(col, justify="left" if df.schema[col] == pl.String else "right")
        for row in df.iter_rows():
            table.add_row(*[_cell(v) for v in row])
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

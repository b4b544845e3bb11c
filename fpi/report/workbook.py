"""The report as an Excel workbook (XlsxWriter): one sheet per section.

Sheets: **Summary** (headline, period, filters, the top bottleneck of each
dimension, trend charts), **KPIs** (value, previous period, change, target,
status), **Trends**, **Bottlenecks – lane/site/carrier/root cause** (each with
a bar chart), **Open exceptions**, **Data quality**, **Definitions** (from the
KPI catalog).

Cells hold numbers with real Excel number formats — shares as ``0.0%``,
money as ``"USD "#,##0.00`` in the reporting currency, hours as ``0.0 "h"``,
counts as ``#,##0`` — and times as Excel date-times in UTC; changes are
numbers too (shares in percentage points), coloured by tone
(``fpi.report.kpi_line``), or the text "no data". A missing value is an empty
cell. Header rows are frozen. Text from the data is always written as a
string, never as a formula or a link.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from metrics.bottlenecks import BOTTLENECK_DIMENSIONS, COLUMNS
from metrics.catalog import BY_NAME, CATALOG
from metrics.dimensions import DIMENSIONS
from metrics.labels import (
    NO_DATA,
    column_label,
    dimension_label,
    status_label,
    unit_of,
    value_label,
)
from metrics.series import TREND_KPIS

from .content import Report
from .document import BETTER, KIND_TITLES, QUEUE_COLUMNS, TERMS, TITLE, UNIT_WORDS, filters_text
from .kpi_line import KpiLine, Tone

TONE_COLORS: dict[Tone, str] = {"good": "#15803D", "bad": "#B91C1C", "neutral": "#4B5563"}
STATUS_COLORS = {"on_target": "#DCFCE7", "at_risk": "#FEF3C7", "off_target": "#FEE2E2"}


def number_format(unit: str | None, currency: str, *, delta: bool = False) -> str:
    """The Excel number format of a unit (``fpi.report.kpi_line`` changes with ``delta``:
    signed, shares in points)."""
    money = f'"{currency} "#,##0.00'
    if delta:
        return {
            "share": '+0.0" pp";-0.0" pp";0.0" pp"',
            "hours": '+#,##0.0" h";-#,##0.0" h";0.0" h"',
            "touches": "+0.00;-0.00;0.00",
            "currency": f"+{money};-{money};{money}",
        }.get(unit or "", "+#,##0;-#,##0;0")
    return {
        "share": "0.0%",
        "hours": '#,##0.0" h"',
        "touches": "0.00",
        "currency": money,
        "count": "#,##0",
    }.get(unit or "", "General")


TIME_FORMAT = 'yyyy-mm-dd hh:mm" UTC"'


class _Book:
    """A workbook being written, with its formats made once."""

    def __init__(self, rep: Report) -> None:
        self.rep = rep
        self.buf = io.BytesIO()
        self.wb: Workbook = xlsxwriter.Workbook(
            self.buf,
            {
                "in_memory": True,
                "remove_timezone": True,
                "strings_to_formulas": False,
                "strings_to_urls": False,
                "strings_to_numbers": False,
            },
        )
        self.wb.set_properties({"title": TITLE, "comments": rep.headline})
        self._formats: dict[tuple[Any, ...], Format] = {}
        self.head = self.wb.add_format(
            {"bold": True, "bg_color": "#F3F4F6", "bottom": 1, "text_wrap": True, "valign": "top"}
        )
        self.title = self.wb.add_format({"bold": True, "font_size": 16})
        self.bold = self.wb.add_format({"bold": True})
        self.wrap = self.wb.add_format({"text_wrap": True, "valign": "top"})
        self.headline = self.wb.add_format(
            {"bold": True, "font_size": 13, "text_wrap": True, "valign": "top"}
        )

    def fmt(
        self,
        unit: str | None,
        *,
        delta: bool = False,
        tone: Tone | None = None,
        status: str | None = None,
        time: bool = False,
    ) -> Format:
        """The cell format of a unit (cached)."""
        key = (unit, delta, tone, status, time)
        if key not in self._formats:
            props: dict[str, Any] = {
                "num_format": TIME_FORMAT
                if time
                else number_format(unit, self.rep.currency, delta=delta)
            }
            if tone is not None:
                props["font_color"] = TONE_COLORS[tone]
            if status is not None:
                props["bg_color"] = STATUS_COLORS[status]
                props["bold"] = True
            self._formats[key] = self.wb.add_format(props)
        return self._formats[key]

    def sheet(self, name: str) -> Worksheet:
        ws: Worksheet = self.wb.add_worksheet(name)
        return ws

    def cell(self, ws: Worksheet, r: int, c: int, column: str, value: Any) -> None:
        """One value of column ``column``: a number in its unit's format, a time, a flag,
        a label for a dimension value, else a string; empty for none."""
        if value is None:
            ws.write_blank(r, c, None)
        elif isinstance(value, bool):
            ws.write_boolean(r, c, value)
        elif isinstance(value, datetime):
            ws.write_datetime(r, c, value.astimezone(UTC), self.fmt(None, time=True))
        elif isinstance(value, int | float):
            ws.write_number(r, c, float(value), self.fmt(unit_of(column)))
        elif column in DIMENSIONS:
            ws.write_string(r, c, value_label(column, value))
        else:
            ws.write_string(r, c, str(value))

    def header(self, ws: Worksheet, r: int, labels: Sequence[str], widths: Sequence[float]) -> None:
        for c, (text, width) in enumerate(zip(labels, widths, strict=True)):
            ws.write_string(r, c, text, self.head)
            ws.set_column(c, c, width)

    def frame(self, ws: Worksheet, df: pl.DataFrame, columns: Sequence[str], r0: int = 0) -> int:
        """``columns`` of ``df`` as a table with its header at row ``r0`` (frozen when
        ``r0`` is 0, with a filter); the row after the last."""
        labels = [column_label(c, self.rep.currency) for c in columns]
        widths = [max(10.0, min(40.0, len(h) + 2.0)) for h in labels]
        for i, name in enumerate(columns):
            if df.schema.get(name) == pl.String:
                texts = [len(str(v)) for v in df[name].to_list() if v is not None]
                widths[i] = max(widths[i], min(40.0, max(texts, default=0) + 2.0))
        self.header(ws, r0, labels, widths)
        for i, row in enumerate(df.select(columns).iter_rows(named=True)):
            for c, name in enumerate(columns):
                self.cell(ws, r0 + 1 + i, c, name, row[name])
        if r0 == 0:
            ws.freeze_panes(1, 1)
            if df.height:
                ws.autofilter(0, 0, df.height, len(columns) - 1)
        return r0 + 1 + df.height

    def close(self) -> bytes:
        self.wb.close()
        return self.buf.getvalue()


def _summary(b: _Book, trend_rows: int) -> None:
    rep = b.rep
    ws = b.sheet("Summary")
    ws.set_column(0, 0, 26)
    ws.set_column(1, 6, 18)
    ws.write_string(0, 0, TITLE, b.title)
    ws.merge_range(1, 0, 1, 6, rep.headline, b.headline)
    ws.set_row(1, 36)
    rows: list[tuple[str, Any]] = []
    if rep.window is not None:
        rows += [("Period from", rep.window.start), ("Period to (as of)", rep.window.as_of)]
    if rep.previous is not None:
        rows += [
            ("Previous period from", rep.previous.start),
            ("Previous period to", rep.previous.as_of),
            ("Previous period has data", rep.previous_has_data),
        ]
    rows += [
        ("Filters", filters_text(rep.where)),
        ("Reporting currency", rep.currency),
        ("Generated", rep.generated_at),
    ]
    r = 3
    for label, value in rows:
        ws.write_string(r, 0, label, b.bold)
        b.cell(ws, r, 1, "", value)
        r += 1
    r += 1
    ws.write_string(r, 0, "Where the SLA overrun sits: the top group of each dimension", b.bold)
    r += 1
    cols = ("sla_overrun_hours", "share_of_overrun", "breach_rate", "revenue_at_risk")
    labels = ["Dimension", "Top group", *(column_label(c, rep.currency) for c in cols)]
    for c, text in enumerate(labels):
        ws.write_string(r, c, text, b.head)
    for dim in BOTTLENECK_DIMENSIONS:
        r += 1
        ws.write_string(r, 0, dimension_label(dim))
        df = rep.bottlenecks.get(dim)
        if df is None or df.height == 0:
            ws.write_string(r, 1, "no exception")
            continue
        top = df.row(0, named=True)
        ws.write_string(r, 1, value_label(dim, top[dim]))
        for c, name in enumerate(cols, start=2):
            b.cell(ws, r, c, name, top[name])
    if trend_rows:
        _trend_charts(b, ws, r + 2, trend_rows)


def _trend_charts(b: _Book, ws: Worksheet, row: int, n: int) -> None:
    """Native charts over the Trends sheet (rows 1..n; columns as written there)."""
    col = {name: i for i, name in enumerate(("as_of", "period_from", *TREND_KPIS))}
    cats = ["Trends", 1, 0, n, 0]

    def series(name: str, color: str) -> dict[str, Any]:
        c = col[name]
        return {
            "name": ["Trends", 0, c],
            "categories": cats,
            "values": ["Trends", 1, c, n, c],
            "line": {"color": color, "width": 2},
            "fill": {"color": color},
        }

    aging = b.wb.add_chart({"type": "area", "subtype": "stacked"})
    for name, color in zip(
        ("aging_lt_4h", "aging_4_24h", "aging_1_3d", "aging_gt_3d"),
        ("#9ECAE1", "#4292C6", "#F16913", "#A50F15"),
        strict=True,
    ):
        aging.add_series(series(name, color))
    sla = b.wb.add_chart({"type": "line"})
    sla.add_series(series("sla_adherence", "#1F77B4"))
    sla.set_y_axis({"min": 0, "max": 1, "num_format": "0%"})
    sla.show_blanks_as("gap")
    rev = b.wb.add_chart({"type": "line"})
    rev.add_series(series("revenue_at_risk", "#FF7F0E"))
    rev.add_series(series("breached_revenue_at_risk", "#D62728"))
    rev.set_y_axis({"num_format": f'"{b.rep.currency} "#,##0'})
    for chart, title in (
        (aging, "Backlog by age"),
        (sla, "SLA adherence"),
        (rev, f"Revenue at risk ({b.rep.currency})"),
    ):
        chart.set_title({"name": title, "name_font": {"size": 11}})
        chart.set_x_axis({"num_format": "mm-dd hh:mm", "num_font": {"rotation": -45}})
        chart.set_legend({"position": "bottom"})
        chart.set_size({"width": 480, "height": 300})
    ws.insert_chart(row, 0, aging)
    ws.insert_chart(row, 3, sla, {"x_offset": 40})
    ws.insert_chart(row + 16, 0, rev)


def _kpis(b: _Book) -> None:
    rep = b.rep
    ws = b.sheet("KPIs")
    labels = [
        "KPI",
        "Value",
        "Previous period",
        "Change",
        "Target",
        "Warning",
        "Status",
        "Better when",
        "Kind",
        "Name",
    ]
    b.header(ws, 0, labels, [30, 16, 16, 14, 14, 14, 12, 12, 36, 28])
    ws.freeze_panes(1, 1)
    for r, line in enumerate(rep.lines, start=1):
        unit = line.kpi.unit
        ws.write_string(r, 0, line.kpi.label)
        _num(b, ws, r, 1, line.value, unit)
        if rep.previous_has_data:
            _num(b, ws, r, 2, line.previous, unit)
        else:
            ws.write_string(r, 2, NO_DATA)
        _change(b, ws, r, 3, line)
        if line.target is not None:
            _num(b, ws, r, 4, line.target.goal, unit)
            _num(b, ws, r, 5, line.target.warning, unit)
            status = line.status
            ws.write_string(
                r, 6, status_label(status), b.fmt(None, status=status) if status else None
            )
        else:
            ws.write_string(r, 6, status_label(None, has_target=False))
        ws.write_string(r, 7, BETTER[line.kpi.good])
        ws.write_string(r, 8, KIND_TITLES[line.kpi.kind])
        ws.write_string(r, 9, line.name)


def _num(b: _Book, ws: Worksheet, r: int, c: int, value: float | None, unit: str) -> None:
    if value is None:
        ws.write_blank(r, c, None)
    else:
        ws.write_number(r, c, float(value), b.fmt(unit))


def _change(b: _Book, ws: Worksheet, r: int, c: int, line: KpiLine) -> None:
    text = line.change(b.rep.currency)
    d = line.delta
    if text is None:
        ws.write_blank(r, c, None)
    elif text == NO_DATA or d is None:
        ws.write_string(r, c, NO_DATA, b.fmt(None, tone="neutral"))
    else:
        unit = line.kpi.unit
        value = d * 100 if unit == "share" else d
        ws.write_number(r, c, value, b.fmt(unit, delta=True, tone=line.tone(b.rep.currency)))


def _trends(b: _Book) -> int:
    ws = b.sheet("Trends")
    cols = ["as_of", "period_from", *TREND_KPIS]
    df = b.rep.trend
    if df.height == 0:
        b.header(ws, 0, [column_label(c, b.rep.currency) for c in cols], [16.0] * len(cols))
        return 0
    b.frame(ws, df, cols)
    ws.set_column(0, 1, 20)
    return df.height


def _bottlenecks(b: _Book) -> None:
    for dim in BOTTLENECK_DIMENSIONS:
        name = f"Bottlenecks – {dimension_label(dim).lower()}"
        ws = b.sheet(name)
        df = b.rep.bottlenecks.get(dim, pl.DataFrame())
        cols = (dim, *COLUMNS)
        if df.height == 0:
            b.header(ws, 0, [column_label(c, b.rep.currency) for c in cols], [14.0] * len(cols))
            ws.write_string(1, 0, "no exception")
            continue
        b.frame(ws, df, cols)
        chart = b.wb.add_chart({"type": "bar"})
        chart.add_series(
            {
                "name": "SLA overrun (h)",
                "categories": [name, 1, 0, df.height, 0],
                "values": [name, 1, 2, df.height, 2],
                "fill": {"color": "#1F77B4"},
                "points": [{"fill": {"color": "#D62728"}}],
                "data_labels": {"value": True, "num_format": '#,##0" h"'},
            }
        )
        chart.set_title({"name": f"SLA overrun by {dimension_label(dim).lower()}"})
        chart.set_y_axis({"reverse": True})
        chart.set_x_axis({"num_format": '#,##0" h"'})
        chart.set_legend({"none": True})
        chart.set_size({"width": 520, "height": 60 + 26 * df.height})
        ws.insert_chart(1, len(cols) + 1, chart)


def _open(b: _Book) -> None:
    ws = b.sheet("Open exceptions")
    df = b.rep.top_open
    if df.height == 0:
        cols = list(QUEUE_COLUMNS)
        b.header(ws, 0, [column_label(c, b.rep.currency) for c in cols], [14.0] * len(cols))
        ws.write_string(1, 0, "no open exception")
        return
    b.frame(ws, df, [c for c in df.columns])


def _quality(b: _Book) -> None:
    ws = b.sheet("Data quality")
    q = pl.DataFrame(
        {
            "measure": [BY_NAME[k].label for k in b.rep.quality],
            "events": list(b.rep.quality.values()),
        },
        schema={"measure": pl.String, "events": pl.Int64},
    )
    end = b.frame(ws, q, ("measure", "events"))
    ws.write_string(end + 1, 0, "Rejected lines by reason", b.bold)
    rej = b.rep.rejected
    if rej.height == 0:
        ws.write_string(end + 2, 0, "no rejected line")
    else:
        b.frame(ws, rej, ("reason", "events"), r0=end + 2)
    ws.set_column(0, 0, 30)


def _definitions(b: _Book) -> None:
    ws = b.sheet("Definitions")
    b.header(ws, 0, ["KPI", "Name", "Definition", "Unit", "Better when"], [28, 28, 80, 20, 12])
    ws.freeze_panes(1, 1)
    for r, k in enumerate(CATALOG, start=1):
        ws.write_string(r, 0, k.label)
        ws.write_string(r, 1, k.name)
        ws.write_string(r, 2, k.definition, b.wrap)
        ws.write_string(r, 3, UNIT_WORDS[k.unit])
        ws.write_string(r, 4, BETTER[k.good])
    r = len(CATALOG) + 2
    ws.write_string(r, 0, "Terms of this report", b.bold)
    for term, text in TERMS:
        r += 1
        ws.write_string(r, 0, term, b.bold)
        ws.merge_range(r, 1, r, 4, text, b.wrap)
        ws.set_row(r, 15 * (1 + len(text) // 110))


def workbook_bytes(rep: Report) -> bytes:
    """The report as an ``.xlsx`` file (see the module docstring)."""
    b = _Book(rep)
    _summary(b, rep.trend.height if rep.window is not None else 0)
    _kpis(b)
    _trends(b)
    _bottlenecks(b)
    _open(b)
    _quality(b)
    _definitions(b)
    return b.close()

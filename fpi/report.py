"""Exported KPI report (``fpi report --db DB --out FILE``); format from the file ending.

Contents: the headline KPIs (stock as of T, flow over [from, T)), the
bottleneck lists by site, lane, carrier and root cause, and data quality
(rejected lines by reason). Formats: ``.md`` (Markdown), ``.html``, ``.json``
(one object with a key per section), ``.csv`` (long form: section, dimension,
group, metric, value). Every number comes from the metric layer.
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from core.db import open_read
from core.timeutil import iso_z, system_clock
from metrics.bottlenecks import bottlenecks
from metrics.catalog import BY_NAME
from metrics.quality import quality, rejected_by_reason
from metrics.query import compute, window

from .args import UsageError, time_arg
from .output import records

REPORT_DIMENSIONS: tuple[str, ...] = ("site", "lane", "carrier", "category")
FORMATS: tuple[str, ...] = (".md", ".html", ".json", ".csv")


def build_report(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime | None,
    start: datetime | None,
    generated_at: datetime,
) -> dict[str, Any]:
    """The report as plain data."""
    win = window(con, as_of, start)
    report: dict[str, Any] = {"generated_at": iso_z(generated_at)}
    if win is None:
        report.update(
            as_of=None,
            period_from=None,
            headline={},
            bottlenecks={},
            data_quality=quality(con),
            rejected_by_reason=[],
        )
        return report
    headline = records(compute(con, win))[0]
    report.update(
        as_of=iso_z(win.as_of),
        period_from=iso_z(win.start),
        headline=headline,
        bottlenecks={d: records(bottlenecks(con, win, d, top=10)) for d in REPORT_DIMENSIONS},
        data_quality=quality(con),
        rejected_by_reason=records(rejected_by_reason(con)),
    )
    return report


def _fmt(name: str, value: Any) -> str:
    if value is None:
        return "—"
    kpi = BY_NAME.get(name)
    unit = kpi.unit if kpi else None
    if unit == "share" or name in ("share_of_overrun", "breach_rate"):
        return f"{value:.1%}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _md_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "_no data_\n"
    cols = list(rows[0])
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(_fmt(c, r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _sections(rep: dict[str, Any]) -> list[tuple[int, str, list[dict[str, Any]]]]:
    """The report's tables in order, as (heading level, title, rows)."""
    headline = [
        {"kpi": BY_NAME[k].label if k in BY_NAME else k, "value": _fmt(k, v)}
        for k, v in rep["headline"].items()
    ]
    out: list[tuple[int, str, list[dict[str, Any]]]] = [(2, "Headline", headline)]
    out += [(2, f"Bottlenecks by {dim}", rows) for dim, rows in rep["bottlenecks"].items()]
    quality = [{"measure": k, "events": v} for k, v in rep["data_quality"].items()]
    out += [(2, "Data quality", quality), (3, "Rejected by reason", rep["rejected_by_reason"])]
    return out


def to_markdown(rep: dict[str, Any]) -> str:
    """Markdown rendering."""
    out = [
        "# fpi KPI report\n",
        f"Stock KPIs as of **{rep['as_of']}**; flow KPIs over "
        f"[{rep['period_from']}, {rep['as_of']}). Generated {rep['generated_at']}.\n",
    ]
    for level, title, rows in _sections(rep):
        out += [f"{'#' * level} {title}\n", _md_table(rows)]
    return "\n".join(out)


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p><em>no data</em></p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(c, r[c]))}</td>" for c in cols) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def to_html(rep: dict[str, Any]) -> str:
    """A self-contained HTML page."""
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>fpi KPI report</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
        "th{background:#f3f3f3}</style></head><body>",
        "<h1>fpi KPI report</h1>",
        f"<p>Stock KPIs as of <b>{html.escape(str(rep['as_of']))}</b>; flow KPIs over "
        f"[{html.escape(str(rep['period_from']))}, {html.escape(str(rep['as_of']))}). "
        f"Generated {html.escape(str(rep['generated_at']))}.</p>",
    ]
    for level, title, rows in _sections(rep):
        parts += [f"<h{level}>{html.escape(title)}</h{level}>", _html_table(rows)]
    parts.append("</body></html>")
    return "".join(parts)


def to_csv(rep: dict[str, Any]) -> str:
    """Long-form CSV: section, dimension, group, metric, value."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "dimension", "group", "metric", "value", "as_of", "period_from"])
    stamp = [rep["as_of"], rep["period_from"]]
    for k, v in rep["headline"].items():
        w.writerow(["headline", "", "", k, v, *stamp])
    for dim, rows in rep["bottlenecks"].items():
        for r in rows:
            for k, v in r.items():
                if k != dim:
                    w.writerow(["bottlenecks", dim, r[dim], k, v, *stamp])
    for k, v in rep["data_quality"].items():
        w.writerow(["data_quality", "", "", k, v, *stamp])
    for r in rep["rejected_by_reason"]:
        w.writerow(["rejected_by_reason", "reason", r["reason"], "events", r["events"], *stamp])
    return buf.getvalue()


def write_report(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    as_of: datetime | None,
    start: datetime | None,
    *,
    generated_at: datetime,
) -> None:
    """Write the report to ``out`` in the format of its ending."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"unknown report format {suffix or out.name!r}; use {', '.join(FORMATS)}")
    rep = build_report(con, as_of, start, generated_at)
    if suffix == ".json":
        text = json.dumps(rep, indent=2, ensure_ascii=False)
    elif suffix == ".csv":
        text = to_csv(rep)
    elif suffix == ".html":
        text = to_html(rep)
    else:
        text = to_markdown(rep)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``fpi report``."""
    p = sub.add_parser("report", help="export a KPI report (.md, .html, .json, .csv)")
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True, metavar="FILE")
    p.add_argument("--as-of", dest="as_of", metavar="T")
    p.add_argument("--from", dest="from_", metavar="T1")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """``fpi report``: write the report to ``--out`` (format from its ending)."""
    as_of, start = time_arg(args.as_of, "--as-of"), time_arg(args.from_, "--from")
    out = Path(args.out)
    with open_read(args.db) as con:
        try:
            write_report(con, out, as_of, start, generated_at=system_clock())
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    print(f"report written to {out}")
    return 0

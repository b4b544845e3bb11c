"""The report as JSON, CSV and Markdown.

* **JSON** — one object, for tools. The keys of version 1 stay: ``generated_at``,
  ``as_of``, ``period_from``, ``headline`` (KPI name -> value, as ``fpi kpis``
  prints them), ``bottlenecks`` (dimension -> ranked list), ``data_quality``,
  ``rejected_by_reason``. Added: ``summary`` (the headline sentence),
  ``currency``, ``where``, ``previous`` (its window, ``has_data`` and its KPIs,
  null without data), ``changes`` (KPI -> value − previous, shares as
  fractions; null when either is missing), ``targets`` (KPI -> goal, warning,
  direction, scope, status), ``focus``, ``trend`` and ``top_open_exceptions``.
  Times ISO 8601 UTC, absent values null (``interface.md``).
* **CSV** — long form, one number per row: ``section, dimension, group, metric,
  value, as_of, period_from``; sections ``headline``, ``previous_period`` (when
  it has data), ``bottlenecks``, ``data_quality``, ``rejected_by_reason``. Text
  from the data is neutralised for spreadsheets (``core.safe_text``).
* **Markdown** — the document's sections as tables with human labels and
  formatted values.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import polars as pl

from core.safe_text import neutralise_cell
from core.timeutil import iso_z
from metrics.bottlenecks import BOTTLENECK_DIMENSIONS, COLUMNS
from metrics.catalog import BY_NAME, CATALOG
from metrics.labels import (
    MISSING,
    NO_DATA,
    column_label,
    format_value,
    status_label,
    target_summary,
)

from ..output import records
from .cells import cell_text, duration_text, time_text
from .content import Report
from .document import BETTER, QUEUE_COLUMNS, TERMS, TITLE, UNIT_WORDS, filters_text


def report_data(rep: Report) -> dict[str, Any]:
    """The report as plain data (the JSON object; see the module docstring)."""
    win, prev = rep.window, rep.previous
    targets = {
        ln.name: {
            "goal": ln.target.goal,
            "warning": ln.target.warning,
            "direction": ln.target.direction,
            "scope": ln.target.scope,
            "status": ln.status,
        }
        for ln in rep.lines
        if ln.target is not None
    }
    focus = None
    if rep.focus is not None:
        focus = {
            "groups": [{"dimension": d, "value": v} for d, v in rep.focus.groups],
            "sla_overrun_hours": rep.focus.overrun_hours,
            "share_of_overrun": rep.focus.share,
        }
    return {
        "generated_at": iso_z(rep.generated_at),
        "as_of": iso_z(win.as_of) if win else None,
        "period_from": iso_z(win.start) if win else None,
        "summary": rep.headline,
        "currency": rep.currency,
        "where": rep.where,
        "headline": rep.kpis,
        "previous": None
        if prev is None
        else {
            "as_of": iso_z(prev.as_of),
            "period_from": iso_z(prev.start),
            "has_data": rep.previous_has_data,
            "kpis": rep.previous_kpis,
        },
        "changes": {ln.name: ln.delta for ln in rep.lines},
        "targets": targets,
        "focus": focus,
        "bottlenecks": {d: records(df) for d, df in rep.bottlenecks.items()},
        "trend": {
            "step_hours": rep.grain.total_seconds() / 3600 if rep.grain else None,
            "points": records(rep.trend),
        },
        "top_open_exceptions": records(rep.top_open),
        "open_exceptions": rep.open_count if win else None,
        "data_quality": rep.quality,
        "rejected_by_reason": records(rep.rejected),
    }


def to_json(rep: Report) -> str:
    """The JSON object, indented."""
    return json.dumps(report_data(rep), indent=2, ensure_ascii=False)


def to_csv(rep: Report) -> str:
    """Long-form CSV (see the module docstring)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["section", "dimension", "group", "metric", "value", "as_of", "period_from"])
    win, prev = rep.window, rep.previous
    stamp = [iso_z(win.as_of), iso_z(win.start)] if win else [None, None]
    for k, v in rep.kpis.items():
        w.writerow(["headline", "", "", k, v, *stamp])
    if prev is not None and rep.previous_has_data:
        for ln in rep.lines:
            w.writerow(
                [
                    "previous_period",
                    "",
                    "",
                    ln.name,
                    ln.previous,
                    iso_z(prev.as_of),
                    iso_z(prev.start),
                ]
            )
    for dim, df in rep.bottlenecks.items():
        for r in records(df):
            for k, v in r.items():
                if k != dim:
                    w.writerow(["bottlenecks", dim, neutralise_cell(str(r[dim])), k, v, *stamp])
    for k, v in rep.quality.items():
        w.writerow(["data_quality", "", "", k, v, *stamp])
    for r in records(rep.rejected):
        reason = neutralise_cell(str(r["reason"]))
        w.writerow(["rejected_by_reason", "reason", reason, "events", r["events"], *stamp])
    return buf.getvalue()


def _md(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _md_rows(head: Sequence[str], rows: Sequence[Sequence[str]], empty: str = "no data") -> str:
    if not rows:
        return f"_{empty}_\n"
    out = ["| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _md_frame(df: pl.DataFrame, columns: Sequence[str], currency: str, empty: str) -> str:
    head = [column_label(c, currency) for c in columns]
    rows = (
        [
            [cell_text(c, row[c], currency) for c in columns]
            for row in df.select(columns).iter_rows(named=True)
        ]
        if df.height
        else []
    )
    return _md_rows(head, rows, empty)


def to_markdown(rep: Report) -> str:
    """Markdown rendering (see the module docstring)."""
    cur = rep.currency
    out = [f"# {TITLE}\n"]
    win, prev = rep.window, rep.previous
    if win is not None:
        out.append(
            f"Period **{time_text(win.start)} – {time_text(win.as_of)}** "
            f"({duration_text(win.as_of - win.start)}); backlog as of its end."
        )
    if prev is not None:
        tail = "" if rep.previous_has_data else " (no data)"
        out.append(
            f"Compared with the previous period {time_text(prev.start)} – "
            f"{time_text(prev.as_of)}{tail}."
        )
    out.append(
        f"Filters: {filters_text(rep.where)}. Money in {cur}. "
        f"Generated {time_text(rep.generated_at)}.\n"
    )
    out.append(f"**{_md(rep.headline)}**\n")
    if win is not None:
        rows = []
        for ln in rep.lines:
            prev_text = (
                format_value(ln.name, ln.previous, cur) if rep.previous_has_data else NO_DATA
            )
            tgt = target_summary(ln.target, cur) if ln.target is not None else MISSING
            status = status_label(ln.status, has_target=ln.target is not None)
            rows.append(
                [
                    ln.kpi.label,
                    format_value(ln.name, ln.value, cur),
                    prev_text,
                    ln.change(cur) or MISSING,
                    tgt,
                    status,
                ]
            )
        out += [
            "## KPIs\n",
            _md_rows(["KPI", "Value", "Previous period", "Change", "Target", "Status"], rows),
        ]
        for dim in BOTTLENECK_DIMENSIONS:
            df = rep.bottlenecks.get(dim, pl.DataFrame())
            out += [
                f"## Bottlenecks by {column_label(dim).lower()}\n",
                _md_frame(df, (dim, *COLUMNS), cur, "no exception"),
            ]
        out += [
            f"## Top open exceptions by revenue at risk ({rep.top_open.height:,} of "
            f"{rep.open_count:,} open)\n",
            _md_frame(rep.top_open, QUEUE_COLUMNS, cur, "no open exception"),
        ]
    quality = [[BY_NAME[k].label, f"{v:,}"] for k, v in rep.quality.items()]
    rejected = [[str(r["reason"]), f"{r['events']:,}"] for r in rep.rejected.iter_rows(named=True)]
    out += [
        "## Data quality\n",
        _md_rows(["Measure", "Events"], quality),
        "### Rejected lines by reason\n",
        _md_rows(["Reason", "Events"], rejected, "no rejected line"),
        "## Appendix: definitions\n",
        _md_rows(
            ["KPI", "Name", "Definition", "Unit", "Better"],
            [[k.label, k.name, k.definition, UNIT_WORDS[k.unit], BETTER[k.good]] for k in CATALOG],
        ),
    ]
    out += [f"- **{t}**: {d}" for t, d in TERMS]
    return "\n".join(out) + "\n"

"""The report as one self-contained HTML document — the HTML format, and the page the
PDF is printed from (``fpi.report.pdf``), so both show the same thing.

Layout (A4 portrait when printed):

1. **Executive summary** (one page): the headline sentence
   (``fpi.report.headline``), KPI tiles (:data:`TILES`: value, change against the
   previous period, target and status), three trend charts, the top bottleneck
   by lane, site, carrier and root cause, and the top open exceptions by revenue
   at risk.
2. **Details**: every KPI with previous value, change, target and status; the
   trends; each bottleneck list with its chart; the top open exceptions; data
   quality.
3. **Appendix: definitions**, generated from the KPI catalog (label,
   definition, unit, better when) and the report's own terms.

Self-contained: inline CSS and inline SVG charts (``fpi.report.svg``); no
script, no font, image or style sheet from anywhere. Every text from the data
is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import polars as pl

from metrics.bottlenecks import BOTTLENECK_DIMENSIONS, COLUMNS
from metrics.catalog import BY_NAME, CATALOG
from metrics.labels import (
    MISSING,
    NO_DATA,
    column_label,
    dimension_label,
    format_value,
    status_label,
    target_summary,
    target_text,
    value_label,
)

from . import svg
from .cells import cell_text, duration_text, step_text, time_text
from .content import Report
from .kpi_line import KpiLine

TITLE = "Fulfillment exceptions — KPI report"
TILES: tuple[str, ...] = (
    "sla_adherence",
    "open_exceptions",
    "breached_open",
    "revenue_at_risk",
    "mttr_hours",
    "avg_manual_touches",
    "first_touch_resolution_rate",
    "otif",
)
"""The KPI tiles of the summary page, in order."""
SUMMARY_OPEN = 8
"""Open exceptions listed on the summary page."""
QUEUE_COLUMNS: tuple[str, ...] = (
    "exception_id",
    "order_id",
    "site",
    "lane",
    "carrier",
    "category",
    "severity",
    "status",
    "age_hours",
    "sla_left_hours",
    "order_value",
)
"""Columns of the open-exception tables."""
KIND_TITLES = {
    "stock": "Backlog, as of the end of the period",
    "flow": "Flow, over the period",
    "orders": "Orders, over the period",
}
UNIT_WORDS = {
    "count": "count",
    "hours": "hours",
    "share": "share (%)",
    "currency": "money",
    "touches": "touches per exception",
}
BETTER = {"up": "higher", "down": "lower", "neutral": "—"}

CSS = """
@page { size: A4; margin: 11mm 11mm 13mm 11mm;
  @bottom-left { content: "fpi KPI report"; font: 7pt sans-serif; color: #6b7280; }
  @bottom-right { content: "page " counter(page) " of " counter(pages);
                  font: 7pt sans-serif; color: #6b7280; } }
* { box-sizing: border-box; }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #111827;
  font-size: 9.5px; line-height: 1.35; margin: 0; font-variant-ligatures: none; }
@media screen { body { max-width: 1000px; margin: 24px auto; padding: 0 16px; font-size: 13px; } }
h1 { font-size: 1.9em; margin: 0 0 2px; }
h2 { font-size: 1.45em; margin: 14px 0 6px; border-bottom: 1.5px solid #111827;
  break-after: avoid; }
h3 { font-size: 1.15em; margin: 10px 0 4px; break-after: avoid; }
tr { break-inside: avoid; }
p { margin: 3px 0; }
.meta { color: #4b5563; }
.headline { font-size: 1.45em; font-weight: 700; margin: 8px 0; padding: 7px 10px;
  border-left: 5px solid #d62728; background: #fdf2f2; }
.headline.calm { border-left-color: #2ca02c; background: #f0faf0; }
.tiles { display: grid; grid-template-columns: repeat(4, 1fr); gap: 6px; margin: 6px 0; }
.tile { border: 1px solid #d1d5db; border-radius: 4px; padding: 5px 7px; break-inside: avoid; }
.tile .lab { color: #4b5563; font-size: 0.95em; }
.tile .val { font-size: 1.75em; font-weight: 700; white-space: nowrap; }
.tile .chg, .tile .tgt { font-size: 0.9em; }
.good { color: #15803d; } .bad { color: #b91c1c; } .neutral { color: #4b5563; }
.badge { display: inline-block; padding: 0 5px; border-radius: 8px; font-size: 0.85em;
  font-weight: 700; white-space: nowrap; }
.on_target { background: #dcfce7; color: #166534; }
.at_risk { background: #fef3c7; color: #92400e; }
.off_target { background: #fee2e2; color: #991b1b; }
.none { background: #f3f4f6; color: #4b5563; }
.charts { display: grid; grid-template-columns: repeat(3, 1fr); gap: 8px; margin: 6px 0; }
.charts.two { grid-template-columns: repeat(2, 1fr); }
.bottlenecks { break-before: page; }
svg.chart { width: 100%; height: auto; display: block; font-family: inherit; }
svg .ct { font-size: 11px; font-weight: 700; fill: #111827; }
svg .tk, svg .lg, svg .bl, svg .bn { font-size: 9px; fill: #374151; }
svg .tg { font-size: 9px; fill: #b91c1c; }
svg .nd { font-size: 12px; fill: #6b7280; }
table { border-collapse: collapse; width: 100%; margin: 4px 0 8px; }
th, td { border-bottom: 1px solid #e5e7eb; padding: 2px 5px; text-align: left;
  vertical-align: top; }
th { background: #f3f4f6; font-weight: 700; }
td.n, th.n { text-align: right; white-space: nowrap; }
tr.kind td { background: #f9fafb; font-weight: 700; }
section { break-inside: auto; }
.block { break-inside: avoid; }
.summary { break-after: page; }
.appendix { break-before: page; }
.note { color: #6b7280; font-size: 0.9em; }
dl.terms dt { font-weight: 700; margin-top: 4px; }
dl.terms dd { margin: 0 0 2px 12px; }
"""


def _e(text: object) -> str:
    return escape(str(text))


def _badge(line: KpiLine) -> str:
    text = status_label(line.status, has_target=line.target is not None)
    return f'<span class="badge {line.status or "none"}">{_e(text)}</span>'


def _numeric(column: str, frame: pl.DataFrame) -> bool:
    dtype = frame.schema.get(column)
    return dtype is not None and dtype.is_numeric() and dtype != pl.Boolean


def table(
    frame: pl.DataFrame,
    columns: Sequence[str],
    currency: str,
    *,
    empty: str = "no data",
) -> str:
    """An HTML table of ``columns`` of ``frame`` (labels as headers, values as people
    read them); ``empty`` when the frame has no rows."""
    if frame.height == 0:
        return f'<p class="note">{_e(empty)}</p>'
    num = {c: _numeric(c, frame) for c in columns}
    head = "".join(
        f'<th class="{"n" if num[c] else ""}">{_e(column_label(c, currency))}</th>' for c in columns
    )
    rows = []
    for row in frame.select(columns).iter_rows(named=True):
        cells = "".join(
            f'<td class="{"n" if num[c] else ""}">{_e(cell_text(c, row[c], currency))}</td>'
            for c in columns
        )
        rows.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _period(rep: Report) -> str:
    win = rep.window
    assert win is not None
    length = duration_text(win.as_of - win.start)
    parts = [
        f"Period <b>{_e(time_text(win.start))} – {_e(time_text(win.as_of))}</b> ({_e(length)});"
        " backlog as of its end.",
    ]
    prev = rep.previous
    if prev is not None:
        when = f"{time_text(prev.start)} – {time_text(prev.as_of)}"
        if not rep.previous_has_data:
            when += " (no data)"
        parts.append(f"Compared with the previous period {_e(when)}.")
    return " ".join(parts)


def filters_text(where: dict[str, list[str]]) -> str:
    """``Site = DC-ATL or DC-DAL · Carrier = REDLINE``; "none" without filters."""
    if not where:
        return "none (every exception)"
    return " · ".join(
        f"{dimension_label(d)} = {' or '.join(value_label(d, v) for v in vals)}"
        for d, vals in sorted(where.items())
    )


def _header(rep: Report) -> str:
    meta = [f"<p class='meta'>{_period(rep)}</p>"] if rep.window is not None else []
    meta.append(
        f"<p class='meta'>Filters: {_e(filters_text(rep.where))}. Money in {_e(rep.currency)}. "
        f"Generated {_e(time_text(rep.generated_at))}.</p>"
    )
    return f"<header><h1>{_e(TITLE)}</h1>{''.join(meta)}</header>"


def _tile(line: KpiLine, currency: str) -> str:
    change = line.change(currency)
    tone = line.tone(currency)
    if change is None:
        chg = '<span class="neutral">no value in this period</span>'
    elif change == NO_DATA:
        chg = f'<span class="neutral">{_e(NO_DATA)}</span> for the previous period'
    else:
        chg = f'<span class="{tone}">{_e(change)}</span> vs previous period'
    if line.target is None:
        tgt = '<span class="neutral">no target</span>'
    else:
        badge = f" {_badge(line)}" if line.status is not None else ""
        tgt = f"{_e(target_summary(line.target, currency))}{badge}"
    return (
        f'<div class="tile"><div class="lab">{_e(line.kpi.label)}</div>'
        f'<div class="val">{_e(format_value(line.name, line.value, currency))}</div>'
        f'<div class="chg">{chg}</div><div class="tgt">{tgt}</div></div>'
    )


def _col(frame: pl.DataFrame, name: str) -> list[Any]:
    return frame[name].to_list() if name in frame.columns else []


def trend_charts(rep: Report, *, detail: bool) -> list[str]:
    """The trend charts: backlog by aging, SLA adherence (with its target), revenue at
    risk; with ``detail`` also opened vs resolved and breached vs at risk."""
    t = rep.trend
    times = _col(t, "as_of")
    by = rep.by_name
    grain = rep.grain
    per = f" per {step_text(grain)}" if grain is not None else ""
    aging = [
        svg.Line(BY_NAME[n].label, _col(t, n), c)
        for n, c in zip(
            ("aging_lt_4h", "aging_4_24h", "aging_1_3d", "aging_gt_3d"),
            svg.AGING_COLORS,
            strict=True,
        )
    ]
    sla = by.get("sla_adherence")
    target = sla.target if sla is not None else None
    charts = [
        svg.time_chart(times, aging, title="Backlog by age", unit="count", stacked=True),
        svg.time_chart(
            times,
            [svg.Line("SLA adherence", _col(t, "sla_adherence"))],
            title=f"SLA adherence{per}",
            unit="share",
            y_max=1.0,
            target=None if target is None else target.goal,
            target_label="" if target is None else target_text(target),
        ),
        svg.time_chart(
            times,
            [
                svg.Line("Revenue at risk", _col(t, "revenue_at_risk"), "#ff7f0e"),
                svg.Line("Breached", _col(t, "breached_revenue_at_risk"), svg.BAD),
            ],
            title=f"Revenue at risk ({rep.currency})",
            unit="currency",
        ),
    ]
    if detail:
        charts += [
            svg.time_chart(
                times,
                [
                    svg.Line("Opened", _col(t, "opened"), "#6b7280"),
                    svg.Line("Resolved", _col(t, "resolved"), "#2ca02c"),
                ],
                title=f"Opened and resolved{per}",
                unit="count",
            ),
            svg.time_chart(
                times,
                [
                    svg.Line("Breached (open)", _col(t, "breached_open"), svg.BAD),
                    svg.Line("At risk (open)", _col(t, "at_risk_open"), "#f59e0b"),
                ],
                title="Open exceptions over or near their SLA",
                unit="count",
            ),
            svg.time_chart(
                times,
                [svg.Line("MTTR (h)", _col(t, "mttr_hours"))],
                title=f"MTTR{per}",
                unit="hours",
            ),
        ]
    return charts


def _bottleneck_summary(rep: Report) -> str:
    rows = []
    for dim in BOTTLENECK_DIMENSIONS:
        df = rep.bottlenecks.get(dim)
        if df is None or df.height == 0:
            rows.append(
                f"<tr><td>{_e(dimension_label(dim))}</td><td colspan='5' class='note'>"
                "no exception</td></tr>"
            )
            continue
        top = df.row(0, named=True)
        share = top["share_of_overrun"]
        bar = ""
        if share is not None:
            w = max(0.0, min(1.0, float(share))) * 60
            bar = (
                f'<svg width="62" height="8" viewBox="0 0 62 8" aria-hidden="true">'
                f'<rect width="60" height="8" fill="#e5e7eb"/>'
                f'<rect width="{w:.1f}" height="8" fill="{svg.BAD}"/></svg> '
            )
        cells = [
            _e(dimension_label(dim)),
            f"<b>{_e(value_label(dim, top[dim]))}</b>",
            _e(format_value("sla_overrun_hours", top["sla_overrun_hours"], rep.currency)),
            bar + _e(format_value("share_of_overrun", share, rep.currency)),
            _e(format_value("breach_rate", top["breach_rate"], rep.currency)),
            _e(format_value("revenue_at_risk", top["revenue_at_risk"], rep.currency)),
        ]
        cls = ["", "", "n", "n", "n", "n"]
        rows.append(
            "<tr>"
            + "".join(f'<td class="{c}">{v}</td>' for c, v in zip(cls, cells, strict=True))
            + "</tr>"
        )
    head = "".join(
        f'<th class="{c}">{_e(h)}</th>'
        for c, h in (
            ("", "Dimension"),
            ("", "Top group"),
            ("n", "SLA overrun"),
            ("n", "Share of overrun"),
            ("n", "Breach rate"),
            ("n", f"Revenue at risk ({rep.currency})"),
        )
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _open_title(rep: Report, shown: int) -> str:
    n = rep.open_count
    return f"Top open exceptions by revenue at risk ({min(shown, n):,} of {n:,} open)"


def _summary(rep: Report) -> str:
    calm = rep.focus is None and all(ln.status in (None, "on_target") for ln in rep.lines)
    parts = [
        f'<p class="headline{" calm" if calm else ""}" id="headline">{_e(rep.headline)}</p>',
        '<div class="tiles">',
        *(_tile(rep.by_name[n], rep.currency) for n in TILES if n in rep.by_name),
        "</div>",
        '<div class="charts">',
        *trend_charts(rep, detail=False),
        "</div>",
        "<h3>Where the SLA overrun sits: the top group of each dimension</h3>",
        _bottleneck_summary(rep),
        f"<h3>{_e(_open_title(rep, SUMMARY_OPEN))}</h3>",
        table(
            rep.top_open.head(SUMMARY_OPEN),
            QUEUE_COLUMNS,
            rep.currency,
            empty="no open exception",
        ),
    ]
    return f'<section class="summary"><h2>Executive summary</h2>{"".join(parts)}</section>'


def _kpi_table(rep: Report) -> str:
    head = "".join(
        f'<th class="{c}">{h}</th>'
        for c, h in (
            ("", "KPI"),
            ("n", "Value"),
            ("n", "Previous period"),
            ("n", "Change"),
            ("", "Target"),
            ("", "Status"),
        )
    )
    rows, kind = [], ""
    for line in rep.lines:
        if line.kpi.kind != kind:
            kind = line.kpi.kind
            rows.append(f'<tr class="kind"><td colspan="6">{_e(KIND_TITLES[kind])}</td></tr>')
        change = line.change(rep.currency)
        prev = (
            format_value(line.name, line.previous, rep.currency)
            if rep.previous_has_data
            else NO_DATA
        )
        tgt = target_summary(line.target, rep.currency) if line.target is not None else MISSING
        status = _badge(line) if line.target is not None else ""
        rows.append(
            f"<tr><td>{_e(line.kpi.label)}</td>"
            f'<td class="n">{_e(format_value(line.name, line.value, rep.currency))}</td>'
            f'<td class="n">{_e(prev)}</td>'
            f'<td class="n {line.tone(rep.currency)}">{_e(change or MISSING)}</td>'
            f"<td>{_e(tgt)}</td><td>{status}</td></tr>"
        )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _bottleneck_detail(rep: Report) -> str:
    parts = []
    for dim in BOTTLENECK_DIMENSIONS:
        df = rep.bottlenecks.get(dim, pl.DataFrame())
        labels = [value_label(dim, v) for v in _col(df, dim)]
        notes = [format_value("share_of_overrun", s) for s in _col(df, "share_of_overrun")]
        chart = svg.bar_chart(
            labels,
            _col(df, "sla_overrun_hours"),
            notes,
            title=f"By {dimension_label(dim).lower()}: SLA overrun (h) and share of it",
            unit="hours",
            width=720,
            label_width=150,
        )
        parts.append(
            f'<div class="block">{chart}'
            f"{table(df, (dim, *COLUMNS), rep.currency, empty='no exception')}</div>"
        )
    return "".join(parts)


def _quality(rep: Report) -> str:
    q = pl.DataFrame(
        {
            "measure": [BY_NAME[k].label for k in rep.quality],
            "events": list(rep.quality.values()),
        },
        schema={"measure": pl.String, "events": pl.Int64},
    )
    return (
        "<h2>Data quality</h2><p class='note'>Integration failures, kept apart from "
        "operational exceptions; for the whole database (filters do not apply).</p>"
        f"{table(q, ('measure', 'events'), rep.currency)}"
        "<h3>Rejected lines by reason</h3>"
        f"{table(rep.rejected, ('reason', 'events'), rep.currency, empty='no rejected line')}"
    )


TERMS: tuple[tuple[str, str], ...] = (
    (
        "Period and as of",
        "Flow KPIs count what happened in [from, to); backlog (stock) KPIs are as of "
        "the end of the period, counting only events that occurred by then. The end "
        "defaults to the data clock (the latest event time), the start to 7 days before.",
    ),
    (
        "Previous period",
        "The period of equal length just before, evaluated as of its end (the start of "
        "this period). Changes compare with it; it has no data when no exception matching "
        "the filters existed by its end, and then every change reads “no data”.",
    ),
    (
        "Change",
        "Value minus the previous period's value, in the KPI's unit; shares in "
        "percentage points (pp). Green when it goes the better way, red when not, "
        "grey for no change, no data, or a KPI with no better direction.",
    ),
    (
        "Target and status",
        "From the settings ([targets]). On target: at or better than the goal; at risk: "
        "between the goal and the warning; off target: worse than the warning (or than "
        "the goal when there is no warning). A site's or customer tier's own target "
        "applies when the report is filtered to exactly one.",
    ),
    (
        "Headline",
        "The first of SLA adherence, OTIF, MTTR, breached, revenue at risk, first-touch "
        "resolution, manual touches and open exceptions that is off target (else at risk, "
        "else SLA adherence), with its gap to target; and the group of lane, site, carrier "
        "or root cause that carries the largest share of the SLA overrun — a carrier on a "
        "lane when that pair holds at least 80 % of it.",
    ),
    (
        "Bottleneck list",
        "Groups of one dimension ranked by SLA overrun hours. Share of overrun: of the "
        "total over every exception matching the filters. Exceptions: those the overrun "
        "is summed over (resolved in the period, or open at its end). Breach rate: the "
        "share of those whose SLA clock ran past the target.",
    ),
    (
        "Open exceptions",
        "Open or paused at the end of the period, largest order value first. Age: time "
        "since opened. SLA left: target minus the SLA clock (negative: overdue by that "
        "much; the clock counts open time only, in working hours where a site has a "
        "calendar). Order value: what the exception puts at risk, in the reporting "
        "currency.",
    ),
)
"""The report's own terms, defined in the appendix."""


def _appendix() -> str:
    head = "<tr><th>KPI</th><th>Name</th><th>Definition</th><th>Unit</th><th>Better when</th></tr>"
    rows = "".join(
        f"<tr><td>{_e(k.label)}</td><td><code>{_e(k.name)}</code></td>"
        f"<td>{_e(k.definition)}</td><td>{_e(UNIT_WORDS[k.unit])}</td>"
        f"<td>{_e(BETTER[k.good])}</td></tr>"
        for k in CATALOG
    )
    terms = "".join(f"<dt>{_e(t)}</dt><dd>{_e(d)}</dd>" for t, d in TERMS)
    return (
        '<section class="appendix"><h2>Appendix: definitions</h2>'
        f"<h3>KPIs</h3><table><thead>{head}</thead><tbody>{rows}</tbody></table>"
        f'<h3>Terms of this report</h3><dl class="terms">{terms}</dl></section>'
    )


def _details(rep: Report) -> str:
    grain = step_text(rep.grain) if rep.grain is not None else MISSING
    parts = [
        "<section><h2>KPIs in detail</h2>",
        _kpi_table(rep),
        f'<div class="block"><h2>Trends</h2><p class="note">One point per {_e(grain)}: '
        "backlog as of that time, flow KPIs over the step before it.</p>",
        '<div class="charts two">',
        *trend_charts(rep, detail=True),
        "</div></div>",
        '<div class="bottlenecks"><h2>Bottlenecks</h2>',
        '<p class="note">Groups ranked by SLA overrun hours (top 10 of each dimension).</p>',
        _bottleneck_detail(rep),
        "</div>",
        f"<h2>{_e(_open_title(rep, rep.top_open.height))}</h2>",
        table(rep.top_open, QUEUE_COLUMNS, rep.currency, empty="no open exception"),
        _quality(rep),
        "</section>",
    ]
    return "".join(parts)


def html_document(rep: Report) -> str:
    """The whole report as one HTML page (see the module docstring)."""
    if rep.window is None:
        body = f'<p class="headline" id="headline">{_e(rep.headline)}</p>{_quality(rep)}'
    else:
        body = _summary(rep) + _details(rep)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(TITLE)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body>{_header(rep)}{body}{_appendix()}</body></html>"
    )

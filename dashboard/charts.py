"""Plotly figures for the dashboard: pure functions of metric-layer frames.

No Streamlit and no database here: each function takes the polars frame the
metric layer returned and gives back a ``plotly.graph_objects.Figure``, so the
same figure can be tested, benchmarked or exported on its own. Labels come
from :mod:`metrics.labels` (the KPI catalog, the dimension registry, derived
labels of root causes and other snake_case values), the same the reports use.
Values from the data (group names, actors, details) are passed through
:func:`dashboard.text.plot_text`, so Plotly shows them as text and never as
HTML (``<a href>``, ``<br>``); a title built from data must be escaped by the
caller.

A category axis of groups keeps the raw values as its categories (a click hands
back the value the filters use) and shows their labels as tick text
(``missed_pickup`` is drawn as "Missed pickup"); hovers show the labels too.

Reference lines are labelled: a KPI with a target (``metrics.targets``) draws a
dashed line "Target 90 %"; SLA adherence by group marks the overall adherence
("Overall 87.5 %"); the Pareto marks 80 % of the total.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import polars as pl

from dashboard.text import plot_text, plot_texts
from metrics import labels
from metrics.catalog import BY_NAME
from metrics.targets import Status, Target

AGING = ("aging_lt_4h", "aging_4_24h", "aging_1_3d", "aging_gt_3d")
AGING_COLORS = ("#9ecae1", "#4292c6", "#f16913", "#a50f15")
STATUS_COLORS = {
    "open": "#d62728",
    "paused": "#ff9f1c",
    "resolved": "#2ca02c",
    "cancelled": "#7f7f7f",
}
EVENT_SYMBOLS = {
    "opened": "star",
    "assigned": "square",
    "touched": "circle",
    "escalated": "triangle-up",
    "paused": "line-ns",
    "resumed": "line-ns",
    "resolved": "diamond",
    "reopened": "x",
    "cancelled": "x-thin",
}
ACCENT = "#1f77b4"
BOTTLENECK_HEIGHT = 380
BAD = "#d62728"
TARGET_COLOR = "#2a9d3f"
REFERENCE_COLOR = "#555"
STATUS_BAR_COLORS: dict[str, str] = {
    "on_target": "#2ca02c",
    "at_risk": "#ff9f1c",
    "off_target": BAD,
}
"""Bar colours of groups by target status (no status: :data:`ACCENT`)."""


def label(name: str) -> str:
    """Display label of a KPI, a dimension or a column (``metrics.labels.column_label``)."""
    return labels.column_label(name)


def group_labels(dim: str, values: Sequence[Any]) -> list[str]:
    """Escaped display labels of the groups ``values`` of ``dim`` (root causes and
    other snake_case values humanised, names as they are)."""
    return plot_texts(labels.value_label(dim, v) for v in values)


def _label_axis(fig: go.Figure, axis: str, dim: str, values: Sequence[Any]) -> None:
    """Show the labels of a category axis whose categories are the raw ``values``."""
    if dim.removesuffix("_2") not in labels.HUMANIZED_DIMENSIONS:
        return
    update = fig.update_yaxes if axis == "y" else fig.update_xaxes
    update(
        tickmode="array",
        tickvals=plot_texts(values),
        ticktext=group_labels(dim.removesuffix("_2"), values),
    )


def target_line(
    fig: go.Figure, target: Target | None, currency: str = "", *, axis: str = "y", ref: str = "y"
) -> None:
    """A dashed line at the target's goal labelled ``Target 90 %`` (nothing without a
    target). ``axis`` "y": horizontal on the axis ``ref`` (``"y"``, ``"y2"``); "x":
    vertical."""
    if target is None:
        return
    text = labels.target_text(target, currency)
    line = {"dash": "dash", "color": TARGET_COLOR, "width": 2}
    if axis == "y":
        fig.add_hline(
            y=target.goal,
            yref=ref,
            line=line,
            annotation_text=text,
            annotation_position="top left",
            annotation_font_color=TARGET_COLOR,
        )
    else:
        fig.add_vline(
            x=target.goal,
            line=line,
            annotation_text=text,
            annotation_position="top",
            annotation_font_color=TARGET_COLOR,
        )


def _layout(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    fig.update_layout(
        title={"text": title, "x": 0, "xanchor": "left"},
        height=height,
        margin={"l": 10, "r": 10, "t": 48, "b": 10},
        legend={
            "orientation": "h",
            "yref": "container",
            "y": 0,
            "yanchor": "bottom",
            "x": 0,
            "xanchor": "left",
        },
        hovermode="closest",
    )
    return fig


# --- overview trends ------------------------------------------------------------------


def backlog_by_aging(
    trend: pl.DataFrame, target: Target | None = None, *, height: int = 360
) -> go.Figure:
    """Stacked areas: open exceptions per aging bucket at each as-of time (the stack
    is the backlog); with a target of ``open_exceptions``, its line."""
    fig = go.Figure()
    for name, color in zip(AGING, AGING_COLORS, strict=True):
        fig.add_trace(
            go.Scatter(
                x=trend["as_of"].to_list(),
                y=trend[name].to_list(),
                name=label(name),
                mode="lines",
                stackgroup="aging",
                line={"width": 0.5, "color": color},
                hovertemplate="%{x|%Y-%m-%d %H:%M}Z<br>" + label(name) + ": %{y:,}<extra></extra>",
            )
        )
    fig.update_yaxes(title_text="Open exceptions", rangemode="tozero")
    target_line(fig, target)
    return _layout(fig, "Backlog by aging bucket", height)


def sla_adherence_trend(
    trend: pl.DataFrame, grain_label: str, target: Target | None = None, *, height: int = 360
) -> go.Figure:
    """SLA adherence of the exceptions resolved in each bucket (line, left axis) over
    the number resolved (bars, right axis); with a target, its labelled line."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=trend["as_of"].to_list(),
            y=trend["resolved"].to_list(),
            name=f"Resolved per {grain_label}",
            marker_color="#c6dbef",
            hovertemplate="%{x|%Y-%m-%d %H:%M}Z<br>Resolved: %{y:,}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=trend["as_of"].to_list(),
            y=trend["sla_adherence"].to_list(),
            name="SLA adherence",
            mode="lines+markers",
            line={"color": ACCENT, "width": 3},
            yaxis="y2",
            connectgaps=False,
            hovertemplate="%{x|%Y-%m-%d %H:%M}Z<br>SLA adherence: %{y:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        yaxis={"title": "Resolved", "side": "right", "showgrid": False, "rangemode": "tozero"},
        yaxis2={
            "title": "SLA adherence",
            "overlaying": "y",
            "side": "left",
            "tickformat": ".0%",
            "range": [0, 1.05],
            "tickmode": "auto",
        },
    )
    target_line(fig, target, ref="y2")
    return _layout(fig, f"SLA adherence per {grain_label}", height)


def revenue_trend(trend: pl.DataFrame, currency: str, target: Target | None = None) -> go.Figure:
    """Revenue at risk and breached revenue at risk at each as-of time; with a target
    of ``revenue_at_risk``, its line."""
    fig = go.Figure()
    for name, color, fill in (
        ("revenue_at_risk", "#ff7f0e", "tozeroy"),
        ("breached_revenue_at_risk", BAD, "tozeroy"),
    ):
        fig.add_trace(
            go.Scatter(
                x=trend["as_of"].to_list(),
                y=trend[name].to_list(),
                name=label(name),
                mode="lines",
                fill=fill,
                line={"color": color},
                hovertemplate="%{x|%Y-%m-%d %H:%M}Z<br>" + currency + " %{y:,.0f}<extra></extra>",
            )
        )
    fig.update_yaxes(title_text=currency, rangemode="tozero", tickformat=",.0f")
    target_line(fig, target, currency)
    return _layout(fig, f"Revenue at risk ({currency})")


# --- bottlenecks ----------------------------------------------------------------------


def bottleneck_bars(ranked: pl.DataFrame, dim: str, top: int = 10, currency: str = "") -> go.Figure:
    """Horizontal bars of SLA overrun hours for the ``top`` ranked groups, largest on top.

    Bar text: share of the total overrun. The first row of ``ranked`` is the
    top bar (the y axis is reversed). The categories are the raw group values
    (a click filters on them), the ticks show their labels.
    """
    df = ranked.head(top)
    share = [f"{s:.0%}" if s is not None else "" for s in df["share_of_overrun"].to_list()]
    custom = [
        [
            labels.format_count(n),
            labels.format_share(b),
            labels.format_hours(m),
            labels.format_value("avg_manual_touches", t),
            labels.format_money(r, currency),
        ]
        for n, b, m, t, r in df.select(
            "exceptions", "breach_rate", "mttr_hours", "avg_manual_touches", "revenue_at_risk"
        ).iter_rows()
    ]
    values = df[dim].to_list()
    fig = go.Figure(
        go.Bar(
            x=df["sla_overrun_hours"].to_list(),
            y=plot_texts(values),
            orientation="h",
            text=share,
            textposition="auto",
            marker_color=[BAD if i == 0 else ACCENT for i in range(df.height)],
            customdata=custom,
            hovertext=group_labels(dim, values),
            hovertemplate=(
                "<b>%{hovertext}</b><br>SLA overrun: %{x:,.1f} h (%{text} of total)"
                "<br>Exceptions: %{customdata[0]}<br>Breach rate: %{customdata[1]}"
                "<br>MTTR: %{customdata[2]}<br>Manual touches: %{customdata[3]}"
                "<br>Revenue at risk: %{customdata[4]}<extra></extra>"
            ),
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    _label_axis(fig, "y", dim, values)
    fig.update_xaxes(title_text="SLA overrun (h)", rangemode="tozero")
    return _layout(fig, f"By {label(dim).lower()}", height=BOTTLENECK_HEIGHT)


def heatmap(df: pl.DataFrame, rows: str, cols: str, metric: str) -> go.Figure:
    """A heatmap of ``metric`` for each (``rows``, ``cols``) pair; empty cells are blank.

    ``cols`` may be ``<dimension>_2`` (the same dimension twice); ticks and hovers
    show the groups' labels.
    """
    r_vals = sorted({str(v) for v in df[rows].to_list()})
    c_vals = sorted({str(v) for v in df[cols].to_list()})
    cell = {(str(a), str(b)): v for a, b, v in df.select(rows, cols, metric).iter_rows()}
    z = [[cell.get((r, c)) for c in c_vals] for r in r_vals]
    share = BY_NAME[metric].unit == "share" if metric in BY_NAME else False
    fmt = ".0%" if share else ",.1f" if df.schema[metric] == pl.Float64 else ","
    text = [[_cell_text(v, share) for v in row] for row in z]
    r_labels = group_labels(rows, r_vals)
    c_labels = group_labels(cols.removesuffix("_2"), c_vals)
    hover = [[f"{rl} × {cl}" for cl in c_labels] for rl in r_labels]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=plot_texts(c_vals),
            y=plot_texts(r_vals),
            colorscale="Reds" if not share else "RdYlGn",
            hoverongaps=False,
            text=text,
            texttemplate="%{text}",
            hovertext=hover,
            hovertemplate="%{hovertext}<br>" + label(metric) + ": %{z:" + fmt + "}<extra></extra>",
            colorbar={"title": {"text": label(metric)}},
        )
    )
    fig.update_xaxes(title_text=label(cols.removesuffix("_2")), type="category", tickangle=-30)
    fig.update_yaxes(title_text=label(rows), type="category", autorange="reversed")
    _label_axis(fig, "y", rows, r_vals)
    _label_axis(fig, "x", cols, c_vals)
    title = f"{label(metric)}: {label(rows)} × {label(cols.removesuffix('_2'))}"
    return _layout(fig, title, height=max(320, 120 + 26 * len(r_vals)))


def _cell_text(v: float | int | None, share: bool) -> str:
    if v is None or (not share and v == 0):
        return ""
    if share:
        return f"{v:.0%}"
    return f"{v:,.1f}" if isinstance(v, float) else f"{v:,}"


def pareto(df: pl.DataFrame, by: str, metric: str) -> go.Figure:
    """Pareto chart: bars of ``metric`` per group (largest first) and the cumulative
    share, with a labelled line at 80 % of the total."""
    fig = go.Figure()
    values = df[by].to_list()
    x = plot_texts(values)
    names = group_labels(by, values)
    fig.add_trace(
        go.Bar(
            x=x,
            y=df[metric].to_list(),
            name=label(metric),
            marker_color=ACCENT,
            hovertext=names,
            hovertemplate="%{hovertext}<br>" + label(metric) + ": %{y:,.1f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=df["cumulative_share"].to_list(),
            name="Cumulative share",
            mode="lines+markers",
            yaxis="y2",
            line={"color": BAD},
            hovertext=names,
            hovertemplate="%{hovertext}<br>Cumulative: %{y:.0%}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"type": "category", "tickangle": -30},
        yaxis={"title": label(metric), "rangemode": "tozero"},
        yaxis2={
            "title": "Cumulative share",
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "range": [0, 1.05],
            "showgrid": False,
            "tickmode": "array",
            "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1.0],
        },
    )
    _label_axis(fig, "x", by, values)
    fig.add_hline(
        y=0.8,
        yref="y2",
        line={"dash": "dot", "color": "#999"},
        annotation_text="80 % of the total",
        annotation_position="bottom right",
        annotation_font_color=REFERENCE_COLOR,
    )
    return _layout(fig, f"Pareto of {label(by).lower()}s by {label(metric)}")


# --- aging & SLA ----------------------------------------------------------------------


def _hbars(
    df: pl.DataFrame, dim: str, series: Sequence[tuple[str, str]], barmode: str, title: str
) -> go.Figure:
    """Horizontal bars of the count columns ``series`` ((column, color)) per group of ``dim``."""
    fig = go.Figure()
    values = df[dim].to_list()
    y = plot_texts(values)
    names = group_labels(dim, values)
    for name, color in series:
        fig.add_trace(
            go.Bar(
                x=df[name].to_list(),
                y=y,
                name=label(name),
                orientation="h",
                marker_color=color,
                hovertext=names,
                hovertemplate="%{hovertext}<br>" + label(name) + ": %{x:,}<extra></extra>",
            )
        )
    fig.update_layout(barmode=barmode)
    fig.update_yaxes(autorange="reversed", type="category")
    _label_axis(fig, "y", dim, values)
    fig.update_xaxes(title_text="Open exceptions")
    return _layout(fig, title, _bar_height(len(y)))


def aging_by_group(df: pl.DataFrame, dim: str) -> go.Figure:
    """Stacked bars of open exceptions per aging bucket for each group of ``dim``."""
    series = list(zip(AGING, AGING_COLORS, strict=True))
    return _hbars(df, dim, series, "stack", f"Aging of open exceptions by {label(dim).lower()}")


def risk_by_group(df: pl.DataFrame, dim: str) -> go.Figure:
    """Grouped bars: at-risk and breached open exceptions for each group of ``dim``."""
    series = [("at_risk_open", "#ff9f1c"), ("breached_open", BAD)]
    return _hbars(df, dim, series, "group", f"At risk and breached by {label(dim).lower()}")


def sla_by_group(
    df: pl.DataFrame,
    dim: str,
    overall: float | None,
    target: Target | None = None,
    statuses: Sequence[Status | None] | None = None,
) -> go.Figure:
    """Bars of SLA adherence per group (in frame order, first on top), a dotted line
    at the overall adherence labelled "Overall 87.5 %" and, with a target, its
    dashed line "Target 90 %". With ``statuses`` (one per row: each group against
    its own target, e.g. a site's override) the bars are coloured by status."""
    values = df[dim].to_list()
    colors: Any = ACCENT
    if statuses is not None:
        colors = [STATUS_BAR_COLORS.get(s or "", ACCENT) for s in statuses]
    shown = [labels.status_label(s) if s else "no target" for s in (statuses or [])]
    fig = go.Figure(
        go.Bar(
            x=df["sla_adherence"].to_list(),
            y=plot_texts(values),
            orientation="h",
            marker_color=colors,
            customdata=[
                [labels.format_count(n), shown[i] if shown else ""]
                for i, n in enumerate(df["resolved"].to_list())
            ],
            hovertext=group_labels(dim, values),
            text=[f"{v:.0%}" if v is not None else "" for v in df["sla_adherence"].to_list()],
            textposition="auto",
            hovertemplate="%{hovertext}<br>SLA adherence: %{x:.1%}<br>Resolved: %{customdata[0]}"
            + ("<br>%{customdata[1]}" if statuses is not None else "")
            + "<extra></extra>",
        )
    )
    if overall is not None:
        fig.add_vline(
            x=overall,
            line={"dash": "dot", "color": REFERENCE_COLOR},
            annotation_text=f"Overall {labels.format_share(overall)}",
            annotation_position="bottom",
            annotation_font_color=REFERENCE_COLOR,
        )
    target_line(fig, target, axis="x")
    fig.update_xaxes(title_text="SLA adherence", tickformat=".0%", range=[0, 1.05])
    fig.update_yaxes(autorange="reversed", type="category")
    _label_axis(fig, "y", dim, values)
    return _layout(fig, f"SLA adherence by {label(dim).lower()}", _bar_height(df.height))


def _bar_height(n: int) -> int:
    return max(280, 80 + 26 * n)


# --- one exception --------------------------------------------------------------------


def exception_timeline(intervals: pl.DataFrame, events: pl.DataFrame, title: str) -> go.Figure:
    """One exception over time.

    Row "status": one bar per state interval coloured by status (open, paused,
    resolved …); row "owner team": the owning team per interval; one row per
    kind of event below with a marker per event (hover: who, human or system,
    detail). Escalations are marked with their level.
    """
    fig = go.Figure()
    rows: list[str] = []
    if intervals.height:
        rows += ["status", "owner team"]
        for row, column, colors in (
            ("status", "status", STATUS_COLORS),
            ("owner team", "owner_team", {}),
        ):
            for start, end, value in _runs(intervals, column):
                dur_ms = (end - start).total_seconds() * 1000.0
                fig.add_trace(
                    go.Bar(
                        base=[start],
                        x=[max(dur_ms, 1.0)],
                        y=[row],
                        orientation="h",
                        marker={
                            "color": colors.get(value, "#9467bd"),
                            "line": {"width": 1, "color": "white"},
                        },
                        text=[plot_text(value)],
                        textposition="inside",
                        insidetextanchor="middle",
                        showlegend=False,
                        hovertemplate=(
                            f"{row}: %{{text}}<br>"
                            f"{start:%Y-%m-%d %H:%M}Z → {end:%Y-%m-%d %H:%M}Z<extra></extra>"
                        ),
                    )
                )
    if events.height:
        for kind in events["kind"].unique(maintain_order=True).to_list():
            sub = events.filter(pl.col("kind") == kind)
            row = plot_text(kind)
            rows.append(row)
            hover = [
                f"{plot_text(k)} by {plot_text(a)} ({plot_text(ak)})"
                + (f"<br>{plot_text(d)}" if d else "")
                + (f"<br>level {lv}" if lv else "")
                for k, a, ak, d, lv in sub.select(
                    "kind", "actor_id", "actor_kind", "detail", "escalation_level"
                ).iter_rows()
            ]
            fig.add_trace(
                go.Scatter(
                    x=sub["applied_at"].to_list(),
                    y=[row] * sub.height,
                    mode="markers",
                    name=row,
                    marker={
                        "size": 13,
                        "symbol": EVENT_SYMBOLS.get(kind, "circle"),
                        "color": [
                            BAD if ak == "human" else "#555" for ak in sub["actor_kind"].to_list()
                        ],
                        "line": {"width": 1, "color": "#333"},
                    },
                    text=hover,
                    hovertemplate="%{x|%Y-%m-%d %H:%M:%S}Z<br>%{text}<extra></extra>",
                    showlegend=False,
                )
            )
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(type="date", title_text="time (UTC)")
    fig.update_yaxes(
        type="category", categoryorder="array", categoryarray=rows, autorange="reversed"
    )
    return _layout(fig, title, height=max(260, 90 + 40 * len(rows)))


def _runs(intervals: pl.DataFrame, column: str) -> list[tuple[Any, Any, str]]:
    """Consecutive intervals with the same ``column`` value merged: (start, end, value)."""
    runs: list[tuple[Any, Any, str]] = []
    for start, end, value in intervals.select("start", "end", column).iter_rows():
        if runs and runs[-1][2] == value and runs[-1][1] == start:
            runs[-1] = (runs[-1][0], end, value)
        else:
            runs.append((start, end, str(value)))
    return runs


# --- data quality ---------------------------------------------------------------------


def count_bars(df: pl.DataFrame, by: str, value: str, title: str, color: str = ACCENT) -> go.Figure:
    """Horizontal bars of ``value`` per ``by`` (in frame order, first on top)."""
    fig = go.Figure(
        go.Bar(
            x=df[value].to_list(),
            y=plot_texts(df[by].to_list()),
            orientation="h",
            marker_color=color,
            text=[f"{v:,}" for v in df[value].to_list()],
            textposition="auto",
            hovertemplate="%{y}: %{x:,}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text=label(value))
    return _layout(fig, title, _bar_height(df.height))


def quality_funnel(totals: dict[str, int]) -> go.Figure:
    """Bars of every line read by outcome: accepted, duplicate, rejected, pending."""
    names: Sequence[str] = (
        "accepted_events",
        "duplicate_events",
        "rejected_events",
        "pending_events",
    )
    colors = ("#2ca02c", "#7f7f7f", BAD, "#ff9f1c")
    fig = go.Figure(
        go.Bar(
            x=[label(n) for n in names],
            y=[totals.get(n, 0) for n in names],
            marker_color=list(colors),
            text=[f"{totals.get(n, 0):,}" for n in names],
            textposition="auto",
            hovertemplate="%{x}: %{y:,}<extra></extra>",
        )
    )
    fig.update_yaxes(title_text="Lines")
    return _layout(fig, "Lines read, by outcome", height=300)


def sla_clock(points: pl.DataFrame, target_hours: float, title: str) -> go.Figure:
    """An exception's SLA clock over time: working hours counted (flat outside
    working time and while not open), with its labelled target line."""
    fig = go.Figure(
        go.Scatter(
            x=points["at"].to_list(),
            y=points["active_hours"].to_list(),
            mode="lines",
            name="SLA clock",
            line={"color": "#1f77b4"},
            hovertemplate="%{x|%Y-%m-%d %H:%M}Z: %{y:.2f} h<extra></extra>",
        )
    )
    fig.add_hline(
        y=target_hours,
        line={"color": "#d62728", "dash": "dash"},
        annotation_text=f"Target {labels.format_hours(target_hours)}",
        annotation_position="top left",
    )
    fig.update_layout(
        title=title,
        height=260,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        yaxis_title="working hours",
        showlegend=False,
    )
    return fig

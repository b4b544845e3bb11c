"""Plotly figures for the dashboard: pure functions of metric-layer frames.

No Streamlit and no database here: each function takes the polars frame the
metric layer returned and gives back a ``plotly.graph_objects.Figure``, so the
same figure can be tested, benchmarked or exported on its own. Labels come
from the KPI catalog and the dimension registry. Values from the data (group
names, actors, details) are passed through :func:`dashboard.text.plot_text`,
so Plotly shows them as text and never as HTML (``<a href>``, ``<br>``);
a title built from data must be escaped by the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import polars as pl

from dashboard.text import plot_text, plot_texts
from metrics.catalog import BY_NAME
from metrics.dimensions import DIMENSIONS

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


def label(name: str) -> str:
    """Display label of a KPI (catalog) or a dimension (registry); the name otherwise."""
    if name in BY_NAME:
        return BY_NAME[name].label
    if name in DIMENSIONS:
        return DIMENSIONS[name].label
    return name.replace("_", " ")


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


def backlog_by_aging(trend: pl.DataFrame) -> go.Figure:
    """Stacked areas: open exceptions per aging bucket at each as-of time."""
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
    fig.update_yaxes(title_text="open exceptions", rangemode="tozero")
    return _layout(fig, "Backlog by aging bucket")


def sla_adherence_trend(trend: pl.DataFrame, grain_label: str) -> go.Figure:
    """SLA adherence of the exceptions resolved in each bucket (line, left axis) over
    the number resolved (bars, right axis)."""
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=trend["as_of"].to_list(),
            y=trend["resolved"].to_list(),
            name=f"Resolved per {grain_label}",
            marker_color="#c6dbef",
            hovertemplate="%{x|%Y-%m-%d %H:%M}Z<br>resolved: %{y:,}<extra></extra>",
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
        yaxis={"title": "resolved", "side": "right", "showgrid": False, "rangemode": "tozero"},
        yaxis2={
            "title": "SLA adherence",
            "overlaying": "y",
            "side": "left",
            "tickformat": ".0%",
            "range": [0, 1.05],
            "tickmode": "auto",
        },
    )
    return _layout(fig, f"SLA adherence per {grain_label}")


def revenue_trend(trend: pl.DataFrame, currency: str) -> go.Figure:
    """Revenue at risk and breached revenue at risk at each as-of time."""
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
                hovertemplate="%{x|%Y-%m-%d %H:%M}Z<br>%{y:,.0f} " + currency + "<extra></extra>",
            )
        )
    fig.update_yaxes(title_text=currency, rangemode="tozero")
    return _layout(fig, f"Revenue at risk ({currency})")


# --- bottlenecks ----------------------------------------------------------------------


def bottleneck_bars(ranked: pl.DataFrame, dim: str, top: int = 10) -> go.Figure:
    """Horizontal bars of SLA overrun hours for the ``top`` ranked groups, largest on top.

    Bar text: share of the total overrun. The first row of ``ranked`` is the
    top bar (the y axis is reversed).
    """
    df = ranked.head(top)
    share = [f"{s:.0%}" if s is not None else "" for s in df["share_of_overrun"].to_list()]
    custom = df.select(
        "exceptions", "breach_rate", "mttr_hours", "avg_manual_touches", "revenue_at_risk"
    ).rows()
    fig = go.Figure(
        go.Bar(
            x=df["sla_overrun_hours"].to_list(),
            y=plot_texts(df[dim].to_list()),
            orientation="h",
            text=share,
            textposition="auto",
            marker_color=[BAD if i == 0 else ACCENT for i in range(df.height)],
            customdata=custom,
            hovertemplate=(
                "<b>%{y}</b><br>SLA overrun: %{x:,.1f} h (%{text} of total)"
                "<br>exceptions: %{customdata[0]:,}<br>breach rate: %{customdata[1]:.1%}"
                "<br>MTTR: %{customdata[2]:.1f} h<br>manual touches: %{customdata[3]:.2f}"
                "<br>revenue at risk: %{customdata[4]:,.0f}<extra></extra>"
            ),
        )
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text="SLA overrun (h)", rangemode="tozero")
    return _layout(fig, f"By {label(dim).lower()}", height=BOTTLENECK_HEIGHT)


def heatmap(df: pl.DataFrame, rows: str, cols: str, metric: str) -> go.Figure:
    """A heatmap of ``metric`` for each (``rows``, ``cols``) pair; empty cells are blank."""
    r_vals = sorted({str(v) for v in df[rows].to_list()})
    c_vals = sorted({str(v) for v in df[cols].to_list()})
    cell = {(str(a), str(b)): v for a, b, v in df.select(rows, cols, metric).iter_rows()}
    z = [[cell.get((r, c)) for c in c_vals] for r in r_vals]
    share = BY_NAME[metric].unit == "share" if metric in BY_NAME else False
    fmt = ".0%" if share else ",.1f" if df.schema[metric] == pl.Float64 else ","
    text = [[_cell_text(v, share) for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=plot_texts(c_vals),
            y=plot_texts(r_vals),
            colorscale="Reds" if not share else "RdYlGn",
            hoverongaps=False,
            text=text,
            texttemplate="%{text}",
            hovertemplate="%{y} × %{x}<br>" + label(metric) + ": %{z:" + fmt + "}<extra></extra>",
            colorbar={"title": {"text": label(metric)}},
        )
    )
    fig.update_xaxes(title_text=label(cols.removesuffix("_2")), type="category", tickangle=-30)
    fig.update_yaxes(title_text=label(rows), type="category", autorange="reversed")
    title = f"{label(metric)}: {label(rows)} × {label(cols.removesuffix('_2'))}"
    return _layout(fig, title, height=max(320, 120 + 26 * len(r_vals)))


def _cell_text(v: float | int | None, share: bool) -> str:
    if v is None or (not share and v == 0):
        return ""
    if share:
        return f"{v:.0%}"
    return f"{v:,.1f}" if isinstance(v, float) else f"{v:,}"


def pareto(df: pl.DataFrame, by: str, metric: str) -> go.Figure:
    """Pareto chart: bars of ``metric`` per group (largest first) and the cumulative share."""
    fig = go.Figure()
    x = plot_texts(df[by].to_list())
    fig.add_trace(
        go.Bar(
            x=x,
            y=df[metric].to_list(),
            name=label(metric),
            marker_color=ACCENT,
            hovertemplate="%{x}<br>" + label(metric) + ": %{y:,.1f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=df["cumulative_share"].to_list(),
            name="cumulative share",
            mode="lines+markers",
            yaxis="y2",
            line={"color": BAD},
            hovertemplate="%{x}<br>cumulative: %{y:.0%}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis={"type": "category", "tickangle": -30},
        yaxis={"title": label(metric), "rangemode": "tozero"},
        yaxis2={
            "title": "cumulative share",
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "range": [0, 1.05],
            "showgrid": False,
            "tickmode": "array",
            "tickvals": [0, 0.2, 0.4, 0.6, 0.8, 1.0],
        },
    )
    fig.add_hline(y=0.8, yref="y2", line={"dash": "dot", "color": "#999"})
    return _layout(fig, f"Pareto of {label(by).lower()}s by {label(metric)}")


# --- aging & SLA ----------------------------------------------------------------------


def _hbars(
    df: pl.DataFrame, dim: str, series: Sequence[tuple[str, str]], barmode: str, title: str
) -> go.Figure:
    """Horizontal bars of the count columns ``series`` ((column, color)) per group of ``dim``."""
    fig = go.Figure()
    y = plot_texts(df[dim].to_list())
    for name, color in series:
        fig.add_trace(
            go.Bar(
                x=df[name].to_list(),
                y=y,
                name=label(name),
                orientation="h",
                marker_color=color,
                hovertemplate="%{y}<br>" + label(name) + ": %{x:,}<extra></extra>",
            )
        )
    fig.update_layout(barmode=barmode)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(title_text="open exceptions")
    return _layout(fig, title, _bar_height(len(y)))


def aging_by_group(df: pl.DataFrame, dim: str) -> go.Figure:
    """Stacked bars of open exceptions per aging bucket for each group of ``dim``."""
    series = list(zip(AGING, AGING_COLORS, strict=True))
    return _hbars(df, dim, series, "stack", f"Aging of open exceptions by {label(dim).lower()}")


def risk_by_group(df: pl.DataFrame, dim: str) -> go.Figure:
    """Grouped bars: at-risk and breached open exceptions for each group of ``dim``."""
    series = [("at_risk_open", "#ff9f1c"), ("breached_open", BAD)]
    return _hbars(df, dim, series, "group", f"At risk and breached by {label(dim).lower()}")


def sla_by_group(df: pl.DataFrame, dim: str, overall: float | None) -> go.Figure:
    """Bars of SLA adherence per group (worst first); dotted line: the overall adherence."""
    fig = go.Figure(
        go.Bar(
            x=df["sla_adherence"].to_list(),
            y=plot_texts(df[dim].to_list()),
            orientation="h",
            marker_color=ACCENT,
            customdata=df["resolved"].to_list(),
            text=[f"{v:.0%}" if v is not None else "" for v in df["sla_adherence"].to_list()],
            textposition="auto",
            hovertemplate="%{y}<br>SLA adherence: %{x:.1%}<br>resolved: %{customdata:,}"
            "<extra></extra>",
        )
    )
    if overall is not None:
        fig.add_vline(x=overall, line={"dash": "dot", "color": "#555"})
    fig.update_xaxes(title_text="SLA adherence", tickformat=".0%", range=[0, 1.05])
    fig.update_yaxes(autorange="reversed", type="category")
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
    fig.update_xaxes(title_text=value.replace("_", " "))
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
    fig.update_yaxes(title_text="lines")
    return _layout(fig, "Lines read, by outcome", height=300)

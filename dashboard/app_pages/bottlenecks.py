"""Bottlenecks: where the SLA overrun comes from.

* the bottleneck list of kpis.md by lane, site, carrier and root cause — groups
  ranked by SLA overrun hours, the bar text is the share of the total overrun;
  clicking a bar (or the "Narrow to" control) sets the global filter, so every
  page narrows to that group;
* a heatmap of any KPI over two chosen dimensions;
* a Pareto of root causes.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl
import streamlit as st

from dashboard import charts, data, ui
from metrics.bottlenecks import BOTTLENECK_DIMENSIONS, rank_bottlenecks
from metrics.breakdowns import HEATMAP_METRICS, pareto
from metrics.dimensions import DIMENSIONS
from metrics.labels import format_hours, value_label

TOP = 10
PARETO_METRICS = ("sla_overrun_hours", "bottleneck_exceptions", "opened", "breached_open")
PARETO_LABELS = {
    "sla_overrun_hours": "SLA overrun (h)",
    "bottleneck_exceptions": "exceptions",
    "opened": "opened",
    "breached_open": "breached (open)",
}


def _on_bar_click(dim: str) -> Callable[[], None]:
    """Callback: the clicked bar's group becomes the global filter for ``dim``."""

    def apply() -> None:
        value = ui.selected_label(st.session_state.get(f"bn-{dim}"), "y")
        if value is not None:
            ui.set_filter(dim, value)

    return apply


def _choice_label(option: str) -> str:
    """``category=missed_pickup`` -> ``Root cause: Missed pickup``."""
    dim, value = option.split("=", 1)
    return f"{DIMENSIONS[dim].label}: {value_label(dim, value)}"


def _narrow(choice_key: str) -> None:
    choice = st.session_state.get(choice_key)
    if choice:
        dim, value = choice.split("=", 1)
        ui.set_filter(dim, value)


def render() -> None:
    """Draw the page."""
    ctx = ui.page_start("Bottlenecks")
    assert ctx.win is not None
    currency = data.reporting_currency(ctx.config)
    long = data.group_kpis(ctx.db, ctx.stamp, ctx.win, ctx.where_key)
    lists = rank_bottlenecks(long, BOTTLENECK_DIMENSIONS)
    total = long.filter(pl.col("dimension") == "*")
    overrun = float(total["sla_overrun_hours"][0]) if total.height else 0.0
    st.markdown(
        f"Total SLA overrun **{format_hours(overrun)}** over exceptions resolved in the period or "
        "still open. Click a bar to narrow every page to that group."
    )

    options = [
        f"{dim}={v}" for dim in BOTTLENECK_DIMENSIONS for v in lists[dim][dim].head(5).to_list()
    ]
    c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
    c1.selectbox(
        "Narrow every page to",
        options,
        index=None,
        format_func=_choice_label,
        key="narrow-choice",
        placeholder="pick a top group…",
    )
    c2.button("Apply filter", on_click=_narrow, args=("narrow-choice",), key="narrow-apply")

    cols = st.columns(2)
    for i, dim in enumerate(BOTTLENECK_DIMENSIONS):
        ranked = lists[dim]
        with cols[i % 2]:
            if ranked.height == 0 or float(ranked["sla_overrun_hours"].sum()) == 0.0:
                st.markdown(f"**By {DIMENSIONS[dim].label.lower()}**")
                ui.empty(
                    "No SLA overrun in this view: every exception resolved in the period or "
                    "open now is within its target."
                )
                ui.download(ranked, f"bottlenecks-{dim}", f"bn-{dim}")
                continue
            ui.chart(
                charts.bottleneck_bars(ranked, dim, TOP, currency),
                ranked,
                f"bottlenecks-{dim}",
                f"bn-{dim}",
                on_select=_on_bar_click(dim),
            )
    with st.expander("Bottleneck tables"):
        for dim in BOTTLENECK_DIMENSIONS:
            st.markdown(f"**{DIMENSIONS[dim].label}**")
            ui.table(lists[dim], f"bn-table-{dim}", currency)

    st.subheader("Heatmap")
    dims = list(DIMENSIONS)
    dim_labels = [DIMENSIONS[d].label for d in dims]
    ui.ignored_choice(ctx, "hm_rows", dim_labels, "Heatmap rows")
    ui.ignored_choice(ctx, "hm_cols", dim_labels, "Heatmap columns")
    ui.ignored_choice(ctx, "hm_metric", [charts.label(m) for m in HEATMAP_METRICS], "Heatmap value")
    h1, h2, h3 = st.columns(3)
    rows = (
        h1.selectbox(
            "Rows",
            dims,
            index=dims.index("site"),
            format_func=lambda d: DIMENSIONS[d].label,
            key="hm_rows",
            bind="query-params",
        )
        or "site"
    )
    cols_dim = (
        h2.selectbox(
            "Columns",
            dims,
            index=dims.index("category"),
            format_func=lambda d: DIMENSIONS[d].label,
            key="hm_cols",
            bind="query-params",
        )
        or "category"
    )
    metric = (
        h3.selectbox(
            "Value",
            list(HEATMAP_METRICS),
            format_func=charts.label,
            key="hm_metric",
            bind="query-params",
        )
        or HEATMAP_METRICS[0]
    )
    hm = data.heatmap(ctx.db, ctx.stamp, ctx.win, rows, cols_dim, ctx.where_key)
    if hm.height == 0:
        ui.empty("No exception in this view to place on the heatmap.")
    else:
        c_name = cols_dim if cols_dim != rows else f"{cols_dim}_2"
        ui.chart(
            charts.heatmap(hm, rows, c_name, metric),
            hm.select(rows, c_name, metric),
            f"heatmap-{rows}-{cols_dim}-{metric}",
            "heatmap",
        )

    st.subheader("Pareto of root causes")
    ui.ignored_choice(ctx, "pareto_metric", PARETO_LABELS.values(), "Pareto measure")
    p_metric = (
        st.segmented_control(
            "Measure",
            list(PARETO_METRICS),
            default=PARETO_METRICS[0],
            format_func=lambda m: PARETO_LABELS[m],
            key="pareto_metric",
            bind="query-params",
        )
        or PARETO_METRICS[0]
    )
    causes = long.filter(pl.col("dimension") == "category").rename({"group": "category"})
    par = pareto(causes, "category", p_metric)
    if par.height == 0 or par["share"].null_count() == par.height:
        ui.empty("Nothing to rank: the chosen measure is zero for every root cause in this view.")
        ui.download(par, f"pareto-{p_metric}", "pareto")
    else:
        ui.chart(charts.pareto(par, "category", p_metric), par, f"pareto-{p_metric}", "pareto")


render()

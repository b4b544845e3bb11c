"""Overview (leadership): KPI tiles with period-over-period deltas, and trends.

Tiles: stock KPIs as of T against as of the start of the period; flow KPIs
over the period against the period before it (same length). Trends: backlog
by aging bucket, SLA adherence and revenue at risk at a chosen grain
(``metrics.series.trend``).
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, data, ui
from metrics.series import GRAINS, grid

TILES = (
    "open_exceptions",
    "breached_open",
    "revenue_at_risk",
    "sla_adherence",
    "mttr_hours",
    "avg_manual_touches",
    "first_touch_resolution_rate",
    "otif",
)
ORDER_TILES = ("otif", "exception_rate")
MORE = (
    "at_risk_open",
    "opened",
    "resolved",
    "sla_overrun_hours",
    "p90_resolution_hours",
    "auto_resolution_rate",
    "escalation_rate",
    "exception_rate",
)
GRAIN_LABELS = {"auto": "auto", "hour": "hour", "day": "day", "week": "week"}


def auto_grain(days: float) -> str:
    """The grain used for "auto": hourly up to 3 days, daily up to 90 days, then weekly
    (at most ~90 points, so the default view stays fast on big databases)."""
    return "hour" if days <= 3 else "day" if days <= 90 else "week"


def render() -> None:
    """Draw the page."""
    ctx = ui.page_start("Overview")
    assert ctx.win is not None
    win = ctx.win
    currency = data.reporting_currency(ctx.config)
    prev = data.previous(win)
    now = data.totals(ctx.db, ctx.stamp, win, ctx.where_key)
    before = data.totals(ctx.db, ctx.stamp, prev, ctx.where_key)
    slots = ui.tiles(now, before, TILES, currency, later=ORDER_TILES)
    with st.expander("More KPIs"):
        slots |= ui.tiles(now, before, MORE, currency, later=ORDER_TILES)
    st.caption(
        "Deltas: stock KPIs against the start of the period, flow KPIs against the "
        "previous period of the same length."
    )
    csv_slot = st.empty()

    st.subheader("Trends")
    ui.ignored_choice(ctx, "grain", GRAIN_LABELS.values(), "Grain")
    choice = st.segmented_control(
        "Grain",
        list(GRAIN_LABELS),
        default="auto",
        format_func=lambda g: GRAIN_LABELS[g],
        key="grain",
        bind="query-params",
        help="Each point is as of that time; SLA adherence is over the bucket before it.",
    )
    grain = (
        choice if choice in GRAINS else auto_grain((win.as_of - win.start).total_seconds() / 86400)
    )
    points = grid(win.as_of, win.start, grain)
    if len(points) < 2:
        ui.empty(
            f"The period holds a single {grain} point; pick a finer grain or a longer period "
            "to see a trend."
        )
    trend = data.trend(ctx.db, ctx.stamp, win, grain, ctx.where_key)
    ui.chart(
        charts.backlog_by_aging(trend),
        trend.select("as_of", "open_exceptions", *charts.AGING),
        "backlog-by-aging",
        "backlog",
    )
    left, right = st.columns(2)
    with left:
        ui.chart(
            charts.sla_adherence_trend(trend, GRAIN_LABELS[grain]),
            trend.select("as_of", "period_from", "resolved", "sla_adherence"),
            "sla-adherence-trend",
            "sla",
        )
    with right:
        ui.chart(
            charts.revenue_trend(trend, currency),
            trend.select("as_of", "revenue_at_risk", "breached_revenue_at_risk"),
            "revenue-at-risk-trend",
            "revenue",
        )

    # order KPIs scan every order milestone: drawn last so the rest shows first
    now |= data.order_totals(ctx.db, ctx.stamp, win, ctx.where_key)
    before |= data.order_totals(ctx.db, ctx.stamp, prev, ctx.where_key)
    for name, slot in slots.items():
        ui.tile(slot, name, now, before, currency)
    both = pl.DataFrame(
        [
            {"window": "current", "as_of": win.as_of, "period_from": win.start, **now},
            {"window": "previous", "as_of": prev.as_of, "period_from": prev.start, **before},
        ]
    )
    with csv_slot.container():
        ui.download(both, "overview-kpis", "tiles", "KPIs CSV")


render()

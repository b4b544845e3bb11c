"""Overview (leadership): the top bottleneck, KPI tiles against their targets with
period-over-period deltas, and trends.

* One line names the current top bottleneck (``metrics.labels.top_bottleneck``
  over the bottleneck lists of lane, site, carrier and root cause).
* Tiles: stock KPIs as of T against as of the start of the period; flow KPIs
  over the period against the period before it (same length). A previous
  period in which no matching exception existed yet gives "no data", not a
  delta. Each tile shows its target (``metrics.targets``; a site's or tier's
  own target when the view is narrowed to one) and its status colour.
* Trends at a chosen grain (``metrics.series.trend``): SLA adherence (with its
  target line) and the backlog by aging bucket side by side right after the
  first row of tiles — above the fold at 1280×800 — then the second row of
  tiles and revenue at risk.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import streamlit as st

from dashboard import charts, data, ui
from dashboard.text import md_literal
from metrics.bottlenecks import rank_bottlenecks
from metrics.labels import bottleneck_sentence, top_bottleneck
from metrics.series import GRAINS, grid
from metrics.targets import Target

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
FIRST_CHARTS = 320  # height of the first two trend charts (above the fold at 1280×800)


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
    targets = ui.page_targets(ctx)

    lists = rank_bottlenecks(data.group_kpis(ctx.db, ctx.stamp, win, ctx.where_key))
    top = top_bottleneck(lists)
    line, control = st.columns([3, 2], vertical_alignment="center")
    if top is None:
        line.markdown(
            ":material/traffic: No SLA overrun in this view: every exception resolved in the "
            "period or open now is within its target."
        )
    else:
        line.markdown(f":material/traffic: **{bottleneck_sentence(top, md_literal)}**")
    with control:
        ui.ignored_choice(ctx, "grain", GRAIN_LABELS.values(), "Grain")
        choice = st.segmented_control(
            "Trend grain",
            list(GRAIN_LABELS),
            default="auto",
            format_func=lambda g: GRAIN_LABELS[g],
            key="grain",
            bind="query-params",
            label_visibility="collapsed",
            help="The grain of the trends: each point is as of that time; SLA adherence is "
            "over the bucket before it. Auto: hourly up to 3 days, daily up to 90 days, "
            "then weekly.",
        )

    prev = data.previous(win)
    now = data.totals(ctx.db, ctx.stamp, win, ctx.where_key)
    before = data.totals(ctx.db, ctx.stamp, prev, ctx.where_key)
    no_previous = data.matching(ctx.db, ctx.stamp, prev.as_of, ctx.where_key) == 0

    def target_of(name: str) -> Target | None:
        return targets.for_filters(name, ctx.where)

    def tile_row(names: tuple[str, ...]) -> dict[str, Any]:
        return ui.tiles(
            now,
            before,
            names,
            currency,
            later=ORDER_TILES,
            targets=target_of,
            no_previous=no_previous,
        )

    slots = tile_row(TILES[:4])
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
    left, right = st.columns(2)
    with left:
        ui.chart(
            charts.sla_adherence_trend(
                trend, GRAIN_LABELS[grain], target_of("sla_adherence"), height=FIRST_CHARTS
            ),
            trend.select("as_of", "period_from", "resolved", "sla_adherence"),
            "sla-adherence-trend",
            "sla",
        )
    with right:
        ui.chart(
            charts.backlog_by_aging(trend, target_of("open_exceptions"), height=FIRST_CHARTS),
            trend.select("as_of", "open_exceptions", *charts.AGING),
            "backlog-by-aging",
            "backlog",
        )
    slots |= tile_row(TILES[4:])
    ui.chart(
        charts.revenue_trend(trend, currency, target_of("revenue_at_risk")),
        trend.select("as_of", "revenue_at_risk", "breached_revenue_at_risk"),
        "revenue-at-risk-trend",
        "revenue",
    )

    with st.expander("More KPIs"):
        slots |= ui.tiles(
            now,
            before,
            MORE,
            currency,
            later=ORDER_TILES,
            targets=target_of,
            no_previous=no_previous,
        )
    st.caption(
        "Deltas: stock KPIs against the start of the period, flow KPIs against the "
        'previous period of the same length ("no data": nothing had been recorded '
        "yet). Targets come from the settings file (`[targets.*]`)."
    )
    csv_slot = st.empty()

    # order KPIs scan every order milestone: drawn last so the rest shows first
    now |= data.order_totals(ctx.db, ctx.stamp, win, ctx.where_key)
    before |= data.order_totals(ctx.db, ctx.stamp, prev, ctx.where_key)
    for name, slot in slots.items():  # order KPIs: their own null rule says "no data"
        ui.tile(slot, name, now, before, currency, target_of(name))
    both = pl.DataFrame(
        [
            {"window": "current", "as_of": win.as_of, "period_from": win.start, **now},
            {"window": "previous", "as_of": prev.as_of, "period_from": prev.start, **before},
        ]
    )
    with csv_slot.container():
        ui.download(both, "overview-kpis", "tiles", "KPIs CSV")


render()

"""Aging & SLA: how old the backlog is, what is at risk or breached, SLA adherence.

Everything by a chosen dimension (``metrics.breakdowns.group_kpis``), plus the
oldest open exceptions (``metrics.queue.open_queue`` sorted by age). The tiles
and SLA adherence by group show their targets (``metrics.targets``): by site or
customer tier each bar is coloured against that group's own target.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard import charts, data, ui
from metrics.dimensions import DIMENSIONS
from metrics.targets import with_status

OLDEST = 25


def render() -> None:
    """Draw the page."""
    ctx = ui.page_start("Aging & SLA")
    assert ctx.win is not None
    currency = data.reporting_currency(ctx.config)
    targets = ui.page_targets(ctx)
    dims = list(DIMENSIONS)
    ui.ignored_choice(ctx, "aging_by", [DIMENSIONS[d].label for d in dims], "Break down by")
    by = (
        st.selectbox(
            "Break down by",
            dims,
            index=dims.index("site"),
            format_func=lambda d: DIMENSIONS[d].label,
            key="aging_by",
            bind="query-params",
        )
        or "site"
    )
    total = data.totals(ctx.db, ctx.stamp, ctx.win, ctx.where_key)
    ui.tiles(
        total,
        None,
        ("open_exceptions", "at_risk_open", "breached_open", "sla_adherence"),
        currency,
        targets=lambda name: targets.for_filters(name, ctx.where),
    )
    df = data.breakdown(ctx.db, ctx.stamp, ctx.win, by, ctx.where_key)
    aging_cols = [by, "open_exceptions", *charts.AGING, "at_risk_open", "breached_open"]
    backlog = df.select(aging_cols).filter(pl.col("open_exceptions") > 0)
    backlog = backlog.sort(["open_exceptions", by], descending=[True, False])
    left, right = st.columns(2)
    with left:
        if backlog.height == 0:
            st.markdown(f"**Aging of open exceptions by {DIMENSIONS[by].label.lower()}**")
            ui.empty("No open exception at this time: the backlog is empty.")
        else:
            ui.chart(charts.aging_by_group(backlog, by), backlog, f"aging-by-{by}", "aging")
    with right:
        risky = backlog.filter((pl.col("at_risk_open") + pl.col("breached_open")) > 0).sort(
            ["breached_open", "at_risk_open", by], descending=[True, True, False]
        )
        if risky.height == 0:
            st.markdown(f"**At risk and breached by {DIMENSIONS[by].label.lower()}**")
            ui.empty("No open exception is at risk (≥ 80 % of its SLA target) or breached.")
        else:
            ui.chart(
                charts.risk_by_group(risky, by),
                risky.select(by, "at_risk_open", "breached_open"),
                f"risk-by-{by}",
                "risk",
            )

    sla = (
        df.select(by, "resolved", "sla_adherence")
        .filter(pl.col("resolved") > 0)
        .sort(["sla_adherence", by])
    )
    if sla.height == 0:
        st.markdown(f"**SLA adherence by {DIMENSIONS[by].label.lower()}**")
        ui.empty("No exception was resolved in the period, so SLA adherence is undefined.")
    else:
        status = with_status(sla, targets, by=by, kpis=["sla_adherence"])["status"].to_list()
        ui.chart(
            charts.sla_by_group(
                sla,
                by,
                total.get("sla_adherence"),
                targets.for_filters("sla_adherence", ctx.where),
                status if any(s is not None for s in status) else None,
            ),
            sla,
            f"sla-adherence-by-{by}",
            "sla-by",
        )

    calendars = data.site_calendars(ctx.db, ctx.stamp)
    if calendars.height:
        with st.expander("Working calendars: the SLA clock of these sites runs in working time"):
            st.caption(
                "Breached, at risk, met SLA, SLA overrun and alert due times count working "
                "hours only; age and resolution time stay wall-clock. Sites not listed run 24x7."
            )
            ui.table(calendars, "site-calendars-table", currency)
    else:
        st.caption("Every site's SLA clock runs 24x7 (no working calendars configured).")

    st.subheader(f"Oldest open exceptions (top {OLDEST})")
    oldest, n_open = data.queue(ctx.db, ctx.stamp, ctx.win.as_of, ctx.where_key, "age", OLDEST)
    if oldest.height == 0:
        ui.empty("No open exception at this time.")
    else:
        st.caption(f"{n_open:,} open or paused in all; see the Exception queue for every one.")
        ui.table(
            oldest.select(
                "exception_id",
                "status",
                "age_hours",
                "sla_left_hours",
                "breached",
                "site",
                "lane",
                "carrier",
                "category",
                "severity",
                "owner_team",
                "order_value",
            ),
            "oldest-table",
            currency,
        )
    ui.download(oldest, "oldest-open-exceptions", "oldest")


render()

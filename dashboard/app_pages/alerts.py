"""SLA alerts: the active alerts, newest first (``metrics.alerts``).

An alert is raised when the data clock reaches its due time: **at risk** when
an open exception's SLA clock reaches 80 % of its target, **breached** when it
runs past the target. It is active while it stands (no late event retracted
it) and its exception is open or paused. The global filters apply to the
alert's dimensions; with an as-of time in the sidebar the list is as of then.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from core.timeutil import iso_z
from dashboard import data, ui
from metrics.alerts import KIND_LABELS, KINDS

# The kind filter's choices and their labels (shown and kept in the URL). No bare
# strings at the top level of a page: Streamlit would draw them ("magic").
ALL = "all"
KIND_CHOICES = {ALL: "all", **{k: f"{v} only" for k, v in KIND_LABELS.items()}}

SHOWN = (
    "raised_at",
    "kind",
    "exception_id",
    "status",
    "due_at",
    "overdue_hours",
    "severity",
    "customer_tier",
    "site",
    "lane",
    "carrier",
    "category",
    "owner_team",
    "order_id",
    "order_value_reporting",
    "sla_target_hours",
)


def render() -> None:
    """Draw the page."""
    ctx = ui.page_start("SLA alerts")
    assert ctx.win is not None
    currency = data.reporting_currency(ctx.config)
    rows = data.active_alerts(ctx.db, ctx.stamp, ctx.where_key, ctx.pinned_as_of)
    st.caption(
        "Active alerts, newest first: raised when the data clock reached their due time, "
        "not retracted by a later event, and the exception still open or paused. "
        "**At risk**: the SLA clock reached 80 % of the target; **breached**: it ran past "
        "the target. Overdue = hours since the alert fell due."
    )
    counts = {k: int((rows["kind"] == k).sum()) for k in KINDS}
    c = st.columns(3)
    c[0].metric("Active alerts", f"{rows.height:,}", border=True)
    c[1].metric("Breached", f"{counts['breached']:,}", border=True)
    c[2].metric("At risk", f"{counts['at_risk']:,}", border=True)
    ui.ignored_choice(ctx, "alert_kind", KIND_CHOICES.values(), "Kind")
    kind = (
        st.segmented_control(
            "Kind",
            list(KIND_CHOICES),
            default=ALL,
            format_func=lambda k: KIND_CHOICES[k],
            key="alert_kind",
            bind="query-params",
        )
        or ALL
    )
    shown = rows if kind == ALL else rows.filter(pl.col("kind") == kind)
    if shown.height == 0:
        what = "active SLA alert" if kind == ALL else f"active {KIND_LABELS[kind]} alert"
        ui.empty(
            f"No {what} as of {iso_z(ctx.win.as_of)} for {ctx.filters.describe_md()}: no open "
            "or paused exception has reached 80 % of its SLA target or passed it (or a later "
            "event retracted the alert)."
        )
        return
    table = shown.with_columns(pl.col("kind").replace(KIND_LABELS))
    ui.table(
        table.select(SHOWN),
        "alerts-table",
        currency,
        overrides={
            "raised_at": st.column_config.DatetimeColumn("Raised (UTC)", format=ui.TIME_FORMAT),
            "kind": st.column_config.TextColumn("Alert"),
            "due_at": st.column_config.DatetimeColumn("Due (UTC)", format=ui.TIME_FORMAT),
            "overdue_hours": st.column_config.NumberColumn("Overdue (h)", format="%,.1f h"),
            "customer_tier": st.column_config.TextColumn("Tier"),
        },
        height=min(600, 38 + 35 * shown.height),
    )
    ui.download(shown, f"sla-alerts-{kind}", "alerts")


render()

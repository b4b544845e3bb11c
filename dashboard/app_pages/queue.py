"""Exception queue: open exceptions, and the full timeline of one of them.

The queue (``metrics.queue.open_queue``) is sortable by order value at
risk, age or SLA time left. Selecting a row (or typing an id, kept in the
URL as ``?exception=…``) shows that exception as of T: its state, a chart of
its status and owner over time with every event (who touched it, when it
paused, escalations) and the same events as a table.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from core.timeutil import iso_z
from dashboard import charts, data, ui
from dashboard.text import md_literal, plot_text
from metrics.labels import category_label, column_label, format_hours, format_money, value_label
from metrics.queue import QUEUE_SORTS

SORT_LABELS = {"revenue": "order value", "age": "age", "sla_left": "SLA time left"}
LIMIT = 500
SHOWN = (
    "exception_id",
    "status",
    "order_value",
    "age_hours",
    "sla_left_hours",
    "breached",
    "at_risk",
    "severity",
    "customer_tier",
    "site",
    "lane",
    "carrier",
    "category",
    "owner_team",
    "manual_touches",
    "escalation_level",
    "order_id",
)


def _pick_row(table_key: str, ids: list[str]) -> None:
    """Callback: the selected queue row becomes the exception shown below."""
    state = st.session_state.get(table_key)
    rows = state.get("selection", {}).get("rows", []) if state else []
    if rows and rows[0] < len(ids):
        st.session_state["exception"] = ids[rows[0]]


def render() -> None:
    """Draw the page."""
    ctx = ui.page_start("Exception queue")
    assert ctx.win is not None
    currency = data.reporting_currency(ctx.config)
    ui.ignored_choice(ctx, "sort", SORT_LABELS.values(), "Sort")
    sort = (
        st.segmented_control(
            "Sort by (largest value, oldest, least time left first)",
            list(QUEUE_SORTS),
            default="revenue",
            format_func=lambda s: SORT_LABELS[s],
            key="sort",
            bind="query-params",
        )
        or "revenue"
    )
    queue, n_open = data.queue(ctx.db, ctx.stamp, ctx.win.as_of, ctx.where_key, sort, LIMIT)
    ids = queue["exception_id"].to_list()
    if queue.height == 0:
        ui.empty(
            f"No open exception as of {iso_z(ctx.win.as_of)} for {ctx.filters.describe_md()}: "
            "the queue is empty. You can still look up any exception by id below."
        )
    else:
        more = f" (showing the first {LIMIT:,})" if n_open > queue.height else ""
        st.caption(f"{n_open:,} open or paused exceptions{more}. Select a row for its timeline.")
        ui.table(
            queue.select(SHOWN),
            "queue-table",
            currency,
            on_select=lambda: _pick_row("queue-table", ids),
            selection_mode="single-row",
            height=360,
        )
    ui.download(queue, f"exception-queue-{sort}", "queue")

    st.subheader("Exception timeline")
    xid = st.text_input(
        "Exception id",
        key="exception",
        bind="query-params",
        placeholder="select a row above or type an id",
    ).strip()
    if not xid and ids:
        xid = ids[0]
        st.caption(f"Showing the first exception of the queue, {md_literal(xid)}.")
    if not xid:
        return
    state, events, intervals, held = data.exception_detail(ctx.db, ctx.stamp, xid, ctx.win.as_of)
    if state is None:
        ui.empty(
            f"No exception {md_literal(xid)} as of {iso_z(ctx.win.as_of)}: the id is unknown, "
            "or it opened later (move the as-of time)."
            + (
                f" {held.height} event(s) for it are held, waiting for its opened event."
                if held.height
                else ""
            )
        )
        return
    _state_tiles(state, currency)
    title = f"{plot_text(xid)} — {plot_text(category_label(state['category']))}"
    fig = charts.exception_timeline(intervals, events, title)
    ui.chart(fig, events, f"timeline-{xid}", "timeline")
    _sla_clock(ctx.db, ctx.stamp, xid, ctx.win.as_of)
    ui.table(
        events.select(
            "applied_at",
            "kind",
            "actor_id",
            "actor_kind",
            "owner_team",
            "escalation_level",
            "detail",
            "source_system",
            "occurred_at",
            "event_id",
        ),
        "timeline-table",
        currency,
    )
    with st.expander("State intervals (status, owner, SLA clock)"):
        ui.table(intervals, "intervals-table", currency)
        ui.download(intervals, f"intervals-{xid}", "intervals")
    if held.height:
        st.warning(
            f"{held.height} event(s) for {md_literal(xid)} are held (pending), not applied yet."
        )
        ui.table(held, "held-table", currency)


def _sla_clock(db: str, stamp: str, xid: str, as_of: datetime) -> None:
    """The working-time SLA clock and its deadline, in one line and a chart."""
    clock = data.exception_sla_clock(db, stamp, xid, as_of)
    if clock is None:
        return
    cal = clock["calendar"]
    hours = md_literal(str(clock["calendar_hours"]))
    where = (
        f"working time of calendar {md_literal(str(cal))} ({hours})"
        if cal is not None
        else "24x7 (the site has no working calendar)"
    )
    due = clock["breach_due_at"]
    deadline = f"breach due {iso_z(due)}" if isinstance(due, datetime) else "no breach due"
    at_risk = clock["at_risk_due_at"]
    risk = f", at risk from {iso_z(at_risk)}" if isinstance(at_risk, datetime) else ""
    active, target = clock["active_hours"], clock["target_hours"]
    assert isinstance(active, float) and isinstance(target, float)
    st.markdown(
        f"**SLA clock:** {format_hours(active)} of a {format_hours(target)} target, "
        f"counted in {where}; {deadline}{risk} (event time)."
    )
    points = clock["points"]
    if isinstance(points, pl.DataFrame) and points.height > 1:
        fig = charts.sla_clock(points, target, "SLA clock (working hours)")
        ui.chart(fig, points, f"sla-clock-{xid}", "sla-clock")


def _hours(v: object) -> str:
    if not isinstance(v, float):
        return "—"
    return format_hours(v, 0) if abs(v) >= 100 else format_hours(v)


def _state_tiles(state: dict[str, object], currency: str) -> None:
    c = st.columns(6)
    age = state.get("age_hours")
    left = state.get("sla_left_hours")
    c[0].metric("Status", value_label("status", state["status"]).capitalize(), border=True)
    c[1].metric("Age", _hours(age), border=True)
    c[2].metric(
        "SLA time left",
        _hours(left),
        help="Target minus the active (SLA-clock) time; negative = overdue.",
        border=True,
    )
    c[3].metric("Order value", format_money(state.get("order_value"), currency), border=True)
    c[4].metric("Manual touches", str(state.get("manual_touches")), border=True)
    c[5].metric("Escalation level", str(state.get("escalation_level")), border=True)
    target = state["sla_target_hours"]
    st.caption(
        " · ".join(
            f"{column_label(k).lower()}: {md_literal(value_label(k, state[k]))}"
            for k in (
                "site",
                "lane",
                "carrier",
                "severity",
                "customer_tier",
                "owner_team",
                "order_id",
            )
        )
        + f" · SLA target **{format_hours(target if isinstance(target, float) else None)}**"
    )


render()

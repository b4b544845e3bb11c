"""Entry file of the fpi dashboard (``streamlit run dashboard/app.py -- --db DB``).

Draws the global filters in the sidebar (bound to the URL query string),
resolves the window against the data clock, stores the shared
:class:`dashboard.context.Context` and runs the selected page of
``st.navigation``. While the database changes (a live ``fpi ingest``), a small
fragment checks the file every ``--refresh`` seconds and reruns the app when
new data was written. The dashboard only reads: every query goes through
``fpi.db.open_read`` (read-only, short-lived, retried while the writer holds
the file).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import context, data, ui
from dashboard.context import (
    PERIOD_LABELS,
    PERIODS,
    RENDERED_STAMP_KEY,
    AppSettings,
    Context,
    Filters,
    data_stamp,
)
from fpi.db import DatabaseError
from fpi.timeutil import iso_z
from metrics.dimensions import DIMENSIONS
from metrics.drilldown import FILTER_DIMENSIONS
from metrics.query import Window

HERE = Path(__file__).parent

st.set_page_config(
    page_title="fpi · fulfillment exceptions",
    page_icon=":material/local_shipping:",
    layout="wide",
    initial_sidebar_state="expanded",
)


def _sidebar(values: dict[str, list[str]]) -> Filters:
    """The global filters; every widget is bound to the URL (shareable views)."""
    with st.sidebar:
        st.subheader("Filters")
        as_of_text = st.text_input(
            "As of (UTC)",
            key="as_of",
            bind="query-params",
            placeholder="latest data (live)",
            help="RFC 3339 time such as 2026-05-06T12:00:00Z or a date (midnight UTC). "
            "Stock KPIs (backlog, breached, revenue at risk) are as of this time; "
            "empty = the data clock (the newest event), updated live.",
        )
        period = st.selectbox(
            "Period",
            list(PERIODS),
            index=list(PERIODS).index(context.DEFAULT_PERIOD),
            format_func=lambda p: PERIOD_LABELS[p],
            key="period",
            bind="query-params",
            help="Flow KPIs (resolved, SLA adherence, MTTR, OTIF …) are over "
            "[as of − period, as of); deltas compare with the period before.",
        )
        selected: dict[str, list[str]] = {}
        for dim in FILTER_DIMENSIONS:
            options = values.get(dim, [])
            # keep values from the URL or a drill-down even before the data has them
            chosen = list(st.session_state.get(dim) or []) + st.query_params.get_all(dim)
            options = sorted(set(options) | set(chosen))
            selected[dim] = st.multiselect(
                DIMENSIONS[dim].label,
                options,
                key=dim,
                bind="query-params",
                placeholder="all",
            )
        st.button(
            "Clear filters",
            on_click=ui.clear_filters,
            key="clear-sidebar",
            help="Remove every site, lane, carrier, root cause, severity and tier filter",
        )
    return context.parse_filters(as_of_text or "", period or context.DEFAULT_PERIOD, selected)


def _refresh(settings: AppSettings) -> None:
    """Rerun the app when the database changed since this view was drawn."""
    if settings.refresh_seconds <= 0:
        return

    def watch() -> None:
        if data_stamp(settings.db) != st.session_state.get(RENDERED_STAMP_KEY):
            st.rerun(scope="app")

    st.fragment(watch, run_every=settings.refresh_seconds)()


def main() -> None:
    """Build the context and run the chosen page (reads share one connection per run)."""
    settings = context.app_settings()
    with data.run_scope(str(settings.db)):
        _run(settings)


def _run(settings: AppSettings) -> None:
    stamp = data_stamp(settings.db)
    st.session_state[RENDERED_STAMP_KEY] = stamp
    try:
        clock, values = data.clock_and_values(str(settings.db), stamp)
    except DatabaseError as exc:
        st.error(f"**Cannot read the database.** {exc}", icon=":material/error:")
        st.stop()
    filters = _sidebar(values)
    win: Window | None = None
    as_of = filters.as_of or clock
    if as_of is not None:
        win = Window(as_of, as_of - PERIODS[filters.period])
    ctx = Context(settings, filters, stamp, win, clock, values)
    context.store(ctx)
    with st.sidebar:
        if clock is not None:
            st.caption(f"Data clock (newest event): {iso_z(clock)}")
        if settings.refresh_seconds > 0:
            st.caption(f"Refreshes on new data (checked every {settings.refresh_seconds:g} s).")
    pages = st.navigation(
        [
            st.Page(
                HERE / "app_pages/overview.py",
                title="Overview",
                icon=":material/monitoring:",
                url_path="overview",
                default=True,
            ),
            st.Page(
                HERE / "app_pages/bottlenecks.py",
                title="Bottlenecks",
                icon=":material/traffic:",
                url_path="bottlenecks",
            ),
            st.Page(
                HERE / "app_pages/aging.py",
                title="Aging & SLA",
                icon=":material/timer:",
                url_path="aging",
            ),
            st.Page(
                HERE / "app_pages/queue.py",
                title="Exception queue",
                icon=":material/list_alt:",
                url_path="queue",
            ),
            st.Page(
                HERE / "app_pages/quality.py",
                title="Data quality",
                icon=":material/fact_check:",
                url_path="quality",
            ),
        ]
    )
    _refresh(settings)
    try:
        pages.run()
    except DatabaseError as exc:
        st.error(f"**Cannot read the database.** {exc}", icon=":material/error:")


main()

"""Entry file of the fpi dashboard (``streamlit run dashboard/app.py -- --db DB``).

Draws the global filters in the sidebar (bound to the URL query string),
resolves the window against the data clock, stores the shared
:class:`dashboard.context.Context` (with the wall clock, the one place the app
reads it: how old the live flow's heartbeat is) and runs the selected page of
``st.navigation``. While the database changes (a live ``fpi ingest`` or
``fpi stream``), a small fragment checks the file every ``--refresh`` seconds
and reruns the app when new data was written; every page's line on the live
flow (``dashboard.ui.flow_line``) is redrawn as often, so a flow that stopped
is reported even though the file then stops changing. The dashboard only
reads: every query goes through ``core.db.open_read`` (read-only, short-lived,
retried while the writer holds the file).

No traceback reaches a visitor: a failing page shows one friendly line
(:func:`dashboard.ui.failure`) and the traceback goes to the server log; the
launcher also sets ``client.showErrorDetails = none`` as a last line of
defence. With an ``[auth]`` section in ``.streamlit/secrets.toml`` only a
visitor logged in through that OIDC provider sees any data (``st.login``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.db import DatabaseError
from core.timeutil import iso_z, system_clock
from dashboard import context, data, ui
from dashboard.context import (
    PERIOD_LABELS,
    PERIODS,
    RENDERED_STAMP_KEY,
    AppSettings,
    Context,
    Filters,
    data_stamp,
    invalid_choice,
)
from dashboard.text import md_literal
from metrics.dimensions import DIMENSIONS
from metrics.filter_values import FILTER_DIMENSIONS

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
            "empty = the data clock (the newest event, or the live flow's clock "
            "once it is caught up), updated live.",
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


def _auth_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` has an ``[auth]`` section (OIDC login)."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # an unreadable secrets file: Streamlit logs it at start
        ui.log.exception("cannot read the secrets file")
        return False


def _login_gate() -> None:
    """With ``[auth]`` configured, stop here until the visitor has logged in."""
    if not _auth_configured():
        return
    if st.user.get("is_logged_in"):
        with st.sidebar:
            st.button("Log out", on_click=st.logout, key="logout", icon=":material/logout:")
        return
    st.title("fpi · fulfillment exceptions")
    st.info("Log in to see the dashboard.", icon=":material/lock:")
    st.button("Log in", on_click=st.login, key="login", type="primary")
    st.stop()


def main() -> None:
    """Build the context and run the chosen page (reads share one connection per run).

    Anything unexpected becomes one friendly line on the page and a traceback in
    the server log; Streamlit's own stop/rerun signals pass through.
    """
    ui.setup_logging()
    try:
        settings = context.app_settings()
    except SystemExit:
        ui.log.error("started without a database: pass --db or set FPI_DB")
        st.error(
            "**The dashboard was started without a database.** Start it with "
            "`fpi dashboard --db DB`.",
            icon=":material/error:",
        )
        return
    except Exception:  # e.g. a refresh interval that is not a number
        ui.failure("the dashboard")
        return
    try:
        _login_gate()
        with data.run_scope(str(settings.db)):
            _run(settings)
    except Exception:
        ui.failure("the dashboard")


def _run(settings: AppSettings) -> None:
    url = context.url_snapshot()
    stamp = data_stamp(settings.db)
    st.session_state[RENDERED_STAMP_KEY] = stamp
    try:
        clock, values = data.clock_and_values(str(settings.db), stamp)
    except DatabaseError as exc:
        ui.log.error("cannot read the database: %s", exc)
        st.error(f"**Cannot read the database.** {md_literal(exc)}", icon=":material/error:")
        st.stop()
    notices: list[str] = []
    bad_period = invalid_choice(url, "period", PERIOD_LABELS.values())
    if bad_period is not None:
        notices.append(
            f"Period {md_literal(bad_period)} from the link is not one of the choices; "
            f"showing {PERIOD_LABELS[context.DEFAULT_PERIOD]}."
        )
    win, filters = context.resolve_window(_sidebar(values), clock)
    ctx = Context(
        settings, filters, stamp, win, clock, values, tuple(notices), url, clock=system_clock
    )
    context.store(ctx)
    with st.sidebar:
        if clock is not None:
            st.caption(f"Data clock: {iso_z(clock)}")
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
                HERE / "app_pages/alerts.py",
                title="SLA alerts",
                icon=":material/notifications_active:",
                url_path="alerts",
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
        ui.log.error("cannot read the database: %s", exc)
        st.error(f"**Cannot read the database.** {md_literal(exc)}", icon=":material/error:")
    except Exception:
        ui.failure("this page")


main()

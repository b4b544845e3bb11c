"""Entry file of the fpi dashboard (``streamlit run dashboard/app.py -- --db DB``).

Draws the global filters in the sidebar (bound to the URL query string): a
date range picker (UTC dates; default: the 7 days before the data clock, which
it follows while untouched; links with ``as_of``/``period`` from before it keep
working, see :mod:`dashboard.context`) and the dimension filters. Resolves the
window against the data clock, stores the shared
:class:`dashboard.context.Context` (with the wall clock, the one place the app
reads it: how old the live flow's heartbeat is) and runs the selected page of
``st.navigation`` (the Overview answers at ``/`` and at ``/overview``: a default
page is only served at the root, so a hidden second entry serves the path).
While the database changes (a live ``fpi ingest`` or
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

from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import streamlit as st

from core.db import DatabaseError
from core.timeutil import iso_z, system_clock
from dashboard import context, data, ui
from dashboard.context import (
    DEFAULT_PERIOD,
    EARLIEST_AS_OF,
    PERIOD_LABELS,
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


# No bare strings at the top level of this file: Streamlit would draw them ("magic").
# The date range picker's key and URL parameter (?dates=2026-05-01&dates=2026-05-06):
DATES_KEY = "dates"
_DATES_DEFAULT_KEY = "_fpi_dates_default"
# URL parameters of links from before the date picker (still honoured):
LEGACY_PARAMS = ("as_of", "period")


def _drop_legacy_params() -> None:
    """Callback of the date picker: a picked range replaces a link's as-of and period."""
    for key in LEGACY_PARAMS:
        if key in st.query_params:
            del st.query_params[key]


def _date_range(default: tuple[date, date], clock: datetime | None) -> tuple[date, date]:
    """The date range picker (UTC dates); its default shows the base window.

    A picker the visitor has not changed follows its default when that moves (the
    data clock passed midnight): Streamlit keeps a keyed widget's value even when
    its default changes, so the stale value is dropped first. A half-picked range
    (one date) is that one day.
    """
    previous = st.session_state.get(_DATES_DEFAULT_KEY)
    current = st.session_state.get(DATES_KEY)
    if previous is not None and previous != default and current is not None:
        if tuple(current) == tuple(previous):
            del st.session_state[DATES_KEY]
    st.session_state[_DATES_DEFAULT_KEY] = default
    latest = max(default[1], clock.date() if clock is not None else default[1])
    value = st.date_input(
        "Dates (UTC)",
        value=default,
        min_value=EARLIEST_AS_OF.date(),
        max_value=latest,
        key=DATES_KEY,
        bind="query-params",
        format="YYYY-MM-DD",
        on_change=_drop_legacy_params,
        help="Flow KPIs (resolved, SLA adherence, MTTR, OTIF …) are over these days, "
        "from 00:00 UTC of the first; stock KPIs (backlog, breached, revenue at risk) "
        "are as of the end of the last day, or of the latest data when that is earlier. "
        "Default: the 7 days before the latest data (the data clock), updated live. "
        "Deltas compare with the period before, of the same length.",
    )
    picked = tuple(value) if isinstance(value, tuple | list) else (value,) if value else ()
    days = [d for d in picked if isinstance(d, date)]
    if not days:
        return default
    return min(days), max(days)


def _sidebar(
    values: dict[str, list[str]], clock: datetime | None, url: dict[str, list[str]]
) -> Filters:
    """The global filters; every widget is bound to the URL (shareable views)."""
    as_of_text = next(iter(url.get("as_of", [])), "")
    period = context.PERIOD_KEYS.get(next(iter(url.get("period", [])), ""), DEFAULT_PERIOD)
    base_filters = context.parse_filters(as_of_text, period, {})
    base, base_filters = context.base_window(base_filters, clock)
    dates: tuple[date, date] | None = None
    with st.sidebar:
        st.subheader("Filters")
        if base is not None:
            default = context.window_dates(base)
            picked = _date_range(default, clock)
            dates = None if picked == default else picked
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
    picked_filters = context.parse_filters(as_of_text, period, selected, dates)
    return replace(picked_filters, as_of=base_filters.as_of, as_of_error=base_filters.as_of_error)


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
    ui.style()
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
            f"showing {PERIOD_LABELS[DEFAULT_PERIOD]}."
        )
    config = None if settings.config is None else str(settings.config)
    try:
        mismatch = data.sla_mismatch(str(settings.db), stamp, config)
    except (OSError, ValueError):
        mismatch = None  # a bad settings file is reported where the page uses it
    if mismatch is not None:
        notices.append(md_literal(mismatch[0].upper() + mismatch[1:] + "."))
    win, filters = context.resolve_window(_sidebar(values, clock, url), clock)
    ctx = Context(
        settings, filters, stamp, win, clock, values, tuple(notices), url, clock=system_clock
    )
    context.store(ctx)
    with st.sidebar:
        if clock is not None:
            st.caption(f"Data clock: {iso_z(clock)}")
        if settings.refresh_seconds > 0:
            st.caption(f"Refreshes on new data (checked every {settings.refresh_seconds:g} s).")
    overview = HERE / "app_pages/overview.py"
    pages = st.navigation(
        [
            st.Page(
                overview,
                title="Overview",
                icon=":material/monitoring:",
                url_path="home",  # the default page is served at "/" whatever this is
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
            # /overview serves the Overview too (a default page only answers at "/")
            st.Page(
                overview,
                title="Overview",
                icon=":material/monitoring:",
                url_path="overview",
                visibility="hidden",
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

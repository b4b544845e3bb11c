"""Small Streamlit building blocks shared by the pages.

* :func:`page_start` — title, when the live flow was last seen
  (:func:`flow_line`), the window caption and the empty states (no data yet /
  nothing matches the filters), stopping the page when there is nothing to show;
* :func:`chart` — a Plotly figure with the numbers behind it downloadable as CSV;
* :func:`tiles` — KPI tiles with period-over-period deltas ("no data" against
  an empty previous period; a change of zero is grey) and their target: a badge
  and a coloured border by status (on target green, at risk amber, off target
  red; no target neutral);
* :func:`table` — a table for people: labelled columns and values, numbers in
  their unit (``USD 1,234``, ``12.5 h``, %), "—" for no value;
* :func:`style` — the few CSS rules of the app (page padding, tile colours);
* :func:`set_filter` / :func:`clear_filters` — change the global filters
  (session state of the sidebar widgets, hence the URL);
* :func:`ignored_choice` — explain a link value a page control cannot use;
* :func:`failure` — the one-line message a visitor sees when drawing fails
  (the traceback goes to the server log, logger ``fpi.dashboard``).

Labels and number formats come from :mod:`metrics.labels` (shared with the
reports). CSV downloads keep the raw values and column names and are
neutralised against formula injection
(:func:`core.safe_text.safe_csv_frame`); values in Markdown go through
:func:`dashboard.text.md_literal`.
"""

from __future__ import annotations

import logging
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from core.db import DatabaseError
from core.safe_text import safe_csv_frame, to_csv
from metrics import labels
from metrics.catalog import BY_NAME
from metrics.filter_values import FILTER_DIMENSIONS
from metrics.targets import Target, Targets

from . import data, heartbeat
from .context import (
    Context,
    as_of_notice,
    current,
    data_stamp,
    invalid_choice,
    window_caption,
)
from .text import md_literal, unplot_text

log = logging.getLogger("fpi.dashboard")
"""Where the dashboard writes what went wrong (tracebacks never reach the page)."""


def setup_logging() -> None:
    """Send :data:`log` to stderr (the server's log) unless logging is configured.

    Idempotent; a host that configured the root logger (pytest, an operator's
    ``logging.config``) keeps its own handlers.
    """
    if log.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def failure(what: str = "this page") -> str:
    """Show a friendly one-line error for the exception being handled; log its traceback.

    Call it in an ``except`` block. ``what`` is fixed text of the caller (never
    user input). The message and the log line share a short reference, so an
    operator finds the traceback a visitor reports; it is returned.
    """
    ref = secrets.token_hex(4)
    log.exception("error %s while drawing %s", ref, what)
    st.error(
        f"**Something went wrong while drawing {what}.** The details are in the server "
        f"log (reference {md_literal(ref)}). Try another filter or reload the page.",
        icon=":material/error:",
    )
    return ref


def fmt(name: str, value: Any, currency: str = "USD") -> str:
    """A KPI value for people (``metrics.labels.format_value``): counts with
    separators, shares in %, hours with a unit, money as ``USD 1,234,567``; no
    value is "—"."""
    return labels.format_value(name, value, currency)


def delta(name: str, now: Any, before: Any, currency: str = "USD") -> str | None:
    """Change since the previous period in the KPI's unit, shares in points
    (``metrics.labels.format_delta``): None without a value now, "no data" when the
    previous period has none."""
    return labels.format_delta(name, now, before, currency)


STATUS_COLORS: dict[str, str] = {
    "on_target": "green",
    "at_risk": "orange",
    "off_target": "red",
    "none": "gray",
}
"""Badge colour of a tile by target status (amber is Streamlit's ``orange``); "none":
no target, or no value to judge."""
STATUS_ICONS: dict[str, str] = {
    "on_target": ":material/check_circle:",
    "at_risk": ":material/warning:",
    "off_target": ":material/error:",
    "none": ":material/remove:",
}
_TILE_BORDER = {"on_target": "#21c354", "at_risk": "#ffa421", "off_target": "#ff4b4b"}


def tile_css() -> str:
    """CSS: the left border colour of a tile by its status (see :func:`style`)."""
    return "".join(
        f'div[class*="st-key-tile--{s}--"]{{border-left:6px solid {c} !important;}}'
        for s, c in _TILE_BORDER.items()
    )


PAGE_CSS = (
    # less padding around the page, so the Overview's first chart is above the fold
    '[data-testid="stMainBlockContainer"]{padding:3rem 2rem 2rem 2rem;}'
    # KPI values that fit a quarter of a 1280 px wide screen ("USD 1,234,567")
    '[data-testid="stMetricValue"]{font-size:1.7rem;}'
)


def style() -> None:
    """The dashboard's few CSS rules (layout and tile colours), once per script run;
    a style-only ``st.html`` takes no space on the page."""
    st.html(f"<style>{PAGE_CSS}{tile_css()}</style>")


def delta_colour(name: str, text: str | None) -> tuple[Any, Any]:
    """``(delta_color, delta_arrow)`` of ``st.metric`` for a delta text: the catalog's
    good direction colours a change; "no data" and a change of zero are grey
    without an arrow (no change is neither good nor bad)."""
    if text is None or text == labels.NO_DATA or labels.delta_is_zero(text):
        return "off", "off"
    good = BY_NAME[name].good if name in BY_NAME else "neutral"
    return {"up": "normal", "down": "inverse"}.get(good, "off"), "auto"


def tile(
    where: Any,
    name: str,
    now: dict[str, Any],
    before: dict[str, Any] | None,
    currency: str,
    target: Target | None = None,
    *,
    no_previous: bool = False,
    with_target: bool = True,
) -> None:
    """One KPI tile in ``where`` (a column or placeholder): the value, the delta
    against ``before`` (None: no delta shown) coloured by the catalog's good
    direction, and the target with its status (a coloured badge and border: on
    target green, at risk amber, off target red; grey without a target or a
    value). ``no_previous``: the previous period holds no data, so the delta
    reads "no data". ``with_target`` False: no target line at all (a page that
    does not judge targets). The help text is the KPI's definition."""
    kpi = BY_NAME[name]
    value = now.get(name)
    change = None
    if before is not None:
        change = labels.format_delta(name, value, before.get(name), currency)
        if no_previous and change is not None:
            change = labels.NO_DATA
    color, arrow = delta_colour(name, change)
    status = target.status(value) if target is not None else None
    key = status or "none"
    box = where.container(border=True, key=f"tile--{key}--{name}", gap="xsmall")
    box.metric(
        kpi.label,
        labels.format_value(name, value, currency),
        change,
        delta_color=color,
        delta_arrow=arrow,
        help=kpi.definition,
    )
    if target is None:
        if with_target:
            box.caption(labels.NO_TARGET)
        return
    sign = "≥" if target.direction == "up" else "≤"
    state = labels.status_label(status) if status is not None else "No value"
    summary = labels.target_summary(target, currency)
    if target.scope != "kpi":  # the names are in the settings file, not repeated here
        summary += " (this site's own)" if target.scope == "site" else " (this tier's own)"
    box.badge(
        f"{state} ({sign} {labels.format_bound(name, target.goal, currency)})",
        icon=STATUS_ICONS[key],
        color=STATUS_COLORS[key],
        help=summary[:1].upper() + summary[1:],
    )


def tiles(
    now: dict[str, Any],
    before: dict[str, Any] | None,
    names: Sequence[str],
    currency: str,
    per_row: int = 4,
    *,
    later: Sequence[str] = (),
    targets: Callable[[str], Target | None] | None = None,
    no_previous: bool = False,
) -> dict[str, Any]:
    """KPI tiles (:func:`tile`) with deltas against ``before`` (None: no deltas),
    ``per_row`` to a row; ``targets`` gives each KPI's target (a KPI without one
    says "No target"; ``targets`` None: no target line on any tile).

    Tiles named in ``later`` are drawn as placeholders ("…") and returned, to be
    filled with :func:`tile` once their (slower) numbers are known.
    """
    slots: dict[str, Any] = {}
    for i in range(0, len(names), per_row):
        cols = st.columns(per_row)
        for col, name in zip(cols, names[i : i + per_row], strict=False):
            if name in later:
                slot = col.empty()
                slot.metric(BY_NAME[name].label, "…", border=True, help="computing…")
                slots[name] = slot
            else:
                target = targets(name) if targets is not None else None
                tile(
                    col,
                    name,
                    now,
                    before,
                    currency,
                    target,
                    no_previous=no_previous,
                    with_target=targets is not None,
                )
    return slots


def page_targets(ctx: Context) -> Targets:
    """The KPI targets of the app's settings file; a bad target is one warning on the
    page (the numbers are still shown, without targets)."""
    try:
        return data.targets(ctx.config)
    except ValueError as exc:
        log.error("targets not shown: %s", exc)
        st.warning(f"Targets are not shown: {md_literal(exc)}", icon=":material/flag:")
        return Targets()


TIME_FORMAT = "YYYY-MM-DD HH:mm:ss"
_NUMBER_FORMATS = {
    "count": "%,d",
    "hours": "%,.1f h",
    "touches": "%.2f",
    "share": "percent",
}


def display_frame(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` as a table shows it: values of root causes, severities, tiers and owner
    teams replaced by their labels (``missed_pickup`` -> "Missed pickup"); every
    other column as it is (numbers stay numbers, so columns sort by value)."""
    exprs = []
    for c in df.columns:
        if c in labels.HUMANIZED_DIMENSIONS and df.schema[c] == pl.String:
            mapping = {
                v: labels.value_label(c, v) for v in df[c].unique().to_list() if v is not None
            }
            exprs.append(pl.col(c).replace(mapping))
    return df.with_columns(exprs) if exprs else df


def column_config(df: pl.DataFrame, currency: str = "") -> dict[str, Any]:
    """Streamlit column settings for every column of ``df``: the human label
    (``metrics.labels.column_label``) and the number format of its unit — counts
    with thousands separators, hours with ``h``, shares as %, money as
    ``USD 1,234``, times ``YYYY-MM-DD HH:mm:ss`` (UTC)."""
    config: dict[str, Any] = {}
    for c in df.columns:
        text = labels.column_label(c)
        dtype = df.schema[c]
        unit = labels.unit_of(c)
        if isinstance(dtype, pl.Datetime):
            if "(UTC)" not in text:
                text += " (UTC)"
            config[c] = st.column_config.DatetimeColumn(text, format=TIME_FORMAT)
        elif dtype == pl.Boolean:
            config[c] = st.column_config.CheckboxColumn(text)
        elif dtype.is_numeric() and unit == "currency":
            fmt_ = f"{currency} %,.0f" if currency else "%,.0f"
            config[c] = st.column_config.NumberColumn(text, format=fmt_)
        elif dtype.is_numeric() and unit in _NUMBER_FORMATS:
            number = "%,.1f" if unit == "count" and dtype.is_float() else _NUMBER_FORMATS[unit]
            config[c] = st.column_config.NumberColumn(text, format=number)
        elif dtype.is_numeric():
            config[c] = st.column_config.NumberColumn(text)
        else:
            config[c] = st.column_config.TextColumn(text)
    return config


def table(
    df: pl.DataFrame,
    key: str,
    currency: str = "",
    *,
    overrides: dict[str, Any] | None = None,
    **kwargs: Any,
) -> Any:
    """``st.dataframe`` of ``df`` for people: labelled values (:func:`display_frame`),
    labelled and formatted columns (:func:`column_config`, then ``overrides``), "—"
    for no value, no index. Other keyword arguments go to ``st.dataframe``
    (selection, height). CSV downloads keep the raw frame."""
    config = column_config(df, currency) | (overrides or {})
    return st.dataframe(
        display_frame(df),
        hide_index=True,
        key=key,
        column_config=config,
        placeholder=labels.MISSING,
        **kwargs,
    )


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "data"


def csv_bytes(df: pl.DataFrame) -> bytes:
    """``df`` as UTF-8 CSV (times ISO 8601 UTC) with text cells that would start a
    spreadsheet formula (``=``, ``+``, ``-``, ``@`` …) prefixed with ``'``; numbers,
    negative ones included, are written as numbers."""
    return to_csv(safe_csv_frame(df)).encode("utf-8")


def download(df: pl.DataFrame, name: str, key: str, label: str = "CSV") -> None:
    """A download button with ``df`` as CSV (:func:`csv_bytes`)."""
    st.download_button(
        label,
        data=csv_bytes(df),
        file_name=f"fpi-{_slug(name)}.csv",
        mime="text/csv",
        key=f"dl-{key}",
        help="The numbers behind this view, as CSV",
        icon=":material/download:",
    )


def chart(
    fig: go.Figure,
    df: pl.DataFrame,
    name: str,
    key: str,
    *,
    on_select: Callable[[], None] | None = None,
) -> None:
    """A Plotly chart and the CSV of the frame it was drawn from.

    With ``on_select`` the chart is selectable (a click on a bar reruns the app
    and calls it; the selection is in ``st.session_state[key]``).
    """
    if on_select is not None:
        st.plotly_chart(
            fig,
            key=key,
            on_select=on_select,
            selection_mode=("points",),
            config={"displaylogo": False},
        )
    else:
        st.plotly_chart(fig, key=key, config={"displaylogo": False})
    download(df, name, key)


def empty(message: str) -> None:
    """An explained empty state."""
    st.info(message, icon=":material/info:")


def selected_label(state: Any, axis: str) -> str | None:
    """The ``axis`` value of the first point selected on a chart (its session state,
    ``st.session_state[key]``) as the data holds it (labels are escaped for Plotly);
    None when nothing is selected."""
    points = ((state or {}).get("selection") or {}).get("points") or []
    if not points or points[0].get(axis) is None:
        return None
    return unplot_text(str(points[0][axis]))


def set_filter(dim: str, value: str) -> None:
    """Narrow the whole dashboard to one group (sets the sidebar filter, so the URL)."""
    st.session_state[dim] = [value]


def clear_filters() -> None:
    """Remove every dimension filter (time filters stay)."""
    for d in FILTER_DIMENSIONS:
        st.session_state[d] = []


def ignored_choice(ctx: Context, key: str, labels: Iterable[str], what: str) -> None:
    """Before a control bound to the URL parameter ``key``: when the link gave it a
    value that is not one of ``labels`` (the control's shown options), say that it
    was ignored. Streamlit drops such a value silently; this is shown on the run
    that received the link. ``what`` is the control's name (fixed text)."""
    bad = invalid_choice(ctx.url, key, labels)
    if bad is not None:
        st.warning(
            f"{what} {md_literal(bad)} from the link is not one of the choices; it was ignored.",
            icon=":material/link_off:",
        )


def page_start(title: str, *, needs_data: bool = True, needs_match: bool = True) -> Context:
    """Title, what is shown (as of, period, filters) and the empty states.

    Stops the page with an explanation when the database holds no accepted
    event yet (``needs_data``) or no exception matches the filters at the
    chosen time (``needs_match``).
    """
    ctx = current()
    st.title(title)
    flow_line(ctx)
    if ctx.filters.as_of_error:
        st.warning(as_of_notice(ctx.filters.as_of_error), icon=":material/link_off:")
    for notice in ctx.notices:
        st.warning(notice, icon=":material/link_off:")
    if ctx.win is None:
        if needs_data:
            empty(
                "**No data yet.** The database holds no accepted exception event, so there is "
                f"nothing to show. Feed it with {ingest_hint(ctx)}; this page "
                "refreshes on its own while data arrives."
            )
            st.stop()
        return ctx
    st.caption(window_caption(ctx))
    if needs_match and ctx.where:
        n = data.matching(ctx.db, ctx.stamp, ctx.win.as_of, ctx.where_key)
        if n == 0:
            st.warning(
                f"**No exception matches the filters** ({ctx.filters.describe_md()}) as of "
                f"{ctx.win.as_of:%Y-%m-%d %H:%M}Z. Remove a filter in the sidebar or move "
                "the as-of time.",
                icon=":material/filter_alt_off:",
            )
            st.button("Clear filters", on_click=clear_filters, key="clear-empty")
            st.stop()
    return ctx


def flow_line(ctx: Context) -> None:
    """One line on when the writer was last seen (``dashboard.heartbeat``): a caption,
    or a warning when the live flow's heartbeat is older than ``--stale-after``.

    With auto-refresh on it is a fragment redrawn every ``--refresh`` seconds, so
    the warning appears when the flow stops even though the database then stops
    changing. "Now" is the context's clock (passed in by the entry file).
    """
    if ctx.settings.refresh_seconds > 0:
        st.fragment(_draw_flow_line, run_every=ctx.settings.refresh_seconds)(ctx)
    else:
        _draw_flow_line(ctx)


def _draw_flow_line(ctx: Context) -> None:
    try:
        status = data.flow_status(ctx.db, data_stamp(ctx.settings.db))
        now = ctx.clock() if ctx.clock is not None else None
        line = heartbeat.describe(status, now, ctx.settings.stale_after_seconds)
    except DatabaseError as exc:  # the page itself explains an unreadable database
        log.error("cannot read the flow clock: %s", exc)
        return
    except Exception:
        failure("the live flow status")
        return
    if line is None:
        return
    if line.level == "warning":
        st.warning(line.text, icon=":material/heart_broken:")
    else:
        st.caption(line.text)


def ingest_hint(ctx: Context) -> str:
    """The ``fpi ingest`` command for this database, as a Markdown code span."""
    return md_literal(f"fpi ingest PATH --db {ctx.db}", max_chars=1000)

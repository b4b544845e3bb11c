"""Small Streamlit building blocks shared by the pages.

* :func:`page_start` — title, when the live flow was last seen
  (:func:`flow_line`), the window caption and the empty states (no data yet /
  nothing matches the filters), stopping the page when there is nothing to show;
* :func:`chart` — a Plotly figure with the numbers behind it downloadable as CSV;
* :func:`tiles` — KPI tiles with period-over-period deltas;
* :func:`set_filter` / :func:`clear_filters` — change the global filters
  (session state of the sidebar widgets, hence the URL);
* :func:`ignored_choice` — explain a link value a page control cannot use;
* :func:`failure` — the one-line message a visitor sees when drawing fails
  (the traceback goes to the server log, logger ``fpi.dashboard``).

CSV downloads are neutralised against formula injection
(:func:`core.safe_text.safe_csv_frame`); values in Markdown go through
:func:`dashboard.text.md_literal`.
"""

from __future__ import annotations

import logging
import math
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
from metrics.catalog import BY_NAME
from metrics.filter_values import FILTER_DIMENSIONS

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
    """A KPI value for people: counts with separators, shares in %, hours, money."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    unit = BY_NAME[name].unit if name in BY_NAME else "count"
    if unit == "share":
        return f"{value:.1%}"
    if unit == "hours":
        return f"{value:,.1f} h"
    if unit == "touches":
        return f"{value:,.2f}"
    if unit == "currency":
        return _money(float(value), currency)
    return f"{int(value):,}"


def _money(v: float, currency: str) -> str:
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= div:
            return f"{v / div:,.1f}{suffix} {currency}"
    return f"{v:,.0f} {currency}"


def delta(name: str, now: Any, before: Any, currency: str = "USD") -> str | None:
    """Change since the previous period, in the KPI's unit (shares in points)."""
    if now is None or before is None:
        return None
    if any(isinstance(v, float) and math.isnan(v) for v in (now, before)):
        return None
    d = now - before
    unit = BY_NAME[name].unit if name in BY_NAME else "count"
    if unit == "share":
        return f"{d * 100:+.1f} pp"
    if unit == "hours":
        return f"{d:+,.1f} h"
    if unit == "touches":
        return f"{d:+,.2f}"
    if unit == "currency":
        return ("+" if d >= 0 else "-") + _money(abs(float(d)), currency)
    return f"{int(d):+,}"


def tile(where: Any, name: str, now: dict[str, Any], before: dict[str, Any], currency: str) -> None:
    """One KPI tile in ``where`` (a column or placeholder); the delta colour follows
    the catalog's good direction, the help text is the KPI's definition."""
    kpi = BY_NAME[name]
    color = {"up": "normal", "down": "inverse"}.get(kpi.good, "off")
    where.metric(
        kpi.label,
        fmt(name, now.get(name), currency),
        delta(name, now.get(name), before.get(name), currency),
        delta_color=color,
        help=kpi.definition,
        border=True,
    )


def tiles(
    now: dict[str, Any],
    before: dict[str, Any],
    names: Sequence[str],
    currency: str,
    per_row: int = 4,
    *,
    later: Sequence[str] = (),
) -> dict[str, Any]:
    """KPI tiles with deltas against ``before``, ``per_row`` to a row.

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
                tile(col, name, now, before, currency)
    return slots


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

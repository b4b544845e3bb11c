"""Data quality: what happened to every line read (global, not filtered).

These are integration failures, kept apart from the operational exceptions of
the other pages. Accepted events (by type), duplicates (an ``event_id``
already accepted), rejected lines by reason with samples of the raw text,
pending events (held, waiting for their ``exception.opened``), and every count
by the source system that sent the line, with its rejection rate.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl
import streamlit as st

from core.timeutil import iso_z
from dashboard import charts, data, ui
from metrics.labels import MISSING, format_share
from metrics.quality import RATE


def render() -> None:
    """Draw the page."""
    ctx = ui.page_start("Data quality", needs_data=False, needs_match=False)
    q = data.data_quality(ctx.db, ctx.stamp)
    totals = q.totals
    st.caption(
        "Integration failures — lines the pipeline could not use, repeated or is still "
        "holding — kept apart from the operational exceptions of the other pages. Counts "
        "over everything ingested into this database; the filters do not apply."
    )
    if not any(totals.values()):
        ui.empty(
            "**No data yet.** Nothing has been ingested into this database: no line was "
            f"accepted, rejected or held. Feed it with {ui.ingest_hint(ctx)}."
        )
        return
    ui.tiles(totals, None, list(totals), "")
    ui.chart(
        charts.quality_funnel(totals),
        pl.DataFrame({"outcome": list(totals), "lines": list(totals.values())}),
        "lines-by-outcome",
        "outcomes",
    )
    _by_source(q)

    left, right = st.columns(2)
    accepted = q.accepted
    rejected = q.rejected
    with left:
        if accepted.height == 0:
            st.markdown("**Accepted events by type**")
            ui.empty("No event accepted yet.")
        else:
            ui.chart(
                charts.count_bars(accepted, "event_type", "events", "Accepted events by type"),
                accepted,
                "accepted-by-type",
                "accepted",
            )
    with right:
        if rejected.height == 0:
            st.markdown("**Rejected lines by reason**")
            ui.empty("No line was rejected: every line parsed and passed the contract.")
        else:
            ui.chart(
                charts.count_bars(
                    rejected, "reason", "events", "Rejected lines by reason", charts.BAD
                ),
                rejected,
                "rejected-by-reason",
                "rejected",
            )

    samples = q.samples
    if samples.height:
        st.subheader("Samples of rejected lines")
        reasons = rejected["reason"].to_list()
        ui.ignored_choice(ctx, "reason", reasons, "Reason")
        reason = (
            st.selectbox(
                "Reason",
                reasons,
                key="reason",
                bind="query-params",
            )
            or reasons[0]
        )
        shown = samples.filter(pl.col("reason") == reason)
        ui.table(
            shown.select("raw", "detail", "source", "source_offset", "received_at"),
            "rejected-samples",
        )
        ui.download(shown, f"rejected-{reason}", "samples")

    pending = q.pending
    st.subheader("Pending events")
    if pending.height == 0:
        ui.empty("No event is held: every follow-up event found its `exception.opened`.")
    else:
        oldest = pending["oldest"].min()
        when = iso_z(oldest) if isinstance(oldest, datetime) else "—"
        st.caption(
            f"{int(pending['events'].sum()):,} events held, oldest from "
            f"{when}; they apply when the opened "
            "event arrives."
        )
        ui.table(pending, "pending-summary")
        sample = q.pending_sample
        ui.table(sample, "pending-sample")
        ui.download(sample, "pending-events", "pending")

    dups = q.duplicates
    st.subheader("Duplicates")
    if dups.height == 0:
        ui.empty("No duplicate line: every event_id arrived once.")
    else:
        st.caption(
            f"{totals.get('duplicate_events', 0):,} lines repeated an event_id already "
            "accepted and changed nothing. The most recent:"
        )
        ui.table(dups, "duplicates")
        ui.download(dups, "duplicate-events", "duplicates")


def _rate(value: object) -> str:
    return format_share(value) if isinstance(value, float) else MISSING


def _by_source(q: data.QualityView) -> None:
    """Every count per source system, with the rejection rate of each and overall."""
    st.subheader("By source system")
    src = q.by_source
    overall = q.summary.row(0, named=True) if q.summary.height else {}
    st.metric(
        "Rejection rate",
        _rate(overall.get(RATE)),
        help="Rejected ÷ (accepted + duplicates + rejected + pending) over every line read.",
        border=True,
    )
    st.caption(
        "Each line counts for the source system it names (`(unknown)`: not a JSON object "
        "with a `source_system`). Rejection rate = rejected ÷ every line of the source "
        "(accepted + duplicates + rejected + pending). A source sending many rejects has an "
        "integration problem to fix at the source, not an operational exception."
    )
    ui.table(
        src,
        "quality-by-source",
        overrides={
            "accepted_events": st.column_config.NumberColumn("Accepted", format="%,d"),
            "duplicate_events": st.column_config.NumberColumn("Duplicates", format="%,d"),
            "rejected_events": st.column_config.NumberColumn("Rejected", format="%,d"),
            "pending_events": st.column_config.NumberColumn("Pending", format="%,d"),
            RATE: st.column_config.NumberColumn("Rejection rate", format="percent"),
        },
    )
    ui.download(src, "quality-by-source-system", "by-source")
    rejecting = src.filter(pl.col("rejected_events") > 0)
    if rejecting.height:
        ui.chart(
            charts.count_bars(
                rejecting,
                "source_system",
                "rejected_events",
                "Rejected lines by source system",
                charts.BAD,
            ),
            rejecting,
            "rejected-by-source",
            "rejected-source",
        )


render()

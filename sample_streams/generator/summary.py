"""Counts of a generated stream: running :class:`Stats` and the public
:class:`GenerationSummary` made from them."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .labels import BAD_LINE_KINDS
from .timestamps import UTC_Z, format_ts


@dataclass(frozen=True)
class GenerationSummary:
    """Counts of one generated stream (what the pipeline should report for it)."""

    lines: int
    """Non-blank lines written (events, duplicates and bad lines)."""
    events: int
    """Distinct valid events: what the pipeline accepts."""
    duplicates: int
    """Re-sends of an accepted ``event_id`` (including ``conflicting_duplicates``)."""
    conflicting_duplicates: int
    """Re-sends with the same ``event_id`` but a different body."""
    bad_lines: int
    """Lines the pipeline must reject (sum of ``rejects``)."""
    rejects: dict[str, int]
    """Bad lines by rejection reason."""
    blank_lines: int
    orders: int
    """Orders released in the stream."""
    order_lines: int
    exceptions: int
    """Exceptions opened in the stream."""
    planted_exceptions: int
    """Exceptions on the planted carrier and lane."""
    open_at_end: int
    """Exceptions open or paused at the end of the stream (the backlog)."""
    cancelled: int
    first_occurred_at: str | None
    data_clock: str | None
    """Largest ``occurred_at`` of the accepted events (UTC)."""

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-able data."""
        return asdict(self)

    def __str__(self) -> str:
        rej = ", ".join(f"{k} {v}" for k, v in self.rejects.items() if v)
        return (
            f"{self.events:,} events ({self.orders:,} orders, {self.order_lines:,} lines, "
            f"{self.exceptions:,} exceptions, {self.open_at_end:,} open at end), "
            f"{self.duplicates:,} duplicates, {self.bad_lines:,} bad lines"
            + (f" ({rej})" if rej else "")
            + f", {self.blank_lines} blank; data clock {self.data_clock}"
        )


@dataclass(slots=True)
class Stats:
    """Running counts, filled in while the stream is generated."""

    orders: int = 0
    order_lines: int = 0
    exceptions: int = 0
    planted_exceptions: int = 0
    open_at_end: int = 0
    cancelled: int = 0
    events: int = 0
    duplicates: int = 0
    conflicting_duplicates: int = 0
    blank_lines: int = 0
    rejects: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BAD_LINE_KINDS, 0))
    first_ms: int | None = None
    last_ms: int | None = None


def summarize(st: Stats, lines: int) -> GenerationSummary:
    """The summary of a finished stream of ``lines`` non-blank lines."""
    bad = sum(st.rejects.values())
    return GenerationSummary(
        lines=lines,
        events=st.events,
        duplicates=st.duplicates,
        conflicting_duplicates=st.conflicting_duplicates,
        bad_lines=bad,
        rejects=dict(st.rejects),
        blank_lines=st.blank_lines,
        orders=st.orders,
        order_lines=st.order_lines,
        exceptions=st.exceptions,
        planted_exceptions=st.planted_exceptions,
        open_at_end=st.open_at_end,
        cancelled=st.cancelled,
        first_occurred_at=None if st.first_ms is None else format_ts(st.first_ms, UTC_Z),
        data_clock=None if st.last_ms is None else format_ts(st.last_ms, (0, "Z", True)),
    )

"""Ground truth of a generated stream: the planted bottleneck and the line labels.

What the tests (and the pipeline's expected results) are checked against.
"""

from __future__ import annotations

from typing import Final

PLANTED_CARRIER: Final = "REDLINE"
PLANTED_ORIGIN: Final = "ATL"
PLANTED_DESTINATION: Final = "MIA"

PLANTED_BOTTLENECK: Final[dict[str, str]] = {
    "carrier": PLANTED_CARRIER,
    "lane": f"{PLANTED_ORIGIN}→{PLANTED_DESTINATION}",
    "origin": PLANTED_ORIGIN,
    "destination": PLANTED_DESTINATION,
    "site": "DC-ATL",
    "category": "missed_pickup",
    "active_time_factor": "4-6",
    "exception_rate_factor": "8",
}
"""What is planted: exceptions on orders of ``carrier`` on ``lane`` (from
``site``) happen ``exception_rate_factor`` times as often per order and take
``active_time_factor`` times the active time of a medium-severity exception of
the same root cause, with more touches, escalations and reopens; ``category``
is their most frequent root cause. Guaranteed by the tests: ``carrier`` is the
top carrier, ``lane`` the top lane and ``site`` the top site by SLA overrun
hours. (``category`` is usually, not always, the top root cause.)"""

BAD_LINE_KINDS: Final[tuple[str, ...]] = (
    "invalid_json",
    "schema",
    "unknown_event_type",
    "unsupported_version",
    "naive_timestamp",
    "unknown_currency",
    "duplicate_open",
)
"""Labels of bad lines, equal to the rejection reason the pipeline must give."""

LABEL_EVENT: Final = "event"
LABEL_DUPLICATE: Final = "duplicate"
LABEL_CONFLICTING_DUPLICATE: Final = "conflicting_duplicate"
LABEL_BLANK: Final = "blank"

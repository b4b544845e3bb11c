"""The line every page shows about the writer: when the live flow was last seen.

From the ``flow_clock`` row (``metrics.flow_status``):

* a live flow (``fpi stream``) — when its last heartbeat was, and whether it is
  caught up; a **warning** when that heartbeat is older than the stale-after
  limit (``fpi dashboard --stale-after``): the flow has stopped or cannot
  commit, and the numbers may be out of date;
* a file ingest (``fpi ingest``) — when data was last ingested (an ingest ends,
  so an old time is no warning);
* no row (a database written before the heartbeat existed) — nothing.

Pure functions: "now" is passed in, and no Streamlit here (``dashboard.ui``
draws the line). Every value is fixed text, a time or a number, so the
Markdown is safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from core.timeutil import iso_z
from metrics.flow_status import FlowStatus

Level = Literal["caption", "warning"]


@dataclass(frozen=True, slots=True)
class Line:
    """What to show: ``level`` (a caption, or a warning) and its Markdown text."""

    level: Level
    text: str


def ago(seconds: float) -> str:
    """A duration for people: ``12 s``, ``5 min``, ``3.5 h``, ``2.0 days``."""
    if seconds < 1:
        return "less than a second"
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _lag(status: FlowStatus) -> str:
    if status.caught_up:
        return "caught up"
    if status.lag is None:
        return "catching up"
    return f"catching up, {status.lag:,} messages behind"


def describe(status: FlowStatus | None, now: datetime | None, stale_after: float) -> Line | None:
    """The line for ``status`` at ``now`` (None: age not judged); None for no status."""
    if status is None:
        return None
    when = iso_z(status.heartbeat_at)
    age = None if now is None else status.heartbeat_age_seconds(now)
    since = "" if age is None else f" ({ago(age)} ago)"
    if not status.is_live:
        return Line("caption", f"Data last ingested **{when}**{since} by `fpi ingest`.")
    if now is not None and age is not None and status.is_stale(now, stale_after):
        return Line(
            "warning",
            f"**The live flow has not been seen for {ago(age)}** (last heartbeat {when}; "
            f"the limit is {ago(stale_after)}). It may have stopped: the numbers "
            "and alerts here are as of that time. Check that `fpi stream` is running.",
        )
    return Line("caption", f"Live flow last seen **{when}**{since} · {_lag(status)}.")

"""What a KPI report says, as data: computed once from the metric layer, rendered by
every format (PDF, XLSX, HTML, Markdown, JSON, CSV).

Definitions:

* **Period** — stock KPIs as of T, flow KPIs over [from, T)
  (``metrics.query.window``: T defaults to the data clock, from to T − 7 days),
  exactly as ``fpi kpis`` with the same ``--as-of``/``--from``/``--where``. The
  filters apply to every number except data quality, which is global.
* **Previous period** — the period of equal length just before, [from − (T −
  from), from), evaluated as of its end (= from): stock KPIs compare with the
  start of the period, flow KPIs with the period before (as the dashboard's
  tiles). It is **without data** when no exception matching the filters existed
  at its end, or when the period has no length; then every change reads "no
  data" (:mod:`fpi.report.kpi_line`).
* **Targets** — ``metrics.targets``: the KPI's own target, or a site's
  (customer tier's) override when the filters pin exactly one site (tier).
* **Trend** — ``metrics.series.trend`` over the period at :func:`trend_grain`.
* **Bottlenecks** — ``metrics.bottlenecks`` by lane, site, carrier and root
  cause (top :data:`TOP_BOTTLENECKS` each); the headline's focus
  (:mod:`fpi.report.headline`) also reads the carrier × lane heatmap.
* **Top open exceptions** — ``metrics.queue.open_queue`` sorted by the order
  value each puts at risk (top :data:`TOP_OPEN`), plus how many are open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from core.config import Settings
from metrics.bottlenecks import BOTTLENECK_DIMENSIONS, bottleneck_lists
from metrics.breakdowns import heatmap
from metrics.quality import quality, rejected_by_reason
from metrics.query import ORDER_KPIS, STOCK_FLOW, Window, compute, window
from metrics.queue import matching_exceptions, open_count, open_queue
from metrics.series import trend
from metrics.targets import Targets, load_targets

from .headline import Focus, find_focus, sentence
from .kpi_line import KpiLine

REPORT_KPIS: tuple[str, ...] = (*STOCK_FLOW, *ORDER_KPIS)
"""Every KPI a report shows, in catalog order (data quality is a section of its own)."""
TOP_BOTTLENECKS = 10
TOP_OPEN = 25
GRAIN_STEPS: tuple[timedelta, ...] = (
    timedelta(hours=1),
    timedelta(hours=6),
    timedelta(days=1),
    timedelta(weeks=1),
)
MAX_TREND_POINTS = 60
NO_EVENTS = "No data yet: the database holds no accepted events."


def trend_grain(win: Window) -> timedelta:
    """The first of :data:`GRAIN_STEPS` that draws the period in at most
    :data:`MAX_TREND_POINTS` points (a week for anything longer than a year)."""
    length = win.as_of - win.start
    for step in GRAIN_STEPS:
        if length / step <= MAX_TREND_POINTS - 1:
            return step
    return GRAIN_STEPS[-1]


def previous_window(win: Window) -> Window:
    """The period of equal length before ``win``, as of its end (``win.start``)."""
    return Window(win.start, win.start - (win.as_of - win.start))


@dataclass(frozen=True, slots=True)
class Report:
    """Everything a report shows. ``window`` None: the database has no data (and no
    as-of time was given); then every frame is empty and ``lines`` is empty."""

    generated_at: datetime
    currency: str
    where: dict[str, list[str]]
    window: Window | None
    previous: Window | None
    previous_has_data: bool
    lines: tuple[KpiLine, ...]
    headline: str
    grain: timedelta | None = None
    trend: pl.DataFrame = field(default_factory=pl.DataFrame)
    bottlenecks: dict[str, pl.DataFrame] = field(default_factory=dict)
    focus: Focus | None = None
    top_open: pl.DataFrame = field(default_factory=pl.DataFrame)
    open_count: int = 0
    quality: dict[str, int] = field(default_factory=dict)
    rejected: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def by_name(self) -> dict[str, KpiLine]:
        """The KPI lines by KPI name."""
        return {line.name: line for line in self.lines}

    @property
    def kpis(self) -> dict[str, Any]:
        """KPI name -> value for the period (what ``fpi kpis`` prints)."""
        return {line.name: line.value for line in self.lines}

    @property
    def previous_kpis(self) -> dict[str, Any] | None:
        """KPI name -> value for the previous period; None when it has no data."""
        if not self.previous_has_data:
            return None
        return {line.name: line.previous for line in self.lines}


def _row(df: pl.DataFrame) -> dict[str, Any]:
    return df.row(0, named=True) if df.height else {}


def _lines(
    now: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    targets: Targets,
    where: Mapping[str, list[str]],
) -> tuple[KpiLine, ...]:
    return tuple(
        KpiLine(
            name,
            now.get(name),
            None if before is None else before.get(name),
            targets.for_filters(name, where),
        )
        for name in REPORT_KPIS
    )


def build_report(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime | None,
    start: datetime | None,
    *,
    generated_at: datetime,
    where: dict[str, list[str]] | None = None,
    settings: Settings,
) -> Report:
    """Compute the report (see the module docstring). ``ValueError`` for a ``start``
    after the as-of time or a bad ``[targets]`` configuration."""
    where = {k: list(v) for k, v in (where or {}).items()}
    targets = load_targets(settings)
    currency = settings.reporting_currency
    common: dict[str, Any] = {
        "generated_at": generated_at,
        "currency": currency,
        "where": where,
        "quality": quality(con),
        "rejected": rejected_by_reason(con),
    }
    win = window(con, as_of, start)
    if win is None:
        return Report(
            window=None,
            previous=None,
            previous_has_data=False,
            lines=(),
            headline=NO_EVENTS,
            **common,
        )
    prev = previous_window(win)
    now = _row(compute(con, win, where=where))
    has_prev = win.start < win.as_of and matching_exceptions(con, prev.as_of, where) > 0
    before = _row(compute(con, prev, where=where)) if has_prev else None
    lines = _lines(now, before, targets, where)
    lists = bottleneck_lists(con, win, BOTTLENECK_DIMENSIONS, where=where, top=TOP_BOTTLENECKS)
    pairs = heatmap(con, win, "carrier", "lane", where=where)
    focus = find_focus(lists, pairs, where)
    grain = trend_grain(win)
    return Report(
        window=win,
        previous=prev,
        previous_has_data=has_prev,
        lines=lines,
        headline=sentence({ln.name: ln for ln in lines}, focus, currency),
        grain=grain,
        trend=trend(con, win.as_of, win.start, grain, where=where),
        bottlenecks=lists,
        focus=focus,
        top_open=open_queue(con, win.as_of, where=where, sort="revenue", limit=TOP_OPEN),
        open_count=open_count(con, win.as_of, where=where),
        **common,
    )

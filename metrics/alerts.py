"""SLA alerts (kpis.md, "SLA alerts"): the rows of ``sla_alerts``, newest first.

The writer raises an alert when the data clock reaches its ``due_at`` and
retracts it (``retracted_at``) when a late event shows it was not due; nothing
is deleted. An alert **stands** while it is not retracted, and is **active**
while it stands and its exception is open or paused.

:func:`alerts` reads them as of a time T (default: the data clock,
:func:`metrics.query.data_clock`):

* with ``as_of`` given, only alerts raised by T count, an alert retracted after
  T still stands, and the exception's status is the one in force at T
  (``exception_versions``); without it, every row as stored and the
  exception's current status;
* ``overdue_hours`` = T − ``due_at`` in wall-clock hours: how long ago the
  alert fell due (for a breach alert, how long the exception has been past its
  target, pauses included);
* dimension filters (``where``) apply to the alert's own dimensions, exactly
  as ``metrics.dimensions.filter_sql`` filters exceptions elsewhere
  (``owner_team`` is the alert's, as of its latest write).

A database written before ``sla_alerts`` existed has no alerts (an empty frame
with the columns below).
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import polars as pl

from core import schema
from core.db import fetch_pl

from .dimensions import EXCEPTION_COLUMNS, filter_sql
from .flow_status import relation_columns
from .query import data_clock

KINDS: tuple[str, ...] = ("at_risk", "breached")
"""The kinds of alert: SLA clock at 80 % of the target, and past it."""
KIND_LABELS: dict[str, str] = {"at_risk": "at risk", "breached": "breached"}

ACTIVE_STATUSES: tuple[str, ...] = ("open", "paused")
"""An alert is active while it stands and its exception has one of these statuses."""

ALERT_COLUMNS: dict[str, pl.DataType] = {
    "alert_id": pl.String(),
    "kind": pl.String(),
    "exception_id": pl.String(),
    "order_id": pl.String(),
    "status": pl.String(),
    "active": pl.Boolean(),
    "due_at": pl.Datetime("us", "UTC"),
    "raised_at": pl.Datetime("us", "UTC"),
    "retracted_at": pl.Datetime("us", "UTC"),
    "overdue_hours": pl.Float64(),
    "severity": pl.String(),
    "customer_tier": pl.String(),
    "site": pl.String(),
    "lane": pl.String(),
    "carrier": pl.String(),
    "category": pl.String(),
    "owner_team": pl.String(),
    "source_system": pl.String(),
    "order_value_reporting": pl.Float64(),
    "sla_target_hours": pl.Float64(),
    "revision": pl.Int64(),
}
"""The columns of :func:`alerts`, in order.

``status``: the exception's status (at T with ``as_of``; null if it did not
exist then); ``active``: standing and the exception open or paused;
``overdue_hours``: T − ``due_at`` in hours; the dimensions, order value
(reporting currency) and SLA target are the alert's."""

_ORDER = "raised_at DESC, due_at DESC, alert_id"
"""Newest first: by ``raised_at``, then ``due_at``, then ``alert_id`` (a total order)."""

_STATUS_NOW = "SELECT exception_id, status FROM exceptions"
_STATUS_AT_T = (
    "SELECT exception_id, status FROM exception_versions "
    "WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)"
)


def empty() -> pl.DataFrame:
    """An alert frame with no row (the columns of :data:`ALERT_COLUMNS`)."""
    return pl.DataFrame(schema=ALERT_COLUMNS)


def has_alerts_table(con: duckdb.DuckDBPyConnection) -> bool:
    """The database has ``sla_alerts`` with every column this module reads."""
    need = {c.name for c in schema.SLA_ALERTS.fields}
    return need <= relation_columns(con, schema.SLA_ALERTS.name)


def alerts(
    con: duckdb.DuckDBPyConnection,
    *,
    active_only: bool = False,
    kind: str | None = None,
    where: dict[str, list[str]] | None = None,
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """SLA alerts newest first (``raised_at`` DESC, ``due_at`` DESC, ``alert_id``).

    ``active_only``: only active alerts (standing, exception open or paused);
    ``kind``: one of :data:`KINDS` (None: both); ``where``: dimension filters
    (``{dim: [values]}``, dimensions ANDed, values ORed); ``as_of``: see the
    module docstring. Columns: :data:`ALERT_COLUMNS`. Raises ``ValueError`` for
    an unknown kind or dimension.
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"unknown alert kind {kind!r}; use one of: {', '.join(KINDS)}")
    params: dict[str, object] = {}
    cond = filter_sql(where or {}, EXCEPTION_COLUMNS, params)
    assert cond is not None  # sla_alerts has every dimension, named as the exception's
    if not has_alerts_table(con):
        return empty()
    t = as_of if as_of is not None else data_clock(con)
    params["t"] = t
    conds = [cond]
    if kind is not None:
        params["kind"] = kind
        conds.append("kind = $kind")
    if as_of is not None:
        conds.append("raised_at <= $t")
        standing = "(retracted_at IS NULL OR retracted_at > $t)"
        status_sql = _STATUS_AT_T
    else:
        standing = "retracted_at IS NULL"
        status_sql = _STATUS_NOW
    statuses = ", ".join(f"'{s}'" for s in ACTIVE_STATUSES)
    active = f"{standing} AND coalesce(s.status IN ({statuses}), false)"
    # every name and condition is a constant of the metric layer; values are bound
    sql = f"""
WITH a AS (SELECT * FROM {schema.SLA_ALERTS.name} WHERE {" AND ".join(conds)}),
s AS ({status_sql}),
j AS (
    SELECT a.*, s.status, {active} AS active,
           (epoch_us($t::TIMESTAMPTZ) - epoch_us(a.due_at)) / 3.6e9 AS overdue_hours
    FROM a LEFT JOIN s USING (exception_id)
)
SELECT {", ".join(ALERT_COLUMNS)} FROM j
{"WHERE active" if active_only else ""}
ORDER BY {_ORDER}"""  # noqa: S608
    df = fetch_pl(con, sql, params)
    return df.cast(ALERT_COLUMNS)  # type: ignore[arg-type]


def active_alerts(
    con: duckdb.DuckDBPyConnection,
    *,
    kind: str | None = None,
    where: dict[str, list[str]] | None = None,
    as_of: datetime | None = None,
) -> pl.DataFrame:
    """:func:`alerts` that are active (what the dashboard's Alerts page lists)."""
    return alerts(con, active_only=True, kind=kind, where=where, as_of=as_of)


def counts_by_kind(df: pl.DataFrame) -> dict[str, int]:
    """How many rows of an alert frame are of each kind (every kind, 0 when none)."""
    got = dict(df.group_by("kind").len().iter_rows()) if df.height else {}
    return {k: int(got.get(k, 0)) for k in KINDS}

"""KPI queries: stock KPIs as of T, flow KPIs over [from, to) evaluated as of ``to``.

How "as of T" works: ``exception_versions`` holds one row per interval of an
exception's state (``valid_from <= T < valid_to``; ``valid_to`` NULL = still).
The version in force at T gives status, owner team, touches, escalation,
reopens, resolution and the SLA clock (``active_seconds`` at ``valid_from``,
plus ``T - valid_from`` while open). Exceptions not yet opened at T have no
version and do not exist as of T.

The SQL is generated from the KPI catalog (``metrics.sql``) over the working
sets of ``metrics.working_set``; this module runs it and applies the catalog's
null and type rules. All SQL is parameterised: dimension names come only from
``metrics.dimensions.DIMENSIONS``; times and filter values are bound.

Exact arithmetic: the same database gives the same digits on every call,
whatever order DuckDB's threads add rows in. Money is summed as
``DECIMAL(18, 4)`` (each order's value rounded to 1/10,000 of the reporting
currency first), SLA overrun as ``DECIMAL(18, 6)`` seconds, and the mean
resolution time over integer microseconds; shares are sums of 0/1, and
quantiles sort, so neither depends on the order of addition.

Choices where kpis.md is silent (also in the README):

* revenue at risk in a group or under filters applies the definition to that
  subset of exceptions (an order counts once per group it appears in);
* ``breached_revenue_at_risk`` values an order like ``revenue_at_risk`` (its
  most recently opened open exception) when any of its open exceptions is
  breached;
* order KPIs use the latest ``order.released`` as of ``to`` for attributes and
  the promise, the first release for "released in the period", the latest
  ``order.delivered`` as of ``to``; orders never released are not counted; by
  or filtered on a dimension orders lack (category, severity, owner_team) they
  are null;
* ``exception_rate`` counts any exception of the order opened by ``to``,
  cancelled ones included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import duckdb
import polars as pl

from core.db import fetch_pl, fetch_row, quality_counts
from core.timeutil import from_us

from . import sla_clock, working_set
from .catalog import CATALOG, HELPERS, Kpi, names, of_source
from .dimensions import EXCEPTION_COLUMNS, ORDER_COLUMNS, filter_sql, group_sql
from .flow_status import flow_status
from .sql import grouped

DEFAULT_PERIOD = timedelta(days=7)
ALL = "'all'"
"""The group of every row when there is no breakdown."""

STOCK_FLOW = names("stock", "flow")
"""The exception KPIs (stock and flow), in catalog order."""
ORDER_KPIS = names("orders")
QUALITY = names("quality")
INT_KPIS = [k.name for k in CATALOG if k.integer and k.kind != "quality"]
"""Counts: integers, 0 over an empty set."""
HELPER_COLUMNS = [h.name for h in HELPERS]


def exception_kpis_sql(*, helpers: bool = True) -> str:
    """The aggregates over ``xf`` and ``ro`` joined per group (needs the CTEs of
    ``working_set.exceptions``): every exception KPI of the catalog, plus the
    bottleneck helper measures."""
    exc = of_source("exceptions", helpers=helpers)
    rev = of_source("at_risk_orders")
    rev_cols = ", ".join(f"r.{k.name}" for k in rev)
    return f"""{working_set.AT_RISK_ORDERS},
k AS ({grouped(exc, "xf")}),
r AS ({grouped(rev, "ro")})
SELECT k.*, {rev_cols} FROM k LEFT JOIN r ON k.grp IS NOT DISTINCT FROM r.grp"""  # noqa: S608


def has_order_firsts(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``order_state`` keeps its first delivery and carrier shipment
    times (a database of an earlier release read without an upgrade does not:
    its straddling orders are all replayed, ``working_set.orders(firsts=False)``)."""
    row = fetch_row(
        con,
        "SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
        "AND table_name = 'order_state' AND column_name = 'first_ship_at'",
    )
    return bool(row and row[0])


def order_kpis_sql() -> str:
    """The order KPIs over ``of`` (needs the CTEs of ``working_set.orders``)."""
    return grouped(of_source("orders"), "of")


def kpi_statement(kpi: Kpi) -> str:
    """The SQL that computes ``kpi`` alone for ``fpi kpis`` without ``--by`` or
    ``--where`` (``$t`` = the as-of time, ``$from`` = the period start): what
    ``fpi explain`` prints. With ``--by``/``--where`` only ``grp`` and the
    ``WHERE`` of the working set change."""
    m = kpi.measure
    if m.source == "quality":
        return f"SELECT count(*) AS {kpi.name} FROM {m.expr}"  # noqa: S608 - catalog constants
    if m.source == "orders":
        return f"WITH {working_set.orders(ALL, 'TRUE')}\n{grouped([kpi], 'of')}"
    ctes = working_set.exceptions_at(ALL, "TRUE")
    if m.source == "at_risk_orders":
        return f"WITH {ctes},\n{working_set.AT_RISK_ORDERS}\n{grouped([kpi], 'ro')}"
    return f"WITH {ctes}\n{grouped([kpi], 'xf')}"


def typed(df: pl.DataFrame, kpis: list[Kpi]) -> pl.DataFrame:
    """Apply the catalog's null and type rules to KPI columns of ``df``: counts and
    sums are 0 over an empty set (null after an outer join) and counts are
    integers; means, shares and quantiles stay null."""
    return df.with_columns(
        [
            (pl.col(k.name) if k.nullable else pl.col(k.name).fill_null(0)).cast(
                pl.Int64 if k.integer else pl.Float64
            )
            for k in kpis
        ]
    )


@dataclass(frozen=True, slots=True)
class Window:
    """Stock KPIs as of ``as_of``; flow KPIs over [``start``, ``as_of``)."""

    as_of: datetime
    start: datetime


def data_clock(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """The data clock of kpis.md: the largest ``occurred_at`` among accepted events,
    or the writer's ``flow_clock.data_clock`` when that is later (a live flow that
    is caught up runs it on the wall clock of its heartbeats). None for a database
    with neither (no accepted event, no clock written yet). A database written
    before ``flow_clock`` existed has events only.

    With a writer's clock, only events after it are looked for (the Parquet
    parts' statistics skip the rest): the result is the same maximum."""
    status = flow_status(con)
    flow = status.data_clock if status is not None else None
    sql = "SELECT epoch_us(max(occurred_at)) FROM exception_events"
    if flow is None:
        (us,) = fetch_row(con, sql)
    else:
        (us,) = fetch_row(con, f"{sql} WHERE occurred_at > $flow", {"flow": flow})
    events = from_us(int(str(us))) if us is not None else None
    if events is None or flow is None:
        return events if flow is None else flow
    return max(events, flow)


def window(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime | None = None,
    start: datetime | None = None,
) -> Window | None:
    """Resolve defaults: T = data clock, from = T - 7 days. None when no data and no T."""
    t = as_of if as_of is not None else data_clock(con)
    if t is None:
        return None
    s = start if start is not None else t - DEFAULT_PERIOD
    if s > t:
        raise ValueError(f"--from ({s.isoformat()}) is after the as-of time ({t.isoformat()})")
    return Window(t, s)


def compute(
    con: duckdb.DuckDBPyConnection,
    win: Window,
    *,
    by: str | None = None,
    where: dict[str, list[str]] | None = None,
    extras: bool = False,
) -> pl.DataFrame:
    """Stock, flow and order KPIs; one row per group of ``by`` (one row without).

    Groups are every value of ``by`` among exceptions opened by T (and orders
    released or delivered in the period, for dimensions orders have), sorted.
    With ``extras`` the helper columns ``bottleneck_exceptions``,
    ``bottleneck_breached`` and ``has_exceptions`` are kept.
    """
    where = where or {}
    params: dict[str, object] = {"t": win.as_of, "from": win.start}
    x_where = filter_sql(where, EXCEPTION_COLUMNS, params)
    x_grp = group_sql(by, EXCEPTION_COLUMNS)
    assert x_where is not None and x_grp is not None  # every dimension has an exception column
    ctes = working_set.exceptions_at(x_grp, x_where)
    exc = fetch_pl(con, *sla_clock.prepare(con, f"WITH {ctes}, {exception_kpis_sql()}", params))
    o_where = filter_sql(where, ORDER_COLUMNS, params)
    o_grp = group_sql(by, ORDER_COLUMNS)
    order_df: pl.DataFrame | None = None
    if o_where is not None and o_grp is not None:
        o_sql = working_set.orders(o_grp, o_where, firsts=has_order_firsts(con))
        order_df = fetch_pl(con, f"WITH {o_sql} {order_kpis_sql()}", params)
    return _assemble(exc, order_df, by, extras)


def _assemble(
    exc: pl.DataFrame, orders: pl.DataFrame | None, by: str | None, extras: bool
) -> pl.DataFrame:
    groups = [exc.select("grp")]
    if orders is not None:
        groups.append(orders.select("grp"))
    keys = pl.concat([g.cast({"grp": pl.String}) for g in groups]).unique()
    if by is None:
        keys = pl.DataFrame({"grp": ["all"]})
    out = keys.join(exc.cast({"grp": pl.String}), on="grp", how="left")
    if orders is not None:
        out = out.join(orders.cast({"grp": pl.String}), on="grp", how="left")
    else:
        out = out.with_columns([pl.lit(None, dtype=pl.Float64).alias(n) for n in ORDER_KPIS])
    out = typed(out, [k for k in CATALOG + HELPERS if k.kind != "quality"])
    cols = ["grp", *STOCK_FLOW, *ORDER_KPIS]
    if extras:
        seen = exc["grp"].cast(pl.String)
        out = out.with_columns(has_exceptions=pl.col("grp").is_in(seen.implode()))
        cols += [*HELPER_COLUMNS, "has_exceptions"]
    out = out.select(cols).sort("grp")
    if by is None:
        return out.drop("grp")
    return out.rename({"grp": by})


def kpis(
    con: duckdb.DuckDBPyConnection,
    as_of: datetime | None = None,
    start: datetime | None = None,
    *,
    by: str | None = None,
    where: dict[str, list[str]] | None = None,
) -> pl.DataFrame:
    """What ``fpi kpis`` prints: ``compute`` plus ``as_of``/``period_from`` columns.

    Without ``by`` the data-quality totals (global, not filtered) are added.
    An empty database without ``as_of`` gives an empty frame.
    """
    win = window(con, as_of, start)
    if win is None:
        return pl.DataFrame()
    df = compute(con, win, by=by, where=where)
    stamps = [
        pl.lit(win.as_of).cast(pl.Datetime("us", "UTC")).alias("as_of"),
        pl.lit(win.start).cast(pl.Datetime("us", "UTC")).alias("period_from"),
    ]
    lead = [by] if by else []
    df = df.with_columns(stamps).select([*lead, "as_of", "period_from", *STOCK_FLOW, *ORDER_KPIS])
    if by is None:
        df = df.with_columns(
            [pl.lit(v, dtype=pl.Int64).alias(k) for k, v in quality_counts(con).items()]
        )
    return df

"""The working sets the KPI catalog aggregates over, each defined once.

* **exceptions** (CTEs ``x`` and ``xf``): one row per exception existing at an
  as-of time ``t`` (opened by then), from the state version in force at ``t``
  (``valid_from <= t < valid_to``). Columns: the exception's dimensions,
  ``t`` and ``t_from`` (the period is ``[t_from, t)``), status, owner team
  (as of ``t``), touches, escalation, reopens, ``resolved_at``,
  ``cancelled_at``, and

  - ``active_s`` — the SLA clock at ``t`` (active seconds at the version's
    start, plus, while open, the working time of the site's calendar in
    ``[valid_from, t)``: ``cum(t) − working_us_at_start`` with ``cum(t)`` from
    the bound ``clk`` table of :mod:`metrics.sla_clock`, 24×7 ``t −
    valid_from``); ``target_s`` — the target (in working hours);
  - ``age_h`` — ``t - opened_at`` in hours; ``resolution_us`` /
    ``resolution_h`` — ``resolved_at - opened_at`` in microseconds / hours;
  - ``is_open`` (open or paused), ``is_res`` (resolved with ``resolved_at`` in
    the period), ``is_breached`` (``active_s > target_s``), ``is_at_risk`` (not
    breached, ``active_s >= 0.8 × target_s``), ``grp`` (the group).

  The versions come from a CTE ``v`` with ``t`` and ``t_from`` columns: one
  as-of time for ``fpi kpis`` (:data:`VERSIONS_AT_T`), or a grid of times for
  trends (``metrics.series``), so both run the same definitions. Every query
  over these CTEs binds the ``clk`` parameters for its as-of times
  (``metrics.sla_clock.prepare``). ``age_h`` and ``resolution_h`` stay wall-clock.
* **at-risk orders** (``ro``): one row per (group, order) with an open or
  paused exception: ``value`` — the order value of its most recently opened
  such exception (ties: the later-arriving one), as ``DECIMAL(18, 4)``; and
  ``any_breached``. Revenue at risk sums it, so an order counts once per group.
* **orders** (``of``): one row per order released or delivered in the period,
  as of ``t`` (settled orders from ``order_state``, the others replayed from
  their events up to ``t``): promise, delivery, ``in_full``, ``is_dlv``,
  ``is_rel`` and ``has_exception`` (an exception of the order opened by ``t``,
  any status).
"""

from __future__ import annotations

from core.order_state import CARRIER, NEEDS_REPLAY, NO_CARRIER, replay_sql

from .sla_clock import CLOCK_CTE, CLOCK_JOIN, WORKING_SINCE_START

VERSIONS_AT_T = """v AS (
    SELECT $t::TIMESTAMPTZ AS t, $from::TIMESTAMPTZ AS t_from, *
    FROM exception_versions
    WHERE valid_from <= $t AND (valid_to IS NULL OR valid_to > $t)
)"""
"""The version of each exception in force at the bound time ``$t`` (period from ``$from``)."""

_EXCEPTION_ROWS = f"""x AS (
    SELECT v.t, v.t_from, e.exception_id, e.order_id, e.category, e.severity, e.site, e.lane,
           e.carrier, e.customer_tier, e.source_system, v.owner_team, e.order_value_reporting,
           e.opened_at, e.opened_seq, e.sla_target_hours * 3600.0 AS target_s,
           v.status, v.manual_touches, v.escalation_level, v.reopen_count,
           v.resolved_at, v.resolved_by_kind, v.cancelled_at,
           v.active_seconds + CASE WHEN v.status = 'open'
               THEN {WORKING_SINCE_START} / 1e6 ELSE 0 END AS active_s,
           (epoch_us(v.t) - epoch_us(e.opened_at)) / 3.6e9 AS age_h,
           epoch_us(v.resolved_at) - epoch_us(e.opened_at) AS resolution_us,
           (epoch_us(v.resolved_at) - epoch_us(e.opened_at)) / 3.6e9 AS resolution_h
    FROM exceptions e JOIN v USING (exception_id)
    {CLOCK_JOIN}
)"""  # noqa: S608 - constants of the metric layer


def exceptions(versions: str, grp: str, where: str, *, materialized: bool = False) -> str:
    """The CTEs ``v``, ``x`` and ``xf`` (see the module docstring).

    ``versions`` is the ``v`` CTE; ``grp`` the SQL of the group of a row (a
    dimension column, a struct of two, or a constant); ``where`` the filter
    condition (from ``metrics.dimensions.filter_sql``). All three are
    constants of the metric layer; values are bound parameters.
    """
    mat = "MATERIALIZED " if materialized else ""
    # grp and where are built from the dimension registry only (see the docstring)
    xf = f"""xf AS {mat}(
    SELECT *, {grp} AS grp,
           status IN ('open', 'paused') AS is_open,
           status = 'resolved' AND resolved_at >= t_from AND resolved_at < t AS is_res,
           active_s > target_s AS is_breached,
           active_s <= target_s AND active_s >= 0.8 * target_s AS is_at_risk
    FROM x WHERE {where}
)"""  # noqa: S608
    return f"{versions},\n{CLOCK_CTE},\n{_EXCEPTION_ROWS},\n{xf}"


def exceptions_at(grp: str, where: str) -> str:
    """:func:`exceptions` as of the bound time ``$t`` over ``[$from, $t)``."""
    return exceptions(VERSIONS_AT_T, grp, where)


AT_RISK_ORDERS = """ro AS (
    SELECT grp, order_id,
           arg_max(order_value_reporting, [epoch_us(opened_at), opened_seq])::DECIMAL(18, 4)
               AS value,
           bool_or(is_breached) AS any_breached
    FROM xf WHERE is_open GROUP BY grp, order_id
)"""
"""Needs ``xf``; see the module docstring."""


def orders(grp: str, where: str, *, firsts: bool = True) -> str:
    """The CTEs ending in ``of`` (see the module docstring), as of ``$t`` over ``[$from, $t)``.

    ``grp`` and ``where`` use the order columns of the dimension registry.
    An order with events on both sides of ``$t`` is read from its
    ``order_state`` row with ``$t`` (a time after ``$t`` counts as absent)
    unless ``core.order_state.NEEDS_REPLAY``: only those are replayed from
    their events up to ``$t``. ``firsts=False`` (a database written before
    ``order_state`` kept its first times) replays every such order.
    """
    replay = replay_sql("oe")
    needs = NEEDS_REPLAY if firsts else "true"
    # grp and where are built from the dimension registry only
    return f"""settled AS (
    -- orders with no event after T: their latest state is their state as of T
    SELECT order_id, site, lane, {CARRIER} AS carrier,
           customer_tier, source_system, promised_delivery_at, released_at,
           delivered_at, in_full
    FROM order_state
    WHERE last_event_at <= $t AND released_at IS NOT NULL
      AND ((released_at >= $from AND released_at < $t)
           OR (delivered_at >= $from AND delivered_at < $t))
),
straddling AS MATERIALIZED (
    -- orders released by T with events after it
    SELECT *, {needs} AS needs_replay
    FROM order_state WHERE last_event_at > $t AND released_at <= $t
),
direct AS (
    -- ... whose row, read with T, is their state as of T
    SELECT order_id, site, lane,
           coalesce(carrier, CASE WHEN ship_at <= $t THEN ship_carrier END, '{NO_CARRIER}')
               AS carrier,
           customer_tier, source_system, promised_delivery_at, released_at,
           CASE WHEN delivered_at <= $t THEN delivered_at END AS delivered_at,
           CASE WHEN delivered_at <= $t THEN in_full END AS in_full
    FROM straddling WHERE NOT needs_replay
),
oe AS MATERIALIZED (
    -- ... and the others, replayed from their events up to T
    SELECT * FROM order_events WHERE occurred_at <= $t AND order_id IN (
        SELECT order_id FROM straddling WHERE needs_replay)
),
replayed AS (
    SELECT order_id, site, lane, {CARRIER} AS carrier,
           customer_tier, source_system, promised_delivery_at, released_at,
           delivered_at, in_full
    FROM ({replay}) WHERE released_at IS NOT NULL
),
o AS (
    SELECT * FROM settled UNION ALL BY NAME SELECT * FROM direct
    UNION ALL BY NAME SELECT * FROM replayed
),
of AS (
    -- only orders delivered or released in [from, T) count (and make groups)
    SELECT * FROM (
        SELECT *, {grp} AS grp,
               delivered_at >= $from AND delivered_at < $t AS is_dlv,
               released_at >= $from AND released_at < $t AS is_rel,
               order_id IN (SELECT order_id FROM exceptions WHERE opened_at <= $t)
                   AS has_exception
        FROM o WHERE {where}
    ) WHERE is_dlv OR is_rel
)"""  # noqa: S608

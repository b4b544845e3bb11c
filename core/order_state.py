"""The ``order_state`` table: the latest state of every order, kept by the sink.

One row per ``order_id`` folded from all its accepted order milestones:

* ``first_event_at`` / ``last_event_at``: earliest and latest ``occurred_at``;
* ``released_at``: the first ``order.released`` (when the order counts as
  released); ``release_at`` / ``release_seq`` and the attribute columns (site,
  lane, carrier, tier, source system, promise): the latest ``order.released``;
* ``delivered_at`` / ``delivery_seq`` / ``in_full``: the latest ``order.delivered``;
* ``ship_at`` / ``ship_seq`` / ``ship_carrier``: the latest ``order.shipped``
  that names a carrier;
* ``first_delivered_at`` / ``first_ship_at``: the earliest ``order.delivered``
  and the earliest ``order.shipped`` that names a carrier (with ``released_at``
  and ``release_at``, they tell whether an order's state as of a past T can be
  read from its row: see :data:`NEEDS_REPLAY`).

"Latest" is by ``occurred_at``, ties by arrival (``arrival_seq``), as
``events.md`` orders events. The fold is a merge of per-event states with
``min``/``arg_max``, so it does not depend on arrival order, and folding the
same event twice changes nothing: the sink merges each micro-batch into the
existing rows (idempotent under Bytewax's at-least-once delivery).

The table is the state as of the *latest* data. For an order whose
``last_event_at`` is ≤ T it is also the state as of T. For an order with
events on both sides of T it still is, read with T (a time after T counts as
absent), unless T falls between the first and the latest event of a kind the
state keeps the latest of (two releases, two deliveries or two shipments
naming a carrier on both sides of T): only those orders are replayed from
``order_events`` (:data:`NEEDS_REPLAY`, ``metrics.working_set``).

The ``orders`` view (:data:`ORDERS_VIEW`, for BI tools) reads this table, so
it shows the same fold with the same tie-breaks.
"""

from __future__ import annotations

from .schema import ORDER_EVENTS, ORDER_STATE

NO_CARRIER = "(none)"
"""The carrier of an order whose release and shipments name none."""

_RELEASE = (
    "release_seq",
    "site",
    "lane",
    "carrier",
    "customer_tier",
    "source_system",
    "promised_delivery_at",
)
_DELIVERY = ("delivery_seq", "in_full")
_SHIP = ("ship_seq", "ship_carrier")


def _project(source: str) -> str:
    """Each order event of ``source`` (a table or frame name) as a one-event state."""
    release = ",\n".join(
        f"CASE WHEN r THEN {'arrival_seq' if c == 'release_seq' else c} END AS {c}"
        for c in _RELEASE
    )
    return f"""
    SELECT order_id, occurred_at AS first_event_at, occurred_at AS last_event_at,
        CASE WHEN r THEN occurred_at END AS released_at,
        CASE WHEN r THEN occurred_at END AS release_at,
        {release},
        CASE WHEN d THEN occurred_at END AS delivered_at,
        CASE WHEN d THEN arrival_seq END AS delivery_seq,
        CASE WHEN d THEN in_full END AS in_full,
        CASE WHEN s THEN occurred_at END AS ship_at,
        CASE WHEN s THEN arrival_seq END AS ship_seq,
        CASE WHEN s THEN carrier END AS ship_carrier,
        CASE WHEN d THEN occurred_at END AS first_delivered_at,
        CASE WHEN s THEN occurred_at END AS first_ship_at
    FROM (
        SELECT *, event_type = 'order.released' AS r, event_type = 'order.delivered' AS d,
               event_type = 'order.shipped' AND carrier IS NOT NULL AS s
        FROM {source}
    )"""  # noqa: S608 - names are constants of this package


def _key(at: str, seq: str) -> str:
    """One sortable number for (time, arrival): µs × 2^63 + seq (seq < 2^63)."""
    return f"epoch_us({at})::HUGEINT * 9223372036854775808 + {seq}"


def _latest(at: str, key: str, columns: tuple[str, ...]) -> str:
    cols = (at, *columns)
    # arg_max_null: a NULL attribute of the latest event wins (arg_max would skip it)
    return ",\n".join(f"arg_max_null({c}, {key}) FILTER ({key} IS NOT NULL) AS {c}" for c in cols)


def _fold(states: str) -> str:
    """Merge the order states of the subquery ``states`` into one row per order."""
    return f"""
    SELECT order_id, min(first_event_at) AS first_event_at,
        max(last_event_at) AS last_event_at, min(released_at) AS released_at,
        {_latest("release_at", "rk", _RELEASE)},
        {_latest("delivered_at", "dk", _DELIVERY)},
        {_latest("ship_at", "sk", _SHIP)},
        min(first_delivered_at) AS first_delivered_at, min(first_ship_at) AS first_ship_at
    FROM (
        SELECT *, {_key("release_at", "release_seq")} AS rk,
               {_key("delivered_at", "delivery_seq")} AS dk,
               {_key("ship_at", "ship_seq")} AS sk
        FROM ({states})
    ) GROUP BY order_id"""  # noqa: S608 - constants only


def _first_of(kind: str) -> str:
    """SQL: the earliest ``occurred_at`` among an ``order_state`` row's order events of ``kind``."""
    return (
        "(SELECT min(e.occurred_at) FROM order_events e "  # noqa: S608 - constants
        f"WHERE e.order_id = order_state.order_id AND {kind})"
    )


BACKFILL: dict[str, str] = {
    "first_delivered_at": _first_of("e.event_type = 'order.delivered'"),
    "first_ship_at": _first_of("e.event_type = 'order.shipped' AND e.carrier IS NOT NULL"),
}
"""How the columns added to ``order_state`` after its first release are filled
for the rows of an existing database (from its ``order_events``)."""

MERGED = "order_state_merge"
"""The temporary table :func:`merge_statements` folds a batch's orders into
(read it before the last statement drops it)."""


def merge_statements(batch: str) -> tuple[str, ...]:
    """Statements merging the order-event frame ``batch`` (a constant name) into
    ``order_state``: fold the touched orders' rows with the new events into a
    temporary table, delete their old rows, insert the merged ones. (An
    ``INSERT OR REPLACE`` of the same rows measured up to 10× slower.)"""
    state = ORDER_STATE.name
    existing = f"SELECT * FROM {state} WHERE order_id IN (SELECT order_id FROM {batch})"  # noqa: S608
    states = f"{existing} UNION ALL BY NAME {_project(batch)}"
    return (
        f"CREATE OR REPLACE TEMP TABLE {MERGED} AS {_fold(states)}",
        f"DELETE FROM {state} WHERE order_id IN (SELECT order_id FROM {MERGED})",  # noqa: S608
        f"INSERT INTO {state} BY NAME SELECT * FROM {MERGED}",  # noqa: S608
        f"DROP TABLE {MERGED}",
    )


def replay_sql(events: str) -> str:
    """A query of the order states folded from ``events`` (a relation of order events)."""
    return _fold(_project(events))


REBUILD_SQL = f"INSERT INTO {ORDER_STATE.name} BY NAME {replay_sql(ORDER_EVENTS.name)}"
"""Every row from ``order_events``, into an empty ``order_state`` (backfills a
database made before the table)."""

NEEDS_REPLAY = """(coalesce(release_at > $t, false)
    OR (coalesce(delivered_at > $t, false) AND coalesce(first_delivered_at <= $t, true))
    OR (coalesce(ship_at > $t, false) AND coalesce(first_ship_at <= $t, true)))"""
"""SQL over an ``order_state`` row released by ``$t`` (``released_at <= $t``):
true when its state as of ``$t`` cannot be read from the row — a kind whose
latest event the row keeps (release, delivery, shipment naming a carrier) has
events on both sides of ``$t``. Otherwise, as of ``$t``, the row's release is
the latest (``release_at <= $t``), and its delivery and carrier shipment are
the latest when at or before ``$t`` and none when after (then every one of
that kind is after ``$t``). A row whose first times are unknown (NULL: not
written by this release) is replayed."""

CARRIER = f"coalesce(carrier, ship_carrier, '{NO_CARRIER}')"
"""An order's carrier over ``order_state`` columns: its latest release's, else its
latest shipment's that names one, else ``(none)``."""

ORDERS_VIEW = f"""CREATE OR REPLACE VIEW orders AS
SELECT order_id, site, origin, destination, lane, {CARRIER} AS carrier,
       customer_tier, customer_id, order_value, currency, order_value_reporting,
       promised_delivery_at, lines, released_at, shipped_at, delivered_at, in_full, invoiced_at
FROM {ORDER_STATE.name}
LEFT JOIN (
    -- the release the fold chose (arrival_seq is unique per line read)
    SELECT order_id, occurred_at AS release_at, arrival_seq AS release_seq, origin,
           destination, customer_id, order_value, currency, order_value_reporting, lines
    FROM {ORDER_EVENTS.name} WHERE event_type = 'order.released'
) USING (order_id, release_at, release_seq)
LEFT JOIN (
    SELECT order_id, max(occurred_at) FILTER (event_type = 'order.shipped') AS shipped_at,
           max(occurred_at) FILTER (event_type = 'order.invoiced') AS invoiced_at
    FROM {ORDER_EVENTS.name} WHERE event_type IN ('order.shipped', 'order.invoiced')
    GROUP BY order_id
) USING (order_id)"""  # noqa: S608 - constants only
"""One row per order with any event: ``order_state`` (latest release and its
attributes, latest delivery, carrier as :data:`CARRIER`) plus the latest
release's other attributes — the very event the fold chose, by ``release_at``
and ``release_seq`` — and the latest shipment and invoice times."""

"""The storage schema: every table of the DuckDB database, declared once.

Each :class:`Table` lists its columns in order — name, type (the DuckDB type
and the polars dtype the sink builds its frames with), NOT NULL or not — and
its primary key. Everything else is derived from it:

* the DDL (:func:`ddl`, run by ``core.db.init_schema``): ``CREATE TABLE IF NOT
  EXISTS`` with the same definitions as earlier releases, so a database they
  wrote keeps working (``tests/core/test_schema.py`` compares them);
* the **row tuples** the dataflow hands to the sink (``flows.records``): plain
  tuples in the order of :attr:`Table.columns`, times (``TIMESTAMPTZ``
  columns, :attr:`Column.is_time`) as integer microseconds since the epoch,
  UTC;
* the typed frames the sink writes (``flows.sink.frame``) and the SELECT that
  inserts them (:meth:`Table.insert_from`, which adds the derived columns);
* the select lists of the readers that rebuild the flow's state
  (:meth:`Table.select`, ``flows.store``).

**Derived columns** (:attr:`Column.rule`) are not carried in row tuples: the
sink computes them in SQL with the rule expressions of ``core.rules`` — the
same text the metric layer's KPIs use — after binding the rule vocabulary to
the table's columns (:attr:`Table.terms`), on the rows :attr:`Table.rule_when`
selects (NULL on the others).

Stable for BI tools (``interface.md``): ``exceptions``, ``exception_events``,
``rejected_events`` — names and meaning do not change. The ``orders`` view is
``core.order_state.ORDERS_VIEW``.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from . import rules


@dataclass(frozen=True, slots=True)
class Type:
    """A column type: its DuckDB name and the polars dtype of its frames."""

    sql: str
    polars: pl.DataType


VARCHAR = Type("VARCHAR", pl.String())
BIGINT = Type("BIGINT", pl.Int64())
INTEGER = Type("INTEGER", pl.Int32())
DOUBLE = Type("DOUBLE", pl.Float64())
BOOLEAN = Type("BOOLEAN", pl.Boolean())
TIMESTAMPTZ = Type("TIMESTAMPTZ", pl.Datetime("us", "UTC"))
"""A time: stored ``TIMESTAMPTZ``, carried in row tuples as integer µs UTC."""

NOT_NULL = True


@dataclass(frozen=True, slots=True)
class Column:
    """One column of a table.

    ``rule``: a derived column's SQL (a ``core.rules`` expression), computed by
    the sink instead of carried in row tuples. ``group``: a named subset of the
    table's columns that some reader takes together (see :meth:`Table.group`).
    """

    name: str
    type: Type
    not_null: bool = False
    rule: str | None = None
    group: str | None = None

    @property
    def is_time(self) -> bool:
        """Stored ``TIMESTAMPTZ``; integer microseconds UTC in row tuples."""
        return self.type is TIMESTAMPTZ


class Table:
    """A table: its columns in order, its primary key, and how derived columns are bound.

    * ``fields`` — every column, in the table's order; ``all_columns`` their names;
    * ``columns`` — the names of a row tuple's columns, in tuple order (every
      column but the derived ones); ``row_fields`` those columns;
    * ``key`` — the primary key (empty: none); ``enforced`` — whether the
      database enforces it (a ``PRIMARY KEY`` constraint, with its index).
      An unenforced key is unique by construction of the writer, and still
      the key of merges and of the published files;
    * ``terms`` — ``(name, SQL over the row columns)``: the rule vocabulary of
      ``core.rules`` bound to this table; ``rule_when`` — the condition on the
      row columns under which derived columns apply (NULL elsewhere).
    """

    __slots__ = (
        "all_columns",
        "columns",
        "fields",
        "enforced",
        "key",
        "name",
        "row_fields",
        "rule_when",
        "terms",
    )

    def __init__(
        self,
        name: str,
        fields: tuple[Column, ...],
        *,
        key: tuple[str, ...] = (),
        enforced: bool = True,
        terms: tuple[tuple[str, str], ...] = (),
        rule_when: str | None = None,
    ) -> None:
        self.name = name
        self.enforced = enforced
        self.fields = fields
        self.all_columns: tuple[str, ...] = tuple(c.name for c in fields)
        self.row_fields: tuple[Column, ...] = tuple(c for c in fields if c.rule is None)
        self.columns: tuple[str, ...] = tuple(c.name for c in self.row_fields)
        self.key = key
        self.terms = terms
        self.rule_when = rule_when
        by_name = {c.name: c for c in fields}
        if len(by_name) != len(fields):
            raise ValueError(f"{name}: a column is declared twice")
        for k in key:
            if k not in by_name or not by_name[k].not_null or by_name[k].rule is not None:
                raise ValueError(f"{name}: key column {k!r} must be a NOT NULL row column")
        if (len(self.row_fields) < len(fields)) != (rule_when is not None):
            raise ValueError(f"{name}: derived columns need rule_when, and only they")

    def __repr__(self) -> str:
        return f"Table({self.name!r})"

    def column(self, name: str) -> Column:
        """The column ``name`` (``KeyError`` naming the table when it has none)."""
        for c in self.fields:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    @property
    def key_positions(self) -> tuple[int, ...]:
        """Positions of the primary key's columns in a row tuple."""
        return tuple(self.columns.index(k) for k in self.key)

    def group(self, group: str) -> tuple[str, ...]:
        """The columns of ``group``, in table order (``KeyError`` if none)."""
        names = tuple(c.name for c in self.fields if c.group == group)
        if not names:
            raise KeyError(f"{self.name} has no column group {group!r}")
        return names

    def select(self, *names: str) -> str:
        """A select list of ``names`` (each checked), times as integer µs (``epoch_us``)."""
        cols = [self.column(n) for n in names]
        return ", ".join(f"epoch_us({c.name}) AS {c.name}" if c.is_time else c.name for c in cols)

    def insert_from(self, frame: str) -> str:
        """The SELECT of every stored column from ``frame`` (a relation of row columns):
        the row columns as they are, each derived column computed by its rule
        where :attr:`rule_when` holds, NULL elsewhere."""
        derived = [c for c in self.fields if c.rule is not None]
        if not derived:
            return f"SELECT * FROM {frame}"  # noqa: S608 - names are constants of this module
        terms = ", ".join(f"{sql} AS {name}" for name, sql in self.terms)
        rows = f"(SELECT *, {terms} FROM {frame})" if terms else frame  # noqa: S608
        cols = ", ".join(
            f"CASE WHEN {self.rule_when} THEN ({c.rule}) END AS {c.name}"
            if c.rule is not None
            else c.name
            for c in self.fields
        )
        return f"SELECT {cols} FROM {rows}"  # noqa: S608 - constants of this module

    @property
    def ddl(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` for this table."""
        key = self.key if self.enforced else ()
        single = key[0] if len(key) == 1 else None
        lines = []
        for c in self.fields:
            if c.name == single:
                lines.append(f"{c.name} {c.type.sql} PRIMARY KEY")
            elif c.not_null:
                lines.append(f"{c.name} {c.type.sql} NOT NULL")
            else:
                lines.append(f"{c.name} {c.type.sql}")
        if len(key) > 1:
            lines.append(f"PRIMARY KEY ({', '.join(key)})")
        body = ",\n    ".join(lines)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {body}\n)"


EXCEPTION_EVENTS = Table(
    "exception_events",
    (
        Column("event_id", VARCHAR, NOT_NULL),
        Column("event_type", VARCHAR, NOT_NULL),
        Column("occurred_at", TIMESTAMPTZ, NOT_NULL),
        Column("effective_at", TIMESTAMPTZ),
        Column("exception_id", VARCHAR),
        Column("order_id", VARCHAR),
        Column("source_system", VARCHAR, NOT_NULL),
        Column("actor_id", VARCHAR, NOT_NULL),
        Column("actor_kind", VARCHAR, NOT_NULL),
        Column("schema_version", VARCHAR, NOT_NULL),
        Column("owner_team", VARCHAR),
        Column("escalation_level", INTEGER),
        Column("detail", VARCHAR),
        Column("source", VARCHAR, NOT_NULL),
        Column("source_offset", BIGINT, NOT_NULL),
        Column("arrival_seq", BIGINT, NOT_NULL),
        Column("payload", VARCHAR, NOT_NULL),
        Column("ingested_at", TIMESTAMPTZ, NOT_NULL),
    ),
    key=("event_id",),
)
"""Every accepted event once (order milestones included), with its raw payload."""

OPENED = "opened"
"""Group of ``EXCEPTIONS``: the static facts of the ``exception.opened`` event."""

EXCEPTIONS = Table(
    "exceptions",
    (
        Column("exception_id", VARCHAR, NOT_NULL, group=OPENED),
        Column("order_id", VARCHAR, NOT_NULL, group=OPENED),
        Column("category", VARCHAR, NOT_NULL, group=OPENED),
        Column("severity", VARCHAR, NOT_NULL, group=OPENED),
        Column("site", VARCHAR, NOT_NULL, group=OPENED),
        Column("origin", VARCHAR, NOT_NULL, group=OPENED),
        Column("destination", VARCHAR, NOT_NULL, group=OPENED),
        Column("lane", VARCHAR, NOT_NULL),
        Column("carrier", VARCHAR, NOT_NULL, group=OPENED),
        Column("customer_tier", VARCHAR, NOT_NULL, group=OPENED),
        Column("customer_id", VARCHAR, group=OPENED),
        Column("source_system", VARCHAR, NOT_NULL, group=OPENED),
        Column("order_value", DOUBLE, NOT_NULL, group=OPENED),
        Column("currency", VARCHAR, NOT_NULL, group=OPENED),
        Column("order_value_reporting", DOUBLE, NOT_NULL, group=OPENED),
        Column("sla_target_hours", DOUBLE, NOT_NULL, group=OPENED),
        Column("sla_target_source", VARCHAR, NOT_NULL, group=OPENED),
        Column("opened_at", TIMESTAMPTZ, NOT_NULL, group=OPENED),
        Column("opened_event_id", VARCHAR, NOT_NULL, group=OPENED),
        Column("opened_seq", BIGINT, NOT_NULL, group=OPENED),
        Column("status", VARCHAR, NOT_NULL),
        Column("status_since", TIMESTAMPTZ, NOT_NULL),
        Column("active_seconds_at_status", DOUBLE, NOT_NULL),
        Column("owner_team", VARCHAR, NOT_NULL),
        Column("manual_touches", INTEGER, NOT_NULL),
        Column("escalation_level", INTEGER, NOT_NULL),
        Column("reopen_count", INTEGER, NOT_NULL),
        Column("resolved_at", TIMESTAMPTZ),
        Column("resolution_hours", DOUBLE),
        Column("resolved_by_kind", VARCHAR),
        Column("met_sla", BOOLEAN, rule=rules.MET_SLA),
        Column("first_touch_resolution", BOOLEAN, rule=rules.FIRST_TOUCH_RESOLUTION),
        Column("auto_resolved", BOOLEAN, rule=rules.AUTO_RESOLVED),
        Column("cancelled_at", TIMESTAMPTZ),
        Column("last_event_at", TIMESTAMPTZ, NOT_NULL),
        Column("event_count", INTEGER, NOT_NULL),
        Column("at_risk_due_at", TIMESTAMPTZ),
        Column("breach_due_at", TIMESTAMPTZ),
        Column("sla_calendar", VARCHAR),
    ),
    key=("exception_id",),
    # The SLA clock stops when an exception is resolved, so a resolved
    # exception's active seconds (at its status, which started at
    # ``resolved_at`` or later) are its clock at ``resolved_at``.
    terms=(("active_s", "active_seconds_at_status"), ("target_s", "sla_target_hours * 3600.0")),
    rule_when="status = 'resolved'",
)
"""One row per exception: its dimensions (group ``opened``: the static facts of
its ``exception.opened`` event, in ``flows.records.OpenedInfo`` order) and its
final state."""

EXCEPTION_VERSIONS = Table(
    "exception_versions",
    (
        Column("exception_id", VARCHAR, NOT_NULL),
        Column("valid_from", TIMESTAMPTZ, NOT_NULL),
        Column("valid_to", TIMESTAMPTZ),
        Column("status", VARCHAR, NOT_NULL),
        Column("owner_team", VARCHAR, NOT_NULL),
        Column("manual_touches", INTEGER, NOT_NULL),
        Column("escalation_level", INTEGER, NOT_NULL),
        Column("reopen_count", INTEGER, NOT_NULL),
        Column("active_seconds", DOUBLE, NOT_NULL),
        Column("resolved_at", TIMESTAMPTZ),
        Column("resolved_by_kind", VARCHAR),
        Column("cancelled_at", TIMESTAMPTZ),
        Column("working_us_at_start", BIGINT),
    ),
)
"""The state intervals of each exception (``valid_to`` NULL: still in force).
``working_us_at_start``: the site calendar's cumulative working µs at
``valid_from`` (``core.calendar``; 24×7 and older rows: NULL or the epoch µs),
so an open version's SLA clock at T is ``active_seconds + (cum(T) −
working_us_at_start) / 1e6``."""

ORDER_EVENTS = Table(
    "order_events",
    (
        Column("event_id", VARCHAR, NOT_NULL),
        Column("order_id", VARCHAR, NOT_NULL),
        Column("event_type", VARCHAR, NOT_NULL),
        Column("occurred_at", TIMESTAMPTZ, NOT_NULL),
        Column("arrival_seq", BIGINT, NOT_NULL),
        Column("source_system", VARCHAR, NOT_NULL),
        Column("site", VARCHAR),
        Column("origin", VARCHAR),
        Column("destination", VARCHAR),
        Column("lane", VARCHAR),
        Column("carrier", VARCHAR),
        Column("customer_tier", VARCHAR),
        Column("customer_id", VARCHAR),
        Column("order_value", DOUBLE),
        Column("currency", VARCHAR),
        Column("order_value_reporting", DOUBLE),
        Column("promised_delivery_at", TIMESTAMPTZ),
        Column("lines", INTEGER),
        Column("in_full", BOOLEAN),
        Column("invoice_id", VARCHAR),
    ),
    key=("event_id",),
    enforced=False,
)
"""Every accepted order milestone with the attributes its type carries.

Its key is not enforced: every row is also an ``exception_events`` row,
written in the same transaction, whose key is; a second index on the same ids
cost the writer ~0.3 s per 270k events (issue 9)."""

REJECTED_EVENTS = Table(
    "rejected_events",
    (
        Column("source", VARCHAR, NOT_NULL),
        Column("source_offset", BIGINT, NOT_NULL),
        Column("raw", VARCHAR, NOT_NULL),
        Column("reason", VARCHAR, NOT_NULL),
        Column("detail", VARCHAR, NOT_NULL),
        Column("event_id", VARCHAR),
        Column("event_type", VARCHAR),
        Column("received_at", TIMESTAMPTZ, NOT_NULL),
        Column("source_system", VARCHAR),
    ),
    key=("source", "source_offset"),
)
"""Every rejected line, keyed by where it was read. ``source_system``: the
line's own non-empty string ``source_system`` when it is a JSON object with
one, else ``(unknown)`` (``kpis.md``, "Data quality")."""

DUPLICATE_EVENTS = Table(
    "duplicate_events",
    (
        Column("source", VARCHAR, NOT_NULL),
        Column("source_offset", BIGINT, NOT_NULL),
        Column("event_id", VARCHAR, NOT_NULL),
        Column("raw", VARCHAR, NOT_NULL),
        Column("received_at", TIMESTAMPTZ, NOT_NULL),
        Column("source_system", VARCHAR),
    ),
    key=("source", "source_offset"),
)
"""Every line repeating an ``event_id`` seen at another position."""

PENDING_EVENTS = Table(
    "pending_events",
    (
        Column("event_id", VARCHAR, NOT_NULL),
        Column("exception_id", VARCHAR, NOT_NULL),
        Column("event_type", VARCHAR, NOT_NULL),
        Column("occurred_at", TIMESTAMPTZ, NOT_NULL),
        Column("source", VARCHAR, NOT_NULL),
        Column("source_offset", BIGINT, NOT_NULL),
        Column("arrival_seq", BIGINT, NOT_NULL),
        Column("payload", VARCHAR, NOT_NULL),
        Column("received_at", TIMESTAMPTZ, NOT_NULL),
        Column("source_system", VARCHAR),
    ),
    key=("event_id",),
)
"""Follow-ups held until their ``exception.opened`` arrives."""

INGEST_RUNS = Table(
    "ingest_runs",
    (
        Column("run_id", BIGINT, NOT_NULL),
        Column("started_at", TIMESTAMPTZ, NOT_NULL),
        Column("finished_at", TIMESTAMPTZ),
        Column("inputs", VARCHAR, NOT_NULL),
        Column("lines_read", BIGINT),
        Column("status", VARCHAR, NOT_NULL),
    ),
    key=("run_id",),
)
"""One row per ``fpi ingest`` run."""

FPI_META = Table(
    "fpi_meta",
    (Column("key", VARCHAR, NOT_NULL), Column("value", VARCHAR, NOT_NULL)),
    key=("key",),
)
"""Facts about the database itself (``schema_version``)."""

ORDER_STATE = Table(
    "order_state",
    (
        Column("order_id", VARCHAR, NOT_NULL),
        Column("first_event_at", TIMESTAMPTZ, NOT_NULL),
        Column("last_event_at", TIMESTAMPTZ, NOT_NULL),
        Column("released_at", TIMESTAMPTZ),
        Column("release_at", TIMESTAMPTZ),
        Column("release_seq", BIGINT),
        Column("site", VARCHAR),
        Column("lane", VARCHAR),
        Column("carrier", VARCHAR),
        Column("customer_tier", VARCHAR),
        Column("source_system", VARCHAR),
        Column("promised_delivery_at", TIMESTAMPTZ),
        Column("delivered_at", TIMESTAMPTZ),
        Column("delivery_seq", BIGINT),
        Column("in_full", BOOLEAN),
        Column("ship_at", TIMESTAMPTZ),
        Column("ship_seq", BIGINT),
        Column("ship_carrier", VARCHAR),
        Column("first_delivered_at", TIMESTAMPTZ),
        Column("first_ship_at", TIMESTAMPTZ),
    ),
    key=("order_id",),
)
"""The latest state of every order, folded by the sink (``core.order_state``).

Its key stays enforced although keeping the index through each micro-batch's
deletes and inserts is the writer's largest single cost (issue 9: 1.8 s of
3.2 s for 270k order events): without it the merge's lookups of a batch's
orders and DuckDB's checkpoints became proportional to the table, and an
incremental run into a long history got slower with the history."""

SLA_ALERTS = Table(
    "sla_alerts",
    (
        Column("alert_id", VARCHAR, NOT_NULL),
        Column("exception_id", VARCHAR, NOT_NULL),
        Column("kind", VARCHAR, NOT_NULL),
        Column("revision", INTEGER, NOT_NULL),
        Column("due_at", TIMESTAMPTZ, NOT_NULL),
        Column("raised_at", TIMESTAMPTZ, NOT_NULL),
        Column("retracted_at", TIMESTAMPTZ),
        Column("order_id", VARCHAR, NOT_NULL),
        Column("site", VARCHAR, NOT_NULL),
        Column("lane", VARCHAR, NOT_NULL),
        Column("carrier", VARCHAR, NOT_NULL),
        Column("category", VARCHAR, NOT_NULL),
        Column("severity", VARCHAR, NOT_NULL),
        Column("customer_tier", VARCHAR, NOT_NULL),
        Column("owner_team", VARCHAR, NOT_NULL),
        Column("source_system", VARCHAR, NOT_NULL),
        Column("order_value_reporting", DOUBLE, NOT_NULL),
        Column("sla_target_hours", DOUBLE, NOT_NULL),
    ),
    key=("alert_id",),
)
"""One row per SLA alert raised (``kpis.md``, "SLA alerts"): ``kind`` is
``at_risk`` or ``breached``; ``alert_id`` is ``<exception_id>:<kind>:<revision>``;
``retracted_at`` is NULL while the alert stands (at most one standing per
exception and kind). The dimensions are the exception's when the row was last
written (``owner_team`` as of its latest assignment then)."""

ALERT_OUTBOX = Table(
    "alert_outbox",
    (
        Column("alert_id", VARCHAR, NOT_NULL),
        Column("action", VARCHAR, NOT_NULL),
        Column("happened_at", TIMESTAMPTZ, NOT_NULL),
        Column("payload", VARCHAR, NOT_NULL),
        Column("delivered_at", TIMESTAMPTZ),
        Column("attempts", INTEGER),
        Column("last_error", VARCHAR),
    ),
    key=("alert_id", "action"),
)
"""Alert messages (``interface.md``) waiting for or done with webhook delivery:
written in the transaction that raised or retracted the alert, marked
``delivered_at`` once the endpoint accepted it. Private to the writer."""

FLOW_CLOCK = Table(
    "flow_clock",
    (
        Column("name", VARCHAR, NOT_NULL),
        Column("writer", VARCHAR, NOT_NULL),
        Column("data_clock", TIMESTAMPTZ),
        Column("heartbeat_at", TIMESTAMPTZ, NOT_NULL),
        Column("caught_up", BOOLEAN, NOT_NULL),
        Column("lag", BIGINT),
        Column("detail", VARCHAR),
    ),
    key=("name",),
)
"""The data clock (``kpis.md``, top) and the writer's heartbeat, one row
(``name`` = ``'flow'``), written with every commit: ``writer`` (``ingest`` or
``stream``: the command that wrote it), ``data_clock`` (never
moves back), ``heartbeat_at`` (the writer's wall clock at the commit),
``caught_up`` (a live flow that has read to the end of every partition; a
file ingest: false), ``lag`` (messages behind, summed over partitions) and
``detail`` (``fpi stream``: JSON object of lag per partition, e.g.
``{"0": 12, "1": 0}``; ``fpi ingest``: NULL)."""

STREAM_OFFSETS = Table(
    "stream_offsets",
    (
        Column("topic", VARCHAR, NOT_NULL),
        Column("partition", INTEGER, NOT_NULL),
        Column("next_offset", BIGINT, NOT_NULL),
        Column("committed_at", TIMESTAMPTZ, NOT_NULL),
    ),
    key=("topic", "partition"),
)
"""The next Kafka offset to read per partition, written in the transaction
that committed every output of the messages before it (``fpi stream``
resumes from it)."""

TABLES: tuple[Table, ...] = (
    EXCEPTION_EVENTS,
    EXCEPTIONS,
    EXCEPTION_VERSIONS,
    ORDER_EVENTS,
    REJECTED_EVENTS,
    DUPLICATE_EVENTS,
    PENDING_EVENTS,
    INGEST_RUNS,
    FPI_META,
    ORDER_STATE,
    SLA_ALERTS,
    ALERT_OUTBOX,
    FLOW_CLOCK,
    STREAM_OFFSETS,
)
"""Every table, in creation order."""

BY_NAME: dict[str, Table] = {t.name: t for t in TABLES}
"""Every table by its name."""


def ddl() -> tuple[str, ...]:
    """``CREATE TABLE IF NOT EXISTS`` of every table, in :data:`TABLES` order."""
    return tuple(t.ddl for t in TABLES)

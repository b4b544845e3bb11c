"""What the dataflow hands to the DuckDB sink: row tuples grouped in a :class:`Delta`.

Rows are plain tuples (cheap to build) whose order is the table's
``columns`` in ``core.schema`` — e.g. :func:`exception_row` builds a row of
``schema.EXCEPTIONS.columns`` — with times as integer microseconds, UTC; the
sink turns them into columns in bulk and computes the derived columns (the
``exceptions`` rules ``met_sla``, ``first_touch_resolution``,
``auto_resolved``) in SQL. Every table is written idempotently by its natural
key, so a delta can be written twice (at-least-once delivery) without
changing anything.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

import orjson

from core.config import Settings
from core.contract import (
    ExceptionAssigned,
    ExceptionCancelled,
    ExceptionEscalated,
    ExceptionEvent,
    ExceptionOpened,
    ExceptionPaused,
    ExceptionReopened,
    ExceptionResolved,
    ExceptionTouched,
    OrderDelivered,
    OrderEvent,
    OrderInvoiced,
    OrderReleased,
    OrderShipped,
)
from core.order_state import NO_CARRIER
from core.timeutil import epoch_us

from .alerts import Alert
from .lifecycle import Derived, Step, Version
from .parse import Parsed, Rejected

LANE_ARROW = "→"


def shard_of(key: str, shards: int) -> int:
    """Stable shard of a key (same in every process, unlike ``hash``)."""
    return zlib.crc32(key.encode("utf-8")) % shards


@dataclass(slots=True)
class Delta:
    """A batch of idempotent writes. Later deltas supersede earlier ones per key."""

    events: list[tuple[object, ...]] = field(default_factory=list)
    order_events: list[tuple[object, ...]] = field(default_factory=list)
    exceptions: dict[str, tuple[object, ...]] = field(default_factory=dict)
    versions: dict[str, list[tuple[object, ...]]] = field(default_factory=dict)
    rejected: list[tuple[object, ...]] = field(default_factory=list)
    duplicates: list[tuple[object, ...]] = field(default_factory=list)
    pending_add: list[tuple[object, ...]] = field(default_factory=list)
    pending_remove: list[str] = field(default_factory=list)
    alerts: dict[str, tuple[object, ...]] = field(default_factory=dict)
    """``sla_alerts`` rows by ``alert_id`` (a retraction rewrites the row)."""
    outbox: list[tuple[object, ...]] = field(default_factory=list)
    """``alert_outbox`` rows: the messages of the raises and retractions."""
    clock: tuple[object, ...] | None = None
    """The ``flow_clock`` row after this delta (the data clock and heartbeat)."""
    offsets: dict[tuple[str, int], tuple[object, ...]] = field(default_factory=dict)
    """``stream_offsets`` rows by (topic, partition): the next offset to read."""
    key: str = ""
    """The stream key whose chunk produced it."""
    tag: int = 0
    """The chunk's number within its key (1, 2, ...): committing the delta of tag
    ``n`` means every earlier chunk of the key is committed too (one path, in order)."""

    def is_empty(self) -> bool:
        """True when the delta writes nothing."""
        return not (
            self.events
            or self.order_events
            or self.exceptions
            or self.versions
            or self.rejected
            or self.duplicates
            or self.pending_add
            or self.pending_remove
            or self.alerts
            or self.outbox
            or self.clock is not None
            or self.offsets
        )


@dataclass(frozen=True, slots=True)
class OpenedInfo:
    """The static facts of an exception, from its ``exception.opened`` event.

    Its fields are the ``opened`` group of ``schema.EXCEPTIONS``, in that order
    (``flows.store`` loads them back with it).
    """

    exception_id: str
    order_id: str
    category: str
    severity: str
    site: str
    origin: str
    destination: str
    carrier: str
    customer_tier: str
    customer_id: str | None
    source_system: str
    order_value: float
    currency: str
    order_value_reporting: float
    sla_target_hours: float
    sla_target_source: str
    opened_us: int
    event_id: str
    seq: int

    @property
    def lane(self) -> str:
        """``origin→destination``."""
        return f"{self.origin}{LANE_ARROW}{self.destination}"

    @classmethod
    def from_parsed(cls, p: Parsed, settings: Settings) -> OpenedInfo:
        """Build from a validated opened event (its reporting value already converted)."""
        ev = p.event
        assert isinstance(ev, ExceptionOpened)
        if ev.sla_target_hours is not None:
            target, target_source = ev.sla_target_hours, "event"
        else:
            target, target_source = (
                settings.sla.target_hours(ev.severity, ev.customer_tier),
                "policy",
            )
        return cls(
            ev.exception_id,
            ev.order_id,
            ev.category,
            ev.severity,
            ev.site,
            ev.origin,
            ev.destination,
            ev.carrier or NO_CARRIER,
            ev.customer_tier,
            ev.customer_id,
            ev.source_system,
            ev.order_value,
            ev.currency,
            float(p.value_reporting or 0.0),
            target,
            target_source,
            p.occurred_us,
            ev.event_id,
            p.seq,
        )


def step_of(p: Parsed) -> Step:
    """Reduce a follow-up event to what the lifecycle needs."""
    ev = p.event
    value: str | int | None = None
    if isinstance(ev, ExceptionAssigned):
        value = ev.owner_team
    elif isinstance(ev, ExceptionEscalated):
        value = ev.level
    return Step(p.occurred_us, p.seq, ev.event_type, ev.actor_kind == "human", value, ev.event_id)


_DETAIL: dict[type, str] = {
    ExceptionTouched: "action",
    ExceptionResolved: "resolution_code",
    ExceptionPaused: "reason",
    ExceptionReopened: "reason",
    ExceptionCancelled: "reason",
    ExceptionAssigned: "assignee",
    ExceptionOpened: "category",
}
"""The field an event type's ``detail`` column shows (escalations: see :func:`_detail`)."""


def _detail(ev: ExceptionEvent) -> str | None:
    if isinstance(ev, ExceptionEscalated):
        return ev.to_team or ev.reason
    field = _DETAIL.get(type(ev))
    return getattr(ev, field) if field is not None else None


def event_row(p: Parsed, effective_us: int | None, ingested_us: int) -> tuple[object, ...]:
    """A ``schema.EXCEPTION_EVENTS`` row (order events have no exception and no clamping)."""
    ev = p.event
    if isinstance(ev, OrderEvent):
        return order_row(p, ingested_us)
    return (
        ev.event_id,
        ev.event_type,
        p.occurred_us,
        effective_us if effective_us is not None else p.occurred_us,
        ev.exception_id,
        ev.order_id if isinstance(ev, ExceptionOpened) else None,
        ev.source_system,
        ev.actor_id,
        ev.actor_kind,
        ev.schema_version,
        ev.owner_team if isinstance(ev, ExceptionAssigned) else None,
        ev.level if isinstance(ev, ExceptionEscalated) else None,
        _detail(ev),
        p.source,
        p.offset,
        p.seq,
        p.raw,
        ingested_us,
    )


def order_row(p: Parsed, ingested_us: int) -> tuple[object, ...]:
    """The ``schema.EXCEPTION_EVENTS`` row of an order milestone (``p`` holds one)."""
    ev = p.event
    assert isinstance(ev, OrderEvent)
    occurred = p.occurred_us
    return (
        ev.event_id,
        ev.event_type,
        occurred,
        occurred,
        None,
        ev.order_id,
        ev.source_system,
        ev.actor_id,
        ev.actor_kind,
        ev.schema_version,
        None,
        None,
        None,
        p.source,
        p.offset,
        p.seq,
        p.raw,
        ingested_us,
    )


def order_event_row(p: Parsed) -> tuple[object, ...]:
    """A ``schema.ORDER_EVENTS`` row (``p`` must hold an order event)."""
    ev = p.event
    if not isinstance(ev, OrderEvent):
        raise TypeError(f"not an order event: {ev.event_type}")
    if isinstance(ev, OrderReleased):
        origin, destination = ev.origin, ev.destination
        return (
            ev.event_id,
            ev.order_id,
            ev.event_type,
            p.occurred_us,
            p.seq,
            ev.source_system,
            ev.site,
            origin,
            destination,
            f"{origin}{LANE_ARROW}{destination}",
            ev.carrier or None,
            ev.customer_tier,
            ev.customer_id,
            ev.order_value,
            ev.currency,
            p.value_reporting,
            epoch_us(ev.promised_delivery_at),
            ev.lines,
            None,
            None,
        )
    carrier = ev.carrier or None if isinstance(ev, OrderShipped) else None
    in_full = ev.in_full if isinstance(ev, OrderDelivered) else None
    invoice = ev.invoice_id if isinstance(ev, OrderInvoiced) else None
    return (
        ev.event_id,
        ev.order_id,
        ev.event_type,
        p.occurred_us,
        p.seq,
        ev.source_system,
        None,
        None,
        None,
        None,
        carrier,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        in_full,
        invoice,
    )


UNKNOWN_SOURCE = "(unknown)"
"""The data-quality source system of a line that names none (``kpis.md``)."""


def source_system_of(raw: str) -> str:
    """The line's own non-empty string ``source_system`` when it is a JSON
    object with one, else ``(unknown)`` (``kpis.md``, "Data quality")."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return UNKNOWN_SOURCE
    if isinstance(doc, dict):
        value = doc.get("source_system")
        if isinstance(value, str) and value:
            return value
    return UNKNOWN_SOURCE


def rejected_row(r: Rejected, received_us: int) -> tuple[object, ...]:
    """A ``schema.REJECTED_EVENTS`` row."""
    return (
        r.source,
        r.offset,
        r.raw,
        r.reason,
        r.detail,
        r.event_id,
        r.event_type,
        received_us,
        source_system_of(r.raw),
    )


def duplicate_row(p: Parsed, received_us: int) -> tuple[object, ...]:
    """A ``schema.DUPLICATE_EVENTS`` row (the repeated line, keyed by where it was read)."""
    return (p.source, p.offset, p.event.event_id, p.raw, received_us, p.event.source_system)


def pending_row(p: Parsed, received_us: int) -> tuple[object, ...]:
    """A ``schema.PENDING_EVENTS`` row: held until its ``exception.opened`` arrives."""
    ev = p.event
    return (
        ev.event_id,
        ev.exception_id if isinstance(ev, ExceptionEvent) else "",
        ev.event_type,
        p.occurred_us,
        p.source,
        p.offset,
        p.seq,
        p.raw,
        received_us,
        ev.source_system,
    )


def exception_row(
    info: OpenedInfo,
    derived: Derived,
    event_count: int,
    last_event_us: int,
    dues: tuple[int | None, int | None] = (None, None),
    sla_calendar: str | None = None,
) -> tuple[object, ...]:
    """A ``schema.EXCEPTIONS`` row: static dimensions plus the final state
    (``sla_calendar``: the site's working calendar, None = 24×7).

    The rule columns (met SLA, first-touch resolution, auto-resolved) are not in
    it: the sink computes them from these columns with ``core.rules``.
    """
    f = derived.final
    resolution_hours = (
        (f.resolved_at_us - info.opened_us) / 3_600_000_000
        if f.resolved_at_us is not None
        else None
    )
    return (
        info.exception_id,
        info.order_id,
        info.category,
        info.severity,
        info.site,
        info.origin,
        info.destination,
        info.lane,
        info.carrier,
        info.customer_tier,
        info.customer_id,
        info.source_system,
        info.order_value,
        info.currency,
        info.order_value_reporting,
        info.sla_target_hours,
        info.sla_target_source,
        info.opened_us,
        info.event_id,
        info.seq,
        f.status,
        f.valid_from_us,
        f.active_us / 1_000_000,
        f.owner_team,
        f.manual_touches,
        f.escalation_level,
        f.reopen_count,
        f.resolved_at_us,
        resolution_hours,
        _kind(f.resolved_by_human),
        f.cancelled_at_us,
        last_event_us,
        event_count,
        dues[0],
        dues[1],
        sla_calendar,
    )


def alert_row(alert: Alert, info: OpenedInfo, owner_team: str) -> tuple[object, ...]:
    """A ``schema.SLA_ALERTS`` row: the alert and its exception's dimensions."""
    return (
        alert.alert_id,
        alert.exception_id,
        alert.kind,
        alert.revision,
        alert.due_us,
        alert.raised_us,
        alert.retracted_us,
        info.order_id,
        info.site,
        info.lane,
        info.carrier,
        info.category,
        info.severity,
        info.customer_tier,
        owner_team,
        info.source_system,
        info.order_value_reporting,
        info.sla_target_hours,
    )


def message_dims(info: OpenedInfo, owner_team: str) -> dict[str, object]:
    """What an alert message carries beside the alert: the exception's
    dimensions, order (its id and its value in the reporting currency, as
    ``exceptions.order_value_reporting``) and SLA target (hours)."""
    return {
        "site": info.site,
        "lane": info.lane,
        "carrier": info.carrier,
        "category": info.category,
        "severity": info.severity,
        "customer_tier": info.customer_tier,
        "owner_team": owner_team,
        "source_system": info.source_system,
        "order_id": info.order_id,
        "order_value": info.order_value_reporting,
        "sla_target_hours": info.sla_target_hours,
    }


def outbox_row(action: str, alert: Alert, payload: str) -> tuple[object, ...]:
    """A ``schema.ALERT_OUTBOX`` row: a message waiting for delivery."""
    at = alert.raised_us if action == "raised" else alert.retracted_us
    return (alert.alert_id, action, at, payload, None, 0, None)


def _kind(human: bool | None) -> str | None:
    if human is None:
        return None
    return "human" if human else "system"


def version_rows(exception_id: str, versions: tuple[Version, ...]) -> list[tuple[object, ...]]:
    """``schema.EXCEPTION_VERSIONS`` rows; ``valid_to`` is the next version's start
    (NULL: still in force)."""
    rows: list[tuple[object, ...]] = []
    for i, v in enumerate(versions):
        valid_to = versions[i + 1].valid_from_us if i + 1 < len(versions) else None
        rows.append(
            (
                exception_id,
                v.valid_from_us,
                valid_to,
                v.status,
                v.owner_team,
                v.manual_touches,
                v.escalation_level,
                v.reopen_count,
                v.active_us / 1_000_000,
                v.resolved_at_us,
                _kind(v.resolved_by_human),
                v.cancelled_at_us,
                v.working_us_at_start,
            )
        )
    return rows

"""Milestone event contract, version 1 (``shared/spec/events.md``) as pydantic v2 models.

One model per ``event_type``, joined in a discriminated union on ``event_type``.
Validation is strict (no string-to-number coercion, integers for ``level`` and
``lines``, booleans for ``in_full``), timestamps must carry a UTC offset, and
unknown extra fields are ignored (forward-compatible minor versions).

Rules that need configuration (the currency rate table) or state (duplicates,
``duplicate_open``) are applied later, in ``flows``.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal, get_args

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    field_validator,
)
from pydantic_core import PydanticCustomError

from .timeutil import TIME_MAX, TIME_MIN

_VERSION = re.compile(r"^(\d+)(?:\.(\d+))?$")

Id = Annotated[str, Field(min_length=1, max_length=128)]
NonEmpty = Annotated[str, Field(min_length=1)]
Severity = Literal["low", "medium", "high", "critical"]
CustomerTier = Literal["strategic", "key", "standard"]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Category = Annotated[str, Field(min_length=1, max_length=128)]
"""Root cause: any non-empty string of at most 128 characters, kept as given (events.md)."""

MAX_INT32 = 2**31 - 1
"""Largest ``level`` / ``lines`` accepted: what the INTEGER columns hold."""
MAX_ORDER_VALUE = 1e12
"""Largest ``order_value`` accepted, in its own currency (and after conversion)."""
MAX_SLA_TARGET_HOURS = 1e6
"""Largest ``sla_target_hours`` accepted (about 114 years)."""

Money = Annotated[float, Field(ge=0, le=MAX_ORDER_VALUE, allow_inf_nan=False)]
Level = Annotated[int, Field(ge=1, le=MAX_INT32)]

# RFC 3339 date-time: seconds required, "T" (or, as RFC 3339 allows, a space)
# between date and time, offset "Z" or ±HH:MM. Pydantic alone also takes ISO
# 8601 variants ("+0200", "09:00Z", "_" as separator) that partners must not send.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
# No offset at all: left to AwareDatetime, which rejects it as naive
# (reason ``naive_timestamp``) rather than malformed.
_NO_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")


def _rfc3339(value: object) -> object:
    """Let only RFC 3339 strings (or offset-less ones, to fail as naive) through."""
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", "Input should be an RFC 3339 string")
    if not (_RFC3339.match(value) or _NO_OFFSET.match(value)):
        raise PydanticCustomError(
            "rfc3339",
            "'{value}' is not an RFC 3339 timestamp (e.g. 2026-05-04T08:15:00+02:00)",
            {"value": value[:40]},
        )
    return value


def _in_range(value: datetime) -> datetime:
    """Keep times every reader can handle: [1970-01-01Z, 2200-01-01Z) in UTC.

    Aware datetimes compare as instants without conversion, so a time whose UTC
    form would leave Python's range (``9999-12-31T23:30:00-05:00``) is refused,
    not an ``OverflowError``.
    """
    if not TIME_MIN <= value < TIME_MAX:
        raise PydanticCustomError(
            "time_range",
            "{value} is outside the accepted range 1970-01-01T00:00:00Z up to 2200-01-01T00:00:00Z",
            {"value": value.isoformat()},
        )
    return value


# Lax parsing after the check: only strings reach it (strict mode would refuse
# a string handed on by a Python-side validator).
Timestamp = Annotated[
    AwareDatetime, Field(strict=False), BeforeValidator(_rfc3339), AfterValidator(_in_range)
]
"""An RFC 3339 timestamp with a UTC offset (naive ones fail as ``timezone_aware``),
from 1970 up to (not including) 2200 in UTC."""


class Actor(BaseModel):
    """Who did it. ``kind`` decides whether a touch is a *manual* touch."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    id: NonEmpty
    kind: Literal["human", "system"]


class Envelope(BaseModel):
    """Fields on every event."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    event_id: Id
    occurred_at: Timestamp
    source_system: NonEmpty
    schema_version: str
    actor: Actor | None = None

    @field_validator("schema_version")
    @classmethod
    def _major_one(cls, v: str) -> str:
        m = _VERSION.match(v)
        if m is None:
            raise ValueError('schema_version must be "1" or "1.<minor>"')
        if m.group(1) != "1":
            raise PydanticCustomError(
                "unsupported_version", "unsupported schema_version {v}", {"v": v}
            )
        return v

    @property
    def actor_id(self) -> str:
        """Actor id; a missing actor means the source system."""
        return self.actor.id if self.actor is not None else self.source_system

    @property
    def actor_kind(self) -> str:
        """``human`` or ``system``; a missing actor means ``system``."""
        return self.actor.kind if self.actor is not None else "system"


class ExceptionEvent(Envelope):
    """An event of an exception's lifecycle."""

    exception_id: Id


class ExceptionOpened(ExceptionEvent):
    event_type: Literal["exception.opened"]
    order_id: Id
    category: Category
    severity: Severity
    site: NonEmpty
    origin: NonEmpty
    destination: NonEmpty
    customer_tier: CustomerTier
    order_value: Money
    currency: Currency
    carrier: str | None = None
    customer_id: str | None = None
    sla_target_hours: (
        Annotated[float, Field(gt=0, le=MAX_SLA_TARGET_HOURS, allow_inf_nan=False)] | None
    ) = None
    detected_by: str | None = None


class ExceptionAssigned(ExceptionEvent):
    event_type: Literal["exception.assigned"]
    owner_team: NonEmpty
    assignee: str | None = None


class ExceptionTouched(ExceptionEvent):
    event_type: Literal["exception.touched"]
    action: NonEmpty
    note: str | None = None


class ExceptionEscalated(ExceptionEvent):
    event_type: Literal["exception.escalated"]
    level: Level
    to_team: str | None = None
    reason: str | None = None


class ExceptionPaused(ExceptionEvent):
    event_type: Literal["exception.paused"]
    reason: NonEmpty


class ExceptionResumed(ExceptionEvent):
    event_type: Literal["exception.resumed"]


class ExceptionResolved(ExceptionEvent):
    event_type: Literal["exception.resolved"]
    resolution_code: NonEmpty


class ExceptionReopened(ExceptionEvent):
    event_type: Literal["exception.reopened"]
    reason: str | None = None


class ExceptionCancelled(ExceptionEvent):
    event_type: Literal["exception.cancelled"]
    reason: str | None = None


class OrderEvent(Envelope):
    """An order milestone."""

    order_id: Id


class OrderReleased(OrderEvent):
    event_type: Literal["order.released"]
    site: NonEmpty
    origin: NonEmpty
    destination: NonEmpty
    customer_tier: CustomerTier
    order_value: Money
    currency: Currency
    promised_delivery_at: Timestamp
    carrier: str | None = None
    customer_id: str | None = None
    lines: Level | None = None


class OrderShipped(OrderEvent):
    event_type: Literal["order.shipped"]
    carrier: str | None = None


class OrderDelivered(OrderEvent):
    event_type: Literal["order.delivered"]
    in_full: bool


class OrderInvoiced(OrderEvent):
    event_type: Literal["order.invoiced"]
    invoice_id: str | None = None


MilestoneEvent = Annotated[
    ExceptionOpened
    | ExceptionAssigned
    | ExceptionTouched
    | ExceptionEscalated
    | ExceptionPaused
    | ExceptionResumed
    | ExceptionResolved
    | ExceptionReopened
    | ExceptionCancelled
    | OrderReleased
    | OrderShipped
    | OrderDelivered
    | OrderInvoiced,
    Field(discriminator="event_type"),
]
"""Any contract-v1 event, chosen by ``event_type``."""

EVENT_ADAPTER: TypeAdapter[MilestoneEvent] = TypeAdapter(MilestoneEvent)

MODELS: dict[str, type[Envelope]] = {
    str(get_args(model.model_fields["event_type"].annotation)[0]): model
    for model in (
        ExceptionOpened,
        ExceptionAssigned,
        ExceptionTouched,
        ExceptionEscalated,
        ExceptionPaused,
        ExceptionResumed,
        ExceptionResolved,
        ExceptionReopened,
        ExceptionCancelled,
        OrderReleased,
        OrderShipped,
        OrderDelivered,
        OrderInvoiced,
    )
}
"""The model of each ``event_type``."""

EXCEPTION_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "exception.opened",
        "exception.assigned",
        "exception.touched",
        "exception.escalated",
        "exception.paused",
        "exception.resumed",
        "exception.resolved",
        "exception.reopened",
        "exception.cancelled",
    }
)
ORDER_EVENT_TYPES: frozenset[str] = frozenset(
    {"order.released", "order.shipped", "order.delivered", "order.invoiced"}
)

REJECT_REASONS: tuple[str, ...] = (
    "invalid_json",
    "schema",
    "unknown_event_type",
    "unsupported_version",
    "naive_timestamp",
    "future_timestamp",
    "unknown_currency",
    "duplicate_open",
    "unreadable_file",
)
"""Machine-readable reasons a line is rejected (events.md)."""


def json_schema() -> dict[str, object]:
    """The JSON Schema of one event (for partner onboarding: ``fpi schema``)."""
    schema = EVENT_ADAPTER.json_schema()
    schema["title"] = "fpi milestone event, contract version 1"
    schema["description"] = (
        "One JSON object per event (JSON Lines in files; the Kafka message value). "
        "Unknown extra fields are ignored."
    )
    return schema

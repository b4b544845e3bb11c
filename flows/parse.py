"""Parse and validate raw lines against the contract; classify rejects.

A line becomes either a :class:`Parsed` event or a :class:`Rejected` row with
one machine-readable reason (``events.md``). When a line has several faults
the most specific reason wins, in this order: ``invalid_json``,
``unsupported_version``, ``unknown_event_type``, ``schema``,
``naive_timestamp``, ``future_timestamp``, ``unknown_currency``. ``detail``
keeps every fault.
Nothing here raises on input.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson
from pydantic import ValidationError

from core.config import Settings
from core.contract import (
    EVENT_ADAPTER,
    MAX_ORDER_VALUE,
    ExceptionEvent,
    ExceptionOpened,
    MilestoneEvent,
    OrderReleased,
)
from core.timeutil import US_PER_S, from_us, iso_z, to_us

_MAX_DETAIL = 500
BOM = b"\xef\xbb\xbf"
"""The UTF-8 byte-order mark."""
FUTURE_LIMIT_US = 7 * 24 * 3600 * US_PER_S
"""An event may be stamped at most 7 days after it is received (events.md)."""
MONEY_EVENTS: tuple[type[ExceptionOpened], type[OrderReleased]] = (ExceptionOpened, OrderReleased)
"""The events with an ``order_value`` in a ``currency``, converted to the reporting currency."""


@dataclass(slots=True)
class Parsed:
    """A valid event with where it came from."""

    event: MilestoneEvent
    raw: str
    source: str
    offset: int
    seq: int
    occurred_us: int
    value_reporting: float | None
    """``order_value`` in the reporting currency (opened / released events)."""

    @property
    def exception_id(self) -> str:
        """The ``exception_id`` of an exception event (``TypeError`` for an order event)."""
        event = self.event
        if not isinstance(event, ExceptionEvent):
            raise TypeError(f"{event.event_type} has no exception_id")
        return event.exception_id


@dataclass(slots=True)
class Rejected:
    """A line that is kept, not applied, with the reason why."""

    source: str
    offset: int
    raw: str
    reason: str
    detail: str
    event_id: str | None
    event_type: str | None


def _peek(raw: bytes | str) -> tuple[str | None, str | None, object]:
    """Best-effort ``event_id``, ``event_type`` and ``schema_version`` of a bad line."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None, None, None
    if not isinstance(obj, dict):
        return None, None, None
    eid = obj.get("event_id")
    et = obj.get("event_type")
    return (
        eid if isinstance(eid, str) else None,
        et if isinstance(et, str) else None,
        obj.get("schema_version"),
    )


def _major_is_not_one(version: object) -> bool:
    if not isinstance(version, str):
        return False
    major = version.split(".", 1)[0]
    return major.isdigit() and major != "1"


def _reason(errors: Sequence[Mapping[str, object]], version: object) -> str:
    types = {str(e["type"]) for e in errors}
    if "json_invalid" in types:
        return "invalid_json"
    if "unsupported_version" in types or _major_is_not_one(version):
        return "unsupported_version"
    if "union_tag_invalid" in types:
        return "unknown_event_type"
    if types <= {"timezone_aware"}:
        return "naive_timestamp"
    return "schema"


def _detail(errors: Sequence[Mapping[str, object]]) -> str:
    parts = []
    for e in errors:
        where = e.get("loc", ())
        path = where if isinstance(where, tuple) else ()
        loc = ".".join(str(x) for x in path if not str(x).startswith(("exception.", "order.")))
        parts.append(f"{loc or '<line>'}: {e.get('msg')}")
    text = "; ".join(parts)
    return text[:_MAX_DETAIL]


def line_text(raw: bytes) -> str:
    """The text kept for a line (``raw`` without its BOM): decoded, line end removed."""
    return raw.decode("utf-8", errors="replace").rstrip("\r\n")


def parse_line(
    raw: bytes, source: str, offset: int, seq: int, settings: Settings, received_us: int
) -> Parsed | Rejected | None:
    """Validate one line received at ``received_us``. Blank lines give ``None``.

    A UTF-8 byte-order mark at the start of the line (the first line of a file
    saved by some Windows tools, or of a file concatenated onto another) is
    removed. An event stamped more than :data:`FUTURE_LIMIT_US` after it was
    received is rejected ``future_timestamp``; a reporting-currency value above
    :data:`~core.contract.MAX_ORDER_VALUE` after conversion is ``schema``.
    """
    if raw.startswith(BOM):
        raw = raw[len(BOM) :]
    if not raw.strip():
        return None
    text = line_text(raw)
    try:
        event = EVENT_ADAPTER.validate_json(raw)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        eid, et, version = _peek(raw)
        reason = _reason(errors, version)
        return Rejected(source, offset, text, reason, _detail(errors), eid, et)
    except Exception as exc:  # noqa: BLE001 - the flow never crashes on input
        return Rejected(
            source, offset, text, "schema", f"{type(exc).__name__}: {exc}"[:_MAX_DETAIL], None, None
        )
    return finish(event, text, source, offset, seq, settings, received_us)


def finish(
    event: MilestoneEvent,
    text: str,
    source: str,
    offset: int,
    seq: int,
    settings: Settings,
    received_us: int,
) -> Parsed | Rejected:
    """The checks after contract validation (``future_timestamp``, currency rate,
    converted value range) and the :class:`Parsed` of a valid ``event``.

    Shared by :func:`parse_line` and the fast path (``flows.fast_parse``).
    """
    occurred_us = to_us(event.occurred_at)
    if occurred_us > received_us + FUTURE_LIMIT_US:
        return Rejected(
            source,
            offset,
            text,
            "future_timestamp",
            f"occurred_at: {iso_z(event.occurred_at)} is more than 7 days after the line "
            f"was received ({iso_z(from_us(received_us))})",
            event.event_id,
            event.event_type,
        )
    value: float | None = None
    if isinstance(event, MONEY_EVENTS):
        value = settings.to_reporting(event.order_value, event.currency)
        if value is None:
            return Rejected(
                source,
                offset,
                text,
                "unknown_currency",
                f"currency: no rate for {event.currency} in the configured rate table",
                event.event_id,
                event.event_type,
            )
        if not 0.0 <= value <= MAX_ORDER_VALUE:
            return Rejected(
                source,
                offset,
                text,
                "schema",
                f"order_value: {event.order_value} {event.currency} is {value} "
                f"{settings.reporting_currency}, above the accepted {MAX_ORDER_VALUE:.0e}",
                event.event_id,
                event.event_type,
            )
    return Parsed(event, text, source, offset, seq, occurred_us, value)

"""Fast path of :func:`flows.parse.parse_line` for whole chunks of lines.

``parse_line`` validates with ``core.contract.EVENT_ADAPTER``. Most of its cost
is not pydantic's Rust core but the contract's Python validators, called back
from Rust for every line: the RFC 3339 gate before each timestamp, the range
check after it (``occurred_at``, and ``promised_delivery_at``), and the
``schema_version`` check.

:data:`FAST_VALIDATOR` is pydantic-core's validator for a copy of the
contract's own core schema in which those three are done in Rust, each
admitting a subset of what the Python validator admits, with the same result:

- ``_rfc3339`` (before each timestamp) becomes a strict ``str`` matching
  :data:`RFC3339`, chained to the contract's own datetime schema. Every string
  it admits is admitted by the contract's pattern, and is then parsed by the
  same speedate call in lax mode on a Python ``str``, as after the Python
  gate (digits after the microseconds truncated, ``TzInfo`` offsets);
- ``_in_range`` (after it) becomes the datetime constraints ``ge=TIME_MIN``,
  ``lt=TIME_MAX``: speedate orders two offset-aware times by instant (UTC
  seconds, then microseconds), as Python's aware comparison in ``_in_range``;
- ``_major_one`` (``schema_version``) becomes a strict ``str`` matching
  :data:`VERSION`, which only admits versions the contract takes unchanged.

Everything else is the contract's schema node for node: the same JSON parser
(jiter: nesting limit, duplicate keys, numbers, UTF-8), the same
discriminated union, strict types and constraints, the same model classes
built by the same Rust code (``model_fields_set``, no extra, no private
attributes). So a line the copy accepts gets the event ``EVENT_ADAPTER`` would
give. A line it refuses (invalid JSON, any schema fault, another version, a
naive timestamp, a form the copy does not admit such as ``"1.\u0661"`` or a
Unicode digit, a blank line) goes to ``parse_line`` as it came, so every such
reject, reason and ``detail``, is ``parse_line``'s own.

After validation, a line that is surely accepted (not in the future, a rate
for its currency, converted value in range) becomes its :class:`Parsed`
here; any other is left to :func:`flows.parse.finish`, the code
``parse_line`` runs, for its ``future_timestamp`` / ``unknown_currency`` /
``schema`` reject.

pydantic-core reuses a model class's prebuilt validator for a ``model`` node;
:data:`FAST_VALIDATOR` is built with ``_use_prebuilt=False`` (the switch
pydantic itself uses for rebuilds) so the copy is really used. Were it
ignored, the copy would be the contract's validator again: slower, never
different.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final, cast

from pydantic_core import CoreSchema, SchemaValidator, core_schema

from core.config import Settings
from core.contract import EVENT_ADAPTER, MAX_ORDER_VALUE, MilestoneEvent
from core.timeutil import TIME_MAX, TIME_MIN, epoch_us

from .parse import (
    BOM,
    FUTURE_LIMIT_US,
    MONEY_EVENTS,
    Parsed,
    Rejected,
    finish,
    line_text,
    parse_line,
)

RFC3339: Final = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
"""The timestamps the fast path admits (Rust regex: ASCII digits, ``$`` is the
end of the text): the contract's RFC 3339 pattern with ``[0-9]`` for ``\\d``
and the UTC offset required. Others go to ``parse_line``."""
VERSION: Final = r"^1(?:\.[0-9]+)?$"
"""The ``schema_version`` values the fast path admits: ``1`` and ``1.<digits>``."""

_CONTRACT = "core.contract"
# The Python validators of core.contract this module knows, by name: a new or
# renamed one stops the import instead of being dropped silently.
_RFC3339_GATE = "_rfc3339"
_IN_RANGE = "_in_range"
_MAJOR_ONE = "_major_one"
_FUNCTIONS = frozenset({"function-before", "function-after", "function-wrap", "function-plain"})
_RANGE_KEYS = frozenset({"le", "lt", "ge", "gt", "now_op"})
_NOT_VALIDATION = frozenset({"serialization", "metadata"})
"""Keys of a schema node that validation does not use: copied as they are."""


def _is(function: object, name: str) -> bool:
    return (
        getattr(function, "__module__", None) == _CONTRACT
        and getattr(function, "__name__", None) == name
    )


def _replace(node: Mapping[str, object], field: str | None) -> CoreSchema:
    """The Rust-only stand-in for one Python-validator node of the contract."""
    inner = node.get("schema")
    function = node.get("function")
    fn = function.get("function") if isinstance(function, Mapping) else None
    if (
        node.get("type") == "function-after"
        and _is(fn, _IN_RANGE)
        and isinstance(inner, Mapping)
        and inner.get("type") == "function-before"
    ):
        gate = inner.get("function")
        parsed = inner.get("schema")
        if (
            isinstance(gate, Mapping)
            and _is(gate.get("function"), _RFC3339_GATE)
            and isinstance(parsed, Mapping)
            and parsed.get("type") == "datetime"
            and not _RANGE_KEYS & parsed.keys()
        ):
            # after(_in_range, before(_rfc3339, datetime)) ->
            # chain(str matching RFC3339, datetime in [TIME_MIN, TIME_MAX))
            text = core_schema.str_schema(pattern=RFC3339, strict=True)
            ranged = dict(_copy(parsed, field))
            ranged.update(ge=TIME_MIN, lt=TIME_MAX)
            return core_schema.chain_schema([text, _as_schema(ranged)])
    if (
        node.get("type") == "function-after"
        and field == "schema_version"
        and _is(fn, _MAJOR_ONE)
        and isinstance(inner, Mapping)
        and inner.get("type") == "str"
        and "pattern" not in inner
    ):
        # after(_major_one, str) -> str matching VERSION
        out = dict(_copy(inner, field))
        out.update(pattern=VERSION, strict=True)
        return _as_schema(out)
    raise RuntimeError(
        f"flows.fast_parse does not know the Python validator {fn!r} of core.contract "
        f"(field {field!r}); teach it or remove it"
    )


def _as_schema(node: Mapping[str, object]) -> CoreSchema:
    # CoreSchema is a union of TypedDicts; the nodes built here are copies of
    # the contract's nodes (or core_schema builders' output) with the same keys.
    return cast(CoreSchema, node)


def _copy(node: Mapping[str, object], field: str | None) -> CoreSchema:
    """``node`` with every Python validator replaced (see :func:`_replace`)."""
    kind = node.get("type")
    if kind in _FUNCTIONS:
        return _replace(node, field)
    out: dict[str, object] = {}
    for key, value in node.items():
        if key in _NOT_VALIDATION:
            out[key] = value
        elif kind == "model-fields" and key == "fields" and isinstance(value, Mapping):
            out[key] = {name: _walk(f, name) for name, f in value.items()}
        else:
            out[key] = _walk(value, field)
    return _as_schema(out)


def _walk(value: object, field: str | None) -> object:
    if isinstance(value, Mapping) and isinstance(value.get("type"), str):
        return _copy(value, field)
    if isinstance(value, Mapping):
        return {k: _walk(v, field) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, field) for v in value]
    return value


def fast_schema(schema: CoreSchema) -> CoreSchema:
    """A copy of the contract's core ``schema`` with its string gates in Rust."""
    return _copy(schema, None)


FAST_VALIDATOR: Final = SchemaValidator(fast_schema(EVENT_ADAPTER.core_schema), _use_prebuilt=False)
"""Validates what ``EVENT_ADAPTER`` does, giving the same events, for the lines
whose timestamps match :data:`RFC3339` and whose version matches :data:`VERSION`."""


def parse_chunk_fast(
    lines: Sequence[bytes],
    source: str,
    first_offset: int,
    first_seq: int,
    settings: Settings,
    received_us: int,
) -> tuple[list[Parsed], list[Rejected]]:
    """What ``parse_line`` gives for each of ``lines`` (consecutive offsets and
    seqs from ``first_offset`` / ``first_seq``): events and rejects in line
    order, blank lines dropped.

    Each line is validated with :data:`FAST_VALIDATOR`; a line it refuses is
    handed to ``parse_line`` as it came. A validated event that passes the
    checks after validation becomes a :class:`Parsed` here; one that may not
    (future, no rate, converted value out of range) is left to
    :func:`flows.parse.finish`, the code ``parse_line`` runs, for its reject.
    """
    validate: Callable[[bytes], MilestoneEvent] = FAST_VALIDATOR.validate_json
    latest_us = received_us + FUTURE_LIMIT_US
    to_reporting = settings.to_reporting
    events: list[Parsed] = []
    rejected: list[Rejected] = []
    seq = first_seq
    for offset, raw in enumerate(lines, first_offset):
        body = raw[len(BOM) :] if raw.startswith(BOM) else raw
        try:
            event = validate(body)
        except Exception:  # noqa: BLE001 - refused (or odd): parse_line decides
            result = parse_line(raw, source, offset, seq, settings, received_us)
            if isinstance(result, Parsed):
                events.append(result)
            elif result is not None:
                rejected.append(result)
            seq += 1
            continue
        text = line_text(body)
        occurred_us = epoch_us(event.occurred_at)
        value: float | None = None
        ok = occurred_us <= latest_us
        if ok and isinstance(event, MONEY_EVENTS):
            value = to_reporting(event.order_value, event.currency)
            ok = value is not None and 0.0 <= value <= MAX_ORDER_VALUE
        if ok:
            events.append(Parsed(event, text, source, offset, seq, occurred_us, value))
        else:
            result = finish(event, text, source, offset, seq, settings, received_us)
            if isinstance(result, Parsed):
                events.append(result)
            else:
                rejected.append(result)
        seq += 1
    return events, rejected

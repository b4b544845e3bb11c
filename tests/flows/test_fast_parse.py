"""The fast path (``flows.fast_parse``) gives exactly what ``parse_line`` gives.

Every test runs lines through both and compares field by field: the same
``Parsed`` (model class, every field's value, type and ``repr``, datetimes'
``tzinfo`` class and offset, nested models, ``model_fields_set``, extra and
private slots, ``__dict__`` order, ``model_dump()`` and ``model_dump_json()``;
raw text, source, offset, seq, ``occurred_us``, ``value_reporting``) and the
same ``Rejected`` (every attribute, ``detail`` included), in the same order.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import AfterValidator, BaseModel
from pydantic_core import TzInfo

from core.config import Settings, load_settings
from core.contract import MAX_INT32, MODELS
from core.timeutil import to_us
from flows.fast_parse import FAST_VALIDATOR, epoch_us, fast_schema, parse_chunk_fast
from flows.parse import BOM, Parsed, Rejected, parse_line
from sample_streams.generator import GeneratorConfig, generate_labelled
from sample_streams.generator.labels import BAD_LINE_KINDS
from tests.streams import T0, ev, opened, released

SETTINGS = load_settings()
RECEIVED = to_us(T0 + timedelta(days=1))
WEEK_US = 7 * 24 * 3600 * 1_000_000
# A reporting currency other than USD, and a rate-table key the contract's
# currency pattern refuses (Settings only asks for 3 upper-case characters).
EUR_SETTINGS = Settings(
    reporting_currency="EUR", sla=SETTINGS.sla, rates={"EUR": 1.0, "USD": 0.93, "A1B": 2.0}
)
FAR_FUTURE = to_us(datetime(2300, 1, 1, tzinfo=UTC))
"""A receive time after every accepted time: no ``future_timestamp``, only ranges."""
SLOW = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- comparison ------------------------------------------------------------------------


def assert_same_value(a: object, b: object, where: str) -> None:
    assert type(a) is type(b), where
    if isinstance(a, BaseModel):
        assert_same_model(a, b, where)
        return
    assert repr(a) == repr(b), where  # -0.0 vs 0.0, 100 vs 100.0
    assert a == b, where
    if isinstance(a, datetime):
        assert isinstance(b, datetime)
        assert type(a.tzinfo) is type(b.tzinfo), where
        assert a.utcoffset() == b.utcoffset(), where
        assert (a.fold, a.isoformat()) == (b.fold, b.isoformat()), where


def assert_same_model(a: BaseModel, b: BaseModel, where: str) -> None:
    assert type(a) is type(b), where
    assert a == b, where
    assert a.model_fields_set == b.model_fields_set, where
    assert type(a.model_fields_set) is type(b.model_fields_set), where
    assert a.__pydantic_extra__ == b.__pydantic_extra__, where
    assert a.__pydantic_private__ == b.__pydantic_private__, where
    assert list(a.__dict__) == list(b.__dict__), where
    assert a.model_dump() == b.model_dump(), where
    assert a.model_dump_json() == b.model_dump_json(), where
    for name in type(a).model_fields:
        assert_same_value(getattr(a, name), getattr(b, name), f"{where}.{name}")


def reference(
    lines: list[bytes], stg: Settings, received: int, first_offset: int, first_seq: int
) -> tuple[list[Parsed], list[Rejected]]:
    events: list[Parsed] = []
    rejected: list[Rejected] = []
    for i, line in enumerate(lines):
        r = parse_line(line, "src", first_offset + i, first_seq + i, stg, received)
        if isinstance(r, Parsed):
            events.append(r)
        elif r is not None:
            rejected.append(r)
    return events, rejected


def assert_same(
    lines: list[bytes],
    stg: Settings = SETTINGS,
    received: int = RECEIVED,
    first_offset: int = 1,
    first_seq: int = 100,
) -> tuple[list[Parsed], list[Rejected]]:
    """``parse_chunk_fast`` equals ``parse_line`` line by line; returns the result."""
    fast = parse_chunk_fast(lines, "src", first_offset, first_seq, stg, received)
    ref = reference(lines, stg, received, first_offset, first_seq)
    assert len(fast[0]) == len(ref[0]) and len(fast[1]) == len(ref[1])
    for a, b in zip(fast[0], ref[0], strict=True):
        where = f"line {a.offset}: {a.raw[:80]}"
        assert (a.raw, a.source, a.offset, a.seq, a.occurred_us) == (
            b.raw,
            b.source,
            b.offset,
            b.seq,
            b.occurred_us,
        ), where
        assert_same_value(a.value_reporting, b.value_reporting, where)
        assert_same_model(a.event, b.event, where)
    for c, d in zip(fast[1], ref[1], strict=True):
        assert c == d
    return fast


def takes_fast(line: bytes) -> bool:
    """Whether the fast validator accepts ``line`` (else ``parse_line`` gets it)."""
    try:
        FAST_VALIDATOR.validate_json(line.removeprefix(BOM))
    except Exception:  # noqa: BLE001
        return False
    return True


def outcome(lines: list[bytes], stg: Settings = SETTINGS, received: int = RECEIVED) -> str:
    events, rejected = assert_same(lines, stg, received)
    if events:
        return "ok"
    return rejected[0].reason if rejected else "blank"


# --- lines -----------------------------------------------------------------------------


def line(obj: object, **raw: str) -> bytes:
    """JSON line of ``obj``; a string value ``"<<k>>"`` is replaced by the raw token ``raw[k]``."""
    text = json.dumps(obj, ensure_ascii=False)
    for key, token in raw.items():
        text = text.replace(json.dumps(f"<<{key}>>"), token)
    return text.encode() + b"\n"


def at(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


RECEIVED_AT = T0 + timedelta(days=1)
PROMISED = "2026-05-06T17:00:00-04:00"
TOUCHED = ev("exception.touched", "X-1", T0, eid="t-1", action="call")
OPENED = opened(
    "X-1",
    T0,
    eid="o-1",
    customer_id="C-1",
    sla_target_hours=12.5,
    detected_by="rule-7",
    human=True,
)
RELEASED = released("SO-1", T0, PROMISED, carrier="ACME", customer_id="C-9", lines=3)
BASES: dict[str, dict[str, Any]] = {
    "opened": OPENED,
    "opened_minimal": opened("X-2", T0, carrier=None),
    "assigned": ev("exception.assigned", "X-1", T0, owner_team="T1", assignee="ann"),
    "touched": TOUCHED,
    "touched_human": ev("exception.touched", "X-1", T0, human=True, action="note", note="n"),
    "escalated": ev("exception.escalated", "X-1", T0, level=2, to_team="T2", reason="slow"),
    "paused": ev("exception.paused", "X-1", T0, reason="waiting_on_customer"),
    "resumed": ev("exception.resumed", "X-1", T0),
    "resolved": ev("exception.resolved", "X-1", T0, resolution_code="split_ship"),
    "reopened": ev("exception.reopened", "X-1", T0, reason="again"),
    "cancelled": ev("exception.cancelled", "X-1", T0),
    "released": RELEASED,
    "released_minimal": released("SO-2", T0, PROMISED),
    "shipped": ev("order.shipped", "SO-1", T0, carrier="ACME"),
    "delivered": ev("order.delivered", "SO-1", T0, in_full=True),
    "invoiced": ev("order.invoiced", "SO-1", T0, invoice_id="INV-1"),
}
T = json.dumps(TOUCHED)[:-1]
"""The touched event's JSON without its closing brace (to append raw members)."""

# (name, line, outcome: "ok" / reject reason / "blank", fast validator takes it?)
Case = tuple[str, bytes, str, bool]
CASES: list[Case] = [(f"valid {k}", line(v), "ok", True) for k, v in BASES.items()]
CASES += [
    # envelope, actor, versions, extra fields
    ("actor system", line(dict(TOUCHED, actor={"id": "bot", "kind": "system"})), "ok", True),
    ("actor null", line(dict(TOUCHED, actor=None)), "ok", True),
    (
        "actor extra",
        line(dict(TOUCHED, actor={"id": "u", "kind": "human", "x": [1, {"y": None}]})),
        "ok",
        True,
    ),
    ("actor robot", line(dict(TOUCHED, actor={"id": "u", "kind": "robot"})), "schema", False),
    ("actor Human", line(dict(TOUCHED, actor={"id": "u", "kind": "Human"})), "schema", False),
    ("actor empty id", line(dict(TOUCHED, actor={"id": "", "kind": "human"})), "schema", False),
    ("actor id int", line(dict(TOUCHED, actor={"id": 7, "kind": "human"})), "schema", False),
    ("actor no kind", line(dict(TOUCHED, actor={"id": "u"})), "schema", False),
    ("actor list", line(dict(TOUCHED, actor=[])), "schema", False),
    ("actor string", line(dict(TOUCHED, actor="u-1")), "schema", False),
    ("version 1.0", line(dict(TOUCHED, schema_version="1.0")), "ok", True),
    ("version 1.99", line(dict(TOUCHED, schema_version="1.99")), "ok", True),
    ("version 1.long", line(dict(TOUCHED, schema_version="1." + "0" * 40)), "ok", True),
    ("version 1 newline", line(dict(TOUCHED, schema_version="1\n")), "ok", False),
    ("version 1.arabic digit", line(dict(TOUCHED, schema_version="1.\u0661")), "ok", False),
    (
        "version arabic 1",
        line(dict(TOUCHED, schema_version="\u0661")),
        "unsupported_version",
        False,
    ),
    ("version 2", line(dict(TOUCHED, schema_version="2")), "unsupported_version", False),
    ("version 01", line(dict(TOUCHED, schema_version="01")), "unsupported_version", False),
    ("version 10", line(dict(TOUCHED, schema_version="10")), "unsupported_version", False),
    (
        "version 2 unknown type",
        line(dict(TOUCHED, schema_version="2.1", event_type="exception.teleported")),
        "unsupported_version",
        False,
    ),
    ("version 1.", line(dict(TOUCHED, schema_version="1.")), "schema", False),
    ("version 1.a", line(dict(TOUCHED, schema_version="1.a")), "schema", False),
    ("version space 1", line(dict(TOUCHED, schema_version=" 1")), "schema", False),
    ("version int", line(dict(TOUCHED, schema_version=1)), "schema", False),
    ("version null", line(dict(TOUCHED, schema_version=None)), "schema", False),
    (
        "extra fields",
        line(
            dict(
                TOUCHED,
                schema_version="1.1",
                trace_id="ab",
                nested={"a": [1, 2, {"b": None}], "c": "d"},
                big=10**300,
                t=True,
            )
        ),
        "ok",
        True,
    ),
    ("extra inf", (T + ',"x": 1e999}').encode(), "ok", True),
    ("extra NaN", (T + ',"x": NaN, "y": -Infinity}').encode(), "ok", True),
    ("extra 4300 digits", (T + ',"x": ' + "9" * 4300 + "}").encode(), "ok", True),
    ("extra 4301 digits", (T + ',"x": ' + "9" * 4301 + "}").encode(), "invalid_json", False),
    ("extra depth 150", (T + ',"x": ' + "[" * 150 + "]" * 150 + "}").encode(), "ok", True),
    (
        "extra depth 300",
        (T + ',"x": ' + "[" * 300 + "]" * 300 + "}").encode(),
        "invalid_json",
        False,
    ),
    (
        "actor depth 300",
        (
            T + ',"actor": {"id": "u", "kind": "human", "x": ' + "[" * 300 + "]" * 300 + "}}"
        ).encode(),
        "invalid_json",
        False,
    ),
    # strings: lengths in characters, unicode, NUL
    ("event_id 128", line(dict(TOUCHED, event_id="x" * 128)), "ok", True),
    ("event_id 128 emoji", line(dict(TOUCHED, event_id="\U0001f600" * 128)), "ok", True),
    ("event_id 129", line(dict(TOUCHED, event_id="x" * 129)), "schema", False),
    ("event_id 129 emoji", line(dict(TOUCHED, event_id="\U0001f600" * 129)), "schema", False),
    ("event_id 64 combining", line(dict(TOUCHED, event_id="e\u0301" * 64)), "ok", True),
    ("event_id 65 combining", line(dict(TOUCHED, event_id="e\u0301" * 65)), "schema", False),
    ("event_id empty", line(dict(TOUCHED, event_id="")), "schema", False),
    ("event_id int", line(dict(TOUCHED, event_id=1)), "schema", False),
    (
        "unicode text",
        line(dict(TOUCHED, event_id="é-😀-中文-\u202e-\ufeff", action="\u2028x\u0085")),
        "ok",
        True,
    ),
    ("nul escaped", line(dict(TOUCHED, action="a\u0000b", note="\u0000")), "ok", True),
    ("nul raw", line(TOUCHED).replace(b'"call"', b'"ca\x00ll"'), "invalid_json", False),
    ("tab raw", line(TOUCHED).replace(b'"call"', b'"ca\tll"'), "invalid_json", False),
    ("del raw", line(TOUCHED).replace(b'"call"', b'"ca\x7fll"'), "ok", True),
    ("escapes", line(TOUCHED).replace(b'"call"', b'"c\\/a\\u006cl\\"\\\\"'), "ok", True),
    ("escaped key", line(TOUCHED).replace(b'"action"', b'"\\u0061ction"'), "ok", True),
    ("surrogate pair", line(TOUCHED).replace(b'"call"', b'"\\ud83d\\ude00"'), "ok", True),
    ("lone surrogate", line(TOUCHED).replace(b'"call"', b'"\\ud800"'), "invalid_json", False),
    ("invalid utf-8", line(TOUCHED).replace(b'"call"', b'"\xff"'), "invalid_json", False),
    ("overlong utf-8", line(TOUCHED).replace(b'"call"', b'"\xc0\x80"'), "invalid_json", False),
    ("utf-8 surrogate", line(TOUCHED).replace(b'"call"', b'"\xed\xa0\x80"'), "invalid_json", False),
    ("spaces only", line(dict(TOUCHED, source_system=" ", action="\t")), "ok", True),
    ("source_system empty", line(dict(TOUCHED, source_system="")), "schema", False),
    ("action empty", line(dict(TOUCHED, action="")), "schema", False),
    ("note empty", line(dict(TOUCHED, note="")), "ok", True),
    ("note null", line(dict(TOUCHED, note=None)), "ok", True),
    ("note int", line(dict(TOUCHED, note=5)), "schema", False),
    ("category 128", line(dict(OPENED, category="c" * 128)), "ok", True),
    ("category 129", line(dict(OPENED, category="c" * 129)), "schema", False),
    ("category odd", line(dict(OPENED, category="?")), "ok", True),
    ("category empty", line(dict(OPENED, category="")), "schema", False),
    ("carrier empty", line(dict(OPENED, carrier="")), "ok", True),
    ("site empty", line(dict(OPENED, site="")), "schema", False),
    # enums
    ("severity High", line(dict(OPENED, severity="High")), "schema", False),
    ("severity urgent", line(dict(OPENED, severity="urgent")), "schema", False),
    ("tier gold", line(dict(OPENED, customer_tier="gold")), "schema", False),
    ("tier list", line(dict(RELEASED, customer_tier=["key"])), "schema", False),
    # numbers: strict types, ints vs floats, ranges
    ("value int", line(dict(OPENED, order_value=100)), "ok", True),
    ("value zero", line(dict(OPENED, order_value=0)), "ok", True),
    ("value -0 int", line(dict(OPENED, order_value="<<v>>"), v="-0"), "ok", True),
    ("value -0.0", line(dict(OPENED, order_value=-0.0)), "ok", True),
    ("value -1e-400", line(dict(OPENED, order_value="<<v>>"), v="-1e-400"), "ok", True),
    ("value 1e-400", line(dict(OPENED, order_value="<<v>>"), v="1e-400"), "ok", True),
    ("value 5e-324", line(dict(OPENED, order_value=5e-324)), "ok", True),
    ("value max", line(dict(OPENED, order_value=1e12)), "ok", True),
    ("value max int", line(dict(OPENED, order_value=10**12)), "ok", True),
    (
        "value rounds to max",
        line(dict(OPENED, order_value="<<v>>"), v="1000000000000.0000001"),
        "ok",
        True,
    ),
    (
        "value max+",
        line(dict(OPENED, order_value="<<v>>"), v="1000000000000.0001"),
        "schema",
        False,
    ),
    ("value 1e12+1", line(dict(OPENED, order_value=10**12 + 1)), "schema", False),
    ("value 2**64", line(dict(OPENED, order_value=2**64)), "schema", False),
    ("value 1e400", line(dict(OPENED, order_value="<<v>>"), v="1e400"), "schema", False),
    ("value NaN", line(dict(OPENED, order_value="<<v>>"), v="NaN"), "schema", False),
    ("value 1.7e308", line(dict(OPENED, order_value=1.7e308)), "schema", False),
    ("value negative", line(dict(OPENED, order_value=-0.01)), "schema", False),
    ("value string", line(dict(OPENED, order_value="100")), "schema", False),
    ("value true", line(dict(OPENED, order_value=True)), "schema", False),
    ("value null", line(dict(OPENED, order_value=None)), "schema", False),
    ("value 1E+2", line(dict(OPENED, order_value="<<v>>"), v="1E+2"), "ok", True),
    ("value leading zero", line(dict(OPENED, order_value="<<v>>"), v="01"), "invalid_json", False),
    ("value 1.", line(dict(OPENED, order_value="<<v>>"), v="1."), "invalid_json", False),
    ("value .5", line(dict(OPENED, order_value="<<v>>"), v=".5"), "invalid_json", False),
    ("value +1", line(dict(OPENED, order_value="<<v>>"), v="+1"), "invalid_json", False),
    ("sla int", line(dict(OPENED, sla_target_hours=12)), "ok", True),
    ("sla max", line(dict(OPENED, sla_target_hours=1e6)), "ok", True),
    ("sla max+", line(dict(OPENED, sla_target_hours=1e6 + 1e-9)), "schema", False),
    ("sla tiny", line(dict(OPENED, sla_target_hours=5e-324)), "ok", True),
    ("sla zero", line(dict(OPENED, sla_target_hours=0)), "schema", False),
    ("sla null", line(dict(OPENED, sla_target_hours=None)), "ok", True),
    ("sla bool", line(dict(OPENED, sla_target_hours=False)), "schema", False),
    ("level max", line(dict(BASES["escalated"], level=MAX_INT32)), "ok", True),
    ("level max+", line(dict(BASES["escalated"], level=MAX_INT32 + 1)), "schema", False),
    ("level 0", line(dict(BASES["escalated"], level=0)), "schema", False),
    ("level -1", line(dict(BASES["escalated"], level=-1)), "schema", False),
    ("level 2**64", line(dict(BASES["escalated"], level=2**64)), "schema", False),
    ("level 10**30", line(dict(BASES["escalated"], level=10**30)), "schema", False),
    ("level 1.0", line(dict(BASES["escalated"], level=1.0)), "schema", False),
    ("level 1e0", line(dict(BASES["escalated"], level="<<v>>"), v="1e0"), "schema", False),
    ("level true", line(dict(BASES["escalated"], level=True)), "schema", False),
    ("level string", line(dict(BASES["escalated"], level="2")), "schema", False),
    ("lines max", line(dict(RELEASED, lines=MAX_INT32)), "ok", True),
    ("lines null", line(dict(RELEASED, lines=None)), "ok", True),
    ("lines 0", line(dict(RELEASED, lines=0)), "schema", False),
    ("in_full false", line(dict(BASES["delivered"], in_full=False)), "ok", True),
    ("in_full 1", line(dict(BASES["delivered"], in_full=1)), "schema", False),
    ("in_full yes", line(dict(BASES["delivered"], in_full="yes")), "schema", False),
    # currencies and the value after conversion
    ("currency EUR", line(dict(OPENED, currency="EUR", order_value=100.0)), "ok", True),
    ("currency JPY", line(dict(RELEASED, currency="JPY", order_value=123456.78)), "ok", True),
    ("currency XYZ", line(dict(OPENED, currency="XYZ")), "unknown_currency", True),
    ("currency usd", line(dict(OPENED, currency="usd")), "schema", False),
    ("currency USDD", line(dict(OPENED, currency="USDD")), "schema", False),
    ("currency int", line(dict(OPENED, currency=840)), "schema", False),
    ("converted over max", line(dict(OPENED, currency="EUR", order_value=1e12)), "schema", True),
    (
        "unknown currency and future",
        line(dict(OPENED, currency="XYZ", occurred_at=at(RECEIVED_AT + timedelta(days=8)))),
        "future_timestamp",
        True,
    ),
    # timestamps: RFC 3339 forms, fractions, offsets, ranges
    ("time z", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00z")), "ok", True),
    ("time t", line(dict(TOUCHED, occurred_at="2026-05-04t08:00:00Z")), "ok", True),
    ("time space", line(dict(TOUCHED, occurred_at="2026-05-04 08:00:00Z")), "ok", True),
    ("time 7 digits", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00.1234567Z")), "ok", True),
    ("time .9999999", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00.9999999Z")), "ok", True),
    (
        "time 30 digits",
        line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00." + "9" * 30 + "+01:00")),
        "ok",
        True,
    ),
    ("time +14:00", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00+14:00")), "ok", True),
    ("time -23:59", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00-23:59")), "ok", True),
    ("time -00:00", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00-00:00")), "ok", True),
    ("time +00:00", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00.5+00:00")), "ok", True),
    ("time leap day", line(dict(TOUCHED, occurred_at="2024-02-29T12:00:00Z")), "ok", True),
    ("time no leap day", line(dict(TOUCHED, occurred_at="2026-02-29T12:00:00Z")), "schema", False),
    ("time +24:00", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00+24:00")), "schema", False),
    ("time +23:60", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00+23:60")), "schema", False),
    ("time 24:00", line(dict(TOUCHED, occurred_at="2026-05-04T24:00:00Z")), "schema", False),
    ("time :60", line(dict(TOUCHED, occurred_at="2026-05-04T23:59:60Z")), "schema", False),
    ("time year 0", line(dict(TOUCHED, occurred_at="0000-01-01T00:00:00Z")), "schema", False),
    (
        "time naive",
        line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00")),
        "naive_timestamp",
        False,
    ),
    (
        "time naive min",
        line(dict(TOUCHED, occurred_at="2026-05-04T08:00")),
        "naive_timestamp",
        False,
    ),
    ("time date", line(dict(TOUCHED, occurred_at="2026-05-04")), "naive_timestamp", False),
    ("time +0200", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00+0200")), "schema", False),
    ("time no seconds", line(dict(TOUCHED, occurred_at="2026-05-04T08:00Z")), "schema", False),
    ("time underscore", line(dict(TOUCHED, occurred_at="2026-05-04_08:00:00Z")), "schema", False),
    ("time comma", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00,5Z")), "schema", False),
    ("time dot", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00.Z")), "schema", False),
    (
        "time minus sign",
        line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00\u221205:00")),
        "schema",
        False,
    ),
    (
        "time fullwidth",
        line(dict(TOUCHED, occurred_at="２０２６-05-04T08:00:00Z")),
        "schema",
        False,
    ),
    ("time newline", line(dict(TOUCHED, occurred_at="2026-05-04T08:00:00Z\n")), "schema", False),
    ("time int", line(dict(TOUCHED, occurred_at=1714800000)), "schema", False),
    ("time null", line(dict(TOUCHED, occurred_at=None)), "schema", False),
    ("time 1970", line(dict(TOUCHED, occurred_at="1970-01-01T00:00:00Z")), "ok", True),
    ("time 1970 -01:00", line(dict(TOUCHED, occurred_at="1969-12-31T23:00:00-01:00")), "ok", True),
    ("time 1969", line(dict(TOUCHED, occurred_at="1969-12-31T23:59:59.999999Z")), "schema", False),
    (
        "time 1970 +01:00",
        line(dict(TOUCHED, occurred_at="1970-01-01T00:30:00+01:00")),
        "schema",
        False,
    ),
    (
        "time 9999 -05:00",
        line(dict(TOUCHED, occurred_at="9999-12-31T23:30:00-05:00")),
        "schema",
        False,
    ),
    (
        "promised 2199",
        line(dict(RELEASED, promised_delivery_at="2199-12-31T23:59:59.999999Z")),
        "ok",
        True,
    ),
    (
        "promised 2200 +01:00",
        line(dict(RELEASED, promised_delivery_at="2200-01-01T00:59:59+01:00")),
        "ok",
        True,
    ),
    (
        "promised 2200",
        line(dict(RELEASED, promised_delivery_at="2200-01-01T00:00:00Z")),
        "schema",
        False,
    ),
    (
        "promised 2199 -01:00",
        line(dict(RELEASED, promised_delivery_at="2199-12-31T23:00:00-01:00")),
        "schema",
        False,
    ),
    (
        "promised naive",
        line(dict(RELEASED, promised_delivery_at="2026-05-06T17:00:00")),
        "naive_timestamp",
        False,
    ),
    (
        "week later",
        line(dict(TOUCHED, occurred_at=at(RECEIVED_AT + timedelta(days=7)))),
        "ok",
        True,
    ),
    (
        "week later + 1 µs",
        line(dict(TOUCHED, occurred_at=at(RECEIVED_AT + timedelta(days=7, microseconds=1)))),
        "future_timestamp",
        True,
    ),
    (
        "week later + 1 µs -05:00",
        line(
            dict(
                TOUCHED,
                occurred_at=(RECEIVED_AT + timedelta(days=7, microseconds=1))
                .astimezone(timezone(timedelta(hours=-5)))
                .isoformat(),
            )
        ),
        "future_timestamp",
        True,
    ),
    # event types, missing fields
    (
        "unknown type",
        line(dict(TOUCHED, event_type="exception.moved")),
        "unknown_event_type",
        False,
    ),
    (
        "upper type",
        line(dict(TOUCHED, event_type="EXCEPTION.TOUCHED")),
        "unknown_event_type",
        False,
    ),
    ("type null", line(dict(TOUCHED, event_type=None)), "unknown_event_type", False),
    ("type int", line(dict(TOUCHED, event_type=3)), "unknown_event_type", False),
    (
        "type list",
        line(dict(TOUCHED, event_type=["exception.touched"])),
        "unknown_event_type",
        False,
    ),
    (
        "type missing",
        line({k: v for k, v in TOUCHED.items() if k != "event_type"}),
        "schema",
        False,
    ),
    (
        "no exception_id",
        line({k: v for k, v in TOUCHED.items() if k != "exception_id"}),
        "schema",
        False,
    ),
    ("paused no reason", line(ev("exception.paused", "X-1", T0)), "schema", False),
    ("order id as exception", line(dict(BASES["shipped"], exception_id="X-1")), "ok", True),
    # duplicate keys: the last one wins, as in both parsers
    ("dup last valid", (T + ',"action": 5, "action": "again"}').encode(), "ok", True),
    ("dup last invalid", (T + ',"action": "again", "action": 5}').encode(), "schema", False),
    (
        "dup type",
        (
            T.replace('"event_type"', '"event_type": "exception.opened", "event_type"', 1) + "}"
        ).encode(),
        "ok",
        True,
    ),
    (
        "dup actor",
        (
            T + ',"actor": {"id": "u", "kind": "robot"},'
            ' "actor": {"id": "u", "kind": "human", "kind": "system"}}'
        ).encode(),
        "ok",
        True,
    ),
    # framing: BOM, line ends, blanks, non-objects, broken JSON
    ("bom", BOM + line(TOUCHED), "ok", True),
    ("bom bom", BOM + BOM + line(TOUCHED), "invalid_json", False),
    ("bom blank", BOM + b"\n", "blank", False),
    ("crlf", line(TOUCHED)[:-1] + b"\r\n", "ok", True),
    ("cr cr lf", line(TOUCHED)[:-1] + b"\r\r\n", "ok", True),
    ("no newline", line(TOUCHED)[:-1], "ok", True),
    ("spaces around", b" \t" + line(TOUCHED)[:-1] + b" \t\n", "ok", True),
    ("vertical tab", b"\x0b" + line(TOUCHED), "invalid_json", False),
    ("nbsp after", line(TOUCHED)[:-1] + "\u00a0\n".encode(), "invalid_json", False),
    ("blank", b"\n", "blank", False),
    ("blank spaces", b"   \t\r\n", "blank", False),
    ("empty", b"", "blank", False),
    ("null", b"null\n", "schema", False),
    ("array", b"[]\n", "schema", False),
    ("array of event", b"[" + line(TOUCHED)[:-1] + b"]\n", "schema", False),
    ("string", b'"x"\n', "schema", False),
    ("number", b"42\n", "schema", False),
    ("truncated", line(TOUCHED)[:40], "invalid_json", False),
    ("two objects", line(TOUCHED)[:-1] + line(TOUCHED), "invalid_json", False),
    ("trailing comma", line(TOUCHED)[:-2] + b",}\n", "invalid_json", False),
    ("trailing garbage", line(TOUCHED)[:-1] + b"x\n", "invalid_json", False),
    ("python repr", repr(TOUCHED).encode() + b"\n", "invalid_json", False),
    ("html", b"<html><head><title>502 Bad Gateway</title></head></html>\n", "invalid_json", False),
    ("nul byte line", b"\x00\n", "invalid_json", False),
    ("huge note", line(dict(TOUCHED, note="n" * 1_000_000)), "ok", True),
]


# --- (a) the hostile table -----------------------------------------------------------


@pytest.mark.parametrize(("name", "raw", "expected", "fast"), CASES, ids=[c[0] for c in CASES])
def test_hostile_line(name: str, raw: bytes, expected: str, fast: bool) -> None:
    assert outcome([raw]) == expected
    assert takes_fast(raw) is fast


def test_hostile_table_as_one_chunk() -> None:
    """Offsets and seqs follow the lines, blank lines included."""
    lines = [c[1] for c in CASES]
    events, rejected = assert_same(lines, first_offset=7, first_seq=1000)
    assert len(events) + len(rejected) == sum(c[2] != "blank" for c in CASES)


def test_other_reporting_currency() -> None:
    lines = [
        line(dict(OPENED, currency="USD", order_value=100)),
        line(dict(OPENED, currency="EUR", order_value=1e12)),
        line(dict(OPENED, currency="GBP")),  # no rate in this table
        line(dict(OPENED, currency="A1B")),  # a rate, but not a currency code
    ]
    events, rejected = assert_same(lines, EUR_SETTINGS)
    assert [p.value_reporting for p in events] == [93.0, 1e12]
    assert [r.reason for r in rejected] == ["unknown_currency", "schema"]


# --- (b) generated mutations of valid events ---------------------------------------------

TIMES = [
    "2026-05-04T08:00:00Z",
    "2026-05-04T08:00:00.1234567+02:00",
    "2026-05-04t08:00:00z",
    "2026-05-04 08:00:00-23:59",
    "2026-05-04T08:00:00",
    "2026-05-04T08:00:00+0200",
    "1969-12-31T23:59:59.999999Z",
    "2200-01-01T00:00:00Z",
    "2026-02-29T00:00:00Z",
    "2026-05-20T00:00:00Z",
]
SPECIAL = st.sampled_from(
    [
        "",
        " ",
        "x" * 128,
        "x" * 129,
        "\U0001f600" * 128,
        "1",
        "1.1",
        "2",
        "1.",
        "USD",
        "EUR",
        "XYZ",
        "usd",
        "low",
        "critical",
        "key",
        "gold",
        "human",
        "system",
        "exception.opened",
        "order.released",
        0,
        1,
        -1,
        MAX_INT32,
        MAX_INT32 + 1,
        2**63,
        2**64,
        10**12,
        10**12 + 1,
        1e12,
        1e6,
        0.0,
        -0.0,
        5e-324,
        1.7e308,
        True,
        False,
        None,
        [],
        {},
        {"id": "u", "kind": "human"},
        {"id": "", "kind": "system"},
        *TIMES,
    ]
)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | SPECIAL,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=5,
)
RAW_TOKENS = st.sampled_from(
    [
        "-0",
        "1e-400",
        "-1e-400",
        "1e400",
        "NaN",
        "Infinity",
        "1E+2",
        "0.1e1",
        "1e0",
        "01",
        "1.",
        "18446744073709551616",
        "1000000000000.0000001",
        "2147483647",
        "2147483648",
        "true",
    ]
)


def retype(value: object) -> object:
    """The same information under another JSON type."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return [value]
    if value is None:
        return "null"
    return json.dumps(value)


@st.composite
def mutated_lines(draw: st.DrawFn) -> bytes:
    base = dict(draw(st.sampled_from(list(BASES.values()))))
    fields = sorted(set(base) | {"actor", "note", "carrier", "lines", "sla_target_hours"})
    raw_tokens: dict[str, str] = {}
    for i in range(draw(st.integers(min_value=0, max_value=3))):
        name = draw(st.sampled_from(fields))
        action = draw(st.sampled_from(["drop", "set", "retype", "extra", "raw"]))
        if action == "drop":
            base.pop(name, None)
        elif action == "set":
            base[name] = draw(JSON_VALUES)
        elif action == "retype" and name in base:
            base[name] = retype(base[name])
        elif action == "extra":
            base[draw(st.text(max_size=6))] = draw(JSON_VALUES)
        elif action == "raw":
            base[name] = f"<<r{i}>>"
            raw_tokens[f"r{i}"] = draw(RAW_TOKENS)
    text = line(base, **raw_tokens)
    if draw(st.booleans()):  # a repeated key: the last one counts
        key = draw(st.sampled_from(fields))
        value = json.dumps(draw(JSON_VALUES))
        text = text.rstrip(b"\n")[:-1] + f', "{key}": {value}}}\n'.encode()
    framing = draw(st.sampled_from(["", "bom", "crlf", "spaces"]))
    if framing == "bom":
        text = BOM + text
    elif framing == "crlf":
        text = text[:-1] + b"\r\n"
    elif framing == "spaces":
        text = b"  " + text[:-1] + b" \n"
    return text


@st.composite
def valid_events(draw: st.DrawFn) -> bytes:
    """A valid event of any type with random values in every field (and extra fields)."""
    ids = st.text(min_size=1, max_size=128)
    text = st.text(min_size=1, max_size=20)
    money = st.floats(min_value=0, max_value=1e12) | st.integers(0, 10**12)
    level = st.integers(1, MAX_INT32)
    offset = st.integers(-(24 * 60 - 1), 24 * 60 - 1)

    def stamp(lo: datetime, hi: datetime) -> str:
        dt = draw(st.datetimes(min_value=lo, max_value=hi))
        minutes = draw(offset)
        local = (dt.replace(tzinfo=UTC) + timedelta(minutes=minutes)).replace(tzinfo=None)
        digits = draw(st.integers(0, 12))
        frac = f"{local.microsecond:06d}{draw(st.text('0123456789', min_size=6, max_size=6))}"
        out = local.strftime("%Y-%m-%d") + draw(st.sampled_from("Tt "))
        out += local.strftime("%H:%M:%S") + ("." + frac[:digits] if digits else "")
        if minutes == 0 and draw(st.booleans()):
            return out + draw(st.sampled_from("Zz"))
        sign, m = ("-", -minutes) if minutes < 0 else ("+", minutes)
        return out + f"{sign}{m // 60:02d}:{m % 60:02d}"

    # naive bounds of datetimes(), shifted by at most a day by the offset
    occurred = stamp(datetime(1970, 1, 2), datetime(2026, 5, 11))  # noqa: DTZ001
    event_type = draw(st.sampled_from(sorted({e["event_type"] for e in BASES.values()})))
    obj: dict[str, Any] = {
        "event_id": draw(ids),
        "event_type": event_type,
        "occurred_at": occurred,
        "source_system": draw(text),
        "schema_version": draw(st.just("1") | st.from_regex(r"1\.[0-9]{1,5}", fullmatch=True)),
    }
    obj["order_id" if event_type.startswith("order.") else "exception_id"] = draw(ids)
    optional: dict[str, st.SearchStrategy[Any]] = {}
    if draw(st.booleans()):
        obj["actor"] = draw(
            st.none()
            | st.fixed_dictionaries(
                {"id": text, "kind": st.sampled_from(["human", "system"])},
                optional={"extra": JSON_VALUES},
            )
        )
    if event_type in ("exception.opened", "order.released"):
        obj.update(
            site=draw(text),
            origin=draw(text),
            destination=draw(text),
            customer_tier=draw(st.sampled_from(["strategic", "key", "standard"])),
            order_value=draw(money),
            currency=draw(st.sampled_from(sorted(SETTINGS.rates))),
        )
        optional |= {"carrier": st.none() | text, "customer_id": st.none() | text}
    if event_type == "exception.opened":
        obj.update(
            order_id=draw(ids),
            category=draw(ids),
            severity=draw(st.sampled_from(["low", "medium", "high", "critical"])),
        )
        optional |= {
            "sla_target_hours": st.none()
            | st.floats(min_value=0, max_value=1e6, exclude_min=True)
            | st.integers(1, 10**6),
            "detected_by": st.none() | text,
        }
    elif event_type == "order.released":
        obj["promised_delivery_at"] = stamp(datetime(1970, 1, 2), datetime(2199, 12, 30))  # noqa: DTZ001
        optional["lines"] = st.none() | level
    elif event_type == "exception.escalated":
        obj["level"] = draw(level)
        optional |= {"to_team": st.none() | text, "reason": st.none() | text}
    elif event_type in (
        "exception.paused",
        "exception.assigned",
        "exception.touched",
        "exception.resolved",
    ):
        required = {
            "exception.paused": "reason",
            "exception.assigned": "owner_team",
            "exception.touched": "action",
            "exception.resolved": "resolution_code",
        }[event_type]
        obj[required] = draw(text)
        optional |= {"assignee": st.none() | text, "note": st.none() | text}
    elif event_type == "order.delivered":
        obj["in_full"] = draw(st.booleans())
    else:
        optional |= {
            "carrier": st.none() | text,
            "invoice_id": st.none() | text,
            "reason": st.none() | text,
        }
    for name, values in optional.items():
        if draw(st.booleans()):
            obj[name] = draw(values)
    # unknown fields only: a known one (say ``actor``) with a random value is not valid
    unknown = st.text(max_size=8).filter(lambda k: k not in CONTRACT_FIELDS)
    extra = draw(st.dictionaries(unknown, JSON_VALUES, max_size=3))
    for key, value in extra.items():
        obj.setdefault(key, value)
    keys = list(obj)
    order = draw(st.permutations(keys))
    return line({k: obj[k] for k in order})


CONTRACT_FIELDS = frozenset(
    name
    for model in MODELS.values()
    for field_name, f in model.model_fields.items()
    for name in (field_name, f.alias)
    if name
)


@SLOW
@given(st.lists(valid_events(), min_size=1, max_size=6))
def test_valid_events_with_random_values(lines: list[bytes]) -> None:
    events, rejected = assert_same(lines)
    assert all(takes_fast(raw) for raw in lines)
    assert len(events) + len(rejected) == len(lines)


@SLOW
@given(st.lists(mutated_lines(), min_size=1, max_size=8))
def test_mutations_of_valid_events(lines: list[bytes]) -> None:
    assert_same(lines)


@st.composite
def timestamps(draw: st.DrawFn) -> str:
    """RFC 3339 timestamps, about half of them with one component broken."""
    broken = draw(
        st.none()
        | st.sampled_from(["year", "month", "day", "hour", "minute", "second", "sep", "frac", "tz"])
    )

    def part(name: str, valid: st.SearchStrategy[Any], invalid: st.SearchStrategy[Any]) -> Any:
        return draw(invalid if name == broken else valid)

    year = part(
        "year",
        st.integers(1970, 2199) | st.sampled_from([1969, 2200]),
        st.sampled_from([0, 1, 9999]) | st.integers(0, 9999),
    )
    month = part("month", st.integers(1, 12), st.sampled_from([0, 13]))
    day = part("day", st.integers(1, 28), st.integers(29, 32) | st.just(0))
    hour = part("hour", st.integers(0, 23), st.integers(24, 25))
    minute = part("minute", st.integers(0, 59), st.integers(60, 61))
    second = part("second", st.integers(0, 59), st.integers(60, 61))
    sep = part("sep", st.sampled_from("Tt "), st.sampled_from("_x"))
    frac = part(
        "frac",
        st.none() | st.text(alphabet="0123456789", min_size=1, max_size=14),
        st.just("") | st.just("5,"),
    )
    offset = st.builds(
        lambda s, h, m: f"{s}{h:02d}:{m:02d}",
        st.sampled_from("+-"),
        st.integers(0, 23),
        st.integers(0, 59),
    )
    bad_offset = st.builds(
        lambda s, h, m: f"{s}{h:02d}:{m:02d}",
        st.sampled_from("+-"),
        st.integers(0, 30),
        st.integers(55, 70),
    )
    tz = part(
        "tz",
        st.sampled_from(["Z", "z", "+00:00", "-00:00"]) | offset,
        st.sampled_from(["", "+0200", "+02", "\u221205:00", "Z\n", " Z"]) | bad_offset,
    )
    text = f"{year:04d}-{month:02d}-{day:02d}{sep}{hour:02d}:{minute:02d}:{second:02d}"
    if frac is not None:
        text += "." + frac
    return text + tz


@SLOW
@given(timestamps(), timestamps(), st.booleans())
def test_timestamps(occurred: str, promised: str, far: bool) -> None:
    lines = [
        line(dict(TOUCHED, occurred_at=occurred)),
        line(dict(RELEASED, occurred_at=occurred, promised_delivery_at=promised)),
        line(dict(RELEASED, promised_delivery_at=promised)),
    ]
    assert_same(lines, received=FAR_FUTURE if far else RECEIVED)


@SLOW
@given(
    st.from_regex(r"-?(0|[1-9][0-9]{0,25})(\.[0-9]{1,25})?([eE][+-]?[0-9]{1,4})?", fullmatch=True),
    st.sampled_from(["order_value", "sla_target_hours", "level", "lines", "extra"]),
)
def test_number_literals(token: str, field: str) -> None:
    base = BASES["escalated"] if field == "level" else RELEASED if field == "lines" else OPENED
    assert_same([line(dict(base, **{field: "<<n>>"}), n=token)])


@SLOW
@given(
    st.datetimes(
        min_value=datetime(1970, 1, 2),  # noqa: DTZ001 - naive bounds of an aware strategy
        max_value=datetime(2199, 12, 30),  # noqa: DTZ001
        timezones=st.builds(lambda s: TzInfo(s), st.integers(-86399, 86399))
        | st.builds(lambda m: timezone(timedelta(minutes=m)), st.integers(-1439, 1439)),
    )
)
def test_epoch_us_is_to_us(dt: datetime) -> None:
    assert epoch_us(dt) == to_us(dt)


# --- (c) the generator's messy stream ---------------------------------------------------


def test_generated_messy_stream() -> None:
    cfg = GeneratorConfig(days=1.0, lines_per_day=6000, seed=11)
    pairs = [(text.encode() + b"\n", label) for text, label in generate_labelled(cfg)]
    lines = [raw for raw, _ in pairs]
    for i in range(0, len(lines), 500):  # chunks, as the dataflow sends them
        assert_same(lines[i : i + 500], first_offset=i + 1, first_seq=i)
    valid = {"event", "duplicate", "conflicting_duplicate", "duplicate_open"}
    # Every valid line takes the fast path; the bad lines give the labelled reason.
    assert all(takes_fast(raw) for raw, label in pairs if label in valid)
    for raw, label in pairs:
        if label in BAD_LINE_KINDS and label != "duplicate_open":
            assert outcome([raw]) == label
    assert {label for _, label in pairs} >= {"event", "blank", *BAD_LINE_KINDS}


# --- guards ------------------------------------------------------------------------------


def test_fast_validator_runs_no_python() -> None:
    """The point of the copy: no Python callback for a clean line."""
    lines = [line(v) for v in BASES.values()]
    called: list[str] = []

    def profile(frame: Any, event: str, arg: object) -> None:
        if event == "call":
            called.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        for raw in lines:
            FAST_VALIDATOR.validate_json(raw)
    finally:
        sys.setprofile(None)
    assert called == []


def test_an_unknown_python_validator_is_refused() -> None:
    class WithValidator(BaseModel):
        x: Annotated[str, AfterValidator(str.strip)]

    with pytest.raises(RuntimeError, match="does not know the Python validator"):
        fast_schema(WithValidator.__pydantic_core_schema__)

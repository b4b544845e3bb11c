"""Parsing and validation: reasons of events.md, forward compatibility, defaults."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from core.config import load_settings
from core.timeutil import to_us
from flows.parse import Parsed, Rejected, parse_line
from tests.streams import T0, ev, opened

SETTINGS = load_settings()
RECEIVED = to_us(T0 + timedelta(days=1))


def parse(obj: dict | str) -> Parsed | Rejected | None:
    raw = obj if isinstance(obj, str) else json.dumps(obj)
    return parse_line(raw.encode(), "src", 1, 1, SETTINGS, RECEIVED)


def reason(obj: dict | str) -> str:
    r = parse(obj)
    assert isinstance(r, Rejected), r
    return r.reason


GOOD = ev("exception.touched", "X-1", T0, action="call")


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ("{", "invalid_json"),
        ("null", "schema"),
        (dict(GOOD, event_type="exception.moved"), "unknown_event_type"),
        ({k: v for k, v in GOOD.items() if k != "event_type"}, "schema"),
        (dict(GOOD, schema_version="2"), "unsupported_version"),
        (
            dict(GOOD, schema_version="2.1", event_type="exception.teleported"),
            "unsupported_version",
        ),
        (dict(GOOD, schema_version="one"), "schema"),
        (dict(GOOD, schema_version=1), "schema"),
        (dict(GOOD, occurred_at="2026-05-04T08:00:00"), "naive_timestamp"),
        (dict(GOOD, occurred_at="2026-05-04T08:00"), "naive_timestamp"),
        (dict(GOOD, occurred_at="yesterday"), "schema"),
        # ISO 8601 but not RFC 3339: offset without colon, no seconds, odd separator
        (dict(GOOD, occurred_at="2026-05-04T08:00:00+0200"), "schema"),
        (dict(GOOD, occurred_at="2026-05-04T08:00Z"), "schema"),
        (dict(GOOD, occurred_at="2026-05-04_08:00:00Z"), "schema"),
        (dict(GOOD, occurred_at="2026-05-04T24:00:00Z"), "schema"),
        (dict(GOOD, occurred_at=None), "schema"),
        (dict(GOOD, occurred_at=1714800000), "schema"),
        (dict(GOOD, event_id="x" * 129), "schema"),
        (dict(GOOD, source_system=""), "schema"),
        (dict(GOOD, actor={"id": "u", "kind": "robot"}), "schema"),
        (opened("X", T0, currency="XYZ"), "unknown_currency"),
        (opened("X", T0, currency="usd"), "schema"),
        (opened("X", T0, severity="urgent"), "schema"),
        (opened("X", T0, tier="gold"), "schema"),
        (opened("X", T0, value=-1.0), "schema"),
        (opened("X", T0, value="100"), "schema"),
        (opened("X", T0, category=""), "schema"),
        (opened("X", T0, category="x" * 129), "schema"),
        (opened("X", T0, sla_target_hours=0), "schema"),
        # numbers that do not fit what every reader and column can hold
        (opened("X", T0, value=1.7e308), "schema"),
        (opened("X", T0, value=1e12 + 1), "schema"),
        (opened("X", T0, sla_target_hours=1e6 + 1), "schema"),
        (ev("exception.escalated", "X", T0, level=2**31), "schema"),
        (ev("exception.escalated", "X", T0, level=2**63), "schema"),
        # times outside [1970, 2200) UTC, and a source clock gone wrong
        (dict(GOOD, occurred_at="9999-12-31T23:30:00-05:00"), "schema"),
        (dict(GOOD, occurred_at="9999-12-31T23:59:59Z"), "schema"),
        (dict(GOOD, occurred_at="2200-01-01T00:00:00Z"), "schema"),
        (dict(GOOD, occurred_at="1969-12-31T23:59:59Z"), "schema"),
        (dict(GOOD, occurred_at="1970-01-01T00:30:00+01:00"), "schema"),
        (dict(GOOD, occurred_at="2026-05-12T08:00:01Z"), "future_timestamp"),
        (ev("exception.escalated", "X", T0, level=0), "schema"),
        (ev("exception.escalated", "X", T0, level=1.5), "schema"),
        (ev("exception.paused", "X", T0), "schema"),
        (ev("order.delivered", "SO-1", T0, in_full="yes"), "schema"),
        (
            ev(
                "order.released",
                "SO-1",
                T0,
                site="A",
                origin="A",
                destination="B",
                customer_tier="key",
                order_value=1.0,
                currency="USD",
                promised_delivery_at="2026-05-05T00:00:00",
            ),
            "naive_timestamp",
        ),
    ],
)
def test_reject_reasons(obj: dict | str, expected: str) -> None:
    assert reason(obj) == expected


def test_rejected_keeps_raw_text_and_ids() -> None:
    bad = dict(GOOD, occurred_at="2026-05-04T08:00:00")
    r = parse(bad)
    assert isinstance(r, Rejected)
    assert json.loads(r.raw) == bad
    assert (r.event_id, r.event_type, r.source, r.offset) == (
        GOOD["event_id"],
        "exception.touched",
        "src",
        1,
    )
    assert "occurred_at" in r.detail


def test_unknown_fields_are_ignored_and_minor_versions_accepted() -> None:
    p = parse(dict(GOOD, schema_version="1.7", brand_new_field={"a": 1}))
    assert isinstance(p, Parsed)


@pytest.mark.parametrize(
    "text", ["2026-05-04T08:00:00Z", "2026-05-04 08:00:00z", "2026-05-04t10:00:00.000+02:00"]
)
def test_rfc3339_variants_are_accepted(text: str) -> None:
    p = parse(dict(GOOD, occurred_at=text))
    assert isinstance(p, Parsed)
    assert p.occurred_us == parse(GOOD).occurred_us  # type: ignore[union-attr]


def test_missing_actor_means_the_source_system() -> None:
    p = parse(GOOD)
    assert isinstance(p, Parsed)
    assert (p.event.actor_id, p.event.actor_kind) == ("TEST", "system")


def test_offsets_are_converted_to_utc_microseconds() -> None:
    p = parse(dict(GOOD, occurred_at="2026-05-04T10:00:00.5+02:00"))
    assert isinstance(p, Parsed)
    q = parse(dict(GOOD, occurred_at="2026-05-04T08:00:00.500Z"))
    assert isinstance(q, Parsed)
    assert p.occurred_us == q.occurred_us


def test_order_value_is_converted_to_the_reporting_currency() -> None:
    p = parse(opened("X", T0, value=100.0, currency="EUR"))
    assert isinstance(p, Parsed)
    assert p.value_reporting == pytest.approx(100.0 * SETTINGS.rates["EUR"])


def test_blank_lines_are_ignored() -> None:
    assert parse_line(b"   \n", "s", 1, 1, SETTINGS, RECEIVED) is None


def test_invalid_utf8_is_rejected_not_crashing() -> None:
    r = parse_line(b'{"event_id": "\xff\xfe"}', "s", 1, 1, SETTINGS, RECEIVED)
    assert isinstance(r, Rejected)


@pytest.mark.parametrize("category", ["?", "___", "Inventory Shortfall", "x" * 128, "**b** <i>"])
def test_any_category_up_to_128_characters_is_kept_as_given(category: str) -> None:
    p = parse(opened("X", T0, category=category))
    assert isinstance(p, Parsed)
    assert p.event.category == category  # type: ignore[union-attr]


def test_the_largest_accepted_values_are_accepted() -> None:
    for obj in (
        opened("X", T0, value=1e12, sla_target_hours=1e6),
        ev("exception.escalated", "X", T0, level=2**31 - 1),
        dict(GOOD, occurred_at="1970-01-01T00:00:00Z"),
        dict(GOOD, occurred_at="2026-05-12T08:00:00Z"),  # exactly 7 days after receipt
    ):
        assert isinstance(parse(obj), Parsed), obj


def test_a_converted_value_above_the_limit_is_rejected() -> None:
    rates = dict(SETTINGS.rates, BIG=1e6)
    big = SETTINGS.model_copy(update={"rates": rates})
    raw = json.dumps(opened("X", T0, value=1e7, currency="BIG")).encode()
    r = parse_line(raw, "s", 1, 1, big, RECEIVED)
    assert isinstance(r, Rejected) and r.reason == "schema"
    assert "order_value" in r.detail


def test_future_timestamp_says_when_it_was_received() -> None:
    r = parse(dict(GOOD, occurred_at="2030-01-01T00:00:00Z"))
    assert isinstance(r, Rejected) and r.reason == "future_timestamp"
    assert "2030-01-01T00:00:00Z" in r.detail and "2026-05-05T08:00:00Z" in r.detail


def test_a_leading_bom_is_stripped() -> None:
    p = parse_line(b"\xef\xbb\xbf" + json.dumps(GOOD).encode(), "s", 1, 1, SETTINGS, RECEIVED)
    assert isinstance(p, Parsed)
    assert not p.raw.startswith("\ufeff")

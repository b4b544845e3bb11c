"""Tests of the synthetic stream generator (``sample_streams.generator``).

The contract checks here are written from ``shared/spec/events.md`` directly, in
plain Python, so that they do not depend on the pipeline's own parser.
"""

from __future__ import annotations

import gzip
import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from sample_streams import generator as gen
from sample_streams.generator import (
    BAD_LINE_KINDS,
    DEMO_CONFIG,
    DEMO_PATH,
    PLANTED_BOTTLENECK,
    GeneratorConfig,
    generate_events,
    generate_labelled,
    write_stream,
)

SMALL = GeneratorConfig(days=2, lines_per_day=5_000, seed=7)
TINY = GeneratorConfig(days=1, lines_per_day=2_000, seed=7)

# ---------------------------------------------------------------- contract v1, by hand

RFC3339_OFFSET = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")
TAXONOMY = {
    "inventory_shortfall",
    "damaged_stock",
    "carrier_failure",
    "carrier_capacity",
    "missed_pickup",
    "credit_hold",
    "pricing_mismatch",
    "customs_hold",
    "asn_delay",
    "master_data",
    "duplicate_order",
    "address_issue",
    "invoice_not_posted",
    "pod_dispute",
}
RATES = {"USD", "EUR", "GBP", "CAD", "MXN"}  # a subset of fpi's default rate table
SEVERITIES = {"low", "medium", "high", "critical"}
TIERS = {"strategic", "key", "standard"}
EXC_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "exception.opened": {
        "order_id": str,
        "category": str,
        "severity": str,
        "site": str,
        "origin": str,
        "destination": str,
        "customer_tier": str,
        "order_value": (int, float),
        "currency": str,
    },
    "exception.assigned": {"owner_team": str},
    "exception.touched": {"action": str},
    "exception.escalated": {"level": int},
    "exception.paused": {"reason": str},
    "exception.resumed": {},
    "exception.resolved": {"resolution_code": str},
    "exception.reopened": {},
    "exception.cancelled": {},
}
ORDER_REQUIRED: dict[str, dict[str, type | tuple[type, ...]]] = {
    "order.released": {
        "site": str,
        "origin": str,
        "destination": str,
        "customer_tier": str,
        "order_value": (int, float),
        "currency": str,
        "promised_delivery_at": str,
    },
    "order.shipped": {},
    "order.delivered": {"in_full": bool},
    "order.invoiced": {},
}
OPTIONAL: dict[str, type | tuple[type, ...]] = {
    "carrier": str,
    "customer_id": str,
    "sla_target_hours": (int, float),
    "detected_by": str,
    "assignee": str,
    "note": str,
    "to_team": str,
    "reason": str,
    "lines": int,
    "invoice_id": str,
}


def contract_errors(obj: Any) -> list[str]:
    """Why ``obj`` breaks contract v1 (stateless rules; empty when valid)."""
    if not isinstance(obj, dict):
        return ["not an object"]
    errs: list[str] = []
    eid = obj.get("event_id")
    if not (isinstance(eid, str) and 1 <= len(eid) <= 128):
        errs.append("event_id")
    et = obj.get("event_type")
    required = {**EXC_REQUIRED, **ORDER_REQUIRED}.get(et) if isinstance(et, str) else None
    if required is None:
        return [*errs, "unknown_event_type"]
    occ = obj.get("occurred_at")
    if not (isinstance(occ, str) and RFC3339_OFFSET.match(occ)):
        errs.append("occurred_at")
    src = obj.get("source_system")
    if not (isinstance(src, str) and src):
        errs.append("source_system")
    ver = obj.get("schema_version")
    if not (isinstance(ver, str) and re.fullmatch(r"1(?:\.\d+)?", ver)):
        errs.append("schema_version")
    if "actor" in obj:
        a = obj["actor"]
        if not (
            isinstance(a, dict)
            and isinstance(a.get("id"), str)
            and a["id"]
            and a.get("kind") in ("human", "system")
        ):
            errs.append("actor")
    key = "exception_id" if et.startswith("exception.") else "order_id"
    if not (isinstance(obj.get(key), str) and 1 <= len(obj[key]) <= 128):
        errs.append(key)
    for name, typ in required.items():
        v = obj.get(name)
        if v is None or isinstance(v, bool) and typ is not bool or not isinstance(v, typ):
            errs.append(f"{name} missing or wrong type")
        elif isinstance(v, str) and not v:
            errs.append(f"{name} empty")
    for name, typ in OPTIONAL.items():
        if (
            name in obj
            and obj[name] is not None
            and (not isinstance(obj[name], typ) or isinstance(obj[name], bool))
        ):
            errs.append(f"{name} wrong type")
    if et in ("exception.opened", "order.released"):
        if obj.get("severity", "low") not in SEVERITIES:
            errs.append("severity")
        if obj.get("customer_tier") not in TIERS:
            errs.append("customer_tier")
        if not (isinstance(obj.get("order_value"), int | float) and obj["order_value"] >= 0):
            errs.append("order_value")
        if not (
            isinstance(obj.get("currency"), str) and re.fullmatch(r"[A-Z]{3}", obj["currency"])
        ):
            errs.append("currency")
    if et == "exception.opened":
        if not re.fullmatch(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*", str(obj.get("category"))):
            errs.append("category")
        if "sla_target_hours" in obj and not obj["sla_target_hours"] > 0:
            errs.append("sla_target_hours")
    if et == "exception.escalated" and not (
        isinstance(obj.get("level"), int) and obj["level"] >= 1
    ):
        errs.append("level")
    if et == "order.released":
        p = obj.get("promised_delivery_at")
        if not (isinstance(p, str) and RFC3339_OFFSET.match(p)):
            errs.append("promised_delivery_at")
        if "lines" in obj and not obj["lines"] >= 1:
            errs.append("lines")
    return errs


def classify(line: str, opened: set[str]) -> str:
    """The rejection reason of events.md for one line (``ok`` if accepted)."""
    try:
        obj = json.loads(line)
    except ValueError:
        return "invalid_json"
    if not isinstance(obj, dict):
        return "schema"
    ver = obj.get("schema_version")
    if isinstance(ver, str) and ver.split(".")[0].isdigit() and ver.split(".")[0] != "1":
        return "unsupported_version"
    errs = contract_errors(obj)
    if "unknown_event_type" in errs:
        return "unknown_event_type"
    if errs == ["occurred_at"] and re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?", obj["occurred_at"]
    ):
        return "naive_timestamp"
    if errs:
        return "schema"
    if "currency" in obj and obj["currency"] not in RATES:
        return "unknown_currency"
    if obj["event_type"] == "exception.opened":
        if obj["exception_id"] in opened:
            return "duplicate_open"
        opened.add(obj["exception_id"])
    return "ok"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def small() -> list[tuple[str, str]]:
    return list(generate_labelled(SMALL))


@pytest.fixture(scope="module")
def small_events(small: list[tuple[str, str]]) -> list[dict[str, Any]]:
    return [json.loads(line) for line, label in small if label == "event"]


@pytest.fixture(scope="module")
def default_exception_events() -> list[dict[str, Any]]:
    """Accepted exception events of the default configuration (about 200k lines)."""
    return [
        json.loads(line)
        for line, label in generate_labelled(GeneratorConfig())
        if label == "event" and '"exception.' in line
    ]


# ---------------------------------------------------------------- determinism


def test_config_defaults_are_fixed() -> None:
    cfg = GeneratorConfig()
    assert cfg.start == datetime(2026, 5, 4, tzinfo=UTC)
    assert cfg.start.utcoffset() == timedelta(0)
    assert (cfg.days, cfg.lines_per_day, cfg.seed, cfg.mess) == (3.0, 60_000, 7, True)
    assert GeneratorConfig.__dataclass_fields__["start"].default == cfg.start
    with pytest.raises(ValueError, match="timezone-aware"):
        GeneratorConfig(start=datetime(2026, 5, 4))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError):
        GeneratorConfig(days=0)
    with pytest.raises(ValueError):
        GeneratorConfig(lines_per_day=0)


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz", tmp_path / "c.jsonl"
    sa = write_stream(a, TINY)
    sb = write_stream(b, TINY)
    sc = write_stream(c, TINY)
    assert a.read_bytes() == b.read_bytes()
    assert sa == sb == sc
    assert gzip.decompress(a.read_bytes()) == c.read_bytes()
    assert c.read_text("utf-8").splitlines() == list(generate_events(TINY))


def test_different_seed_differs() -> None:
    a = list(generate_events(TINY))
    b = list(generate_events(replace(TINY, seed=8)))
    assert a != b
    assert len(set(a) & set(b)) < len(a) // 10


def test_no_wall_clock_in_generator() -> None:
    modules = sorted(Path(gen.__file__).parent.glob("*.py"))
    assert len(modules) > 5  # the package's modules, not only its __init__
    for module in modules:
        source = module.read_text("utf-8")
        assert ".now(" not in source and "utcnow" not in source and "time.time" not in source, (
            module
        )


# ---------------------------------------------------------------- contract


def test_every_good_line_follows_the_contract(small: list[tuple[str, str]]) -> None:
    labels = Counter(label for _, label in small)
    assert labels["event"] > 5_000
    for line, label in small:
        if label in ("event", "duplicate", "conflicting_duplicate"):
            obj = json.loads(line)
            assert contract_errors(obj) == [], (line, contract_errors(obj))
            assert obj["currency"] in RATES if "currency" in obj else True


def test_event_ids_unique_and_duplicates_reuse_them(small: list[tuple[str, str]]) -> None:
    first: dict[str, str] = {}
    for line, label in small:
        if label == "event":
            eid = json.loads(line)["event_id"]
            assert eid not in first, f"event_id {eid} reused by a new event"
            assert re.fullmatch(r"ev-\d{8}", eid)
            first[eid] = line
        elif label == "duplicate":
            assert line == first[json.loads(line)["event_id"]], "exact re-send arrives later"
        elif label == "conflicting_duplicate":
            assert line != first[json.loads(line)["event_id"]]
        elif label not in ("blank", "invalid_json"):
            obj = json.loads(line)
            if isinstance(obj, dict) and isinstance(obj.get("event_id"), str):
                assert obj["event_id"] not in first


def test_ids_and_timestamps(small_events: list[dict[str, Any]]) -> None:
    for e in small_events:
        assert RFC3339_OFFSET.match(e["occurred_at"])
        if "exception_id" in e:
            assert re.fullmatch(r"X-\d+", e["exception_id"])
        if "order_id" in e:
            assert re.fullmatch(r"SO-\d+", e["order_id"])
    start = GeneratorConfig().start
    end = start + timedelta(days=SMALL.days)
    times = [ts(e["occurred_at"]) for e in small_events]
    assert min(times) >= start
    assert max(times) < end


def test_bad_lines_fail_for_their_reason(small: list[tuple[str, str]]) -> None:
    opened: set[str] = set()
    got: Counter[str] = Counter()
    for line, label in small:
        if label == "blank":
            assert not line.strip()
            continue
        if label in ("duplicate", "conflicting_duplicate"):
            continue
        reason = classify(line, opened)
        expected = "ok" if label == "event" else label
        assert reason == expected, (label, reason, line)
        got[label] += 1
    for kind in BAD_LINE_KINDS:
        assert got[kind] >= 1, f"no bad line of kind {kind}"
    bad = sum(got[k] for k in BAD_LINE_KINDS)
    assert 0.0005 < bad / got["event"] < 0.005


def test_summary_matches_the_lines(tmp_path: Path, small: list[tuple[str, str]]) -> None:
    s = write_stream(tmp_path / "s.jsonl", SMALL)
    labels = Counter(label for _, label in small)
    assert s.events == labels["event"]
    assert s.duplicates == labels["duplicate"] + labels["conflicting_duplicate"]
    assert s.conflicting_duplicates == labels["conflicting_duplicate"]
    assert s.blank_lines == labels["blank"]
    assert s.rejects == {k: labels[k] for k in BAD_LINE_KINDS}
    assert s.bad_lines == sum(s.rejects.values())
    assert s.lines == s.events + s.duplicates + s.bad_lines
    assert s.orders == 2 * round(SMALL.lines_per_day / 4)
    assert 3.6 < s.order_lines / s.orders < 4.4
    opened = sum(1 for line, label in small if label == "event" and '"exception.opened"' in line)
    assert s.exceptions == opened
    assert 0.02 < s.exceptions / s.orders < 0.06
    assert s.data_clock is not None and s.first_occurred_at is not None
    assert s.data_clock.startswith("2026-05-05T2")
    assert "events" in str(s)
    assert s.as_dict()["rejects"] == s.rejects


# ---------------------------------------------------------------- realism and mess


def test_orders_and_exceptions_look_real(small_events: list[dict[str, Any]]) -> None:
    by_type = Counter(e["event_type"] for e in small_events)
    released = by_type["order.released"]
    assert released == 2_500
    assert by_type["order.shipped"] > 0.6 * released
    assert by_type["order.invoiced"] > 0.5 * released
    assert by_type["order.delivered"] > 0.03 * released  # transit takes days
    rel = [e for e in small_events if e["event_type"] == "order.released"]
    assert {e["site"] for e in rel} == {"DC-ATL", "DC-DAL", "DC-CHI", "DC-LAX", "DC-NJ"}
    assert {e["customer_tier"] for e in rel} == TIERS
    assert {e["currency"] for e in rel} == RATES
    assert 0.8 < sum(e["currency"] == "USD" for e in rel) / len(rel) < 0.97
    carriers = Counter(e.get("carrier") for e in rel)
    assert len([c for c in carriers if c]) == 5
    assert 0.02 < carriers[None] / len(rel) < 0.1
    assert 3.6 < sum(e["lines"] for e in rel) / len(rel) < 4.4
    values = sorted(e["order_value"] for e in rel if e["currency"] == "USD")
    assert values[len(values) // 2] < sum(values) / len(values)  # right-skewed (log-normal)
    sources = {e["source_system"] for e in small_events}
    assert sources == {"ERP", "WMS", "TMS", "CRM", "CARRIER", "FINANCE", "EDI"}
    delivered = [e for e in small_events if e["event_type"] == "order.delivered"]
    assert 0.9 < sum(e["in_full"] for e in delivered) / len(delivered) < 1.0
    promised = {e["order_id"]: ts(e["promised_delivery_at"]) for e in rel}
    late = sum(ts(e["occurred_at"]) > promised[e["order_id"]] for e in delivered)
    assert late > 0


def test_exception_lifecycles_look_real(small_events: list[dict[str, Any]]) -> None:
    ex: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in small_events:
        if "exception_id" in e:
            ex[e["exception_id"]].append(e)
    for evs in ex.values():
        assert sum(e["event_type"] == "exception.opened" for e in evs) == 1
    opened = [e for e in small_events if e["event_type"] == "exception.opened"]
    assert len(opened) == len(ex)
    touches = [e for e in small_events if e["event_type"] == "exception.touched"]
    kinds = Counter(e["actor"]["kind"] for e in touches)
    assert kinds["human"] > 3 * kinds["system"] > 0
    assert all(
        re.fullmatch(r"u-\d+", e["actor"]["id"]) for e in touches if e["actor"]["kind"] == "human"
    )
    assert {e["severity"] for e in opened} == SEVERITIES
    per_order = Counter(e["order_id"] for e in opened)
    assert max(per_order.values()) >= 2  # an order can have two exceptions


def test_lifecycle_variety_at_default_scale(
    default_exception_events: list[dict[str, Any]],
) -> None:
    evs = default_exception_events
    assert {e["event_type"] for e in evs} == set(EXC_REQUIRED)
    opened = [e for e in evs if e["event_type"] == "exception.opened"]
    assert {e["category"] for e in opened} >= TAXONOMY  # plus the odd new root cause
    assert any("sla_target_hours" in e for e in opened)
    assert {e["level"] for e in evs if e["event_type"] == "exception.escalated"} == {1, 2, 3}
    assert {e["reason"] for e in evs if e["event_type"] == "exception.paused"} >= {
        "waiting_on_customer",
        "waiting_on_carrier",
    }
    by_x: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in evs:
        by_x[e["exception_id"]].append(e)
    auto = reassigned = reopened_and_resolved = open_at_end = 0
    for x in by_x.values():
        x.sort(key=lambda e: ts(e["occurred_at"]))
        types = [e["event_type"] for e in x]
        human = sum(
            1 for e in x if e["event_type"] == "exception.touched" and e["actor"]["kind"] == "human"
        )
        if (
            types[-1] == "exception.resolved"
            and human == 0
            and (x[-1].get("actor", {"kind": "system"})["kind"] == "system")
        ):
            auto += 1
        reassigned += types.count("exception.assigned") >= 2
        if "exception.reopened" in types:
            reopened_and_resolved += types[-1] == "exception.resolved"
        open_at_end += types[-1] not in ("exception.resolved", "exception.cancelled")
    n = len(by_x)
    assert 0.05 < auto / n < 0.25
    assert reassigned > 0.05 * n
    assert reopened_and_resolved > 0
    assert 0.05 < open_at_end / n < 0.5


def test_mess_is_present(small: list[tuple[str, str]]) -> None:
    labels = Counter(label for _, label in small)
    assert 0.005 < labels["duplicate"] / labels["event"] < 0.02
    assert labels["conflicting_duplicate"] >= 1
    assert labels["blank"] >= 1
    events = [json.loads(line) for line, label in small if label == "event"]
    # Out of order: an event arrives after one that happened an hour later.
    latest = GeneratorConfig().start
    late_by_an_hour = 0
    for e in events:
        t = ts(e["occurred_at"])
        if t < latest - timedelta(hours=1):
            late_by_an_hour += 1
        latest = max(latest, t)
    assert late_by_an_hour > 50
    # Follow-ups before their exception.opened, and clock drift before it.
    seen_open: dict[str, datetime] = {}
    early_followups = 0
    for e in events:
        if e["event_type"] == "exception.opened":
            seen_open[e["exception_id"]] = ts(e["occurred_at"])
        elif "exception_id" in e and e["exception_id"] not in seen_open:
            early_followups += 1
    assert early_followups >= 3
    drift = sum(
        1
        for e in events
        if "exception_id" in e
        and e["event_type"] != "exception.opened"
        and ts(e["occurred_at"]) < seen_open[e["exception_id"]]
    )
    assert drift >= 1
    suffixes = Counter(re.search(r"(Z|[+-]\d\d:\d\d)$", e["occurred_at"]).group(1) for e in events)
    assert set(suffixes) >= {"Z", "+00:00", "-04:00", "-05:00", "-07:00", "+02:00"}
    versions = Counter(e["schema_version"] for e in events)
    assert versions["1"] > 0.8 * len(events) and versions["1.1"] > 0
    known = {
        "event_id",
        "event_type",
        "occurred_at",
        "source_system",
        "schema_version",
        "actor",
        "exception_id",
        *OPTIONAL,
        *{f for r in (*EXC_REQUIRED.values(), *ORDER_REQUIRED.values()) for f in r},
    }
    assert sum(1 for e in events if set(e) - known) > 0.05 * len(events)


def test_clean_mode_is_the_same_world_without_mess() -> None:
    messy = [(line, label) for line, label in generate_labelled(TINY)]
    clean = [(line, label) for line, label in generate_labelled(replace(TINY, mess=False))]
    assert {label for _, label in clean} == {"event"}
    objs = [json.loads(line) for line, _ in clean]
    assert all(contract_errors(o) == [] for o in objs)
    assert all(o["occurred_at"].endswith("Z") and o["schema_version"] == "1" for o in objs)
    times = [ts(o["occurred_at"]) for o in objs]
    assert times == sorted(times)
    messy_ids = {json.loads(line)["event_id"] for line, label in messy if label == "event"}
    assert messy_ids == {o["event_id"] for o in objs}
    clean_types = Counter(o["event_type"] for o in objs)
    messy_types = Counter(
        json.loads(line)["event_type"] for line, label in messy if label == "event"
    )
    assert clean_types == messy_types


def test_scale_knob_is_roughly_linear() -> None:
    def count(cfg: GeneratorConfig) -> int:
        return sum(1 for _, label in generate_labelled(cfg) if label == "event")

    base = count(GeneratorConfig(days=1, lines_per_day=2_000, seed=3))
    double = count(GeneratorConfig(days=1, lines_per_day=4_000, seed=3))
    quad = count(GeneratorConfig(days=1, lines_per_day=8_000, seed=3))
    assert 1.8 < double / base < 2.2
    assert 3.6 < quad / base < 4.4
    two_days = count(GeneratorConfig(days=2, lines_per_day=2_000, seed=3))
    assert two_days > 1.9 * base  # later days also carry earlier orders' milestones


# ---------------------------------------------------------------- planted bottleneck

BASE_H = {"critical": 4, "high": 12, "medium": 24, "low": 72}
TIER_F = {"strategic": 0.5, "key": 0.75, "standard": 1.0}


def exception_kpis(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per exception, as of the data clock, following kpis.md."""
    evs = list(events)
    clock = max(ts(e["occurred_at"]) for e in evs)
    by_x: dict[str, list[tuple[int, dict[str, Any]]]] = defaultdict(list)
    for i, e in enumerate(evs):
        if "exception_id" in e:
            by_x[e["exception_id"]].append((i, e))
    rows = []
    for x in by_x.values():
        o = next(e for _, e in x if e["event_type"] == "exception.opened")
        t0 = ts(o["occurred_at"])

        def key(item: tuple[int, dict[str, Any]], t0: datetime = t0) -> tuple[Any, ...]:
            i, e = item
            if e["event_type"] == "exception.opened":
                return (t0, 0, i)
            return (max(ts(e["occurred_at"]), t0), 1, i)

        status, active, last = "", 0.0, t0
        touches = esc = 0
        resolved_at: datetime | None = None
        for _, e in sorted(x, key=key):
            t = max(ts(e["occurred_at"]), t0)
            if status == "open":
                active += (t - last).total_seconds()
            last = t
            et = e["event_type"]
            if et == "exception.opened":
                status = "open"
            elif et == "exception.paused" and status == "open":
                status = "paused"
            elif et == "exception.resumed" and status == "paused":
                status = "open"
            elif et == "exception.resolved" and status in ("open", "paused"):
                status, resolved_at = "resolved", t
            elif et == "exception.reopened" and status == "resolved":
                status, resolved_at = "open", None
            elif et == "exception.cancelled":
                status = "cancelled"
            elif et == "exception.touched" and e.get("actor", {}).get("kind") == "human":
                touches += 1
            elif et == "exception.escalated":
                esc = max(esc, e["level"])
        if status == "open":
            active += (clock - last).total_seconds()
        target = o.get("sla_target_hours") or BASE_H[o["severity"]] * TIER_F[o["customer_tier"]]
        rows.append(
            {
                "carrier": o.get("carrier", "(none)"),
                "lane": f"{o['origin']}→{o['destination']}",
                "site": o["site"],
                "status": status,
                "touches": touches,
                "escalated": esc >= 1,
                "resolution_h": (resolved_at - t0).total_seconds() / 3600 if resolved_at else None,
                "overrun_h": 0.0 if status == "cancelled" else max(0.0, active / 3600 - target),
            }
        )
    return rows


def ranking(rows: list[dict[str, Any]], dim: str) -> list[tuple[str, float]]:
    total: dict[str, float] = defaultdict(float)
    for r in rows:
        total[r[dim]] += r["overrun_h"]
    return sorted(total.items(), key=lambda kv: -kv[1])


def mean(xs: Iterable[float | None]) -> float:
    vals = [x for x in xs if x is not None]
    return sum(vals) / len(vals) if vals else math.nan


def check_planted(rows: list[dict[str, Any]]) -> None:
    carrier, lane = PLANTED_BOTTLENECK["carrier"], PLANTED_BOTTLENECK["lane"]
    assert ranking(rows, "carrier")[0][0] == carrier, ranking(rows, "carrier")[:3]
    assert ranking(rows, "lane")[0][0] == lane, ranking(rows, "lane")[:3]
    assert ranking(rows, "site")[0][0] == PLANTED_BOTTLENECK["site"]
    planted = [r for r in rows if r["carrier"] == carrier and r["lane"] == lane]
    others = [r for r in rows if not (r["carrier"] == carrier and r["lane"] == lane)]
    resolved = [r for r in planted if r["status"] == "resolved"]
    resolved_o = [r for r in others if r["status"] == "resolved"]
    assert mean(r["resolution_h"] for r in resolved) > 2.5 * mean(
        r["resolution_h"] for r in resolved_o
    )
    assert mean(r["touches"] for r in resolved) > 1.8 * mean(r["touches"] for r in resolved_o)
    assert mean(r["escalated"] for r in planted) > 2 * mean(r["escalated"] for r in others)


def test_planted_bottleneck_small(small_events: list[dict[str, Any]]) -> None:
    assert PLANTED_BOTTLENECK["lane"] == (
        f"{PLANTED_BOTTLENECK['origin']}→{PLANTED_BOTTLENECK['destination']}"
    )
    check_planted(exception_kpis(small_events))


def test_planted_bottleneck_default(default_exception_events: list[dict[str, Any]]) -> None:
    rows = exception_kpis(default_exception_events)
    check_planted(rows)
    ranked = ranking(rows, "lane")
    assert ranked[0][1] > 5 * ranked[1][1]  # by far, at full scale


# ---------------------------------------------------------------- shipped demo


def test_demo_file_is_current() -> None:
    assert DEMO_PATH.is_file()
    data = DEMO_PATH.read_bytes()
    assert len(data) <= 3 * 1024 * 1024
    lines = gzip.decompress(data).decode("utf-8").splitlines()
    assert lines == list(generate_events(DEMO_CONFIG)), "regenerate with write_demo()"

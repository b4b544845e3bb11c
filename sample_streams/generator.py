"""Seeded, deterministic generator of contract-v1 milestone streams.

What is generated (``shared/spec/events.md``), for a distributor shipping
``lines_per_day`` order lines a day (about four lines per order) from five
distribution centres (``DC-ATL``, ``DC-DAL``, ``DC-CHI``, ``DC-LAX``, ``DC-NJ``):

* every order gets ``order.released`` (site, lane, carrier — absent for will-call
  orders —, customer tier, value in USD/EUR/CAD/MXN/GBP, ``promised_delivery_at``,
  ``lines``); most then get ``order.shipped``, ``order.delivered`` (``in_full``,
  some late) and ``order.invoiced``;
* about 4 % of orders get an exception (a few get two), with the full lifecycle:
  ``opened`` → ``assigned`` (sometimes reassigned) → human and system ``touched`` →
  ``escalated`` (levels 1–3) → ``paused``/``resumed`` (waiting on customer or
  carrier) → ``resolved`` (some auto-resolved by a system with no human touch) →
  sometimes ``reopened`` and resolved again; a few are ``cancelled`` (opened in
  error) and a few are never resolved (backlog). Active (SLA-clock) time is
  log-normal, by root cause, severity and customer tier.

**Planted bottleneck** (:data:`PLANTED_BOTTLENECK`): carrier ``REDLINE`` on lane
``ATL→MIA`` (site ``DC-ATL``; REDLINE carries 65 % of that lane). Orders of
REDLINE on ATL→MIA get an exception about 8× as often as other orders (30 % vs
3.6 %), mostly missed pickups, carrier capacity and carrier failures; each needs
4–6× the active (SLA-clock) time of a medium-severity exception of the same root
cause *whatever its severity* (the carrier does not speed up for urgent ones),
gets more than twice the manual touches, is escalated in 80 % of cases (vs
about 15 %), reassigned and reopened about three times as often, and stays stuck
twice as often. REDLINE is the top carrier, ATL→MIA the top lane and DC-ATL the
top site by SLA overrun hours, with the default configuration, with the demo
file and at ``days=2, lines_per_day=5000`` (about 70 % of all overrun hours at
full scale).

With ``mess=True`` the stream looks like a real feed: about 1 % exact duplicate
re-sends, a few same-``event_id`` re-sends with a different body, arrival order
different from event time (per-source delivery delays of seconds to hours),
``exception.opened`` arriving after its follow-ups, clock drift (an
``exception.assigned`` stamped slightly before its ``exception.opened``), local
UTC offsets (``Z``, ``+00:00``, ``-04:00``, ``-05:00``, ``-07:00``, ``+02:00``),
milliseconds from some systems, ``schema_version`` ``"1.1"`` with unknown extra
fields, blank lines and about 0.1 % bad lines covering every rejection reason
(``invalid_json``, ``schema``, ``unknown_event_type``, ``unsupported_version``,
``naive_timestamp``, ``unknown_currency``, ``duplicate_open``). With
``mess=False`` the same world is written clean: UTC ``Z`` timestamps in event-time
order, no duplicates, no bad lines.

The world (orders, exceptions, their event times and event ids) does not depend
on ``mess``: the mess is drawn from separate random streams. Each day is drawn
from its own seeded random stream.
The output is a pure function of :class:`GeneratorConfig`; nothing reads the
wall clock.
"""

from __future__ import annotations

import gc
import gzip
import math
import random
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson

_T = TypeVar("_T")

__all__ = [
    "BAD_LINE_KINDS",
    "DEFAULT_START",
    "DEMO_CONFIG",
    "DEMO_PATH",
    "PLANTED_BOTTLENECK",
    "GenerationSummary",
    "GeneratorConfig",
    "generate_events",
    "generate_labelled",
    "write_demo",
    "write_stream",
]

DEFAULT_START: Final[datetime] = datetime(2026, 5, 4, tzinfo=UTC)
"""Fixed default start of the first day (never the wall clock)."""

PLANTED_CARRIER: Final = "REDLINE"
PLANTED_ORIGIN: Final = "ATL"
PLANTED_DESTINATION: Final = "MIA"

PLANTED_BOTTLENECK: Final[dict[str, str]] = {
    "carrier": PLANTED_CARRIER,
    "lane": f"{PLANTED_ORIGIN}→{PLANTED_DESTINATION}",
    "origin": PLANTED_ORIGIN,
    "destination": PLANTED_DESTINATION,
    "site": "DC-ATL",
    "category": "missed_pickup",
    "active_time_factor": "4-6",
    "exception_rate_factor": "8",
}
"""What is planted: exceptions on orders of ``carrier`` on ``lane`` (from
``site``) happen ``exception_rate_factor`` times as often per order and take
``active_time_factor`` times the active time of a medium-severity exception of
the same root cause, with more touches, escalations and reopens; ``category``
is their most frequent root cause. Guaranteed by the tests: ``carrier`` is the
top carrier, ``lane`` the top lane and ``site`` the top site by SLA overrun
hours. (``category`` is usually, not always, the top root cause.)"""

BAD_LINE_KINDS: Final[tuple[str, ...]] = (
    "invalid_json",
    "schema",
    "unknown_event_type",
    "unsupported_version",
    "naive_timestamp",
    "unknown_currency",
    "duplicate_open",
)
"""Labels of bad lines, equal to the rejection reason the pipeline must give."""

LABEL_EVENT: Final = "event"
LABEL_DUPLICATE: Final = "duplicate"
LABEL_CONFLICTING_DUPLICATE: Final = "conflicting_duplicate"
LABEL_BLANK: Final = "blank"


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. The output is a pure function of these fields."""

    start: datetime = DEFAULT_START
    """Start of the first day, timezone-aware (converted to UTC)."""
    days: float = 3.0
    """Length of the stream; events after ``start + days`` have not happened yet."""
    lines_per_day: int = 60_000
    """Order lines released per day (about 4 lines per order)."""
    seed: int = 7
    mess: bool = True
    """Add real-feed mess: duplicates, disorder, drift, offsets, bad lines."""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("GeneratorConfig.start must be timezone-aware")
        if not self.days > 0:
            raise ValueError("GeneratorConfig.days must be positive")
        if self.lines_per_day < 1:
            raise ValueError("GeneratorConfig.lines_per_day must be at least 1")


DEMO_CONFIG: Final[GeneratorConfig] = GeneratorConfig(days=7.0, lines_per_day=10_000, seed=7)
"""Parameters of the shipped ``sample_streams/demo.jsonl.gz``."""

DEMO_PATH: Final[Path] = Path(__file__).with_name("demo.jsonl.gz")


@dataclass(frozen=True)
class GenerationSummary:
    """Counts of one generated stream (what the pipeline should report for it)."""

    lines: int
    """Non-blank lines written (events, duplicates and bad lines)."""
    events: int
    """Distinct valid events: what the pipeline accepts."""
    duplicates: int
    """Re-sends of an accepted ``event_id`` (including ``conflicting_duplicates``)."""
    conflicting_duplicates: int
    """Re-sends with the same ``event_id`` but a different body."""
    bad_lines: int
    """Lines the pipeline must reject (sum of ``rejects``)."""
    rejects: dict[str, int]
    """Bad lines by rejection reason."""
    blank_lines: int
    orders: int
    """Orders released in the stream."""
    order_lines: int
    exceptions: int
    """Exceptions opened in the stream."""
    planted_exceptions: int
    """Exceptions on the planted carrier and lane."""
    open_at_end: int
    """Exceptions open or paused at the end of the stream (the backlog)."""
    cancelled: int
    first_occurred_at: str | None
    data_clock: str | None
    """Largest ``occurred_at`` of the accepted events (UTC)."""

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain JSON-able data."""
        return asdict(self)

    def __str__(self) -> str:
        rej = ", ".join(f"{k} {v}" for k, v in self.rejects.items() if v)
        return (
            f"{self.events:,} events ({self.orders:,} orders, {self.order_lines:,} lines, "
            f"{self.exceptions:,} exceptions, {self.open_at_end:,} open at end), "
            f"{self.duplicates:,} duplicates, {self.bad_lines:,} bad lines"
            + (f" ({rej})" if rej else "")
            + f", {self.blank_lines} blank; data clock {self.data_clock}"
        )


# --------------------------------------------------------------------------- time

_MS_H: Final = 3_600_000
_MS_MIN: Final = 60_000
_MS_DAY: Final = 86_400_000
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE: Final = date(1970, 1, 1)
_NEVER: Final = 1 << 62

Zone = tuple[int, str, bool]
"""How a source writes timestamps: (UTC offset in minutes, suffix, with milliseconds)."""

_UTC_Z: Final[Zone] = (0, "Z", False)
_date_cache: dict[int, str] = {}
_HMS: Final[list[str]] = [
    f"{h:02d}:{m:02d}:{sec:02d}" for h in range(24) for m in range(60) for sec in range(60)
]


def _fmt(ms: int, zone: Zone) -> str:
    """RFC 3339 text of ``ms`` (epoch milliseconds) in ``zone``."""
    off, suffix, with_ms = zone
    day, rem = divmod(ms + off * _MS_MIN, _MS_DAY)
    d = _date_cache.get(day)
    if d is None:
        d = (_EPOCH_DATE + timedelta(days=day)).isoformat() + "T"
        _date_cache[day] = d
    sec, milli = divmod(rem, 1000)
    if with_ms:
        return f"{d}{_HMS[sec]}.{milli:03d}{suffix}"
    return d + _HMS[sec] + suffix


def _quantize(ms: int, zone: Zone) -> int:
    """The instant ``_fmt(ms, zone)`` denotes (whole seconds unless the zone keeps ms)."""
    return ms if zone[2] else ms - ms % 1000


def _to_ms(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(milliseconds=1)


# --------------------------------------------------------------------------- world tables

_RATES_TO_USD: Final[dict[str, float]] = {
    "USD": 1.0, "EUR": 1.08, "GBP": 1.27, "CAD": 0.73, "MXN": 0.058,
}
_CARRIERS: Final = ("ACME", "BLUEWAVE", "NORTHSTAR", "PACRIM", "REDLINE")


@dataclass(frozen=True, slots=True)
class _Site:
    name: str
    origin: str
    zone: Zone
    weight: float
    dests: tuple[tuple[str, float], ...]
    carriers: tuple[tuple[str | None, float], ...]


_SITES: Final[tuple[_Site, ...]] = (
    _Site("DC-ATL", "ATL", (-240, "-04:00", False), 24,
          (("MIA", 26), ("ORL", 12), ("TPA", 10), ("CLT", 12), ("BNA", 10), ("BHM", 8),
           ("JAX", 8), ("SAV", 6), ("ATL", 10), ("MEM", 8)),
          (("ACME", 30), ("BLUEWAVE", 25), ("NORTHSTAR", 15), ("REDLINE", 25), (None, 5))),
    _Site("DC-DAL", "DAL", (-300, "-05:00", False), 20,
          (("HOU", 18), ("AUS", 14), ("SAT", 12), ("OKC", 10), ("MTY", 8), ("PHX", 10),
           ("DEN", 10), ("MSY", 8), ("DAL", 10)),
          (("ACME", 30), ("BLUEWAVE", 20), ("NORTHSTAR", 25), ("PACRIM", 10), ("REDLINE", 10),
           (None, 5))),
    _Site("DC-CHI", "CHI", (-300, "-05:00", False), 22,
          (("DET", 14), ("MKE", 12), ("MSP", 14), ("STL", 12), ("IND", 12), ("CLE", 10),
           ("TOR", 8), ("MCI", 8), ("CHI", 10)),
          (("ACME", 30), ("BLUEWAVE", 20), ("NORTHSTAR", 35), ("REDLINE", 10), (None, 5))),
    _Site("DC-LAX", "LAX", (-420, "-07:00", False), 18,
          (("SFO", 18), ("SAN", 14), ("SEA", 14), ("PDX", 10), ("LAS", 12), ("PHX", 10),
           ("TIJ", 8), ("SLC", 8), ("LAX", 6)),
          (("ACME", 25), ("PACRIM", 45), ("BLUEWAVE", 15), ("NORTHSTAR", 10), (None, 5))),
    _Site("DC-NJ", "EWR", (-240, "-04:00", False), 16,
          (("NYC", 18), ("BOS", 14), ("PHL", 14), ("BWI", 10), ("DCA", 12), ("PIT", 8),
           ("MTL", 8), ("HFD", 6), ("EWR", 10)),
          (("ACME", 35), ("BLUEWAVE", 30), ("NORTHSTAR", 20), ("REDLINE", 10), (None, 5))),
)
_PLANTED_LANE_CARRIERS: Final[tuple[tuple[str | None, float], ...]] = (
    (PLANTED_CARRIER, 65), ("ACME", 15), ("BLUEWAVE", 15), (None, 5),
)
"""REDLINE holds the contract for most of the ATL→MIA volume."""

_DEST_OFFSET: Final[dict[str, int]] = {
    **dict.fromkeys(("MIA", "ORL", "TPA", "CLT", "JAX", "SAV", "ATL", "DET", "CLE", "IND",
                     "TOR", "NYC", "BOS", "PHL", "BWI", "DCA", "PIT", "MTL", "HFD", "EWR"), -240),
    **dict.fromkeys(("BNA", "BHM", "MEM", "HOU", "AUS", "SAT", "OKC", "MSY", "DAL", "MKE",
                     "MSP", "STL", "MCI", "CHI", "MTY"), -300),
    **dict.fromkeys(("DEN", "SLC"), -360),
    **dict.fromkeys(("PHX", "SFO", "SAN", "SEA", "PDX", "LAS", "LAX", "TIJ"), -420),
}
_CROSS_BORDER: Final[dict[str, str]] = {"MTY": "MX", "TIJ": "MX", "TOR": "CA", "MTL": "CA"}
_FAR_LANES: Final[frozenset[tuple[str, str]]] = frozenset({
    ("DAL", "PHX"), ("DAL", "DEN"), ("LAX", "SEA"), ("LAX", "SLC"), ("ATL", "MEM"),
    ("CHI", "MCI"), ("LAX", "PDX"), ("EWR", "PIT"),
})

_CARRIER_ZONE: Final[dict[str, Zone]] = {
    "ACME": (0, "Z", True),
    "BLUEWAVE": (120, "+02:00", True),
    "NORTHSTAR": (-300, "-05:00", False),
    "PACRIM": (-420, "-07:00", True),
    "REDLINE": (-240, "-04:00", False),
}
_SOURCE_ZONE: Final[dict[str, Zone]] = {
    "ERP": (0, "Z", False),
    "TMS": (0, "+00:00", False),
    "CRM": (-300, "-05:00", False),
    "FINANCE": (120, "+02:00", False),
    "EDI": (0, "Z", True),
    "CARRIER": (0, "Z", True),
}

# Release profile by local hour (ERP release waves; EDI orders trickle in overnight).
_LOCAL_HOUR_WEIGHTS: Final = (1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 10,
                              9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 2, 1)
# Lines per order 1..12, mean 4.01.
_LINES_WEIGHTS: Final = (22, 18, 14, 11, 9, 7, 5, 4, 3, 3, 2, 2)
_TIERS: Final = ("strategic", "key", "standard")
_TIER_WEIGHTS: Final = (15, 30, 55)
_TIER_CUSTOMERS: Final[dict[str, tuple[int, int]]] = {
    "strategic": (10_001, 60), "key": (20_001, 400), "standard": (30_001, 4_000),
}
_TIER_VALUE: Final[dict[str, float]] = {"strategic": 1.8, "key": 1.3, "standard": 1.0}
_SEVERITIES: Final = ("low", "medium", "high", "critical")
_SEVERITY_WEIGHTS: Final[dict[str, tuple[int, ...]]] = {
    "strategic": (10, 40, 35, 15), "key": (20, 45, 27, 8), "standard": (30, 45, 20, 5),
}
_LN_180: Final = math.log(180.0)
_LN_9: Final = math.log(9.0)
_URGENT_SEVERITY_SHIFT: Final = (0.4, 0.9, 1.6, 1.6)
_SLA_BASE_H: Final[dict[str, float]] = {"critical": 4, "high": 12, "medium": 24, "low": 72}
_SLA_TIER: Final[dict[str, float]] = {"strategic": 0.5, "key": 0.75, "standard": 1.0}
_SEVERITY_SPEED: Final[dict[str, float]] = {
    "critical": 0.3, "high": 0.55, "medium": 1.0, "low": 1.8,
}
_TIER_SPEED: Final[dict[str, float]] = {"strategic": 0.7, "key": 0.85, "standard": 1.0}
_ESCALATION_P: Final[dict[str, float]] = {
    "critical": 0.45, "high": 0.2, "medium": 0.08, "low": 0.03,
}

# Teams: first user number and head count.
_TEAMS: Final[dict[str, tuple[int, int]]] = {
    "inventory_control": (100, 40), "warehouse_ops": (140, 40), "transportation": (200, 60),
    "credit": (300, 15), "pricing": (320, 20), "trade_compliance": (350, 10),
    "inbound": (370, 20), "master_data": (400, 10), "customer_service": (500, 80),
    "billing": (600, 25),
}
_ESCALATION_TEAMS: Final = ("team_lead", "ops_manager", "director_fulfillment")
_ESCALATION_REASONS: Final = ("sla_risk", "customer_complaint", "high_value", "repeat_issue")
_SYSTEM_ACTORS: Final = ("rpa-bot-01", "rpa-bot-02", "wms-auto", "tms-auto", "erp-workflow")

# Phases of the order an exception belongs to.
_PH_RELEASE, _PH_PICKUP, _PH_TRANSIT, _PH_DELIVERED, _PH_INVOICE = range(5)


@dataclass(frozen=True, slots=True)
class _Cat:
    name: str
    weight: float
    phase: int
    median_h: float
    """Median active hours at medium severity, standard tier."""
    touch_mean: float
    auto_p: float
    pause_p: float
    pause_reason: str
    detect: tuple[tuple[str, str], ...]
    """(source_system, detected_by) options."""
    team: str
    codes: tuple[str, ...]
    actions: tuple[str, ...]
    needs_carrier: bool = False
    urgent: bool = False
    """Threatens the promised delivery date: rated more severe."""


_CATEGORIES: Final[tuple[_Cat, ...]] = (
    _Cat("inventory_shortfall", 22, _PH_RELEASE, 9, 2.5, 0.03, 0.08, "waiting_on_supplier",
         (("WMS", "wms.short_pick"), ("ERP", "erp.atp_check")), "inventory_control",
         ("split_ship", "substitute", "backorder", "transfer_from_dc"),
         ("recount", "reallocate", "call_customer", "note", "approval_request")),
    _Cat("damaged_stock", 7, _PH_RELEASE, 7, 2.0, 0.02, 0.05, "waiting_on_customer",
         (("WMS", "wms.damage_scan"),), "warehouse_ops",
         ("replaced", "substitute", "credit_issued"),
         ("recount", "upload_photo", "note", "reallocate")),
    _Cat("carrier_failure", 10, _PH_TRANSIT, 12, 3.0, 0.02, 0.2, "waiting_on_carrier",
         (("CARRIER", "carrier.exception_code"), ("TMS", "tms.tracking_gap")), "transportation",
         ("rebooked", "reshipped", "claim_filed", "delivered_late"),
         ("call_carrier", "rebook", "note", "check_status", "email_customer"), True, True),
    _Cat("carrier_capacity", 6, _PH_PICKUP, 8, 2.0, 0.1, 0.15, "waiting_on_carrier",
         (("TMS", "tms.tender_rejected"),), "transportation",
         ("rebooked", "alternate_carrier", "expedited"),
         ("rebook", "call_carrier", "approval_request", "note"), True, True),
    _Cat("missed_pickup", 8, _PH_PICKUP, 6, 2.0, 0.05, 0.15, "waiting_on_carrier",
         (("TMS", "tms.pickup_missed"), ("WMS", "wms.dock_aging")), "transportation",
         ("rebooked", "pickup_rescheduled"),
         ("call_carrier", "rebook", "note", "check_status"), True, True),
    _Cat("credit_hold", 9, _PH_RELEASE, 7, 2.0, 0.25, 0.35, "waiting_on_customer",
         (("ERP", "erp.credit_check"),), "credit",
         ("credit_released", "prepayment_received", "order_cancelled"),
         ("call_customer", "approval_request", "note", "email_customer")),
    _Cat("pricing_mismatch", 9, _PH_RELEASE, 10, 2.5, 0.05, 0.25, "waiting_on_customer",
         (("ERP", "erp.price_check"), ("EDI", "edi.855_price_variance")), "pricing",
         ("price_corrected", "credit_memo", "customer_accepted_price"),
         ("data_correction", "approval_request", "call_customer", "note")),
    _Cat("customs_hold", 2, _PH_TRANSIT, 20, 3.5, 0.0, 0.4, "waiting_on_carrier",
         (("CARRIER", "carrier.customs_status"), ("TMS", "tms.customs_status")),
         "trade_compliance", ("docs_corrected", "duties_paid", "released_by_customs"),
         ("upload_document", "call_broker", "note", "data_correction"), True, True),
    _Cat("asn_delay", 5, _PH_RELEASE, 5, 1.5, 0.35, 0.1, "waiting_on_supplier",
         (("EDI", "edi.asn_overdue"),), "inbound", ("asn_received", "manual_receipt"),
         ("check_status", "email_supplier", "note")),
    _Cat("master_data", 5, _PH_RELEASE, 4, 1.5, 0.2, 0.03, "waiting_on_customer",
         (("ERP", "erp.mdm_validation"),), "master_data", ("data_corrected",),
         ("data_correction", "note")),
    _Cat("duplicate_order", 3, _PH_RELEASE, 2, 1.0, 0.5, 0.02, "waiting_on_customer",
         (("ERP", "erp.duplicate_check"), ("EDI", "edi.duplicate_po")), "customer_service",
         ("duplicate_cancelled", "confirmed_not_duplicate"), ("call_customer", "note")),
    _Cat("address_issue", 6, _PH_RELEASE, 5, 2.0, 0.05, 0.4, "waiting_on_customer",
         (("TMS", "tms.address_validation"), ("CRM", "crm.case")), "customer_service",
         ("address_corrected",), ("call_customer", "data_correction", "note")),
    _Cat("invoice_not_posted", 4, _PH_INVOICE, 14, 2.0, 0.3, 0.05, "waiting_on_customer",
         (("FINANCE", "finance.invoice_sync"),), "billing", ("invoice_posted",),
         ("data_correction", "note", "approval_request")),
    _Cat("pod_dispute", 4, _PH_DELIVERED, 28, 3.5, 0.0, 0.3, "waiting_on_carrier",
         (("FINANCE", "finance.short_pay"), ("CRM", "crm.case")), "billing",
         ("pod_provided", "credit_issued", "claim_filed"),
         ("request_pod", "call_carrier", "call_customer", "note"), True),
    # New root causes appear in real life: accepted as given.
    _Cat("label_print_failure", 0.6, _PH_RELEASE, 3, 1.5, 0.1, 0.0, "waiting_on_customer",
         (("WMS", "wms.label_error"),), "warehouse_ops", ("relabelled",), ("note", "reprint")),
)
_CAT_BY_NAME: Final[dict[str, _Cat]] = {c.name: c for c in _CATEGORIES}
# Exceptions on the planted carrier and lane: mostly carrier trouble.
_PLANTED_CAT_WEIGHTS: Final[dict[str, float]] = {
    "missed_pickup": 50, "carrier_failure": 20, "carrier_capacity": 12, "pod_dispute": 3,
    "inventory_shortfall": 6, "address_issue": 3, "pricing_mismatch": 3, "credit_hold": 3,
}
_EXCEPTION_P: Final = 0.036
_PLANTED_EXCEPTION_P: Final = 0.30
_SECOND_EXCEPTION_P: Final = 0.08
_NOTES: Final = (
    "left voicemail", "waiting for callback", "customer confirmed", "checked with DC lead",
    "sent email", "see attached", "carrier ticket opened", "updated ETA in portal",
)


def _cum(weights: tuple[float, ...] | list[float]) -> list[float]:
    out: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def _pick(rng: random.Random, items: Sequence[_T], cum: list[float]) -> _T:
    """``items[i]`` with probability proportional to its weight (``cum``: cumulative weights)."""
    return items[bisect_right(cum, rng.random() * cum[-1])]


def _transit_days(origin: str, dest: str) -> int:
    if dest == origin:
        return 1
    if dest in _CROSS_BORDER:
        return 4
    if (origin, dest) in _FAR_LANES:
        return 3
    return 2


def _poisson(rng: random.Random, lam: float) -> int:
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


# --------------------------------------------------------------------------- world


class _WEv:
    """One event of the world, before rendering."""

    __slots__ = ("actor", "etype", "key", "kid", "payload", "role", "source", "t", "zone")

    def __init__(
        self, t: int, etype: str, source: str, key: str, kid: str, payload: dict[str, Any],
        actor: dict[str, str] | None, zone: Zone, role: int = 0,
    ) -> None:
        self.t = t
        self.etype = etype
        self.source = source
        self.key = key
        self.kid = kid
        self.payload = payload
        self.actor = actor
        self.zone = zone
        self.role = role
        """0 other, 1 ``exception.opened``, 2 assigned right after opened (drift candidate)."""


_ROLE_OPENED: Final = 1
_ROLE_DRIFTABLE: Final = 2


@dataclass(slots=True)
class _Stats:
    orders: int = 0
    order_lines: int = 0
    exceptions: int = 0
    planted_exceptions: int = 0
    open_at_end: int = 0
    cancelled: int = 0
    events: int = 0
    duplicates: int = 0
    conflicting_duplicates: int = 0
    blank_lines: int = 0
    rejects: dict[str, int] = field(default_factory=lambda: dict.fromkeys(BAD_LINE_KINDS, 0))
    first_ms: int | None = None
    last_ms: int | None = None


@dataclass(slots=True)
class _Ctx:
    """The order an exception is about."""

    order_id: str
    site: _Site
    dest: str
    carrier: str | None
    tier: str
    customer_id: str
    value: float
    currency: str
    planted: bool


class _World:
    """Draws orders and exceptions day by day (independent seeded stream per day)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self.start_ms = _to_ms(cfg.start)
        self.horizon_ms = self.start_ms + round(cfg.days * _MS_DAY)
        self.orders_per_day = max(1, round(cfg.lines_per_day / 4.0))
        self.order_no = 1_000_000
        self.exception_no = 100_000
        self.invoice_no = 5_000_000
        self.site_cum = _cum([s.weight for s in _SITES])
        self.dest_cum = [_cum([w for _, w in s.dests]) for s in _SITES]
        self.carrier_cum = [_cum([w for _, w in s.carriers]) for s in _SITES]
        self.planted_carrier_cum = _cum([w for _, w in _PLANTED_LANE_CARRIERS])
        # UTC hour weights per site (local release profile shifted by the site offset).
        self.hour_cum = []
        for s in _SITES:
            shift = -s.zone[0] // 60
            w = [0.0] * 24
            for local_h, lw in enumerate(_LOCAL_HOUR_WEIGHTS):
                w[(local_h + shift) % 24] = lw
            self.hour_cum.append(_cum(w))
        self.lines_cum = _cum(_LINES_WEIGHTS)
        self.tier_cum = _cum(_TIER_WEIGHTS)
        # Severity by customer tier; trouble that threatens the promised date (carrier
        # categories) is rated higher.
        self.sev_cum = {
            (t, urgent): _cum([wi * (m if urgent else 1.0)
                               for wi, m in zip(w, _URGENT_SEVERITY_SHIFT, strict=True)])
            for t, w in _SEVERITY_WEIGHTS.items() for urgent in (False, True)
        }
        cats_any = [c.name for c in _CATEGORIES]
        self.cat_tables: dict[tuple[bool, bool], tuple[list[str], list[float]]] = {}
        for has_carrier in (False, True):
            for cross in (False, True):
                names = [
                    n for n in cats_any
                    if (has_carrier or not _CAT_BY_NAME[n].needs_carrier)
                    and (cross or n != "customs_hold")
                ]
                # Cross-border lanes: customs holds are a leading cause.
                weights = [_CAT_BY_NAME[n].weight * (12 if n == "customs_hold" else 1)
                           for n in names]
                self.cat_tables[(has_carrier, cross)] = (names, _cum(weights))
        pn = list(_PLANTED_CAT_WEIGHTS)
        self.planted_cats = (pn, _cum([_PLANTED_CAT_WEIGHTS[n] for n in pn]))

    # ---------------------------------------------------------------- helpers

    def _zone(self, source: str, site: _Site, carrier: str | None) -> Zone:
        if source == "WMS":
            return site.zone
        if source == "CARRIER":
            return _CARRIER_ZONE.get(carrier or "", _SOURCE_ZONE["CARRIER"])
        return _SOURCE_ZONE[source]

    def _promised(self, ms: int, dest: str) -> str:
        """17:00 local destination time on the day of ``ms``."""
        off = _DEST_OFFSET[dest]
        local_day = (ms + off * _MS_MIN) // _MS_DAY
        t = local_day * _MS_DAY + 17 * _MS_H - off * _MS_MIN
        if self.cfg.mess:
            return _fmt(t, (off, f"-{-off // 60:02d}:00", False))
        return _fmt(t, _UTC_Z)

    @staticmethod
    def _user(rng: random.Random, team: str) -> str:
        first, n = _TEAMS.get(team, (900, 20))
        return f"u-{first + rng.randrange(n)}"

    # ---------------------------------------------------------------- one day

    def day(self, d: int, stats: _Stats) -> list[_WEv]:
        """All events (with event time before the horizon) of orders released on day ``d``."""
        rng = random.Random(f"fpi-world:{self.cfg.seed}:{d}")
        day_start = self.start_ms + d * _MS_DAY
        out: list[_WEv] = []
        for _ in range(self.orders_per_day):
            self._order(rng, day_start, out, stats)
        return out

    def _order(self, rng: random.Random, day_start: int, out: list[_WEv], stats: _Stats) -> None:
        rnd = rng.random
        si = bisect_right(self.site_cum, rnd() * self.site_cum[-1])
        site = _SITES[si]
        cum = self.dest_cum[si]
        dest = site.dests[bisect_right(cum, rnd() * cum[-1])][0]
        planted_lane = dest == PLANTED_DESTINATION and site.origin == PLANTED_ORIGIN
        if planted_lane:
            carrier = _pick(rng, _PLANTED_LANE_CARRIERS, self.planted_carrier_cum)[0]
        else:
            cum = self.carrier_cum[si]
            carrier = site.carriers[bisect_right(cum, rnd() * cum[-1])][0]
        planted = planted_lane and carrier == PLANTED_CARRIER
        cum = self.hour_cum[si]
        r = day_start + bisect_right(cum, rnd() * cum[-1]) * _MS_H + int(rnd() * _MS_H)
        lines = 1 + bisect_right(self.lines_cum, rnd() * self.lines_cum[-1])
        tier = _TIERS[bisect_right(self.tier_cum, rnd() * self.tier_cum[-1])]
        first, n = _TIER_CUSTOMERS[tier]
        customer_id = f"C-{first + int(n * rnd() ** 2)}"
        usd = lines * math.exp(_LN_180 + 0.9 * rng.gauss(0.0, 1.0)) * _TIER_VALUE[tier]
        country = _CROSS_BORDER.get(dest)
        u = rnd()
        if country == "MX":
            currency = "MXN" if u < 0.7 else "USD"
        elif country == "CA":
            currency = "CAD" if u < 0.75 else "USD"
        else:
            currency = ("USD" if u < 0.93 else "EUR" if u < 0.97
                        else "GBP" if u < 0.99 else "CAD")
        value = round(usd / _RATES_TO_USD[currency], 2)
        transit = _transit_days(site.origin, dest)
        cutoff = ((r + site.zone[0] * _MS_MIN) % _MS_DAY) >= 14 * _MS_H  # after 14:00 local
        promised = self._promised(r + (transit + cutoff) * _MS_DAY, dest)
        # Planned milestones (exceptions may push them out).
        ship = r + int(math.exp(_LN_9 + 0.5 * rng.gauss(0.0, 1.0)) * _MS_H)
        transit_ms = int(transit * 24 * _MS_H * (0.5 + 0.45 * rnd()))
        u = rnd()
        if u < 0.07:  # weather, missed connection: late without an exception
            transit_ms += int((16 + 32 * u / 0.07) * _MS_H)
        u = rnd()
        in_full = u > 0.025
        never_ships = 0.025 < u < 0.035  # order held or cancelled upstream

        self.order_no += 1
        order_id = f"SO-{self.order_no}"
        horizon = self.horizon_ms
        if r >= horizon:
            return
        stats.orders += 1
        stats.order_lines += lines
        ctx = _Ctx(order_id, site, dest, carrier, tier, customer_id, value, currency, planted)
        released: dict[str, Any] = {
            "site": site.name, "origin": site.origin, "destination": dest,
        }
        if carrier is not None:
            released["carrier"] = carrier
        released.update({
            "customer_tier": tier, "customer_id": customer_id, "order_value": value,
            "currency": currency, "promised_delivery_at": promised, "lines": lines,
        })
        rel_source = "EDI" if rng.random() < 0.1 else "ERP"
        out.append(_WEv(r, "order.released", rel_source, "order_id", order_id, released, None,
                        _SOURCE_ZONE[rel_source]))

        # Exceptions of this order.
        cats: list[_Cat] = []
        if rng.random() < (_PLANTED_EXCEPTION_P if planted else _EXCEPTION_P):
            cats.append(self._category(rng, ctx))
            if rng.random() < _SECOND_EXCEPTION_P:
                second = self._category(rng, ctx)
                if second.name != cats[0].name:
                    cats.append(second)
            cats.sort(key=lambda c: c.phase)
        shipped_carrier = carrier
        dlv: int = _NEVER
        inv: int = _NEVER
        if never_ships:
            ship = _NEVER
        for cat in cats:
            if cat.phase == _PH_RELEASE:
                t0 = r + int(rng.uniform(0.03, 0.9) * max(ship - r, _MS_H)) if ship < _NEVER \
                    else r + int(rng.uniform(0.05, 6) * _MS_H)
            elif cat.phase == _PH_PICKUP:
                if ship >= _NEVER:
                    continue
                t0 = ship + int(rng.uniform(0.5, 3) * _MS_H) if cat.name == "missed_pickup" \
                    else max(r + 10 * _MS_MIN, ship - int(rng.uniform(2, 8) * _MS_H))
            elif cat.phase == _PH_TRANSIT:
                if ship >= _NEVER:
                    continue
                if cat.name == "customs_hold":  # at the border, early in transit
                    t0 = ship + int(rng.uniform(4, 30) * _MS_H)
                else:
                    t0 = ship + int(rng.uniform(0.1, 0.8) * transit_ms) + 20 * _MS_MIN
            elif cat.phase == _PH_DELIVERED:
                if ship >= _NEVER:
                    continue
                dlv = ship + transit_ms
                t0 = dlv + int(rng.uniform(4, 48) * _MS_H)
            else:
                if ship >= _NEVER:
                    continue
                t0 = ship + int(rng.uniform(0.5, 8) * _MS_H) + int(rng.uniform(12, 36) * _MS_H)
            resolved_at, code = self._exception(rng, ctx, cat, t0, out, stats)
            # Knock-on effects on the order's milestones.
            if cat.phase in (_PH_RELEASE, _PH_PICKUP) and ship < _NEVER:
                if resolved_at is None:
                    if code != "cancelled":
                        ship = _NEVER
                elif code in ("order_cancelled", "duplicate_cancelled"):
                    ship = _NEVER
                else:
                    ship = max(ship, resolved_at + int(rng.uniform(1, 4) * _MS_H))
                    if code in ("split_ship", "backorder") or (
                        cat.name == "damaged_stock" and rng.random() < 0.5
                    ):
                        in_full = False
                    if code == "alternate_carrier" and carrier is not None:
                        shipped_carrier = _CARRIERS[
                            (_CARRIERS.index(carrier) + 1 + rng.randrange(4)) % 5
                        ]
            elif cat.phase == _PH_TRANSIT and resolved_at is not None:
                transit_ms = max(transit_ms, resolved_at - ship + int(rng.uniform(8, 30) * _MS_H))
                if cat.name == "carrier_failure" and rng.random() < 0.2:
                    in_full = False
            elif cat.phase == _PH_TRANSIT and code != "cancelled":
                transit_ms = _NEVER
            elif cat.phase == _PH_INVOICE:
                inv = (resolved_at + int(rng.uniform(0.2, 2) * _MS_H)
                       if resolved_at is not None else _NEVER)
                if code == "cancelled":
                    inv = t0 - int(rng.uniform(12, 36) * _MS_H)
        if ship < horizon:
            src = "WMS" if rnd() < 0.7 else "TMS"
            out.append(_WEv(ship, "order.shipped", src, "order_id", order_id,
                            {"carrier": shipped_carrier} if shipped_carrier else {},
                            None, self._zone(src, site, carrier)))
            if transit_ms < _NEVER:
                dlv = ship + transit_ms
                if dlv < horizon:
                    if carrier is None:
                        src = "WMS"  # will-call: the customer picked it up at the dock
                    else:
                        src = "EDI" if rng.random() < 0.1 else "CARRIER"
                    out.append(_WEv(dlv, "order.delivered", src, "order_id", order_id,
                                    {"in_full": in_full}, None,
                                    self._zone(src, site, shipped_carrier)))
            if inv == _NEVER and not (cats and cats[-1].phase == _PH_INVOICE):
                inv = ship + int((0.5 + 7.5 * rnd()) * _MS_H)
            if inv < horizon:
                self.invoice_no += 1
                src = "FINANCE" if rng.random() < 0.85 else "ERP"
                out.append(_WEv(inv, "order.invoiced", src, "order_id", order_id,
                                {"invoice_id": f"INV-{self.invoice_no}"}, None,
                                _SOURCE_ZONE[src]))

    def _category(self, rng: random.Random, ctx: _Ctx) -> _Cat:
        if ctx.planted:
            names, cum = self.planted_cats
        else:
            names, cum = self.cat_tables[(ctx.carrier is not None, ctx.dest in _CROSS_BORDER)]
        return _CAT_BY_NAME[_pick(rng, names, cum)]

    # ---------------------------------------------------------------- one exception

    def _exception(
        self, rng: random.Random, ctx: _Ctx, cat: _Cat, t0: int, out: list[_WEv], stats: _Stats
    ) -> tuple[int | None, str]:
        """Append one exception's events; return (final resolution time or None, code).

        ``code`` is the resolution code, ``"cancelled"`` or ``"open"``.
        """
        self.exception_no += 1
        xid = f"X-{self.exception_no}"
        planted = ctx.planted
        tier = ctx.tier
        sev = _pick(rng, _SEVERITIES, self.sev_cum[(tier, cat.urgent)])
        target = _SLA_BASE_H[sev] * _SLA_TIER[tier]
        sla_override: float | None = None
        if rng.random() < 0.05:
            if cat.name == "customs_hold":
                sla_override = 48.0
            elif tier == "strategic":
                sla_override = rng.choice((2.0, 4.0, 8.0))
            else:
                sla_override = rng.choice((8.0, 24.0, 48.0))
            target = sla_override
        u = rng.random()
        outcome = "cancelled" if u < 0.025 else ("stuck" if u < (0.065 if planted else 0.045)
                                                  else "resolved")
        auto = outcome == "resolved" and not planted and rng.random() < cat.auto_p

        src, detected_by = rng.choice(cat.detect)
        opened: dict[str, Any] = {
            "exception_id": xid, "order_id": ctx.order_id, "category": cat.name,
            "severity": sev, "site": ctx.site.name, "origin": ctx.site.origin,
            "destination": ctx.dest,
        }
        if ctx.carrier is not None:
            opened["carrier"] = ctx.carrier
        opened["customer_tier"] = tier
        if rng.random() < 0.9:
            opened["customer_id"] = ctx.customer_id
        opened["order_value"] = ctx.value
        opened["currency"] = ctx.currency
        if sla_override is not None:
            opened["sla_target_hours"] = sla_override
        opened["detected_by"] = detected_by
        opened_actor = ({"id": self._user(rng, "customer_service"), "kind": "human"}
                        if src == "CRM" else None)

        def zone(source: str) -> Zone:
            return self._zone(source, ctx.site, ctx.carrier)

        # Timeline in active (SLA-clock) hours: (active_h, rank, etype, source, payload, actor).
        items: list[tuple[float, int, str, str, dict[str, Any], dict[str, str] | None]] = []
        pauses: list[tuple[float, float, str]] = []  # (active_h, duration_h, reason)
        team = cat.team
        assignee = self._user(rng, team) if rng.random() < 0.85 else None

        if outcome == "cancelled":
            span = rng.uniform(0.15, 4.0)
        elif auto:
            span = rng.uniform(0.05, 0.75)
        elif outcome == "stuck":
            span = rng.uniform(48, 240)
        else:
            if planted:
                # The carrier answers slowly whatever the priority: 4-6x the active time
                # of a medium-severity exception of the same root cause, less spread.
                median = cat.median_h * _TIER_SPEED[tier] * rng.uniform(4.0, 6.0)
                span = median * rng.lognormvariate(0.0, 0.5)
            else:
                median = cat.median_h * _SEVERITY_SPEED[sev] * _TIER_SPEED[tier]
                span = max(0.1, median * rng.lognormvariate(0.0, 1.0))
                if rng.random() < 0.03:
                    span *= rng.uniform(2, 4)  # the long tail: lost paperwork, holidays

        assign_at = min(rng.uniform(1, 20) / 60, 0.2 * span)
        a_payload: dict[str, Any] = {"owner_team": team}
        if assignee is not None:
            a_payload["assignee"] = assignee
        items.append((assign_at, 0, "exception.assigned", "CRM" if rng.random() < 0.8 else "ERP",
                      a_payload, None))
        owner = assignee

        if outcome == "cancelled":
            if rng.random() < 0.5:
                actor = {"id": assignee or self._user(rng, team), "kind": "human"}
                items.append((span * rng.uniform(0.3, 0.8), 1, "exception.touched", "CRM",
                              {"action": "review", "note": "not a real exception"}, actor))
            items.append((span, 9, "exception.cancelled", "CRM",
                          {"reason": rng.choice(("opened_in_error", "duplicate_alert",
                                                 "false_positive"))},
                          {"id": assignee or self._user(rng, team), "kind": "human"}))
        else:
            horizon_h = span if outcome == "resolved" else rng.uniform(8, 60)
            # Reassignment (routing to the right team).
            if not auto and rng.random() < (0.4 if planted else 0.12):
                new_team = "transportation" if team != "transportation" else "customer_service"
                if planted and team == "transportation":
                    new_team = "transportation"  # bounced between planners of the same team
                owner = self._user(rng, new_team)
                items.append((horizon_h * rng.uniform(0.2, 0.5), 1, "exception.assigned", "CRM",
                              {"owner_team": new_team, "assignee": owner}, None))
            # Touches.
            if auto:
                n_human = 0
            else:
                lam = cat.touch_mean * (1 + 0.15 * math.log1p(horizon_h)) - 1
                n_human = 1 + _poisson(rng, max(lam, 0.1))
                if planted:
                    n_human = 2 * n_human + 1
            for _ in range(n_human):
                who = owner if (owner is not None and rng.random() < 0.75) else \
                    self._user(rng, team)
                payload: dict[str, Any] = {"action": rng.choice(cat.actions)}
                if rng.random() < 0.3:
                    payload["note"] = rng.choice(_NOTES)
                src_t = "CRM"
                if payload["action"] in ("recount", "reallocate", "upload_photo", "reprint"):
                    src_t = "WMS"
                elif payload["action"] in ("rebook", "check_status"):
                    src_t = "TMS"
                items.append((horizon_h * rng.uniform(0.05, 0.97), 2, "exception.touched",
                              src_t, payload, {"id": who, "kind": "human"}))
            n_sys = 1 if auto else (1 if rng.random() < 0.25 else 0)
            for _ in range(n_sys):
                items.append((horizon_h * rng.uniform(0.2, 0.9), 2, "exception.touched",
                              rng.choice(("WMS", "TMS", "ERP")),
                              {"action": "auto_check"},
                              {"id": rng.choice(_SYSTEM_ACTORS), "kind": "system"}))
            # Escalations.
            if not auto:
                p_esc = _ESCALATION_P[sev] + (0.1 if tier == "strategic" else 0.0)
                if span > target:
                    p_esc += 0.3
                if planted:
                    p_esc = 0.8
                if rng.random() < p_esc:
                    level = 1
                    if rng.random() < (0.45 if planted else 0.3):
                        level = 2
                        if rng.random() < (0.35 if planted else 0.25):
                            level = 3
                    # Level 1 when the SLA is at risk (or earlier, on a complaint);
                    # higher levels part-way through what is left.
                    if horizon_h > target:
                        at = target * rng.uniform(0.6, 0.9)
                        reason = "sla_risk"
                    else:
                        at = horizon_h * rng.uniform(0.3, 0.6)
                        reason = rng.choice(_ESCALATION_REASONS)
                    for lv in range(1, level + 1):
                        if lv > 1:
                            at += (horizon_h - at) * rng.uniform(0.2, 0.5)
                            reason = rng.choice(_ESCALATION_REASONS)
                        items.append((at, 3, "exception.escalated", "CRM",
                                      {"level": lv, "to_team": _ESCALATION_TEAMS[lv - 1],
                                       "reason": reason},
                                      {"id": owner or self._user(rng, team), "kind": "human"}))
            # Pauses: the SLA clock stops while waiting on someone else.
            if not auto and rng.random() < cat.pause_p:
                reason = cat.pause_reason
                if cat.name == "pod_dispute" and rng.random() < 0.5:
                    reason = "waiting_on_customer"
                n_p = 2 if rng.random() < 0.15 else 1
                for _ in range(n_p):
                    dur = rng.lognormvariate(math.log(4.0), 0.8)
                    if outcome == "stuck" and rng.random() < 0.3:
                        dur = float("inf")  # waiting forever
                    pauses.append((horizon_h * rng.uniform(0.1, 0.8), dur, reason))
            if outcome == "resolved":
                code = rng.choice(cat.codes)
                if auto:
                    actor = {"id": rng.choice(_SYSTEM_ACTORS), "kind": "system"}
                    rsrc = rng.choice(("ERP", "TMS", "WMS", "EDI")) if cat.name != \
                        "invoice_not_posted" else "FINANCE"
                else:
                    actor = {"id": owner or self._user(rng, team), "kind": "human"}
                    rsrc = "CRM"
                items.append((span, 9, "exception.resolved", rsrc,
                              {"resolution_code": code}, actor))

        # Map active hours to wall-clock time: pauses shift everything after them.
        seq: list[tuple[float, int, str, str, dict[str, Any], dict[str, str] | None]] = []
        seq.extend(items)
        for p_at, dur, reason in pauses:
            seq.append((p_at, 4, "exception.paused", "CRM", {"reason": reason}, None))
            seq.append((p_at, 5, "exception.resumed", "CRM", {"_dur": dur}, None))
        seq.sort(key=lambda x: (x[0], x[1]))
        events: list[_WEv] = [
            _WEv(t0, "exception.opened", src, "exception_id", xid, opened, opened_actor,
                 zone(src), _ROLE_OPENED)
        ]
        shift_h = 0.0
        last = t0
        first_follow = True
        for a_h, _rank, etype, source, payload, actor in seq:
            if etype == "exception.resumed":
                dur = payload["_dur"]
                if math.isinf(dur):
                    break  # never resumed: nothing after it happens
                shift_h += dur
                payload = {}
            t = t0 + int((a_h + shift_h) * _MS_H)
            t = max(t, last + _MS_MIN + rng.randrange(30_000))  # distinct, ordered times
            last = t
            role = _ROLE_DRIFTABLE if (first_follow and etype == "exception.assigned"
                                       and t - t0 < 30 * _MS_MIN) else 0
            first_follow = False
            payload = {"exception_id": xid, **payload}
            events.append(_WEv(t, etype, source, "exception_id", xid, payload, actor,
                               zone(source), role))

        resolved_at: int | None = None
        final_code = "open"
        if events[-1].etype == "exception.resolved":
            resolved_at = events[-1].t
            final_code = events[-1].payload["resolution_code"]
            p_reopen = 0.12 if planted else 0.04
            if rng.random() < p_reopen:
                t_re = resolved_at + int(rng.uniform(2, 36) * _MS_H)
                events.append(_WEv(t_re, "exception.reopened", "CRM", "exception_id", xid,
                                   {"exception_id": xid,
                                    "reason": rng.choice(("customer_rejected_resolution",
                                                          "issue_recurred",
                                                          "wrong_resolution_code"))},
                                   {"id": self._user(rng, "customer_service"), "kind": "human"},
                                   zone("CRM")))
                extra = rng.lognormvariate(math.log(2.0), 0.8) * (5.0 if planted else 1.0)
                t = t_re
                who = owner or self._user(rng, team)
                for _ in range(1 + rng.randrange(3 if planted else 2)):
                    t += int(extra / 3 * _MS_H) + _MS_MIN
                    events.append(_WEv(t, "exception.touched", "CRM", "exception_id", xid,
                                       {"exception_id": xid, "action": rng.choice(cat.actions)},
                                       {"id": who, "kind": "human"}, zone("CRM")))
                t += int(extra / 3 * _MS_H) + _MS_MIN
                final_code = rng.choice(cat.codes)
                events.append(_WEv(t, "exception.resolved", "CRM", "exception_id", xid,
                                   {"exception_id": xid, "resolution_code": final_code},
                                   {"id": who, "kind": "human"}, zone("CRM")))
                resolved_at = t
        elif events[-1].etype == "exception.cancelled":
            final_code = "cancelled"

        # Keep what happened before the horizon; count the exception's state there.
        horizon = self.horizon_ms
        if t0 >= horizon:
            return resolved_at, final_code
        status = "open"
        for ev in events:
            if ev.t >= horizon:
                break
            out.append(ev)
            et = ev.etype
            if et == "exception.paused":
                status = "paused"
            elif et in ("exception.resumed", "exception.reopened"):
                status = "open"
            elif et == "exception.resolved":
                status = "resolved"
            elif et == "exception.cancelled":
                status = "cancelled"
        stats.exceptions += 1
        stats.planted_exceptions += planted
        if status in ("open", "paused"):
            stats.open_at_end += 1
        elif status == "cancelled":
            stats.cancelled += 1
        return resolved_at, final_code


# --------------------------------------------------------------------------- mess + output

_ARRIVAL_DELAY: Final[dict[str, tuple[float, float, float, float]]] = {
    # source: (typical max seconds, share delayed, delayed min minutes, delayed max minutes)
    "ERP": (20, 0.03, 5, 60),
    "WMS": (10, 0.05, 10, 120),
    "TMS": (30, 0.05, 5, 90),
    "CRM": (5, 0.02, 1, 30),
    "CARRIER": (600, 0.15, 60, 360),
    "FINANCE": (300, 0.10, 30, 360),
    "EDI": (900, 0.10, 60, 240),
}
_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d\d:\d\d)$")
_REQUIRED: Final[dict[str, tuple[str, ...]]] = {
    "exception.opened": ("order_id", "category", "severity", "site", "origin", "destination",
                         "customer_tier", "order_value", "currency"),
    "exception.assigned": ("owner_team",),
    "exception.touched": ("action",),
    "exception.escalated": ("level",),
    "exception.paused": ("reason",),
    "exception.resolved": ("resolution_code",),
    "order.released": ("site", "origin", "destination", "customer_tier", "order_value",
                       "currency", "promised_delivery_at"),
    "order.delivered": ("in_full",),
}


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a day is built.

    A day is hundreds of thousands of small acyclic objects; collector passes over
    them cost about a sixth of the run time and free nothing. Never left paused
    while the caller holds a line.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Stream:
    """Renders the world day by day, adds the mess, and yields lines in arrival order."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self.stats = _Stats()
        self.world = _World(cfg)
        self.event_no = 0
        self.bad_no = 0
        self.seq = 0

    def _next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def __iter__(self) -> Iterator[tuple[str, str]]:
        cfg = self.cfg
        world = self.world
        stats = self.stats
        n_days = math.ceil(cfg.days - 1e-9)
        carry: list[tuple[int, int, str, str]] = []
        for d in range(n_days):
            day_start = world.start_ms + d * _MS_DAY
            day_end = min(day_start + _MS_DAY, world.horizon_ms)
            items = carry
            with _gc_paused():
                evs = world.day(d, stats)
                if cfg.mess:
                    self._render_messy(d, evs, items, day_start, day_end)
                else:
                    self._render_clean(evs, items)
                del evs
                items.sort()
            if d == n_days - 1:
                cut = len(items)
            else:
                cut = bisect_left(items, (day_start + _MS_DAY,))
            for item in items[:cut]:
                yield item[2], item[3]
            carry = items[cut:]

    # ---------------------------------------------------------------- rendering

    def _accept(self, reported: int) -> None:
        st = self.stats
        st.events += 1
        if st.last_ms is None or reported > st.last_ms:
            st.last_ms = reported
        if st.first_ms is None or reported < st.first_ms:
            st.first_ms = reported

    @staticmethod
    def _body(eid: str, ev: _WEv, occurred: str, version: str) -> dict[str, Any]:
        d: dict[str, Any] = {
            "event_id": eid, "event_type": ev.etype, "occurred_at": occurred,
            "source_system": ev.source, "schema_version": version,
        }
        if ev.key == "order_id":
            d["order_id"] = ev.kid
        d.update(ev.payload)
        if ev.actor is not None:
            d["actor"] = ev.actor
        return d

    def _render_clean(self, evs: list[_WEv], items: list[tuple[int, int, str, str]]) -> None:
        dumps = orjson.dumps
        for ev in evs:
            self.event_no += 1
            eid = f"ev-{self.event_no:08d}"
            t = ev.t - ev.t % 1000
            line = dumps(self._body(eid, ev, _fmt(t, _UTC_Z), "1")).decode()
            self._accept(t)
            items.append((ev.t, self._next_seq(), line, LABEL_EVENT))

    def _render_messy(
        self, d: int, evs: list[_WEv], items: list[tuple[int, int, str, str]],
        day_start: int, day_end: int,
    ) -> None:
        rng = random.Random(f"fpi-mess:{self.cfg.seed}:{d}")
        rnd = rng.random
        dumps = orjson.dumps
        stats = self.stats
        opened_at: dict[str, int] = {}
        drift_x: set[str] = set()
        rendered: list[tuple[dict[str, Any], int, _WEv]] = []
        delays = _ARRIVAL_DELAY
        dates: dict[int, str] = {}
        hms = _HMS
        n = self.event_no
        seq = self.seq
        first = stats.first_ms if stats.first_ms is not None else _NEVER
        last = stats.last_ms if stats.last_ms is not None else -_NEVER
        n_dup = 0
        for ev in evs:
            n += 1
            zone = ev.zone
            t = ev.t
            late = 0
            role = ev.role
            if role == _ROLE_OPENED:
                opened_at[ev.kid] = t
                if rnd() < 0.03:
                    drift_x.add(ev.kid)
                if rnd() < 0.05:  # batch upload: opened arrives after its follow-ups
                    late = int(rng.uniform(30, 180) * _MS_MIN)
            elif role == _ROLE_DRIFTABLE and ev.kid in drift_x:
                # Source clock behind: stamped before the exception was opened.
                t = opened_at[ev.kid] - rng.randrange(5_000, 120_000)
            # _fmt, inlined (hot loop)
            off, suffix, with_ms = zone
            day, rem = divmod(t + off * _MS_MIN, _MS_DAY)
            dprefix = dates.get(day)
            if dprefix is None:
                dprefix = _fmt(day * _MS_DAY, _UTC_Z)[:11]
                dates[day] = dprefix
            sec, milli = divmod(rem, 1000)
            if with_ms:
                reported = t
                occurred = f"{dprefix}{hms[sec]}.{milli:03d}{suffix}"
            else:
                reported = t - milli
                occurred = dprefix + hms[sec] + suffix
            body: dict[str, Any] = {
                "event_id": f"ev-{n:08d}", "event_type": ev.etype,
                "occurred_at": occurred, "source_system": ev.source, "schema_version": "1",
            }
            if ev.key == "order_id":
                body["order_id"] = ev.kid
            body.update(ev.payload)
            if ev.actor is not None:
                body["actor"] = ev.actor
            # One uniform draw decides the re-send (1 %) and the minor version (10 %).
            u = rnd()
            if u < 0.11 and u >= 0.01:  # newer producers: 1.1, with fields v1 does not know
                if u < 0.09:
                    body["schema_version"] = "1.1"
                    body["trace_id"] = f"{rng.getrandbits(64):016x}"
                else:
                    body["x_partition"] = int(u * 10_000) % 12
            source = ev.source
            if source == "EDI":
                body["edi_control_number"] = f"{rng.getrandbits(30):09d}"
            line = dumps(body).decode()
            # One uniform draw: late (minutes to hours) with probability p_late, else seconds.
            typical, p_late, lo, hi = delays[source]
            v = rnd()
            if v < p_late:
                delay = int((lo + (hi - lo) * (v / p_late)) * _MS_MIN)
            else:
                delay = int((v - p_late) / (1.0 - p_late) * typical * 1000)
            arrival = ev.t + delay + late
            seq += 1
            items.append((arrival, seq, line, LABEL_EVENT))
            if reported > last:
                last = reported
            if reported < first:
                first = reported
            rendered.append((body, arrival, ev))
            if u < 0.01:  # re-sent after a lost acknowledgement
                n_dup += 1
                seq += 1
                items.append((arrival + int((1 + 35_900 * u) * _MS_MIN), seq, line,
                              LABEL_DUPLICATE))
        self.event_no = n
        self.seq = seq
        stats.events += len(rendered)
        stats.duplicates += n_dup
        if not rendered:
            return
        stats.first_ms = first
        stats.last_ms = last
        # Same event_id, different body (a source re-stamps and re-sends).
        n_conf = max(1, round(len(rendered) * 0.0005))
        for _ in range(n_conf):
            body, arrival, ev = rendered[rng.randrange(len(rendered))]
            zone = ev.zone
            t = _quantize(ev.t + rng.randrange(1_000, 30_000), zone)
            alt = dict(body)
            alt["occurred_at"] = _fmt(t, zone)
            alt["schema_version"] = "1.1"
            alt["resent"] = True
            stats.duplicates += 1
            stats.conflicting_duplicates += 1
            items.append((arrival + int(rng.uniform(5, 240) * _MS_MIN), self._next_seq(),
                          dumps(alt).decode(), LABEL_CONFLICTING_DUPLICATE))
        # Bad lines: at least one of each kind per day, about 0.1 % of the events.
        money = [i for i, r in enumerate(rendered)
                 if r[2].etype in ("order.released", "exception.opened")]
        opened_pool = [i for i, r in enumerate(rendered) if r[2].etype == "exception.opened"]
        n_bad = max(len(BAD_LINE_KINDS), round(len(rendered) * 0.001))
        offset = rng.randrange(len(BAD_LINE_KINDS))
        for i in range(n_bad):
            kind = BAD_LINE_KINDS[(offset + i) % len(BAD_LINE_KINDS)]
            if kind == "duplicate_open":
                if not opened_pool:
                    kind = "schema"
                else:
                    body, arrival, ev = rendered[rng.choice(opened_pool)]
                    later = int(rng.uniform(5, 180) * _MS_MIN)
                    line = self._duplicate_open(rng, body, _fmt(ev.t + later, ev.zone))
                    stats.rejects[kind] += 1
                    items.append((arrival + later, self._next_seq(), line, kind))
                    continue
            if kind == "unknown_currency" and money:
                body = rendered[rng.choice(money)][0]
            else:
                body = rendered[rng.randrange(len(rendered))][0]
                if kind == "unknown_currency":
                    kind = "schema"
            line = self._bad_line(rng, kind, body)
            stats.rejects[kind] += 1
            arrival = day_start + rng.randrange(max(1, day_end - day_start))
            items.append((arrival, self._next_seq(), line, kind))
        # A few blank lines (ignored by the pipeline).
        for _ in range(1 + rng.randrange(3)):
            stats.blank_lines += 1
            items.append((day_start + rng.randrange(max(1, day_end - day_start)),
                          self._next_seq(), rng.choice(("", "   ", "\t")), LABEL_BLANK))

    def _bad_id(self) -> str:
        self.bad_no += 1
        return f"ev-b{self.bad_no:07d}"

    def _duplicate_open(self, rng: random.Random, body: dict[str, Any], occurred: str) -> str:
        """The same exception detected again by a later rule run: a second opened."""
        alt = dict(body)
        alt["event_id"] = self._bad_id()
        alt["occurred_at"] = occurred
        alt["detected_by"] = f"{body.get('detected_by', 'rule')}.rerun"
        if rng.random() < 0.5:
            alt["severity"] = rng.choice(_SEVERITIES)
        return orjson.dumps(alt).decode()

    def _bad_line(self, rng: random.Random, kind: str, template: dict[str, Any]) -> str:
        """A line that the pipeline must reject with reason ``kind``."""
        b = dict(template)
        b["event_id"] = self._bad_id()
        b.pop("trace_id", None)
        et = b["event_type"]
        if kind == "invalid_json":
            text = orjson.dumps(b).decode()
            v = rng.randrange(5)
            if v == 0:  # truncated write
                return text[: rng.randrange(20, len(text) - 5)]
            if v == 1:  # two objects on one line (missing newline)
                return text + text
            if v == 2:  # an error page from a proxy
                return "<html><head><title>502 Bad Gateway</title></head></html>"
            if v == 3:  # a Python repr instead of JSON
                return repr(b)
            return text[:-1] + ",}"  # trailing comma
        if kind == "schema":
            options: list[str] = ["drop_required", "drop_envelope", "bad_actor"]
            if "order_value" in b:
                options.append("value_as_string")
            if "in_full" in b:
                options.append("bool_as_string")
            if "level" in b:
                options.append("level_as_string")
            if "severity" in b:
                options.append("bad_severity")
            if "customer_tier" in b:
                options.append("bad_tier")
            v2 = rng.choice(options)
            req = _REQUIRED.get(et)
            if v2 == "drop_required" and req:
                del b[rng.choice(req)]
            elif v2 in ("drop_required", "drop_envelope"):
                del b[rng.choice(("source_system", "exception_id" if "exception_id" in b
                                  else "order_id"))]
            elif v2 == "bad_actor":
                b["actor"] = {"id": "u-1", "kind": "robot"}
            elif v2 == "value_as_string":
                b["order_value"] = f"{b['order_value']:.2f}"
            elif v2 == "bool_as_string":
                b["in_full"] = "yes" if b["in_full"] else "no"
            elif v2 == "level_as_string":
                b["level"] = str(b["level"])
            elif v2 == "bad_severity":
                b["severity"] = "urgent"
            else:
                b["customer_tier"] = "gold"
        elif kind == "unknown_event_type":
            b["event_type"] = rng.choice(("exception.commented", "order.picked",
                                          "shipment.departed", "Exception.Opened",
                                          "order.cancelled"))
        elif kind == "unsupported_version":
            b["schema_version"] = rng.choice(("2", "2", "2.0"))
        elif kind == "naive_timestamp":
            b["occurred_at"] = _TZ_SUFFIX.sub("", b["occurred_at"])
        elif kind == "unknown_currency":
            b["currency"] = rng.choice(("XYZ", "XYZ", "BTC"))
        return orjson.dumps(b).decode()

    def summary(self, lines: int) -> GenerationSummary:
        st = self.stats
        bad = sum(st.rejects.values())
        return GenerationSummary(
            lines=lines, events=st.events, duplicates=st.duplicates,
            conflicting_duplicates=st.conflicting_duplicates, bad_lines=bad,
            rejects=dict(st.rejects), blank_lines=st.blank_lines, orders=st.orders,
            order_lines=st.order_lines, exceptions=st.exceptions,
            planted_exceptions=st.planted_exceptions, open_at_end=st.open_at_end,
            cancelled=st.cancelled,
            first_occurred_at=None if st.first_ms is None else _fmt(st.first_ms, _UTC_Z),
            data_clock=None if st.last_ms is None else _fmt(st.last_ms, (0, "Z", True)),
        )


# --------------------------------------------------------------------------- public API


def generate_labelled(cfg: GeneratorConfig) -> Iterator[tuple[str, str]]:
    """Lines in arrival order with what each one is.

    The label is ``"event"`` (a valid event seen for the first time),
    ``"duplicate"`` (an exact re-send), ``"conflicting_duplicate"`` (same
    ``event_id``, different body), ``"blank"``, or one of
    :data:`BAD_LINE_KINDS` (the rejection reason the pipeline must give).
    """
    yield from _Stream(cfg)


def generate_events(cfg: GeneratorConfig) -> Iterator[str]:
    """JSON Lines text (without newline), in arrival order, bad and blank lines included."""
    for line, _label in _Stream(cfg):
        yield line


def write_stream(path: Path, cfg: GeneratorConfig) -> GenerationSummary:
    """Write the stream to ``path`` (gzip when the name ends with ``.gz``); return its counts.

    The gzip header carries no file name and no time stamp, so the bytes are a pure
    function of ``cfg``.
    """
    path = Path(path)
    stream = _Stream(cfg)
    lines = 0
    with path.open("wb") as raw:
        if path.name.endswith(".gz"):
            out: Any = gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                                     compresslevel=6)
        else:
            out = raw
        try:
            buf: list[str] = []
            for line, label in stream:
                buf.append(line)
                if label != LABEL_BLANK:
                    lines += 1
                if len(buf) >= 8192:
                    out.write(("\n".join(buf) + "\n").encode())
                    buf.clear()
            if buf:
                out.write(("\n".join(buf) + "\n").encode())
        finally:
            if out is not raw:
                out.close()
    return stream.summary(lines)


def write_demo(path: Path = DEMO_PATH) -> GenerationSummary:
    """Regenerate the shipped demo file ``sample_streams/demo.jsonl.gz`` (:data:`DEMO_CONFIG`)."""
    return write_stream(path, DEMO_CONFIG)


if __name__ == "__main__":
    summary = write_demo()
    print(f"wrote {DEMO_PATH}: {summary}")

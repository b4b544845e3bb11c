"""Exception taxonomy: root causes (with how they are detected, owned and worked)
and severities.

Static tables only. A root cause (:class:`Cat`) decides the phase of the order
in which it happens, which system detects it, which team owns it, its actions
and resolution codes, and how long it takes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SEVERITIES: Final = ("low", "medium", "high", "critical")
SEVERITY_WEIGHTS: Final[dict[str, tuple[int, ...]]] = {
    "strategic": (10, 40, 35, 15),
    "key": (20, 45, 27, 8),
    "standard": (30, 45, 20, 5),
}
"""Severity weights (in :data:`SEVERITIES` order) by customer tier."""
URGENT_SEVERITY_SHIFT: Final = (0.4, 0.9, 1.6, 1.6)
"""Factors on :data:`SEVERITY_WEIGHTS` for trouble that threatens the promised date."""

# How exceptions are worked: SLA targets, speed, escalation, teams, actors.
SLA_BASE_H: Final[dict[str, float]] = {"critical": 4, "high": 12, "medium": 24, "low": 72}
SLA_TIER: Final[dict[str, float]] = {"strategic": 0.5, "key": 0.75, "standard": 1.0}
SEVERITY_SPEED: Final[dict[str, float]] = {
    "critical": 0.3,
    "high": 0.55,
    "medium": 1.0,
    "low": 1.8,
}
TIER_SPEED: Final[dict[str, float]] = {"strategic": 0.7, "key": 0.85, "standard": 1.0}
ESCALATION_P: Final[dict[str, float]] = {
    "critical": 0.45,
    "high": 0.2,
    "medium": 0.08,
    "low": 0.03,
}

# Teams: first user number and head count.
TEAMS: Final[dict[str, tuple[int, int]]] = {
    "inventory_control": (100, 40),
    "warehouse_ops": (140, 40),
    "transportation": (200, 60),
    "credit": (300, 15),
    "pricing": (320, 20),
    "trade_compliance": (350, 10),
    "inbound": (370, 20),
    "master_data": (400, 10),
    "customer_service": (500, 80),
    "billing": (600, 25),
}
ESCALATION_TEAMS: Final = ("team_lead", "ops_manager", "director_fulfillment")
ESCALATION_REASONS: Final = ("sla_risk", "customer_complaint", "high_value", "repeat_issue")
SYSTEM_ACTORS: Final = ("rpa-bot-01", "rpa-bot-02", "wms-auto", "tms-auto", "erp-workflow")

NOTES: Final = (
    "left voicemail",
    "waiting for callback",
    "customer confirmed",
    "checked with DC lead",
    "sent email",
    "see attached",
    "carrier ticket opened",
    "updated ETA in portal",
)

# Phases of the order an exception belongs to.
PH_RELEASE, PH_PICKUP, PH_TRANSIT, PH_DELIVERED, PH_INVOICE = range(5)


@dataclass(frozen=True, slots=True)
class Cat:
    """A root cause (``category``) of exceptions."""

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


# fmt: off
CATEGORIES: Final[tuple[Cat, ...]] = (
    Cat("inventory_shortfall", 22, PH_RELEASE, 9, 2.5, 0.03, 0.08, "waiting_on_supplier",
        (("WMS", "wms.short_pick"), ("ERP", "erp.atp_check")), "inventory_control",
        ("split_ship", "substitute", "backorder", "transfer_from_dc"),
        ("recount", "reallocate", "call_customer", "note", "approval_request")),
    Cat("damaged_stock", 7, PH_RELEASE, 7, 2.0, 0.02, 0.05, "waiting_on_customer",
        (("WMS", "wms.damage_scan"),), "warehouse_ops",
        ("replaced", "substitute", "credit_issued"),
        ("recount", "upload_photo", "note", "reallocate")),
    Cat("carrier_failure", 10, PH_TRANSIT, 12, 3.0, 0.02, 0.2, "waiting_on_carrier",
        (("CARRIER", "carrier.exception_code"), ("TMS", "tms.tracking_gap")), "transportation",
        ("rebooked", "reshipped", "claim_filed", "delivered_late"),
        ("call_carrier", "rebook", "note", "check_status", "email_customer"), True, True),
    Cat("carrier_capacity", 6, PH_PICKUP, 8, 2.0, 0.1, 0.15, "waiting_on_carrier",
        (("TMS", "tms.tender_rejected"),), "transportation",
        ("rebooked", "alternate_carrier", "expedited"),
        ("rebook", "call_carrier", "approval_request", "note"), True, True),
    Cat("missed_pickup", 8, PH_PICKUP, 6, 2.0, 0.05, 0.15, "waiting_on_carrier",
        (("TMS", "tms.pickup_missed"), ("WMS", "wms.dock_aging")), "transportation",
        ("rebooked", "pickup_rescheduled"),
        ("call_carrier", "rebook", "note", "check_status"), True, True),
    Cat("credit_hold", 9, PH_RELEASE, 7, 2.0, 0.25, 0.35, "waiting_on_customer",
        (("ERP", "erp.credit_check"),), "credit",
        ("credit_released", "prepayment_received", "order_cancelled"),
        ("call_customer", "approval_request", "note", "email_customer")),
    Cat("pricing_mismatch", 9, PH_RELEASE, 10, 2.5, 0.05, 0.25, "waiting_on_customer",
        (("ERP", "erp.price_check"), ("EDI", "edi.855_price_variance")), "pricing",
        ("price_corrected", "credit_memo", "customer_accepted_price"),
        ("data_correction", "approval_request", "call_customer", "note")),
    Cat("customs_hold", 2, PH_TRANSIT, 20, 3.5, 0.0, 0.4, "waiting_on_carrier",
        (("CARRIER", "carrier.customs_status"), ("TMS", "tms.customs_status")),
        "trade_compliance", ("docs_corrected", "duties_paid", "released_by_customs"),
        ("upload_document", "call_broker", "note", "data_correction"), True, True),
    Cat("asn_delay", 5, PH_RELEASE, 5, 1.5, 0.35, 0.1, "waiting_on_supplier",
        (("EDI", "edi.asn_overdue"),), "inbound", ("asn_received", "manual_receipt"),
        ("check_status", "email_supplier", "note")),
    Cat("master_data", 5, PH_RELEASE, 4, 1.5, 0.2, 0.03, "waiting_on_customer",
        (("ERP", "erp.mdm_validation"),), "master_data", ("data_corrected",),
        ("data_correction", "note")),
    Cat("duplicate_order", 3, PH_RELEASE, 2, 1.0, 0.5, 0.02, "waiting_on_customer",
        (("ERP", "erp.duplicate_check"), ("EDI", "edi.duplicate_po")), "customer_service",
        ("duplicate_cancelled", "confirmed_not_duplicate"), ("call_customer", "note")),
    Cat("address_issue", 6, PH_RELEASE, 5, 2.0, 0.05, 0.4, "waiting_on_customer",
        (("TMS", "tms.address_validation"), ("CRM", "crm.case")), "customer_service",
        ("address_corrected",), ("call_customer", "data_correction", "note")),
    Cat("invoice_not_posted", 4, PH_INVOICE, 14, 2.0, 0.3, 0.05, "waiting_on_customer",
        (("FINANCE", "finance.invoice_sync"),), "billing", ("invoice_posted",),
        ("data_correction", "note", "approval_request")),
    Cat("pod_dispute", 4, PH_DELIVERED, 28, 3.5, 0.0, 0.3, "waiting_on_carrier",
        (("FINANCE", "finance.short_pay"), ("CRM", "crm.case")), "billing",
        ("pod_provided", "credit_issued", "claim_filed"),
        ("request_pod", "call_carrier", "call_customer", "note"), True),
    # New root causes appear in real life: accepted as given.
    Cat("label_print_failure", 0.6, PH_RELEASE, 3, 1.5, 0.1, 0.0, "waiting_on_customer",
        (("WMS", "wms.label_error"),), "warehouse_ops", ("relabelled",), ("note", "reprint")),
)
# fmt: on
CAT_BY_NAME: Final[dict[str, Cat]] = {c.name: c for c in CATEGORIES}
# Exceptions on the planted carrier and lane: mostly carrier trouble.
PLANTED_CAT_WEIGHTS: Final[dict[str, float]] = {
    "missed_pickup": 50,
    "carrier_failure": 20,
    "carrier_capacity": 12,
    "pod_dispute": 3,
    "inventory_shortfall": 6,
    "address_issue": 3,
    "pricing_mismatch": 3,
    "credit_hold": 3,
}

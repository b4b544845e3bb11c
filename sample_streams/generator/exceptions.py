"""Exceptions of an order: the root cause and the scripted lifecycle of each.

An exception's lifecycle is drawn in active (SLA-clock) hours — ``opened`` →
``assigned`` (sometimes reassigned) → human and system ``touched`` →
``escalated`` (levels 1–3) → ``paused``/``resumed`` → ``resolved`` (some
auto-resolved), sometimes ``reopened`` and resolved again, a few ``cancelled``
or never resolved — and then mapped to wall-clock time, pauses shifting
everything after them. Exceptions on the planted carrier and lane take 4–6× the
active time, with more touches, escalations, reassignments and reopens.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from .sampling import cumulative, pick, poisson
from .summary import Stats
from .taxonomy import (
    CAT_BY_NAME,
    CATEGORIES,
    ESCALATION_P,
    ESCALATION_REASONS,
    ESCALATION_TEAMS,
    NOTES,
    PLANTED_CAT_WEIGHTS,
    SEVERITIES,
    SEVERITY_SPEED,
    SEVERITY_WEIGHTS,
    SLA_BASE_H,
    SLA_TIER,
    SYSTEM_ACTORS,
    TEAMS,
    TIER_SPEED,
    URGENT_SEVERITY_SHIFT,
    Cat,
)
from .timestamps import MS_H, MS_MIN, Zone
from .world import CROSS_BORDER, Site, zone_for
from .world_event import ROLE_DRIFTABLE, ROLE_OPENED, WEv


def _user(rng: random.Random, team: str) -> str:
    """A user id of ``team`` (``u-…``)."""
    first, n = TEAMS.get(team, (900, 20))
    return f"u-{first + rng.randrange(n)}"


@dataclass(slots=True)
class OrderContext:
    """The order an exception is about."""

    order_id: str
    site: Site
    dest: str
    carrier: str | None
    tier: str
    customer_id: str
    value: float
    currency: str
    planted: bool


class ExceptionGenerator:
    """Draws the exceptions of orders (numbered ``X-…`` in the order they are drawn)."""

    def __init__(self, horizon_ms: int) -> None:
        self.horizon_ms = horizon_ms
        """Events at or after this time have not happened yet."""
        self.exception_no = 100_000
        # Severity by customer tier; trouble that threatens the promised date (carrier
        # categories) is rated higher.
        self.sev_cum = {
            (t, urgent): cumulative(
                [
                    wi * (m if urgent else 1.0)
                    for wi, m in zip(w, URGENT_SEVERITY_SHIFT, strict=True)
                ]
            )
            for t, w in SEVERITY_WEIGHTS.items()
            for urgent in (False, True)
        }
        cats_any = [c.name for c in CATEGORIES]
        self.cat_tables: dict[tuple[bool, bool], tuple[list[str], list[float]]] = {}
        for has_carrier in (False, True):
            for cross in (False, True):
                names = [
                    n
                    for n in cats_any
                    if (has_carrier or not CAT_BY_NAME[n].needs_carrier)
                    and (cross or n != "customs_hold")
                ]
                # Cross-border lanes: customs holds are a leading cause.
                weights = [
                    CAT_BY_NAME[n].weight * (12 if n == "customs_hold" else 1) for n in names
                ]
                self.cat_tables[(has_carrier, cross)] = (names, cumulative(weights))
        pn = list(PLANTED_CAT_WEIGHTS)
        self.planted_cats = (pn, cumulative([PLANTED_CAT_WEIGHTS[n] for n in pn]))

    def category(self, rng: random.Random, ctx: OrderContext) -> Cat:
        """The root cause of a new exception on ``ctx``."""
        if ctx.planted:
            names, cum = self.planted_cats
        else:
            names, cum = self.cat_tables[(ctx.carrier is not None, ctx.dest in CROSS_BORDER)]
        return CAT_BY_NAME[pick(rng, names, cum)]

    def lifecycle(
        self, rng: random.Random, ctx: OrderContext, cat: Cat, t0: int, out: list[WEv], stats: Stats
    ) -> tuple[int | None, str]:
        """Append one exception's events; return (final resolution time or None, code).

        ``code`` is the resolution code, ``"cancelled"`` or ``"open"``.
        """
        self.exception_no += 1
        xid = f"X-{self.exception_no}"
        planted = ctx.planted
        tier = ctx.tier
        sev = pick(rng, SEVERITIES, self.sev_cum[(tier, cat.urgent)])
        target = SLA_BASE_H[sev] * SLA_TIER[tier]
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
        outcome = (
            "cancelled"
            if u < 0.025
            else ("stuck" if u < (0.065 if planted else 0.045) else "resolved")
        )
        auto = outcome == "resolved" and not planted and rng.random() < cat.auto_p

        src, detected_by = rng.choice(cat.detect)
        opened: dict[str, Any] = {
            "exception_id": xid,
            "order_id": ctx.order_id,
            "category": cat.name,
            "severity": sev,
            "site": ctx.site.name,
            "origin": ctx.site.origin,
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
        opened_actor = (
            {"id": _user(rng, "customer_service"), "kind": "human"} if src == "CRM" else None
        )

        def zone(source: str) -> Zone:
            return zone_for(source, ctx.site, ctx.carrier)

        # Timeline in active (SLA-clock) hours: (active_h, rank, etype, source, payload, actor).
        items: list[tuple[float, int, str, str, dict[str, Any], dict[str, str] | None]] = []
        pauses: list[tuple[float, float, str]] = []  # (active_h, duration_h, reason)
        team = cat.team
        assignee = _user(rng, team) if rng.random() < 0.85 else None

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
                median = cat.median_h * TIER_SPEED[tier] * rng.uniform(4.0, 6.0)
                span = median * rng.lognormvariate(0.0, 0.5)
            else:
                median = cat.median_h * SEVERITY_SPEED[sev] * TIER_SPEED[tier]
                span = max(0.1, median * rng.lognormvariate(0.0, 1.0))
                if rng.random() < 0.03:
                    span *= rng.uniform(2, 4)  # the long tail: lost paperwork, holidays

        assign_at = min(rng.uniform(1, 20) / 60, 0.2 * span)
        a_payload: dict[str, Any] = {"owner_team": team}
        if assignee is not None:
            a_payload["assignee"] = assignee
        items.append(
            (
                assign_at,
                0,
                "exception.assigned",
                "CRM" if rng.random() < 0.8 else "ERP",
                a_payload,
                None,
            )
        )
        owner = assignee

        if outcome == "cancelled":
            if rng.random() < 0.5:
                actor = {"id": assignee or _user(rng, team), "kind": "human"}
                items.append(
                    (
                        span * rng.uniform(0.3, 0.8),
                        1,
                        "exception.touched",
                        "CRM",
                        {"action": "review", "note": "not a real exception"},
                        actor,
                    )
                )
            items.append(
                (
                    span,
                    9,
                    "exception.cancelled",
                    "CRM",
                    {
                        "reason": rng.choice(
                            ("opened_in_error", "duplicate_alert", "false_positive")
                        )
                    },
                    {"id": assignee or _user(rng, team), "kind": "human"},
                )
            )
        else:
            horizon_h = span if outcome == "resolved" else rng.uniform(8, 60)
            # Reassignment (routing to the right team).
            if not auto and rng.random() < (0.4 if planted else 0.12):
                new_team = "transportation" if team != "transportation" else "customer_service"
                if planted and team == "transportation":
                    new_team = "transportation"  # bounced between planners of the same team
                owner = _user(rng, new_team)
                items.append(
                    (
                        horizon_h * rng.uniform(0.2, 0.5),
                        1,
                        "exception.assigned",
                        "CRM",
                        {"owner_team": new_team, "assignee": owner},
                        None,
                    )
                )
            # Touches.
            if auto:
                n_human = 0
            else:
                lam = cat.touch_mean * (1 + 0.15 * math.log1p(horizon_h)) - 1
                n_human = 1 + poisson(rng, max(lam, 0.1))
                if planted:
                    n_human = 2 * n_human + 1
            for _ in range(n_human):
                who = owner if (owner is not None and rng.random() < 0.75) else _user(rng, team)
                payload: dict[str, Any] = {"action": rng.choice(cat.actions)}
                if rng.random() < 0.3:
                    payload["note"] = rng.choice(NOTES)
                src_t = "CRM"
                if payload["action"] in ("recount", "reallocate", "upload_photo", "reprint"):
                    src_t = "WMS"
                elif payload["action"] in ("rebook", "check_status"):
                    src_t = "TMS"
                items.append(
                    (
                        horizon_h * rng.uniform(0.05, 0.97),
                        2,
                        "exception.touched",
                        src_t,
                        payload,
                        {"id": who, "kind": "human"},
                    )
                )
            n_sys = 1 if auto else (1 if rng.random() < 0.25 else 0)
            for _ in range(n_sys):
                items.append(
                    (
                        horizon_h * rng.uniform(0.2, 0.9),
                        2,
                        "exception.touched",
                        rng.choice(("WMS", "TMS", "ERP")),
                        {"action": "auto_check"},
                        {"id": rng.choice(SYSTEM_ACTORS), "kind": "system"},
                    )
                )
            # Escalations.
            if not auto:
                p_esc = ESCALATION_P[sev] + (0.1 if tier == "strategic" else 0.0)
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
                        reason = rng.choice(ESCALATION_REASONS)
                    for lv in range(1, level + 1):
                        if lv > 1:
                            at += (horizon_h - at) * rng.uniform(0.2, 0.5)
                            reason = rng.choice(ESCALATION_REASONS)
                        items.append(
                            (
                                at,
                                3,
                                "exception.escalated",
                                "CRM",
                                {
                                    "level": lv,
                                    "to_team": ESCALATION_TEAMS[lv - 1],
                                    "reason": reason,
                                },
                                {"id": owner or _user(rng, team), "kind": "human"},
                            )
                        )
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
                    actor = {"id": rng.choice(SYSTEM_ACTORS), "kind": "system"}
                    rsrc = (
                        rng.choice(("ERP", "TMS", "WMS", "EDI"))
                        if cat.name != "invoice_not_posted"
                        else "FINANCE"
                    )
                else:
                    actor = {"id": owner or _user(rng, team), "kind": "human"}
                    rsrc = "CRM"
                items.append(
                    (span, 9, "exception.resolved", rsrc, {"resolution_code": code}, actor)
                )

        # Map active hours to wall-clock time: pauses shift everything after them.
        seq: list[tuple[float, int, str, str, dict[str, Any], dict[str, str] | None]] = []
        seq.extend(items)
        for p_at, dur, reason in pauses:
            seq.append((p_at, 4, "exception.paused", "CRM", {"reason": reason}, None))
            seq.append((p_at, 5, "exception.resumed", "CRM", {"_dur": dur}, None))
        seq.sort(key=lambda x: (x[0], x[1]))
        events: list[WEv] = [
            WEv(
                t0,
                "exception.opened",
                src,
                "exception_id",
                xid,
                opened,
                opened_actor,
                zone(src),
                ROLE_OPENED,
            )
        ]
        shift_h = 0.0
        last = t0
        first_follow = True
        for a_h, _rank, etype, source, payload, step_actor in seq:
            if etype == "exception.resumed":
                dur = payload["_dur"]
                if math.isinf(dur):
                    break  # never resumed: nothing after it happens
                shift_h += dur
                payload = {}
            t = t0 + int((a_h + shift_h) * MS_H)
            t = max(t, last + MS_MIN + rng.randrange(30_000))  # distinct, ordered times
            last = t
            role = (
                ROLE_DRIFTABLE
                if (first_follow and etype == "exception.assigned" and t - t0 < 30 * MS_MIN)
                else 0
            )
            first_follow = False
            payload = {"exception_id": xid, **payload}
            events.append(
                WEv(t, etype, source, "exception_id", xid, payload, step_actor, zone(source), role)
            )

        resolved_at: int | None = None
        final_code = "open"
        if events[-1].etype == "exception.resolved":
            resolved_at = events[-1].t
            final_code = events[-1].payload["resolution_code"]
            p_reopen = 0.12 if planted else 0.04
            if rng.random() < p_reopen:
                t_re = resolved_at + int(rng.uniform(2, 36) * MS_H)
                events.append(
                    WEv(
                        t_re,
                        "exception.reopened",
                        "CRM",
                        "exception_id",
                        xid,
                        {
                            "exception_id": xid,
                            "reason": rng.choice(
                                (
                                    "customer_rejected_resolution",
                                    "issue_recurred",
                                    "wrong_resolution_code",
                                )
                            ),
                        },
                        {"id": _user(rng, "customer_service"), "kind": "human"},
                        zone("CRM"),
                    )
                )
                extra = rng.lognormvariate(math.log(2.0), 0.8) * (5.0 if planted else 1.0)
                t = t_re
                who = owner or _user(rng, team)
                for _ in range(1 + rng.randrange(3 if planted else 2)):
                    t += int(extra / 3 * MS_H) + MS_MIN
                    events.append(
                        WEv(
                            t,
                            "exception.touched",
                            "CRM",
                            "exception_id",
                            xid,
                            {"exception_id": xid, "action": rng.choice(cat.actions)},
                            {"id": who, "kind": "human"},
                            zone("CRM"),
                        )
                    )
                t += int(extra / 3 * MS_H) + MS_MIN
                final_code = rng.choice(cat.codes)
                events.append(
                    WEv(
                        t,
                        "exception.resolved",
                        "CRM",
                        "exception_id",
                        xid,
                        {"exception_id": xid, "resolution_code": final_code},
                        {"id": who, "kind": "human"},
                        zone("CRM"),
                    )
                )
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

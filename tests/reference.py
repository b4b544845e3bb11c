"""An independent, deliberately naive implementation of kpis.md for cross-checks.

It shares no code with ``flows``/``metrics``: it takes the accepted event
dicts in arrival order and answers "KPIs as of T over [from, T)" by replaying
every exception's events up to T from scratch. Slow and simple on purpose.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

BASE = {"critical": 4.0, "high": 12.0, "medium": 24.0, "low": 72.0}
TIER = {"strategic": 0.5, "key": 0.75, "standard": 1.0}
RATES = {"USD": 1.0, "EUR": 1.08}


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Exc:
    opened: dict
    arrival: int
    follow: list[tuple[int, dict]] = field(default_factory=list)


def accepted(events: list[dict]) -> tuple[dict[str, Exc], list[tuple[int, dict]]]:
    """Dedupe by event_id (first wins), first-arrived opened wins, orders apart."""
    seen: set[str] = set()
    excs: dict[str, Exc] = {}
    follow: list[tuple[int, dict]] = []
    orders: list[tuple[int, dict]] = []
    for i, e in enumerate(events):
        if e["event_id"] in seen:
            continue
        seen.add(e["event_id"])
        if e["event_type"].startswith("order."):
            orders.append((i, e))
        elif e["event_type"] == "exception.opened":
            if e["exception_id"] not in excs:
                excs[e["exception_id"]] = Exc(e, i)
        else:
            follow.append((i, e))
    for i, e in follow:
        x = excs.get(e["exception_id"])
        if x is not None:
            x.follow.append((i, e))
    return excs, orders


@dataclass
class State:
    status: str
    active: float  # seconds
    touches: int
    level: int
    reopens: int
    resolved_at: datetime | None
    resolver_kind: str | None
    cancelled_at: datetime | None
    owner: str


def state_at(x: Exc, t: datetime) -> State | None:
    opened_at = ts(x.opened["occurred_at"])
    if opened_at > t:
        return None
    items = []
    for i, e in x.follow:
        occ = ts(e["occurred_at"])
        eff = max(occ, opened_at)
        items.append((eff, occ, i, e))
    items.sort(key=lambda it: (it[0], it[1], it[2]))
    s = State("open", 0.0, 0, 0, 0, None, None, None, "(unassigned)")
    last = opened_at
    for eff, occ, _i, e in items:
        if occ > t:  # as of T: only events with occurred_at <= T
            continue
        if s.status == "open":
            s.active += (eff - last).total_seconds()
        last = eff
        et = e["event_type"]
        kind = (e.get("actor") or {}).get("kind", "system")
        if et == "exception.touched" and kind == "human":
            s.touches += 1
        elif et == "exception.assigned":
            s.owner = e["owner_team"]
        elif et == "exception.escalated":
            s.level = max(s.level, e["level"])
        elif et == "exception.paused" and s.status == "open":
            s.status = "paused"
        elif et == "exception.resumed" and s.status == "paused":
            s.status = "open"
        elif et == "exception.resolved" and s.status in ("open", "paused"):
            s.status, s.resolved_at, s.resolver_kind = "resolved", eff, kind
        elif et == "exception.reopened" and s.status == "resolved":
            s.status, s.reopens, s.resolved_at, s.resolver_kind = "open", s.reopens + 1, None, None
        elif et == "exception.cancelled" and s.status != "cancelled":
            s.status, s.cancelled_at = "cancelled", eff
    if s.status == "open":
        s.active += (t - last).total_seconds()
    return s


def target_h(o: dict) -> float:
    if o.get("sla_target_hours") is not None:
        return float(o["sla_target_hours"])
    return BASE[o["severity"]] * TIER[o["customer_tier"]]


def dim_value(o: dict, st: State, dim: str) -> str:
    if dim == "lane":
        return f"{o['origin']}→{o['destination']}"
    if dim == "carrier":
        return o.get("carrier") or "(none)"
    if dim == "owner_team":
        return st.owner
    return o[dim]


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


def _q(xs: list[float], p: float) -> float | None:
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    ys = sorted(xs)
    h = (len(ys) - 1) * p
    lo = int(h)
    hi = min(lo + 1, len(ys) - 1)
    return ys[lo] + (h - lo) * (ys[hi] - ys[lo])


def kpis(
    events: list[dict], t: datetime, start: datetime | None = None, by: str | None = None
) -> dict[str, dict[str, object]]:
    """Exception KPIs per group (key 'all' without ``by``)."""
    start = start or t - timedelta(days=7)
    excs, _orders = accepted(events)
    rows: dict[str, list[tuple[dict, State]]] = {}
    for x in excs.values():
        s = state_at(x, t)
        if s is None:
            continue
        g = dim_value(x.opened, s, by) if by else "all"
        rows.setdefault(g, []).append((x.opened, s))
    out: dict[str, dict[str, object]] = {}
    for g, items in rows.items():
        open_ = [(o, s) for o, s in items if s.status in ("open", "paused")]
        res = [(o, s) for o, s in items if s.status == "resolved" and start <= s.resolved_at < t]  # type: ignore[operator]
        r: dict[str, object] = {}
        age = lambda o: (t - ts(o["occurred_at"])).total_seconds() / 3600  # noqa: E731
        tgt = lambda o: target_h(o) * 3600  # noqa: E731
        r["open_exceptions"] = len(open_)
        r["paused_exceptions"] = sum(s.status == "paused" for _, s in open_)
        r["aging_lt_4h"] = sum(age(o) < 4 for o, _ in open_)
        r["aging_4_24h"] = sum(4 <= age(o) < 24 for o, _ in open_)
        r["aging_1_3d"] = sum(24 <= age(o) < 72 for o, _ in open_)
        r["aging_gt_3d"] = sum(age(o) >= 72 for o, _ in open_)
        r["breached_open"] = sum(s.active > tgt(o) for o, s in open_)
        r["at_risk_open"] = sum(s.active <= tgt(o) and s.active >= 0.8 * tgt(o) for o, s in open_)
        by_order: dict[str, list[tuple[dict, State]]] = {}
        for o, s in open_:
            by_order.setdefault(o["order_id"], []).append((o, s))
        rar = brar = 0.0
        for lst in by_order.values():
            latest = max(lst, key=lambda os: ts(os[0]["occurred_at"]))[0]
            value = latest["order_value"] * RATES[latest["currency"]]
            rar += value
            if any(s.active > tgt(o) for o, s in lst):
                brar += value
        r["revenue_at_risk"] = rar
        r["breached_revenue_at_risk"] = brar
        r["opened"] = sum(start <= ts(o["occurred_at"]) < t for o, _ in items)
        r["resolved"] = len(res)
        r["cancelled"] = sum(
            s.status == "cancelled" and start <= s.cancelled_at < t  # type: ignore[operator]
            for _, s in items
        )
        hours = [
            (s.resolved_at - ts(o["occurred_at"])).total_seconds() / 3600  # type: ignore[operator]
            for o, s in res
        ]
        share = lambda f, res=res: _mean([1.0 if f(o, s) else 0.0 for o, s in res])  # noqa: E731
        r["sla_adherence"] = share(lambda o, s, tgt=tgt: s.active <= tgt(o))
        r["mttr_hours"] = _mean(hours)
        r["p50_resolution_hours"] = _q(hours, 0.5)
        r["p90_resolution_hours"] = _q(hours, 0.9)
        r["avg_manual_touches"] = _mean([float(s.touches) for _, s in res])
        r["first_touch_resolution_rate"] = share(lambda o, s: s.touches <= 1 and s.reopens == 0)
        r["auto_resolution_rate"] = share(
            lambda o, s: s.touches == 0 and s.resolver_kind == "system"
        )
        r["reopen_rate"] = share(lambda o, s: s.reopens >= 1)
        r["escalation_rate"] = share(lambda o, s: s.level >= 1)
        r["sla_overrun_hours"] = sum(max(0.0, s.active - tgt(o)) for o, s in res + open_) / 3600
        out[g] = r
    return out

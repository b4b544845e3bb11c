"""An independent, deliberately naive implementation of kpis.md for cross-checks.

It shares no code with ``flows``/``metrics``: it takes the accepted event
dicts in arrival order and answers "KPIs as of T over [from, T)" by replaying
every exception's events up to T from scratch. Slow and simple on purpose.

Business-hours calendars (kpis.md, "Business-hours calendars (SLA clock)"): every
entry point takes an optional ``calendars`` (a ``tests.reference_sla.SlaConfig``,
itself independent of the product); without it every site runs 24x7. With it the
SLA clock (``active``) of an exception counts only the working time of its site's
calendar, and everything else (ages, resolution hours) stays wall-clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tests.reference_sla import Calendar, SlaConfig, working_seconds

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


def calendar_of(x: Exc, calendars: SlaConfig | None) -> Calendar | None:
    """The working calendar of the exception's site (None: 24x7)."""
    return None if calendars is None else calendars.calendar_for(x.opened["site"])


def state_at(x: Exc, t: datetime, calendars: SlaConfig | None = None) -> State | None:
    cal = calendar_of(x, calendars)
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
            s.active += working_seconds(cal, last, eff)
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
        s.active += working_seconds(cal, last, t)
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


# --- exception KPIs of one set of exceptions ----------------------------------------

Row = tuple[Exc, State]


def _latest_open_value(rows: list[Row]) -> float:
    """Value of an order: its most recently opened exception (ties: later arrival)."""
    x = max(rows, key=lambda r: (ts(r[0].opened["occurred_at"]), r[0].arrival))[0]
    return x.opened["order_value"] * RATES[x.opened["currency"]]


def _exception_kpis(items: list[Row], t: datetime, start: datetime) -> dict[str, object]:
    def tgt(x: Exc) -> float:
        return target_h(x.opened) * 3600

    def opened_at(x: Exc) -> datetime:
        return ts(x.opened["occurred_at"])

    def age(x: Exc) -> float:
        return (t - opened_at(x)).total_seconds() / 3600

    open_ = [(x, s) for x, s in items if s.status in ("open", "paused")]
    res = [
        (x, s)
        for x, s in items
        if s.status == "resolved" and s.resolved_at is not None and start <= s.resolved_at < t
    ]
    r: dict[str, object] = {}
    r["open_exceptions"] = len(open_)
    r["paused_exceptions"] = sum(s.status == "paused" for _, s in open_)
    r["aging_lt_4h"] = sum(age(x) < 4 for x, _ in open_)
    r["aging_4_24h"] = sum(4 <= age(x) < 24 for x, _ in open_)
    r["aging_1_3d"] = sum(24 <= age(x) < 72 for x, _ in open_)
    r["aging_gt_3d"] = sum(age(x) >= 72 for x, _ in open_)
    r["breached_open"] = sum(s.active > tgt(x) for x, s in open_)
    r["at_risk_open"] = sum(0.8 * tgt(x) <= s.active <= tgt(x) for x, s in open_)
    by_order: dict[str, list[Row]] = {}
    for x, s in open_:
        by_order.setdefault(x.opened["order_id"], []).append((x, s))
    r["revenue_at_risk"] = sum(_latest_open_value(rows) for rows in by_order.values())
    r["breached_revenue_at_risk"] = sum(
        _latest_open_value(rows)
        for rows in by_order.values()
        if any(s.active > tgt(x) for x, s in rows)
    )
    r["opened"] = sum(start <= opened_at(x) < t for x, _ in items)
    r["resolved"] = len(res)
    r["cancelled"] = sum(
        s.status == "cancelled" and s.cancelled_at is not None and start <= s.cancelled_at < t
        for _, s in items
    )
    hours = [
        (s.resolved_at - opened_at(x)).total_seconds() / 3600
        for x, s in res
        if s.resolved_at is not None
    ]

    def share(f: Callable[[Exc, State], bool]) -> float | None:
        return _mean([1.0 if f(x, s) else 0.0 for x, s in res])

    r["sla_adherence"] = share(lambda x, s: s.active <= tgt(x))
    r["mttr_hours"] = _mean(hours)
    r["p50_resolution_hours"] = _q(hours, 0.5)
    r["p90_resolution_hours"] = _q(hours, 0.9)
    r["avg_manual_touches"] = _mean([float(s.touches) for _, s in res])
    r["first_touch_resolution_rate"] = share(lambda x, s: s.touches <= 1 and s.reopens == 0)
    r["auto_resolution_rate"] = share(lambda x, s: s.touches == 0 and s.resolver_kind == "system")
    r["reopen_rate"] = share(lambda x, s: s.reopens >= 1)
    r["escalation_rate"] = share(lambda x, s: s.level >= 1)
    over = res + open_
    r["sla_overrun_hours"] = sum(max(0.0, s.active - tgt(x)) for x, s in over) / 3600
    # the bottleneck set: resolved in the period plus open or paused at T
    r["bottleneck_exceptions"] = len(over)
    r["bottleneck_breached"] = sum(s.active > tgt(x) for x, s in over)
    return r


def kpis(
    events: list[dict],
    t: datetime,
    start: datetime | None = None,
    by: str | None = None,
    calendars: SlaConfig | None = None,
) -> dict[str, dict[str, object]]:
    """Exception KPIs per group (key 'all' without ``by``; only groups with exceptions)."""
    start = start or t - timedelta(days=7)
    excs, _orders = accepted(events)
    rows: dict[str, list[Row]] = {}
    for x in excs.values():
        s = state_at(x, t, calendars)
        if s is None:
            continue
        g = dim_value(x.opened, s, by) if by else "all"
        rows.setdefault(g, []).append((x, s))
    out: dict[str, dict[str, object]] = {}
    for g, items in rows.items():
        r = _exception_kpis(items, t, start)
        del r["bottleneck_exceptions"], r["bottleneck_breached"]
        out[g] = r
    return out


# --- orders -------------------------------------------------------------------------

DIMENSIONS = (
    "site",
    "lane",
    "carrier",
    "category",
    "severity",
    "customer_tier",
    "owner_team",
    "source_system",
)
ORDER_DIMENSIONS = frozenset({"site", "lane", "carrier", "customer_tier", "source_system"})
ORDER_KPIS = ("otif", "on_time_rate", "in_full_rate", "exception_rate")


@dataclass
class OrderAsOf:
    """One released order as of T."""

    order_id: str
    released_at: datetime  # the first release
    release: dict  # the latest release (attributes, promise)
    delivered_at: datetime | None  # the latest delivery
    in_full: bool | None
    ship_carrier: str | None  # the latest shipment naming a carrier


def order_at(order_id: str, events: list[tuple[int, dict]], t: datetime) -> OrderAsOf | None:
    """Fold one order's accepted milestones with occurred_at <= T (None: not released)."""
    evs = sorted(
        ((ts(e["occurred_at"]), i, e) for i, e in events if ts(e["occurred_at"]) <= t),
        key=lambda it: (it[0], it[1]),
    )
    rel = [(at, e) for at, _i, e in evs if e["event_type"] == "order.released"]
    if not rel:
        return None
    dlv = [(at, e) for at, _i, e in evs if e["event_type"] == "order.delivered"]
    ships = [
        e["carrier"] for _, _i, e in evs if e["event_type"] == "order.shipped" and e.get("carrier")
    ]
    return OrderAsOf(
        order_id,
        rel[0][0],
        rel[-1][1],
        dlv[-1][0] if dlv else None,
        dlv[-1][1]["in_full"] if dlv else None,
        ships[-1] if ships else None,
    )


def order_dim(o: OrderAsOf, dim: str) -> str:
    r = o.release
    if dim == "lane":
        return f"{r['origin']}→{r['destination']}"
    if dim == "carrier":
        return r.get("carrier") or o.ship_carrier or "(none)"
    return r[dim]


def _order_kpis(
    items: list[OrderAsOf], with_exc: set[str], t: datetime, start: datetime
) -> dict[str, object]:
    dlv = [o for o in items if o.delivered_at is not None and start <= o.delivered_at < t]
    rel = [o for o in items if start <= o.released_at < t]

    def on_time(o: OrderAsOf) -> bool:
        assert o.delivered_at is not None
        return o.delivered_at <= ts(o.release["promised_delivery_at"])

    def share(xs: list[OrderAsOf], f: Callable[[OrderAsOf], bool]) -> float | None:
        return _mean([1.0 if f(o) else 0.0 for o in xs])

    return {
        "otif": share(dlv, lambda o: on_time(o) and bool(o.in_full)),
        "on_time_rate": share(dlv, on_time),
        "in_full_rate": share(dlv, lambda o: bool(o.in_full)),
        "exception_rate": share(rel, lambda o: o.order_id in with_exc),
    }


# --- every KPI, by any dimension, under any filter ------------------------------------

Where = dict[str, list[str]]


def _matches(values: dict[str, str], where: Where) -> bool:
    """Different dimensions AND, values of one dimension OR."""
    return all(values[d] in vs for d, vs in where.items())


@dataclass
class Snapshot:
    """Everything as of T over [start, T), replayed once and then grouped at will."""

    t: datetime
    start: datetime
    excs: list[Row]  # exceptions opened by T
    orders: list[OrderAsOf]  # orders released by T
    with_exceptions: set[str]  # order ids with an exception opened by T (any status)

    def exception_values(self, dim: str) -> set[str]:
        return {dim_value(x.opened, s, dim) for x, s in self.excs}

    def order_values(self, dim: str) -> set[str]:
        return {order_dim(o, dim) for o in self.orders}

    def _exc(self, where: Where) -> list[Row]:
        out = []
        for x, s in self.excs:
            if _matches({d: dim_value(x.opened, s, d) for d in DIMENSIONS}, where):
                out.append((x, s))
        return out

    def _ord(self, where: Where) -> list[OrderAsOf]:
        """Orders released or delivered in the period that pass ``where``."""
        t, start = self.t, self.start
        return [
            o
            for o in self.orders
            if (
                start <= o.released_at < t
                or (o.delivered_at is not None and start <= o.delivered_at < t)
            )
            and _matches({d: order_dim(o, d) for d in where}, where)
        ]

    def compute(
        self, by: str | None = None, where: Where | None = None, *, extras: bool = False
    ) -> dict[str, dict[str, object]]:
        """Every KPI of kpis.md per group of ``by`` (key 'all' without), as the README
        chooses: groups are the values among exceptions opened by T plus, for order
        dimensions, among orders released or delivered in the period; order KPIs are
        null by or under a dimension orders do not have."""
        where = where or {}
        xs = self._exc(where)
        orders_apply = (by is None or by in ORDER_DIMENSIONS) and all(
            d in ORDER_DIMENSIONS for d in where
        )
        os_ = self._ord(where) if orders_apply else []
        xg: dict[str, list[Row]] = {}
        og: dict[str, list[OrderAsOf]] = {}
        for x, s in xs:
            xg.setdefault(dim_value(x.opened, s, by) if by else "all", []).append((x, s))
        for o in os_:
            og.setdefault(order_dim(o, by) if by else "all", []).append(o)
        groups = {"all"} if by is None else set(xg) | set(og)
        out: dict[str, dict[str, object]] = {}
        for g in sorted(groups):
            r = _exception_kpis(xg.get(g, []), self.t, self.start)
            if orders_apply:
                r.update(_order_kpis(og.get(g, []), self.with_exceptions, self.t, self.start))
            else:
                r.update(dict.fromkeys(ORDER_KPIS))
            if extras:
                r["has_exceptions"] = g in xg
            else:
                del r["bottleneck_exceptions"], r["bottleneck_breached"]
            out[g] = r
        return out

    def bottlenecks(self, by: str, where: Where | None = None) -> list[dict[str, object]]:
        """The bottleneck list: groups with exceptions, by overrun desc, then name."""
        total = self.compute(None, where)["all"]["sla_overrun_hours"]
        assert isinstance(total, float)
        rows = []
        for g, r in self.compute(by, where, extras=True).items():
            if not r["has_exceptions"]:
                continue
            n = r["bottleneck_exceptions"]
            assert isinstance(n, int) and isinstance(r["bottleneck_breached"], int)
            rows.append(
                {
                    by: g,
                    "sla_overrun_hours": r["sla_overrun_hours"],
                    "share_of_overrun": r["sla_overrun_hours"] / total if total > 0 else None,  # type: ignore[operator]
                    "exceptions": n,
                    "breach_rate": r["bottleneck_breached"] / n if n else None,
                    "mttr_hours": r["mttr_hours"],
                    "avg_manual_touches": r["avg_manual_touches"],
                    "revenue_at_risk": r["revenue_at_risk"],
                }
            )
        rows.sort(key=lambda r: (-r["sla_overrun_hours"], r[by]))  # type: ignore[operator]
        return [{"rank": i, **r} for i, r in enumerate(rows, start=1)]


def snapshot(
    events: list[dict], t: datetime, start: datetime, calendars: SlaConfig | None = None
) -> Snapshot:
    """Replay the accepted events (in arrival order) as of T (SLA clocks on ``calendars``)."""
    excs, order_events = accepted(events)
    rows: list[Row] = []
    for x in excs.values():
        s = state_at(x, t, calendars)
        if s is not None:
            rows.append((x, s))
    per_order: dict[str, list[tuple[int, dict]]] = {}
    for i, e in order_events:
        per_order.setdefault(e["order_id"], []).append((i, e))
    orders = [o for oid, evs in per_order.items() if (o := order_at(oid, evs, t)) is not None]
    with_exc = {x.opened["order_id"] for x, _ in rows}
    return Snapshot(t, start, rows, orders, with_exc)

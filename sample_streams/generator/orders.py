"""Orders: ``order.released`` → ``order.shipped`` → ``order.delivered`` →
``order.invoiced``, with the knock-on effects of their exceptions.

Each day of orders is drawn from its own seeded random stream
(``fpi-world:{seed}:{day}``); the mess is drawn elsewhere, so the world does not
depend on ``mess`` (except for how ``promised_delivery_at`` is written).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from typing import Any, Final

from .config import GeneratorConfig
from .exceptions import ExceptionGenerator, OrderContext
from .labels import PLANTED_CARRIER, PLANTED_DESTINATION, PLANTED_ORIGIN
from .sampling import cumulative, pick
from .summary import Stats
from .taxonomy import PH_DELIVERED, PH_INVOICE, PH_PICKUP, PH_RELEASE, PH_TRANSIT, Cat
from .timestamps import MS_DAY, MS_H, MS_MIN, NEVER, UTC_Z, format_ts, to_ms
from .world import (
    CARRIERS,
    CROSS_BORDER,
    DEST_OFFSET,
    LINES_WEIGHTS,
    LOCAL_HOUR_WEIGHTS,
    PLANTED_LANE_CARRIERS,
    RATES_TO_USD,
    SITES,
    SOURCE_ZONE,
    TIER_CUSTOMERS,
    TIER_VALUE,
    TIER_WEIGHTS,
    TIERS,
    transit_days,
    zone_for,
)
from .world_event import WEv

_EXCEPTION_P: Final = 0.036
_PLANTED_EXCEPTION_P: Final = 0.30
_SECOND_EXCEPTION_P: Final = 0.08
_LN_180: Final = math.log(180.0)
_LN_9: Final = math.log(9.0)


class OrderGenerator:
    """Draws orders and exceptions day by day (independent seeded stream per day)."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self.start_ms = to_ms(cfg.start)
        self.horizon_ms = self.start_ms + round(cfg.days * MS_DAY)
        self.orders_per_day = max(1, round(cfg.lines_per_day / 4.0))
        self.order_no = 1_000_000
        self.invoice_no = 5_000_000
        self.site_cum = cumulative([s.weight for s in SITES])
        self.dest_cum = [cumulative([w for _, w in s.dests]) for s in SITES]
        self.carrier_cum = [cumulative([w for _, w in s.carriers]) for s in SITES]
        self.planted_carrier_cum = cumulative([w for _, w in PLANTED_LANE_CARRIERS])
        # UTC hour weights per site (local release profile shifted by the site offset).
        self.hour_cum = []
        for s in SITES:
            shift = -s.zone[0] // 60
            w = [0.0] * 24
            for local_h, lw in enumerate(LOCAL_HOUR_WEIGHTS):
                w[(local_h + shift) % 24] = lw
            self.hour_cum.append(cumulative(w))
        self.lines_cum = cumulative(LINES_WEIGHTS)
        self.tier_cum = cumulative(TIER_WEIGHTS)
        self.exceptions = ExceptionGenerator(self.horizon_ms)

    def _promised(self, ms: int, dest: str) -> str:
        """17:00 local destination time on the day of ``ms``."""
        off = DEST_OFFSET[dest]
        local_day = (ms + off * MS_MIN) // MS_DAY
        t = local_day * MS_DAY + 17 * MS_H - off * MS_MIN
        if self.cfg.mess:
            return format_ts(t, (off, f"-{-off // 60:02d}:00", False))
        return format_ts(t, UTC_Z)

    # ---------------------------------------------------------------- one day

    def day(self, d: int, stats: Stats) -> list[WEv]:
        """All events (with event time before the horizon) of orders released on day ``d``."""
        rng = random.Random(f"fpi-world:{self.cfg.seed}:{d}")
        day_start = self.start_ms + d * MS_DAY
        out: list[WEv] = []
        for _ in range(self.orders_per_day):
            self._order(rng, day_start, out, stats)
        return out

    def _order(self, rng: random.Random, day_start: int, out: list[WEv], stats: Stats) -> None:
        rnd = rng.random
        si = bisect_right(self.site_cum, rnd() * self.site_cum[-1])
        site = SITES[si]
        cum = self.dest_cum[si]
        dest = site.dests[bisect_right(cum, rnd() * cum[-1])][0]
        planted_lane = dest == PLANTED_DESTINATION and site.origin == PLANTED_ORIGIN
        if planted_lane:
            carrier = pick(rng, PLANTED_LANE_CARRIERS, self.planted_carrier_cum)[0]
        else:
            cum = self.carrier_cum[si]
            carrier = site.carriers[bisect_right(cum, rnd() * cum[-1])][0]
        planted = planted_lane and carrier == PLANTED_CARRIER
        cum = self.hour_cum[si]
        r = day_start + bisect_right(cum, rnd() * cum[-1]) * MS_H + int(rnd() * MS_H)
        lines = 1 + bisect_right(self.lines_cum, rnd() * self.lines_cum[-1])
        tier = TIERS[bisect_right(self.tier_cum, rnd() * self.tier_cum[-1])]
        first, n = TIER_CUSTOMERS[tier]
        customer_id = f"C-{first + int(n * rnd() ** 2)}"
        usd = lines * math.exp(_LN_180 + 0.9 * rng.gauss(0.0, 1.0)) * TIER_VALUE[tier]
        country = CROSS_BORDER.get(dest)
        u = rnd()
        if country == "MX":
            currency = "MXN" if u < 0.7 else "USD"
        elif country == "CA":
            currency = "CAD" if u < 0.75 else "USD"
        else:
            currency = "USD" if u < 0.93 else "EUR" if u < 0.97 else "GBP" if u < 0.99 else "CAD"
        value = round(usd / RATES_TO_USD[currency], 2)
        transit = transit_days(site.origin, dest)
        cutoff = ((r + site.zone[0] * MS_MIN) % MS_DAY) >= 14 * MS_H  # after 14:00 local
        promised = self._promised(r + (transit + cutoff) * MS_DAY, dest)
        # Planned milestones (exceptions may push them out).
        ship = r + int(math.exp(_LN_9 + 0.5 * rng.gauss(0.0, 1.0)) * MS_H)
        transit_ms = int(transit * 24 * MS_H * (0.5 + 0.45 * rnd()))
        u = rnd()
        if u < 0.07:  # weather, missed connection: late without an exception
            transit_ms += int((16 + 32 * u / 0.07) * MS_H)
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
        ctx = OrderContext(
            order_id, site, dest, carrier, tier, customer_id, value, currency, planted
        )
        released: dict[str, Any] = {
            "site": site.name,
            "origin": site.origin,
            "destination": dest,
        }
        if carrier is not None:
            released["carrier"] = carrier
        released.update(
            {
                "customer_tier": tier,
                "customer_id": customer_id,
                "order_value": value,
                "currency": currency,
                "promised_delivery_at": promised,
                "lines": lines,
            }
        )
        rel_source = "EDI" if rng.random() < 0.1 else "ERP"
        out.append(
            WEv(
                r,
                "order.released",
                rel_source,
                "order_id",
                order_id,
                released,
                None,
                SOURCE_ZONE[rel_source],
            )
        )

        # Exceptions of this order.
        cats: list[Cat] = []
        if rng.random() < (_PLANTED_EXCEPTION_P if planted else _EXCEPTION_P):
            cats.append(self.exceptions.category(rng, ctx))
            if rng.random() < _SECOND_EXCEPTION_P:
                second = self.exceptions.category(rng, ctx)
                if second.name != cats[0].name:
                    cats.append(second)
            cats.sort(key=lambda c: c.phase)
        shipped_carrier = carrier
        dlv: int = NEVER
        inv: int = NEVER
        if never_ships:
            ship = NEVER
        for cat in cats:
            if cat.phase == PH_RELEASE:
                t0 = (
                    r + int(rng.uniform(0.03, 0.9) * max(ship - r, MS_H))
                    if ship < NEVER
                    else r + int(rng.uniform(0.05, 6) * MS_H)
                )
            elif cat.phase == PH_PICKUP:
                if ship >= NEVER:
                    continue
                t0 = (
                    ship + int(rng.uniform(0.5, 3) * MS_H)
                    if cat.name == "missed_pickup"
                    else max(r + 10 * MS_MIN, ship - int(rng.uniform(2, 8) * MS_H))
                )
            elif cat.phase == PH_TRANSIT:
                if ship >= NEVER:
                    continue
                if cat.name == "customs_hold":  # at the border, early in transit
                    t0 = ship + int(rng.uniform(4, 30) * MS_H)
                else:
                    t0 = ship + int(rng.uniform(0.1, 0.8) * transit_ms) + 20 * MS_MIN
            elif cat.phase == PH_DELIVERED:
                if ship >= NEVER:
                    continue
                dlv = ship + transit_ms
                t0 = dlv + int(rng.uniform(4, 48) * MS_H)
            else:
                if ship >= NEVER:
                    continue
                t0 = ship + int(rng.uniform(0.5, 8) * MS_H) + int(rng.uniform(12, 36) * MS_H)
            resolved_at, code = self.exceptions.lifecycle(rng, ctx, cat, t0, out, stats)
            # Knock-on effects on the order's milestones.
            if cat.phase in (PH_RELEASE, PH_PICKUP) and ship < NEVER:
                if resolved_at is None:
                    if code != "cancelled":
                        ship = NEVER
                elif code in ("order_cancelled", "duplicate_cancelled"):
                    ship = NEVER
                else:
                    ship = max(ship, resolved_at + int(rng.uniform(1, 4) * MS_H))
                    if code in ("split_ship", "backorder") or (
                        cat.name == "damaged_stock" and rng.random() < 0.5
                    ):
                        in_full = False
                    if code == "alternate_carrier" and carrier is not None:
                        shipped_carrier = CARRIERS[
                            (CARRIERS.index(carrier) + 1 + rng.randrange(4)) % 5
                        ]
            elif cat.phase == PH_TRANSIT and resolved_at is not None:
                transit_ms = max(transit_ms, resolved_at - ship + int(rng.uniform(8, 30) * MS_H))
                if cat.name == "carrier_failure" and rng.random() < 0.2:
                    in_full = False
            elif cat.phase == PH_TRANSIT and code != "cancelled":
                transit_ms = NEVER
            elif cat.phase == PH_INVOICE:
                inv = (
                    resolved_at + int(rng.uniform(0.2, 2) * MS_H)
                    if resolved_at is not None
                    else NEVER
                )
                if code == "cancelled":
                    inv = t0 - int(rng.uniform(12, 36) * MS_H)
        if ship < horizon:
            src = "WMS" if rnd() < 0.7 else "TMS"
            out.append(
                WEv(
                    ship,
                    "order.shipped",
                    src,
                    "order_id",
                    order_id,
                    {"carrier": shipped_carrier} if shipped_carrier else {},
                    None,
                    zone_for(src, site, carrier),
                )
            )
            if transit_ms < NEVER:
                dlv = ship + transit_ms
                if dlv < horizon:
                    if carrier is None:
                        src = "WMS"  # will-call: the customer picked it up at the dock
                    else:
                        src = "EDI" if rng.random() < 0.1 else "CARRIER"
                    out.append(
                        WEv(
                            dlv,
                            "order.delivered",
                            src,
                            "order_id",
                            order_id,
                            {"in_full": in_full},
                            None,
                            zone_for(src, site, shipped_carrier),
                        )
                    )
            if inv == NEVER and not (cats and cats[-1].phase == PH_INVOICE):
                inv = ship + int((0.5 + 7.5 * rnd()) * MS_H)
            if inv < horizon:
                self.invoice_no += 1
                src = "FINANCE" if rng.random() < 0.85 else "ERP"
                out.append(
                    WEv(
                        inv,
                        "order.invoiced",
                        src,
                        "order_id",
                        order_id,
                        {"invoice_id": f"INV-{self.invoice_no}"},
                        None,
                        SOURCE_ZONE[src],
                    )
                )

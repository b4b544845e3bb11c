"""The mess of a real feed (``mess=True``), drawn from its own random streams.

Exact re-sends and same-``event_id`` re-sends with a different body, per-source
arrival delays (arrival order ≠ event time), ``exception.opened`` arriving after
its follow-ups, clock drift, local UTC offsets and milliseconds,
``schema_version`` ``"1.1"`` with unknown extra fields, bad lines of every
rejection reason and blank lines. Each day's mess comes from the seeded stream
``fpi-mess:{seed}:{day}``, so the world is the same with and without it.
"""

from __future__ import annotations

import random
import re
from typing import Any, Final

import orjson

from .config import GeneratorConfig
from .labels import (
    BAD_LINE_KINDS,
    LABEL_BLANK,
    LABEL_CONFLICTING_DUPLICATE,
    LABEL_DUPLICATE,
    LABEL_EVENT,
)
from .render import Item, Renderer
from .summary import Stats
from .taxonomy import SEVERITIES
from .timestamps import HMS, MS_DAY, MS_MIN, NEVER, UTC_Z, format_ts, quantize
from .world_event import ROLE_DRIFTABLE, ROLE_OPENED, WEv

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
    "exception.opened": (
        "order_id",
        "category",
        "severity",
        "site",
        "origin",
        "destination",
        "customer_tier",
        "order_value",
        "currency",
    ),
    "exception.assigned": ("owner_team",),
    "exception.touched": ("action",),
    "exception.escalated": ("level",),
    "exception.paused": ("reason",),
    "exception.resolved": ("resolution_code",),
    "order.released": (
        "site",
        "origin",
        "destination",
        "customer_tier",
        "order_value",
        "currency",
        "promised_delivery_at",
    ),
    "order.delivered": ("in_full",),
}


class MessyRenderer(Renderer):
    """Renders a day of world events as a real feed would deliver them."""

    def __init__(self, cfg: GeneratorConfig, stats: Stats) -> None:
        super().__init__(cfg, stats)
        self.bad_no = 0

    def render(
        self,
        d: int,
        evs: list[WEv],
        items: list[Item],
        day_start: int,
        day_end: int,
    ) -> None:
        """Append the lines of ``evs`` (the events of day ``d``) and the day's mess to
        ``items``: re-sends, arrival delays, drift, local offsets, bad and blank lines."""
        rng = random.Random(f"fpi-mess:{self.cfg.seed}:{d}")
        rnd = rng.random
        dumps = orjson.dumps
        stats = self.stats
        opened_at: dict[str, int] = {}
        drift_x: set[str] = set()
        rendered: list[tuple[dict[str, Any], int, WEv]] = []
        delays = _ARRIVAL_DELAY
        dates: dict[int, str] = {}
        hms = HMS
        n = self.event_no
        seq = self.seq
        first = stats.first_ms if stats.first_ms is not None else NEVER
        last = stats.last_ms if stats.last_ms is not None else -NEVER
        n_dup = 0
        for ev in evs:
            n += 1
            zone = ev.zone
            t = ev.t
            late = 0
            role = ev.role
            if role == ROLE_OPENED:
                opened_at[ev.kid] = t
                if rnd() < 0.03:
                    drift_x.add(ev.kid)
                if rnd() < 0.05:  # batch upload: opened arrives after its follow-ups
                    late = int(rng.uniform(30, 180) * MS_MIN)
            elif role == ROLE_DRIFTABLE and ev.kid in drift_x:
                # Source clock behind: stamped before the exception was opened.
                t = opened_at[ev.kid] - rng.randrange(5_000, 120_000)
            # format_ts, inlined (hot loop)
            off, suffix, with_ms = zone
            day, rem = divmod(t + off * MS_MIN, MS_DAY)
            dprefix = dates.get(day)
            if dprefix is None:
                dprefix = format_ts(day * MS_DAY, UTC_Z)[:11]
                dates[day] = dprefix
            sec, milli = divmod(rem, 1000)
            if with_ms:
                reported = t
                occurred = f"{dprefix}{hms[sec]}.{milli:03d}{suffix}"
            else:
                reported = t - milli
                occurred = dprefix + hms[sec] + suffix
            body: dict[str, Any] = {
                "event_id": f"ev-{n:08d}",
                "event_type": ev.etype,
                "occurred_at": occurred,
                "source_system": ev.source,
                "schema_version": "1",
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
                delay = int((lo + (hi - lo) * (v / p_late)) * MS_MIN)
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
                items.append((arrival + int((1 + 35_900 * u) * MS_MIN), seq, line, LABEL_DUPLICATE))
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
            t = quantize(ev.t + rng.randrange(1_000, 30_000), zone)
            alt = dict(body)
            alt["occurred_at"] = format_ts(t, zone)
            alt["schema_version"] = "1.1"
            alt["resent"] = True
            stats.duplicates += 1
            stats.conflicting_duplicates += 1
            items.append(
                (
                    arrival + int(rng.uniform(5, 240) * MS_MIN),
                    self.next_seq(),
                    dumps(alt).decode(),
                    LABEL_CONFLICTING_DUPLICATE,
                )
            )
        # Bad lines: at least one of each kind per day, about 0.1 % of the events.
        money = [
            i
            for i, r in enumerate(rendered)
            if r[2].etype in ("order.released", "exception.opened")
        ]
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
                    later = int(rng.uniform(5, 180) * MS_MIN)
                    line = self._duplicate_open(rng, body, format_ts(ev.t + later, ev.zone))
                    stats.rejects[kind] += 1
                    items.append((arrival + later, self.next_seq(), line, kind))
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
            items.append((arrival, self.next_seq(), line, kind))
        # A few blank lines (ignored by the pipeline).
        for _ in range(1 + rng.randrange(3)):
            stats.blank_lines += 1
            items.append(
                (
                    day_start + rng.randrange(max(1, day_end - day_start)),
                    self.next_seq(),
                    rng.choice(("", "   ", "\t")),
                    LABEL_BLANK,
                )
            )

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
            alt["severity"] = rng.choice(SEVERITIES)
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
                del b[
                    rng.choice(
                        ("source_system", "exception_id" if "exception_id" in b else "order_id")
                    )
                ]
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
            b["event_type"] = rng.choice(
                (
                    "exception.commented",
                    "order.picked",
                    "shipment.departed",
                    "Exception.Opened",
                    "order.cancelled",
                )
            )
        elif kind == "unsupported_version":
            b["schema_version"] = rng.choice(("2", "2", "2.0"))
        elif kind == "naive_timestamp":
            b["occurred_at"] = _TZ_SUFFIX.sub("", b["occurred_at"])
        elif kind == "unknown_currency":
            b["currency"] = rng.choice(("XYZ", "XYZ", "BTC"))
        return orjson.dumps(b).decode()

"""The metric layer against the independent reference (tests/reference.py) on random
streams in random arrival order: every KPI (order KPIs included), broken down by
every dimension, under ``where`` filters on every dimension, and the bottleneck
list, at several T (before any event, at an event's time, inside the stream,
after everything) and several periods. One ingest per stream serves every T."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.db import open_read
from metrics.bottlenecks import bottlenecks
from metrics.query import compute, window
from tests import reference
from tests.reference import DIMENSIONS, ORDER_DIMENSIONS, Snapshot, Where
from tests.streams import ev, ingest_events, opened, random_mixed_stream, released

H = timedelta(hours=1)
SHORT = (timedelta(0), H, 12 * H)  # the empty period [T, T) too
LONG = (48 * H, 72 * H, 7 * 24 * H, 30 * 24 * H)
BOTTLENECK_COLUMNS = (
    "rank",
    "sla_overrun_hours",
    "share_of_overrun",
    "exceptions",
    "breach_rate",
    "mttr_hours",
    "avg_manual_touches",
    "revenue_at_risk",
)


def same(got: object, want: object) -> bool:
    if want is None or got is None:
        return got is None and want is None
    if isinstance(want, str):
        return got == want
    return got == pytest.approx(want, rel=1e-9, abs=1e-9)


class Checker:
    """Compares one database against the reference; counts the values compared."""

    def __init__(self, con: duckdb.DuckDBPyConnection, snap: Snapshot) -> None:
        self.con, self.snap, self.compared = con, snap, 0
        win = window(con, snap.t, snap.start)
        assert win is not None
        self.win = win

    def kpis(self, by: str | None, where: Where) -> None:
        ctx = f"T={self.snap.t} from={self.snap.start} by={by} where={where}"
        rows = compute(self.con, self.win, by=by, where=where).to_dicts()
        want = self.snap.compute(by, where)
        got = {("all" if by is None else r.pop(by)): r for r in rows}
        assert list(got) == sorted(got), ctx  # groups sorted
        assert set(got) == set(want), ctx
        for g, w in want.items():
            assert set(got[g]) == set(w), (ctx, g)  # every KPI the layer has is checked
            for k, v in w.items():
                assert same(got[g][k], v), (ctx, g, k, got[g][k], v)
                self.compared += 1

    def bottlenecks(self, by: str, where: Where, top: int | None = None) -> None:
        ctx = f"T={self.snap.t} from={self.snap.start} by={by} where={where} top={top}"
        got = bottlenecks(self.con, self.win, by, where=where, top=top)
        assert tuple(got.columns) == (by, *BOTTLENECK_COLUMNS), ctx
        want = self.snap.bottlenecks(by, where)[:top]
        rows = got.to_dicts()
        assert [r[by] for r in rows] == [w[by] for w in want], ctx
        for r, w in zip(rows, want, strict=True):
            for k, v in w.items():
                assert same(r[k], v), (ctx, r[by], k, r[k], v)
                self.compared += 1


def random_where(rng: random.Random, snap: Snapshot, dims: list[str]) -> Where:
    """Filters on ``dims``: one or two values each (OR), seen or unseen."""
    where: Where = {}
    for d in dims:
        seen = sorted(
            snap.exception_values(d) | snap.order_values(d)
            if d in ORDER_DIMENSIONS
            else snap.exception_values(d)
        )
        pool = [*seen, "no-such-value"]
        where[d] = rng.sample(pool, k=min(len(pool), rng.choice([1, 1, 2])))
    return where


def times(rng: random.Random, events: list[dict]) -> list[datetime]:
    """T before any event, at an event's own time, inside the stream, after everything."""
    stamps = sorted(reference.ts(e["occurred_at"]) for e in events)
    first, last = stamps[0], stamps[-1]
    span = (last - first).total_seconds()
    inside = [first + timedelta(seconds=rng.randrange(int(span))) for _ in range(2)]
    return [first - H, rng.choice(stamps), *inside, last + 24 * H]


def check_stream(tmp: Path, seed: int) -> int:
    """Ingest one random stream once, then compare at every T of ``times``.

    Each T checks a few breakdowns, filters and bottleneck lists, rotating so
    that every stream covers every dimension as ``by``, as a filter and as a
    bottleneck list (plus no breakdown, and ``top``)."""
    rng = random.Random(seed)
    events = random_mixed_stream(rng)
    arrival = list(events)
    rng.shuffle(arrival)
    db, _ = ingest_events(tmp, arrival)
    breakdowns = [None, *DIMENSIONS]
    compared = 0
    with open_read(db) as con:
        for i, t in enumerate(times(rng, arrival)):
            start = t - rng.choice(SHORT + LONG if i < 2 else LONG)
            c = Checker(con, reference.snapshot(arrival, t, start))
            for k in range(3):
                c.kpis(breakdowns[(3 * i + k) % len(breakdowns)], {})
            for k in range(3):  # a filter on d, and on zero to two other dimensions
                d = DIMENSIONS[(3 * i + k) % len(DIMENSIONS)]
                other = rng.sample([x for x in DIMENSIONS if x != d], k=rng.choice([0, 1, 2]))
                c.kpis(rng.choice(breakdowns), random_where(rng, c.snap, [d, *other]))
            for k in range(2):
                d = DIMENSIONS[(2 * i + k) % len(DIMENSIONS)]
                filt = rng.sample(DIMENSIONS, k=rng.choice([0, 1]))
                c.bottlenecks(d, random_where(rng, c.snap, filt))
            if i == 2:
                c.bottlenecks(rng.choice(DIMENSIONS), {}, top=2)
            compared += c.compared
    return compared


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_kpi_by_and_under_every_dimension_matches_reference(
    tmp_path_factory: pytest.TempPathFactory, seed: int
) -> None:
    assert check_stream(tmp_path_factory.mktemp("ref-all"), seed) > 0


# --- a small named scenario: the README's order and bottleneck choices ----------------


def day(d: int, h: float = 0) -> datetime:
    return datetime(2026, 5, d, tzinfo=UTC) + h * H


def _choices_scenario() -> list[dict]:
    crit = dict(severity="critical", tier="strategic")  # target 2 h
    return [
        # exceptions: S-a and S-d tie on overrun (70 h at day 7), S-b and S-c have none
        opened("X1", day(4, 1), order_id="O1", site="S-b", source_system="WMS"),
        ev("exception.assigned", "X1", day(4, 2), owner_team="alpha"),
        ev("exception.resolved", "X1", day(4, 5), resolution_code="x"),
        opened("X2", day(4, 2), order_id="O2", site="S-c"),
        ev("exception.cancelled", "X2", day(4, 3)),
        opened("X3", day(4), order_id="O9", site="S-d", **crit),
        opened("X4", day(4), order_id="O8", site="S-a", **crit),
        opened("X5", day(7), order_id="O3", site="S-b"),  # opened exactly at T = day 7
        # O1: first released day 4 at S-a; re-released day 5 at S-b with an earlier promise
        released("O1", day(4), "2026-05-06T00:00:00Z", site="S-a", carrier="ACME"),
        released("O1", day(5), "2026-05-05T08:00:00+02:00", site="S-b", carrier="ACME"),
        ev("order.delivered", "O1", day(5, 12), in_full=True),  # late against 06:00Z
        released("O2", day(4), "2026-05-08T00:00:00Z", source_system="ERP"),
        released("O3", day(4), "2026-05-08T00:00:00Z", carrier=""),
        # O4: delivered twice at the same time, the later arrival (in full) wins
        released("O4", day(4), "2026-05-07T00:00:00Z", site="S-a"),
        ev("order.delivered", "O4", day(5, 10), in_full=False),
        ev("order.delivered", "O4", day(5, 10), in_full=True),
        ev("order.delivered", "O5", day(5), in_full=True),  # never released: not counted
        # O6: released without a carrier; the carrier is the latest shipment naming one
        released("O6", day(4, 18), "2026-05-09T00:00:00Z"),
        ev("order.shipped", "O6", day(5), carrier="ZIP"),
        ev("order.shipped", "O6", day(6)),
        ev("order.invoiced", "O6", day(6, 1)),
    ]


@pytest.fixture(scope="module")
def choices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict]]:
    events = _choices_scenario()
    db, _ = ingest_events(tmp_path_factory.mktemp("choices"), events)
    return db, events


def test_readme_choices_for_orders_and_bottlenecks(choices: tuple[Path, list[dict]]) -> None:
    db, events = choices
    with open_read(db) as con:
        win = window(con, day(7), day(3))
        assert win is not None
        r = compute(con, win).row(0, named=True)
        # released in [day 3, day 7): O1 O2 O3 O4 O6; with an exception opened by T:
        # O1, O2 (cancelled), O3 (opened at T itself)
        assert r["exception_rate"] == pytest.approx(3 / 5)
        # delivered: O1 late (latest promise), in full; O4 on time, in full (later arrival)
        assert (r["otif"], r["on_time_rate"], r["in_full_rate"]) == pytest.approx((0.5, 0.5, 1))
        carriers = compute(con, win, by="carrier")
        assert dict(zip(carriers["carrier"], carriers["exception_rate"], strict=True)) == {
            "(none)": pytest.approx(2 / 3),  # O2, O3 with exceptions, O4 without
            "ACME": 1.0,
            "ZIP": 0.0,
        }
        assert compute(con, win, where={"category": ["inventory_shortfall"]})["otif"][0] is None
        late = window(con, day(7), day(4, 12))  # O1's first release is before the period
        assert late is not None
        assert compute(con, late)["exception_rate"][0] == 0.0  # O6 only
        b = bottlenecks(con, win, "site")
        assert b["site"].to_list() == ["S-a", "S-d", "S-b", "S-c"]
        assert b["share_of_overrun"].to_list() == pytest.approx([0.5, 0.5, 0.0, 0.0])
        assert b["exceptions"].to_list() == [1, 1, 2, 0]
        assert b["breach_rate"].to_list()[:3] == [1.0, 1.0, 0.0]
        assert b["breach_rate"][3] is None
        # and the same numbers from the reference, everywhere
        for t, start in [
            (day(4, 12), day(4, 12)),
            (day(5, 10), day(4)),
            (day(7), day(4, 12)),
            (day(20), day(1)),
        ]:
            c = Checker(con, reference.snapshot(events, t, start))
            for by in (None, *DIMENSIONS):
                c.kpis(by, {})
            for by in ("site", "carrier", "owner_team"):
                c.bottlenecks(by, {})
            c.kpis("carrier", {"site": ["S-a", "S-b"], "source_system": ["TEST"]})
            c.kpis(None, {"owner_team": ["alpha"]})

"""``order_state``: the fold of order milestones kept by the sink, the ``orders``
view over it, and the order KPIs read from it (settled orders) or replayed from
events (orders with events after T), checked against a plain replay written here."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from core.db import fetch_pl, init_schema
from core.layout import Layout
from core.order_state import NEEDS_REPLAY, REBUILD_SQL
from metrics import working_set
from metrics.query import Window, compute
from tests.streams import T0, ev, ingest_events, iso, opened, released, table

STATE = "SELECT * FROM order_state ORDER BY order_id"
STATE_NO_SEQ = (
    "SELECT * EXCLUDE (release_seq, delivery_seq, ship_seq) FROM order_state ORDER BY order_id"
)


def order_stream(rng: random.Random, n_orders: int = 30) -> list[dict]:
    """Orders with re-releases, shipments with and without carrier, re-deliveries,
    invoices and some exceptions; event times distinct within an order."""
    events: list[dict] = []
    for i in range(n_orders):
        oid = f"O-{i}"
        start = T0 + timedelta(hours=rng.randrange(0, 24 * 20))
        minutes = rng.sample(range(1, 60 * 24 * 6), 8)
        at = iter(sorted(start + timedelta(minutes=m) for m in minutes))
        for _ in range(rng.choice([1, 1, 1, 2])):
            events.append(
                released(
                    oid,
                    next(at),
                    site=rng.choice(["DC-ATL", "DC-DAL"]),
                    destination=rng.choice(["MIA", "BOS"]),
                    tier=rng.choice(["strategic", "key", "standard"]),
                    value=float(rng.randrange(10, 900)),
                    promised=iso(start + timedelta(days=rng.randrange(1, 5))),
                    **({"carrier": rng.choice(["ACME", "ZIP"])} if rng.random() < 0.5 else {}),
                )
            )
        if rng.random() < 0.8:
            extra = {"carrier": rng.choice(["ACME", "ZIP", "FAST"])} if rng.random() < 0.7 else {}
            events.append(ev("order.shipped", oid, next(at), **extra))
        for _ in range(rng.choice([0, 1, 1, 1, 2])):
            events.append(ev("order.delivered", oid, next(at), in_full=rng.random() < 0.85))
        if rng.random() < 0.5:
            events.append(ev("order.invoiced", oid, next(at)))
        if rng.random() < 0.3:
            events.append(opened(f"X-{i}", next(at), order_id=oid))
    # an order never released: it never counts
    events.append(ev("order.delivered", "O-unreleased", T0 + timedelta(days=3), in_full=True))
    return events


def _ingest_in_runs(tmp: Path, events: list[dict], runs: int) -> Path:
    db = tmp / "o.duckdb"
    size = -(-len(events) // runs)
    for k in range(runs):
        ingest_events(tmp, events[k * size : (k + 1) * size], db=db, name=f"part{k}.jsonl")
    return db


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_state_is_the_fold_of_the_events_whatever_the_arrival(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    events = order_stream(rng)
    shuffled = list(events)
    rng.shuffle(shuffled)
    one = _ingest_in_runs(tmp_path / "one", events, 1)
    split = _ingest_in_runs(tmp_path / "split", shuffled, 4)  # merges into existing rows
    assert table(one, STATE_NO_SEQ).rows() == table(split, STATE_NO_SEQ).rows()
    con = duckdb.connect(str(Layout(split).store))  # the writer's store
    try:
        before = con.sql(STATE).pl().rows()
        con.execute("DELETE FROM order_state")
        con.execute(REBUILD_SQL)
        assert con.sql(STATE).pl().rows() == before
    finally:
        con.close()


def test_a_database_without_order_state_is_backfilled(tmp_path: Path) -> None:
    db = _ingest_in_runs(tmp_path, order_stream(random.Random(5)), 1)
    before = table(db, STATE).rows()
    con = duckdb.connect(str(Layout(db).store))  # the writer's store
    try:
        con.execute("DROP TABLE order_state")
        init_schema(con)
        assert con.sql(STATE).pl().rows() == before
    finally:
        con.close()


@dataclass
class _Order:
    released_at: datetime | None = None
    attrs: dict | None = None
    ship_carrier: str | None = None
    delivered_at: datetime | None = None
    in_full: bool | None = None


def _replay(events: list[dict], t: datetime) -> dict[str, _Order]:
    """Order state as of t straight from the events (arrival order breaks ties)."""
    out: dict[str, _Order] = {}
    keyed = sorted(
        ((datetime.fromisoformat(e["occurred_at"]), i, e) for i, e in enumerate(events)),
        key=lambda x: (x[0], x[1]),
    )
    for at, _, e in keyed:
        if at > t or not e["event_type"].startswith("order."):
            continue
        o = out.setdefault(e["order_id"], _Order())
        kind = e["event_type"]
        if kind == "order.released":
            o.released_at = o.released_at or at
            o.attrs = e
        elif kind == "order.shipped" and e.get("carrier"):
            o.ship_carrier = e["carrier"]
        elif kind == "order.delivered":
            o.delivered_at, o.in_full = at, e["in_full"]
    return out


def _expected(events: list[dict], win: Window, by: str | None) -> dict[str, dict[str, float]]:
    t, start = win.as_of, win.start
    with_exc = {
        e["order_id"]
        for e in events
        if e["event_type"] == "exception.opened" and datetime.fromisoformat(e["occurred_at"]) <= t
    }
    groups: dict[str, dict[str, list[float]]] = {}
    for oid, o in _replay(events, t).items():
        if o.released_at is None or o.attrs is None:
            continue
        a = o.attrs
        carrier = a.get("carrier") or o.ship_carrier or "(none)"
        key = {"carrier": carrier, "site": a["site"], None: "all"}[by]
        g = groups.setdefault(key, {"d": [], "ot": [], "if": [], "x": []})
        if o.delivered_at is not None and start <= o.delivered_at < t:
            on_time = o.delivered_at <= datetime.fromisoformat(a["promised_delivery_at"])
            g["ot"].append(float(on_time))
            g["if"].append(float(bool(o.in_full)))
            g["d"].append(float(on_time and bool(o.in_full)))
        if start <= o.released_at < t:
            g["x"].append(float(oid in with_exc))

    def mean(xs: list[float]) -> float | None:
        return sum(xs) / len(xs) if xs else None

    return {
        k: {
            "otif": mean(g["d"]),
            "on_time_rate": mean(g["ot"]),
            "in_full_rate": mean(g["if"]),
            "exception_rate": mean(g["x"]),
        }
        for k, g in groups.items()
        if g["d"] or g["x"]
    }


@pytest.mark.parametrize("seed", [11, 12])
def test_order_kpis_match_a_replay_at_any_time(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    events = order_stream(rng, n_orders=60)
    db = _ingest_in_runs(tmp_path, events, 2)
    times = sorted(datetime.fromisoformat(e["occurred_at"]) for e in events)
    probes = [times[0], times[-1], *rng.sample(times, 6)]
    probes += [times[len(times) // 2] + timedelta(seconds=1), times[-1] + timedelta(days=9)]
    con = duckdb.connect(str(db), read_only=True)
    compared = 0
    try:
        for t in probes:
            for days in (3, 7):
                win = Window(t, t - timedelta(days=days))
                for by in (None, "carrier", "site"):
                    got = compute(con, win, by=by)
                    want = _expected(events, win, by)
                    if by is not None:  # no other group has an order KPI
                        others = got.filter(~got[by].is_in(list(want)))
                        assert others["otif"].is_null().all(), (t, by)
                        assert others["exception_rate"].is_null().all(), (t, by)
                    for key, kpis in want.items():
                        row = got.filter(got[by] == key) if by else got
                        assert row.height == 1, (t, by, key)
                        for name, value in kpis.items():
                            actual = row[name][0]
                            if value is None:
                                assert actual is None, (t, by, key, name)
                            else:
                                assert actual == pytest.approx(value), (t, by, key, name)
                            compared += 1
    finally:
        con.close()
    assert compared > 100


def tie_stream(rng: random.Random, n_orders: int = 40) -> list[dict]:
    """Orders whose milestones share few distinct times (so many ties), in random
    arrival order: re-releases with other attributes, shipments with and without
    carrier, re-deliveries, invoices."""
    events: list[dict] = []
    for i in range(n_orders):
        oid = f"O-{i}"
        start = T0 + timedelta(hours=rng.randrange(0, 24 * 5))
        times = [start + timedelta(hours=h) for h in (0, 0, 2, 5)]
        for k in range(rng.choice([1, 2, 2, 3])):
            events.append(
                released(
                    oid,
                    rng.choice(times[:3]),
                    iso(start + timedelta(days=rng.randrange(1, 4))),
                    site=rng.choice(["DC-ATL", "DC-DAL"]),
                    origin=rng.choice(["ATL", "DAL"]),
                    destination=rng.choice(["MIA", "BOS"]),
                    tier=rng.choice(["strategic", "key", "standard"]),
                    value=float(rng.randrange(10, 900)),
                    customer_id=f"C-{i}-{k}",
                    lines=rng.randrange(1, 9),
                    **({"carrier": rng.choice(["ACME", "ZIP"])} if rng.random() < 0.4 else {}),
                )
            )
        for _ in range(rng.choice([0, 1, 2, 3])):
            extra = {"carrier": rng.choice(["ACME", "ZIP", "FAST"])} if rng.random() < 0.7 else {}
            events.append(ev("order.shipped", oid, rng.choice(times[1:]), **extra))
        for _ in range(rng.choice([0, 1, 2, 3])):
            events.append(
                ev("order.delivered", oid, rng.choice(times[2:]), in_full=rng.random() < 0.5)
            )
        for _ in range(rng.choice([0, 1, 2])):
            events.append(ev("order.invoiced", oid, rng.choice(times[2:])))
    events.append(ev("order.shipped", "O-never-released", T0, carrier="ZIP"))
    rng.shuffle(events)
    return events


def _orders_replay(events: list[dict]) -> dict[str, dict]:
    """The ``orders`` view straight from the events: latest by time, ties by arrival."""
    out: dict[str, dict] = {}
    keyed = sorted(
        ((datetime.fromisoformat(e["occurred_at"]), i, e) for i, e in enumerate(events)),
        key=lambda x: (x[0], x[1]),
    )
    ship_carrier: dict[str, str] = {}
    for at, _, e in keyed:
        oid, kind = e["order_id"], e["event_type"]
        o = out.setdefault(oid, {"order_id": oid, "released_at": None, "release": None})
        if kind == "order.released":
            o["released_at"] = o["released_at"] or at
            o["release"] = e
        elif kind == "order.shipped":
            o["shipped_at"] = at
            if e.get("carrier"):
                ship_carrier[oid] = e["carrier"]
        elif kind == "order.delivered":
            o["delivered_at"], o["in_full"] = at, e["in_full"]
        elif kind == "order.invoiced":
            o["invoiced_at"] = at
    rows = {}
    for oid, o in out.items():
        r = o.pop("release") or {}
        row = {
            "order_id": oid,
            "site": r.get("site"),
            "origin": r.get("origin"),
            "destination": r.get("destination"),
            "lane": f"{r['origin']}→{r['destination']}" if r else None,
            "carrier": r.get("carrier") or ship_carrier.get(oid) or "(none)",
            "customer_tier": r.get("customer_tier"),
            "customer_id": r.get("customer_id"),
            "order_value": r.get("order_value"),
            "currency": r.get("currency"),
            "order_value_reporting": r.get("order_value"),  # USD: the reporting currency
            "promised_delivery_at": (
                datetime.fromisoformat(r["promised_delivery_at"]) if r else None
            ),
            "lines": r.get("lines"),
        }
        for k in ("released_at", "shipped_at", "delivered_at", "in_full", "invoiced_at"):
            row[k] = o.get(k)
        rows[oid] = row
    return rows


@pytest.mark.parametrize("seed", [21, 22])
def test_the_orders_view_folds_like_order_state_ties_by_arrival(tmp_path: Path, seed: int) -> None:
    events = tie_stream(random.Random(seed))
    db = _ingest_in_runs(tmp_path, events, 2)  # the second run's lines arrive later
    view = {r["order_id"]: r for r in table(db, "SELECT * FROM orders").to_dicts()}
    assert view == _orders_replay(events)
    same = table(
        db,
        """SELECT count(*) FILTER (o.site IS NOT DISTINCT FROM s.site
                                   AND o.lane IS NOT DISTINCT FROM s.lane
                                   AND o.carrier = coalesce(s.carrier, s.ship_carrier, '(none)')
                                   AND o.customer_tier IS NOT DISTINCT FROM s.customer_tier
                                   AND o.promised_delivery_at
                                       IS NOT DISTINCT FROM s.promised_delivery_at
                                   AND o.released_at IS NOT DISTINCT FROM s.released_at
                                   AND o.delivered_at IS NOT DISTINCT FROM s.delivered_at
                                   AND o.in_full IS NOT DISTINCT FROM s.in_full) AS same,
                  count(*) AS n, (SELECT count(*) FROM order_state) AS orders
           FROM orders o JOIN order_state s USING (order_id)""",
    ).row(0)
    assert same[0] == same[1] == same[2] == len(view)
    same_time = Counter(
        (e["event_type"], e["order_id"], e["occurred_at"])
        for e in events
        if e["event_type"] in ("order.released", "order.delivered")
    )
    ties = sum(1 for n in same_time.values() if n > 1)
    assert ties > 10  # the stream does exercise the tie-break


def _as_of_rows(con: duckdb.DuckDBPyConnection, t: datetime, *, firsts: bool) -> list[tuple]:
    sql = working_set.orders("'all'", "TRUE", firsts=firsts)
    query = f"WITH {sql} SELECT * FROM o ORDER BY order_id"  # noqa: S608 - constants
    return fetch_pl(con, query, {"t": t, "from": t - timedelta(days=7)}).rows()


@pytest.mark.parametrize("stream", ["orders", "ties"])
def test_straddling_orders_read_from_their_rows_equal_a_full_replay(
    tmp_path: Path, stream: str
) -> None:
    """As of any T, the orders read from ``order_state`` with T (``direct``)
    and the few replayed give exactly what replaying every order with events
    on both sides of T gives; both paths are taken."""
    rng = random.Random(31)
    events = order_stream(rng, 60) if stream == "orders" else tie_stream(rng, 60)
    db = _ingest_in_runs(tmp_path, events, 2)
    times = sorted({datetime.fromisoformat(e["occurred_at"]) for e in events})
    probes = [*times, *(t + timedelta(seconds=1) for t in times), times[0] - timedelta(1)]
    paths: Counter[str] = Counter()
    con = duckdb.connect(str(db), read_only=True)
    try:
        for t in probes:
            assert _as_of_rows(con, t, firsts=True) == _as_of_rows(con, t, firsts=False), t
            straddling = con.execute(
                f"SELECT {NEEDS_REPLAY} FROM order_state "  # noqa: S608 - constants
                "WHERE last_event_at > $t AND released_at <= $t",
                {"t": t},
            ).fetchall()
            paths.update("replayed" if r[0] else "direct" for r in straddling)
    finally:
        con.close()
    assert paths["direct"] > 50 and paths["replayed"] > 10, paths


def test_first_times_are_backfilled_when_a_database_is_upgraded(tmp_path: Path) -> None:
    db = _ingest_in_runs(tmp_path, tie_stream(random.Random(7)), 2)
    con = duckdb.connect(str(Layout(db).store))  # the writer's store
    try:
        before = con.sql(STATE).pl().rows()
        assert any(r[-1] is not None for r in before) and any(r[-2] is not None for r in before)
        con.execute("ALTER TABLE order_state DROP COLUMN first_delivered_at")
        con.execute("ALTER TABLE order_state DROP COLUMN first_ship_at")
        init_schema(con)
        assert con.sql(STATE).pl().rows() == before
    finally:
        con.close()

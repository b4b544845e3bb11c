"""The catalog declares every KPI of kpis.md once; everything else is derived from it.

* every KPI name of kpis.md is declared, and nothing else;
* the generated SQL of each KPI, run alone, gives what ``fpi kpis`` prints;
* the null rule of kpis.md ("over an empty set counts and sums are 0; means,
  quantiles and shares are null") holds for every KPI;
* golden files hold the generated SQL, so a change to a definition shows up in
  review (``FPI_UPDATE_GOLDEN=1 pytest tests/metrics/test_catalog.py`` rewrites them).
"""

from __future__ import annotations

import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from core.db import open_read
from metrics import query, series, sla_clock, working_set
from metrics.catalog import BY_NAME, CATALOG, kpi
from metrics.explain import explain
from metrics.query import compute, kpi_statement, window
from tests.streams import ev, ingest_events, opened, released, worked_example

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "kpis.md"
GOLDEN = Path(__file__).with_name("golden")
T = datetime(2026, 5, 5, 10, tzinfo=UTC)


def _spec() -> str:
    assert SPEC.exists(), f"{SPEC} is missing: shared/ must sit beside the repository"
    return SPEC.read_text()


def test_every_kpi_of_the_spec_is_declared_and_every_declared_one_is_in_the_spec() -> None:
    text = _spec()
    in_tables = {
        name
        for cell in re.findall(r"^\| ([^|]*`[a-z0-9_]+`[^|]*) \|", text, flags=re.M)
        for name in re.findall(r"`([a-z0-9_]+)`", cell)
    }
    in_prose = {  # the order and data-quality KPIs are defined in sentences
        "otif",
        "on_time_rate",
        "in_full_rate",
        "exception_rate",
        "accepted_events",
        "duplicate_events",
        "rejected_events",
        "pending_events",
    }
    assert (in_tables | in_prose) - set(BY_NAME) == set()
    assert set(BY_NAME) - set(re.findall(r"`([a-z0-9_]+)`", text)) == set()


def test_names_are_unique_and_described() -> None:
    assert len(BY_NAME) == len(CATALOG)
    for k in CATALOG:
        assert k.label and k.definition and k.good in ("up", "down", "neutral")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = datetime(2026, 5, 4, tzinfo=UTC)
    h = timedelta(hours=1)
    events = [
        *worked_example(),
        opened("X-2", d + 9 * h, order_id="SO-X-1", value=250.0, severity="critical"),
        ev("exception.touched", "X-2", d + 10 * h, human=True, action="call"),
        released("SO-X-1", d + 7 * h, "2026-05-05T12:00:00Z"),
        ev("order.delivered", "SO-X-1", d + 20 * h, in_full=True),
        released("SO-9", d + 8 * h, "2026-05-04T12:00:00Z", carrier="ZIP"),
        ev("order.delivered", "SO-9", d + 30 * h, in_full=False),
        opened("X-3", d + 6 * h, order_id="SO-9", tier="standard", carrier=None),
        ev("exception.escalated", "X-3", d + 7 * h, level=2),
        ev("exception.resolved", "X-3", d + 30 * h, resolution_code="fixed", human=False),
        opened("X-4", d + 6 * h, severity="low"),
        ev("exception.cancelled", "X-4", d + 8 * h),
        "not json",
    ]
    path, _ = ingest_events(tmp_path_factory.mktemp("cat"), events)
    return path


@pytest.mark.parametrize("name", list(BY_NAME))
def test_each_kpis_sql_alone_gives_what_fpi_kpis_prints(db: Path, name: str) -> None:
    k = kpi(name)
    with open_read(db) as con:
        win = window(con, T)
        assert win is not None
        expected = query.kpis(con, T).row(0, named=True)[name]
        params: dict[str, object] = {}
        sql = kpi_statement(k)
        if k.measure.source in ("exceptions", "at_risk_orders"):
            sql, params = sla_clock.prepare(con, sql, {"t": win.as_of, "from": win.start})
        elif k.measure.source == "orders":
            params = {"t": win.as_of, "from": win.start}
        rows = con.execute(sql, params).fetchall()
    got = rows[0][-1] if rows else None  # no row at all: an empty set
    if got is None and not k.nullable:
        got = 0
    if expected is None:
        assert got is None
    else:
        assert got == pytest.approx(expected)
    assert expected is not None  # the scenario gives every KPI a value


def test_over_an_empty_set_counts_and_sums_are_0_the_rest_null(db: Path) -> None:
    with open_read(db) as con:
        long_ago = datetime(2020, 1, 1, tzinfo=UTC)
        row = compute(con, window(con, long_ago)).row(0, named=True)  # type: ignore[arg-type]
    for k in CATALOG:
        if k.kind == "quality":
            continue
        if k.nullable:
            assert row[k.name] is None, k.name
        else:
            assert row[k.name] == 0 and isinstance(row[k.name], int if k.integer else float), k.name


def test_explain_prints_the_definition_and_its_sql() -> None:
    text = explain("sla_adherence")
    assert kpi("sla_adherence").definition in text
    assert "FILTER (is_res) AS sla_adherence" in text
    with pytest.raises(ValueError, match="unknown KPI"):
        explain("nope")


def _golden_sql() -> dict[str, str]:
    out = {
        "kpis_exceptions.sql": "WITH "
        + working_set.exceptions_at("'all'", "TRUE")
        + ",\n"
        + query.exception_kpis_sql(),
        "kpis_orders.sql": "WITH "
        + working_set.orders("'all'", "TRUE")
        + "\n"
        + query.order_kpis_sql(),
        "trend.sql": "WITH "
        + working_set.exceptions(series.GRID_VERSIONS, "t", "TRUE", materialized=True)
        + ",\n"
        + query.exception_kpis_sql(helpers=False),
    }
    out["each_kpi.sql"] = "\n\n".join(f"-- {k.name}\n{kpi_statement(k)};" for k in CATALOG)
    return {name: sql.rstrip() + "\n" for name, sql in out.items()}


@pytest.mark.parametrize("name", sorted(_golden_sql()))
def test_generated_sql_matches_its_golden_file(name: str) -> None:
    sql = _golden_sql()[name]
    path = GOLDEN / name
    if os.environ.get("FPI_UPDATE_GOLDEN"):
        path.write_text(sql)
    assert path.exists(), f"no golden file {path}: run with FPI_UPDATE_GOLDEN=1 once"
    assert sql == path.read_text(), (
        f"the generated SQL of {name} changed: review it, then FPI_UPDATE_GOLDEN=1 to accept"
    )

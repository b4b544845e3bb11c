"""Outside truth: the two public logs of ``../shared/datasets`` through ``fpi import``.

* ServiceNow (UCI 498): fpi's ``reopen_rate`` over all 24,918 incidents equals the
  log's own ``reopen_count`` (share of incidents whose last row has
  ``reopen_count`` > 0: 275 / 24,918, recomputed here from the file), and every
  incident ends resolved.
* BPIC 2013: ``mttr_hours`` and ``p50_resolution_hours`` over the 7,546 cases
  that end Completed equal PM4Py's mean and median case duration
  (``pm4py.get_all_case_durations``: 290.0627 h and 181.1892 h; PM4Py is not a
  dependency, the figures are the issue's).

The datasets live beside the clone (``<repo>/../shared/datasets``, as in CI); if
they are missing these tests fail, they do not skip.
"""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import load_settings
from core.db import open_read
from flows.imports import import_into, load_mapping
from metrics.query import kpis
from tests.streams import fixed_clock, table

REPO = Path(__file__).resolve().parents[3]
DATASETS = (REPO / ".." / "shared" / "datasets").resolve()
MAPPINGS = REPO / "sample_streams" / "mappings"
SERVICENOW = DATASETS / "incident_event_log.zip"
BPIC = DATASETS / "07_bpic2013_incidents.xes.gz"

EVER = datetime(2000, 1, 1, tzinfo=UTC)
AFTER = datetime(2020, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.slow


def dataset(path: Path) -> Path:
    if not path.is_file():
        pytest.fail(
            f"public dataset missing: {path} (CI keeps a copy of shared/ beside the clone; "
            "see ../shared/datasets/README.md)"
        )
    return path


def run_import(tmp: Path, source: Path, mapping: str) -> tuple[Path, float]:
    db = tmp / f"{mapping}.duckdb"
    summary, ingested = import_into(
        dataset(source),
        load_mapping(MAPPINGS / f"{mapping}.toml"),
        db,
        load_settings(),
        fixed_clock,
    )
    print(f"\n{summary.line()}\n{ingested.line()}")
    assert ingested.after.rejected == 0 and ingested.after.pending == 0
    assert ingested.after.accepted == summary.events
    return db, summary.rows_per_second


@pytest.fixture(scope="module")
def servicenow(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db, _ = run_import(tmp_path_factory.mktemp("sn"), SERVICENOW, "servicenow_uci")
    return db


@pytest.fixture(scope="module")
def bpic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db, _ = run_import(tmp_path_factory.mktemp("bpic"), BPIC, "bpic2013")
    return db


def flow_kpis(db: Path) -> dict:
    with open_read(db) as con:
        return kpis(con, AFTER, EVER).to_dicts()[0]


def logs_own_reopen_share() -> tuple[int, int]:
    """(incidents with reopen_count > 0 on their last row, incidents), from the CSV itself."""
    last: dict[str, int] = {}
    with zipfile.ZipFile(SERVICENOW) as z, z.open("incident_event_log.csv") as raw:
        rows = csv.reader(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
        header = next(rows)
        number, reopens = header.index("number"), header.index("reopen_count")
        for row in rows:
            last[row[number]] = int(row[reopens])
    return sum(1 for n in last.values() if n > 0), len(last)


def test_servicenow_reopen_rate_equals_the_logs_reopen_count(servicenow: Path) -> None:
    reopened, incidents = logs_own_reopen_share()
    assert (reopened, incidents) == (275, 24_918)
    k = flow_kpis(servicenow)
    assert k["resolved"] == incidents
    assert k["reopen_rate"] == pytest.approx(reopened / incidents, abs=1e-12)
    per_incident = table(
        servicenow, "SELECT count(*) FILTER (WHERE reopen_count > 0) AS n FROM exceptions"
    )["n"][0]
    assert per_incident == 275


def test_servicenow_every_incident_ends_resolved(servicenow: Path) -> None:
    status = dict(table(servicenow, "SELECT status, count(*) FROM exceptions GROUP BY 1").rows())
    assert status == {"resolved": 24_918}
    assert flow_kpis(servicenow)["open_exceptions"] == 0


def test_bpic2013_resolution_times_equal_pm4py_case_durations(bpic: Path) -> None:
    k = flow_kpis(bpic)
    assert k["resolved"] == 7_546
    assert k["opened"] == 7_554
    assert k["open_exceptions"] == 8  # the traces that do not end Completed
    assert k["mttr_hours"] == pytest.approx(290.0627, abs=5e-5)
    assert k["p50_resolution_hours"] == pytest.approx(181.1892, abs=5e-5)

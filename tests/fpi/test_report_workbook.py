"""``fpi report --out X.xlsx`` read back as Excel would: the workbook's XML (sheets,
shared strings, number formats, frozen panes, charts), values equal to ``fpi kpis``.

No spreadsheet library is installed (openpyxl, fastexcel), so :func:`read_xlsx`
parses the Office Open XML parts with ``zipfile`` and ``ElementTree``.
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from core.timeutil import parse_time
from fpi.cli import main
from metrics.catalog import BY_NAME
from tests.dashboard.scenario import hostile_db, sample_db

M = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PR = "{http://schemas.openxmlformats.org/package/2006/relationships}"
BUILTIN_FORMATS = {0: "General", 1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 9: "0%", 10: "0.00%"}
SHEETS = [
    "Summary",
    "KPIs",
    "Trends",
    "Bottlenecks – lane",
    "Bottlenecks – site",
    "Bottlenecks – carrier",
    "Bottlenecks – root cause",
    "Open exceptions",
    "Data quality",
    "Definitions",
]
FORMATS = {
    "share": "0.0%",
    "currency": '"USD "#,##0.00',
    "hours": '#,##0.0" h"',
    "count": "#,##0",
    "touches": "0.00",
}
FROM = "2026-05-07T12:00:00Z"


@dataclass(frozen=True)
class Cell:
    value: Any
    fmt: str
    kind: str  # "s" shared string, "n" number, "b" boolean, "str" formula result
    formula: bool


@dataclass(frozen=True)
class Sheet:
    cells: dict[tuple[int, int], Cell]
    xml: ET.Element
    rels: dict[str, str]

    def at(self, row: int, col: int) -> Cell | None:
        """1-based row and column, as Excel numbers them."""
        return self.cells.get((row, col))

    def row(self, row: int) -> list[Any]:
        cols = sorted(c for r, c in self.cells if r == row)
        return [self.cells[(row, c)].value for c in cols]

    def frozen(self) -> tuple[int, int] | None:
        pane = self.xml.find(f"{M}sheetViews/{M}sheetView/{M}pane")
        if pane is None or pane.get("state") != "frozen":
            return None
        return int(float(pane.get("ySplit", "0"))), int(float(pane.get("xSplit", "0")))


def _ref(ref: str) -> tuple[int, int]:
    m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    assert m is not None
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)), col


def _xml(z: zipfile.ZipFile, name: str) -> ET.Element:
    return ET.fromstring(z.read(name))  # noqa: S314 - a file we just wrote


def _rels(z: zipfile.ZipFile, part: str) -> dict[str, str]:
    folder, name = part.rsplit("/", 1)
    path = f"{folder}/_rels/{name}.rels"
    if path not in z.namelist():
        return {}
    return {r.get("Id", ""): r.get("Target", "") for r in _xml(z, path).iter(f"{PR}Relationship")}


def read_xlsx(path: Path) -> tuple[dict[str, Sheet], zipfile.ZipFile]:
    """Every sheet of the workbook by name (in order), with values and number formats."""
    z = zipfile.ZipFile(path)
    shared = [
        "".join(t.text or "" for t in si.iter(f"{M}t"))
        for si in _xml(z, "xl/sharedStrings.xml").iter(f"{M}si")
    ]
    styles = _xml(z, "xl/styles.xml")
    codes = dict(BUILTIN_FORMATS)
    for nf in styles.iter(f"{M}numFmt"):
        codes[int(nf.get("numFmtId", "0"))] = nf.get("formatCode", "")
    xfs = [int(xf.get("numFmtId", "0")) for xf in styles.find(f"{M}cellXfs") or []]
    book_rels = _rels(z, "xl/workbook.xml")
    sheets: dict[str, Sheet] = {}
    for s in _xml(z, "xl/workbook.xml").iter(f"{M}sheet"):
        part = "xl/" + book_rels[s.get(f"{R}id", "")]
        root = _xml(z, part)
        cells: dict[tuple[int, int], Cell] = {}
        for c in root.iter(f"{M}c"):
            kind = c.get("t", "n")
            v = c.find(f"{M}v")
            raw = v.text if v is not None else None
            value: Any = raw
            if raw is not None and kind == "s":
                value = shared[int(raw)]
            elif raw is not None and kind == "n":
                value = float(raw)
            elif raw is not None and kind == "b":
                value = raw == "1"
            fmt = codes[xfs[int(c.get("s", "0"))]]
            cells[_ref(c.get("r", ""))] = Cell(value, fmt, kind, c.find(f"{M}f") is not None)
        sheets[s.get("name", "")] = Sheet(cells, root, _rels(z, part))
    return sheets, z


def _quiet(argv: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    return buf.getvalue()


def kpis(db: Path, *args: str) -> dict[str, Any]:
    """``fpi kpis --format json`` for the same options: the one row."""
    rows = json.loads(_quiet(["kpis", "--db", str(db), "--format", "json", *args]))
    assert len(rows) == 1
    return dict(rows[0])


def report(db: Path, out: Path, *args: str) -> Path:
    _quiet(["report", "--db", str(db), "--out", str(out), *args])
    return out


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Sheet]:
    """The sample's report with the default period (its previous period has no data)."""
    out = report(sample_db(), tmp_path_factory.mktemp("xlsx") / "report.xlsx")
    return read_xlsx(out)[0]


@pytest.fixture(scope="module")
def compared(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Sheet], zipfile.ZipFile]:
    """The sample's report from 05-07 12:00 (its previous period has data)."""
    out = report(sample_db(), tmp_path_factory.mktemp("xlsx") / "r.xlsx", "--from", FROM)
    return read_xlsx(out)


def _kpi_rows(sheet: Sheet) -> dict[str, int]:
    """KPI name (column J) -> row of the KPIs sheet."""
    return {
        str(c.value): r for (r, col), c in sheet.cells.items() if col == 10 and r > 1 and c.value
    }


def test_one_sheet_per_section_with_human_headers(plain: dict[str, Sheet]) -> None:
    assert list(plain) == SHEETS
    for name in SHEETS[1:]:
        header = plain[name].row(1)
        assert header, name
        assert all(isinstance(h, str) and h and "_" not in h for h in header), (name, header)
    assert plain["KPIs"].row(1)[:7] == [
        "KPI",
        "Value",
        "Previous period",
        "Change",
        "Target",
        "Warning",
        "Status",
    ]


def test_kpi_values_and_number_formats_equal_fpi_kpis(plain: dict[str, Sheet]) -> None:
    expected = kpis(sample_db())
    sheet = plain["KPIs"]
    rows = _kpi_rows(sheet)
    assert set(rows) == {k for k in expected if k in BY_NAME and BY_NAME[k].kind != "quality"}
    for name, r in rows.items():
        kpi = BY_NAME[name]
        label, value = sheet.at(r, 1), sheet.at(r, 2)
        assert label is not None and label.value == kpi.label
        if expected[name] is None:
            assert value is None, name  # an empty cell, never "None"
            continue
        assert value is not None and value.kind == "n", name
        assert value.value == pytest.approx(expected[name], rel=1e-12), name
        assert value.fmt == FORMATS[kpi.unit], name


def test_an_empty_previous_period_reads_no_data(plain: dict[str, Sheet]) -> None:
    sheet = plain["KPIs"]
    for r in _kpi_rows(sheet).values():
        prev, change = sheet.at(r, 3), sheet.at(r, 4)
        assert prev is not None and prev.value == "no data"
        value = sheet.at(r, 2)
        if value is not None:
            assert change is not None and change.value == "no data"


def test_changes_are_numbers_against_the_previous_period(
    compared: tuple[dict[str, Sheet], zipfile.ZipFile],
) -> None:
    now = kpis(sample_db(), "--from", FROM)
    start, end = parse_time(FROM), parse_time(now["as_of"])
    before = kpis(sample_db(), "--as-of", FROM, "--from", (start - (end - start)).isoformat())
    sheet = compared[0]["KPIs"]
    for name, r in _kpi_rows(sheet).items():
        prev, change = sheet.at(r, 3), sheet.at(r, 4)
        unit = BY_NAME[name].unit
        if before[name] is None:
            assert prev is None
            continue
        assert prev is not None and prev.value == pytest.approx(before[name], rel=1e-12)
        if now[name] is None:
            continue
        assert change is not None and change.kind == "n", name
        d = now[name] - before[name]
        assert change.value == pytest.approx(d * 100 if unit == "share" else d, abs=1e-9), name
        assert change.fmt.startswith("+"), change.fmt  # signed
        if unit == "share":
            assert change.fmt == '+0.0" pp";-0.0" pp";0.0" pp"'
    sla = sheet.at(_kpi_rows(sheet)["sla_adherence"], 7)
    assert sla is not None and sla.value == "Off target"


def test_targets_are_numbers_in_the_kpis_unit(plain: dict[str, Sheet]) -> None:
    sheet = plain["KPIs"]
    r = _kpi_rows(sheet)["sla_adherence"]
    goal, warning = sheet.at(r, 5), sheet.at(r, 6)
    assert goal is not None and goal.value == pytest.approx(0.9) and goal.fmt == "0.0%"
    assert warning is not None and warning.value == pytest.approx(0.85)
    r = _kpi_rows(sheet)["mttr_hours"]
    goal = sheet.at(r, 5)
    assert goal is not None and goal.value == 12 and goal.fmt == '#,##0.0" h"'
    no_target = sheet.at(_kpi_rows(sheet)["open_exceptions"], 7)
    assert no_target is not None and no_target.value == "No target"


def test_header_rows_are_frozen(plain: dict[str, Sheet]) -> None:
    for name in SHEETS[1:]:
        frozen = plain[name].frozen()
        assert frozen is not None and frozen[0] == 1, name


def test_trend_times_are_excel_datetimes_in_utc(plain: dict[str, Sheet]) -> None:
    expected = parse_time(kpis(sample_db())["as_of"])
    sheet = plain["Trends"]
    last = max(r for r, _ in sheet.cells)
    cell = sheet.at(last, 1)
    assert cell is not None and cell.fmt == 'yyyy-mm-dd hh:mm" UTC"'
    excel_epoch = datetime(1899, 12, 30, tzinfo=UTC)
    assert abs(excel_epoch + timedelta(days=cell.value) - expected) < timedelta(milliseconds=1)
    header = sheet.row(1)
    sla = sheet.at(2, header.index("SLA adherence") + 1)
    assert sla is None or sla.fmt == "0.0%"


def test_bottleneck_sheets_equal_fpi_bottlenecks(plain: dict[str, Sheet]) -> None:
    rows = json.loads(
        _quiet(["bottlenecks", "--db", str(sample_db()), "--by", "carrier", "--format", "json"])
    )
    sheet = plain["Bottlenecks – carrier"]
    header = sheet.row(1)
    assert header[:4] == ["Carrier", "Rank", "SLA overrun (h)", "Share of overrun"]
    assert header[-1] == "Revenue at risk (USD)"
    for i, expected in enumerate(rows[:10], start=2):
        assert sheet.row(i)[0] == expected["carrier"]
        overrun, share, money = sheet.at(i, 3), sheet.at(i, 4), sheet.at(i, 9)
        assert overrun is not None and overrun.value == pytest.approx(expected["sla_overrun_hours"])
        assert share is not None and share.value == pytest.approx(expected["share_of_overrun"])
        assert share.fmt == "0.0%" and overrun.fmt == '#,##0.0" h"'
        assert money is not None and money.fmt == '"USD "#,##0.00'
    root_cause = plain["Bottlenecks – root cause"]
    assert root_cause.row(2)[0] == "Missed pickup"  # a label, not missed_pickup


def test_native_charts_for_trends_and_bottlenecks(
    compared: tuple[dict[str, Sheet], zipfile.ZipFile],
) -> None:
    sheets, z = compared
    charts = sorted(n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n))
    assert len(charts) == 7  # 3 trend charts on the summary, one bar chart per dimension
    kinds = [
        tag
        for c in charts
        for tag in (e.tag.split("}")[1] for e in _xml(z, c).iter())
        if tag in ("barChart", "lineChart", "areaChart")
    ]
    assert sorted(kinds) == ["areaChart", *["barChart"] * 4, "lineChart", "lineChart"]
    for name in ("Summary", "Bottlenecks – lane"):
        assert any("drawings/" in t for t in sheets[name].rels.values()), name
    text = z.read(charts[0]).decode()
    assert "Trends" in text  # series read the Trends sheet


def test_summary_says_the_headline_and_period(plain: dict[str, Sheet]) -> None:
    sheet = plain["Summary"]
    headline = sheet.at(2, 1)
    assert headline is not None and str(headline.value).startswith("SLA adherence 70.2 %, 19.8 pp")
    labels = {c.value: sheet.at(r, 2) for (r, col), c in sheet.cells.items() if col == 1}
    assert labels["Filters"] is not None and labels["Filters"].value == "none (every exception)"
    assert labels["Reporting currency"] is not None and labels["Reporting currency"].value == "USD"
    as_of = labels["Period to (as of)"]
    assert as_of is not None and as_of.fmt == 'yyyy-mm-dd hh:mm" UTC"'


def test_where_filters_every_number(tmp_path: Path) -> None:
    out = report(sample_db(), tmp_path / "red.xlsx", "--where", "carrier=REDLINE")
    sheets, _ = read_xlsx(out)
    expected = kpis(sample_db(), "--where", "carrier=REDLINE")
    sheet = sheets["KPIs"]
    for name, r in _kpi_rows(sheet).items():
        cell = sheet.at(r, 2)
        if expected[name] is None:
            assert cell is None
        else:
            assert cell is not None and cell.value == pytest.approx(expected[name], rel=1e-12)
    summary = sheets["Summary"]
    filters = [summary.at(r, 2) for (r, c), v in summary.cells.items() if v.value == "Filters"]
    assert filters[0] is not None and filters[0].value == "Carrier = REDLINE"
    carrier = sheets["Bottlenecks – carrier"]
    assert carrier.row(2)[0] == "REDLINE" and carrier.at(3, 1) is None


def test_text_from_the_data_is_never_a_formula(tmp_path: Path) -> None:
    out = report(hostile_db(), tmp_path / "hostile.xlsx")
    sheets, z = read_xlsx(out)
    assert all(not c.formula for s in sheets.values() for c in s.cells.values())
    texts = [c.value for s in sheets.values() for c in s.cells.values() if c.kind == "s"]
    assert any(str(t).startswith("=HYPERLINK(") for t in texts)
    assert not any("<f>" in z.read(n).decode() for n in z.namelist() if n.endswith(".xml"))

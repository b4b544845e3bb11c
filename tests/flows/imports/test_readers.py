"""Reading logs: CSV plain / .gz / in a .zip, XES plain / .gz, positions and read errors."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest

from flows.imports import LogReader, LogReadError, MappingError, load_mapping, parse_mapping
from flows.imports.readers import infer_format
from tests.flows.imports.test_mapping import MINIMAL, with_

DATA = Path(__file__).resolve().parent / "data"
CSV = DATA / "handmade.csv"

XES = """<?xml version="1.0" encoding="UTF-8" ?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>
  <global scope="event"><string key="org:group" value="UNKNOWN"/></global>
  <float key="meta:std" value="7.6"><float key="Sue" value="0.3"/></float>
  <trace>
    <string key="concept:name" value="T-1"/>
    <event>
      <string key="concept:name" value="Accepted"/>
      <string key="org:group" value=" G1 "/>
      <list key="tags"><string key="x" value="nested, ignored"/></list>
      <date key="time:timestamp" value="2012-05-01T10:00:00+02:00"/>
    </event>
    <event>
      <string key="concept:name" value="Completed"/>
      <string key="org:group" value="UNKNOWN"/>
      <date key="time:timestamp" value="2012-05-01T11:00:00+02:00"/>
    </event>
  </trace>
  <trace>
    <event>
      <string key="concept:name" value="Queued"/>
      <int key="n" value="3"/>
      <date key="time:timestamp" value="2012-05-02T10:00:00.5+01:00"/>
    </event>
    <string key="concept:name" value="T-2"/>
  </trace>
</log>
"""


@pytest.fixture(scope="module")
def mapping():  # the hand-made log's mapping
    return load_mapping(DATA / "handmade.toml")


def rows(path: Path, m) -> list:
    with LogReader(path, m) as r:
        return [(r.where(row), row.cells, row.last) for row in r.rows()]


def test_csv_plain_gz_and_zip_give_the_same_rows(tmp_path: Path, mapping) -> None:
    plain = rows(CSV, mapping)
    gz = tmp_path / "handmade.csv.gz"
    gz.write_bytes(gzip.compress(CSV.read_bytes()))
    zp = tmp_path / "export.zip"
    with zipfile.ZipFile(zp, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(CSV, "handmade.csv")
    assert len(plain) == 19
    assert [c for _, c, _ in rows(gz, mapping)] == [c for _, c, _ in plain]
    in_zip = rows(zp, mapping)
    assert [c for _, c, _ in in_zip] == [c for _, c, _ in plain]
    assert in_zip[0][0] == "export.zip:handmade.csv line 2"


def test_csv_cells_are_stripped_and_missing_values_dropped(mapping) -> None:
    got = rows(CSV, mapping)
    where, first, last = got[0]
    assert where == "handmade.csv line 2" and last is None
    assert first["cause"] == "Inventory Shortfall" and "resolution" not in first  # "?"
    b = got[1][1]
    assert "created" not in b  # "n/a" is a missing value
    assert "comment" not in got[2][1]  # empty
    # a quoted cell with the delimiter, and one over two physical lines
    assert got[8][1]["comment"] == "called vendor; no answer"
    assert got[13][1]["comment"] == "customer\nconfirmed"
    assert got[13][0] == "handmade.csv line 16"  # the line the record ends on
    assert got[14][0] == "handmade.csv line 17"
    assert set(first) <= {c for _, c in mapping.columns()}  # only the columns it reads


def test_zip_with_several_files_needs_a_member(tmp_path: Path) -> None:
    zp = tmp_path / "two.zip"
    with zipfile.ZipFile(zp, "w") as z:
        z.writestr("a.csv", "id,t\n1,2020-01-01T00:00:00Z\n")
        z.writestr("b.csv", "id,t\n2,2020-01-01T00:00:00Z\n")
    with pytest.raises(MappingError, match="holds 2 files: set \\[input\\] member to one of a.csv"):
        LogReader(zp, parse_mapping(MINIMAL))
    m = parse_mapping(with_("input.member", "b.csv"))
    assert [c for _, c, _ in rows(zp, m)] == [{"id": "2", "t": "2020-01-01T00:00:00Z"}]
    with pytest.raises(MappingError, match="has no member 'c.csv'"):
        LogReader(zp, parse_mapping(with_("input.member", "c.csv")))


def test_a_column_not_in_the_header_is_named(tmp_path: Path) -> None:
    f = tmp_path / "log.csv"
    f.write_text("id,time\n1,2020-01-01T00:00:00Z\n")
    with pytest.raises(MappingError) as err:
        rows(f, parse_mapping(MINIMAL))
    assert str(err.value) == (
        "time.column names column 't', which log.csv does not have (its header: id, time)"
    )


def test_format_comes_from_the_name_or_the_mapping(tmp_path: Path) -> None:
    assert infer_format("a.CSV") == "csv" and infer_format("a.xes.gz") == "xes"
    assert infer_format("a.dat") is None
    f = tmp_path / "log.dat"
    f.write_text("id,t\n1,2020-01-01T00:00:00Z\n")
    with pytest.raises(MappingError, match='set \\[input\\] format = "csv" or "xes"'):
        LogReader(f, parse_mapping(MINIMAL))
    assert len(rows(f, parse_mapping(with_("input.format", "csv")))) == 1


def test_xes_rows_trace_attributes_and_last(tmp_path: Path) -> None:
    m = parse_mapping(with_("missing", ["UNKNOWN"]))
    plain = tmp_path / "log.xes"
    plain.write_text(XES)
    gz = tmp_path / "log.xes.gz"
    gz.write_bytes(gzip.compress(XES.encode()))
    got = rows(plain, m)
    assert [c for _, c, _ in rows(gz, m)] == [c for _, c, _ in got]
    assert got == [
        (
            "log.xes trace 1 event 1",
            {
                "case:concept:name": "T-1",
                "concept:name": "Accepted",
                "org:group": "G1",
                "time:timestamp": "2012-05-01T10:00:00+02:00",
            },
            False,
        ),
        (
            "log.xes trace 1 event 2",
            {
                "case:concept:name": "T-1",
                "concept:name": "Completed",
                "time:timestamp": "2012-05-01T11:00:00+02:00",
            },
            True,
        ),
        (
            "log.xes trace 2 event 1",  # trace attributes after the events still count
            {
                "case:concept:name": "T-2",
                "concept:name": "Queued",
                "n": "3",
                "time:timestamp": "2012-05-02T10:00:00.5+01:00",
            },
            True,
        ),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("bad.xes", b"<log><trace><event></trace></log>", "bad.xes: bad XML (mismatched tag"),
        ("cut.xes.gz", gzip.compress(XES.encode())[:-20], "cut.xes.gz: cannot read to the end"),
        ("bad.zip", b"PK not really", "not a readable zip file"),
        ("empty.csv", b"", "empty.csv: empty file"),
    ],
)
def test_unreadable_files_are_one_line_errors(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    f = tmp_path / name
    f.write_bytes(content)
    m = parse_mapping(with_("input.format", "xes" if ".xes" in name else "csv"))
    with pytest.raises(LogReadError) as err:
        rows(f, m)
    assert message in str(err.value)
    assert "\n" not in str(err.value)

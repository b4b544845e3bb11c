"""``fpi report`` on the command line: options as ``fpi kpis``, one-line errors (unknown
format, unwritable path, missing or failing Chromium, bad filters and targets), the
JSON, CSV and Markdown formats, an empty database, and ``render_report``."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from core.config import builtin_settings
from core.db import open_read
from core.timeutil import parse_time
from fpi.cli import main
from fpi.report import FORMATS, MEDIA_TYPES, render_report, write_report
from fpi.report.pdf import ChromiumError, find_chromium
from metrics.catalog import BY_NAME
from tests.dashboard.scenario import D0, empty_db, hand_db, hostile_db, sample_db

GEN = parse_time("2026-06-01T00:00:00Z")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def kpis(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> dict[str, Any]:
    code, out, _ = run(capsys, "kpis", "--db", str(db), "--format", "json", *args)
    assert code == 0
    return dict(json.loads(out)[0])


def one_line_error(err: str, message: str) -> None:
    assert err.startswith("fpi: error:") and err.count("\n") == 1, err
    assert message in err, err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--out", "{tmp}/r.docx"], 2, "unknown report format '.docx'; use .pdf, .xlsx, .html"),
        (["--out", "{tmp}/report"], 2, "unknown report format"),
        (["--out", "{tmp}/r.html", "--where", "planet=mars"], 2, "unknown dimension 'planet'"),
        (["--out", "{tmp}/r.html", "--where", "site"], 2, "--where needs DIM=VALUE"),
        (["--out", "{tmp}/r.html", "--as-of", "yesterday"], 2, "--as-of"),
        (
            ["--out", "{tmp}/r.html", "--as-of", "2026-05-04T00:00:00Z", "--from", "2026-05-05"],
            2,
            "is after the as-of time",
        ),
        (["--out", "{tmp}/afile/r.html"], 1, "afile"),  # a file where a folder should be
        (["--out", "{tmp}"], 2, "unknown report format"),  # a folder
    ],
)
def test_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    (tmp_path / "afile").write_text("not a folder")
    argv = [a.replace("{tmp}", str(tmp_path)) for a in args]
    got, out, err = run(capsys, "report", "--db", str(hand_db()), *argv)
    assert got == code, err
    one_line_error(err, message)
    assert out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # nothing half-written


def test_an_unwritable_folder_fails_before_any_work(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "taken.html"
    out.mkdir()  # a folder where the file should go
    code, _, err = run(capsys, "report", "--db", str(hand_db()), "--out", str(out))
    assert code == 1
    one_line_error(err, str(out))
    assert [p.name for p in tmp_path.iterdir()] == ["taken.html"]  # no temporary file left
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(stat.S_IRUSR | stat.S_IXUSR)
        code, _, err = run(capsys, "report", "--db", str(hand_db()), "--out", str(ro / "r.md"))
        assert code == 1
        one_line_error(err, "Permission denied")


def test_bad_targets_in_the_config_are_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = tmp_path / "fpi.toml"
    cfg.write_text("[targets.sla_adherence]\ngoal = 90\n")
    out = tmp_path / "r.html"
    code, _, err = run(
        capsys, "--config", str(cfg), "report", "--db", str(hand_db()), "--out", str(out)
    )
    assert code == 1
    one_line_error(err, "bad configuration at targets.sla_adherence.goal")
    assert not out.exists()


def test_missing_chromium_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "r.pdf"
    monkeypatch.setenv("FPI_CHROMIUM", str(tmp_path / "no-such-chromium"))
    code, _, err = run(capsys, "report", "--db", str(hand_db()), "--out", str(out))
    assert code == 1
    one_line_error(err, f"PDF export needs Chromium: FPI_CHROMIUM={tmp_path / 'no-such-chromium'}")
    monkeypatch.delenv("FPI_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = run(capsys, "report", "--db", str(hand_db()), "--out", str(out))
    assert code == 1
    one_line_error(err, "PDF export needs Chromium, which was not found on PATH")
    assert "FPI_CHROMIUM" in err
    assert list(tmp_path.iterdir()) == []


def test_a_failing_chromium_is_one_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = tmp_path / "chromium"
    fake.write_text("#!/bin/sh\necho 'dbus noise' >&2\necho 'no display, no luck' >&2\nexit 3\n")
    fake.chmod(0o755)
    monkeypatch.setenv("FPI_CHROMIUM", str(fake))
    out = tmp_path / "r.pdf"
    code, _, err = run(capsys, "report", "--db", str(hand_db()), "--out", str(out))
    assert code == 1
    one_line_error(err, "PDF export: Chromium failed (exit 3): no display, no luck")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chromium"]


def test_find_chromium_prefers_fpi_chromium(tmp_path: Path) -> None:
    fake = tmp_path / "my-chrome"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    assert find_chromium({"FPI_CHROMIUM": str(fake), "PATH": ""}) == str(fake)
    with pytest.raises(ChromiumError, match="not found on PATH"):
        find_chromium({"PATH": str(tmp_path / "empty")})


def test_json_report_equals_fpi_kpis_and_says_when_the_previous_period_has_no_data(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "r.json"
    code, printed, _ = run(capsys, "report", "--db", str(sample_db()), "--out", str(out))
    assert code == 0 and printed == f"report written to {out}\n"
    rep = json.loads(out.read_text())
    expected = kpis(capsys, sample_db())
    assert rep["as_of"] == expected["as_of"] and rep["period_from"] == expected["period_from"]
    assert rep["headline"] == {k: v for k, v in expected.items() if k in rep["headline"]}
    assert set(rep["headline"]) == {
        k for k in expected if k in BY_NAME and BY_NAME[k].kind != "quality"
    }
    assert rep["data_quality"]["rejected_events"] == expected["rejected_events"]
    assert rep["previous"]["has_data"] is False and rep["previous"]["kpis"] is None
    assert set(rep["changes"].values()) == {None}
    assert rep["targets"]["sla_adherence"] == {
        "goal": 0.9,
        "warning": 0.85,
        "direction": "up",
        "scope": "kpi",
        "status": "off_target",
    }
    assert rep["focus"]["groups"] == [
        {"dimension": "carrier", "value": "REDLINE"},
        {"dimension": "lane", "value": "ATL→MIA"},
    ]
    assert rep["summary"].startswith("SLA adherence 70.2 %, 19.8 pp under target; carrier")
    assert rep["trend"]["step_hours"] == 6 and rep["trend"]["points"][-1]["as_of"] == rep["as_of"]
    assert len(rep["top_open_exceptions"]) == 25
    assert rep["open_exceptions"] == expected["open_exceptions"]
    values = [r["order_value"] for r in rep["top_open_exceptions"]]
    assert values == sorted(values, reverse=True)


def test_json_report_with_where_and_a_previous_period(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    args = ["--from", "2026-05-07T12:00:00Z", "--where", "site=DC-ATL", "--where", "site=DC-CHI"]
    out = tmp_path / "r.json"
    assert run(capsys, "report", "--db", str(sample_db()), "--out", str(out), *args)[0] == 0
    rep = json.loads(out.read_text())
    now = kpis(capsys, sample_db(), *args)
    assert rep["headline"] == {k: now[k] for k in rep["headline"]}
    assert rep["where"] == {"site": ["DC-ATL", "DC-CHI"]}
    prev = rep["previous"]
    assert prev["has_data"] is True and prev["as_of"] == "2026-05-07T12:00:00Z"
    before = kpis(
        capsys, sample_db(), "--as-of", prev["as_of"], "--from", prev["period_from"], *args[2:]
    )
    assert prev["kpis"] == {k: before[k] for k in prev["kpis"]}
    d = rep["changes"]["open_exceptions"]
    assert d == now["open_exceptions"] - before["open_exceptions"] and isinstance(d, int)
    assert {r["site"] for r in rep["top_open_exceptions"]} <= {"DC-ATL", "DC-CHI"}


def test_markdown_and_csv(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    md, table = tmp_path / "r.md", tmp_path / "r.csv"
    for out in (md, table):
        assert run(capsys, "report", "--db", str(hostile_db()), "--out", str(out))[0] == 0
    text = md.read_text()
    assert "| Share of overrun |" in text and "share_of_overrun" not in text.split("## Appendix")[0]
    assert "None" not in text.split() and "| SLA adherence |" in text
    rows = list(csv.DictReader(io.StringIO(table.read_text())))
    assert {r["section"] for r in rows} >= {"headline", "bottlenecks", "data_quality"}
    groups = {r["group"] for r in rows if r["section"] == "bottlenecks"}
    assert '\'=HYPERLINK("https://evil.example","x")' in groups  # neutralised for spreadsheets
    assert not [g for g in groups if g.startswith(("=", "+", "-", "@"))]


def test_an_empty_database_gives_a_report_that_says_so(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    for suffix in (".json", ".md", ".html", ".xlsx", ".csv"):
        out = tmp_path / f"r{suffix}"
        code, _, err = run(capsys, "report", "--db", str(empty_db()), "--out", str(out))
        assert code == 0, err
        assert out.stat().st_size > 0
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["summary"] == "No data yet: the database holds no accepted events."
    assert rep["as_of"] is None and rep["headline"] == {}
    assert "No data yet" in (tmp_path / "r.html").read_text()


def test_render_report_gives_bytes_for_the_mail_code(tmp_path: Path) -> None:
    with open_read(hand_db()) as con:
        data = render_report(con, "json", None, D0, generated_at=GEN, where={"site": ["DC-ATL"]})
        xlsx = render_report(con, ".xlsx", generated_at=GEN, settings=builtin_settings())
        write_report(con, tmp_path / "deep" / "r.md", None, None, generated_at=GEN)
        with pytest.raises(ValueError, match="unknown report format"):
            render_report(con, "docx", generated_at=GEN)
    rep = json.loads(data)
    assert rep["where"] == {"site": ["DC-ATL"]} and rep["generated_at"] == "2026-06-01T00:00:00Z"
    assert xlsx.startswith(b"PK")
    assert (tmp_path / "deep" / "r.md").read_text().startswith("# Fulfillment exceptions")
    assert set(MEDIA_TYPES) == set(FORMATS)

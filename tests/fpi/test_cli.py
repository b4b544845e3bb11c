"""The `fpi` command line: formats, errors, idempotent ingest, report, schema."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from fpi.cli import main
from tests.streams import worked_example, write_jsonl


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    stream = write_jsonl(tmp / "w.jsonl", [*worked_example(), "oops"])
    assert main(["ingest", str(stream), "--db", str(tmp / "w.duckdb"), "--quiet"]) == 0
    return tmp / "w.duckdb"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_ingest_prints_one_summary_line_and_is_idempotent(tmp_path: Path, capsys) -> None:
    stream = write_jsonl(tmp_path / "w.jsonl", [*worked_example(), "oops"])
    code, out, _ = run(capsys, "ingest", str(stream), "--db", str(tmp_path / "x.duckdb"))
    assert code == 0
    assert out.count("\n") == 1
    assert "accepted 7 (+7), duplicates 1 (+1), rejected 1 (+1), pending 0" in out
    code, out, _ = run(capsys, "ingest", str(tmp_path), "--db", str(tmp_path / "x.duckdb"))
    assert code == 0
    assert "accepted 7 (+0), duplicates 1 (+0), rejected 1 (+0)" in out


def test_kpis_json_names_and_formats(db: Path, capsys) -> None:
    code, out, _ = run(
        capsys, "kpis", "--db", str(db), "--as-of", "2026-05-05T10:00:00Z", "--format", "json"
    )
    assert code == 0
    rows = json.loads(out)
    assert isinstance(rows, list) and len(rows) == 1
    r = rows[0]
    assert r["as_of"] == "2026-05-05T10:00:00Z"
    assert r["period_from"] == "2026-04-28T10:00:00Z"
    assert (r["open_exceptions"], r["aging_1_3d"], r["at_risk_open"]) == (1, 1, 1)
    assert r["sla_adherence"] is None
    assert (r["accepted_events"], r["duplicate_events"], r["rejected_events"]) == (7, 1, 1)


def test_kpis_by_dimension_names_the_group_column(db: Path, capsys) -> None:
    code, out, _ = run(
        capsys,
        "kpis",
        "--db",
        str(db),
        "--by",
        "lane",
        "--format",
        "json",
        "--from",
        "2026-05-01T00:00:00+02:00",
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["lane"] for r in rows] == ["ATL→MIA"]
    assert rows[0]["period_from"] == "2026-04-30T22:00:00Z"


def test_where_filters_and_csv(db: Path, capsys) -> None:
    code, out, _ = run(
        capsys,
        "kpis",
        "--db",
        str(db),
        "--where",
        "lane=ATL->MIA",
        "--where",
        "site=NOPE",
        "--format",
        "csv",
    )
    assert code == 0
    row = next(csv.DictReader(io.StringIO(out)))
    assert row["open_exceptions"] == "0"


def test_bottlenecks_json(db: Path, capsys) -> None:
    code, out, _ = run(
        capsys,
        "bottlenecks",
        "--db",
        str(db),
        "--by",
        "carrier",
        "--as-of",
        "2026-05-05T10:00:00Z",
        "--top",
        "3",
        "--format",
        "json",
    )
    assert code == 0
    rows = json.loads(out)
    assert rows[0]["carrier"] == "ACME" and rows[0]["rank"] == 1
    assert set(rows[0]) >= {
        "sla_overrun_hours",
        "share_of_overrun",
        "exceptions",
        "breach_rate",
        "mttr_hours",
        "avg_manual_touches",
        "revenue_at_risk",
    }


def test_table_format_is_readable(db: Path, capsys) -> None:
    code, out, _ = run(capsys, "kpis", "--db", str(db))
    assert code == 0 and "open_exceptions" in out


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["kpis", "--db", "/nonexistent/x.duckdb"], 1, "database not found"),
        (["kpis", "--db", "{db}", "--as-of", "yesterday"], 2, "not an RFC 3339 time"),
        (["kpis", "--db", "{db}", "--as-of", "2026-05-05T10:00:00"], 2, "no UTC offset"),
        (["kpis", "--db", "{db}", "--by", "planet"], 2, "unknown dimension"),
        (["kpis", "--db", "{db}", "--where", "site"], 2, "DIM=VALUE"),
        (
            [
                "kpis",
                "--db",
                "{db}",
                "--as-of",
                "2026-05-01T00:00:00Z",
                "--from",
                "2026-05-02T00:00:00Z",
            ],
            2,
            "is after",
        ),
        (["kpis", "--db", "{db}", "--as-of", "0001-01-01T00:00:00Z"], 2, "outside the supported"),
        (["kpis", "--db", "{db}", "--as-of", "9999-12-31T23:30:00-05:00"], 2, "outside the"),
        (["kpis", "--db", "{db}", "--from", "1900-01-01"], 2, "outside the supported range"),
        (
            ["bottlenecks", "--db", "{db}", "--by", "site", "--as-of", "0001-01-01T00:00:00Z"],
            2,
            "outside the supported range",
        ),
        (
            ["report", "--db", "{db}", "--out", "/tmp/x.md", "--as-of", "0001-01-01T00:00:00Z"],
            2,
            "outside the supported range",
        ),
        (
            ["bottlenecks", "--db", "{db}", "--by", "site", "--top", "99999999999999999999"],
            2,
            "--top must be between 1 and",
        ),
        (["bottlenecks", "--db", "{db}", "--by", "site", "--top", "0"], 2, "--top must be"),
        (["ingest", "/nonexistent.jsonl", "--db", "{db}"], 1, "input not found"),
        (["report", "--db", "{db}", "--out", "/tmp/x.docx"], 2, "unknown report format"),
    ],
)
def test_errors_are_one_clear_line(
    db: Path, capsys, argv: list[str], code: int, message: str
) -> None:
    got, out, err = run(capsys, *[a.replace("{db}", str(db)) for a in argv])
    assert got == code
    assert message in err
    assert err.count("\n") == 1 and err.startswith("fpi: error:")


def test_not_an_fpi_database(tmp_path: Path, capsys) -> None:
    import duckdb

    path = tmp_path / "other.duckdb"
    duckdb.connect(str(path)).close()
    code, _, err = run(capsys, "kpis", "--db", str(path))
    assert code == 1 and "not an fpi database" in err


@pytest.mark.parametrize("suffix", [".md", ".html", ".json", ".csv"])
def test_report_formats(db: Path, tmp_path: Path, capsys, suffix: str) -> None:
    out = tmp_path / f"report{suffix}"
    code, _, _ = run(capsys, "report", "--db", str(db), "--out", str(out))
    assert code == 0
    text = out.read_text()
    assert "revenue" in text.lower() or "Revenue" in text
    if suffix == ".json":
        rep = json.loads(text)
        assert rep["headline"]["open_exceptions"] == 1
        assert rep["data_quality"]["rejected_events"] == 1


def test_schema_is_json_schema_with_every_event_type(capsys) -> None:
    code, out, _ = run(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    text = json.dumps(schema)
    for t in ("exception.opened", "exception.cancelled", "order.released", "order.invoiced"):
        assert t in text


def test_console_script_entry_point(db: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fpi", "kpis", "--db", str(db), "--format", "json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)[0]["accepted_events"] == 7


def test_generate_writes_a_stream_that_ingests(tmp_path: Path, capsys) -> None:
    out = tmp_path / "g.jsonl.gz"
    code, text, _ = run(
        capsys,
        "generate",
        "--out",
        str(out),
        "--days",
        "1",
        "--lines-per-day",
        "800",
        "--seed",
        "3",
    )
    assert code == 0 and out.exists() and "events" in text
    code, text, _ = run(capsys, "ingest", str(out), "--db", str(tmp_path / "g.duckdb"))
    assert code == 0 and "accepted" in text


def test_generate_rejects_bad_knobs(tmp_path: Path, capsys) -> None:
    code, _, err = run(capsys, "generate", "--out", str(tmp_path / "x.jsonl"), "--days", "0")
    assert code == 2 and "positive" in err


def test_an_unexpected_error_is_one_line_not_a_traceback(
    db: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    import metrics.query

    def boom(*_a: object, **_k: object) -> None:
        raise ZeroDivisionError("something deep\nwith a second line")

    monkeypatch.setattr(metrics.query, "kpis", boom)
    code, _, err = run(capsys, "kpis", "--db", str(db))
    assert code == 1
    assert err == (
        "fpi: error: unexpected ZeroDivisionError: something deep "
        "(run with FPI_DEBUG=1 for the traceback)\n"
    )


def test_a_permission_problem_is_one_line_naming_the_path(tmp_path: Path, capsys) -> None:
    stream = write_jsonl(tmp_path / "w.jsonl", worked_example())
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "ingest", str(stream), "--db", str(blocker / "sub" / "x.duckdb"))
    assert code == 1
    assert err.count("\n") == 1 and str(blocker) in err


def test_csv_neutralises_formula_cells_but_not_numbers(tmp_path: Path, capsys) -> None:
    from tests.streams import T0, opened

    evil = '=HYPERLINK("https://evil.example","x")'
    stream = write_jsonl(
        tmp_path / "e.jsonl",
        [opened("X-1", T0, site=evil), opened("X-2", T0, site="@cmd", carrier="-2+3")],
    )
    db = tmp_path / "e.duckdb"
    assert main(["ingest", str(stream), "--db", str(db), "--quiet"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "kpis", "--db", str(db), "--by", "site", "--format", "csv")
    assert code == 0
    sites = [r["site"] for r in csv.DictReader(io.StringIO(out))]
    assert sites == ["'" + evil, "'@cmd"]
    code, out, _ = run(capsys, "bottlenecks", "--db", str(db), "--by", "carrier", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["carrier"] for r in rows} == {"'-2+3", "ACME"}
    assert all(not r["sla_overrun_hours"].startswith("'") for r in rows)


def test_table_shows_control_characters_and_markup_as_text(tmp_path: Path, capsys) -> None:
    from tests.streams import T0, opened

    stream = write_jsonl(
        tmp_path / "c.jsonl",
        [opened("X-1", T0, site="\x1b[31mRED\x1b[0m\x07"), opened("X-2", T0, site="[bold]b[/]")],
    )
    db = tmp_path / "c.duckdb"
    assert main(["ingest", str(stream), "--db", str(db), "--quiet"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "kpis", "--db", str(db), "--by", "site", "--format", "table")
    assert code == 0
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b[31mRED\\x1b[0m\\x07" in out
    assert "[bold]b[/]" in out


def test_a_wide_breakdown_stays_readable_in_80_columns(capsys) -> None:
    import polars as pl

    from fpi.output import to_table

    lanes = [f"LANE{i:02d}→DEST{i:02d}" for i in range(12)]
    df = pl.DataFrame({"lane": lanes, **{f"kpi_number_{k}": [1234.5 * k] * 12 for k in range(25)}})
    text = to_table(df, "fpi KPIs", width=80)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text
    for lane in lanes:
        assert lane in text
    assert "lane 1-" in text and "of 12" in text


@pytest.fixture(scope="module")
def alerts_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.dashboard.alerts_scenario import alerts_db as build

    return build(tmp_path_factory.mktemp("alerts"))


def test_alerts_json_newest_first_with_iso_times(alerts_db: Path, capsys) -> None:
    code, out, _ = run(capsys, "alerts", "--db", str(alerts_db), "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert [r["alert_id"] for r in rows] == [
        "A-1:breached:1",
        "A-3:at_risk:2",
        "A-1:at_risk:1",
        "A-3:at_risk:1",
        "A-2:breached:1",
    ]
    first = rows[0]
    assert first["due_at"] == "2026-05-05T11:00:00Z" and first["retracted_at"] is None
    assert (first["kind"], first["status"], first["active"]) == ("breached", "open", True)
    assert first["overdue_hours"] == 1.0 and first["sla_target_hours"] == 9.0
    assert first["order_value_reporting"] == 1000.0 and first["site"] == "DC-ATL"
    assert rows[3]["retracted_at"] == "2026-05-05T07:00:00Z"


def test_alerts_active_kind_and_where(alerts_db: Path, capsys) -> None:
    def shown(*extra: str) -> list[str]:
        code, out, _ = run(capsys, "alerts", "--db", str(alerts_db), "--format", "json", *extra)
        assert code == 0
        return [r["alert_id"] for r in json.loads(out)]

    assert shown("--active") == ["A-1:breached:1", "A-3:at_risk:2", "A-1:at_risk:1"]
    assert shown("--active", "--kind", "at_risk", "--where", "site=DC-DAL") == ["A-3:at_risk:2"]
    assert shown("--kind", "breached", "--where", "lane=DAL->HOU") == ["A-2:breached:1"]
    assert shown("--where", "site=DC-ATL", "--where", "site=DC-DAL", "--kind", "breached") == [
        "A-1:breached:1",
        "A-2:breached:1",
    ]
    assert shown("--active", "--where", "severity=low") == []


def test_alerts_csv_and_table(alerts_db: Path, capsys) -> None:
    code, out, _ = run(capsys, "alerts", "--db", str(alerts_db), "--active", "--format", "csv")
    assert code == 0
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["alert_id"] for r in rows] == ["A-1:breached:1", "A-3:at_risk:2", "A-1:at_risk:1"]
    assert rows[0]["raised_at"] == "2026-05-05T11:00:00Z"
    code, out, _ = run(capsys, "alerts", "--db", str(alerts_db), "--active")
    assert code == 0 and "A-3:at_risk:2" in out and "Active SLA alerts" in out
    code, out, _ = run(capsys, "alerts", "--db", str(alerts_db), "--where", "carrier=NOPE")
    assert code == 0 and out.strip() == "no SLA alerts matching the filters"


def test_alerts_of_a_database_without_alerts(db: Path, capsys) -> None:
    code, out, _ = run(capsys, "alerts", "--db", str(db), "--active", "--format", "json")
    assert code == 0 and json.loads(out) == []


def test_quality_totals_and_by_source_system(alerts_db: Path, capsys) -> None:
    code, out, _ = run(capsys, "quality", "--db", str(alerts_db), "--format", "json")
    assert code == 0
    (total,) = json.loads(out)
    assert total == {
        "accepted_events": 6,
        "duplicate_events": 1,
        "rejected_events": 3,
        "pending_events": 1,
        "rejection_rate": 3 / 11,
    }
    code, out, _ = run(
        capsys, "quality", "--db", str(alerts_db), "--by", "source_system", "--format", "json"
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["source_system"] for r in rows] == ["(unknown)", "TMS", "WMS"]
    assert rows[1]["rejection_rate"] == 0.25 and rows[1]["pending_events"] == 1
    code, out, _ = run(capsys, "quality", "--db", str(alerts_db), "--by", "source_system")
    assert code == 0 and "rejection_rate" in out and "(unknown)" in out
    code, out, _ = run(capsys, "quality", "--db", str(alerts_db), "--format", "csv")
    assert out.splitlines()[0] == (
        "accepted_events,duplicate_events,rejected_events,pending_events,rejection_rate"
    )


def test_quality_of_the_worked_example(db: Path, capsys) -> None:
    code, out, _ = run(capsys, "quality", "--db", str(db), "--format", "json")
    assert code == 0
    (row,) = json.loads(out)
    assert (row["accepted_events"], row["duplicate_events"], row["rejected_events"]) == (7, 1, 1)
    assert row["rejection_rate"] == 1 / 9


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["alerts", "--db", "/nonexistent/x.duckdb"], 1, "database not found"),
        (["alerts", "--db", "{db}", "--where", "planet=mars"], 2, "unknown dimension"),
        (["alerts", "--db", "{db}", "--where", "site"], 2, "DIM=VALUE"),
        (["quality", "--db", "/nonexistent/x.duckdb"], 1, "database not found"),
    ],
)
def test_alerts_and_quality_errors_are_one_line(
    alerts_db: Path, capsys, argv: list[str], code: int, message: str
) -> None:
    got, _, err = run(capsys, *[a.replace("{db}", str(alerts_db)) for a in argv])
    assert got == code and message in err
    assert err.count("\n") == 1 and err.startswith("fpi: error:")


@pytest.mark.parametrize(
    "argv",
    [
        ["alerts", "--db", "x", "--kind", "late"],
        ["quality", "--db", "x", "--by", "carrier"],
        ["dashboard", "--db", "x", "--stale-after", "soon"],
    ],
)
def test_alerts_and_quality_refuse_unknown_choices(capsys, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "invalid" in capsys.readouterr().err


def test_dashboard_passes_stale_after_and_refresh(
    alerts_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fpi.cli

    seen: list[list[str]] = []
    monkeypatch.setattr(fpi.cli, "run_dashboard", lambda argv: seen.append(argv) or 0)
    assert main(["dashboard", "--db", str(alerts_db), "--refresh", "2", "--stale-after", "45"]) == 0
    (argv,) = seen
    flags = dict(zip(argv[::2], argv[1::2], strict=False))
    assert (flags["--refresh"], flags["--stale-after"]) == ("2.0", "45.0")
    assert main(["dashboard", "--db", str(alerts_db)]) == 0
    flags = dict(zip(seen[1][::2], seen[1][1::2], strict=False))
    assert flags["--stale-after"] == "30.0"
    assert main(["dashboard", "--db", str(alerts_db), "--stale-after", "-1"]) == 2

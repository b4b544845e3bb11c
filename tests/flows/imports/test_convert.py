"""A hand-made status log through every mapping feature: the events, their state in DuckDB,
the CLI (deterministic ids, re-import changes nothing) and one-line errors naming row and column.

``data/handmade.csv`` (``;``-separated, Europe/Berlin times across the DST change,
cases interleaved, quoted cells) with ``data/handmade.toml`` exercises: case prefix;
opened time column and a missing one; opened actor override and a missing actor;
order_id mapped and defaulted; constants, value maps with and without default,
slugs, defaults, optional fields; assigned (first row counts, missing group is no
change); escalation levels (``first = false`` baseline); every phase rule kind
(equals, in, prefix, contains, missing, two columns, ``last = true/false``, keep);
paused, resumed (own actor), resolved, reopened, resolved→paused, cancelled (final);
touched with ``first = false``, action from a column with a default and a note.
"""

from __future__ import annotations

import fcntl
import json
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.config import load_settings
from core.contract import EVENT_ADAPTER
from core.db import DatabaseError
from flows.imports import (
    Converter,
    LogReader,
    RowError,
    import_into,
    load_mapping,
    parse_mapping,
    staging_path,
    write_events,
)
from flows.imports.convert import time_parser
from fpi.cli import main
from tests.flows.imports.test_mapping import with_
from tests.streams import fixed_clock, table

DATA = Path(__file__).resolve().parent / "data"
CSV = DATA / "handmade.csv"
TOML = DATA / "handmade.toml"

OPENED = {"destination": "MIA", "currency": "EUR"}
# Per case, in order: (event_id without "handmade:", occurred_at MM-DDTHH:MM UTC,
# actor ("~" = system, None = absent), fields without the envelope).
EXPECTED: dict[str, list[tuple[str, str, str | None, dict]]] = {
    "HM-A": [
        (
            "HM-A:0:opened",
            "03-20T07:00",
            "~portal",
            {
                **OPENED,
                "order_id": "SO-1",
                "category": "inventory_shortfall",
                "severity": "high",
                "site": "DC-BER",
                "origin": "BER",
                "customer_tier": "key",
                "order_value": 250.5,
                "carrier": "DHL",
                "sla_target_hours": 8.0,
            },
        ),
        ("HM-A:0:assigned", "03-20T07:05", "alice", {"owner_team": "L1-desk", "assignee": "alice"}),
        ("HM-A:1:paused", "03-20T09:00", "alice", {"reason": "waiting_for_customer"}),
        ("HM-A:2:assigned", "03-21T08:30", "carol", {"owner_team": "L2", "assignee": "carol"}),
        (
            "HM-A:2:escalated",
            "03-21T08:30",
            "carol",
            {"level": 1, "to_team": "L2", "reason": "tier_up"},
        ),
        ("HM-A:2:resumed", "03-21T08:30", "~sla-bot", {}),
        # 30.03 09:00 in Berlin is summer time (+02:00)
        ("HM-A:3:resolved", "03-30T07:00", "dave", {"resolution_code": "won't_fix"}),
        ("HM-A:4:assigned", "03-31T06:00", "erin", {"owner_team": "L3-core", "assignee": "erin"}),
        (
            "HM-A:4:escalated",
            "03-31T06:00",
            "erin",
            {"level": 2, "to_team": "L3-core", "reason": "tier_up"},
        ),
        ("HM-A:4:reopened", "03-31T06:00", "erin", {"reason": "customer_reply"}),
        ("HM-A:5:resolved", "04-02T06:00", "alice", {"resolution_code": "fixed"}),
        (
            "HM-A:6:touched",
            "04-03T06:00",
            "alice",
            {"action": "closed", "note": "customer\nconfirmed"},
        ),
    ],
    "HM-B": [
        (
            "HM-B:0:opened",
            "03-20T08:00",
            None,
            {
                **OPENED,
                "order_id": "HM-B",
                "category": "unknown",
                "severity": "low",
                "site": "DC-X",
                "origin": "HAM",
                "customer_tier": "standard",
                "order_value": 0.0,
            },
        ),
        ("HM-B:0:paused", "03-20T08:00", "bob", {"reason": "waiting_for_customer"}),
        ("HM-B:1:assigned", "03-21T11:00", "bob", {"owner_team": "L1-desk", "assignee": "bob"}),
        ("HM-B:1:resolved", "03-21T11:00", "bob", {"resolution_code": "duplicate"}),
        ("HM-B:2:reopened", "03-30T08:00", "bob", {"reason": "customer_reply"}),
        ("HM-B:2:paused", "03-30T08:00", "bob", {"reason": "waiting_for_vendor"}),
        (
            "HM-B:3:touched",
            "03-31T09:00",
            "bob",
            {"action": "note", "note": "called vendor; no answer"},
        ),
        ("HM-B:4:resolved", "04-04T06:00", "bob", {"resolution_code": "fixed"}),
    ],
    "HM-C": [
        (
            "HM-C:0:opened",
            "04-01T06:00",
            "~portal",
            {
                **OPENED,
                "order_id": "SO-9",
                "category": "carrier_failure",
                "severity": "critical",
                "site": "DC-BER",
                "origin": "BER",
                "customer_tier": "strategic",
                "order_value": 99.0,
            },
        ),
        ("HM-C:0:assigned", "04-01T06:00", "frank", {"owner_team": "L1-desk", "assignee": "frank"}),
        ("HM-C:1:cancelled", "04-02T07:00", "frank", {"reason": "Opened in error"}),
        ("HM-C:2:touched", "04-02T08:00", "frank", {"action": "in_progress"}),
    ],
    "HM-D": [
        (
            "HM-D:0:opened",
            "04-03T07:00",
            "~portal",
            {
                **OPENED,
                "order_id": "HM-D",
                "category": "master_data",
                "severity": "medium",
                "site": "DC-BER",
                "origin": "BER",
                "customer_tier": "key",
                "order_value": 5.0,
            },
        ),
        ("HM-D:0:assigned", "04-03T07:00", "gina", {"owner_team": "L3-core", "assignee": "gina"}),
        ("HM-D:0:resolved", "04-03T07:00", "gina", {"resolution_code": "fixed"}),
    ],
    "HM-E": [
        (
            "HM-E:0:opened",
            "04-04T07:00",
            "~portal",
            {
                **OPENED,
                "order_id": "HM-E",
                "category": "unknown",
                "severity": "medium",
                "site": "DC-BER",
                "origin": "BER",
                "customer_tier": "key",
                "order_value": 5.0,
            },
        ),
        ("HM-E:1:touched", "04-04T08:00", "hal", {"action": "review"}),
        ("HM-E:2:assigned", "04-04T09:00", "hal", {"owner_team": "L2", "assignee": "hal"}),
        (
            "HM-E:2:escalated",
            "04-04T09:00",
            "hal",
            {"level": 1, "to_team": "L2", "reason": "tier_up"},
        ),
    ],
}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def by_case(events: list[dict]) -> dict[str, list[tuple[str, str, str | None, dict]]]:
    out: dict[str, list] = defaultdict(list)
    for e in events:
        e = dict(e)
        eid, kind, at = e.pop("event_id"), e.pop("event_type"), e.pop("occurred_at")
        assert (e.pop("source_system"), e.pop("schema_version")) == ("JIRA", "1")
        xid = e.pop("exception_id")
        assert eid.startswith(f"handmade:{xid}:") and eid.endswith(":" + kind[10:])
        actor = e.pop("actor", None)
        who = None if actor is None else ("~" if actor["kind"] == "system" else "") + actor["id"]
        assert at.startswith("2026-") and at.endswith(":00Z")
        out[xid].append((eid.removeprefix("handmade:"), at[5:16], who, e))
    return dict(out)


@pytest.fixture(scope="module")
def events(tmp_path_factory: pytest.TempPathFactory) -> list[dict]:
    out = tmp_path_factory.mktemp("hm") / "hm.jsonl"
    summary = write_events(CSV, load_mapping(TOML), out)
    assert (summary.stats.rows, summary.stats.cases, summary.events) == (19, 5, 31)
    return read_jsonl(out)


def test_every_row_becomes_the_expected_events(events: list[dict]) -> None:
    assert by_case(events) == EXPECTED


def test_every_event_satisfies_the_contract(events: list[dict]) -> None:
    for e in events:
        EVENT_ADAPTER.validate_json(json.dumps(e))
    assert len({e["event_id"] for e in events}) == len(events)


def test_the_lifecycle_in_duckdb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "hm.duckdb"
    assert main(["import", str(CSV), "--mapping", str(TOML), "--db", str(db), "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("converted 19 rows (5 cases) of handmade.csv with mapping handmade")
    assert "accepted 31 (+31), duplicates 0 (+0), rejected 0 (+0), pending 0 (+0)" in out[1]
    got = table(
        db,
        "SELECT exception_id, status, owner_team, escalation_level, reopen_count, "
        "manual_touches, resolution_hours FROM exceptions ORDER BY 1",
    ).rows()
    assert got == [
        # A: resolved 02.04 06:00Z after opening 20.03 07:00Z (13 days - 1 h); one human touch
        ("HM-A", "resolved", "L3-core", 2, 1, 1, 311.0),
        ("HM-B", "resolved", "L1-desk", 0, 1, 1, 358.0),
        ("HM-C", "cancelled", "L1-desk", 0, 0, 1, None),
        ("HM-D", "resolved", "L3-core", 0, 0, 0, 0.0),
        ("HM-E", "open", "L2", 1, 0, 1, None),
    ]
    # staged events (and their lock) are removed; importing again is a replay: nothing changes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hm.duckdb", "hm.duckdb.d"]
    assert main(["import", str(CSV), "--mapping", str(TOML), "--db", str(db), "--quiet"]) == 0
    again = capsys.readouterr().out.splitlines()[1]
    assert "accepted 31 (+0), duplicates 0 (+0), rejected 0 (+0), pending 0 (+0)" in again


def test_a_second_import_of_the_same_file_into_the_same_db_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "hm.duckdb"
    m = load_mapping(TOML)
    lock = staging_path(db.resolve(), m, CSV)
    lock = lock.with_name(lock.name + ".lock")
    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(
            DatabaseError,
            match="another `fpi import` of handmade.csv with mapping handmade is writing",
        ):
            import_into(CSV, m, db, load_settings(), fixed_clock)
    assert not db.exists()


def test_out_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, two = tmp_path / "one.jsonl.gz", tmp_path / "two.jsonl.gz"
    for out in (one, two):
        assert main(["import", str(CSV), "--mapping", str(TOML), "--out", str(out)]) == 0
    assert one.read_bytes() == two.read_bytes()
    assert capsys.readouterr().out.count("rows/s") == 2


def run_error(tmp_path: Path, capsys, csv_text: str, toml: Path = TOML) -> str:
    f = tmp_path / "bad.csv"
    f.write_text(csv_text, "utf-8")
    code = main(["import", str(f), "--mapping", str(toml), "--out", str(tmp_path / "o.jsonl")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1
    assert not (tmp_path / "o.jsonl").exists()  # nothing half-written
    return err.strip()


HEADER = CSV.read_text("utf-8").splitlines()[0]
GOOD = CSV.read_text("utf-8").splitlines()[1]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            GOOD.replace("20.03.2026 08:05", "2026-03-20 08:05"),
            "bad.csv line 3, column 'updated': cannot read time '2026-03-20 08:05' as "
            "%d.%m.%Y %H:%M",
        ),
        (
            GOOD.replace(";BER;key;", ";BER;gold;"),
            "bad.csv line 3, column 'tier': customer_tier "
            "'gold' is not one of strategic, key, standard",
        ),
        (
            GOOD.replace(";250.5;", ";lots;"),
            "bad.csv line 3, column 'value': order_value 'lots' is not a number",
        ),
        (GOOD.replace(";250.5;", ";-1;"), "column 'value': order_value '-1' is out of range"),
        (
            GOOD.replace(";BER;key", ";?;key"),
            "bad.csv line 3, column 'from': opened needs origin "
            "but the cell is missing (give [opened.fields.origin] a default)",
        ),
        (GOOD.replace("A;", "?;", 1), "bad.csv line 3, column 'key': no case id"),
        (GOOD.replace("20.03.2026 08:05", ""), "column 'updated': no time (the cell is missing)"),
    ],
)
def test_row_errors_name_the_row_and_column(tmp_path: Path, capsys, row: str, message: str) -> None:
    err = run_error(tmp_path, capsys, f"{HEADER}\n{GOOD}\n{row}\n".replace("A;", "Z;", 1))
    assert err.startswith("fpi: error: ")
    assert message in err


def test_a_mapping_error_is_one_line(tmp_path: Path, capsys) -> None:
    toml = tmp_path / "m.toml"
    toml.write_text(
        TOML.read_text("utf-8").replace('column = "who"\nkind', 'column = "whom"\nkind')
    )
    err = run_error(tmp_path, capsys, f"{HEADER}\n{GOOD}\n", toml)
    assert err == (
        "fpi: error: actor names column 'whom', which bad.csv does not have "
        "(its header: key, created, updated, who, reporter, order, cause, prio, site, from, "
        "tier, value …)"
    )


def test_cli_needs_exactly_one_destination(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["import", str(CSV), "--mapping", str(TOML)])
    assert exit_.value.code == 2
    code = main(["import", str(tmp_path / "nope.csv"), "--mapping", str(TOML), "--out", "x"])
    assert code == 1 and "input not found" in capsys.readouterr().err


def test_xes_errors_name_trace_and_event(tmp_path: Path) -> None:
    f = tmp_path / "x.xes"
    f.write_text(
        '<log><trace><string key="concept:name" value="T"/>'
        '<event><date key="time:timestamp" value="2012-01-01T00:00:00+01:00"/></event>'
        '<event><date key="time:timestamp" value="yesterday"/></event></trace></log>'
    )
    m = parse_mapping(
        with_("case.column", "case:concept:name")
        | {"time": {"column": "time:timestamp"}, "touched": {}}
    )

    with LogReader(f, m) as reader:
        conv = Converter(m, reader.where)
        it = reader.rows()
        kinds = [e["event_type"] for e in conv.feed(next(it))]
        assert kinds == ["exception.opened", "exception.touched"]
        with pytest.raises(
            RowError,
            match=r"^x.xes trace 1 event 2, column 'time:timestamp': "
            r"cannot read time 'yesterday' as iso",
        ):
            conv.feed(next(it))


@pytest.mark.parametrize(
    ("fmt", "zone", "text", "expected"),
    [
        ("%d/%m/%Y %H:%M", "UTC", "29/2/2016 01:16", "2016-02-29T01:16:00Z"),
        ("%d/%m/%Y %H:%M", "UTC", "1/3/2016  9:05", "2016-03-01T09:05:00Z"),
        ("%Y-%m-%d %H:%M:%S", "America/New_York", "2026-03-08 03:30:00", "2026-03-08T07:30:00Z"),
        # in the autumn repeat the first occurrence, in the spring gap the offset before it
        ("%Y-%m-%d %H:%M:%S", "America/New_York", "2026-11-01 01:30:00", "2026-11-01T05:30:00Z"),
        ("%Y-%m-%d %H:%M:%S", "America/New_York", "2026-03-08 02:30:00", "2026-03-08T07:30:00Z"),
        # not for the fast parser: strptime itself
        ("%d %b %Y %H:%M", "Europe/Berlin", "20 Mar 2026 08:00", "2026-03-20T07:00:00Z"),
        (
            "%Y-%m-%dT%H:%M:%S%z",
            "Europe/Berlin",
            "2026-03-20T08:00:00+0100",
            "2026-03-20T07:00:00Z",
        ),
        ("iso", "Europe/Berlin", "2010-03-31T16:59:42+02:00", "2010-03-31T14:59:42Z"),
        ("iso", "Europe/Berlin", "2010-03-31T16:59:42.25", "2010-03-31T14:59:42.250000Z"),
    ],
)
def test_time_formats_and_zones(fmt: str, zone: str, text: str, expected: str) -> None:
    from flows.imports.mapping import TimeSpec

    parse = time_parser(fmt, TimeSpec(column="t", format=fmt, timezone=zone).zone())
    assert parse(text) == expected


def test_fast_time_parser_agrees_with_strptime() -> None:
    from flows.imports.convert import fast_strptime

    fast = fast_strptime("%d/%m/%Y %H:%M", UTC)
    assert fast is not None
    for text in ("29/2/2016 01:16", "01/12/2017 23:59", "9/9/2016 0:00"):
        slow = datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=UTC)
        assert fast(text) == slow
    with pytest.raises(ValueError):
        fast("29/2/2016")
    with pytest.raises(ValueError):
        fast("30/2/2016 01:00")
    assert fast_strptime("%d %b %Y", UTC) is None
    with pytest.raises(ValueError, match="outside 1970-01-01"):
        time_parser("%d/%m/%Y %H:%M", UTC)("1/1/1969 00:00")

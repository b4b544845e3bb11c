"""``fpi ingest`` as a whole run: file order, broken files, one writer, failures."""

from __future__ import annotations

import gzip
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from core.config import load_settings
from core.db import DatabaseError
from core.layout import Layout
from flows.ingest import ingest, writer_lock
from tests.streams import T0, ev, fixed_clock, opened, table, write_jsonl

# Columns that say *when* or *in which run* a row was written, not what it means.
_EVENT_COLS = "event_id, event_type, occurred_at, effective_at, exception_id, source, source_offset"
_STATE = (
    "exception_id, category, site, opened_at, opened_event_id, status, owner_team, "
    "manual_touches, escalation_level, reopen_count, resolved_at, last_event_at, event_count"
)


def _tables(db: Path) -> dict[str, list[tuple[object, ...]]]:
    return {
        "exceptions": table(db, f"SELECT {_STATE} FROM exceptions ORDER BY 1").rows(),
        "events": table(db, f"SELECT {_EVENT_COLS} FROM exception_events ORDER BY 1").rows(),
        "versions": table(
            db,
            "SELECT * EXCLUDE (valid_to) FROM exception_versions ORDER BY exception_id, valid_from",
        ).rows(),
        "rejected": table(
            db, "SELECT source, source_offset, reason FROM rejected_events ORDER BY 1, 2"
        ).rows(),
        "duplicates": table(
            db, "SELECT source, source_offset, event_id FROM duplicate_events ORDER BY 1, 2"
        ).rows(),
    }


def test_several_files_apply_in_the_order_given(tmp_path: Path) -> None:
    """``ingest a b`` = ``ingest a`` then ``ingest b``: a's opened events and ids win."""
    n = 3000  # more than one 2,000-line chunk per file, so reading in parallel would interleave
    a_events = [opened(f"X-{i}", T0 + timedelta(minutes=i), eid=f"a-{i}") for i in range(n)]
    b_events = [
        # the same exceptions opened again (later in the file order, earlier in time)
        opened(f"X-{i}", T0 - timedelta(hours=1), eid=f"b-{i}", site="DC-LATE")
        for i in range(n)
    ] + [
        # an event id that a already used, with another body
        dict(opened("X-NEW", T0, eid="a-7"), site="DC-DUP")
    ]
    a = write_jsonl(tmp_path / "a.jsonl", a_events)
    b = write_jsonl(tmp_path / "b.jsonl", b_events)
    one = tmp_path / "one.duckdb"
    two = tmp_path / "two.duckdb"
    settings = load_settings()
    ingest([a, b], one, settings, fixed_clock)
    ingest([a], two, settings, fixed_clock)
    ingest([b], two, settings, fixed_clock)
    t_one, t_two = _tables(one), _tables(two)
    assert t_one == t_two
    assert {r[2] for r in t_one["exceptions"]} == {"DC-ATL"}  # a's opened events won
    assert len(t_one["rejected"]) == n  # b's opens: duplicate_open
    assert len(t_one["duplicates"]) == 1


def test_a_broken_file_is_recorded_and_the_good_files_still_count(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", [opened("X-1", T0)])
    body = "".join(f'{{"event_id": "z-{i}", "pad": "{"p" * 60}"}}\n' for i in range(20000)).encode()
    whole = gzip.compress(body)
    broken = tmp_path / "broken.jsonl.gz"
    broken.write_bytes(whole[: len(whole) // 3])
    notgz = tmp_path / "plain.jsonl.gz"
    notgz.write_bytes(b'{"event_id": "x"}\n')
    notes: list[str] = []
    db = tmp_path / "f.duckdb"
    s = ingest([broken, notgz, good], db, load_settings(), fixed_clock, on_note=notes.append)
    assert s.after.accepted == 1
    faults = table(
        db,
        "SELECT source, source_offset, detail FROM rejected_events "
        "WHERE reason = 'unreadable_file' ORDER BY source",
    ).rows()
    assert [(Path(src).name, off) for src, off, _ in faults] == [
        ("broken.jsonl.gz", 0),
        ("plain.jsonl.gz", 0),
    ]
    assert "truncated" in faults[0][2] and "lines read before the fault" in faults[0][2]
    assert "not a gzip file" in faults[1][2]
    assert len([n for n in notes if "unreadable" in n]) == 2
    # the lines the broken file gave before the fault were read (and rejected: no event_type)
    read_before = int(faults[0][2].split("; ")[1].split(" ")[0].replace(",", ""))
    assert read_before > 0
    n_rejected = table(
        db, f"SELECT count(*) FROM rejected_events WHERE source = '{broken}' AND source_offset > 0"
    ).item()
    assert n_rejected == read_before
    # rerunning changes nothing
    again = ingest([broken, notgz, good], db, load_settings(), fixed_clock)
    assert again.after == again.before


def test_a_bom_at_the_start_of_a_file_is_not_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    write_jsonl(path, [opened("X-1", T0)])
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    s = ingest([path], tmp_path / "b.duckdb", load_settings(), fixed_clock)
    assert (s.after.accepted, s.after.rejected) == (1, 0)


def test_a_file_named_twice_is_read_once_and_said(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "a.jsonl", [opened("X-1", T0)])
    (tmp_path / "alias.jsonl").symlink_to(f)
    notes: list[str] = []
    s = ingest(
        [f, tmp_path / "alias.jsonl"],
        tmp_path / "d.duckdb",
        load_settings(),
        fixed_clock,
        on_note=notes.append,
    )
    assert s.files == 1 and s.after.duplicates == 0
    assert any("alias.jsonl is the same file as" in n and "read once" in n for n in notes)


def test_a_killed_run_is_marked_interrupted_by_the_next(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "a.jsonl", [opened("X-1", T0)])
    db = tmp_path / "k.duckdb"
    ingest([f], db, load_settings(), fixed_clock)
    import duckdb

    con = duckdb.connect(str(Layout(db).store))  # what a run killed by kill -9 leaves behind
    con.execute("UPDATE ingest_runs SET status = 'running', finished_at = NULL")
    con.close()
    ingest([f], db, load_settings(), fixed_clock)
    assert table(db, "SELECT run_id, status FROM ingest_runs ORDER BY 1").rows() == [
        (1, "interrupted"),
        (2, "done"),
    ]


def test_a_second_writer_is_refused_by_any_name(tmp_path: Path) -> None:
    """The lock is on the store's identity: a symlink resolves to it; a hard
    link (or copy) of the published views file has no store beside it."""
    db = tmp_path / "real.duckdb"
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "sym.duckdb").symlink_to(db)
    ingest(
        [write_jsonl(tmp_path / "a.jsonl", [opened("X-1", T0)])], db, load_settings(), fixed_clock
    )
    os.link(db, other / "hard.duckdb")
    with writer_lock(db):
        for name in (db, other / "sym.duckdb"):
            with pytest.raises(DatabaseError, match="another `fpi ingest`"):
                with writer_lock(name):
                    pass
    with pytest.raises(DatabaseError, match="stored elsewhere"):
        with writer_lock(other / "hard.duckdb"):
            pass


def test_a_second_writer_in_another_process_is_refused(tmp_path: Path) -> None:
    """The lock is the kernel's, across processes, for another name too."""
    db = tmp_path / "real.duckdb"
    f = write_jsonl(tmp_path / "a.jsonl", [opened("X-1", T0)])
    with writer_lock(db):
        (tmp_path / "sym.duckdb").symlink_to(db)
        r = subprocess.run(
            [
                sys.executable,
                "-m",
                "fpi.cli",
                "ingest",
                str(f),
                "--db",
                str(tmp_path / "sym.duckdb"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "is writing" in r.stderr


@contextmanager
def _tmpfs(path: Path, options: str) -> Iterator[Path]:
    """A small real file system (as root: CI runs as root); skipped where mount is denied."""
    path.mkdir()
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def _fpi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fpi.cli", *args], capture_output=True, text=True, timeout=300
    )


def test_a_full_disk_is_one_line_and_the_run_is_marked_failed(tmp_path: Path) -> None:
    big = write_jsonl(
        tmp_path / "big.jsonl",
        (
            ev(
                "exception.touched",
                f"X-{i % 50}",
                T0 + timedelta(seconds=i),
                human=True,
                action="call",
                note="n" * 400,
            )
            for i in range(60000)
        ),
    )
    start = write_jsonl(tmp_path / "start.jsonl", [opened(f"X-{i}", T0) for i in range(50)])
    with _tmpfs(tmp_path / "small", "size=10m") as fs:
        db = fs / "full.duckdb"
        ok = _fpi("ingest", str(start), "--db", str(db))
        assert ok.returncode == 0, ok.stderr
        r = _fpi("ingest", str(big), "--db", str(db))
        assert r.returncode == 1
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1, r.stderr
        assert str(db) in lines[0] and "No space left on device" in lines[0]
        # the database is consistent: the first run's events are all there, readable
        k = _fpi("kpis", "--db", str(db), "--format", "json")
        assert k.returncode == 0, k.stderr
        assert table(db, "SELECT count(*) FROM exceptions").item() == 50
        # readers see the last publish (the first run); the store holds the failed run
        store = Layout(db).store
        statuses = table(store, "SELECT status FROM ingest_runs ORDER BY run_id")[
            "status"
        ].to_list()
        assert statuses[0] == "done" and statuses[1] in ("failed", "running")


def test_a_read_only_folder_is_one_line(tmp_path: Path) -> None:
    f = write_jsonl(tmp_path / "a.jsonl", [opened("X-1", T0)])
    with _tmpfs(tmp_path / "ro", "size=1m,ro") as fs:
        r = _fpi("ingest", str(f), "--db", str(fs / "x.duckdb"))
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Read-only file system" in lines[0] and str(fs) in lines[0]


def test_the_extreme_accepted_values_never_fail_the_sink(tmp_path: Path) -> None:
    """Every value the contract accepts fits its column, and every reader copes."""
    from datetime import UTC, datetime

    from core.db import open_read
    from metrics.query import kpis

    late = datetime(2199, 12, 31, 23, 0, tzinfo=UTC)
    events = [
        opened("X-MAX", late, value=1e12, sla_target_hours=1e6, category="?"),
        ev("exception.escalated", "X-MAX", late, level=2**31 - 1),
        opened("X-MIN", datetime(1970, 1, 1, tzinfo=UTC), value=0.0, category="___"),
        ev(
            "order.released",
            "SO-MAX",
            late,
            site="S",
            origin="A",
            destination="B",
            customer_tier="key",
            order_value=1e12,
            currency="USD",
            promised_delivery_at="2199-12-31T23:59:59.999999Z",
            lines=2**31 - 1,
        ),
    ]
    f = write_jsonl(tmp_path / "x.jsonl", events)
    db = tmp_path / "x.duckdb"
    s = ingest([f], db, load_settings(), lambda: late)
    assert (s.after.accepted, s.after.rejected) == (4, 0)
    with open_read(db) as con:
        row = kpis(con).row(0, named=True)
    assert row["open_exceptions"] == 2
    assert row["revenue_at_risk"] == 1e12
    r = _fpi("kpis", "--db", str(db), "--format", "json")
    assert r.returncode == 0, r.stderr


def test_kill_9_in_the_middle_then_a_rerun_gives_the_uninterrupted_tables(tmp_path: Path) -> None:
    """A writer killed by SIGKILL between commits and publishes: the rerun
    recovers the views (republished from the store), the dedupe filters (caught
    up from rows stamped after their save) and ends with the same tables."""
    from sample_streams.generator import GeneratorConfig, write_stream

    src = tmp_path / "s.jsonl"
    write_stream(src, GeneratorConfig(start=T0, days=2, lines_per_day=50_000, seed=3))
    whole, killed = tmp_path / "whole.duckdb", tmp_path / "killed.duckdb"
    settings = load_settings()
    cmd = [sys.executable, "-m", "fpi.cli", "ingest", str(src), "--quiet", "--db"]
    started = time.monotonic()
    subprocess.run([*cmd, str(whole)], check=True, capture_output=True, timeout=300)
    duration = time.monotonic() - started
    proc = subprocess.Popen(
        [*cmd, str(killed)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        time.sleep(0.4 * duration)  # past start-up and (mostly) the first commits, before the end
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL  # it was killed mid-run, not finished
    ingest([src], killed, settings, fixed_clock)
    assert _tables(killed) == _tables(whole)
    assert (
        table(killed, "SELECT count(*) FROM order_state").item()
        == table(whole, "SELECT count(*) FROM order_state").item()
    )

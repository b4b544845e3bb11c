"""``fpi reports send-due`` / ``list`` end to end: a real database, a real SMTP server
(aiosmtpd on 127.0.0.1), crashes by ``kill -9`` of a real ``fpi`` process."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from fpi.cli import main
from fpi.subscriptions.state import load_state, state_path
from tests.fpi.subscriptions.helpers import daily, smtp_table, write_config
from tests.fpi.subscriptions.smtp import Received, SmtpServer
from tests.streams import iso

ROOT = Path(__file__).resolve().parents[3]


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _send_due(
    capsys: pytest.CaptureFixture[str], config: Path, db: Path, now: str, *extra: str
) -> tuple[int, str, str]:
    return _run(
        capsys,
        "--config",
        str(config),
        "reports",
        "send-due",
        "--db",
        str(db),
        "--now",
        now,
        *extra,
    )


def _report(mail: Received) -> dict[str, Any]:
    name, data = mail.attachment()
    assert name.endswith(".json")
    rep = json.loads(data)
    assert isinstance(rep, dict)
    return rep


def _slots(server: SmtpServer) -> list[str]:
    return [str(m.message["X-Fpi-Slot"]) for m in server.received]


def test_each_slot_once_across_runs_and_one_catch_up_per_missed_slot(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Daily at 15:00 New York (19:00Z in May). X-1 opened 2026-05-04T08:00Z, resolved
    at 18:00Z, reopened 2026-05-05T08:00Z; the data clock is 2026-05-05T09:00Z."""
    config = write_config(tmp_path, smtp_table(smtp), [daily(at="15:00")])
    # first run: the subscription is new; its history (May 3 and before) is not sent
    code, out, _ = _send_due(capsys, config, db, "2026-05-04T12:00:00Z")
    assert code == 0 and smtp.received == []
    assert out.splitlines()[0] == (
        "new subscription ops-daily: daily 15:00 America/New_York, "
        "first slot Mon 2026-05-04 15:00 EDT"
    )
    assert out.strip().endswith(f"(1 subscription(s), state {state_path(db)})")
    assert "0 sent, 0 failed, 0 skipped" in out
    # the slot comes: sent once, however often cron runs
    for now in ("2026-05-04T19:02:00Z", "2026-05-04T19:07:00Z", "2026-05-04T23:59:00Z"):
        code, out, err = _send_due(capsys, config, db, now)
        assert code == 0, err
    assert _slots(smtp) == ["2026-05-04T19:00:00Z"]
    first = smtp.received[0]
    assert first.rcpt_tos == ["ops@example.com", "lead@example.com"]
    assert first.message["Subject"] == "fpi KPI report — ops-daily — Mon 2026-05-04 15:00 EDT"
    rep = _report(first)
    assert (rep["as_of"], rep["period_from"]) == ("2026-05-04T19:00:00Z", "2026-04-27T19:00:00Z")
    assert rep["headline"]["open_exceptions"] == 0  # resolved at 18:00Z, before the slot
    # three days of downtime: one catch-up per missed slot, oldest first, each as of its slot
    code, out, err = _send_due(capsys, config, db, "2026-05-07T19:30:00Z")
    assert code == 0, err
    assert "3 sent, 0 failed, 0 skipped" in out
    assert out.count("\nsent ") + out.startswith("sent ") == 3
    assert _slots(smtp)[1:] == [
        "2026-05-05T19:00:00Z",
        "2026-05-06T19:00:00Z",
        "2026-05-07T19:00:00Z",
    ]
    reps = [_report(m) for m in smtp.received[1:]]
    assert [r["as_of"] for r in reps] == _slots(smtp)[1:]
    assert [r["headline"]["open_exceptions"] for r in reps] == [1, 1, 1]  # reopened May 5
    assert all(r["generated_at"] == "2026-05-07T19:30:00Z" for r in reps)
    assert len({m.message_id for m in smtp.received}) == 4
    assert "Catch-up: made at 2026-05-07T19:30:00Z, after its scheduled time" in str(
        smtp.received[1].message.get_body(("plain",)).get_content()
    )
    code, out, _ = _send_due(capsys, config, db, "2026-05-07T19:35:00Z")
    assert code == 0 and len(smtp.received) == 4
    st = load_state(state_path(db)).subscriptions["ops-daily"]
    assert iso(st.done_through) == "2026-05-07T19:00:00Z"
    assert {r.status for r in st.slots.values()} == {"sent"} and len(st.slots) == 4


def test_filters_and_period_reach_the_report(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    subs = [
        daily("acme", where={"carrier": "ACME"}, period="24h", timezone="UTC", at="12:00"),
        daily("nobody", where={"carrier": ["NOPE", "NADA"]}, timezone="UTC", at="12:00"),
    ]
    config = write_config(tmp_path, smtp_table(smtp), subs)
    assert _send_due(capsys, config, db, "2026-05-05T11:00:00Z")[0] == 0
    code, _, err = _send_due(capsys, config, db, "2026-05-05T12:00:00Z")
    assert code == 0, err
    by_name = {str(m.message["X-Fpi-Subscription"]): _report(m) for m in smtp.received}
    assert by_name["acme"]["where"] == {"carrier": ["ACME"]}
    assert by_name["acme"]["period_from"] == "2026-05-04T12:00:00Z"
    assert by_name["acme"]["headline"]["open_exceptions"] == 1
    assert by_name["nobody"]["headline"]["open_exceptions"] == 0


_CRASH = """
import os, signal, smtplib, sys
from fpi.cli import main
real = smtplib.SMTP.send_message
def crash_before(self, *a, **k):
    os.kill(os.getpid(), signal.SIGKILL)
def crash_after(self, *a, **k):
    real(self, *a, **k)
    os.kill(os.getpid(), signal.SIGKILL)
smtplib.SMTP.send_message = crash_before if sys.argv[1] == "before" else crash_after
sys.exit(main(sys.argv[2:]))
"""


def _fpi_killed(when: str, *argv: str) -> subprocess.CompletedProcess[str]:
    """``fpi ARGV`` in its own process, killed (SIGKILL) just before the mail is handed
    to the server (``before``) or just after the server accepted it (``after``)."""
    return subprocess.run(
        [sys.executable, "-c", _CRASH, when, *argv],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_crash_between_recording_and_sending_sends_once_with_the_same_message_id(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, smtp_table(smtp), [daily()])
    assert _send_due(capsys, config, db, "2026-05-04T10:00:00Z")[0] == 0
    argv = ("--config", str(config), "reports", "send-due", "--db", str(db))
    proc = _fpi_killed("before", *argv, "--now", "2026-05-04T11:01:00Z")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert smtp.received == []
    rec = load_state(state_path(db)).subscriptions["ops-daily"].slots
    (slot,) = rec
    assert iso(slot) == "2026-05-04T11:00:00Z"
    assert (rec[slot].status, rec[slot].attempts) == ("sending", 1)
    recorded_id = rec[slot].message_id
    # the next run (minutes later) sends it once, as the same mail
    code, out, err = _send_due(capsys, config, db, "2026-05-04T11:06:00Z")
    assert code == 0, err
    assert "sent again (attempt 2, same Message-ID)" in out
    (mail,) = smtp.received
    assert mail.message_id == recorded_id
    assert mail.message["Date"].datetime == slot.replace(minute=1)  # first recorded 11:01Z
    assert _report(mail)["generated_at"] == "2026-05-04T11:01:00Z"
    assert _send_due(capsys, config, db, "2026-05-04T11:11:00Z")[0] == 0
    assert len(smtp.received) == 1


@pytest.mark.slow
def test_crash_after_the_server_accepted_resends_the_same_mail(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The server took it but the run died before recording ``sent``: at-least-once,
    and the receiver sees two copies of one Message-ID (it can drop the second)."""
    config = write_config(tmp_path, smtp_table(smtp), [daily()])
    assert _send_due(capsys, config, db, "2026-05-04T10:00:00Z")[0] == 0
    argv = ("--config", str(config), "reports", "send-due", "--db", str(db))
    proc = _fpi_killed("after", *argv, "--now", "2026-05-04T11:01:00Z")
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert len(smtp.received) == 1
    assert _send_due(capsys, config, db, "2026-05-04T11:06:00Z")[0] == 0
    first, second = smtp.received
    assert first.message_id == second.message_id
    assert first.message["Date"] == second.message["Date"]
    assert first.attachment() == second.attachment()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_server_keeps_the_slot_and_the_next_run_sends_it(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, smtp_table(smtp), [daily(), daily("second")])
    assert _send_due(capsys, config, db, "2026-05-04T10:00:00Z")[0] == 0
    port = str(_closed_port())
    code, out, err = _send_due(capsys, config, db, "2026-05-04T11:01:00Z", "--smtp-port", port)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 2  # one line per subscription's failed slot
    assert lines[0].startswith(
        f"fpi: error: ops-daily Mon 2026-05-04 07:00 EDT not sent: SMTP server 127.0.0.1:{port} "
        "unreachable or failed:"
    )
    assert lines[0].endswith("; it is due again on the next run")
    assert "0 sent, 2 failed" in out
    st = load_state(state_path(db)).subscriptions["ops-daily"]
    (rec,) = st.slots.values()
    assert rec.status == "sending" and "unreachable" in (rec.error or "")
    code, out, err = _send_due(capsys, config, db, "2026-05-04T11:06:00Z")
    assert code == 0, err
    (slot,) = st.slots
    after = load_state(state_path(db)).subscriptions
    assert after["ops-daily"].slots[slot].message_id == rec.message_id
    assert after["ops-daily"].slots[slot].attempts == 2
    assert {m.message_id for m in smtp.received} == {
        after[n].slots[slot].message_id for n in ("ops-daily", "second")
    }
    assert len(smtp.received) == 2


def test_some_recipients_refused_sends_once_and_exits_1(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    smtp.handler.refuse.add("lead@example.com")
    config = write_config(tmp_path, smtp_table(smtp), [daily()])
    assert _send_due(capsys, config, db, "2026-05-04T10:00:00Z")[0] == 0
    code, out, err = _send_due(capsys, config, db, "2026-05-04T11:01:00Z")
    assert code == 1 and "1 sent, 0 failed" in out
    assert err.startswith("fpi: error: ops-daily Mon 2026-05-04 07:00 EDT: the server refused")
    assert "lead@example.com: 550" in err
    assert _send_due(capsys, config, db, "2026-05-04T11:06:00Z")[0] == 0
    assert [m.rcpt_tos for m in smtp.received] == [["ops@example.com"]]
    (rec,) = load_state(state_path(db)).subscriptions["ops-daily"].slots.values()
    assert rec.status == "sent" and rec.refused == ["lead@example.com"]


def test_weekly_monday_0700_new_york_across_the_march_change(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sub = daily("weekly", cadence="weekly", on="mon", at="07:00", format="csv")
    config = write_config(tmp_path, smtp_table(smtp), [sub])
    assert _send_due(capsys, config, db, "2026-02-28T00:00:00Z")[0] == 0
    for now in ("2026-03-02T12:05:00Z", "2026-03-05T00:00:00Z", "2026-03-16T11:05:00Z"):
        code, _, err = _send_due(capsys, config, db, now)
        assert code == 0, err
    # EST (UTC-5) on March 2, EDT (UTC-4) from March 8: 07:00 local each Monday
    assert _slots(smtp) == ["2026-03-02T12:00:00Z", "2026-03-09T11:00:00Z", "2026-03-16T11:00:00Z"]
    assert [str(m.message["Subject"]).rsplit(" — ", 1)[1] for m in smtp.received] == [
        "Mon 2026-03-02 07:00 EST",
        "Mon 2026-03-09 07:00 EDT",
        "Mon 2026-03-16 07:00 EDT",
    ]
    name, data = smtp.received[1].attachment()
    assert name == "fpi-report-weekly-20260309-0700.csv"
    assert data.startswith(b"section,dimension,group,metric,value,as_of,period_from")
    assert b"2026-03-09T11:00:00Z" in data


def test_max_catch_up_skips_the_oldest_in_one_line(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, smtp_table(smtp), [daily(start="2026-04-01", max_catch_up=2, timezone="UTC")]
    )
    code, out, err = _send_due(capsys, config, db, "2026-05-04T08:00:00Z")
    assert code == 0, err
    assert out.splitlines()[0] == (
        "new subscription ops-daily: daily 07:00 UTC, first slot Wed 2026-04-01 07:00 UTC"
    )
    assert out.splitlines()[1] == (
        "skipped ops-daily: 32 missed slot(s) from Wed 2026-04-01 07:00 UTC to "
        "Sat 2026-05-02 07:00 UTC (more than max_catch_up = 2)"
    )
    assert _slots(smtp) == ["2026-05-03T07:00:00Z", "2026-05-04T07:00:00Z"]
    assert "2 sent, 0 failed, 32 skipped" in out
    assert _send_due(capsys, config, db, "2026-05-04T08:05:00Z")[0] == 0
    assert len(smtp.received) == 2


def test_dry_run_sends_renders_and_records_nothing(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, smtp_table(smtp), [daily()])
    assert _send_due(capsys, config, db, "2026-05-04T10:00:00Z")[0] == 0
    state = state_path(db)
    before = state.read_bytes()
    code, out, _ = _send_due(capsys, config, db, "2026-05-06T12:00:00Z", "--dry-run")
    assert code == 0
    assert out.splitlines() == [
        "would send ops-daily Mon 2026-05-04 07:00 EDT to ops@example.com, Lead <lead@example.com>",
        "would send ops-daily Tue 2026-05-05 07:00 EDT to ops@example.com, Lead <lead@example.com>",
        "would send ops-daily Wed 2026-05-06 07:00 EDT to ops@example.com, Lead <lead@example.com>",
        f"send-due: 3 would be sent, 0 would be skipped (1 subscription(s), state {state})",
    ]
    assert smtp.received == [] and state.read_bytes() == before


@pytest.mark.slow
def test_a_second_run_while_one_is_sending_is_refused(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, smtp_table(smtp), [daily()])
    assert _send_due(capsys, config, db, "2026-05-04T10:00:00Z")[0] == 0
    smtp.handler.hold = threading.Event()
    argv = ["--config", str(config), "reports", "send-due", "--db", str(db)]
    first = subprocess.Popen(
        [sys.executable, "-m", "fpi", *argv, "--now", "2026-05-04T11:01:00Z"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert smtp.handler.in_data.wait(60), "the first run never reached DATA"
        code, out, err = _send_due(capsys, config, db, "2026-05-04T11:02:00Z")
        assert code == 1 and out == ""
        assert err == (
            "fpi: error: another `fpi reports send-due` is running on this database "
            f"(it holds {db}.reports.lock); nothing done\n"
        )
    finally:
        smtp.handler.hold.set()
        stdout, stderr = first.communicate(timeout=60)
    assert first.returncode == 0, stderr
    assert "1 sent, 0 failed" in stdout
    assert len(smtp.received) == 1
    assert _send_due(capsys, config, db, "2026-05-04T11:06:00Z")[0] == 0
    assert len(smtp.received) == 1


def test_list(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path, smtp_table(smtp), [daily(), daily("weekly", cadence="weekly", on="fri")]
    )
    assert _send_due(capsys, config, db, "2026-05-04T10:00:00Z")[0] == 0
    assert _send_due(capsys, config, db, "2026-05-04T11:01:00Z")[0] == 0
    code, out, _ = _run(
        capsys,
        "--config",
        str(config),
        "reports",
        "list",
        "--db",
        str(db),
        "--now",
        "2026-05-05T12:00:00Z",
        "--format",
        "json",
    )
    assert code == 0
    assert json.loads(out) == [
        {
            "name": "ops-daily",
            "cadence": "daily 07:00 America/New_York",
            "format": "json",
            "to": "ops@example.com, Lead <lead@example.com>",
            "next_slot": "2026-05-06T11:00:00Z",
            "last_sent": "2026-05-04T11:00:00Z",
            "pending": 0,
            "due": 1,
        },
        {
            "name": "weekly",
            "cadence": "weekly fri 07:00 America/New_York",
            "format": "json",
            "to": "ops@example.com, Lead <lead@example.com>",
            "next_slot": "2026-05-08T11:00:00Z",
            "last_sent": None,
            "pending": 0,
            "due": 0,
        },
    ]
    code, out, _ = _run(capsys, "--config", str(config), "reports", "list", "--db", str(db))
    assert code == 0 and "ops-daily" in out and "weekly" in out


@pytest.mark.parametrize(
    ("subs", "smtp_extra", "expected"),
    [
        (
            [daily(), daily("b", cadence="fortnightly")],
            {},
            "fpi: error: bad configuration at subscriptions[1].cadence: must be one of daily, "
            "weekly, monthly, got 'fortnightly'",
        ),
        (
            [daily(timezone="America/Gotham")],
            {},
            "fpi: error: bad configuration at subscriptions[0].timezone: unknown time zone "
            "'America/Gotham'",
        ),
        ([daily(format="docx")], {}, "fpi: error: bad configuration at subscriptions[0].format:"),
        ([daily()], {"from": "nobody"}, "fpi: error: bad configuration at smtp.from: not an"),
    ],
)
def test_bad_configuration_is_one_line_and_exit_1(
    db: Path,
    smtp: SmtpServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    subs: list[dict[str, Any]],
    smtp_extra: dict[str, Any],
    expected: str,
) -> None:
    config = write_config(tmp_path, smtp_table(smtp, **smtp_extra), subs)
    code, out, err = _send_due(capsys, config, db, "2026-05-04T11:00:00Z")
    assert (code, out) == (1, "")
    assert err.startswith(expected) and err.count("\n") == 1
    assert not state_path(db).exists()


def test_missing_database_and_no_subscriptions(
    smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, smtp_table(smtp), [daily()])
    code, _, err = _send_due(capsys, config, tmp_path / "nope.duckdb", "2026-05-04T11:00:00Z")
    assert code == 1 and err.startswith("fpi: error: database not found:")
    empty = write_config(tmp_path, None, [])
    (tmp_path / "x.duckdb").write_bytes(b"")
    code, out, _ = _send_due(capsys, empty, tmp_path / "x.duckdb", "2026-05-04T11:00:00Z")
    assert code == 0 and out.startswith("send-due: no subscriptions configured")


def test_a_report_that_cannot_be_made_is_one_line_and_stays_due(
    db: Path, smtp: SmtpServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, smtp_table(smtp), [daily()])
    assert _send_due(capsys, config, db, "2026-05-04T10:00:00Z")[0] == 0
    target = db.resolve()
    db.unlink()
    db.write_bytes(b"not a database")
    try:
        code, _, err = _send_due(capsys, config, db, "2026-05-04T11:01:00Z")
    finally:
        db.unlink()
        db.symlink_to(target)
    assert code == 1
    assert err.startswith(
        "fpi: error: ops-daily Mon 2026-05-04 07:00 EDT not sent: report not made:"
    )
    assert load_state(state_path(db)).subscriptions["ops-daily"].slots == {}
    assert _send_due(capsys, config, db, "2026-05-04T11:06:00Z")[0] == 0
    assert _slots(smtp) == ["2026-05-04T11:00:00Z"]

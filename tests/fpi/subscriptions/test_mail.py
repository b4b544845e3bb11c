"""The mail of a slot and sending it to a real local SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy

import pytest

from fpi.subscriptions.config import SmtpConfig, Subscription, load_smtp, load_subscriptions
from fpi.subscriptions.mail import (
    Report,
    SendError,
    attachment_name,
    build_message,
    message_id,
    send,
)
from tests.fpi.subscriptions.smtp import SmtpServer

SLOT = datetime(2026, 3, 9, 11, tzinfo=UTC)  # Mon 07:00 EDT


def _sub() -> Subscription:
    raw = {
        "name": "ops-weekly",
        "to": ["ops@example.com", "Lead <lead@example.com>"],
        "format": "csv",
        "cadence": "weekly",
        "on": "mon",
        "timezone": "America/New_York",
        "where": {"carrier": ["ACME", "REDLINE"]},
    }
    return load_subscriptions([raw], ("csv",))[0]


def _smtp(server: SmtpServer | None = None, **extra: object) -> SmtpConfig:
    raw = {
        "host": server.host if server else "127.0.0.1",
        "port": server.port if server else 25,
        "security": "none",
        "from": "fpi reports <fpi@reports.example>",
        **extra,
    }
    return load_smtp(raw, {})


def _report(data_clock: datetime | None) -> Report:
    return Report(
        data=b"section,metric\nheadline,open_exceptions\n",
        filename=attachment_name(_sub(), SLOT),
        media_type="text/csv; charset=utf-8",
        as_of=SLOT,
        period_from=SLOT - timedelta(days=7),
        data_clock=data_clock,
    )


def test_message_id_is_a_function_of_name_and_slot() -> None:
    a = message_id("ops", SLOT, "reports.example")
    assert a == message_id("ops", SLOT, "reports.example")
    assert a.startswith("<") and a.endswith("@reports.example>") and len(a) == 40 + 18
    assert a != message_id("ops", SLOT + timedelta(seconds=1), "reports.example")
    assert a != message_id("ops2", SLOT, "reports.example")


def test_the_message() -> None:
    made = SLOT + timedelta(hours=2)
    msg = build_message(
        _sub(), _smtp(), SLOT, _report(SLOT - timedelta(hours=1)), mid="<m@x>", made_at=made
    )
    parsed = message_from_bytes(msg.as_bytes(), policy=policy.default)
    assert parsed["Subject"] == "fpi KPI report — ops-weekly — Mon 2026-03-09 07:00 EDT"
    assert parsed["Message-ID"] == "<m@x>"
    assert parsed["X-Fpi-Slot"] == "2026-03-09T11:00:00Z"
    assert parsed["Date"].datetime == made
    assert parsed["To"] == "ops@example.com, Lead <lead@example.com>"
    body = parsed.get_body(("plain",)).get_content()
    assert "Stock KPIs as of 2026-03-09T11:00:00Z" in body
    assert "flow KPIs over [2026-03-02T11:00:00Z, 2026-03-09T11:00:00Z)" in body
    assert "Filters: carrier = ACME or REDLINE." in body
    assert "Catch-up: made at 2026-03-09T13:00:00Z" in body
    assert "Data behind: the newest data in the database was from 2026-03-09T10:00:00Z" in body
    (part,) = parsed.iter_attachments()
    assert part.get_filename() == "fpi-report-ops-weekly-20260309-0700.csv"
    assert part.get_content_type() == "text/csv"
    assert part.get_content_charset() == "utf-8"


def test_on_time_with_fresh_data_has_no_warning() -> None:
    msg = build_message(
        _sub(), _smtp(), SLOT, _report(SLOT), mid="<m@x>", made_at=SLOT + timedelta(minutes=3)
    )
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "Catch-up" not in text and "Data behind" not in text


def test_send_to_a_real_server(smtp: SmtpServer) -> None:
    cfg = _smtp(smtp)
    msg = build_message(_sub(), cfg, SLOT, _report(SLOT), mid="<m@x>", made_at=SLOT)
    assert send(cfg, msg, _sub().envelope_recipients()) == {}
    (got,) = smtp.received
    assert got.mail_from == "fpi@reports.example"
    assert got.rcpt_tos == ["ops@example.com", "lead@example.com"]
    assert got.message_id == "<m@x>"
    assert got.attachment()[1] == _report(SLOT).data


def test_some_recipients_refused_is_reported_not_raised(smtp: SmtpServer) -> None:
    smtp.handler.refuse.add("lead@example.com")
    cfg = _smtp(smtp)
    msg = build_message(_sub(), cfg, SLOT, _report(SLOT), mid="<m@x>", made_at=SLOT)
    refused = send(cfg, msg, _sub().envelope_recipients())
    assert list(refused) == ["lead@example.com"] and refused["lead@example.com"].startswith("550")
    assert [r.rcpt_tos for r in smtp.received] == [["ops@example.com"]]


def test_every_recipient_refused(smtp: SmtpServer) -> None:
    smtp.handler.refuse.update({"ops@example.com", "lead@example.com"})
    cfg = _smtp(smtp)
    msg = build_message(_sub(), cfg, SLOT, _report(SLOT), mid="<m@x>", made_at=SLOT)
    with pytest.raises(SendError, match=r"refused every recipient \(ops@example.com: 550"):
        send(cfg, msg, _sub().envelope_recipients())
    assert smtp.received == []


def test_starttls_not_offered_is_one_line(smtp: SmtpServer) -> None:
    cfg = _smtp(smtp, security="starttls")
    msg = build_message(_sub(), cfg, SLOT, _report(SLOT), mid="<m@x>", made_at=SLOT)
    with pytest.raises(SendError, match="STARTTLS extension not supported by server"):
        send(cfg, msg, ["ops@example.com"])
    assert smtp.received == []


def test_unreachable_server_is_one_line() -> None:
    with socket.socket() as s:  # a port nobody listens on (bound, never listening)
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        cfg = load_smtp(
            {"host": "127.0.0.1", "port": port, "security": "none", "from": "a@b.example"}, {}
        )
        msg = build_message(_sub(), cfg, SLOT, _report(SLOT), mid="<m@x>", made_at=SLOT)
        with pytest.raises(SendError) as info:
            send(cfg, msg, ["ops@example.com"])
    assert str(info.value).startswith(f"SMTP server 127.0.0.1:{port} unreachable or failed:")
    assert "Connection refused" in str(info.value) and "\n" not in str(info.value)

"""The report mail: a deterministic Message-ID, the message, and sending it by SMTP.

* **Message-ID** of a slot: ``<`` + the first 40 hex digits of
  SHA-256(``fpi-report``, subscription name, slot in UTC) + ``@`` + the sender's
  domain + ``>``. The same subscription and slot always give the same id, so a
  mail sent again after a crash (or after a server that accepted it but whose
  answer was lost) is recognisable as the same mail and a receiver that dedupes
  by Message-ID keeps one. It stays the same as long as the subscription keeps
  its name and ``smtp.from`` its domain.
* The message: ``Subject: fpi KPI report — NAME — <slot in local time>``,
  ``Date`` = when the slot was first recorded (the same on every attempt),
  ``X-Fpi-Subscription`` and ``X-Fpi-Slot`` headers, a plain-text body that
  says what the report covers, and the report as an attachment.
* Sending (:func:`send`): ``security = "starttls"`` connects in plain text and
  upgrades with STARTTLS (certificate and host name verified), ``"tls"``
  connects with TLS from the start (port 465), ``"none"`` never encrypts. Every
  failure is a :class:`SendError` with one line.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from core.timeutil import iso_z

from .config import SmtpConfig, Subscription
from .schedule import local_label


class SendError(RuntimeError):
    """The SMTP server did not take the mail (one line)."""


@dataclass(frozen=True, slots=True)
class Report:
    """A rendered report: the attachment and what the body says about it."""

    data: bytes
    filename: str
    media_type: str
    """E.g. ``application/pdf`` or ``text/csv; charset=utf-8``."""
    as_of: datetime
    period_from: datetime
    data_clock: datetime | None
    """The database's data clock when the report was made (None: no data)."""


def message_id(name: str, slot: datetime, domain: str) -> str:
    """The Message-ID of a subscription's slot (see the module docstring)."""
    key = f"fpi-report\0{name}\0{iso_z(slot)}".encode()
    return f"<{hashlib.sha256(key).hexdigest()[:40]}@{domain}>"


def attachment_name(sub: Subscription, slot: datetime) -> str:
    """``fpi-report-NAME-YYYYMMDD-HHMM.EXT`` with the slot in local time."""
    local = slot.astimezone(sub.cadence.tz).strftime("%Y%m%d-%H%M")
    return f"fpi-report-{sub.name}-{local}.{sub.format}"


def subject(sub: Subscription, slot: datetime) -> str:
    """``fpi KPI report — NAME — Mon 2026-05-04 07:00 EDT``."""
    return f"fpi KPI report — {sub.name} — {local_label(slot, sub.cadence)}"


LATE_NOTE_AFTER_SECONDS = 15 * 60
"""The body calls a report a catch-up, or its data behind, past this many seconds."""


def body(sub: Subscription, slot: datetime, report: Report, made_at: datetime) -> str:
    """The plain-text body: the slot, the period, the filters, and two warnings —
    a catch-up (made more than 15 minutes after its slot) and data behind (the
    database's data clock more than 15 minutes before the as-of)."""
    filters = (
        "; ".join(f"{dim} = {' or '.join(values)}" for dim, values in sorted(sub.where.items()))
        if sub.where
        else "none (every exception and order)"
    )
    lines = [
        f"fpi KPI report {sub.name!r} for {local_label(slot, sub.cadence)} ({iso_z(slot)}).",
        "",
        f"Stock KPIs as of {iso_z(report.as_of)}; flow KPIs over "
        f"[{iso_z(report.period_from)}, {iso_z(report.as_of)}).",
        f"Filters: {filters}.",
    ]
    if (made_at - slot).total_seconds() > LATE_NOTE_AFTER_SECONDS:
        lines.append(
            f"Catch-up: made at {iso_z(made_at)}, after its scheduled time; its numbers are "
            "as of the scheduled time (events that arrived late included)."
        )
    if report.data_clock is None:
        lines.append("The database held no data yet when this report was made.")
    elif (report.as_of - report.data_clock).total_seconds() > LATE_NOTE_AFTER_SECONDS:
        lines.append(
            f"Data behind: the newest data in the database was from "
            f"{iso_z(report.data_clock)} when this report was made (is the flow running?)."
        )
    lines += ["", f"Attached: {report.filename}", "", "Sent by `fpi reports send-due`."]
    return "\n".join(lines) + "\n"


def build_message(
    sub: Subscription,
    smtp: SmtpConfig,
    slot: datetime,
    report: Report,
    *,
    mid: str,
    made_at: datetime,
) -> EmailMessage:
    """The mail of one slot; ``made_at`` (when the slot was first recorded) is its Date."""
    msg = EmailMessage()
    msg["Subject"] = subject(sub, slot)
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(sub.to)
    msg["Date"] = format_datetime(made_at)
    msg["Message-ID"] = mid
    msg["X-Fpi-Subscription"] = sub.name
    msg["X-Fpi-Slot"] = iso_z(slot) or ""
    msg.set_content(body(sub, slot, report, made_at))
    kind, *params = (p.strip() for p in report.media_type.split(";"))
    maintype, _, subtype = kind.partition("/")
    msg.add_attachment(
        report.data,
        maintype=maintype,
        subtype=subtype or "octet-stream",
        filename=report.filename,
        params=dict(p.split("=", 1) for p in params if "=" in p),
    )
    return msg


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _reply(exc: smtplib.SMTPResponseException) -> str:
    raw = exc.smtp_error
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return _one_line(f"{exc.smtp_code} {text}")


def send(smtp: SmtpConfig, msg: EmailMessage, recipients: list[str]) -> dict[str, str]:
    """Hand ``msg`` to the SMTP server for ``recipients``.

    Returns the recipients the server refused while accepting the others
    (address -> the server's reply); raises :class:`SendError` when it took the
    mail for nobody (unreachable, TLS or login failed, sender or every
    recipient refused, an error reply to the message).
    """
    where = f"SMTP server {smtp.host}:{smtp.port}"
    context = ssl.create_default_context()
    try:
        client: smtplib.SMTP
        if smtp.security == "tls":
            client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
        with client:
            if smtp.security == "starttls":
                client.ehlo()
                client.starttls(context=context)
                client.ehlo()
            if smtp.username is not None:
                client.login(smtp.username, smtp.password or "")
            refused = client.send_message(msg, from_addr=smtp.envelope_sender, to_addrs=recipients)
    except smtplib.SMTPNotSupportedError as exc:
        raise SendError(f"{where}: {_one_line(exc)}") from None
    except smtplib.SMTPAuthenticationError as exc:
        raise SendError(f"{where} refused the login as {smtp.username}: {_reply(exc)}") from None
    except smtplib.SMTPSenderRefused as exc:
        raise SendError(f"{where} refused the sender {exc.sender}: {_reply(exc)}") from None
    except smtplib.SMTPRecipientsRefused as exc:
        detail = "; ".join(
            f"{addr}: {code} {_one_line(text.decode('utf-8', 'replace'))}"
            for addr, (code, text) in exc.recipients.items()
        )
        raise SendError(f"{where} refused every recipient ({detail})") from None
    except smtplib.SMTPResponseException as exc:
        raise SendError(f"{where} answered {_reply(exc)}") from None
    except (smtplib.SMTPException, OSError) as exc:  # unreachable, timeout, TLS, dropped
        raise SendError(
            f"{where} unreachable or failed: {_one_line(exc) or type(exc).__name__}"
        ) from None
    return {
        addr: _one_line(f"{code} {text.decode('utf-8', 'replace')}")
        for addr, (code, text) in refused.items()
    }

"""Scheduled KPI reports by e-mail: ``fpi reports send-due`` and ``fpi reports list``.

Configuration (the ``--config`` file; ``core.config.Settings.subscriptions``
and ``Settings.smtp`` hold the tables raw, :mod:`.config` validates them)::

    [smtp]
    host = "smtp.example.com"
    port = 587                    # default: 587 starttls, 465 tls, 25 none
    security = "starttls"         # "starttls" (default) | "tls" | "none"
    from = "fpi reports <fpi@example.com>"
    username = "fpi"              # optional; then password_env is required
    password_env = "FPI_SMTP_PASSWORD"   # the variable that holds the password
    timeout = 30                  # seconds

    [[subscriptions]]
    name = "ops-daily"            # unique; letters, digits, . _ -
    to = ["ops@example.com", "Lead <lead@example.com>"]
    format = "pdf"                # any format `fpi report` writes: pdf xlsx html csv json md
    where = { site = "DC-ATL", carrier = ["ACME", "REDLINE"] }   # optional filters
    period = "7d"                 # flow KPIs over [slot - period, slot); h, d or w
    cadence = "daily"             # "daily" | "weekly" | "monthly"
    at = "07:00"                  # local wall time (default 07:00); or a list
    timezone = "America/New_York" # IANA name (default UTC), daylight saving followed
    # on = "mon"                  # weekly: weekday(s); monthly: day(s) 1-31 (31 = last)
    # start = 2026-06-01          # optional: no slot before this (a date: local midnight)
    # max_catch_up = 31           # at most this many missed slots sent by one run

Every problem is one line naming the key: ``bad configuration at
subscriptions[0].cadence: ...`` (counting from 0) or ``smtp.from``.
``--smtp-host``/``--smtp-port`` override the file's host and port.

Slots and what is due (:mod:`.schedule`, :mod:`.run`):

* A **slot** is an instant a report is scheduled for: ``at`` on each matching
  date, in ``timezone`` (07:00 local every day, whatever the UTC offset).
* At ``now`` a slot is **due** when it is ``<= now`` and not recorded yet, and
  not before the subscription's ``start`` — or, without ``start``, not before
  the run that first saw the subscription (so adding one never mails its
  history; the first report is its next slot). A slot recorded ``sending`` is
  due until it is ``sent``. After downtime every missed slot is due: one
  catch-up mail each, oldest first, at most ``max_catch_up`` (the newest;
  older ones are skipped with one line). State is kept by name: a renamed
  subscription is a new one; a changed cadence keeps what was sent (slots
  after the last one sent are due).
* Each report is **as of its slot**: stock KPIs as of the slot instant, flow
  KPIs over [slot − period, slot), with the filters — what the 07:00 report
  would have said at 07:00 (events that arrived late are in it). It is not
  clamped to the data clock: the mail's body says when the database's newest
  data is more than 15 minutes older than the slot.

Exactly once, as far as SMTP allows (:mod:`.state`, :mod:`.mail`): the state
is a JSON file beside the database, ``DB.reports.json`` (never in the
database: the flow is its one writer), written atomically. A run holds
``DB.reports.lock`` (``flock``, non-blocking: a second run says so in one line
and exits 1). For each due slot it renders the report, records the slot
``sending`` with a deterministic Message-ID (SHA-256 of name and slot), sends,
and records it ``sent``. A crash between the two records, an unreachable or
refusing server: the slot stays ``sending`` and the next run sends it again,
with the same Message-ID and Date, so the receiver can tell it is the same
mail. Output: one line per new subscription and per slot sent (the skipped
slots of a subscription in one line), ``fpi: error: ...`` per failure, a
summary line; exit 1 when anything failed or a recipient was refused.
"""

from __future__ import annotations

from .cli import add_parser

__all__ = ["add_parser"]

"""``fpi reports send-due`` and ``fpi reports list`` (see the package docstring)."""

from __future__ import annotations

import argparse
import os
import sys
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

import polars as pl

from core.config import Settings, load_settings
from core.db import DatabaseError, open_read
from core.timeutil import Clock, system_clock
from metrics.query import data_clock

from ..args import time_arg
from ..output import FORMATS as OUTPUT_FORMATS
from ..output import render
from ..report import FORMATS as REPORT_SUFFIXES
from ..report import MEDIA_TYPES, render_report, report_format
from .config import SmtpConfig, Subscription, load_smtp, load_subscriptions
from .mail import Report, attachment_name, send
from .run import Render, listing, send_due
from .state import Busy, load_state, lock_path, run_lock, state_path

REPORT_FORMATS: tuple[str, ...] = tuple(s.lstrip(".") for s in REPORT_SUFFIXES)
"""Formats a subscription may ask for: every file ending ``fpi report`` writes."""


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``fpi reports`` with its commands ``send-due`` and ``list``."""
    p = sub.add_parser(
        "reports",
        help="scheduled KPI reports by e-mail ([[subscriptions]] of --config)",
        description="Scheduled KPI reports by e-mail: the [[subscriptions]] and [smtp] "
        "tables of the --config file. Run `send-due` from cron every few minutes.",
    )
    cmds = p.add_subparsers(dest="reports_command", required=True, metavar="COMMAND")
    q = cmds.add_parser(
        "send-due",
        help="send every report that is due, once (run it from cron every few minutes)",
    )
    q.add_argument("--db", required=True, help="the database the reports are made from")
    q.add_argument(
        "--now", metavar="T", help="testing: pretend the time is T (RFC 3339; default: the clock)"
    )
    q.add_argument(
        "--dry-run",
        dest="dry_run",
        action="store_true",
        help="only print what would be sent; send, render and record nothing",
    )
    q.add_argument("--smtp-host", dest="smtp_host", metavar="HOST", help="overrides smtp.host")
    q.add_argument(
        "--smtp-port", dest="smtp_port", type=int, metavar="PORT", help="overrides smtp.port"
    )
    q.set_defaults(func=cmd_send_due)
    q = cmds.add_parser("list", help="the subscriptions, their next slot and last one sent")
    q.add_argument("--db", required=True)
    q.add_argument("--now", metavar="T", help="testing: pretend the time is T (RFC 3339)")
    q.add_argument("--format", choices=OUTPUT_FORMATS, default="table")
    q.set_defaults(func=cmd_list)


def _clock(args: argparse.Namespace) -> Clock:
    fixed = time_arg(args.now, "--now")
    if fixed is None:
        return system_clock

    def clock() -> datetime:
        return fixed

    return clock


def _subscriptions(settings: Settings) -> tuple[Subscription, ...]:
    return load_subscriptions(settings.subscriptions, REPORT_FORMATS)


def _smtp(settings: Settings, args: argparse.Namespace) -> SmtpConfig:
    # ``Settings.smtp`` is the raw ``[smtp]`` table
    return load_smtp(settings.smtp, os.environ, host=args.smtp_host, port=args.smtp_port)


def _database(args: argparse.Namespace) -> Path:
    db = Path(args.db)
    if not db.is_file():
        raise DatabaseError(f"database not found: {db} (run `fpi ingest ... --db {db}` first)")
    return db


def renderer(db: Path, settings: Settings) -> Render:
    """The report of a slot, made from ``db`` (``fpi.report.render_report``): stock
    KPIs as of the slot, flow KPIs over [slot − period, slot), the subscription's
    filters and format, the settings' targets and currency."""

    def make(sub: Subscription, slot: datetime, generated_at: datetime) -> Report:
        suffix = report_format(sub.format)
        start = slot - sub.period
        with open_read(db) as con:
            data = render_report(
                con,
                suffix,
                slot,
                start,
                generated_at=generated_at,
                where=sub.where,
                settings=settings,
            )
            clock = data_clock(con)
        return Report(
            data=data,
            filename=attachment_name(sub, slot),
            media_type=MEDIA_TYPES[suffix],
            as_of=slot,
            period_from=start,
            data_clock=clock,
        )

    return make


def cmd_send_due(args: argparse.Namespace) -> int:
    """``fpi reports send-due``: exit 0 when everything due was sent, 1 when a slot
    failed (it stays due) or another run holds the lock."""
    settings = load_settings(args.config)
    clock = _clock(args)
    subs = _subscriptions(settings)
    db = _database(args)
    state_file = state_path(db)
    if not subs:
        print("send-due: no subscriptions configured ([[subscriptions]] in the --config file)")
        return 0
    smtp = _smtp(settings, args)

    def transport(msg: EmailMessage, recipients: list[str]) -> dict[str, str]:
        return send(smtp, msg, recipients)

    def error(line: str) -> None:
        print(f"fpi: error: {line}", file=sys.stderr, flush=True)

    try:
        with run_lock(lock_path(db)):
            summary = send_due(
                subs,
                smtp,
                state_file,
                clock,
                render=renderer(db, settings),
                send=transport,
                emit=lambda line: print(line, flush=True),
                emit_error=error,
                dry_run=args.dry_run,
            )
    except Busy as exc:
        error(str(exc))
        return 1
    if args.dry_run:
        counts = f"{summary.would_send} would be sent, {summary.skipped} would be skipped"
    else:
        counts = f"{summary.sent} sent, {summary.failed} failed, {summary.skipped} skipped"
    print(f"send-due: {counts} ({len(subs)} subscription(s), state {state_file})")
    return 0 if summary.ok else 1


def cmd_list(args: argparse.Namespace) -> int:
    """``fpi reports list``: one row per subscription."""
    settings = load_settings(args.config)
    now = _clock(args)()
    subs = _subscriptions(settings)
    db = _database(args)
    state = load_state(state_path(db))
    rows = listing(subs, state, now)
    if args.format == "table" and not rows:
        print("no subscriptions configured ([[subscriptions]] in the --config file)")
        return 0
    df = pl.DataFrame(
        {
            "name": [r.name for r in rows],
            "cadence": [r.cadence for r in rows],
            "format": [r.format for r in rows],
            "to": [r.to for r in rows],
            "next_slot": [r.next_slot for r in rows],
            "last_sent": [r.last_sent for r in rows],
            "pending": [r.pending for r in rows],
            "due": [r.due for r in rows],
        },
        schema={
            "name": pl.String,
            "cadence": pl.String,
            "format": pl.String,
            "to": pl.String,
            "next_slot": pl.Datetime("us", "UTC"),
            "last_sent": pl.Datetime("us", "UTC"),
            "pending": pl.Int64,
            "due": pl.Int64,
        },
    )
    print(render(df, args.format, title="Report subscriptions"))
    return 0

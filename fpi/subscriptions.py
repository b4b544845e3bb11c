"""Scheduled KPI reports by e-mail (``fpi reports send-due``).

Being built (issue 12): configured recipients, format, filters and cadence;
``send-due`` sends each due slot once over SMTP.
"""

from __future__ import annotations

import argparse

from .args import UsageError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``fpi reports``."""
    p = sub.add_parser("reports", help="scheduled KPI reports by e-mail")
    p.set_defaults(func=cmd_reports)


def cmd_reports(args: argparse.Namespace) -> int:
    """``fpi reports``: not available yet."""
    raise UsageError("fpi reports: subscriptions are not available yet")

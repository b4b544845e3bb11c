"""Argument helpers shared by the ``fpi`` subcommands.

A wrong argument raises :class:`UsageError` (exit code 2, one line on stderr);
``fpi.cli.main`` turns it into ``fpi: error: ...``.
"""

from __future__ import annotations

import argparse
from datetime import datetime

from core.timeutil import parse_time

from .output import FORMATS


class UsageError(ValueError):
    """A wrong argument: exit code 2."""


def time_arg(text: str | None, flag: str) -> datetime | None:
    """An RFC 3339 instant given on the command line (None when not given)."""
    if text is None:
        return None
    try:
        return parse_time(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def where_arg(args: argparse.Namespace) -> dict[str, list[str]]:
    """``--where DIM=VALUE`` (repeatable) as ``{dimension: [values]}``."""
    from metrics.dimensions import parse_where

    try:
        return parse_where(args.where)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def dim_arg(name: str | None) -> str | None:
    """``--by DIM``: the dimension's canonical name (None when not given)."""
    from metrics.dimensions import dimension

    if name is None:
        return None
    try:
        return dimension(name).name
    except ValueError as exc:
        raise UsageError(f"--by: {exc}") from None


def period_args(p: argparse.ArgumentParser, *, formats: bool = True) -> None:
    """``--as-of``, ``--from``, ``--where`` (and ``--format`` unless told not to)."""
    p.add_argument(
        "--as-of",
        dest="as_of",
        metavar="T",
        help="stock KPIs as of T, RFC 3339 (default: the data clock)",
    )
    p.add_argument(
        "--from", dest="from_", metavar="T1", help="flow KPIs over [T1, T) (default: T - 7 days)"
    )
    p.add_argument(
        "--where",
        action="append",
        metavar="DIM=VALUE",
        help="filter; repeat for more (same DIM twice = either value)",
    )
    if formats:
        p.add_argument("--format", choices=FORMATS, default="table")

"""``fpi report``: the subcommand (options, and what it prints)."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.config import load_settings
from core.db import open_read
from core.timeutil import system_clock
from metrics.targets import load_targets

from ..args import UsageError, period_args, time_arg, where_arg
from .pdf import find_chromium
from .render import FORMATS, report_format, write_report


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``fpi report``."""
    p = sub.add_parser(
        "report",
        help=f"export a KPI report ({', '.join(FORMATS)}: the format follows the file ending)",
        description="Export the KPI report: an executive summary (headline, KPI tiles with "
        "targets and changes against the previous period, trends, bottlenecks, the top "
        "open exceptions), details and definitions. Same period and filter options as "
        "`fpi kpis`.",
    )
    p.add_argument("--db", required=True)
    p.add_argument("--out", required=True, metavar="FILE", help=" ".join(FORMATS))
    period_args(p, formats=False)
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """``fpi report``: write the report to ``--out`` (format from its ending).

    Checked before the database is read: the format (exit 2), the settings and
    targets of ``--config`` and, for a PDF, that Chromium is there (exit 1)."""
    out = Path(args.out)
    try:
        suffix = report_format(out.name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    as_of, start = time_arg(args.as_of, "--as-of"), time_arg(args.from_, "--from")
    where = where_arg(args)
    settings = load_settings(getattr(args, "config", None))
    load_targets(settings)  # a bad [targets] table: one line, exit 1
    chromium = find_chromium() if suffix == ".pdf" else None
    with open_read(args.db) as con:
        try:
            write_report(
                con,
                out,
                as_of,
                start,
                generated_at=system_clock(),
                where=where,
                settings=settings,
                chromium=chromium,
            )
        except ValueError as exc:
            raise UsageError(str(exc)) from None
    print(f"report written to {out}")
    return 0

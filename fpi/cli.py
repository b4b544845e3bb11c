"""The ``fpi`` command line (``shared/spec/interface.md``).

Errors are one line on stderr (``fpi: error: ...``) with exit code 2 for a
wrong argument and 1 for a problem found while running (missing file, locked
or missing database).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from core import sla_record
from core.config import Settings, load_settings
from core.db import DatabaseError, open_read
from core.timeutil import system_clock

if TYPE_CHECKING:
    from rich.progress import TaskID

from .args import UsageError, dim_arg, period_args, time_arg, where_arg
from .output import FORMATS, render

MAX_TOP = 1_000_000
"""Largest ``--top`` accepted (a bottleneck list longer than this is not a list)."""


def _one_line(exc: BaseException) -> str:
    """The first line of an exception's message (never a traceback)."""
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _settings(args: argparse.Namespace) -> Settings:
    """The settings of ``--config``, targets validated too (a bad one is one line)."""
    from metrics.targets import load_targets

    settings = load_settings(args.config)
    load_targets(settings)
    return settings


def cmd_ingest(args: argparse.Namespace) -> int:
    from flows.ingest import ingest
    from flows.sources import Progress

    settings = _settings(args)
    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"input not found: {p}")
    show = sys.stderr.isatty() and not args.quiet
    bar = None
    if show:
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            TextColumn,
            TimeElapsedColumn,
        )
        from rich.progress import Progress as Bar

        bar = Bar(
            TextColumn("ingest"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[lines]:,} lines"),
            TimeElapsedColumn(),
            transient=True,
        )
        bar.start()
        task = bar.add_task("ingest", total=None, lines=0)

    def on_progress(p: Progress, total: int | None) -> None:
        if bar is not None:
            bar.update(task, completed=p.bytes_read, total=total, lines=p.lines_read)

    try:
        summary = ingest(
            paths,
            Path(args.db),
            settings,
            system_clock,
            on_progress=on_progress if show else None,
            on_note=lambda text: print(f"fpi: note: {text}", file=sys.stderr),
        )
    finally:
        if bar is not None:
            bar.stop()
    print(summary.line())
    return 0


def cmd_stream(args: argparse.Namespace) -> int:
    from flows.stream import StreamOptions, print_status, stream

    settings = _settings(args)
    if args.workers < 1:
        raise UsageError("--workers must be at least 1")
    secret = args.alert_secret or os.environ.get("FPI_ALERT_SECRET") or None
    if secret and not args.alert_webhook:
        raise UsageError("--alert-secret needs --alert-webhook")
    if args.processes < 1:
        raise UsageError("--processes must be at least 1")
    if args.processes > 2 or (args.processes > 1 and args.workers > 1):
        # Bytewax places the one apply step and the writer by hashing their keys
        # over the workers; with 2 processes of 1 worker they land in process 0,
        # the one holding the store (measured). Other layouts are not supported.
        raise UsageError("--processes supports 2 processes of 1 worker each")
    options = StreamOptions(
        brokers=args.brokers,
        topic=args.topic,
        webhook=args.alert_webhook,
        secret=secret,
        workers=args.workers,
        processes=args.processes,
        process_id=args.process_id,
        addresses=tuple(args.cluster.split(",")) if args.cluster else (),
    )
    if args.process_id > 0:  # a helper process started by process 0
        from flows.stream import run_helper

        try:
            run_helper(Path(args.db), options, settings, system_clock)
        except RuntimeError as exc:
            raise DatabaseError(str(exc)) from None
        return 0
    try:
        summary = stream(
            Path(args.db),
            options,
            settings,
            system_clock,
            on_status=None if args.quiet else print_status,
        )
    except RuntimeError as exc:  # the broker or topic: one line
        raise DatabaseError(str(exc)) from None
    state = "caught up" if summary.caught_up else "not caught up"
    print(
        f"fpi stream stopped after {summary.seconds:.1f}s: {summary.lines:,} messages "
        f"read ({state}); everything read is committed",
        file=sys.stderr,
    )
    return 0


def sla_note(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """One line on stderr when the database's SLA figures were computed with
    another SLA policy or calendars than the configuration in use."""
    problem = sla_record.mismatch(sla_record.recorded(con), settings)
    if problem is not None:
        print(f"fpi: note: {problem}", file=sys.stderr)


def cmd_kpis(args: argparse.Namespace) -> int:
    from metrics.query import kpis

    settings = _settings(args)
    as_of, start = time_arg(args.as_of, "--as-of"), time_arg(args.from_, "--from")
    by, where = dim_arg(args.by), where_arg(args)
    with open_read(args.db) as con:
        try:
            df = kpis(con, as_of, start, by=by, where=where)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        sla_note(con, settings)
    print(render(df, args.format, title="fpi KPIs"))
    return 0


def cmd_recompute(args: argparse.Namespace) -> int:
    """``fpi recompute``: derive every SLA figure and alert again (O(history))."""
    from flows.recompute import recompute

    settings = _settings(args)

    def on_progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"recompute: {done:,} of {total:,} exceptions", file=sys.stderr)

    summary = recompute(Path(args.db), settings, system_clock, on_progress=on_progress)
    print(summary.line())
    return 0


def cmd_bottlenecks(args: argparse.Namespace) -> int:
    import polars as pl

    from metrics.bottlenecks import bottlenecks
    from metrics.query import window

    as_of, start = time_arg(args.as_of, "--as-of"), time_arg(args.from_, "--from")
    by, where = dim_arg(args.by), where_arg(args)
    assert by is not None
    if args.top is not None and not 1 <= args.top <= MAX_TOP:
        raise UsageError(f"--top must be between 1 and {MAX_TOP:,}")
    with open_read(args.db) as con:
        try:
            win = window(con, as_of, start)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        df = pl.DataFrame() if win is None else bottlenecks(con, win, by, where=where, top=args.top)
    print(render(df, args.format, title=f"Bottlenecks by {by}"))
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    """``fpi alerts``: SLA alerts of kpis.md, newest first (``--active``: active only)."""
    from metrics.alerts import alerts

    where = where_arg(args)
    with open_read(args.db) as con:
        df = alerts(con, active_only=args.active, kind=args.kind, where=where)
    if args.format == "table" and df.height == 0:
        what = "active SLA alerts" if args.active else "SLA alerts"
        print(f"no {what}" + (" matching the filters" if where or args.kind else ""))
        return 0
    title = "Active SLA alerts" if args.active else "SLA alerts"
    print(render(df, args.format, title=title))
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    """``fpi quality``: the data-quality counts (integration failures), optionally per
    source system, with ``rejection_rate``."""
    from metrics.quality import by_source, summary

    with open_read(args.db) as con:
        df = by_source(con) if args.by == "source_system" else summary(con)
    title = "Data quality by source system" if args.by else "Data quality"
    print(render(df, args.format, title=title))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from sample_streams.generator import DEFAULT_START, GeneratorConfig, write_stream

    start = time_arg(args.start, "--start") or DEFAULT_START
    if args.days <= 0 or args.lines_per_day <= 0:
        raise UsageError("--days and --lines-per-day must be positive")
    cfg = GeneratorConfig(
        start=start,
        days=args.days,
        lines_per_day=args.lines_per_day,
        seed=args.seed,
        mess=not args.clean,
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = write_stream(out, cfg)
    print(f"wrote {out}: {summary}")
    return 0


def cmd_produce(args: argparse.Namespace) -> int:
    """``fpi produce FILE... --brokers B --topic T``: replay JSON Lines into a Kafka topic."""
    import signal
    import time

    from flows.produce import ProduceSummary, produce

    paths = [Path(p) for p in args.paths]
    for p in paths:
        if not p.exists():
            raise FileNotFoundError(f"input not found: {p}")
    for flag, value in (("--rate", args.rate), ("--speedup", args.speedup)):
        if value is not None and not 0 < value < float("inf"):
            raise UsageError(f"{flag} must be a positive number")
    tty = sys.stderr.isatty()
    shown = [0.0]

    def report(s: ProduceSummary) -> None:
        if args.quiet or (not tty and time.monotonic() - shown[0] < 10):
            return  # a log file gets a line every 10 s, a terminal one every second
        shown[0] = time.monotonic()
        of = f" of {s.total:,}" if s.total is not None else ""
        text = f"produce: {s.sent:,}{of} sent, {s.delivered:,} delivered, {s.failed:,} failed"
        print(f"\r{text}" if tty else text, end="" if tty else "\n", file=sys.stderr, flush=True)

    def on_term(_sig: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the replay like Ctrl-C: sent is flushed

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        summary = produce(
            paths,
            brokers=args.brokers,
            topic=args.topic,
            rate=args.rate,
            speedup=args.speedup,
            rebase_to_now=args.rebase_to_now,
            clock=system_clock,
            progress=report,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
    if tty and not args.quiet:
        print(file=sys.stderr)
    for fault in summary.faults:
        print(f"fpi: warning: {fault}", file=sys.stderr)
    print(summary.line())
    if summary.failed:
        first = summary.errors[0] if summary.errors else "no error message"
        print(f"fpi: error: {summary.failed:,} messages not delivered ({first})", file=sys.stderr)
    if summary.interrupted:
        print("fpi: interrupted", file=sys.stderr)
        return 130
    return 0 if summary.ok else 1


def cmd_explain(args: argparse.Namespace) -> int:
    """``fpi explain KPI``: the KPI's definition and the SQL that computes it."""
    from metrics.catalog import BY_NAME
    from metrics.explain import explain

    if args.kpi is None:
        width = max(len(n) for n in BY_NAME)
        print("\n".join(f"{k.name:<{width}}  {k.label}" for k in BY_NAME.values()))
        return 0
    try:
        print(explain(args.kpi))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from core.contract import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    """``fpi import FILE --mapping M (--out OUT | --db DB)``: a status/event log as events."""
    from flows.imports import import_into, load_mapping, write_events
    from flows.sources import Progress

    source = Path(args.file)
    if not source.is_file():
        raise FileNotFoundError(f"input not found: {source}")
    mapping = load_mapping(Path(args.mapping))
    show = sys.stderr.isatty() and not args.quiet
    bar = None
    if show:
        from rich.progress import BarColumn, DownloadColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TextColumn("{task.fields[n]:,} {task.fields[unit]}"),
            TimeElapsedColumn(),
            transient=True,
        )
        bar.start()
    tasks: dict[str, TaskID] = {}

    def update(name: str, unit: str, done: int, total: int | None, n: int) -> None:
        if bar is not None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total, n=0, unit=unit)
            bar.update(tasks[name], completed=done, total=total, n=n)

    def on_rows(rows: int, done: int, total: int) -> None:
        update("convert", "rows", done, total, rows)

    def on_ingest(p: Progress, total: int | None) -> None:
        update("ingest", "events", p.bytes_read, total, p.lines_read)

    try:
        if args.out is not None:
            summary = write_events(source, mapping, Path(args.out), on_progress=on_rows)
            lines = [f"{summary.line()} -> {args.out}"]
        else:
            summary, ingested = import_into(
                source,
                mapping,
                Path(args.db),
                _settings(args),
                system_clock,
                on_progress=on_rows,
                on_ingest_progress=on_ingest if show else None,
            )
            lines = [summary.line(), ingested.line()]
    finally:
        if bar is not None:
            bar.stop()
    print("\n".join(lines))
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Start the dashboard on ``--address:--port`` with the settings of ``--config``
    (or ``FPI_CONFIG``), checked here first so a bad file fails before the server."""
    db = Path(args.db)
    if not 0 <= args.stale_after < float("inf"):
        raise UsageError("--stale-after must be a number of seconds, 0 or more")
    if not db.is_file():
        raise DatabaseError(f"database not found: {db} (run `fpi ingest ... --db {db}` first)")
    config = args.config or os.environ.get("FPI_CONFIG") or None
    load_settings(config)  # FileNotFoundError / ValueError: one line, exit 1
    argv = [
        "--db",
        str(db),
        "--port",
        str(args.port),
        "--address",
        args.address,
        "--refresh",
        str(args.refresh),
        "--stale-after",
        str(args.stale_after),
    ]
    if args.headless:
        argv.append("--headless")
    if config is not None:
        argv += ["--config", str(config)]
    return run_dashboard(argv)


def run_dashboard(argv: list[str]) -> int:
    """Become ``python -m dashboard ARGV`` (this process is replaced, so signals
    reach the dashboard directly). The CLI starts the dashboard app as a program
    and never imports it: the two applications stay independent."""
    os.execv(sys.executable, [sys.executable, "-m", "dashboard", *argv])
    return 0  # not reached: execv replaces the process


def parser() -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI)."""
    ap = argparse.ArgumentParser(
        prog="fpi", description="Fulfillment exception process intelligence."
    )
    ap.add_argument(
        "--config",
        metavar="FILE",
        help="TOML settings (SLA policy, working calendars, currency rates, targets); "
        "default: built in",
    )
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="run the dataflow over JSON Lines files/folders into DuckDB")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--db", required=True)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser(
        "stream", help="the live dataflow: a Kafka topic into DuckDB, SLA alerts on the clock"
    )
    p.add_argument("--brokers", required=True, help="HOST:PORT[,HOST:PORT...]")
    p.add_argument("--topic", required=True)
    p.add_argument("--db", required=True)
    p.add_argument("--alert-webhook", metavar="URL", help="POST every alert raise/retraction")
    p.add_argument(
        "--alert-secret",
        help="sign webhook posts with HMAC-SHA256 (or set FPI_ALERT_SECRET)",
    )
    p.add_argument(
        "--workers", type=int, default=1, help="Bytewax workers in this process (default 1)"
    )
    p.add_argument(
        "--processes",
        type=int,
        default=1,
        help="Bytewax processes on this machine (1 or 2): partitions read and parsed "
        "in all, one writer (default 1)",
    )
    p.add_argument("--process-id", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--cluster", help=argparse.SUPPRESS)
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_stream)

    p = sub.add_parser("kpis", help="print the KPIs of kpis.md")
    p.add_argument("--db", required=True)
    p.add_argument("--by", metavar="DIM", help="one row per group of this dimension")
    period_args(p)
    p.set_defaults(func=cmd_kpis)

    p = sub.add_parser(
        "recompute",
        help="apply the SLA policy and calendars in use to the whole history (O(history))",
    )
    p.add_argument("--db", required=True)
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=cmd_recompute)

    p = sub.add_parser("bottlenecks", help="groups ranked by SLA overrun hours")
    p.add_argument("--db", required=True)
    p.add_argument("--by", metavar="DIM", required=True)
    p.add_argument("--top", type=int, metavar="N")
    period_args(p)
    p.set_defaults(func=cmd_bottlenecks)

    p = sub.add_parser("alerts", help="SLA alerts (at risk, breached), newest first")
    p.add_argument("--db", required=True)
    p.add_argument(
        "--active",
        action="store_true",
        help="only active alerts: standing, exception open or paused",
    )
    p.add_argument("--kind", choices=("at_risk", "breached"), help="only this kind of alert")
    p.add_argument(
        "--where",
        action="append",
        metavar="DIM=VALUE",
        help="filter on the alert's dimensions; repeat for more (same DIM twice = either value)",
    )
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser("quality", help="data-quality counts (integration failures)")
    p.add_argument("--db", required=True)
    p.add_argument(
        "--by", choices=("source_system",), help="one row per source system of the lines"
    )
    p.add_argument("--format", choices=FORMATS, default="table")
    p.set_defaults(func=cmd_quality)

    from . import report, subscriptions

    report.add_parser(sub)
    subscriptions.add_parser(sub)

    p = sub.add_parser("dashboard", help="start the dashboard")
    p.add_argument("--db", required=True)
    p.add_argument(
        "--address",
        default="127.0.0.1",
        metavar="HOST",
        help="interface to listen on (default 127.0.0.1, this machine only; "
        "0.0.0.0 = every interface: put a login in front, see README)",
    )
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.add_argument(
        "--refresh",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="auto-refresh interval (0: off)",
    )
    p.add_argument(
        "--stale-after",
        dest="stale_after",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="warn when the live flow's last heartbeat is older than this (default 30)",
    )
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser("generate", help="write a synthetic milestone stream")
    p.add_argument("--out", required=True, metavar="FILE", help=".jsonl or .jsonl.gz")
    p.add_argument("--days", type=float, default=3.0)
    p.add_argument(
        "--lines-per-day",
        dest="lines_per_day",
        type=int,
        default=60_000,
        help="order lines per day (scale knob; default 60,000)",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--start", metavar="T", help="first day, RFC 3339 (default 2026-05-04Z)")
    p.add_argument("--clean", action="store_true", help="no duplicates, disorder or bad lines")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("produce", help="replay JSON Lines files into a Kafka topic")
    p.add_argument("paths", nargs="+", metavar="FILE", help="files or folders (.gz ok)")
    p.add_argument("--brokers", required=True, metavar="HOST:PORT[,...]")
    p.add_argument("--topic", required=True)
    pace = p.add_mutually_exclusive_group()
    pace.add_argument("--rate", type=float, metavar="N", help="send N events per second")
    pace.add_argument(
        "--speedup", type=float, metavar="X", help="play event-time gaps X times faster"
    )
    p.add_argument(
        "--rebase-to-now",
        dest="rebase_to_now",
        action="store_true",
        help="shift all timestamps by one offset so the replay ends at now",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=cmd_produce)

    p = sub.add_parser("import", help="turn a status log (CSV) or event log (XES) into events")
    p.add_argument("file", metavar="FILE", help=".csv, .xes, plain, .gz or in a .zip")
    p.add_argument("--mapping", required=True, metavar="MAPPING.toml")
    dest = p.add_mutually_exclusive_group(required=True)
    dest.add_argument("--out", metavar="OUT.jsonl", help="write contract-v1 JSON Lines (.gz ok)")
    dest.add_argument("--db", metavar="DB", help="ingest the events into DuckDB file DB")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("explain", help="a KPI's definition and the SQL that computes it")
    p.add_argument("kpi", nargs="?", metavar="KPI", help="a KPI name (none: list them)")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("schema", help="print the JSON Schema of the event contract")
    p.set_defaults(func=cmd_schema)
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``fpi`` command."""
    ap = parser()
    args = ap.parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"fpi: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (FileNotFoundError, DatabaseError, ValueError) as exc:
        print(f"fpi: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fpi: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:  # permission denied, disk full, read-only file system ...
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"fpi: error: {where}{exc.strerror or _one_line(exc)}", file=sys.stderr)
        return 1
    except Exception as exc:  # noqa: BLE001 - a user sees one line, never a traceback
        if os.environ.get("FPI_DEBUG"):
            raise
        print(
            f"fpi: error: unexpected {type(exc).__name__}: {_one_line(exc)} "
            "(run with FPI_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())

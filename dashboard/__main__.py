"""``python -m dashboard --db DB ...``: start the dashboard (what ``fpi dashboard`` runs).

The command line hands over to this module by process, not by import, so the
two applications stay independent (``fpi`` never imports the dashboard).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from . import launch


def parser() -> argparse.ArgumentParser:
    """The options of ``fpi dashboard`` (validated there first)."""
    ap = argparse.ArgumentParser(prog="python -m dashboard", description="Start the dashboard.")
    ap.add_argument("--db", required=True)
    ap.add_argument("--port", type=int, default=8501)
    ap.add_argument("--address", default=launch.DEFAULT_ADDRESS)
    ap.add_argument("--headless", action="store_true")
    ap.add_argument("--refresh", type=float, default=30.0)
    ap.add_argument("--stale-after", dest="stale_after", type=float, default=30.0)
    ap.add_argument("--config")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    """Run Streamlit for the arguments; its exit code."""
    args = parser().parse_args(argv)
    return launch.launch(
        Path(args.db),
        port=args.port,
        headless=args.headless,
        refresh_seconds=args.refresh,
        stale_after_seconds=args.stale_after,
        address=args.address,
        config=None if args.config is None else Path(args.config),
    )


if __name__ == "__main__":
    sys.exit(main())

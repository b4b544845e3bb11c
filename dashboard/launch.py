"""``fpi dashboard``: run the Streamlit app as a child process.

The database path and the refresh interval reach the app both as script
arguments (after ``--``) and as environment variables (``FPI_DB``,
``FPI_REFRESH_SECONDS``). SIGTERM/SIGINT given to ``fpi dashboard`` are passed
on to Streamlit, and its exit code is returned.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

from .context import DB_ENV, REFRESH_ENV

APP = Path(__file__).with_name("app.py")


def command(db: Path, port: int, headless: bool, refresh_seconds: float) -> list[str]:
    """The ``streamlit run`` command line for ``db``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.headless",
        "true" if headless else "false",
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        "--client.toolbarMode",
        "minimal",
        "--theme.base",
        "light",
        "--",
        "--db",
        str(db),
        "--refresh",
        str(refresh_seconds),
    ]


def launch(
    db: Path, port: int = 8501, headless: bool = False, refresh_seconds: float = 30.0
) -> int:
    """Start the dashboard on ``port`` for database ``db``; return Streamlit's exit code."""
    db = Path(db).resolve()
    env = dict(os.environ)
    env[DB_ENV] = str(db)
    env[REFRESH_ENV] = str(refresh_seconds)
    proc = subprocess.Popen(command(db, port, headless, refresh_seconds), env=env)

    def forward(signum: int, frame: FrameType | None) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous: dict[int, object] = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            previous[sig] = signal.signal(sig, forward)
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                # the terminal sent SIGINT to the whole group; let Streamlit stop
                forward(signal.SIGINT, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)  # type: ignore[arg-type]

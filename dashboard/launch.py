"""``fpi dashboard``: run the Streamlit app as a child process.

The database path, the refresh interval, the stale-after limit of the live
flow's heartbeat and the settings file reach the app both as script arguments
(after ``--``) and as environment variables (``FPI_DB``,
``FPI_REFRESH_SECONDS``, ``FPI_STALE_AFTER_SECONDS``, ``FPI_CONFIG``). SIGTERM/SIGINT given to
``fpi dashboard`` are passed on to Streamlit, and its exit code is returned.

The server listens on ``127.0.0.1`` unless another ``address`` is given (the
dashboard has no login of its own: see the README to put it behind one), and
``client.showErrorDetails`` is ``none``, so even an error the app did not catch
shows no traceback, exception type or message in the browser (they go to the
server's stderr).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

from .context import (
    CONFIG_ENV,
    DB_ENV,
    DEFAULT_STALE_AFTER_SECONDS,
    REFRESH_ENV,
    STALE_AFTER_ENV,
)

APP = Path(__file__).with_name("app.py")
DEFAULT_ADDRESS = "127.0.0.1"
"""Listen on the loopback interface only: reachable from this machine (or through a
reverse proxy on it), not from the network."""


def command(
    db: Path,
    port: int,
    headless: bool,
    refresh_seconds: float,
    address: str = DEFAULT_ADDRESS,
    config: Path | None = None,
    stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS,
) -> list[str]:
    """The ``streamlit run`` command line for ``db``, listening on ``address:port``.

    ``config`` (a settings file) is passed to the app as ``--config``; without
    it the app uses the built-in settings.
    """
    app_args = [
        "--db",
        str(db),
        "--refresh",
        str(refresh_seconds),
        "--stale-after",
        str(stale_after_seconds),
    ]
    if config is not None:
        app_args += ["--config", str(config)]
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address",
        address,
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
        "--client.showErrorDetails",
        "none",
        "--theme.base",
        "light",
        "--",
        *app_args,
    ]


def launch(
    db: Path,
    port: int = 8501,
    headless: bool = False,
    refresh_seconds: float = 30.0,
    address: str = DEFAULT_ADDRESS,
    config: Path | None = None,
    stale_after_seconds: float = DEFAULT_STALE_AFTER_SECONDS,
) -> int:
    """Start the dashboard on ``address:port`` for database ``db``; return Streamlit's
    exit code. ``config`` is the settings file of ``fpi --config`` (None: defaults;
    an ``FPI_CONFIG`` of this process is then not passed on)."""
    db = Path(db).resolve()
    cfg = None if config is None else Path(config).resolve()
    env = dict(os.environ)
    env[DB_ENV] = str(db)
    env[REFRESH_ENV] = str(refresh_seconds)
    env[STALE_AFTER_ENV] = str(stale_after_seconds)
    if cfg is None:
        env.pop(CONFIG_ENV, None)
    else:
        env[CONFIG_ENV] = str(cfg)
    proc = subprocess.Popen(
        command(
            db,
            port,
            headless,
            refresh_seconds,
            address=address,
            config=cfg,
            stale_after_seconds=stale_after_seconds,
        ),
        env=env,
    )

    def forward(signum: int, frame: FrameType | None) -> None:
        if proc.poll() is None:
            proc.send_signal(signum)

    previous: dict[signal.Signals, Any] = {}
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
            signal.signal(sig, handler)

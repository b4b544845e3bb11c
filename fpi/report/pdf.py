"""Print an HTML document to PDF with headless Chromium.

The report's PDF is its HTML document (``fpi.report.document``) printed by
Chromium, so the two show the same charts and numbers; page size and margins
come from the document's CSS (``@page``, A4).

Which Chromium: ``FPI_CHROMIUM`` when set (a path, or a command name on
``PATH``), else the first of :data:`CANDIDATES` found on ``PATH`` (Debian's
``chromium`` is ``/usr/bin/chromium``). None found: :class:`ChromiumError`
with one line naming what is missing and how to fix it.

Chromium runs with a throw-away profile, no sandbox (it runs as any user,
containers included), no GPU, no first-run, sync, component update or
background networking; the page is a local file that loads nothing else.
It is given :data:`TIMEOUT` seconds; a hung Chromium is killed (its whole
process group, which this module started).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path

CANDIDATES: tuple[str, ...] = (
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
)
ENV = "FPI_CHROMIUM"
TIMEOUT = 120.0
FLAGS: tuple[str, ...] = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-pdf-header-footer",
)


class ChromiumError(OSError):
    """Chromium is missing, failed or timed out (one line: what and how to fix it)."""


def find_chromium(env: Mapping[str, str] | None = None) -> str:
    """The Chromium executable to run (see the module docstring)."""
    env = os.environ if env is None else env
    chosen = env.get(ENV, "").strip()
    if chosen:
        found = shutil.which(chosen)
        if found is None:
            raise ChromiumError(
                f"PDF export needs Chromium: {ENV}={chosen} is not an executable program"
            )
        return found
    for name in CANDIDATES:
        found = shutil.which(name, path=env.get("PATH"))
        if found is not None:
            return found
    raise ChromiumError(
        "PDF export needs Chromium, which was not found on PATH "
        "(install it, e.g. `apt-get install chromium`, or set FPI_CHROMIUM=/path/to/chromium)"
    )


def print_pdf(html: str, *, chromium: str | None = None, timeout: float = TIMEOUT) -> bytes:
    """``html`` (a self-contained document) printed to PDF by Chromium; the PDF bytes."""
    exe = chromium or find_chromium()
    with tempfile.TemporaryDirectory(prefix="fpi-pdf-") as tmp:
        page, out = Path(tmp) / "report.html", Path(tmp) / "report.pdf"
        page.write_text(html, encoding="utf-8")
        argv = [
            exe,
            *FLAGS,
            f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={out}",
            page.as_uri(),
        ]
        try:
            proc = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,
            )
        except OSError as exc:
            raise ChromiumError(f"PDF export: cannot start {exe}: {exc.strerror or exc}") from None
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise ChromiumError(f"PDF export: Chromium did not finish in {timeout:g} s") from None
        data = out.read_bytes() if out.is_file() else b""
        if proc.returncode != 0 or not data.startswith(b"%PDF"):
            last = _last_line(err.decode("utf-8", "replace"))
            raise ChromiumError(
                f"PDF export: Chromium failed (exit {proc.returncode}){': ' + last if last else ''}"
            )
        return data


def _last_line(text: str) -> str:
    """The last line of Chromium's stderr that is not D-Bus noise (headless Chromium
    complains about a missing system bus on servers; that is not the failure)."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "dbus" not in ln.lower()]
    return lines[-1][:200] if lines else ""

"""The dashboard in a real browser: ``fpi dashboard`` + Debian's headless Chromium
driven by Playwright.

* every page renders its Plotly charts and no Streamlit exception; screenshots go
  to ``docs/screenshots/<page>.png``; a filter in the URL is applied, and a click
  on a bottleneck bar narrows the dashboard and lands in the URL;
* ``/overview`` serves the Overview (not "Page not found"), whose first trend
  chart is above the fold at 1280×800, and a date range in the URL is applied;
* the same while ``fpi ingest`` keeps writing a bigger stream into the database
  (the dashboard refreshes itself and never shows a lock error);
* a live flow that stops beating is reported on the open page, without a reload;
* links, HTML and Markdown in the URL and in names from the data are shown as
  text (no link anywhere, in Markdown, charts or select boxes), garbage in the
  URL gives a friendly warning; the server listens on loopback only.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

import duckdb
import pytest

from core.timeutil import system_clock
from sample_streams.generator import DEMO_CONFIG, PLANTED_BOTTLENECK, write_stream
from tests.dashboard.alerts_scenario import alerts_db, set_flow_clock
from tests.dashboard.scenario import EVIL, HOSTILE, copy_db, hand_db, hostile_db, sample_db

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
# page -> (url path, charts it must show at least, title)
PAGES = {
    "overview": ("", 3, "Overview"),
    "bottlenecks": ("bottlenecks", 6, "Bottlenecks"),
    "aging": ("aging", 3, "Aging & SLA"),
    "queue": ("queue", 1, "Exception queue"),
    "alerts": ("alerts", 0, "SLA alerts"),
    "quality": ("quality", 3, "Data quality"),
}

if not CHROMIUM.exists():  # pragma: no cover - other machines
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)

sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fpi() -> list[str]:
    exe = Path(sys.executable).with_name("fpi")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "fpi"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


@contextmanager
def dashboard(db: Path, refresh: float = 0.0, stale_after: float = 30.0) -> Iterator[str]:
    """``fpi dashboard --db DB --headless --port P`` running; yields its base URL."""
    port = _free_port()
    log = db.with_name(f"dashboard-{port}.log")
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                *_fpi(),
                "dashboard",
                "--db",
                str(db),
                "--headless",
                "--port",
                str(port),
                "--refresh",
                str(refresh),
                "--stale-after",
                str(stale_after),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"dashboard did not start:\n{log.read_text()}")
                time.sleep(0.3)
            yield base
        finally:
            proc.terminate()  # fpi dashboard passes SIGTERM on to Streamlit
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def browser() -> Iterator[Any]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = b.new_page(viewport={"width": 1400, "height": 1000})
            yield page
        finally:
            b.close()


def _settle(page: Any, min_charts: int, timeout: float = 90.0) -> int:
    """Wait until the page shows ``min_charts`` Plotly charts and stops changing."""
    if min_charts > 0:  # a page without charts (SLA alerts) settles by the loop alone
        page.wait_for_selector(".js-plotly-plot", timeout=timeout * 1000)
    deadline = time.monotonic() + timeout
    last, stable = -1, 0
    while time.monotonic() < deadline:
        n = page.locator(".js-plotly-plot").count()
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        stable = stable + 1 if n == last and n >= min_charts and not running else 0
        if stable >= 3:
            return n
        last = n
        time.sleep(0.25)
    return last


def _title(page: Any) -> str:
    h1 = page.locator('[data-testid="stMain"] h1')
    return (h1.first.text_content() or "").strip() if h1.count() else ""


def _check(page: Any, name: str) -> int:
    _, min_charts, title = PAGES[name]
    deadline = time.monotonic() + 60
    while _title(page) != title and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _title(page) == title, f"{name}: page shows {_title(page)!r}"
    n = _settle(page, min_charts)
    errors = page.locator('[data-testid="stException"]')
    assert errors.count() == 0, f"{name}: {errors.first.inner_text()}"
    assert n >= min_charts, f"{name}: {n} charts, expected at least {min_charts}"
    text = page.locator('[data-testid="stMain"]').inner_text()
    for bad in ("Could not set lock", "Cannot read the database", "Traceback"):
        assert bad not in text, f"{name}: {bad!r} reached the page"
    return n


def _visit(page: Any, base: str, name: str, query: str = "") -> int:
    """Open ``name`` by URL (a new session, as a shared link does)."""
    page.goto(f"{base}/{PAGES[name][0]}{query}", wait_until="domcontentloaded")
    return _check(page, name)


def _nav(page: Any, name: str) -> int:
    """Go to ``name`` through the sidebar navigation (same session, filters kept)."""
    path, _, title = PAGES[name]
    link = page.locator('[data-testid="stSidebarNav"] a').nth(list(PAGES).index(name))
    for _attempt in range(5):
        link.click()
        deadline = time.monotonic() + 5
        while _title(page) != title and time.monotonic() < deadline:
            time.sleep(0.1)
        if _title(page) == title:
            break
    return _check(page, name)


def _screenshot(page: Any, path: Path) -> None:
    height = page.evaluate(
        "() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
        " return m ? m.scrollHeight : document.body.scrollHeight; }"
    )
    page.set_viewport_size({"width": 1400, "height": min(max(int(height) + 40, 1000), 6000)})
    time.sleep(1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_every_page_in_chromium_with_screenshots(tmp_path: Path) -> None:
    db = copy_db(sample_db(), tmp_path)
    carrier = PLANTED_BOTTLENECK["carrier"]
    with dashboard(db) as base, browser() as page:
        for i, name in enumerate(PAGES):
            if i == 0:
                _visit(page, base, name)
            else:
                _nav(page, name)
            _screenshot(page, SHOTS / f"{name}.png")
        # selecting a queue row shows that exception's timeline
        _nav(page, "queue")
        grid = page.locator(".st-key-queue-table")
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        assert box is not None
        chosen = ""
        for _attempt in range(3):
            page.mouse.click(box["x"] + 15, box["y"] + 35 * 3 + 17)  # the third row's marker
            deadline = time.monotonic() + 20
            while not chosen and time.monotonic() < deadline:
                time.sleep(0.25)
                chosen = page.locator(".st-key-exception input").input_value()
            if chosen:
                break
        assert chosen.startswith("X-")
        _settle(page, 1)
        deadline = time.monotonic() + 30
        title = ""
        while chosen not in title and time.monotonic() < deadline:
            time.sleep(0.25)
            title = page.locator(".st-key-timeline .gtitle").first.text_content() or ""
        assert title.startswith(f"{chosen} —")
        # a shared link: the filter in the URL is applied
        _visit(page, base, "aging", f"?carrier={carrier}")
        sidebar = page.locator('[data-testid="stSidebar"]').inner_text()
        assert carrier in sidebar
        # a click on the top carrier bar narrows every page, and the URL says so
        _nav(page, "bottlenecks")
        bar = page.locator(".st-key-bn-carrier .js-plotly-plot .bars path").first
        for _attempt in range(3):
            bar.scroll_into_view_if_needed()
            bar.click(force=True)
            deadline = time.monotonic() + 20
            while f"carrier={carrier}" not in page.url and time.monotonic() < deadline:
                time.sleep(0.25)
            if f"carrier={carrier}" in page.url:
                break
        assert f"carrier={carrier}" in page.url
        assert carrier in page.locator('[data-testid="stSidebar"]').inner_text()
        _nav(page, "queue")
        assert f"carrier={carrier}" in page.url


FOLD = {"width": 1280, "height": 800}


def test_overview_by_its_path_with_the_first_chart_above_the_fold(tmp_path: Path) -> None:
    db = copy_db(sample_db(), tmp_path)
    with dashboard(db) as base, browser() as page:
        page.set_viewport_size(FOLD)
        page.goto(f"{base}/overview", wait_until="domcontentloaded")
        _check(page, "overview")
        body = page.locator("body").inner_text()
        assert "Page not found" not in body and "You have requested page" not in body
        time.sleep(1.0)  # let Plotly finish its layout
        page.screenshot(path=str(tmp_path / "overview-1280x800.png"))
        first = page.locator(".st-key-sla .js-plotly-plot").first
        box = first.bounding_box()
        assert box is not None
        assert box["y"] >= 0 and box["y"] + box["height"] <= FOLD["height"], box
        title = page.locator(".st-key-sla .gtitle").first.text_content() or ""
        assert title.startswith("SLA adherence per")
        # its target line is labelled, and the headline names the top bottleneck
        notes = [t.text_content() for t in page.locator(".st-key-sla .annotation-text").all()]
        assert "Target 90 %" in notes
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert f"Top bottleneck: carrier {PLANTED_BOTTLENECK['carrier']} carries" in main
        assert "None" not in main and "nan" not in main.split()
        # a date range in the link is the window: the end of its last day, from its first
        page.goto(
            f"{base}/overview?dates=2026-05-05&dates=2026-05-06", wait_until="domcontentloaded"
        )
        _check(page, "overview")
        main = page.locator('[data-testid="stMain"]').inner_text()
        assert "as of 2026-05-07T00:00:00Z · flows from 2026-05-05T00:00:00Z (2 days)" in main
        assert "dates=2026-05-05" in page.url


def test_pages_stay_up_while_ingest_writes(tmp_path: Path) -> None:
    db = copy_db(sample_db(), tmp_path)
    # the demo world continued for more days: the demo days again (duplicates), then new
    bigger = tmp_path / "bigger.jsonl"
    write_stream(bigger, replace(DEMO_CONFIG, days=DEMO_CONFIG.days + 5))
    with dashboard(db, refresh=1.0) as base, browser() as page:
        _visit(page, base, "overview")
        before = page.locator('[data-testid="stSidebar"]').inner_text()
        ingest = subprocess.Popen(
            [*_fpi(), "ingest", str(bigger), "--db", str(db), "--quiet"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_env(),
            cwd=ROOT,
        )
        try:
            visits, during = 0, 0
            names = list(PAGES)
            while ingest.poll() is None or visits < len(names):
                running = ingest.poll() is None
                _nav(page, names[visits % len(names)])
                visits += 1
                during += running
                if visits > 60:
                    break
            out = ingest.communicate(timeout=300)[0].decode()
        finally:
            if ingest.poll() is None:
                ingest.terminate()
                ingest.wait()
        assert ingest.returncode == 0, out
        assert during >= 2, f"only {during} page visits while the ingest was writing"
        # after the ingest the dashboard shows the newer data (it refreshes on its own)
        deadline = time.monotonic() + 30
        after = before
        while after == before and time.monotonic() < deadline:
            time.sleep(1.0)
            after = page.locator('[data-testid="stSidebar"]').inner_text()
        assert after != before, "the data clock did not move on the page"
        _visit(page, base, "overview")
        _screenshot(page, tmp_path / "live-overview.png")


def _shown(page: Any, title: str, timeout: float = 60.0) -> str:
    """Wait until the page titled ``title`` finished running; its main text."""
    deadline = time.monotonic() + timeout
    while _title(page) != title and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _title(page) == title, f"page shows {_title(page)!r}, not {title!r}"
    stable = 0
    while stable < 4 and time.monotonic() < deadline:
        running = page.locator('[data-testid="stStatusWidget"]').count() > 0
        stable = 0 if running else stable + 1
        time.sleep(0.25)
    assert page.locator('[data-testid="stException"]').count() == 0
    text = page.locator('[data-testid="stMain"]').inner_text()
    assert "Traceback" not in text
    return text


def _no_evil_link(page: Any, where: str) -> None:
    links = page.locator(f'a[href*="{EVIL}"]')
    assert links.count() == 0, f"{where}: link {links.first.get_attribute('href')!r} on the page"
    assert page.locator(".js-plotly-plot a").count() == 0, f"{where}: a link inside a chart"
    assert page.locator('[data-testid="stMain"] script').count() == 0, f"{where}: a script"
    bold = page.locator('[data-testid="stMain"] strong:text-is("bold")')
    assert bold.count() == 0, f"{where}: **bold** from the data rendered as bold"


def test_hostile_links_values_and_garbage_render_as_text_in_chromium(tmp_path: Path) -> None:
    db = copy_db(hostile_db(), tmp_path)
    t = "as_of=2026-05-05T12:00:00Z"
    link = "[clickme](https://evil.example)"
    with dashboard(db) as base, browser() as page:
        page.goto(f"{base}/?site={quote(link)}", wait_until="domcontentloaded")
        text = _shown(page, "Overview")
        assert f"site = {link}" in text and "No exception matches the filters" in text
        _no_evil_link(page, "overview with a link in ?site")

        page.goto(f"{base}/bottlenecks?{t}", wait_until="domcontentloaded")
        _shown(page, "Bottlenecks")
        _settle(page, 1)
        _no_evil_link(page, "bottlenecks")
        ticks = [s.text_content() for s in page.locator(".js-plotly-plot .ytick text").all()]
        assert HOSTILE["category_html"] in ticks and HOSTILE["category"] in ticks
        # options of a select box (names from the data) are plain text too
        page.locator(".st-key-narrow-choice").click()
        page.wait_for_selector('[role="option"]', timeout=10_000)
        options = [o.inner_text() for o in page.locator('[role="option"]').all()]
        assert any(HOSTILE["category"] in o for o in options), options
        _no_evil_link(page, "bottlenecks with the select box open")
        page.keyboard.press("Escape")

        xid = HOSTILE["exception_id"]
        page.goto(f"{base}/queue?{t}&exception={quote(xid)}", wait_until="domcontentloaded")
        text = _shown(page, "Exception queue")
        _settle(page, 1)
        assert HOSTILE["site"] in text
        title = page.locator(".st-key-timeline .gtitle").first.text_content() or ""
        assert title == f"{xid} — {HOSTILE['category']}"
        _no_evil_link(page, "queue")

        for name, path in (
            ("Aging & SLA", "aging"),
            ("SLA alerts", "alerts"),
            ("Data quality", "quality"),
        ):
            page.goto(f"{base}/{path}?{t}", wait_until="domcontentloaded")
            _shown(page, name)
            _no_evil_link(page, path)

        page.goto(f"{base}/aging?as_of=0001-01-01T00:00:00Z", wait_until="domcontentloaded")
        text = _shown(page, "Aging & SLA")
        assert "As-of ignored" in text and "0001-01-01T00:00:00Z" in text
        page.goto(f"{base}/?period=bogus", wait_until="domcontentloaded")
        text = _shown(page, "Overview")
        assert "Period bogus from the link is not one of the choices" in text


def test_a_flow_that_stops_beating_is_reported_without_a_reload(tmp_path: Path) -> None:
    db = alerts_db(tmp_path, writer="stream", heartbeat_at=system_clock())
    with dashboard(db, refresh=1.0, stale_after=8.0) as base, browser() as page:
        con = duckdb.connect(str(db))  # the last heartbeat: now, as the page opens
        try:
            set_flow_clock(con, "stream", system_clock(), caught_up=True)
        finally:
            con.close()
        page.goto(f"{base}/alerts", wait_until="domcontentloaded")
        _check(page, "alerts")
        main = page.locator('[data-testid="stMain"]')
        assert "Live flow last seen" in main.inner_text()
        # the heartbeat stops (the file does not change): the fragment redraws the line
        deadline = time.monotonic() + 30
        while "has not been seen for" not in main.inner_text() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert "The live flow has not been seen for" in main.inner_text()
        assert page.locator('[data-testid="stAlertContentWarning"]').count() >= 1


def _outside_address() -> str | None:
    """An address of this machine that is not loopback (None: there is none)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent for a UDP connect
        except OSError:
            return None
        addr = str(s.getsockname()[0])
    return None if addr.startswith("127.") or addr == "0.0.0.0" else addr


def test_fpi_dashboard_listens_on_loopback_only(tmp_path: Path) -> None:
    outside = _outside_address()
    if outside is None:
        pytest.skip("this machine has no address besides loopback")
    db = copy_db(hand_db(), tmp_path)
    with dashboard(db) as base:
        port = int(base.rsplit(":", 1)[1])
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as r:
            assert r.status == 200
        with pytest.raises(OSError), socket.create_connection((outside, port), timeout=3):
            pass

"""``fpi report --out X.html`` opened in Chromium (Playwright): self-contained (no request
leaves the file), the charts drawn as SVG, the numbers those of ``fpi kpis``, human
labels, "no data" against an empty previous period, a zero change not painted red."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from fpi.cli import main
from fpi.report.content import Report
from fpi.report.document import html_document
from fpi.report.kpi_line import KpiLine
from metrics.query import Window
from metrics.targets import Target
from tests.dashboard.scenario import D0, H, hostile_db, sample_db

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
if not CHROMIUM.exists():  # pragma: no cover - other machines
    pytest.skip("needs Debian's chromium at /usr/bin/chromium", allow_module_level=True)
sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright


def _quiet(argv: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    return buf.getvalue()


def kpis(db: Path, *args: str) -> dict[str, Any]:
    return dict(json.loads(_quiet(["kpis", "--db", str(db), "--format", "json", *args]))[0])


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser.new_page(viewport={"width": 1200, "height": 900})
        finally:
            browser.close()


def open_report(page: Any, path: Path) -> list[str]:
    """Open ``path`` in the page; every URL the page asked for (anything but the file
    itself is blocked)."""
    asked: list[str] = []

    def route(r: Any) -> None:
        asked.append(r.request.url)
        if r.request.url == path.as_uri():
            r.continue_()
        else:
            r.abort()

    page.unroute("**/*")
    page.route("**/*", route)
    page.goto(path.as_uri(), wait_until="load")
    return asked


def report(db: Path, out: Path, *args: str) -> Path:
    _quiet(["report", "--db", str(db), "--out", str(out), *args])
    return out


def tile(page: Any, label: str) -> Any:
    return page.locator(
        ".tile", has=page.locator(".lab", has_text=re.compile(f"^{re.escape(label)}$"))
    )


def test_opens_offline_with_its_charts_drawn(page: Any, tmp_path: Path) -> None:
    path = report(sample_db(), tmp_path / "report.html")
    text = path.read_text()
    assert not re.search(r"<script|<link|<img|<iframe|\bsrc=|href=|@import|url\(", text)
    assert open_report(page, path) == [path.as_uri()]  # nothing else was requested
    charts = page.locator("svg.chart")
    assert charts.count() == 3 + 6 + 4  # summary trends, detail trends, bottlenecks
    for i in range(charts.count()):
        chart = charts.nth(i)
        box = chart.bounding_box()
        assert box is not None and box["width"] > 150 and box["height"] > 60
        drawn = chart.locator("path").evaluate_all(
            "ps => ps.filter(p => (p.getAttribute('d') || '').length > 10"
            " && p.getBBox().width > 0).length"
        )
        assert drawn >= 1, chart.get_attribute("aria-label")
    lines = page.locator("svg.chart path[fill='none']")
    assert lines.count() >= 6  # trend lines


def test_numbers_labels_and_an_empty_previous_period(page: Any, tmp_path: Path) -> None:
    path = report(sample_db(), tmp_path / "report.html")
    data = json.loads(report(sample_db(), tmp_path / "report.json").read_text())
    expected = kpis(sample_db())
    open_report(page, path)
    assert page.locator("#headline").inner_text() == data["summary"]
    assert data["summary"].startswith("SLA adherence 70.2 %, 19.8 pp under target;")
    assert page.locator(".tile").count() == 8
    assert tile(page, "Open exceptions").locator(".val").inner_text() == (
        f"{expected['open_exceptions']:,}"
    )
    assert tile(page, "Revenue at risk").locator(".val").inner_text() == (
        f"USD {expected['revenue_at_risk']:,.0f}"
    )
    assert tile(page, "SLA adherence").locator(".val").inner_text() == (
        f"{expected['sla_adherence'] * 100:.1f} %"
    )
    # the sample starts 05-04: the 7 days before the default period hold no data
    for i in range(8):
        change = page.locator(".tile .chg").nth(i).inner_text()
        assert change == "no data for the previous period", change
    body = page.locator("body").inner_text()
    assert "None" not in body.split() and "nan" not in body.lower().split()
    headers = page.locator("th").all_inner_texts()
    assert headers and not [h for h in headers if "_" in h]
    assert "Share of overrun" in headers and "Order value (USD)" in headers


def test_where_filters_the_report(page: Any, tmp_path: Path) -> None:
    path = report(sample_db(), tmp_path / "red.html", "--where", "carrier=REDLINE")
    expected = kpis(sample_db(), "--where", "carrier=REDLINE")
    open_report(page, path)
    assert "Filters: Carrier = REDLINE." in page.locator("header").inner_text()
    assert tile(page, "Open exceptions").locator(".val").inner_text() == (
        f"{expected['open_exceptions']:,}"
    )
    summary = page.locator("table").first.locator("tbody tr").all_inner_texts()
    assert [row for row in summary if row.startswith("Carrier")][0].split("\t")[1] == "REDLINE"
    # the headline does not call REDLINE the bottleneck of a report about REDLINE only
    assert "carrier REDLINE" not in page.locator("#headline").inner_text()


def test_a_zero_change_is_grey_and_a_bad_one_red(page: Any) -> None:
    win = Window(D0 + 48 * H, D0 + 24 * H)
    lines = (
        KpiLine("open_exceptions", 7, 7, None),
        KpiLine("sla_adherence", 0.8, 0.9, Target("sla_adherence", 0.9, 0.85, "up")),
        KpiLine("revenue_at_risk", 1000.0, 1500.0, None),
    )
    rep = Report(
        generated_at=datetime(2026, 6, 1, tzinfo=UTC),
        currency="EUR",
        where={},
        window=win,
        previous=Window(D0 + 24 * H, D0),
        previous_has_data=True,
        lines=lines,
        headline="headline",
    )
    page.unroute("**/*")
    page.set_content(html_document(rep))
    zero = tile(page, "Open exceptions").locator(".chg span")
    assert zero.inner_text() == "0" and zero.get_attribute("class") == "neutral"
    bad = tile(page, "SLA adherence").locator(".chg span")
    assert bad.inner_text() == "-10.0 pp" and bad.get_attribute("class") == "bad"
    good = tile(page, "Revenue at risk").locator(".chg span")
    assert good.inner_text() == "-EUR 500" and good.get_attribute("class") == "good"
    assert "Off target" in tile(page, "SLA adherence").inner_text()
    colors = [
        page.locator(f".tile .chg .{c}").first.evaluate("e => getComputedStyle(e).color")
        for c in ("neutral", "bad", "good")
    ]
    assert len(set(colors)) == 3 and colors[1] == "rgb(185, 28, 28)"


def test_names_from_the_data_are_text(page: Any, tmp_path: Path) -> None:
    path = report(hostile_db(), tmp_path / "hostile.html")
    asked = open_report(page, path)
    assert asked == [path.as_uri()]
    assert page.locator("a, script").count() == 0
    assert "<script>alert(1)</script>" in page.locator("body").inner_text()

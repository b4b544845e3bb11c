"""``fpi report --out X.pdf`` opened as a person would: pages rendered to PNG with
``pdftoppm``, text extracted with pypdf — the one-page executive summary first (the
headline sentence, tiles, charts, bottlenecks, open exceptions), then details and
the definitions; every number equal to ``fpi kpis --format json``.

One PDF is printed (Chromium takes a second or two).
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pypdf import PdfReader

from core.timeutil import parse_time
from fpi.cli import main
from metrics.catalog import CATALOG
from tests.dashboard.scenario import sample_db

pytestmark = pytest.mark.slow

FROM = "2026-05-07T12:00:00Z"
"""A period of the sample whose previous period has data (the sample starts 05-04)."""
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None:  # pragma: no cover - other machines
    pytest.skip("needs Chromium (Debian: apt-get install chromium)", allow_module_level=True)


def _quiet(argv: list[str]) -> str:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(argv) == 0
    return buf.getvalue()


def kpis(*args: str) -> dict[str, Any]:
    rows = json.loads(_quiet(["kpis", "--db", str(sample_db()), "--format", "json", *args]))
    return dict(rows[0])


def flat(text: str) -> str:
    """Text with every run of white space as one space (lines wrap in a PDF)."""
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Printed:
    path: Path
    pages: list[str]
    now: dict[str, Any]
    before: dict[str, Any]
    data: dict[str, Any]


@pytest.fixture(scope="module")
def printed(tmp_path_factory: pytest.TempPathFactory) -> Printed:
    tmp = tmp_path_factory.mktemp("pdf")
    out = tmp / "report.pdf"
    db = str(sample_db())
    _quiet(["report", "--db", db, "--out", str(out), "--from", FROM])
    _quiet(["report", "--db", db, "--out", str(tmp / "report.json"), "--from", FROM])
    now = kpis("--from", FROM)
    start, end = parse_time(FROM), parse_time(now["as_of"])
    before = kpis("--as-of", FROM, "--from", (start - (end - start)).isoformat())
    pages = [flat(p.extract_text()) for p in PdfReader(out).pages]
    data = json.loads((tmp / "report.json").read_text())
    return Printed(out, pages, now, before, data)


def pct(v: float) -> str:
    return f"{v * 100:.1f} %"


def test_it_is_a_pdf_of_a4_pages(printed: Printed) -> None:
    assert printed.path.read_bytes().startswith(b"%PDF-")
    reader = PdfReader(printed.path)
    assert 5 <= len(reader.pages) <= 10
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4 in points


def test_first_page_is_the_executive_summary_with_the_headline(printed: Printed) -> None:
    page1 = printed.pages[0]
    sla = printed.now["sla_adherence"]
    assert sla < 0.9  # the sample is under its 90 % target
    head = f"SLA adherence {pct(sla)}, {(0.9 - sla) * 100:.1f} pp under target;"
    assert head in page1
    assert flat(printed.data["summary"]) in page1
    assert "carrier REDLINE on lane ATL→MIA carries" in page1  # the planted bottleneck
    for section in (
        "Executive summary",
        "Backlog by age",
        "SLA adherence per 6 hours",
        "Revenue at risk (USD)",
        "Where the SLA overrun sits",
        f"Top open exceptions by revenue at risk (8 of {printed.now['open_exceptions']} open)",
    ):
        assert section in page1, section
    assert all("Executive summary" not in p for p in printed.pages[1:])
    assert "KPIs in detail" in printed.pages[1] and "KPIs in detail" not in page1
    top = printed.data["top_open_exceptions"][0]
    assert top["exception_id"] in page1


def test_tiles_show_fpi_kpis_numbers_with_changes_and_targets(printed: Printed) -> None:
    page1, now, before = printed.pages[0], printed.now, printed.before
    money = f"USD {now['revenue_at_risk']:,.0f}"
    tiles = [
        f"SLA adherence {pct(now['sla_adherence'])}",
        f"Open exceptions {now['open_exceptions']:,}",
        f"Breached (open) {now['breached_open']:,}",
        f"Revenue at risk {money}",
        f"MTTR (h) {now['mttr_hours']:.1f} h",
        f"Manual touches / exception {now['avg_manual_touches']:.2f}",
        f"First-touch resolution {pct(now['first_touch_resolution_rate'])}",
        f"OTIF {pct(now['otif'])}",
    ]
    for tile in tiles:
        assert tile in page1, tile
    d_open = now["open_exceptions"] - before["open_exceptions"]
    assert f"{d_open:+,} vs previous period" in page1
    d_sla = (now["sla_adherence"] - before["sla_adherence"]) * 100
    assert f"{d_sla:+.1f} pp vs previous period" in page1
    assert "target ≥ 90 % · off target below 85 % Off target" in page1
    assert "None" not in page1 and "nan" not in page1.lower().split()


def test_detail_pages_list_every_kpi_as_fpi_kpis(printed: Printed) -> None:
    text = next(p for p in printed.pages if "KPIs in detail" in p)
    for k in CATALOG:
        if k.kind == "quality":
            continue
        v = printed.now[k.name]
        if v is None:
            shown = "—"
        elif k.unit == "share":
            shown = pct(v)
        elif k.unit == "hours":
            shown = f"{v:,.1f} h"
        elif k.unit == "currency":
            shown = f"USD {v:,.0f}"
        elif k.unit == "touches":
            shown = f"{v:,.2f}"
        else:
            shown = f"{v:,}"
        assert f"{k.label} {shown}" in text, (k.name, shown)
    rest = " ".join(printed.pages[1:])
    for heading in ("Trends", "Bottlenecks", "By carrier:", "By root cause:", "Data quality"):
        assert heading in rest, heading


def test_appendix_defines_every_kpi_from_the_catalog(printed: Printed) -> None:
    start = next(i for i, p in enumerate(printed.pages) if "Appendix: definitions" in p)
    assert start >= 2
    appendix = " ".join(printed.pages[start:])
    for k in CATALOG:
        assert k.label in appendix, k.name
        assert flat(k.definition) in appendix, k.name
    assert "Previous period" in appendix and "Target and status" in appendix


def test_first_page_renders_with_its_charts(printed: Printed, tmp_path: Path) -> None:
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "50",
            "-f",
            "1",
            "-l",
            "1",
            str(printed.path),
            str(tmp_path / "p"),
        ],
        check=True,
        capture_output=True,
    )
    (png,) = tmp_path.glob("p*.png")
    img = Image.open(png).convert("RGB")
    w, h = img.size
    assert abs(h / w - 297 / 210) < 0.01
    raw = img.tobytes()
    pixels = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    ink = sum(1 for p in pixels if sum(p) < 600) / len(pixels)
    assert ink > 0.02  # not a blank page
    red = sum(1 for r, g, b in pixels if r > 180 and g < 90 and b < 90)
    blue = sum(1 for r, g, b in pixels if b > 150 and r < 80 and 90 < g < 150)
    orange = sum(1 for r, g, b in pixels if r > 220 and 100 < g < 160 and b < 60)
    assert red > 50 and blue > 50 and orange > 20  # headline mark, chart lines and areas

"""The report's own SVG charts (``fpi.report.svg``): scales, gaps, stacks, bars, escaping."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import pytest

from fpi.report import svg

NS = {"s": "http://www.w3.org/2000/svg"}
T0 = datetime(2026, 5, 4, tzinfo=UTC)
TIMES = [T0 + i * timedelta(hours=6) for i in range(6)]


def _tree(text: str) -> ET.Element:
    return ET.fromstring(text)  # noqa: S314 - our own output


def _texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.parametrize(
    ("value", "top"),
    [(0.0, 1.0), (-3.0, 1.0), (0.7, 1.0), (1.0, 1.0), (130.0, 200.0), (3795.8, 5000.0), (21, 25)],
)
def test_nice_max(value: float, top: float) -> None:
    assert svg.nice_max(value) == pytest.approx(top)


@pytest.mark.parametrize(
    ("peak", "top", "step"),
    [(48.0, 60.0, 20.0), (130.0, 150.0, 50.0), (1.0, 1.0, 0.25), (24.5, 30.0, 10.0), (0, 1, 0.25)],
)
def test_axis_has_round_steps_and_ends_at_or_above_the_peak(
    peak: float, top: float, step: float
) -> None:
    assert svg.axis(peak) == pytest.approx((top, step))


def test_a_missing_value_breaks_the_line_and_a_lone_point_is_a_dot() -> None:
    values = [1.0, 2.0, None, 4.0, None, 3.0]
    root = _tree(svg.time_chart(TIMES, [svg.Line("x", values)], title="t", unit="count"))
    paths = root.findall(".//s:path", NS)
    assert len(paths) == 1  # 1.0, 2.0 — the lone 4.0 and 3.0 are dots
    assert paths[0].get("d", "").count("L") == 1
    assert len(root.findall(".//s:circle", NS)) == 2
    ys = [float(c.get("cy", "0")) for c in root.findall(".//s:circle", NS)]
    assert ys[0] < ys[1]  # 4 is drawn above 3


def test_stacked_areas_are_closed_paths_and_the_scale_fits_their_sum() -> None:
    a = svg.Line("a", [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    b = svg.Line("b", [10.0, 10.0, None, 10.0, 10.0, 10.0])
    root = _tree(svg.time_chart(TIMES, [a, b], title="t", unit="count", stacked=True))
    areas = [p.get("d", "") for p in root.findall(".//s:path", NS)]
    assert len(areas) == 2 and all(d.endswith("Z") for d in areas)
    assert "20" in _texts(root)  # 16 at most -> axis 0, 5, ... 20


def test_share_chart_with_a_target_line_and_axis_labels() -> None:
    text = svg.time_chart(
        TIMES,
        [svg.Line("SLA", [0.7, 0.8, 0.6, 0.9, 0.75, 0.7])],
        title="SLA adherence",
        unit="share",
        y_max=1.0,
        target=0.9,
        target_label="Target 90 %",
    )
    root = _tree(text)
    labels = _texts(root)
    assert {"0 %", "25 %", "50 %", "75 %", "100 %", "Target 90 %"} <= set(labels)
    assert "05-04 00:00" in labels and "05-05 06:00" in labels  # first and last time
    dashed = [ln for ln in root.findall(".//s:line", NS) if ln.get("stroke-dasharray")]
    assert len(dashed) == 1


def test_day_steps_are_labelled_by_date() -> None:
    days = [T0 + timedelta(days=i) for i in range(4)]
    root = _tree(svg.time_chart(days, [svg.Line("x", [1.0, 2, 3, 4])], title="t", unit="count"))
    assert {"05-04", "05-07"} <= set(_texts(root))


def test_empty_chart_says_no_data() -> None:
    for times, values in (([], []), (TIMES, [None] * 6)):
        root = _tree(svg.time_chart(times, [svg.Line("x", values)], title="t", unit="count"))
        assert "no data" in _texts(root)
        assert root.findall(".//s:path", NS) == []
    root = _tree(svg.bar_chart([], [], [], title="b", unit="hours"))
    assert "no data" in _texts(root)


def test_bars_are_proportional_and_the_first_is_highlighted() -> None:
    root = _tree(
        svg.bar_chart(
            ["REDLINE", "ACME", "(none)"],
            [3000.0, 1500.0, None],
            ["75 %", "25 %", ""],
            title="By carrier",
            unit="hours",
        )
    )
    bars = root.findall(".//s:path", NS)
    assert len(bars) == 2  # no bar for a missing value
    widths = [float(re.findall(r" h([\d.]+) ", b.get("d", ""))[0]) for b in bars]
    assert widths[0] == pytest.approx(2 * widths[1])
    assert bars[0].get("fill") == svg.BAD and bars[1].get("fill") == svg.ACCENT
    assert {"REDLINE", "75 %", "0", "3,000 h"} <= set(_texts(root))  # axis ends at the peak


def test_text_from_the_data_is_escaped() -> None:
    evil = '<script>alert(1)</script> & "x"'
    text = svg.bar_chart([evil], [1.0], [evil], title=evil, unit="count")
    assert "<script>" not in text
    root = _tree(text)  # well-formed XML
    assert evil in _texts(root)
    assert root.get("aria-label") == evil

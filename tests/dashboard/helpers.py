"""Helpers of the dashboard tests: the app file, its pages, reading AppTest output."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from streamlit.testing.v1 import AppTest

import dashboard

APP = Path(dashboard.__file__).with_name("app.py")
PAGES = {
    "overview": "app_pages/overview.py",
    "bottlenecks": "app_pages/bottlenecks.py",
    "aging": "app_pages/aging.py",
    "queue": "app_pages/queue.py",
    "alerts": "app_pages/alerts.py",
    "quality": "app_pages/quality.py",
}
CHART_PAGES = [p for p in PAGES if p != "alerts"]
"""The pages that always draw a chart when there is data (the alerts page is a list)."""


def charts(at: AppTest) -> list[dict[str, Any]]:
    """The Plotly figures of the page, as JSON."""
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


def chart_titled(at: AppTest, title: str) -> dict[str, Any]:
    """The figure whose title is ``title``."""
    for fig in charts(at):
        if fig["layout"].get("title", {}).get("text") == title:
            return fig
    raise AssertionError(
        f"no chart titled {title!r}: {[t['layout'].get('title') for t in charts(at)]}"
    )


def metrics(at: AppTest) -> dict[str, str]:
    """KPI tiles: label -> shown value."""
    return {m.label: m.value for m in at.metric}


def texts(at: AppTest) -> str:
    """Every markdown, caption, info, warning and error text of the page, joined."""
    parts: list[str] = []
    for kind in ("markdown", "caption", "info", "warning", "error", "title"):
        parts += [str(e.value) for e in getattr(at, kind)]
    return "\n".join(parts)


def badges(at: AppTest) -> list[str]:
    """The badges of the page (``st.badge`` is drawn as ``:color-badge[...]`` Markdown)."""
    return [str(m.value) for m in at.markdown if "-badge[" in str(m.value)]


def tile_badge(at: AppTest, label: str) -> str:
    """The target badge of the KPI tile labelled ``label`` (the Markdown after its metric),
    or "" when the tile has none."""
    elements = list(at.main)
    for i, el in enumerate(elements):
        if getattr(el, "type", None) == "metric" and el.label == label:
            for nxt in elements[i + 1 : i + 3]:
                value = str(getattr(nxt, "value", ""))
                if "-badge[" in value:
                    return value
            return ""
    raise AssertionError(f"no tile {label!r}")

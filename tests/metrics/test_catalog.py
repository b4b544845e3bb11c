"""The catalog declares every KPI of kpis.md once, and the queries return them all."""

from __future__ import annotations

import re
from pathlib import Path

from metrics.catalog import BY_NAME, CATALOG, names
from metrics.query import ORDER_KPIS, STOCK_FLOW

SPEC = Path(__file__).resolve().parents[3] / "shared" / "spec" / "kpis.md"


def test_names_are_unique_and_described() -> None:
    assert len(BY_NAME) == len(CATALOG)
    for k in CATALOG:
        assert k.label and k.definition and k.good in ("up", "down", "neutral")


def test_every_kpi_name_of_the_spec_is_in_the_catalog() -> None:
    if not SPEC.exists():  # shared/ sits beside the repository
        return
    text = SPEC.read_text()
    table_names = set(re.findall(r"^\| `([a-z0-9_]+)`", text, flags=re.M))
    inline = {
        "otif",
        "on_time_rate",
        "in_full_rate",
        "exception_rate",
        "accepted_events",
        "duplicate_events",
        "rejected_events",
        "pending_events",
    }
    for name in table_names | inline:
        assert name in BY_NAME, name


def test_queries_cover_the_catalog() -> None:
    assert set(STOCK_FLOW) | set(ORDER_KPIS) | set(names("quality")) == set(BY_NAME)

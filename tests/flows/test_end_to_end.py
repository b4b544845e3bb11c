"""Generated messy streams end to end: every line lands where the generator says it should."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.db import open_read
from metrics.bottlenecks import bottlenecks
from metrics.query import window
from sample_streams.generator import PLANTED_BOTTLENECK, GeneratorConfig, generate_labelled
from tests.streams import ingest_events, table


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Counter[str]]:
    cfg = GeneratorConfig(
        start=datetime(2026, 5, 4, tzinfo=UTC), days=2, lines_per_day=5000, seed=7
    )
    pairs = list(generate_labelled(cfg))
    labels = Counter(label for _, label in pairs)
    db, _ = ingest_events(tmp_path_factory.mktemp("gen"), [line for line, _ in pairs])
    return db, labels


def test_counts_match_the_generators_labels(generated: tuple[Path, Counter[str]]) -> None:
    db, labels = generated
    with open_read(db) as con:
        from metrics.quality import quality

        q = quality(con)
    assert q["accepted_events"] == labels["event"]
    assert q["duplicate_events"] == labels["duplicate"] + labels["conflicting_duplicate"]
    assert q["pending_events"] == 0
    reasons = dict(
        table(db, "SELECT reason, count(*) AS n FROM rejected_events GROUP BY 1").iter_rows()
    )
    expected = {
        k: v
        for k, v in labels.items()
        if k not in ("event", "duplicate", "conflicting_duplicate", "blank")
    }
    assert reasons == expected


@pytest.mark.parametrize("dim", ["carrier", "lane", "site"])
def test_planted_bottleneck_is_the_top_group(
    generated: tuple[Path, Counter[str]], dim: str
) -> None:
    db, _ = generated
    with open_read(db) as con:
        win = window(con)
        assert win is not None
        top = bottlenecks(con, win, dim, top=1)
    assert top[dim][0] == PLANTED_BOTTLENECK[dim]

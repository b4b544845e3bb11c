"""The dashboard on a database whose sites have working calendars: the Aging & SLA
page says which calendar each site uses, an exception's timeline shows its
working-time SLA clock and deadline, and a configuration that differs from the one
the figures were computed with is said in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import load_settings
from flows.ingest import ingest
from tests.dashboard.conftest import Runner
from tests.dashboard.helpers import chart_titled, texts
from tests.streams import fixed_clock, worked_example, write_jsonl

NY = (
    '[calendars.ny]\ntimezone = "America/New_York"\n'
    + "".join(f'{d} = "08:00-18:00"\n' for d in ("mon", "tue", "wed", "thu", "fri"))
    + '[site_calendars]\nDC-ATL = "ny"\n'
)


@pytest.fixture
def calendar_db(tmp_path: Path) -> tuple[Path, Path]:
    cfg = tmp_path / "calendars.toml"
    cfg.write_text(NY)
    db = tmp_path / "cal.duckdb"
    events = worked_example()
    ingest([write_jsonl(tmp_path / "w.jsonl", events)], db, load_settings(cfg), fixed_clock)
    return db, cfg


def test_aging_lists_the_calendar_of_each_site(
    run_page: Runner, calendar_db: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, cfg = calendar_db
    monkeypatch.setenv("FPI_CONFIG", str(cfg))
    at = run_page(db, "aging")
    assert not at.exception
    labels = [e.label for e in at.expander]
    assert any(lb.startswith("Working calendars") for lb in labels), labels
    frames = [str(d.value) for d in at.dataframe]
    assert any("DC-ATL" in f and "America/New_York" in f for f in frames), frames
    assert "computed with another" not in texts(at)


def test_the_timeline_shows_the_working_time_clock_and_its_deadline(
    run_page: Runner, calendar_db: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, cfg = calendar_db
    monkeypatch.setenv("FPI_CONFIG", str(cfg))
    at = run_page(db, "queue", exception="X-1", as_of="2026-05-05T10:00:00Z")
    assert not at.exception
    text = texts(at)
    assert "SLA clock:" in text and "working time of calendar" in text
    assert "breach due 2026-05-05T17:00:00Z" in text
    assert "at risk from 2026-05-05T15:12:00Z" in text
    fig = chart_titled(at, "SLA clock (working hours)")
    assert max(fig["data"][0]["y"]) == pytest.approx(4.0)  # nothing counted before 12:00Z


def test_another_configuration_is_said_in_one_line(
    run_page: Runner, calendar_db: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db, _ = calendar_db
    monkeypatch.delenv("FPI_CONFIG", raising=False)  # the built-in 24x7 settings
    at = run_page(db, "overview")
    warnings = [str(w.value) for w in at.warning]
    assert any("computed with another SLA policy or calendars" in w for w in warnings), warnings

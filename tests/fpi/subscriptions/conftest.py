"""Fixtures of the subscription tests: a real SMTP server, a sample database, configs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fpi.subscriptions.smtp import SmtpServer, smtp_server
from tests.streams import ingest_events, worked_example


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The worked example of kpis.md (X-1; data clock 2026-05-05T09:00Z), ingested once."""
    tmp = tmp_path_factory.mktemp("subscriptions-db")
    db, summary = ingest_events(tmp, worked_example())
    assert summary.after.accepted == 7
    return db


@pytest.fixture
def db(sample_db: Path, tmp_path: Path) -> Path:
    """The sample database under a path of this test's own (a symlink), so the state
    and lock files beside it (``fpi.duckdb.reports.*``) are this test's."""
    link = tmp_path / "fpi.duckdb"
    link.symlink_to(sample_db)
    return link

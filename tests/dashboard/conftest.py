"""Fixtures of the dashboard tests: the app under ``streamlit.testing`` on a database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from tests.dashboard.helpers import APP, PAGES

Runner = Callable[..., AppTest]


@pytest.fixture
def run_page(monkeypatch: pytest.MonkeyPatch) -> Runner:
    """``run_page(db, page, **query_params)``: the app on ``db`` showing ``page``."""

    def run(db: Path, page: str = "overview", **query: Any) -> AppTest:
        monkeypatch.setenv("FPI_DB", str(db))
        monkeypatch.setenv("FPI_REFRESH_SECONDS", "0")
        at = AppTest.from_file(str(APP), default_timeout=120)
        for k, v in query.items():
            at.query_params[k] = v
        at.switch_page(PAGES[page])
        at.run()
        return at

    return run

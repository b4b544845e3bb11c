"""Fixtures of the metric-layer tests."""

from __future__ import annotations

import pytest

from core.db import open_read
from metrics.query import Window, window
from tests.dashboard.scenario import sample_db


@pytest.fixture(scope="module")
def sample_win() -> Window:
    """The default window (data clock, 7 days) of the sample stream."""
    with open_read(sample_db()) as con:
        win = window(con)
    assert win is not None
    return win

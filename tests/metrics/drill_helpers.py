"""Shared by the drill-down tests: the hand scenario's window and float comparison."""

from __future__ import annotations

import math

from metrics.query import Window
from tests.dashboard.scenario import D0, T2

WIN = Window(T2, D0)
"""[05-04 00:00, 05-05 12:00) of the hand-made scenario."""


def close(a: object, b: object) -> bool:
    """Equal, with a float tolerance (None only equals None, strings compare exactly)."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    assert isinstance(a, int | float) and isinstance(b, int | float)
    return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)

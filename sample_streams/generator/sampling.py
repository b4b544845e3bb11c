"""Random draws shared by the world: weighted picks and Poisson counts."""

from __future__ import annotations

import math
import random
from bisect import bisect_right
from collections.abc import Sequence
from typing import TypeVar

_T = TypeVar("_T")


def cumulative(weights: tuple[float, ...] | list[float]) -> list[float]:
    """Cumulative sums of ``weights`` (the table :func:`pick` draws from)."""
    out: list[float] = []
    acc = 0.0
    for w in weights:
        acc += w
        out.append(acc)
    return out


def pick(rng: random.Random, items: Sequence[_T], cum: list[float]) -> _T:
    """``items[i]`` with probability proportional to its weight (``cum``: cumulative weights)."""
    return items[bisect_right(cum, rng.random() * cum[-1])]


def poisson(rng: random.Random, lam: float) -> int:
    """A Poisson-distributed count with mean ``lam`` (Knuth's method)."""
    limit = math.exp(-lam)
    k = 0
    p = rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k

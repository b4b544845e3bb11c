"""What to generate: :class:`GeneratorConfig` and its fixed default start."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

DEFAULT_START: Final[datetime] = datetime(2026, 5, 4, tzinfo=UTC)
"""Fixed default start of the first day (never the wall clock)."""


@dataclass(frozen=True)
class GeneratorConfig:
    """What to generate. The output is a pure function of these fields."""

    start: datetime = DEFAULT_START
    """Start of the first day, timezone-aware (converted to UTC)."""
    days: float = 3.0
    """Length of the stream; events after ``start + days`` have not happened yet."""
    lines_per_day: int = 60_000
    """Order lines released per day (about 4 lines per order)."""
    seed: int = 7
    mess: bool = True
    """Add real-feed mess: duplicates, disorder, drift, offsets, bad lines."""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("GeneratorConfig.start must be timezone-aware")
        if not self.days > 0:
            raise ValueError("GeneratorConfig.days must be positive")
        if self.lines_per_day < 1:
            raise ValueError("GeneratorConfig.lines_per_day must be at least 1")

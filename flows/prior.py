"""State a run starts from: what was applied before, rebuilt from DuckDB (``flows.rehydrate``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .dedupe import Deduper
from .exception_state import ExceptionShard

DEFAULT_SHARDS = 4
"""Lifecycle shards (keys of the sharded lifecycle step)."""


@dataclass(slots=True)
class PriorState:
    """State rebuilt from DuckDB before a run (empty for a new database)."""

    shards: int = DEFAULT_SHARDS
    dedupe: Deduper = field(default_factory=Deduper)
    exceptions: dict[int, ExceptionShard] = field(default_factory=dict)

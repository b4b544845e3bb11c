"""The shipped demo file ``sample_streams/demo.jsonl.gz`` and how to regenerate it."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from .config import GeneratorConfig
from .summary import GenerationSummary
from .writer import write_stream

DEMO_CONFIG: Final[GeneratorConfig] = GeneratorConfig(days=7.0, lines_per_day=10_000, seed=7)
"""Parameters of the shipped ``sample_streams/demo.jsonl.gz``."""

DEMO_PATH: Final[Path] = Path(__file__).parent.with_name("demo.jsonl.gz")
"""``sample_streams/demo.jsonl.gz``."""


def write_demo(path: Path = DEMO_PATH) -> GenerationSummary:
    """Regenerate the shipped demo file ``sample_streams/demo.jsonl.gz`` (:data:`DEMO_CONFIG`)."""
    return write_stream(path, DEMO_CONFIG)

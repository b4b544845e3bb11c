"""The stream: day by day, the world is drawn, rendered and yielded in arrival order.

Memory stays bounded: a day is generated, sorted into arrival order and yielded
before the next; only lines that have not arrived yet are carried over.
"""

from __future__ import annotations

import gc
import math
from bisect import bisect_left
from collections.abc import Iterator
from contextlib import contextmanager

from .config import GeneratorConfig
from .mess import MessyRenderer
from .orders import OrderGenerator
from .render import Item, Renderer
from .summary import GenerationSummary, Stats, summarize
from .timestamps import MS_DAY


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a day is built.

    A day is hundreds of thousands of small acyclic objects; collector passes over
    them cost about a sixth of the run time and free nothing. Never left paused
    while the caller holds a line.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class Stream:
    """Renders the world day by day, adds the mess, and yields lines in arrival order."""

    def __init__(self, cfg: GeneratorConfig) -> None:
        self.cfg = cfg
        self.stats = Stats()
        self.world = OrderGenerator(cfg)
        self.renderer: Renderer = (
            MessyRenderer(cfg, self.stats) if cfg.mess else Renderer(cfg, self.stats)
        )

    def __iter__(self) -> Iterator[tuple[str, str]]:
        cfg = self.cfg
        world = self.world
        stats = self.stats
        renderer = self.renderer
        n_days = math.ceil(cfg.days - 1e-9)
        carry: list[Item] = []
        for d in range(n_days):
            day_start = world.start_ms + d * MS_DAY
            day_end = min(day_start + MS_DAY, world.horizon_ms)
            items = carry
            with _gc_paused():
                evs = world.day(d, stats)
                renderer.render(d, evs, items, day_start, day_end)
                del evs
                items.sort()
            if d == n_days - 1:
                cut = len(items)
            else:
                cut = bisect_left(items, (day_start + MS_DAY,))
            for item in items[:cut]:
                yield item[2], item[3]
            carry = items[cut:]

    def summary(self, lines: int) -> GenerationSummary:
        """Counts of the stream so far, with ``lines`` non-blank lines written."""
        return summarize(self.stats, lines)


def generate_labelled(cfg: GeneratorConfig) -> Iterator[tuple[str, str]]:
    """Lines in arrival order with what each one is.

    The label is ``"event"`` (a valid event seen for the first time),
    ``"duplicate"`` (an exact re-send), ``"conflicting_duplicate"`` (same
    ``event_id``, different body), ``"blank"``, or one of
    :data:`BAD_LINE_KINDS` (the rejection reason the pipeline must give).
    """
    yield from Stream(cfg)


def generate_events(cfg: GeneratorConfig) -> Iterator[str]:
    """JSON Lines text (without newline), in arrival order, bad and blank lines included."""
    for line, _label in Stream(cfg):
        yield line

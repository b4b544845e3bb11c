"""One KPI of a report: its value, the previous period's value, its target, and the change.

Definitions (every format of the report says the same):

* **change** = value − previous value, in the KPI's unit (shares in percentage
  points), as :func:`metrics.labels.format_delta` writes it. It reads "no data"
  when the previous value is missing — a mean or share over an empty set, or a
  previous period without data, where :attr:`KpiLine.previous` is None for
  every KPI — never a number such as "+125"; and it is missing (None) when the
  value itself is.
* **tone** of a change: ``"good"`` when it goes the KPI's good way (catalog
  ``Kpi.good``: up for SLA adherence, down for MTTR), ``"bad"`` against it,
  ``"neutral"`` for a change that rounds to zero at the shown precision, for a
  KPI with no good direction, and for "no data". So a change of zero is never
  painted red.
* **status** against the target (``metrics.targets.Target.status``):
  ``on_target``, ``at_risk``, ``off_target``; None without a target or without
  a value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from metrics.catalog import BY_NAME, Kpi
from metrics.labels import NO_DATA, delta_is_zero, format_delta
from metrics.targets import Status, Target

Tone = Literal["good", "bad", "neutral"]


def _number(value: float | None) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


@dataclass(frozen=True, slots=True)
class KpiLine:
    """A KPI of the catalog in a report: ``value`` for the period, ``previous`` for
    the previous period (None: no value there), ``target`` (None: none set). Values
    are as the metric layer gives them: counts ``int``, the rest ``float``."""

    name: str
    value: float | None
    previous: float | None
    target: Target | None

    @property
    def kpi(self) -> Kpi:
        """The catalog entry."""
        return BY_NAME[self.name]

    @property
    def status(self) -> Status | None:
        """Where the value stands against the target (None: no target or no value)."""
        return None if self.target is None else self.target.status(_number(self.value))

    @property
    def delta(self) -> float | None:
        """value − previous (None when either is missing; an ``int`` for counts)."""
        if isinstance(self.value, int) and isinstance(self.previous, int):
            return self.value - self.previous
        now, before = _number(self.value), _number(self.previous)
        return None if now is None or before is None else now - before

    def change(self, currency: str) -> str | None:
        """The change as people read it (``+2.5 pp``, ``-3``, ``0.0 h``, ``no data``);
        None when the KPI has no value."""
        return format_delta(self.name, _number(self.value), _number(self.previous), currency)

    def tone(self, currency: str) -> Tone:
        """``good``/``bad``/``neutral`` (see the module docstring)."""
        text = self.change(currency)
        d = self.delta
        if text is None or text == NO_DATA or d is None or delta_is_zero(text):
            return "neutral"
        if self.kpi.good == "neutral":
            return "neutral"
        better = d > 0 if self.kpi.good == "up" else d < 0
        return "good" if better else "bad"

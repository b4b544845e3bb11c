"""KPI targets: what good looks like, as configuration, and where a value stands.

A target is configuration (``[targets.*]`` tables of the settings file,
``fpi --config FILE``; defaults in ``core/default_config.toml``), read raw into
``core.config.Settings.targets`` and validated here by :func:`load_targets`.
The format is fixed::

    [targets.sla_adherence]        # a KPI name of metrics/catalog.py
    goal = 0.90                    # direction from the catalog (Kpi.good)
    warning = 0.85                 # optional
    [targets.sla_adherence.site.DC-ATL]            # optional, per site
    goal = 0.95
    warning = 0.90
    [targets.sla_adherence.customer_tier.strategic]  # optional, per customer tier
    goal = 0.97
    [targets.mttr_hours]
    goal = 12
    warning = 16

Definitions:

* Only a *targetable* KPI (``Kpi.targetable``: its good direction is ``"up"`` or
  ``"down"``, not ``"neutral"``) can carry a target. The direction is the
  catalog's, never configuration: ``"up"`` = higher is better, ``"down"`` =
  lower is better.
* **Status** of a value against a target (:meth:`Target.status`): for ``"up"``,
  ``value >= goal`` is ``on_target``, ``warning <= value < goal`` is
  ``at_risk``, anything lower ``off_target``; ``"down"`` is the mirror
  (``value <= goal`` on target, ``goal < value <= warning`` at risk). A value
  exactly at the goal is on target, exactly at the warning at risk. Values are
  compared with a tolerance of 1e-9 × max(1, |bound|), so SQL float noise
  (0.8999999999 for 90 %) does not flip a status the formatted number
  contradicts. Without a ``warning`` there is no at-risk band: on or off target.
  No value (``None`` or NaN: e.g. SLA adherence with nothing resolved) has no
  status (``None``).
* **Overrides** per ``site`` or per ``customer_tier`` are whole targets:
  ``goal`` is required there and ``warning`` is *not* inherited from the KPI's
  own target. :meth:`Targets.for_kpi` picks the most specific: the site's, then
  the tier's, then the KPI's own. A KPI may have overrides without a target of
  its own (``goal`` left out); then only those groups have a target. Only
  dimensions the KPI can be broken down by may be overridden (order KPIs have
  ``site`` and ``customer_tier``; data-quality KPIs have neither); tiers must
  be those of ``core.config.CUSTOMER_TIERS``; site names are free.
* Numbers: ``goal`` and ``warning`` are finite, non-negative numbers (TOML
  integers or floats; not booleans) in the KPI's unit — shares as fractions in
  [0, 1] (``0.9``, not ``90``), hours, counts, money in the reporting currency.
  ``warning`` lies strictly on the bad side of the goal (below it for ``"up"``,
  above it for ``"down"``).

Defaults (shipped): ``sla_adherence`` ≥ 0.90 (warning 0.85), ``otif`` ≥ 0.95
(warning 0.90), ``mttr_hours`` ≤ 12 (warning 16). A user file merges into them
key by key (``core.config``): giving only ``goal`` for ``sla_adherence`` keeps
the default ``warning``, so a new goal below 0.85 must come with its own
``warning``; the error message then says so.

Every problem is a ``ValueError`` with one line naming the key, in the form
``bad configuration at targets.<kpi>[.<key>...]: <what is wrong>``, as
``core.config.load_settings`` words its own errors.

:func:`with_status` joins a KPI frame (``metrics.query.kpis``/``compute``, one
column per KPI) with its targets into a long frame that the dashboard and the
reports both read.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

import polars as pl

from core.config import CUSTOMER_TIERS, Settings, builtin_settings

from .catalog import BY_NAME, CATALOG, Kpi

Status = Literal["on_target", "at_risk", "off_target"]
STATUSES: tuple[Status, ...] = ("on_target", "at_risk", "off_target")
"""Every status, best first."""

GoodDirection = Literal["up", "down"]
Scope = Literal["kpi", "site", "customer_tier"]
"""Which target applied: the KPI's own, or an override for a site or a customer tier."""

OVERRIDE_DIMENSIONS: tuple[str, ...] = ("site", "customer_tier")
"""Dimensions a target can be overridden for."""

_KEYS = ("goal", "warning", *OVERRIDE_DIMENSIONS)
_OVERRIDE_KEYS = ("goal", "warning")
_TOLERANCE = 1e-9


def _at_or_better(value: float, bound: float, direction: GoodDirection) -> bool:
    eps = _TOLERANCE * max(1.0, abs(bound))
    return value >= bound - eps if direction == "up" else value <= bound + eps


@dataclass(frozen=True, slots=True)
class Target:
    """The goal of one KPI (for one site or customer tier when given).

    ``warning`` None: no at-risk band. At most one of ``site`` and
    ``customer_tier`` is set (an override); neither: the KPI's own target.
    """

    kpi: str
    goal: float
    warning: float | None
    direction: GoodDirection
    site: str | None = None
    customer_tier: str | None = None

    @property
    def scope(self) -> Scope:
        """``"site"``, ``"customer_tier"`` for an override, else ``"kpi"``."""
        if self.site is not None:
            return "site"
        if self.customer_tier is not None:
            return "customer_tier"
        return "kpi"

    @property
    def scope_value(self) -> str | None:
        """The site or customer tier of an override; None for the KPI's own target."""
        return self.site if self.site is not None else self.customer_tier

    def status(self, value: float | None) -> Status | None:
        """Where ``value`` stands (see the module docstring); None for no value."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        v = float(value)
        if _at_or_better(v, self.goal, self.direction):
            return "on_target"
        if self.warning is not None and _at_or_better(v, self.warning, self.direction):
            return "at_risk"
        return "off_target"


class Targets:
    """Every configured target, looked up by KPI and group (immutable)."""

    __slots__ = ("_by_key",)

    def __init__(self, targets: Iterable[Target] = ()) -> None:
        by_key: dict[tuple[str, Scope, str | None], Target] = {}
        for t in targets:
            key = (t.kpi, t.scope, t.scope_value)
            if key in by_key:
                raise ValueError(f"two targets for {t.kpi} ({t.scope} {t.scope_value})")
            by_key[key] = t
        order = {k.name: i for i, k in enumerate(CATALOG)}
        scopes = {"kpi": 0, "site": 1, "customer_tier": 2}
        self._by_key = dict(
            sorted(
                by_key.items(),
                key=lambda kv: (order.get(kv[0][0], len(order)), scopes[kv[0][1]], kv[0][2] or ""),
            )
        )

    def for_kpi(
        self, kpi: str, *, site: str | None = None, customer_tier: str | None = None
    ) -> Target | None:
        """The target that applies to ``kpi`` for a group: the ``site``'s override,
        else the ``customer_tier``'s, else the KPI's own; None without any."""
        if site is not None and (t := self._by_key.get((kpi, "site", site))) is not None:
            return t
        if customer_tier is not None:
            t = self._by_key.get((kpi, "customer_tier", customer_tier))
            if t is not None:
                return t
        return self._by_key.get((kpi, "kpi", None))

    def for_group(self, kpi: str, by: str | None, group: str | None) -> Target | None:
        """The target of ``kpi`` for the group ``group`` of a breakdown by ``by``
        (a site or tier override when ``by`` is that dimension; the KPI's own
        target for any other dimension, or without a breakdown)."""
        if by == "site":
            return self.for_kpi(kpi, site=group)
        if by == "customer_tier":
            return self.for_kpi(kpi, customer_tier=group)
        return self.for_kpi(kpi)

    def for_filters(self, kpi: str, where: Mapping[str, Iterable[str]] | None) -> Target | None:
        """The target of ``kpi`` for a view filtered by ``where`` (dimension -> values):
        a site or tier override applies when the view is narrowed to exactly one
        site (or tier); otherwise the KPI's own target."""

        def only(dim: str) -> str | None:
            values = sorted(set((where or {}).get(dim, ())))
            return values[0] if len(values) == 1 else None

        return self.for_kpi(kpi, site=only("site"), customer_tier=only("customer_tier"))

    def all(self) -> tuple[Target, ...]:
        """Every target: catalog order, the KPI's own first, then site, then tier
        overrides (sorted by name)."""
        return tuple(self._by_key.values())

    def kpis(self) -> tuple[str, ...]:
        """KPIs with at least one target, in catalog order."""
        return tuple(dict.fromkeys(t.kpi for t in self._by_key.values()))

    def __len__(self) -> int:
        return len(self._by_key)

    def __repr__(self) -> str:
        return f"Targets({list(self._by_key.values())!r})"


# --- loading ---------------------------------------------------------------------------


class _Bad(ValueError):
    """A configuration error at ``where`` (joined into the one-line message)."""

    def __init__(self, where: str, what: str) -> None:
        super().__init__(f"bad configuration at {where}: {what}")


def _number(where: str, raw: Any, kpi: Kpi) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise _Bad(where, f"must be a number, got {raw!r}")
    v = float(raw)
    if not math.isfinite(v):
        raise _Bad(where, f"must be a finite number, got {raw!r}")
    if v < 0:
        raise _Bad(where, f"must not be negative, got {raw!r}")
    if kpi.unit == "share" and v > 1:
        raise _Bad(where, f"a share is a fraction between 0 and 1 (e.g. 0.9 for 90 %), got {raw!r}")
    return v


def _table(where: str, raw: Any, what: str) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _Bad(where, f"must be a table ({what}), got {raw!r}")
    return cast("dict[str, Any]", raw)


def _unknown_keys(where: str, table: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in table:
        if key not in allowed:
            raise _Bad(f"{where}.{key}", f"unknown key; use {', '.join(allowed)}")


def _default_warning(kpi: str) -> float | None:
    raw = builtin_settings().targets.get(kpi)
    if isinstance(raw, dict):
        w = raw.get("warning")
        if isinstance(w, int | float) and not isinstance(w, bool):
            return float(w)
    return None


def _target(
    where: str,
    table: dict[str, Any],
    kpi: Kpi,
    *,
    site: str | None = None,
    customer_tier: str | None = None,
) -> Target:
    direction = cast("GoodDirection", kpi.good)
    goal = _number(f"{where}.goal", table["goal"], kpi)
    warning = None
    if table.get("warning") is not None:
        warning = _number(f"{where}.warning", table["warning"], kpi)
        bad_side = warning >= goal if direction == "up" else warning <= goal
        if bad_side:
            side, better = ("below", "higher") if direction == "up" else ("above", "lower")
            hint = ""
            if site is None and customer_tier is None and warning == _default_warning(kpi.name):
                hint = (
                    f" (warning {table['warning']!r} is the shipped default; "
                    "set a warning next to your goal)"
                )
            raise _Bad(
                f"{where}.warning",
                f"must be {side} the goal for a KPI where {better} is better{hint}",
            )
    return Target(kpi.name, goal, warning, direction, site, customer_tier)


def _kpi_targets(name: str, raw: Any) -> list[Target]:
    where = f"targets.{name}"
    kpi = BY_NAME.get(name)
    if kpi is None:
        usable = ", ".join(k.name for k in CATALOG if k.targetable)
        raise _Bad(where, f"unknown KPI {name!r}; use one of: {usable}")
    if not kpi.targetable:
        raise _Bad(where, f"KPI {name!r} has no good direction (neutral), so it has no target")
    table = _table(where, raw, "goal and an optional warning")
    _unknown_keys(where, table, _KEYS)
    out: list[Target] = []
    overrides = [d for d in OVERRIDE_DIMENSIONS if d in table]
    if "goal" in table:
        out.append(_target(where, table, kpi))
    elif "warning" in table or not overrides:
        raise _Bad(f"{where}.goal", "missing; a target needs a goal")
    for dim in overrides:
        dim_where = f"{where}.{dim}"
        if dim not in kpi.dimensions:
            raise _Bad(dim_where, f"KPI {name!r} cannot be broken down by {dim}")
        groups = _table(dim_where, table[dim], f"one table per {dim.replace('_', ' ')}")
        for group, sub in groups.items():
            g_where = f"{dim_where}.{group}"
            if dim == "customer_tier" and group not in CUSTOMER_TIERS:
                tiers = ", ".join(CUSTOMER_TIERS)
                raise _Bad(g_where, f"unknown customer tier; use one of: {tiers}")
            g_table = _table(g_where, sub, "goal and an optional warning")
            _unknown_keys(g_where, g_table, _OVERRIDE_KEYS)
            if "goal" not in g_table:
                raise _Bad(f"{g_where}.goal", "missing; an override needs its own goal")
            if dim == "site":
                out.append(_target(g_where, g_table, kpi, site=group))
            else:
                out.append(_target(g_where, g_table, kpi, customer_tier=group))
    return out


def parse_targets(raw: Mapping[str, Any]) -> Targets:
    """Validate the raw ``[targets.*]`` tables (``Settings.targets``); see
    :func:`load_targets` for the errors."""
    found: list[Target] = []
    for name, table in raw.items():
        found += _kpi_targets(str(name), table)
    return Targets(found)


def load_targets(settings: Settings) -> Targets:
    """The validated targets of ``settings``.

    Raises ``ValueError`` with one line naming the key for: an unknown KPI name,
    a KPI whose direction is neutral, a missing or non-numeric (or negative,
    infinite, NaN, boolean) goal or warning, a warning on the wrong side of the
    goal (or equal to it), an unknown key, a share outside [0, 1], an override
    for a dimension the KPI lacks or for an unknown customer tier.
    """
    return parse_targets(settings.targets)


# --- KPI frames with their status --------------------------------------------------------

STATUS_COLUMNS: dict[str, pl.DataType] = {
    "kpi": pl.String(),
    "value": pl.Float64(),
    "goal": pl.Float64(),
    "warning": pl.Float64(),
    "direction": pl.String(),
    "scope": pl.String(),
    "status": pl.String(),
}
"""Columns of :func:`with_status` after the group column (when there is one)."""


def with_status(
    df: pl.DataFrame,
    targets: Targets,
    *,
    by: str | None = None,
    kpis: Iterable[str] | None = None,
    only_targeted: bool = False,
) -> pl.DataFrame:
    """A KPI frame (``metrics.query.kpis``/``compute``: one column per KPI, one row
    per group of ``by``, one row without) as a long frame with targets and status.

    One row per group and KPI, groups in the frame's order, KPIs in catalog
    order: the group column ``by`` (when given; ``site``, ``carrier`` …), then
    ``kpi`` (the catalog name), ``value`` (Float64), ``goal``, ``warning``,
    ``direction`` (``"up"``/``"down"``), ``scope`` (``"kpi"``, ``"site"``,
    ``"customer_tier"``: which target applied) and ``status`` (``on_target``,
    ``at_risk``, ``off_target``). KPIs are the targetable KPI columns of ``df``
    (or those of ``kpis``, which must be columns of ``df``; neutral KPIs have no
    target but may be listed); a KPI without a target for that group has null
    goal, warning, scope and status, a null value a null status. With
    ``only_targeted`` rows without a target are left out. In a breakdown by
    ``site`` or ``customer_tier`` each group gets its override
    (:meth:`Targets.for_group`). An empty ``df`` gives an empty frame with
    these columns.
    """
    names = [k.name for k in CATALOG if k.targetable and k.name in df.columns]
    if kpis is not None:
        names = list(kpis)
        missing = [n for n in names if n not in df.columns]
        if missing:
            raise ValueError(f"not a column of the KPI frame: {', '.join(missing)}")
    if by is not None and by not in df.columns:
        raise ValueError(f"the KPI frame has no group column {by!r}")
    rows: list[dict[str, Any]] = []
    groups = df[by].to_list() if by is not None else [None] * df.height
    for i, group in enumerate(groups):
        for name in names:
            raw = df[name][i]
            value = None if raw is None else float(raw)
            t = targets.for_group(name, by, None if group is None else str(group))
            if t is None and only_targeted:
                continue
            row: dict[str, Any] = {} if by is None else {by: group}
            row |= {
                "kpi": name,
                "value": value,
                "goal": None if t is None else t.goal,
                "warning": None if t is None else t.warning,
                "direction": BY_NAME[name].good if name in BY_NAME else None,
                "scope": None if t is None else t.scope,
                "status": None if t is None else t.status(value),
            }
            rows.append(row)
    schema: dict[str, pl.DataType] = {}
    if by is not None:
        schema[by] = df.schema[by]
    schema |= STATUS_COLUMNS
    return pl.DataFrame(rows, schema=schema)

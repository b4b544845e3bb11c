"""Configuration: one frozen settings object, passed in explicitly.

The SLA policy, the working calendars of the SLA clock and the currency rate
table are configuration, not code (kpis.md). Defaults live in
``default_config.toml`` beside this module; a user
file given with ``--config`` (or ``FPI_CONFIG``) overrides the keys it names
(nested tables merge key by key; ``[rates]`` replaces the whole rate table).
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from .calendar import NO_CALENDARS, SlaCalendars, fingerprint, parse_calendars

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")
CUSTOMER_TIERS: tuple[str, ...] = ("strategic", "key", "standard")


class SlaPolicy(BaseModel):
    """SLA target policy: ``base_hours[severity] * tier_factor[customer_tier]``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    base_hours: dict[str, float]
    tier_factor: dict[str, float]

    @field_validator("base_hours")
    @classmethod
    def _all_severities(cls, v: dict[str, float]) -> dict[str, float]:
        missing = [s for s in SEVERITIES if s not in v]
        if missing or any(h <= 0 for h in v.values()):
            raise ValueError(f"base_hours needs a positive value for each of {SEVERITIES}")
        return v

    @field_validator("tier_factor")
    @classmethod
    def _all_tiers(cls, v: dict[str, float]) -> dict[str, float]:
        missing = [t for t in CUSTOMER_TIERS if t not in v]
        if missing or any(f <= 0 for f in v.values()):
            raise ValueError(f"tier_factor needs a positive value for each of {CUSTOMER_TIERS}")
        return v

    def target_hours(self, severity: str, customer_tier: str) -> float:
        """Policy target in hours for a severity and customer tier."""
        return self.base_hours[severity] * self.tier_factor[customer_tier]


class Settings(BaseModel):
    """Everything configurable about how events become numbers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reporting_currency: str = Field(pattern=r"^[A-Z]{3}$")
    sla: SlaPolicy
    rates: dict[str, float]
    calendars: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """``[calendars.*]`` as given (kpis.md, "Business-hours calendars")."""
    site_calendars: dict[str, str] = Field(default_factory=dict)
    """``[site_calendars]``: site -> calendar name (sites not listed run 24x7)."""
    targets: dict[str, Any] = Field(default_factory=dict)
    """``[targets.*]`` as given; validated by ``metrics.targets``."""
    subscriptions: list[dict[str, Any]] = Field(default_factory=list)
    """``[[subscriptions]]`` as given; validated by ``fpi.subscriptions``."""
    smtp: dict[str, Any] = Field(default_factory=dict)
    """``[smtp]`` as given; validated by ``fpi.subscriptions``."""

    @field_validator("rates")
    @classmethod
    def _positive_rates(cls, v: dict[str, float]) -> dict[str, float]:
        bad = [c for c, r in v.items() if r <= 0 or len(c) != 3 or not c.isupper()]
        if bad:
            raise ValueError(f"rates must be positive and keyed by ISO 4217 codes: {bad}")
        return v

    _calendars: SlaCalendars = PrivateAttr(default=NO_CALENDARS)

    def model_post_init(self, context: Any, /) -> None:
        """Parse the calendars once (``load_settings`` has validated them)."""
        if self.calendars or self.site_calendars:
            doc = {"calendars": self.calendars, "site_calendars": self.site_calendars}
            self._calendars = parse_calendars(doc)

    @property
    def sla_calendars(self) -> SlaCalendars:
        """The working calendars of the SLA clock and the site map."""
        return self._calendars

    def sla_spec(self) -> dict[str, Any]:
        """What SLA figures depend on: the target policy and the calendars."""
        return {"policy": self.sla.model_dump(), **self._calendars.spec()}

    @property
    def sla_fingerprint(self) -> str:
        """A short hash of :meth:`sla_spec` (recorded in the database)."""
        return fingerprint(self.sla_spec())

    def to_reporting(self, amount: float, currency: str) -> float | None:
        """Convert ``amount`` in ``currency`` to the reporting currency (None: no rate)."""
        if currency == self.reporting_currency:
            return amount
        rate = self.rates.get(currency)
        return None if rate is None else amount * rate


def _default_dict() -> dict[str, Any]:
    text = resources.files("core").joinpath("default_config.toml").read_text("utf-8")
    return tomllib.loads(text)


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_settings(path: Path | str | None = None) -> Settings:
    """Load settings: defaults, overlaid section by section with ``path`` if given.

    ``path`` defaults to the ``FPI_CONFIG`` environment variable when unset.
    Raises ``FileNotFoundError`` or ``ValueError`` with a readable message.
    """
    data = _default_dict()
    chosen = path if path is not None else os.environ.get("FPI_CONFIG") or None
    if chosen is not None:
        p = Path(chosen)
        if not p.is_file():
            raise FileNotFoundError(f"config file not found: {p}")
        try:
            user = tomllib.loads(p.read_text("utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"config file {p} is not valid TOML: {exc}") from None
        rates_given = "rates" in user
        data = _deep_merge(data, user)
        if rates_given:
            data["rates"] = user["rates"]  # a rate table is replaced as a whole
    try:
        parse_calendars(data)
    except ValueError as exc:
        raise ValueError(f"bad configuration at {exc}") from None
    rates = dict(data.get("rates", {}))
    rates.setdefault(data["reporting_currency"], 1.0)
    data["rates"] = rates
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ValueError(f"bad configuration at {where}: {first['msg']}") from None


@lru_cache(maxsize=1)
def builtin_settings() -> Settings:
    """The shipped defaults alone (ignores ``FPI_CONFIG``); cached."""
    return Settings.model_validate(_default_dict())

"""The mapping file of ``fpi import``: how a status log or event log becomes contract events.

A mapping is a TOML file (examples: ``sample_streams/mappings/*.toml``; the
format is documented in the README, "Bringing your own log"). It is read into
the frozen pydantic models below; every mistake is reported as one line
naming the file and the key (``MappingError``).

Definitions used throughout:

* A **cell** is the text of one column (CSV) or attribute (XES) of one row,
  stripped of surrounding white space. A cell is **missing** when the row does
  not have it, when it is empty, or when it is one of the mapping's
  ``missing`` values. Missing cells never match a rule (except ``missing =
  true``) and never count as a change of group.
* A **field spec** fills one contract field from a row: a constant
  (``value``, or a bare TOML scalar), or a ``column`` with an optional value
  ``map`` (a cell found in the map gives the mapped value, taken as written),
  an optional ``slug`` (lowercase; runs of spaces, dashes and underscores
  become one ``_``; leading and trailing ``_`` dropped) and a ``default`` (used,
  as written, when the cell is missing, and when a ``map`` does not contain
  the cell). Without a default, a cell not in the map is kept (slugged if
  asked). A required field that ends up missing is an error naming the row
  and column; an optional one is left out.
"""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from core.config import CUSTOMER_TIERS, SEVERITIES
from core.contract import MODELS, ExceptionEvent


class MappingError(ValueError):
    """The mapping file is wrong (or does not fit the input's columns): one line."""


Scalar = str | int | float | bool
Phase = Literal["open", "paused", "resolved", "cancelled"]
RulePhase = Literal["open", "paused", "resolved", "cancelled", "keep"]

_SLUG_RUNS = re.compile(r"[\s\-_]+")


def slug(text: str) -> str:
    """Lowercase; runs of spaces, dashes and underscores to one ``_``; no ``_`` at the ends.

    ``"Awaiting User Info"`` -> ``awaiting_user_info``, ``"Wait - User"`` ->
    ``wait_user``, ``"-100"`` -> ``100``. May return ``""`` (then the cell
    counts as missing).
    """
    return _SLUG_RUNS.sub("_", text.lower()).strip("_")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _scalar_to_spec(value: object) -> object:
    """A bare TOML scalar (``currency = "USD"``) is the constant field spec ``{value = ...}``."""
    if isinstance(value, str | int | float | bool):
        return {"value": value}
    return value


class FieldSpec(_Model):
    """How one contract field is filled from a row (see the module docstring)."""

    column: str | None = None
    value: Scalar | None = None
    map: dict[str, Scalar] | None = None
    default: Scalar | None = None
    slug: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        if (self.column is None) == (self.value is None):
            raise ValueError("give exactly one of `column` or `value`")
        if self.value is not None and (
            self.map is not None or self.slug or self.default is not None
        ):
            raise ValueError("`map`, `slug` and `default` only go with `column`")
        return self

    def get(self, cells: dict[str, str]) -> Scalar | None:
        """The field's value for a row (``None``: missing). ``cells`` holds present cells only."""
        if self.value is not None:
            return self.value
        assert self.column is not None
        cell = cells.get(self.column)
        if cell is None:
            return self.default
        if self.map is not None:
            hit = self.map.get(cell)
            if hit is not None:
                return hit
            if self.default is not None:
                return self.default
        if self.slug:
            s = slug(cell)
            return s if s else self.default
        return cell


Spec = Annotated[FieldSpec, BeforeValidator(_scalar_to_spec)]


class ActorSpec(FieldSpec):
    """Who did it: a field spec for the actor id plus its ``kind``.

    A missing actor id leaves ``actor`` out of the event, which the contract
    reads as the source system (kind ``system``): such a touch is not manual.
    """

    kind: Literal["human", "system"] = "human"


def _matcher_shorthand(value: object) -> object:
    """``"x"`` means ``{equals = "x"}``; ``["x", "y"]`` means ``{in = ["x", "y"]}``."""
    if isinstance(value, str):
        return {"equals": value}
    if isinstance(value, list):
        return {"in": value}
    return value


class Matcher(_Model):
    """A test on one cell: exactly one of ``equals``, ``in``, ``prefix``, ``contains``, ``missing``.

    Comparisons are exact (case-sensitive) on the stripped cell; a missing
    cell matches only ``missing = true``.
    """

    equals: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    prefix: str | None = None
    contains: str | None = None
    missing: bool | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Matcher:
        given = [
            k
            for k in ("equals", "in_", "prefix", "contains", "missing")
            if getattr(self, k) is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of `equals`, `in`, `prefix`, `contains`, `missing`")
        return self

    def test(self, cell: str | None) -> bool:
        """Whether ``cell`` (``None``: missing) matches."""
        if self.missing is not None:
            return (cell is None) == self.missing
        if cell is None:
            return False
        if self.equals is not None:
            return cell == self.equals
        if self.in_ is not None:
            return cell in self.in_
        if self.prefix is not None:
            return cell.startswith(self.prefix)
        assert self.contains is not None
        return self.contains in cell


class PhaseRule(_Model):
    """``phase`` applies to a row when every ``when`` test holds (and ``last``, if given)."""

    when: dict[str, Annotated[Matcher, BeforeValidator(_matcher_shorthand)]] = {}
    last: bool | None = None
    phase: RulePhase


class Phases(_Model):
    """How a row's phase is decided: the first rule that applies, else ``default``.

    ``keep`` keeps the case's previous phase. The phase before a case's first
    row is ``open`` (its ``exception.opened``).
    """

    default: RulePhase = "open"
    rules: list[PhaseRule] = []


class LevelRule(Matcher):
    """A support level for group names that match (first matching rule wins; none: level 0)."""

    level: Annotated[int, Field(ge=1)]


class InputSpec(_Model):
    """How to read the file. ``format`` defaults from the file name (``.csv``, ``.xes``)."""

    format: Literal["csv", "xes"] | None = None
    member: str | None = None
    """The file inside a ``.zip`` (default: its only file)."""
    delimiter: Annotated[str, Field(min_length=1, max_length=1)] = ","
    encoding: str = "utf-8-sig"


class CaseSpec(_Model):
    """The case column: its cell (with ``prefix``) is the ``exception_id``."""

    column: str
    prefix: str = ""


class TimeSpec(_Model):
    """The time column of a row, its format and the zone of times without an offset.

    ``format`` is ``iso`` (ISO 8601 / RFC 3339, what XES writes) or a
    ``strptime`` format (``%d/%m/%Y %H:%M``). A time that carries an offset
    keeps it; one without is taken in ``timezone`` (an IANA name; in a DST
    repeat the first occurrence, in a DST gap the offset before the change).
    """

    column: str
    format: str = "iso"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        if v.upper() != "UTC":
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r} (use an IANA name)") from None
        return v

    def zone(self) -> tzinfo:
        """The zone as a ``tzinfo``."""
        return UTC if self.timezone.upper() == "UTC" else ZoneInfo(self.timezone)


class EventSpec(_Model):
    """Common to every lifecycle event: an ``actor`` override and its contract ``fields``."""

    actor: ActorSpec | None = None
    fields: dict[str, Spec] = {}


class OpenedSpec(EventSpec):
    """``exception.opened``, made from a case's first row; ``time``: its own time column."""

    time: str | None = None


class AssignedSpec(EventSpec):
    """A change of ``column`` (a present cell different from the last present one) -> assigned.

    ``owner_team`` is the new cell. ``first``: whether the first row's cell
    counts as a change from none.
    """

    column: str
    first: bool = True


class EscalatedSpec(EventSpec):
    """A row whose ``column`` gives a level above every level before -> escalated to it.

    ``first = true``: the levels start at 0, so a first row already at level
    1 is an escalation; ``false``: the first row's level is the baseline.
    """

    column: str
    levels: list[LevelRule]
    first: bool = True

    def level_of(self, cell: str | None) -> int:
        """The level of a cell: the first matching rule's, else 0."""
        for rule in self.levels:
            if rule.test(cell):
                return rule.level
        return 0


class TouchedSpec(EventSpec):
    """A row that gave no other event -> touched. ``first``: also for the first row."""

    first: bool = True


_ENVELOPE = frozenset(ExceptionEvent.model_fields) | {"event_type"}
_FROM_RULES = frozenset({"owner_team", "level"})  # set by the assigned / escalated rules
_FROM_CASE = frozenset({"order_id"})  # defaults to the case id


def _fields(kind: str) -> tuple[frozenset[str], frozenset[str]]:
    fields = {
        name: info
        for name, info in MODELS[f"exception.{kind}"].model_fields.items()
        if name not in _ENVELOPE | _FROM_RULES
    }
    required = frozenset(n for n, f in fields.items() if f.is_required()) - _FROM_CASE
    return required, frozenset(fields) - required


EVENT_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    kind: _fields(kind)
    for kind in (
        "opened",
        "assigned",
        "escalated",
        "touched",
        "paused",
        "resumed",
        "resolved",
        "reopened",
        "cancelled",
    )
}
"""Per event kind: (required, optional) contract fields a mapping fills, read off the
contract's models. ``order_id`` defaults to the case id; ``owner_team`` and
``level`` come from their rules."""

BUILTIN_DEFAULTS: dict[str, dict[str, str]] = {
    "touched": {"action": "update"},
    "paused": {"reason": "paused"},
    "resolved": {"resolution_code": "resolved"},
}
"""Constants used for required fields a mapping leaves out."""

NUMERIC_FIELDS = frozenset({"order_value", "sla_target_hours"})


class Mapping(_Model):
    """A whole mapping file."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,39}$")]
    """Short name; the first part of every ``event_id`` the mapping writes."""
    source_system: Annotated[str, Field(min_length=1)]
    missing: list[str] = [""]
    input: InputSpec = InputSpec()
    case: CaseSpec
    time: TimeSpec
    actor: ActorSpec | None = None
    opened: OpenedSpec
    assigned: AssignedSpec | None = None
    escalated: EscalatedSpec | None = None
    phases: Phases | None = None
    touched: TouchedSpec | None = None
    paused: EventSpec = EventSpec()
    resumed: EventSpec = EventSpec()
    resolved: EventSpec = EventSpec()
    reopened: EventSpec = EventSpec()
    cancelled: EventSpec = EventSpec()

    @model_validator(mode="after")
    def _fields_fit_the_contract(self) -> Mapping:
        for kind, (required, optional) in EVENT_FIELDS.items():
            spec: EventSpec | None = getattr(self, kind)
            if spec is None:
                continue
            unknown = sorted(set(spec.fields) - required - optional)
            if unknown:
                allowed = ", ".join(sorted(required | optional)) or "none"
                raise ValueError(
                    f"[{kind}.fields]: unknown field(s) {', '.join(unknown)} (allowed: {allowed})"
                )
        absent = sorted(EVENT_FIELDS["opened"][0] - set(self.opened.fields))
        if absent:
            raise ValueError(f"[opened.fields] must fill {', '.join(absent)}")
        for name, allowed_values in (("severity", SEVERITIES), ("customer_tier", CUSTOMER_TIERS)):
            f = self.opened.fields[name]
            written = [v for v in (f.value, f.default, *(f.map or {}).values()) if v is not None]
            bad = [v for v in written if v not in allowed_values]
            if bad:
                raise ValueError(
                    f"[opened.fields.{name}]: {bad[0]!r} is not one of {', '.join(allowed_values)}"
                )
        return self

    @property
    def missing_values(self) -> frozenset[str]:
        """Cells meaning "no value" (the empty cell always does)."""
        return frozenset([*self.missing, ""])

    @property
    def needs_last(self) -> bool:
        """Whether a rule depends on a row being its case's last."""
        return self.phases is not None and any(r.last is not None for r in self.phases.rules)

    def event_fields(self, kind: str) -> dict[str, FieldSpec]:
        """Field specs of ``kind`` with the built-in defaults for left-out required fields."""
        spec: EventSpec | None = getattr(self, kind)
        out: dict[str, FieldSpec] = {
            k: FieldSpec(value=v) for k, v in BUILTIN_DEFAULTS.get(kind, {}).items()
        }
        if spec is not None:
            out.update(spec.fields)
        return out

    def columns(self) -> list[tuple[str, str]]:
        """Every column the mapping reads, with the key that reads it (for header checks)."""
        out: list[tuple[str, str]] = [
            ("case.column", self.case.column),
            ("time.column", self.time.column),
        ]
        if self.opened.time is not None:
            out.append(("opened.time", self.opened.time))

        def actor(key: str, a: ActorSpec | None) -> None:
            if a is not None and a.column is not None:
                out.append((key, a.column))

        actor("actor", self.actor)
        for kind in EVENT_FIELDS:
            spec: EventSpec | None = getattr(self, kind)
            if spec is None:
                continue
            actor(f"{kind}.actor", spec.actor)
            for name, f in spec.fields.items():
                if f.column is not None:
                    out.append((f"{kind}.fields.{name}", f.column))
        if self.assigned is not None:
            out.append(("assigned.column", self.assigned.column))
        if self.escalated is not None:
            out.append(("escalated.column", self.escalated.column))
        if self.phases is not None:
            for i, rule in enumerate(self.phases.rules):
                out.extend((f"phases.rules[{i}].when", c) for c in rule.when)
        return out


def _loc(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for p in loc:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        elif p.startswith(("function-", "tagged-union")):
            continue
        else:
            parts.append(("." if parts else "") + p)
    return "".join(parts)


def parse_mapping(data: dict[str, Any], origin: str = "mapping") -> Mapping:
    """Validate a mapping given as a dict; ``MappingError`` (one line) when wrong."""
    try:
        return Mapping.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors()[:3]:
            where = _loc(err["loc"])
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append(f"{where}: {msg}" if where else msg)
        more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
        raise MappingError(f"mapping {origin}: {'; '.join(problems)}{more}") from None


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping file; ``MappingError`` / ``FileNotFoundError`` when wrong."""
    if not path.is_file():
        raise FileNotFoundError(f"mapping file not found: {path}")
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(f"mapping {path}: not valid TOML: {exc}") from None
    return parse_mapping(data, str(path))

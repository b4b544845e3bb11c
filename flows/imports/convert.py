"""Rows of a log -> contract-v1 exception events, by the rules of a mapping.

Status logs (one row per update of a case) and event logs (one event per
step of a trace) go through the same rules; only the reader differs. Per
case, in file order:

1. The case's **first row** gives ``exception.opened`` (at ``[opened] time``
   if the mapping names a column for it and the cell is present, else at the
   row's time).
2. Then **every row, the first included**, gives at its own time, in this
   order:

   * ``assigned`` when the ``[assigned]`` column's cell is present and differs
     from the case's last present cell (on the first row only with
     ``first = true``: a change from none);
   * ``escalated`` when the ``[escalated]`` level of the row is above every
     level before (levels start at 0; with ``first = false`` the first row's
     level is the baseline);
   * phase events: the row's phase (``[phases]``: first matching rule, else
     the default; ``keep`` = the previous phase) against the previous phase
     (``open`` before the first row): open→paused ``paused``, paused→open
     ``resumed``, open/paused→resolved ``resolved``, resolved→open
     ``reopened``, resolved→paused ``reopened`` + ``paused``, any→cancelled
     ``cancelled``; a cancelled case stays cancelled;
   * ``touched`` when the row gave none of the above (on the first row only
     with ``[touched] first = true``).

Rules with ``last`` need to know whether a row is its case's last. XES traces
tell; for CSV the latest row of every case is held back until the case's next
row arrives or the file ends, so rows of a case need not be contiguous.

``event_id`` = ``<mapping name>:<exception_id>:<row index in the case>:<kind>``
(a SHA-256 digest when that is over 128 characters), so the same file and
mapping always give the same ids: importing twice changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from functools import lru_cache

import orjson
from pydantic import ValidationError

from core.config import CUSTOMER_TIERS, SEVERITIES
from core.contract import ExceptionOpened
from core.timeutil import TIME_MAX, TIME_MIN

from .mapping import EVENT_FIELDS, NUMERIC_FIELDS, ActorSpec, FieldSpec, Mapping, Scalar
from .readers import Row


class RowError(ValueError):
    """A row cannot be converted: one line naming the row and the column."""


Event = dict[str, object]
_ALLOWED = {"severity": SEVERITIES, "customer_tier": CUSTOMER_TIERS}
_CURRENCY_HINT = "3 upper-case letters (ISO 4217)"


_FAST_DIRECTIVES = {
    "%Y": r"(?P<Y>\d{4})",
    "%m": r"(?P<m>\d{1,2})",
    "%d": r"(?P<d>\d{1,2})",
    "%H": r"(?P<H>\d{1,2})",
    "%M": r"(?P<M>\d{1,2})",
    "%S": r"(?P<S>\d{1,2})",
}


def fast_strptime(fmt: str, zone: tzinfo) -> Callable[[str], datetime] | None:
    """A regex parser for formats of only ``%Y %m %d %H %M %S`` and literals, else ``None``.

    Same result as ``strptime`` (one or two digits per field but the year, white
    space in the format matching any run of white space), about 5x faster.
    """
    regex = ""
    seen: set[str] = set()
    for part in re.split(r"(%.)", fmt):
        if part.startswith("%") and len(part) == 2:
            if part not in _FAST_DIRECTIVES or part in seen:
                return None
            seen.add(part)
            regex += _FAST_DIRECTIVES[part]
        else:
            regex += r"\s+".join(re.escape(w) for w in re.split(r"\s+", part))
    if not {"%Y", "%m", "%d"} <= seen:
        return None
    pattern = re.compile(regex + r"\Z")

    def parse(text: str) -> datetime:
        m = pattern.match(text)
        if m is None:
            raise ValueError("does not match the format")
        g = m.groupdict()
        return datetime(
            int(g["Y"]),
            int(g["m"]),
            int(g["d"]),
            int(g.get("H") or 0),
            int(g.get("M") or 0),
            int(g.get("S") or 0),
            tzinfo=zone,
        )

    return parse


def time_parser(fmt: str, zone: tzinfo) -> Callable[[str], str]:
    """A cached parser: cell -> RFC 3339 UTC text (``…Z``); ``ValueError`` when unparseable.

    ``fmt`` is ``iso`` or a ``strptime`` format; times without an offset are
    taken in ``zone``. Times outside [1970-01-01, 2200-01-01) UTC are errors.
    """
    fast = None if fmt == "iso" else fast_strptime(fmt, zone)

    @lru_cache(maxsize=200_000)
    def parse(text: str) -> str:
        if fmt == "iso":
            dt = datetime.fromisoformat(text)
        elif fast is not None:
            dt = fast(text)
        else:
            dt = datetime.strptime(text, fmt)  # noqa: DTZ007 - the zone is attached below
        if dt.tzinfo is None or dt.utcoffset() is None:
            dt = dt.replace(tzinfo=zone)
        dt = dt.astimezone(UTC)
        if not TIME_MIN <= dt < TIME_MAX:
            raise ValueError(f"{text!r} is outside 1970-01-01 .. 2200-01-01")
        out = dt.strftime("%Y-%m-%dT%H:%M:%S")
        if dt.microsecond:
            out += f".{dt.microsecond:06d}"
        return out + "Z"

    return parse


@dataclass(slots=True)
class _Case:
    exception_id: str
    next_index: int = 0
    phase: str = "open"
    group: str | None = None
    level: int = 0
    held: Row | None = None


@dataclass(slots=True)
class Stats:
    """What a conversion produced."""

    rows: int = 0
    cases: int = 0
    events: Counter[str] = field(default_factory=Counter)


class Converter:
    """Feed rows in file order, then ``finish()``; each call returns the events it completed."""

    def __init__(self, mapping: Mapping, where: Callable[[Row], str]) -> None:
        self.m = mapping
        self.where = where
        self.stats = Stats()
        self._cases: dict[str, _Case] = {}
        self._time = time_parser(mapping.time.format, mapping.time.zone())
        self._hold = mapping.needs_last
        self._fields = {kind: mapping.event_fields(kind) for kind in EVENT_FIELDS}
        self._constants: dict[str, dict[str, object]] = {}
        self._actor: dict[str, ActorSpec | None] = {}
        for kind in EVENT_FIELDS:
            spec = getattr(mapping, kind)
            own = spec.actor if spec is not None else None
            self._actor[kind] = own if own is not None else mapping.actor
        self._rules = mapping.phases.rules if mapping.phases is not None else []
        self._default_phase = mapping.phases.default if mapping.phases is not None else "keep"

    # -- helpers --------------------------------------------------------------

    def _fail(self, row: Row, column: str | None, problem: str) -> RowError:
        col = f", column {column!r}" if column else ""
        return RowError(f"{self.where(row)}{col}: {problem}")

    def _at(self, row: Row, column: str) -> str:
        cell = row.cells.get(column)
        if cell is None:
            raise self._fail(row, column, "no time (the cell is missing)")
        try:
            return self._time(cell)
        except ValueError as exc:
            fmt = self.m.time.format
            raise self._fail(row, column, f"cannot read time {cell!r} as {fmt} ({exc})") from None

    def _event_id(self, xid: str, index: int, kind: str) -> str:
        eid = f"{self.m.name}:{xid}:{index}:{kind}"
        if len(eid) > 128:
            eid = f"{self.m.name}:{hashlib.sha256(eid.encode()).hexdigest()[:48]}"
        return eid

    def _fill(self, kind: str, row: Row) -> dict[str, object]:
        """The contract fields of ``kind`` for ``row`` (errors name the column)."""
        constants = self._constants.get(kind)
        if constants is None:
            constants = {
                name: self._typed(kind, name, spec.value, spec, row)
                for name, spec in self._fields[kind].items()
                if spec.value is not None
            }
            self._constants[kind] = constants
        required = _REQUIRED[kind]
        out: dict[str, object] = {}
        for name, spec in self._fields[kind].items():
            if spec.value is not None:
                out[name] = constants[name]
                continue
            value = spec.get(row.cells)
            if value is None:
                if name in required:
                    col = spec.column
                    raise self._fail(
                        row,
                        col,
                        f"{kind} needs {name} but the cell is missing "
                        f"(give [{kind}.fields.{name}] a default)",
                    )
                continue
            out[name] = self._typed(kind, name, value, spec, row)
        return out

    def _typed(self, kind: str, name: str, value: Scalar, spec: FieldSpec, row: Row) -> object:
        if name in NUMERIC_FIELDS:
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise self._fail(row, spec.column, f"{name} {value!r} is not a number") from None
            ok = number >= 0 if name == "order_value" else number > 0
            if not ok or number != number or number in (float("inf"), float("-inf")):
                raise self._fail(row, spec.column, f"{name} {value!r} is out of range")
            return number
        text = str(value).lower() if isinstance(value, bool) else str(value)
        allowed = _ALLOWED.get(name)
        if allowed is not None and text not in allowed:
            raise self._fail(
                row,
                spec.column,
                f"{name} {text!r} is not one of {', '.join(allowed)} "
                f"(map it in [{kind}.fields.{name}] or give a default)",
            )
        if name == "currency" and not (len(text) == 3 and text.isascii() and text.isupper()):
            raise self._fail(row, spec.column, f"currency {text!r} is not {_CURRENCY_HINT}")
        if name == "category" and len(text) > 128:
            raise self._fail(row, spec.column, "category is longer than 128 characters")
        return text

    def _emit(
        self,
        out: list[Event],
        kind: str,
        case: _Case,
        index: int,
        at: str,
        row: Row,
        fields: dict[str, object],
    ) -> None:
        e: Event = {
            "event_id": self._event_id(case.exception_id, index, kind),
            "event_type": f"exception.{kind}",
            "occurred_at": at,
            "source_system": self.m.source_system,
            "schema_version": "1",
            "exception_id": case.exception_id,
        }
        e.update(fields)
        actor = self._actor[kind]
        if actor is not None:
            who = actor.get(row.cells)
            if who is not None:
                e["actor"] = {"id": str(who), "kind": actor.kind}
        out.append(e)
        self.stats.events[kind] += 1

    # -- the rules ------------------------------------------------------------

    def _opened(self, case: _Case, row: Row, out: list[Event]) -> None:
        column = self.m.opened.time
        if column is not None and column in row.cells:
            at = self._at(row, column)
        else:
            at = self._at(row, self.m.time.column)
        fields = self._fill("opened", row)
        fields.setdefault("order_id", case.exception_id)
        if len(str(fields["order_id"])) > 128:
            raise self._fail(row, None, "order_id is longer than 128 characters")
        self._emit(out, "opened", case, 0, at, row, fields)
        try:
            ExceptionOpened.model_validate_json(orjson.dumps(out[-1]))
        except ValidationError as exc:  # a safety net: the checks above should catch it
            err = exc.errors()[0]
            loc = ".".join(str(x) for x in err["loc"])
            raise self._fail(
                row, None, f"exception.opened is invalid at {loc}: {err['msg']}"
            ) from None

    def _phase_of(self, row: Row, last: bool) -> str:
        cells = row.cells
        for rule in self._rules:
            if rule.last is not None and rule.last != last:
                continue
            if all(m.test(cells.get(col)) for col, m in rule.when.items()):
                return rule.phase
        return self._default_phase

    def _row(self, case: _Case, row: Row, index: int, last: bool, out: list[Event]) -> None:
        m = self.m
        at = self._at(row, m.time.column)
        first = index == 0
        changed = False
        if (a := m.assigned) is not None:
            group = row.cells.get(a.column)
            if group is not None and group != case.group:
                case.group = group
                if a.first or not first:
                    fields = {"owner_team": group, **self._fill("assigned", row)}
                    self._emit(out, "assigned", case, index, at, row, fields)
                    changed = True
        if (e := m.escalated) is not None:
            level = e.level_of(row.cells.get(e.column))
            if first and not e.first:
                case.level = level
            elif level > case.level:
                case.level = level
                fields = {"level": level, **self._fill("escalated", row)}
                self._emit(out, "escalated", case, index, at, row, fields)
                changed = True
        if self._rules or self._default_phase != "keep":
            prev = case.phase
            new = self._phase_of(row, last)
            if new == "keep":
                new = prev
            if prev != "cancelled" and new != prev:
                case.phase = new
                changed = True
                if new == "cancelled":
                    kinds = ["cancelled"]
                elif prev == "resolved":
                    kinds = ["reopened", "paused"] if new == "paused" else ["reopened"]
                elif new == "resolved":
                    kinds = ["resolved"]
                else:
                    kinds = ["paused"] if new == "paused" else ["resumed"]
                for kind in kinds:
                    self._emit(out, kind, case, index, at, row, self._fill(kind, row))
        if (t := m.touched) is not None and not changed and (t.first or not first):
            self._emit(out, "touched", case, index, at, row, self._fill("touched", row))

    # -- feeding --------------------------------------------------------------

    def feed(self, row: Row) -> list[Event]:
        """Take the next row in file order; return the events now complete."""
        self.stats.rows += 1
        out: list[Event] = []
        key = row.cells.get(self.m.case.column)
        if key is None:
            raise self._fail(row, self.m.case.column, "no case id (the cell is missing)")
        case = self._cases.get(key)
        if case is None:
            xid = self.m.case.prefix + key
            if len(xid) > 128:
                raise self._fail(row, self.m.case.column, "case id is longer than 128 characters")
            case = _Case(xid)
            self._cases[key] = case
            self.stats.cases += 1
            self._opened(case, row, out)
        if row.last is not None or not self._hold:
            self._row(case, row, case.next_index, bool(row.last), out)
            case.next_index += 1
        else:
            if case.held is not None:
                self._row(case, case.held, case.next_index, False, out)
                case.next_index += 1
            case.held = row
        return out

    def finish(self) -> list[Event]:
        """At the end of the file: the held last rows of every case."""
        out: list[Event] = []
        for case in self._cases.values():
            if case.held is not None:
                self._row(case, case.held, case.next_index, True, out)
                case.next_index += 1
                case.held = None
        return out


_REQUIRED: dict[str, frozenset[str]] = {k: v[0] for k, v in EVENT_FIELDS.items()}

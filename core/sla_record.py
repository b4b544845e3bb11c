"""What a database's SLA figures were computed with (``fpi_meta`` rows).

The SLA clock depends on configuration — the target policy and the working
calendars (``kpis.md``) — and a changed configuration applies to the whole
history only through ``fpi recompute``. So the writer records, in
``fpi_meta``:

* ``sla_fingerprint`` — :attr:`core.config.Settings.sla_fingerprint`;
* ``sla_spec`` — the policy, calendars and site map as canonical JSON (readers
  rebuild the calendars from it, :mod:`metrics.sla_clock`);
* ``sla_state`` — ``current``, or ``recomputing`` while ``fpi recompute`` runs
  (a killed recompute leaves it so, and every writer refuses to add to a
  half-recomputed history until a recompute finishes).

A database written before calendars existed has no record: its figures were
computed 24×7 with an unknown policy. A writer adopts such a database when its
configuration has no calendars (nothing changes) and otherwise asks for a
recompute.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from .calendar import NO_CALENDARS, SlaCalendars, from_spec

if TYPE_CHECKING:
    from .config import Settings

FINGERPRINT_KEY = "sla_fingerprint"
SPEC_KEY = "sla_spec"
STATE_KEY = "sla_state"
CURRENT = "current"
RECOMPUTING = "recomputing"


@dataclass(frozen=True)
class SlaRecord:
    """The recorded SLA configuration of a database (all None: none recorded)."""

    fingerprint: str | None = None
    state: str | None = None
    spec: str | None = None

    @property
    def calendars(self) -> SlaCalendars:
        """The recorded calendars (none recorded: 24×7 everywhere)."""
        return NO_CALENDARS if self.spec is None else _calendars(self.spec)

    def describe(self) -> str:
        """One phrase for people: the calendars by site, or 24×7."""
        cals = self.calendars
        if not cals.site_calendars:
            return "24x7 at every site"
        sites = ", ".join(f"{s}: {c}" for s, c in sorted(cals.site_calendars.items()))
        return f"working calendars {sites}; other sites 24x7"


NONE = SlaRecord()


@lru_cache(maxsize=8)
def _calendars(spec: str) -> SlaCalendars:
    """Calendars of a recorded spec, built once per process (their clocks, with
    their year tables, are reused by every later query)."""
    data: dict[str, Any] = orjson.loads(spec)
    return from_spec(data)


def recorded(con: duckdb.DuckDBPyConnection) -> SlaRecord:
    """The record of the database behind ``con`` (:data:`NONE` when absent)."""
    try:
        rows = con.execute(
            "SELECT key, value FROM fpi_meta WHERE key IN (?, ?, ?)",
            [FINGERPRINT_KEY, SPEC_KEY, STATE_KEY],
        ).fetchall()
    except duckdb.CatalogException:
        return NONE
    found = {str(k): str(v) for k, v in rows}
    if FINGERPRINT_KEY not in found:
        return NONE
    return SlaRecord(found[FINGERPRINT_KEY], found.get(STATE_KEY), found.get(SPEC_KEY))


def write(con: duckdb.DuckDBPyConnection, settings: Settings, state: str) -> None:
    """Record ``settings``' SLA configuration with ``state`` (one statement each)."""
    spec = orjson.dumps(settings.sla_spec(), option=orjson.OPT_SORT_KEYS).decode()
    for key, value in (
        (FINGERPRINT_KEY, settings.sla_fingerprint),
        (SPEC_KEY, spec),
        (STATE_KEY, state),
    ):
        con.execute("INSERT OR REPLACE INTO fpi_meta VALUES (?, ?)", [key, value])


def mismatch(record: SlaRecord, settings: Settings) -> str | None:
    """One line when ``settings`` would count the SLA clock differently from how
    the database's figures were computed (None: they agree, or nothing recorded
    and no calendars configured)."""
    if record.fingerprint is None:
        if not settings.sla_calendars.site_calendars:
            return None
        return (
            "the SLA figures in this database were computed 24x7, but the configuration "
            "in use has working calendars: run `fpi recompute` to apply them"
        )
    if record.state == RECOMPUTING:
        return "an `fpi recompute` of this database did not finish: run it again"
    if record.fingerprint != settings.sla_fingerprint:
        return (
            f"the SLA figures in this database were computed with another SLA policy or "
            f"calendars (configuration {record.fingerprint}; in use: "
            f"{settings.sla_fingerprint}): run `fpi recompute` to apply the one in use"
        )
    return None


def has_history(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether any exception is stored."""
    rows = con.execute("SELECT EXISTS (FROM exceptions)").fetchall()
    return bool(rows and rows[0][0])


def adopt(con: duckdb.DuckDBPyConnection, settings: Settings, db: str) -> None:
    """Before a writer adds to ``con``'s database: record ``settings`` on a new (or
    empty, or 24×7 legacy) database; refuse with one line (ValueError) when the
    stored figures were computed with another SLA configuration."""
    record = recorded(con)
    if not has_history(con):
        write(con, settings, CURRENT)
        return
    problem = mismatch(record, settings)
    if problem is None:
        if record.fingerprint is None:
            write(con, settings, CURRENT)
        return
    raise ValueError(
        f"{db}: {problem.replace('run `fpi recompute`', f'run `fpi recompute --db {db}`')} "
        "first, or use the configuration it was built with"
    )

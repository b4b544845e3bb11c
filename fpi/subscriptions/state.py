"""The state file of ``fpi reports send-due`` and its run lock, beside the database.

The database is written by exactly one process (the flow, ``fpi ingest`` /
``fpi stream``), so what was sent is kept next to it, never in it:

* ``DB.reports.json`` — the state (:class:`State`), JSON, rewritten atomically
  after every change: a temporary file in the same directory, ``fsync``,
  ``os.replace`` over the old one, ``fsync`` of the directory. A crash leaves
  the old or the new file, never half of one.
* ``DB.reports.lock`` — an empty file ``flock``-ed (exclusive, non-blocking)
  for the whole of a run, so two runs (cron overlapping a slow one) never send
  the same slot. The lock dies with its process; the file itself stays (deleting
  a lock file races with the next run that opens it).

Format (``version`` 1; times ISO 8601 UTC with ``Z``)::

    {
      "format": "fpi-report-subscriptions",
      "version": 1,
      "subscriptions": {
        "ops-daily": {
          "since": "2026-05-04T12:03:00Z",
          "done_through": "2026-05-05T11:00:00Z",
          "slots": {
            "2026-05-05T11:00:00Z": {
              "status": "sent",
              "message_id": "<3f2a...@example.com>",
              "recorded_at": "2026-05-05T11:02:00Z",
              "sent_at": "2026-05-05T11:02:01Z",
              "attempts": 1,
              "error": null,
              "refused": []
            }
          }
        }
      }
    }

* ``since``: when a run first saw the subscription (the first slot it may
  send is the first at or after this instant, unless the subscription has a
  ``start``).
* ``done_through``: the latest slot sent or skipped; slots up to it are never
  due again (null: none yet).
* ``slots``: one record per slot recorded. ``status`` is ``sending`` from
  just before the mail goes to the SMTP server until the server has accepted
  it, then ``sent``. A slot still ``sending`` on the next run (a crash, or the
  server refused or was unreachable) is sent again with the same
  ``message_id``; ``recorded_at`` (when it was first recorded) is the mail's
  ``Date`` and the report's "generated" time on every attempt. ``error`` is the
  last attempt's one-line error, ``refused`` the recipients the server refused
  while accepting others. Only the newest :data:`KEEP_SENT` ``sent`` records
  of a subscription are kept; ``sending`` records are never dropped.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from core.timeutil import iso_z, parse_time

FORMAT_NAME = "fpi-report-subscriptions"
VERSION = 1
KEEP_SENT = 60
"""``sent`` records kept per subscription (older ones are covered by ``done_through``)."""

SlotStatus = Literal["sending", "sent"]


class StateError(ValueError):
    """The state file cannot be read or the lock cannot be taken (one line)."""


class Busy(StateError):
    """Another run holds the lock."""


def state_path(db: Path) -> Path:
    """``DB.reports.json`` beside the database file ``db``."""
    return db.with_name(db.name + ".reports.json")


def lock_path(db: Path) -> Path:
    """``DB.reports.lock`` beside the database file ``db``."""
    return db.with_name(db.name + ".reports.lock")


@dataclass(slots=True)
class SlotRecord:
    """What happened to one slot (see the module docstring)."""

    status: SlotStatus
    message_id: str
    recorded_at: datetime
    attempts: int = 0
    sent_at: datetime | None = None
    error: str | None = None
    refused: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SubscriptionState:
    """The state of one subscription, by name."""

    since: datetime
    done_through: datetime | None = None
    slots: dict[datetime, SlotRecord] = field(default_factory=dict)

    def pending(self) -> list[datetime]:
        """Slots recorded ``sending`` (not known to be accepted by the server), ascending."""
        return sorted(s for s, r in self.slots.items() if r.status == "sending")

    def last_sent(self) -> datetime | None:
        """The latest slot recorded ``sent`` (None: none kept)."""
        sent = [s for s, r in self.slots.items() if r.status == "sent"]
        return max(sent) if sent else None

    def prune(self) -> None:
        """Drop all but the newest :data:`KEEP_SENT` ``sent`` records."""
        sent = sorted(s for s, r in self.slots.items() if r.status == "sent")
        for s in sent[:-KEEP_SENT]:
            del self.slots[s]


@dataclass(slots=True)
class State:
    """Every subscription's state, by name (subscriptions no longer configured stay)."""

    subscriptions: dict[str, SubscriptionState] = field(default_factory=dict)


def _time(path: Path, where: str, raw: Any) -> datetime:
    if not isinstance(raw, str):
        raise StateError(f"state file {path} is damaged at {where}: not a time: {raw!r}")
    try:
        return parse_time(raw)
    except ValueError as exc:
        raise StateError(f"state file {path} is damaged at {where}: {exc}") from None


def _opt_time(path: Path, where: str, raw: Any) -> datetime | None:
    return None if raw is None else _time(path, where, raw)


def _record(path: Path, where: str, raw: Any) -> SlotRecord:
    if not isinstance(raw, dict) or raw.get("status") not in ("sending", "sent"):
        raise StateError(f"state file {path} is damaged at {where}: not a slot record")
    mid, attempts, refused = raw.get("message_id"), raw.get("attempts", 0), raw.get("refused", [])
    if not isinstance(mid, str) or not isinstance(attempts, int) or not isinstance(refused, list):
        raise StateError(f"state file {path} is damaged at {where}: bad field types")
    error = raw.get("error")
    return SlotRecord(
        status=raw["status"],
        message_id=mid,
        recorded_at=_time(path, f"{where}.recorded_at", raw.get("recorded_at")),
        attempts=attempts,
        sent_at=_opt_time(path, f"{where}.sent_at", raw.get("sent_at")),
        error=error if isinstance(error, str) else None,
        refused=[str(r) for r in refused],
    )


def load_state(path: Path) -> State:
    """Read the state file (a missing file is an empty state).

    A file that is not valid state raises :class:`StateError` naming the file:
    it is never overwritten silently (moving it away starts over: every
    subscription is then new, and sends from its next slot on).
    """
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return State()
    hint = "move it away to start over"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError(f"state file {path} is not valid JSON ({exc}); {hint}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT_NAME:
        raise StateError(f"{path} is not an fpi report state file; {hint}")
    if data.get("version") != VERSION:
        raise StateError(f"state file {path} has version {data.get('version')!r}, not {VERSION}")
    subs = data.get("subscriptions")
    if not isinstance(subs, dict):
        raise StateError(f"state file {path} is damaged: no subscriptions table; {hint}")
    state = State()
    for name, raw in subs.items():
        where = f"subscriptions.{name}"
        if not isinstance(raw, dict) or not isinstance(raw.get("slots", {}), dict):
            raise StateError(f"state file {path} is damaged at {where}; {hint}")
        state.subscriptions[str(name)] = SubscriptionState(
            since=_time(path, f"{where}.since", raw.get("since")),
            done_through=_opt_time(path, f"{where}.done_through", raw.get("done_through")),
            slots={
                _time(path, f"{where}.slots", slot): _record(path, f"{where}.slots.{slot}", rec)
                for slot, rec in raw.get("slots", {}).items()
            },
        )
    return state


def _to_json(state: State) -> dict[str, Any]:
    subs: dict[str, Any] = {}
    for name in sorted(state.subscriptions):
        st = state.subscriptions[name]
        subs[name] = {
            "since": iso_z(st.since),
            "done_through": iso_z(st.done_through),
            "slots": {
                iso_z(slot): {
                    "status": r.status,
                    "message_id": r.message_id,
                    "recorded_at": iso_z(r.recorded_at),
                    "sent_at": iso_z(r.sent_at),
                    "attempts": r.attempts,
                    "error": r.error,
                    "refused": list(r.refused),
                }
                for slot, r in sorted(st.slots.items())
            },
        }
    return {"format": FORMAT_NAME, "version": VERSION, "subscriptions": subs}


def save_state(path: Path, state: State) -> None:
    """Write the state atomically (temporary file, fsync, ``os.replace``, fsync of the
    directory): a crash at any point leaves the previous or the new state."""
    text = json.dumps(_to_json(state), indent=2, ensure_ascii=False) + "\n"
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        with tmp.open("w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def run_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``path`` for the block; :class:`Busy` at once
    (no waiting) when another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Busy(
                f"another `fpi reports send-due` is running on this database "
                f"(it holds {path}); nothing done"
            ) from None
        yield
    finally:
        os.close(fd)

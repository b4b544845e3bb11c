"""What is due, and one run of ``fpi reports send-due`` over it.

A subscription's **due** slots at ``now`` (the run's injected clock) are

* every slot recorded ``sending`` (a crash or failed attempt: sent again with
  the same Message-ID), and
* every slot ``s`` not recorded yet with ``floor <= s <= now`` and ``s`` after
  ``done_through``, where ``floor`` is the subscription's ``start`` if it has
  one, else ``since`` (when a run first saw it). So a new subscription never
  mails its history: its first slot is the first one after it was first seen.
  Of these, only the newest ``max_catch_up`` are sent; the older ones are
  **skipped** (one line, ``done_through`` moves past them).

They are sent oldest first. For each: the report is rendered as of the slot
(:data:`Render`; stock KPIs as of the slot instant, flow KPIs over
[slot − period, slot), whatever the data clock — a 07:00 report is as of
07:00, and its body says when the data is behind), the slot is recorded
``sending`` with its Message-ID (state file written), the mail is handed to
the SMTP server (:data:`Send`), and the slot is recorded ``sent``. A failure
(rendering or SMTP) leaves the slot due — ``sending`` if it got that far — and
stops that subscription for this run, so its mails never go out of order; the
other subscriptions go on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from core.db import DatabaseError
from core.timeutil import Clock, iso_z

from .config import SmtpConfig, Subscription
from .mail import Report, SendError, build_message, message_id
from .schedule import local_label, next_slot, slots
from .state import SlotRecord, State, SubscriptionState, load_state, save_state

Render = Callable[[Subscription, datetime, datetime], Report]
"""``render(subscription, slot, generated_at)``: the report of a slot as of the slot."""
Send = Callable[[EmailMessage, list[str]], dict[str, str]]
"""``send(message, recipients)`` -> refused recipients; raises ``SendError``."""
Emit = Callable[[str], None]
_TINY = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Due:
    """The due slots of one subscription at ``now``."""

    send: list[datetime]
    """Slots to send, ascending (``sending`` ones included)."""
    skipped: list[datetime]
    """Missed slots beyond ``max_catch_up`` (never sent), ascending."""


def due_slots(sub: Subscription, st: SubscriptionState, now: datetime) -> Due:
    """The slots of ``sub`` due at ``now`` (module docstring)."""
    floor = sub.start if sub.start is not None else st.since
    new = [
        s
        for s in slots(sub.cadence, floor, now)
        if s not in st.slots and (st.done_through is None or s > st.done_through)
    ]
    skipped = new[: -sub.max_catch_up] if len(new) > sub.max_catch_up else []
    keep = new[len(skipped) :]
    pending = [s for s in st.pending() if s <= now]
    return Due(send=sorted({*pending, *keep}), skipped=skipped)


@dataclass(slots=True)
class Summary:
    """What one run did."""

    sent: int = 0
    failed: int = 0
    skipped: int = 0
    refused: int = 0
    """Mails sent whose server refused some of the recipients."""
    would_send: int = 0

    @property
    def ok(self) -> bool:
        """No failure and no refused recipient."""
        return self.failed == 0 and self.refused == 0


def _state_of(state: State, sub: Subscription, now: datetime) -> tuple[SubscriptionState, bool]:
    """The subscription's state, created (``since`` = now) if it is new; and whether new."""
    st = state.subscriptions.get(sub.name)
    if st is not None:
        return st, False
    return SubscriptionState(since=now), True


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass(slots=True)
class _Run:
    """One run: the state, its file, and where things go."""

    smtp: SmtpConfig
    state: State
    state_file: Path
    now: datetime
    clock: Clock
    render: Render
    send: Send
    emit: Emit
    emit_error: Emit
    summary: Summary

    def save(self) -> None:
        save_state(self.state_file, self.state)

    def subscription(self, sub: Subscription, *, dry_run: bool) -> None:
        st, new = _state_of(self.state, sub, self.now)
        if new:
            floor = sub.start if sub.start is not None else st.since
            first = next_slot(sub.cadence, floor - _TINY)
            self.emit(
                f"new subscription {sub.name}: {sub.cadence.describe()}, first slot "
                f"{local_label(first, sub.cadence)}"
            )
            if not dry_run:
                self.state.subscriptions[sub.name] = st
                self.save()
        due = due_slots(sub, st, self.now)
        if due.skipped:
            first, last = due.skipped[0], due.skipped[-1]
            self.emit(
                f"{'would skip' if dry_run else 'skipped'} {sub.name}: {len(due.skipped)} "
                f"missed slot(s) from {local_label(first, sub.cadence)} to "
                f"{local_label(last, sub.cadence)} (more than max_catch_up = {sub.max_catch_up})"
            )
            self.summary.skipped += len(due.skipped)
            if not dry_run:
                st.done_through = max(last, st.done_through or last)
                self.save()
        for slot in due.send:
            if dry_run:
                again = " again" if slot in st.slots else ""
                self.emit(
                    f"would send{again} {sub.name} {local_label(slot, sub.cadence)} "
                    f"to {', '.join(sub.to)}"
                )
                self.summary.would_send += 1
            elif not self.slot(sub, st, slot):
                break  # later slots wait for this one: mails never go out of order

    def slot(self, sub: Subscription, st: SubscriptionState, slot: datetime) -> bool:
        """Render, record ``sending``, send, record ``sent``; False (and one error
        line) on a failure, which leaves the slot due."""
        label = f"{sub.name} {local_label(slot, sub.cadence)}"
        record = st.slots.get(slot)
        made_at = record.recorded_at if record is not None else self.now
        try:
            report = self.render(sub, slot, made_at)
        except (DatabaseError, ValueError, OSError) as exc:
            return self.failed(label, record, f"report not made: {_one_line(exc)}")
        if record is None:
            record = SlotRecord(
                status="sending",
                message_id=message_id(sub.name, slot, self.smtp.domain),
                recorded_at=self.now,
            )
            st.slots[slot] = record
        record.attempts += 1
        self.save()  # recorded as sending before the mail goes out
        msg = build_message(sub, self.smtp, slot, report, mid=record.message_id, made_at=made_at)
        try:
            refused = self.send(msg, sub.envelope_recipients())
        except SendError as exc:
            return self.failed(label, record, str(exc))
        record.status = "sent"
        record.sent_at = self.clock()
        record.error = None
        record.refused = sorted(refused)
        st.done_through = max(slot, st.done_through or slot)
        st.prune()
        self.save()
        again = (
            f" again (attempt {record.attempts}, same Message-ID)" if record.attempts > 1 else ""
        )
        self.emit(
            f"sent{again} {label} as of {iso_z(report.as_of)} to {len(sub.to)} "
            f"recipient(s), Message-ID {record.message_id}"
        )
        self.summary.sent += 1
        if refused:
            self.summary.refused += 1
            detail = "; ".join(f"{a}: {why}" for a, why in sorted(refused.items()))
            self.emit_error(f"{label}: the server refused some recipients ({detail})")
        return True

    def failed(self, label: str, record: SlotRecord | None, error: str) -> bool:
        self.summary.failed += 1
        if record is not None:
            record.error = error
            self.save()
        self.emit_error(f"{label} not sent: {error}; it is due again on the next run")
        return False


def send_due(
    subs: tuple[Subscription, ...],
    smtp: SmtpConfig,
    state_file: Path,
    clock: Clock,
    *,
    render: Render,
    send: Send,
    emit: Emit,
    emit_error: Emit,
    dry_run: bool = False,
) -> Summary:
    """Send every due slot of ``subs`` once (module docstring); the caller holds the lock.

    ``clock`` is read once for ``now`` (what is due) and again for each
    ``sent_at``. With ``dry_run`` nothing is rendered, sent or written: the
    lines say what would be sent or skipped. ``emit`` gets one line per slot
    sent or per subscription's skipped slots, ``emit_error`` one line per failure.
    """
    now = clock()
    run = _Run(
        smtp=smtp,
        state=load_state(state_file),
        state_file=state_file,
        now=now,
        clock=clock,
        render=render,
        send=send,
        emit=emit,
        emit_error=emit_error,
        summary=Summary(),
    )
    for sub in subs:
        run.subscription(sub, dry_run=dry_run)
    return run.summary


@dataclass(frozen=True, slots=True)
class Listing:
    """One subscription as ``fpi reports list`` shows it."""

    name: str
    cadence: str
    format: str
    to: str
    next_slot: datetime
    last_sent: datetime | None
    pending: int
    """Slots recorded ``sending`` (sent again by the next run)."""
    due: int
    """Slots the next run would send (``pending`` included)."""


def listing(subs: tuple[Subscription, ...], state: State, now: datetime) -> list[Listing]:
    """Each subscription's next slot after ``now`` (not before its ``start`` or, when
    never seen, ``now``), last slot sent, and how many slots are pending and due."""
    out = []
    for sub in subs:
        st = state.subscriptions.get(sub.name)
        due = due_slots(sub, st or SubscriptionState(since=now), now)
        after = now if sub.start is None or sub.start <= now else sub.start - _TINY
        out.append(
            Listing(
                name=sub.name,
                cadence=sub.cadence.describe(),
                format=sub.format,
                to=", ".join(sub.to),
                next_slot=next_slot(sub.cadence, after),
                last_sent=st.last_sent() if st is not None else None,
                pending=len(st.pending()) if st is not None else 0,
                due=len(due.send),
            )
        )
    return out

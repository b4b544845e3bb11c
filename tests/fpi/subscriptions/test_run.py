"""What is due: first sight, ``start``, ``done_through``, pending slots, the catch-up cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fpi.subscriptions.config import Subscription, load_subscriptions
from fpi.subscriptions.run import due_slots, listing
from fpi.subscriptions.state import SlotRecord, State, SubscriptionState

DAY = timedelta(days=1)
SLOT = datetime(2026, 5, 4, 11, tzinfo=UTC)  # 07:00 America/New_York (EDT)


def _sub(**extra: Any) -> Subscription:
    raw = {
        "name": "ops",
        "to": "ops@example.com",
        "format": "json",
        "cadence": "daily",
        "timezone": "America/New_York",
        **extra,
    }
    return load_subscriptions([raw], ("json",))[0]


def test_a_new_subscription_sends_nothing_of_its_history() -> None:
    seen = SLOT + timedelta(minutes=5)  # first seen just after a slot
    st = SubscriptionState(since=seen)
    assert due_slots(_sub(), st, seen).send == []
    assert due_slots(_sub(), st, SLOT + DAY).send == [SLOT + DAY]
    # seen exactly at a slot: that slot counts
    assert due_slots(_sub(), SubscriptionState(since=SLOT), SLOT).send == [SLOT]


def test_start_decides_instead_of_first_sight() -> None:
    st = SubscriptionState(since=SLOT + 3 * DAY)
    sub = _sub(start="2026-05-05")  # midnight New York
    assert due_slots(sub, st, SLOT + 3 * DAY).send == [SLOT + n * DAY for n in (1, 2, 3)]
    assert due_slots(_sub(start="2026-06-01"), st, SLOT + 3 * DAY).send == []


def test_done_and_recorded_slots_are_not_due_but_sending_ones_are() -> None:
    st = SubscriptionState(since=SLOT - DAY, done_through=SLOT)
    st.slots[SLOT] = SlotRecord("sent", "<a@x>", recorded_at=SLOT)
    st.slots[SLOT + DAY] = SlotRecord("sending", "<b@x>", recorded_at=SLOT + DAY)
    assert due_slots(_sub(), st, SLOT + 2 * DAY).send == [SLOT + DAY, SLOT + 2 * DAY]
    # a pending slot older than done_through (sent out of order by hand) is still due
    st.done_through = SLOT + 2 * DAY
    assert due_slots(_sub(), st, SLOT + 2 * DAY).send == [SLOT + DAY]


def test_catch_up_is_capped_by_max_catch_up() -> None:
    st = SubscriptionState(since=SLOT)
    due = due_slots(_sub(max_catch_up=2), st, SLOT + 4 * DAY)
    assert due.send == [SLOT + 3 * DAY, SLOT + 4 * DAY]
    assert due.skipped == [SLOT, SLOT + DAY, SLOT + 2 * DAY]


def test_listing_next_slot_last_sent_pending_and_due() -> None:
    st = SubscriptionState(since=SLOT - DAY, done_through=SLOT)
    st.slots[SLOT] = SlotRecord("sent", "<a@x>", recorded_at=SLOT)
    st.slots[SLOT + DAY] = SlotRecord("sending", "<b@x>", recorded_at=SLOT + DAY)
    now = SLOT + DAY + timedelta(hours=1)
    (known, unseen, later) = listing(
        (_sub(), _sub(name="new"), _sub(name="later", start="2026-06-01")),
        State({"ops": st}),
        now,
    )
    assert (known.next_slot, known.last_sent, known.pending, known.due) == (
        SLOT + 2 * DAY,
        SLOT,
        1,
        1,
    )
    assert known.cadence == "daily 07:00 America/New_York"
    assert (unseen.next_slot, unseen.last_sent, unseen.pending, unseen.due) == (
        SLOT + 2 * DAY,
        None,
        0,
        0,
    )
    assert later.next_slot == datetime(2026, 6, 1, 11, tzinfo=UTC)

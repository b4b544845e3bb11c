"""The state file: round trip, atomic replacement, damage refused, the run lock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from fpi.subscriptions.state import (
    KEEP_SENT,
    Busy,
    SlotRecord,
    State,
    StateError,
    SubscriptionState,
    load_state,
    lock_path,
    run_lock,
    save_state,
    state_path,
)

T = datetime(2026, 5, 4, 11, tzinfo=UTC)


def test_files_live_beside_the_database() -> None:
    db = Path("/data/fpi.duckdb")
    assert state_path(db) == Path("/data/fpi.duckdb.reports.json")
    assert lock_path(db) == Path("/data/fpi.duckdb.reports.lock")


def test_round_trip_and_format(tmp_path: Path) -> None:
    path = tmp_path / "x.reports.json"
    assert load_state(path).subscriptions == {}  # no file yet: empty
    st = SubscriptionState(since=T, done_through=T)
    st.slots[T] = SlotRecord("sent", "<a@x>", recorded_at=T, attempts=2, sent_at=T, refused=["b@x"])
    st.slots[T.replace(day=5)] = SlotRecord(
        "sending", "<b@x>", recorded_at=T, attempts=1, error="e"
    )
    save_state(path, State({"ops": st}))
    data = json.loads(path.read_text())
    assert data["format"] == "fpi-report-subscriptions" and data["version"] == 1
    assert data["subscriptions"]["ops"]["since"] == "2026-05-04T11:00:00Z"
    assert data["subscriptions"]["ops"]["slots"]["2026-05-05T11:00:00Z"]["status"] == "sending"
    back = load_state(path).subscriptions["ops"]
    assert back == st
    assert back.pending() == [T.replace(day=5)] and back.last_sent() == T
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_prune_keeps_sending_and_the_newest_sent() -> None:
    st = SubscriptionState(since=T)
    for day in range(1, KEEP_SENT + 6):
        st.slots[T + timedelta(days=day)] = SlotRecord("sent", f"<{day}@x>", recorded_at=T)
    oldest = min(st.slots)
    st.slots[oldest].status = "sending"
    st.prune()
    assert oldest in st.slots  # sending: never dropped
    assert sum(r.status == "sent" for r in st.slots.values()) == KEEP_SENT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{not json", "is not valid JSON"),
        ('{"format": "other"}', "is not an fpi report state file"),
        ('{"format": "fpi-report-subscriptions", "version": 9}', "has version 9"),
        (
            '{"format": "fpi-report-subscriptions", "version": 1, "subscriptions": '
            '{"ops": {"since": "never"}}}',
            "damaged at subscriptions.ops.since",
        ),
    ],
)
def test_a_damaged_file_is_refused_not_overwritten(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "x.reports.json"
    path.write_text(text)
    with pytest.raises(StateError, match=expected) as info:
        load_state(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    assert path.read_text() == text


def test_the_lock_refuses_a_second_holder_at_once(tmp_path: Path) -> None:
    path = tmp_path / "x.reports.lock"
    with run_lock(path):
        with pytest.raises(Busy, match="another `fpi reports send-due` is running"):
            with run_lock(path):
                pass
    with run_lock(path):  # released on exit
        pass

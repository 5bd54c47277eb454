"""Time travel on the in-memory ledger: ``message(as_of=T)`` and ``history(until=T)`` by received time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ledger import Ledger, MessageNotFoundError, Status
from ledger.connectly import delivery_status_payload

SENDER, RECIPIENT = "+16044441111", "+16044551234"
#: The provider's times: the message was sent, delivered and read within a minute.
SENT_AT = datetime(2022, 1, 6, 23, 0, tzinfo=UTC)
#: The ledger's times: when each call reached it, an hour apart.
R1, R2, R3, R4 = (datetime(2022, 1, 7, hour, tzinfo=UTC) for hour in (1, 2, 3, 4))
SECOND = timedelta(seconds=1)


class Clock:
    """A clock that reads whatever the test last set."""

    def __init__(self) -> None:
        self.now = R1

    def __call__(self) -> datetime:
        return self.now


def webhook(stage: Status, seconds: int, **fields: Any) -> dict[str, Any]:
    return delivery_status_payload("m-1", stage, timestamp=SENT_AT + timedelta(seconds=seconds), **fields)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(clock: Clock) -> Iterator[Ledger]:
    """m-1 recorded as sent at R1, reported sent at R2, read at R3 and delivered (late) at R4."""
    with Ledger.in_memory(clock=clock) as in_memory:
        in_memory.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, campaign="fall")
        for now, stage, seconds in ((R2, Status.SENT, 1), (R3, Status.READ, 30), (R4, Status.DELIVERED, 20)):
            clock.now = now
            in_memory.ingest(webhook(stage, seconds, recipient=RECIPIENT))
        yield in_memory


def test_a_message_as_of_each_moment_is_what_the_ledger_had_received_by_then(ledger: Ledger) -> None:
    assert ledger.message("m-1", as_of=R1).status is Status.ACCEPTED
    assert ledger.message("m-1", as_of=R2 - SECOND).status is Status.ACCEPTED
    sent = ledger.message("m-1", as_of=R2)
    assert (sent.status, sent.sent_at, sent.read_at, sent.version) == (Status.SENT, SENT_AT + SECOND, None, 3)
    read = ledger.message("m-1", as_of=R3 + SECOND)
    assert (read.status, read.read_at, read.delivered_at) == (Status.READ, SENT_AT + 30 * SECOND, None)
    assert ledger.message("m-1", as_of=R4).delivered_at == SENT_AT + 20 * SECOND


def test_a_message_as_of_now_or_later_is_the_message_as_it_stands(ledger: Ledger) -> None:
    assert ledger.message("m-1", as_of=R4) == ledger.message("m-1")
    assert ledger.message("m-1", as_of=datetime(2100, 1, 1, tzinfo=UTC)) == ledger.message("m-1")


def test_a_report_that_happened_before_a_moment_but_arrived_after_it_was_not_known_then(ledger: Ledger) -> None:
    # The delivery happened 20 s after the send (in 2022-01-06) but reached the ledger at R4.
    assert ledger.message("m-1", as_of=R4 - SECOND).delivered_at is None


def test_a_message_not_yet_received_at_a_moment_is_not_found_as_of_it(ledger: Ledger) -> None:
    with pytest.raises(MessageNotFoundError, match="as of 2022-01-07T00:59:59") as raised:
        ledger.message("m-1", as_of=R1 - SECOND)
    assert (raised.value.message_id, raised.value.as_of) == ("m-1", R1 - SECOND)
    with pytest.raises(MessageNotFoundError):
        ledger.history("m-1", until=R1 - SECOND)
    with pytest.raises(MessageNotFoundError):
        ledger.message("m-2", as_of=R4)


def test_a_history_until_a_moment_lists_only_the_facts_received_by_then(ledger: Ledger) -> None:
    entries = ledger.history("m-1", until=R3)
    assert [entry.event for entry in entries] == ["opened", "send_recorded", "stage_reported", "stage_reported"]
    assert [entry.received_at for entry in entries] == [R1, R1, R2, R3]
    assert ledger.history("m-1", until=R4) == ledger.history("m-1")
    assert len(ledger.history("m-1", until=R3 - SECOND)) == 3


def test_a_contradiction_counts_only_from_when_it_arrived(ledger: Ledger, clock: Clock) -> None:
    clock.now = R4 + timedelta(hours=1)
    ledger.ingest(webhook(Status.FAILED, 40, recipient=RECIPIENT))
    assert ledger.message("m-1", as_of=R4).conflicts == 0
    assert ledger.message("m-1", as_of=clock.now).conflicts == 1
    assert ledger.history("m-1", until=clock.now)[-1].event == "report_rejected"


def test_an_event_stamped_earlier_than_the_one_before_it_is_known_only_from_that_one(
    ledger: Ledger, clock: Clock
) -> None:
    # A writer whose clock ran behind recorded version 6 with a time before version 5's.
    clock.now = R2 + SECOND
    ledger.ingest(webhook(Status.FAILED, 40, recipient=RECIPIENT))
    assert [entry.version for entry in ledger.history("m-1", until=R3)] == [1, 2, 3, 4]
    assert ledger.message("m-1", as_of=R3).conflicts == 0
    assert ledger.message("m-1", as_of=R4).conflicts == 1


def test_a_moment_without_a_time_zone_is_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="time zone"):
        ledger.message("m-1", as_of=datetime(2022, 1, 7, 2))
    with pytest.raises(ValueError, match="time zone"):
        ledger.history("m-1", until=datetime(2022, 1, 7, 2))


def test_a_message_at_a_log_position_is_made_of_its_events_up_to_there(ledger: Ledger, clock: Clock) -> None:
    # Positions 1-5 are m-1's; m-2's webhook opens it at 6 and reports it at 7; m-1's contradiction is 8.
    clock.now = R4 + timedelta(hours=1)
    ledger.ingest(delivery_status_payload("m-2", Status.SENT, timestamp=SENT_AT, recipient=RECIPIENT))
    ledger.ingest(webhook(Status.FAILED, 40, recipient=RECIPIENT))
    assert ledger.message("m-1", at_position=3).status is Status.SENT
    assert ledger.message("m-1", at_position=4).status is Status.READ
    assert ledger.message("m-1", at_position=7) == ledger.message("m-1", as_of=R4)
    assert ledger.message("m-1", at_position=8) == ledger.message("m-1")
    assert [entry.event for entry in ledger.history("m-2", at_position=6)] == ["opened"]
    assert len(ledger.history("m-1", at_position=100)) == 6


def test_a_message_with_no_event_up_to_a_log_position_is_not_found_there(ledger: Ledger) -> None:
    ledger.ingest(delivery_status_payload("m-2", Status.SENT, timestamp=SENT_AT, recipient=RECIPIENT))
    with pytest.raises(MessageNotFoundError, match="at log position 5") as raised:
        ledger.message("m-2", at_position=5)
    assert raised.value.at_position == 5
    with pytest.raises(MessageNotFoundError):
        ledger.history("m-1", at_position=0)


def test_a_time_and_a_position_at_once_or_a_negative_position_are_refused(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="not both"):
        ledger.message("m-1", as_of=R2, at_position=3)
    with pytest.raises(ValueError, match="not both"):
        ledger.history("m-1", until=R2, at_position=3)
    with pytest.raises(ValueError, match=">= 0"):
        ledger.message("m-1", at_position=-1)


def test_a_dry_run_leaves_no_position_behind(ledger: Ledger) -> None:
    with ledger.dry_run():
        ledger.ingest(delivery_status_payload("m-2", Status.SENT, timestamp=SENT_AT, recipient=RECIPIENT))
        assert ledger.message("m-2", at_position=7).status is Status.SENT
    ledger.ingest(delivery_status_payload("m-3", Status.SENT, timestamp=SENT_AT, recipient=RECIPIENT))
    with pytest.raises(MessageNotFoundError):
        ledger.message("m-2", at_position=7)
    assert ledger.message("m-3", at_position=7).status is Status.SENT

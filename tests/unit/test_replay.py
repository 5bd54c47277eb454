"""The store's replay (ledger.persistence.replay_message) against eventsourcing's own projection."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate, OriginatorIDError, OriginatorVersionError

from ledger import DeliveryError, Message, Status
from ledger.message import message_uuid
from ledger.persistence import replay_message
from ledger.reports import StatusReport

T0 = datetime(2022, 1, 6, 23, 0, tzinfo=UTC)


def history() -> list[Aggregate.Event]:
    """Every kind of event a message records, oldest first."""
    message = Message.open("m-1", sender="+1", recipient="+2", channel="whatsapp", at=T0)
    message.record_send(
        sender="+1", recipient="+2", channel="whatsapp", template="t", campaign="c", accepted_at=T0, at=T0
    )
    message.report(StatusReport("m-1", Status.READ, T0 + timedelta(seconds=30), raw="{}"), at=T0)
    message.report(StatusReport("m-1", Status.SENT, T0 + timedelta(seconds=10)), at=T0 + timedelta(seconds=1))
    failure = StatusReport("m-1", Status.FAILED, T0 + timedelta(seconds=40), error=DeliveryError(code="131026"))
    message.reject(failure, reason="failed after read", at=T0 + timedelta(seconds=2))
    return list(message.collect_events())  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [1, 2, 5])
def test_a_replayed_message_is_the_one_eventsourcing_projects(length: int) -> None:
    events = history()[:length]
    ours = replay_message(events)
    theirs: Message | None = project_aggregate(None, events)
    assert type(ours) is type(theirs) is Message
    assert list(vars(ours).items()) == list(vars(theirs).items())
    assert (ours.version, ours.modified_on) == (length, events[-1].timestamp)


def test_a_gap_in_the_versions_is_refused_as_eventsourcing_refuses_it() -> None:
    events = history()
    with pytest.raises(OriginatorVersionError):
        project_aggregate(None, [events[0], events[2]])
    with pytest.raises(OriginatorVersionError):
        replay_message([events[0], events[1], events[3]])


def test_an_event_of_another_message_is_refused_as_eventsourcing_refuses_it() -> None:
    events = history()
    stranger = replace(events[1], originator_id=message_uuid("m-2"))
    with pytest.raises(OriginatorIDError):
        project_aggregate(None, [events[0], stranger])
    with pytest.raises(OriginatorIDError):
        replay_message([events[0], stranger])


def test_no_events_make_no_message() -> None:
    with pytest.raises(ValueError, match="at least one event"):
        replay_message([])

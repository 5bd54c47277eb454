"""The Message aggregate beyond single table cells: identity, late facts, rejections."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Aggregate

from ledger import DeliveryError, IdentityMismatchError, Message, Outcome, Status, message_uuid
from ledger.message import MessageEvent
from ledger.reports import StatusReport

T0 = datetime(2022, 1, 6, 23, 0, tzinfo=UTC)


def opened(**identity: str | None) -> Message:
    defaults: dict[str, str | None] = {"sender": "+1", "recipient": "+2", "channel": "whatsapp"}
    fields = defaults | identity
    return Message.open("m-1", sender=fields["sender"], recipient=fields["recipient"], channel=fields["channel"], at=T0)


def report(stage: Status, seconds: int = 0, /, **fields: object) -> StatusReport:
    return StatusReport("m-1", stage, T0 + timedelta(seconds=seconds), **fields)  # type: ignore[arg-type]


def test_the_aggregate_id_is_a_uuid5_of_the_provider_id() -> None:
    assert opened().id == message_uuid("m-1")
    assert message_uuid("m-1") == message_uuid("m-1") != message_uuid("m-2")


def test_read_before_delivered_keeps_read_and_fills_in_the_delivered_time() -> None:
    message = opened()
    assert message.report(report(Status.READ, 30), at=T0) is Outcome.APPLIED
    assert message.report(report(Status.DELIVERED, 20), at=T0) is Outcome.LATE
    assert message.status is Status.READ
    assert message.stage_times == {
        Status.READ: T0 + timedelta(seconds=30),
        Status.DELIVERED: T0 + timedelta(seconds=20),
    }


def test_skipped_stages_stay_unknown() -> None:
    message = opened()
    message.report(report(Status.READ, 30), at=T0)
    assert Status.SENT not in message.stage_times
    assert Status.DELIVERED not in message.stage_times


def test_a_failure_keeps_its_error() -> None:
    message = opened()
    error = DeliveryError(code="ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT", trace_id="42", details={"a": {"_type_": "x"}})
    message.report(report(Status.FAILED, error=error), at=T0)
    assert message.error == error


@pytest.mark.parametrize("field", ["sender", "recipient", "channel"])
def test_a_report_naming_another_party_is_refused_before_any_change(field: str) -> None:
    message = opened()
    with pytest.raises(IdentityMismatchError) as caught:
        message.report(report(Status.DELIVERED, **{field: "someone-else"}), at=T0)
    assert caught.value.field == field
    assert message.version == 1
    assert message.status is Status.ACCEPTED


def test_a_report_that_omits_a_party_is_not_a_mismatch() -> None:
    assert opened().report(report(Status.SENT, recipient=None), at=T0) is Outcome.APPLIED


def test_a_rejection_is_kept_once_and_changes_no_state() -> None:
    message = opened()
    message.report(report(Status.READ), at=T0)
    contradiction = report(Status.FAILED, 5)
    assert message.reject(contradiction, reason="no", at=T0) is True
    assert message.reject(contradiction, reason="no", at=T0) is False
    assert message.status is Status.READ
    assert len(message.conflicts) == 1
    assert [type(e).__name__ for e in message.collect_events()] == ["Opened", "StageReported", "ReportRejected"]


def test_recording_the_send_twice_is_a_duplicate() -> None:
    message = opened()
    send = {"sender": "+1", "recipient": "+2", "channel": "whatsapp", "template": "t", "campaign": "c"}
    assert message.record_send(**send, accepted_at=T0, at=T0) is Outcome.APPLIED
    assert message.record_send(**send, accepted_at=T0, at=T0) is Outcome.DUPLICATE
    assert (message.template, message.campaign, message.accepted_at) == ("t", "c", T0)


def test_the_send_cannot_name_another_recipient_than_the_webhook() -> None:
    message = opened()
    with pytest.raises(IdentityMismatchError, match="recipient"):
        message.record_send(
            sender="+1", recipient="+3", channel="whatsapp", template=None, campaign=None, accepted_at=T0, at=T0
        )


def test_each_command_records_the_next_event_and_replaying_them_makes_the_same_message() -> None:
    message = opened()
    message.record_send(
        sender="+1", recipient="+2", channel="whatsapp", template="t", campaign="c", accepted_at=T0, at=T0
    )
    message.report(report(Status.READ, 30, campaign="c", raw="{}"), at=T0 + timedelta(seconds=31))
    message.report(report(Status.DELIVERED, 20), at=T0 + timedelta(seconds=32))
    failure = report(Status.FAILED, 40, error=DeliveryError(code="131026", details={"a": 1}))
    message.reject(failure, reason="failed after read", at=T0 + timedelta(seconds=41))
    events = message.collect_events()
    assert [type(event) for event in events] == [
        Message.Opened,
        Message.SendRecorded,
        Message.StageReported,
        Message.StageReportedLate,
        Message.ReportRejected,
    ]
    assert [(e.originator_id, e.originator_version) for e in events] == [(message.id, v) for v in range(1, 6)]
    assert message.version == len(events)
    assert events[-1].timestamp == message.modified_on == T0 + timedelta(seconds=41)
    # The stored order of an event's attributes is its dataclass fields' order.
    assert list(vars(events[1])) == [
        "originator_id",
        "originator_version",
        "timestamp",
        "template",
        "campaign",
        "accepted_at",
    ]
    replayed = project_aggregate(None, events)
    assert list(vars(replayed).items()) == list(vars(message).items())


def test_every_event_class_a_message_declares_is_a_message_event() -> None:
    # The read models fold MessageEvent and projections.base.decode types the log as it:
    # an event class missing from the union would reach folds that mypy never checked.
    declared = [
        cls
        for name, cls in vars(Message).items()
        if isinstance(cls, type) and issubclass(cls, Aggregate.Event) and name not in ("Event", "Created")
    ]
    assert [cls.__name__ for cls in declared] == [
        "Opened",
        "SendRecorded",
        "StageReported",
        "StageReportedLate",
        "ReportRejected",
    ]
    assert all(issubclass(cls, MessageEvent) for cls in declared)
    # ... and only those: the bases the metaclass makes are not (they record nothing).
    assert not issubclass(Message.Event, MessageEvent)
    assert not issubclass(Message.Created, MessageEvent)

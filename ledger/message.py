"""The Message aggregate: one append-only history per provider message id.

Events are past-tense facts and hold only what happened:

- ``Opened``: the ledger started tracking a message (by our send, or by a webhook that
  beat the send response);
- ``SendRecorded``: the send API answered with this id (our side of the story);
- ``StageReported``: the provider reported a stage that moved the status forward;
- ``StageReportedLate``: the provider reported a skipped stage after a later one; its
  time is filled in, the status does not move back;
- ``ReportRejected``: a report contradicted the history; it changes no state.

Each command checks its guard and raises before any event is triggered.

Schema evolution: every event class declares ``class_version``.  When an event's fields
change, raise its ``class_version`` and add a static ``upcast_vN_vN+1(state)`` method;
eventsourcing's mapper then upgrades old stored events as it reads them, so old logs stay
readable (``tests/fixtures/events_v1.jsonl`` holds events written by version 1).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.errors import IdentityMismatchError, InvalidTransitionError
from ledger.reports import DeliveryError, StatusReport
from ledger.status import STRICT, MessageState, Outcome, Status, TransitionTable, decide, status_of

#: Aggregate ids are ``uuid5(MESSAGE_NAMESPACE, provider_message_id)``: any worker finds
#: a message without a lookup, and two workers opening it at once collide on version 1.
MESSAGE_NAMESPACE = UUID("5d3a0f8e-6c1b-4e0a-9a57-0c2f7b1d9e42")


def message_uuid(message_id: str) -> UUID:
    """The aggregate id of the provider's ``message_id``."""
    return uuid5(MESSAGE_NAMESPACE, message_id)


class Message(Aggregate):
    """A message's delivery history and the status it implies."""

    class Opened(Aggregate.Created):
        class_version = 1

        message_id: str
        sender: str | None
        recipient: str | None
        channel: str | None

    class SendRecorded(Aggregate.Event):
        class_version = 1

        template: str | None
        campaign: str | None
        accepted_at: datetime

        def apply(self, aggregate: Any) -> None:
            message: Message = aggregate
            message.template = self.template
            message.campaign = message.campaign or self.campaign
            message.accepted_at = self.accepted_at

    class StageReported(Aggregate.Event):
        # Version 2 added ``facts`` (the provider's pricing and conversation, Meta's).
        class_version = 2

        stage: str
        occurred_at: datetime
        error: dict[str, str | None] | None
        campaign: str | None
        raw: str
        facts: dict[str, str] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            """Version 1 reports (all Connectly's) carried no provider facts."""
            state["facts"] = None

        def apply(self, aggregate: Any) -> None:
            message: Message = aggregate
            stage = status_of(self.stage)
            message.stage_times[stage] = self.occurred_at
            message.status = stage
            if self.error is not None:
                message.error = DeliveryError.from_record(self.error)
            message.campaign = message.campaign or self.campaign
            if self.facts:
                message.facts.update(self.facts)

    class StageReportedLate(StageReported):
        # Version 2 as StageReported (whose upcast_v1_v2 it inherits).
        class_version = 2

        def apply(self, aggregate: Any) -> None:
            message: Message = aggregate
            message.stage_times[status_of(self.stage)] = self.occurred_at
            message.campaign = message.campaign or self.campaign
            if self.facts:
                # Facts reported late fill in what is missing; they never replace newer ones.
                message.facts = {**self.facts, **message.facts}

    class ReportRejected(Aggregate.Event):
        class_version = 1

        stage: str
        occurred_at: datetime
        error: dict[str, str | None] | None
        reason: str
        raw: str

        def apply(self, aggregate: Any) -> None:
            message: Message = aggregate
            message.conflicts.add((Status(self.stage), self.occurred_at))

    def __init__(self, message_id: str, sender: str | None, recipient: str | None, channel: str | None) -> None:
        self.message_id = message_id
        self.sender = sender
        self.recipient = recipient
        self.channel = channel
        self.template: str | None = None
        self.campaign: str | None = None
        self.accepted_at: datetime | None = None
        self.status = Status.ACCEPTED
        self.stage_times: dict[Status, datetime] = {}
        self.error: DeliveryError | None = None
        self.conflicts: set[tuple[Status, datetime]] = set()
        #: The provider's facts (Meta's pricing and conversation), the newest of each.
        self.facts: dict[str, str] = {}

    @classmethod
    def open(
        cls,
        message_id: str,
        *,
        sender: str | None,
        recipient: str | None,
        channel: str | None,
        at: datetime,
    ) -> Message:
        """Start tracking ``message_id`` (``at``: when the ledger learned of it)."""
        return cls._create(
            cls.Opened,
            id=message_uuid(message_id),
            message_id=message_id,
            sender=sender,
            recipient=recipient,
            channel=channel,
            timestamp=at,
        )

    @property
    def state(self) -> MessageState | None:
        """What the transition table looks at; ``None`` while only a webhook has opened it."""
        if self.accepted_at is None and not self.stage_times:
            return None
        return MessageState(self.status, self.stage_times.keys())

    def record_send(
        self,
        *,
        sender: str | None,
        recipient: str | None,
        channel: str | None,
        template: str | None,
        campaign: str | None,
        accepted_at: datetime,
        at: datetime,
    ) -> Outcome:
        """Record the send API's answer; a repeat is a ``duplicate``."""
        self._check_identity(sender=sender, recipient=recipient, channel=channel)
        if self.accepted_at is not None:
            return Outcome.DUPLICATE
        self.trigger_event(
            self.SendRecorded, timestamp=at, template=template, campaign=campaign, accepted_at=accepted_at
        )
        return Outcome.APPLIED

    def report(self, report: StatusReport, *, at: datetime, table: TransitionTable = STRICT) -> Outcome:
        """Apply a provider report received ``at``; raise ``ContradictionError`` if it contradicts."""
        self._check_identity(sender=report.sender, recipient=report.recipient, channel=report.channel)
        outcome = decide(self.state, report.stage, table)
        if outcome is Outcome.REJECTED:
            raise InvalidTransitionError(message_id=self.message_id, status=self.status, stage=report.stage)
        if outcome is Outcome.DUPLICATE:
            return outcome
        event_class = self.StageReported if outcome is Outcome.APPLIED else self.StageReportedLate
        self.trigger_event(
            event_class,
            timestamp=at,
            stage=report.stage.value,
            occurred_at=report.occurred_at,
            error=report.error.to_record() if report.error else None,
            campaign=report.campaign,
            raw=report.raw,
            facts=dict(report.facts) if report.facts else None,
        )
        return outcome

    def reject(self, report: StatusReport, *, reason: str, at: datetime) -> bool:
        """Keep a contradicting report in the history; False if this one is already there."""
        if (report.stage, report.occurred_at) in self.conflicts:
            return False
        self.trigger_event(
            self.ReportRejected,
            timestamp=at,
            stage=report.stage.value,
            occurred_at=report.occurred_at,
            error=report.error.to_record() if report.error else None,
            reason=reason,
            raw=report.raw,
        )
        return True

    def _check_identity(self, *, sender: str | None, recipient: str | None, channel: str | None) -> None:
        if sender == self.sender and recipient == self.recipient and channel == self.channel:
            return  # the usual case, checked at once
        for field, recorded, reported in (
            ("sender", self.sender, sender),
            ("recipient", self.recipient, recipient),
            ("channel", self.channel, channel),
        ):
            if recorded is not None and reported is not None and recorded != reported:
                raise IdentityMismatchError(
                    message_id=self.message_id, field=field, recorded=recorded, reported=reported
                )


#: Every event a Message records (``StageReportedLate`` is a ``StageReported``), and so
#: every event in the ledger's notification log: the type the read models fold.
MessageEvent: TypeAlias = Message.Opened | Message.SendRecorded | Message.StageReported | Message.ReportRejected

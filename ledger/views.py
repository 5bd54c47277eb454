"""What the ledger answers: plain, immutable values built from the aggregate and its events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from ledger.message import Message
from ledger.providers import Provider, provider_of
from ledger.reports import DeliveryError
from ledger.status import Outcome, Status

#: Why an input was refused: it did not parse, it contradicted the message's history, or
#: it named a provider status no mapping table knows (see :mod:`ledger.ingestion`).
RejectionKind = Literal["malformed", "contradiction", "unmapped"]


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True, slots=True)
class IngestOutcome:
    """What one report did: ``kind`` is applied, late, duplicate or rejected.

    ``status`` is the message's status after the report (``None`` when the input named
    no usable message); ``reason`` says why a report was rejected.  ``malformed`` is
    true when the input was not a usable delivery_status report at all (a body that
    does not parse, or parses to something else): it is ``rejected`` and kept in the
    rejection store as ``malformed``; a receiver answers it as a bad request, where a
    contradiction is a well-formed report that a retry cannot fix.
    """

    kind: Outcome
    message_id: str | None
    status: Status | None
    reason: str | None = None
    malformed: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "kind": self.kind.value,
            "message_id": self.message_id,
            "status": None if self.status is None else self.status.value,
            "reason": self.reason,
            "malformed": self.malformed,
        }


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message as the ledger knows it now.

    ``accepted_at`` is when our send API accepted it (``record_sent``); ``sent_at`` to
    ``failed_at`` are the provider's times for each reported stage, ``None`` when that
    stage was never reported (skipped stages are not invented).  ``facts`` are the
    provider's facts besides (Meta's pricing and conversation: ``pricing_category``,
    ``billable``, ...; see :data:`ledger.reports.FACTS`), the newest of each.
    """

    message_id: str
    status: Status
    sender: str | None
    recipient: str | None
    channel: str | None
    template: str | None
    campaign: str | None
    accepted_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    error: DeliveryError | None
    conflicts: int
    version: int
    facts: Mapping[str, str] = field(default_factory=dict)

    @property
    def provider(self) -> Provider:
        """Whose message this is, read from its ledger id (see :mod:`ledger.providers`)."""
        return provider_of(self.message_id)

    @classmethod
    def of(cls, message: Message) -> MessageView:
        """The view of an aggregate."""
        times = message.stage_times
        return cls(
            message_id=message.message_id,
            status=message.status,
            sender=message.sender,
            recipient=message.recipient,
            channel=message.channel,
            template=message.template,
            campaign=message.campaign,
            accepted_at=message.accepted_at,
            sent_at=times.get(Status.SENT),
            delivered_at=times.get(Status.DELIVERED),
            read_at=times.get(Status.READ),
            failed_at=times.get(Status.FAILED),
            error=message.error,
            conflicts=len(message.conflicts),
            version=message.version,
            facts=dict(message.facts),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; times as ISO-8601 UTC strings."""
        return {
            "message_id": self.message_id,
            "status": self.status.value,
            "sender": self.sender,
            "recipient": self.recipient,
            "channel": self.channel,
            "template": self.template,
            "campaign": self.campaign,
            "accepted_at": _iso(self.accepted_at),
            "sent_at": _iso(self.sent_at),
            "delivered_at": _iso(self.delivered_at),
            "read_at": _iso(self.read_at),
            "failed_at": _iso(self.failed_at),
            "error": None if self.error is None else self.error.to_dict(),
            "conflicts": self.conflicts,
            "version": self.version,
            "facts": dict(self.facts),
        }


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One fact in a message's audit trail.

    ``event`` names the fact (opened, send_recorded, stage_reported,
    stage_reported_late, report_rejected); ``outcome`` is what the report did;
    ``occurred_at`` is the provider's time, ``received_at`` the ledger's.
    """

    version: int
    event: str
    stage: Status | None
    outcome: Outcome | None
    occurred_at: datetime | None
    received_at: datetime
    reason: str | None
    error: DeliveryError | None
    raw: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; times as ISO-8601 UTC strings; ``raw`` as received."""
        return {
            "version": self.version,
            "event": self.event,
            "stage": None if self.stage is None else self.stage.value,
            "outcome": None if self.outcome is None else self.outcome.value,
            "occurred_at": _iso(self.occurred_at),
            "received_at": _iso(self.received_at),
            "reason": self.reason,
            "error": None if self.error is None else self.error.to_dict(),
            "raw": self.raw,
        }


def history_of(events: Sequence[Any]) -> list[HistoryEntry]:
    """The audit trail of a message's events, oldest first."""
    return [_entry(event) for event in events]


def _entry(event: Any) -> HistoryEntry:
    common: dict[str, Any] = {"version": event.originator_version, "received_at": event.timestamp}
    if isinstance(event, Message.Opened):
        return HistoryEntry(
            event="opened", stage=None, outcome=None, occurred_at=None, reason=None, error=None, raw=None, **common
        )
    if isinstance(event, Message.SendRecorded):
        return HistoryEntry(
            event="send_recorded",
            stage=Status.ACCEPTED,
            outcome=Outcome.APPLIED,
            occurred_at=event.accepted_at,
            reason=None,
            error=None,
            raw=None,
            **common,
        )
    if isinstance(event, Message.StageReported):
        late = isinstance(event, Message.StageReportedLate)
        return HistoryEntry(
            event="stage_reported_late" if late else "stage_reported",
            stage=Status(event.stage),
            outcome=Outcome.LATE if late else Outcome.APPLIED,
            occurred_at=event.occurred_at,
            reason=None,
            error=None if event.error is None else DeliveryError.from_record(event.error),
            raw=event.raw,
            **common,
        )
    if isinstance(event, Message.ReportRejected):
        return HistoryEntry(
            event="report_rejected",
            stage=Status(event.stage),
            outcome=Outcome.REJECTED,
            occurred_at=event.occurred_at,
            reason=event.reason,
            error=None if event.error is None else DeliveryError.from_record(event.error),
            raw=event.raw,
            **common,
        )
    raise TypeError(f"unknown message event {type(event).__qualname__}")


@dataclass(frozen=True, slots=True)
class Rejection:
    """One refused input: ``raw`` is the body exactly as received."""

    id: int
    received_at: datetime
    kind: RejectionKind
    message_id: str | None
    reason: str
    raw: bytes

    @property
    def text(self) -> str:
        """The raw body as text (undecodable bytes replaced)."""
        return self.raw.decode("utf-8", errors="replace")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; ``raw`` as text."""
        return {
            "id": self.id,
            "received_at": self.received_at.isoformat(),
            "kind": self.kind,
            "message_id": self.message_id,
            "reason": self.reason,
            "raw": self.text,
        }


@dataclass(frozen=True, slots=True)
class NewRejection:
    """A rejection about to be stored (no id yet)."""

    received_at: datetime
    kind: RejectionKind
    message_id: str | None
    reason: str
    raw: bytes

"""The provider-neutral input of the ledger: one status report about one message."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ledger.errors import InvalidPayloadError
from ledger.status import Status


@dataclass(frozen=True, slots=True)
class DeliveryError:
    """Why a delivery failed, as the provider explained it.

    ``trace_id`` is what the provider's support asks for (Connectly's ``cntTraceId``).
    """

    code: str | None = None
    type: str | None = None
    message: str | None = None
    user_title: str | None = None
    user_message: str | None = None
    trace_id: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready fields; ``details`` as a nested object."""
        return {
            "code": self.code,
            "type": self.type,
            "message": self.message,
            "user_title": self.user_title,
            "user_message": self.user_message,
            "trace_id": self.trace_id,
            "details": dict(self.details),
        }

    def to_record(self) -> dict[str, str | None]:
        """Flat string fields for storage; ``details`` is kept as JSON text.

        Storing caller-controlled objects as text keeps them opaque to the event
        transcoder, which would otherwise interpret keys such as ``_type_``.
        """
        record = {k: v for k, v in self.to_dict().items() if k != "details"}
        record["details"] = json.dumps(dict(self.details), separators=(",", ":"), sort_keys=True)
        return record

    @classmethod
    def from_record(cls, record: Mapping[str, str | None]) -> DeliveryError:
        """Inverse of :meth:`to_record`."""
        details = record.get("details")
        return cls(
            code=record.get("code"),
            type=record.get("type"),
            message=record.get("message"),
            user_title=record.get("user_title"),
            user_message=record.get("user_message"),
            trace_id=record.get("trace_id"),
            details=json.loads(details) if details else {},
        )


#: The provider facts a report may carry, by name (Meta's pricing and conversation).
FACTS = (
    "pricing_category",
    "pricing_model",
    "billable",
    "conversation_id",
    "conversation_origin",
    "conversation_expires_at",
)


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A provider said ``stage`` happened to ``message_id`` at ``occurred_at`` (UTC).

    ``raw`` is the payload exactly as received (text), kept for audit.  ``sender``,
    ``recipient`` and ``channel`` are ``None`` when the provider did not say.  ``facts``
    are what the provider says besides (Meta's pricing and conversation), as text by
    name (see :data:`FACTS`); ``None`` when it says nothing more.
    """

    message_id: str
    stage: Status
    occurred_at: datetime
    sender: str | None = None
    recipient: str | None = None
    channel: str | None = None
    error: DeliveryError | None = None
    campaign: str | None = None
    raw: str = ""
    facts: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        if self.stage is Status.ACCEPTED:
            raise ValueError("'accepted' is not a stage a provider reports")
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")


@dataclass(frozen=True, slots=True)
class SkippedReport:
    """A provider's status about ``message_id`` that names no stage the state machine decides on.

    ``stage`` is ``None`` when the provider's status is not in its mapping table (kept as
    an ``unmapped`` rejection, never dropped), and ``Status.ACCEPTED`` when the status
    means the provider holds the message but has not sent it yet (``queued``): the send
    record already says that, so nothing is appended.  ``raw`` is the report as received.
    """

    message_id: str
    provider: str
    provider_status: str
    stage: Status | None
    raw: str = ""

    @property
    def reason(self) -> str:
        """Why nothing was applied, in a sentence."""
        if self.stage is None:
            return f"unmapped status: {self.provider} status {self.provider_status!r} is not in its mapping table"
        return (
            f"{self.provider} status {self.provider_status!r} means {self.stage.value}, "
            "which the send record holds: nothing appended"
        )


@dataclass(frozen=True, slots=True)
class BodyReports:
    """What one webhook body holds: its status reports in order, and what else it carried.

    ``items`` holds one value per status the body reports: a :class:`StatusReport` to
    apply, a :class:`SkippedReport`, or the ``InvalidPayloadError`` of a status that is
    malformed on its own (the others still apply).  ``inbound`` counts what the body
    carries that is not about our messages' delivery (inbound messages, other fields),
    so a body of inbound messages only is answered, not refused.
    """

    items: tuple[StatusReport | SkippedReport | InvalidPayloadError, ...]
    inbound: int = 0

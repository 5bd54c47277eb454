"""What the ledger's commands do to messages, decided before anything is stored.

:class:`~ledger.application.Ledger` loads the messages a batch names, lets
:func:`decide_batch` apply each report to them in order, then has its store commit the
changed messages and the rejections together.  Nothing here reads or writes storage.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ledger.connectly import check_identifier, message_id_hint, parse_delivery_status, raw_bytes
from ledger.errors import ContradictionError, InvalidPayloadError
from ledger.message import Message
from ledger.reports import StatusReport
from ledger.status import Outcome, TransitionTable
from ledger.views import IngestOutcome, NewRejection

#: What ``ingest`` accepts: a decoded JSON object, or the body as text or bytes.
Payload = Mapping[str, Any] | str | bytes


def parse(payload: Payload) -> StatusReport | InvalidPayloadError:
    """The report ``payload`` holds, or why it holds none."""
    try:
        return parse_delivery_status(payload)
    except InvalidPayloadError as error:
        return error


def decide_batch(
    messages: dict[str, Message],
    received: Sequence[tuple[Payload, datetime]],
    parsed: Sequence[StatusReport | InvalidPayloadError],
    table: TransitionTable,
) -> tuple[list[IngestOutcome], list[NewRejection]]:
    """Apply each report to its message in ``messages`` (opening unknown ones, in place).

    One outcome per payload, and what the rejection store is to keep: malformed bodies
    and contradictions (which are also recorded on their message).
    """
    outcomes: list[IngestOutcome] = []
    refused: list[NewRejection] = []
    for (payload, at), item in zip(received, parsed, strict=True):
        if isinstance(item, InvalidPayloadError):
            reason = f"invalid payload: {item}"
            hint = message_id_hint(payload)
            outcomes.append(IngestOutcome(Outcome.REJECTED, hint, None, reason, malformed=True))
            refused.append(NewRejection(at, "malformed", hint, reason, raw_bytes(payload)))
            continue
        outcome, rejection = decide_report(messages, item, at, table)
        outcomes.append(outcome)
        if rejection is not None:
            refused.append(rejection)
    return outcomes, refused


def decide_report(
    messages: dict[str, Message], item: StatusReport, at: datetime, table: TransitionTable
) -> tuple[IngestOutcome, NewRejection | None]:
    """Apply one report to its message in ``messages`` (opened if unknown, in place).

    The outcome, and the rejection to keep when the report contradicts the message
    (it is recorded on the message too).
    """
    message = messages.get(item.message_id)
    if message is None:
        message = messages[item.message_id] = Message.open(
            item.message_id, sender=item.sender, recipient=item.recipient, channel=item.channel, at=at
        )
    try:
        outcome = message.report(item, at=at, table=table)
    except ContradictionError as error:
        message.reject(item, reason=str(error), at=at)
        rejection = NewRejection(at, "contradiction", item.message_id, str(error), item.raw.encode())
        return IngestOutcome(Outcome.REJECTED, item.message_id, message.status, str(error)), rejection
    return IngestOutcome(outcome, item.message_id, message.status), None


def check_send(fields: Mapping[str, str | None], sent_at: datetime | None) -> datetime | None:
    """Refuse a send record no backend could store; ``sent_at`` in UTC.

    ``fields`` are ``record_sent``'s identifiers by name: :class:`InvalidPayloadError`
    names the first that is unusable; ``ValueError`` if ``sent_at`` is naive or out of range.
    """
    for field, value in fields.items():
        check_identifier(field, value, required=field in ("message_id", "recipient", "channel"))
    if sent_at is None:
        return None
    if sent_at.tzinfo is None:
        raise ValueError("sent_at must be timezone-aware")
    try:
        return sent_at.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"sent_at is out of range: {sent_at!r}") from None

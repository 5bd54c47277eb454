"""Parsing Twilio status callbacks for WhatsApp messages into status reports.

Twilio POSTs ``application/x-www-form-urlencoded`` bodies: ``MessageSid`` and
``MessageStatus`` are required; ``ErrorCode``, ``ErrorMessage``, ``To``/``From``
(``whatsapp:+...``), ``AccountSid`` and whatever else Twilio sends are optional and kept
in the raw body.  A callback carries no time of its own, so a report's ``occurred_at`` is
the time the ledger received it.  ``MessageStatus`` is read through :data:`STATUSES`:
a status mapped to ``accepted`` (queued, sending, ...) is skipped, an unknown one is
kept as an ``unmapped`` rejection; inbound messages (``received``) are counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from urllib.parse import parse_qsl, urlencode

from ledger.connectly.parse import MAX_ID_LENGTH, MAX_TEXT_LENGTH, storable
from ledger.errors import InvalidPayloadError
from ledger.reports import BodyReports, DeliveryError, SkippedReport, StatusReport
from ledger.status import Status

#: Largest accepted body, in bytes (a callback is well under 2 KiB).
MAX_BODY_BYTES = 64 * 1024

#: Ledger message ids of Twilio messages are ``PREFIX + MessageSid`` (see :mod:`ledger.providers`).
PREFIX = "twilio:"

#: Twilio's ``MessageStatus`` values and the ledger's stages they report.  ``accepted``
#: stages are skipped (the send record holds them); a status not listed here is kept as
#: an ``unmapped`` rejection.
STATUSES: Mapping[str, Status] = MappingProxyType(
    {
        "accepted": Status.ACCEPTED,
        "scheduled": Status.ACCEPTED,
        "queued": Status.ACCEPTED,
        "sending": Status.ACCEPTED,
        "sent": Status.SENT,
        "delivered": Status.DELIVERED,
        "read": Status.READ,
        "undelivered": Status.FAILED,
        "failed": Status.FAILED,
        "canceled": Status.FAILED,
    }
)

#: Statuses of inbound messages: counted, never decided on.
INBOUND_STATUSES = frozenset({"receiving", "received"})

#: What a body is: the form text (or bytes), or its fields already decoded.
FormBody = Mapping[str, str] | str | bytes


def parse_twilio_body(body: FormBody, *, received_at: datetime) -> BodyReports:
    """The report of one status callback (see the module's docstring); ``InvalidPayloadError`` if malformed."""
    fields, raw = _fields(body)
    sid = _identifier(fields, "MessageSid")
    status = _identifier(fields, "MessageStatus").lower()
    if status in INBOUND_STATUSES:
        return BodyReports((), inbound=1)
    message_id = PREFIX + sid
    stage = STATUSES.get(status)
    if stage is None or stage is Status.ACCEPTED:
        return BodyReports((SkippedReport(message_id, "twilio", status, stage, raw),))
    to, channel = _address(fields.get("To"))
    sender, _ = _address(fields.get("From"))
    error = None
    if stage is Status.FAILED:
        error = DeliveryError(code=_text(fields.get("ErrorCode")), message=_text(fields.get("ErrorMessage")))
    report = StatusReport(message_id, stage, received_at, sender, to, channel, error, None, raw)
    return BodyReports((report,))


def status_callback_body(fields: Mapping[str, str]) -> str:
    """A form body of ``fields`` as Twilio sends it (for tests, demos and replays)."""
    return urlencode(list(fields.items()))


def _fields(body: FormBody) -> tuple[dict[str, str], str]:
    """The form's fields (the first value of a repeated name) and the body as text."""
    if isinstance(body, Mapping):
        given = {str(k): str(v) for k, v in body.items()}
        try:
            return given, status_callback_body(given)
        except ValueError:  # UnicodeEncodeError: a lone surrogate cannot be sent in a form
            raise InvalidPayloadError("form fields are not valid Unicode text") from None
    if isinstance(body, bytearray | memoryview):
        body = bytes(body)
    if not isinstance(body, str | bytes):
        raise InvalidPayloadError(f"expected form fields, str or bytes, got {type(body).__name__}")
    if len(body) > MAX_BODY_BYTES:
        raise InvalidPayloadError(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidPayloadError(f"body is not UTF-8 text: {error.reason} at byte {error.start}") from None
    try:
        storable(body)
        pairs = parse_qsl(body.strip(), keep_blank_values=True, strict_parsing=False, errors="strict")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidPayloadError(f"body is not a form: {error}") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields, body


def _identifier(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "").strip()
    if not value:
        raise InvalidPayloadError("is required", field=name)
    if len(value) > MAX_ID_LENGTH:
        raise InvalidPayloadError(f"is longer than {MAX_ID_LENGTH} characters", field=name)
    try:
        return storable(value)
    except ValueError as error:
        raise InvalidPayloadError(str(error), field=name) from None


def _address(value: str | None) -> tuple[str | None, str | None]:
    """``whatsapp:+1415...`` as the number and its channel (no prefix: ``sms``)."""
    text = _text(value)
    if text is None or len(text) > MAX_ID_LENGTH:
        return None, None
    channel, colon, number = text.partition(":")
    if not colon:
        return text, "sms"
    return (number.strip() or None), channel.strip().lower() or None


def _text(value: str | None) -> str | None:
    """Non-empty storable text, else ``None`` (the value stays in the raw body)."""
    if value is None or not value.strip() or len(value) > MAX_TEXT_LENGTH:
        return None
    try:
        return storable(value.strip())
    except ValueError:
        return None

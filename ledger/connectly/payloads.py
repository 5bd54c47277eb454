"""Connectly payloads outside the parser: building them, and what is kept of refused ones.

:func:`delivery_status_payload` writes a body as Connectly sends it (tests, demos,
replays); :func:`raw_bytes` and :func:`message_id_hint` say what the rejection store
keeps of a malformed payload; :func:`check_identifier` checks the identifiers the send
API is given, with the parser's rules.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ledger.connectly.parse import MAX_ID_LENGTH, MAX_PAYLOAD_BYTES, STAGES, storable
from ledger.errors import InvalidPayloadError
from ledger.reports import DeliveryError
from ledger.status import Status

_PROVIDER_STATUS = {stage: name for name, stage in STAGES.items()}


def delivery_status_payload(
    message_id: str,
    stage: Status | str,
    *,
    timestamp: int | datetime,
    sender: str = "+16044441111",
    recipient: str = "+16044551234",
    channel: str = "whatsapp",
    error: DeliveryError | None = None,
    campaign: str | None = None,
) -> dict[str, Any]:
    """Build a ``delivery_status`` payload as Connectly sends it (for tests, demos and replays)."""
    stage = Status(stage)
    if isinstance(timestamp, datetime):
        timestamp = int(timestamp.timestamp())
    update: dict[str, Any] = {"id": message_id, "status": _PROVIDER_STATUS[stage], "error": None}
    if stage is Status.FAILED:
        error = error or DeliveryError()
        update["error"] = {
            "message": error.message,
            "type": error.type,
            "code": error.code,
            "userTitle": error.user_title,
            "userMessage": error.user_message,
            "cntTraceId": error.trace_id,
            "details": dict(error.details),
        }
    if campaign is not None:
        update["metadata"] = {"campaignName": campaign}
    return {
        "topic": "delivery_status",
        "timestamp": str(timestamp),
        "sender": {"id": sender, "channelType": channel},
        "recipient": {"id": recipient, "channelType": channel},
        "statusUpdate": update,
    }


def raw_bytes(payload: object) -> bytes:
    """The payload as received, for the rejection store (a decoded object as JSON)."""
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8", errors="surrogatepass")
    try:
        return json.dumps(payload, default=repr, ensure_ascii=False).encode("utf-8", errors="surrogatepass")
    except (TypeError, ValueError, RecursionError):
        return repr(payload).encode("utf-8", errors="replace")


def message_id_hint(payload: object) -> str | None:
    """The message id a malformed payload seems to name, if it names one plainly."""
    document: object = payload
    if isinstance(payload, str | bytes) and len(payload) <= MAX_PAYLOAD_BYTES:
        try:
            document = json.loads(payload)
        except (ValueError, RecursionError):
            return None
    if isinstance(document, Mapping):
        update = document.get("statusUpdate")
        if isinstance(update, Mapping):
            hint = update.get("id")
            if isinstance(hint, str) and 0 < len(hint) <= MAX_ID_LENGTH:
                try:
                    return storable(hint)
                except ValueError:
                    return None
    return None


def check_identifier(field: str, value: object, *, required: bool) -> None:
    """Refuse an identifier a backend could not store (empty, too long, NUL, bad Unicode).

    Raises :class:`~ledger.errors.InvalidPayloadError` naming ``field``; ``None`` passes
    unless ``required``.
    """
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise InvalidPayloadError(f"must be a non-empty string of at most {MAX_ID_LENGTH} characters", field=field)
    try:
        storable(value)
    except ValueError as error:
        raise InvalidPayloadError(str(error), field=field) from None

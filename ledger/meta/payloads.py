"""Meta Cloud API bodies built from a report's facts (for tests, demos and replays)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ledger.meta.parse import STATUSES
from ledger.reports import DeliveryError
from ledger.status import Status

_STATUS_NAMES = {stage: name for name, stage in STATUSES.items()}

#: Pricing as Meta sends it with a ``sent`` status (and one of ``delivered``/``read``).
PRICING = {"billable": True, "pricing_model": "CBP", "category": "marketing"}


def status_body(
    wamid: str,
    stage: Status | str,
    *,
    timestamp: int | datetime,
    business: str = "+15550783881",
    recipient: str = "+16505551234",
    error: DeliveryError | None = None,
    pricing: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A one-status body as Meta sends it; phone numbers are written without ``+``, as Meta does."""
    stage = Status(stage)
    if isinstance(timestamp, datetime):
        timestamp = int(timestamp.timestamp())
    status: dict[str, Any] = {
        "id": wamid,
        "status": _STATUS_NAMES[stage],
        "timestamp": str(timestamp),
        "recipient_id": recipient.removeprefix("+"),
    }
    if pricing is not None:
        status["pricing"] = pricing
    if stage is Status.FAILED:
        error = error or DeliveryError()
        code = error.code or "131026"
        status["errors"] = [
            {
                "code": int(code) if code.isdigit() else code,
                "title": error.type,
                "message": error.message,
                "error_data": {"details": error.user_message},
            }
        ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": business.removeprefix("+"), "phone_number_id": "106540352242922"},
        "statuses": [status],
    }
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}],
    }

"""Twilio status callbacks built from a report's facts (for tests, demos and replays)."""

from __future__ import annotations

from ledger.reports import DeliveryError
from ledger.status import Status
from ledger.twilio.parse import status_callback_body

#: The ``MessageStatus`` each stage is written as (the first status that maps to it).
STATUS_NAMES = {
    Status.SENT: "sent",
    Status.DELIVERED: "delivered",
    Status.READ: "read",
    Status.FAILED: "undelivered",
}


def callback_body(
    sid: str,
    stage: Status | str,
    *,
    sender: str = "+14155238886",
    recipient: str = "+15017122661",
    error: DeliveryError | None = None,
    account: str = "AC00000000000000000000000000000000",
) -> str:
    """A status callback's form body as Twilio posts it for a WhatsApp message."""
    stage = Status(stage)
    name = STATUS_NAMES[stage]
    fields = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": account,
        "From": f"whatsapp:{sender}",
        "To": f"whatsapp:{recipient}",
        "MessageStatus": name,
        "SmsStatus": name,
        "ChannelPrefix": "whatsapp",
        "ApiVersion": "2010-04-01",
    }
    if stage is Status.FAILED:
        error = error or DeliveryError()
        fields["ErrorCode"] = error.code or "63016"
        if error.message:
            fields["ErrorMessage"] = error.message
    return status_callback_body(fields)

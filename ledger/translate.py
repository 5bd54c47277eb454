"""One provider's webhook written as another's: the same logical report in Meta's or Twilio's format.

``ledger simulate --provider`` and the tests use it to turn the seeded Connectly traffic of
:mod:`ledger.simulate` into realistic traffic of every provider.  A body that is not a
Connectly report (the simulated malformed ones) is passed on as it is: it is malformed in
every format.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from ledger.connectly import STAGES
from ledger.meta import PRICING, status_body
from ledger.providers import Body, Provider, check_provider
from ledger.reports import DeliveryError
from ledger.twilio import callback_body

#: Connectly's error codes and what Meta and Twilio report for the same failure.
ERROR_CODES: Mapping[str, tuple[str, str]] = {
    "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID": ("132000", "63028"),
    "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT": ("131050", "63049"),
}
#: What the others report for any other failure (Meta's "Message undeliverable").
OTHER_ERROR = ("131026", "63024")


def translated(payloads: Iterable[Body], provider: str) -> Iterator[Body]:
    """``payloads`` (Connectly's) in ``provider``'s format, in the same order."""
    checked = check_provider(provider)
    for payload in payloads:
        yield translate(payload, checked)


def translate(payload: Body, provider: Provider) -> Body:
    """One Connectly report as ``provider`` would send it; anything else as it is."""
    if provider == "connectly" or not isinstance(payload, Mapping):
        return payload
    try:
        update = payload["statusUpdate"]
        message_id, stage = update["id"], STAGES[update["status"]]
        moment = datetime.fromtimestamp(int(payload["timestamp"]), tz=UTC)
        sender, recipient = payload["sender"]["id"], payload["recipient"]["id"]
    except (KeyError, TypeError, ValueError):
        return payload
    error = _error(update.get("error"), 0 if provider == "meta" else 1)
    if provider == "meta":
        pricing = PRICING if stage.value in ("sent", "delivered") else None
        return status_body(
            message_id, stage, timestamp=moment, business=sender, recipient=recipient, error=error, pricing=pricing
        )
    return callback_body(message_id, stage, sender=sender, recipient=recipient, error=error)


def _error(error: Any, which: int) -> DeliveryError | None:
    if not isinstance(error, Mapping):
        return None
    code = ERROR_CODES.get(str(error.get("code")), OTHER_ERROR)[which]
    return DeliveryError(code=code, type=error.get("userTitle"), message=error.get("message"))

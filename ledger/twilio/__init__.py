"""Twilio status callbacks for WhatsApp: parsing form bodies, and Twilio's signature.

:func:`parse_twilio_body` turns a callback into :class:`~ledger.reports.BodyReports`;
:data:`STATUSES` is the mapping from ``MessageStatus`` to the ledger's stages.
:mod:`ledger.twilio.signature` checks ``X-Twilio-Signature``.  Ledger message ids of
Twilio messages are ``"twilio:" + MessageSid``.
"""

from ledger.twilio.parse import (
    INBOUND_STATUSES,
    MAX_BODY_BYTES,
    PREFIX,
    STATUSES,
    FormBody,
    parse_twilio_body,
    status_callback_body,
)
from ledger.twilio.payloads import STATUS_NAMES, callback_body
from ledger.twilio.signature import SIGNATURE_HEADER, Params, sign, verify_signature

__all__ = [
    "INBOUND_STATUSES",
    "MAX_BODY_BYTES",
    "PREFIX",
    "SIGNATURE_HEADER",
    "STATUSES",
    "STATUS_NAMES",
    "FormBody",
    "Params",
    "callback_body",
    "parse_twilio_body",
    "sign",
    "status_callback_body",
    "verify_signature",
]

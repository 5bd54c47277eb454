"""Connectly ``delivery_status`` webhooks: parsing and normalisation.

:func:`parse_delivery_status` turns a payload (``dict``, ``str`` or ``bytes``) into a
:class:`~ledger.reports.StatusReport`, or raises
:class:`~ledger.errors.InvalidPayloadError` naming the offending field.  Unknown
fields are kept in the raw payload and never break parsing; the campaign is read from
each place the public examples put it (:data:`CAMPAIGN_PATHS`, most specific first).
:mod:`ledger.connectly.parse` holds the schema and the parser; :mod:`ledger.connectly.payloads` builds payloads and says
what is kept of refused ones.
"""

from ledger.connectly.parse import (
    CAMPAIGN_PATHS,
    MAX_ID_LENGTH,
    MAX_PAYLOAD_BYTES,
    MAX_TEXT_LENGTH,
    STAGES,
    WEBHOOK,
    ConnectlyError,
    DeliveryStatusWebhook,
    Party,
    StatusUpdate,
    parse_delivery_status,
    storable,
)
from ledger.connectly.payloads import check_identifier, delivery_status_payload, message_id_hint, raw_bytes

__all__ = [
    "CAMPAIGN_PATHS",
    "MAX_ID_LENGTH",
    "MAX_PAYLOAD_BYTES",
    "MAX_TEXT_LENGTH",
    "STAGES",
    "WEBHOOK",
    "ConnectlyError",
    "DeliveryStatusWebhook",
    "Party",
    "StatusUpdate",
    "check_identifier",
    "delivery_status_payload",
    "message_id_hint",
    "parse_delivery_status",
    "raw_bytes",
    "storable",
]

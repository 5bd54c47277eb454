"""Meta WhatsApp Cloud API webhooks: parsing bodies of several statuses, and Meta's checks.

:func:`parse_meta_body` turns a body into :class:`~ledger.reports.BodyReports` (one item
per status, in order); :data:`STATUSES` is the mapping from Meta's statuses to the
ledger's stages.  :mod:`ledger.meta.signature` checks ``X-Hub-Signature-256`` and the
subscription handshake.  Ledger message ids of Meta messages are ``"meta:" + wamid``.
"""

from ledger.meta.parse import MAX_BODY_BYTES, PREFIX, STATUSES, MetaError, MetaStatus, parse_meta_body
from ledger.meta.payloads import PRICING, status_body
from ledger.meta.signature import SIGNATURE_HEADER, sign, verify_signature, verify_subscription

__all__ = [
    "MAX_BODY_BYTES",
    "PREFIX",
    "PRICING",
    "SIGNATURE_HEADER",
    "STATUSES",
    "MetaError",
    "MetaStatus",
    "parse_meta_body",
    "sign",
    "status_body",
    "verify_signature",
    "verify_subscription",
]

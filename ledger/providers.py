"""The providers the ledger reads, their mapping tables, and how their message ids are kept apart.

Each provider's webhook body becomes :class:`~ledger.reports.BodyReports` through its own
parser (:func:`parse_body` picks it).  Its statuses reach the one state machine through
its mapping table (:data:`MAPPINGS`: data, printed by :func:`render_mapping`).

Identity: a message's ledger id is the provider's id, prefixed for every provider but
Connectly (``"meta:" + wamid``, ``"twilio:" + MessageSid``), so two providers that issue
the same id name two messages, and every ledger written before other providers existed
(Connectly only) keeps its ids, aggregate ids and history unchanged.
:func:`provider_of` reads a message's provider from its id; :func:`message_key` makes the
id to give ``record_sent`` for a provider's message.  A Connectly id is a ULID (no
colon), so it never starts with another provider's prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, get_args

from ledger.connectly import STAGES as CONNECTLY_STATUSES
from ledger.connectly import parse_delivery_status
from ledger.errors import InvalidPayloadError
from ledger.meta import PREFIX as META_PREFIX
from ledger.meta import STATUSES as META_STATUSES
from ledger.meta import parse_meta_body
from ledger.reports import BodyReports
from ledger.status import Status
from ledger.twilio import PREFIX as TWILIO_PREFIX
from ledger.twilio import STATUSES as TWILIO_STATUSES
from ledger.twilio import parse_twilio_body

#: The providers whose webhooks the ledger reads.
Provider = Literal["connectly", "meta", "twilio"]
#: Every provider, the default first.
PROVIDERS: tuple[Provider, ...] = get_args(Provider)

#: A webhook body: decoded JSON or form fields, or the raw text or bytes.
Body = Mapping[str, Any] | str | bytes

#: Each provider's statuses and the ledger stages they report (``accepted``: skipped).
MAPPINGS: Mapping[Provider, Mapping[str, Status]] = MappingProxyType(
    {"connectly": CONNECTLY_STATUSES, "meta": META_STATUSES, "twilio": TWILIO_STATUSES}
)

_PREFIXES: Mapping[Provider, str] = MappingProxyType({"connectly": "", "meta": META_PREFIX, "twilio": TWILIO_PREFIX})


def check_provider(provider: str) -> Provider:
    """``provider`` if the ledger reads it; ``ValueError`` naming the ones it reads otherwise."""
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
    return provider  # mypy narrows it to a Provider through the `in` check above


def message_key(provider: Provider, provider_message_id: str) -> str:
    """The ledger's id of a provider's message (what ``record_sent`` and ``message`` take)."""
    return _PREFIXES[check_provider(provider)] + provider_message_id


def provider_of(message_id: str) -> Provider:
    """The provider of the message the ledger knows as ``message_id``."""
    for provider, prefix in _PREFIXES.items():
        if prefix and message_id.startswith(prefix):
            return provider
    return "connectly"


def parse_body(body: Body, provider: Provider, *, received_at: datetime) -> BodyReports:
    """The reports of one webhook body of ``provider``; ``InvalidPayloadError`` if the body is malformed.

    ``received_at`` is used where the provider gives no time of its own (Twilio).
    """
    if provider == "connectly":
        return BodyReports((parse_delivery_status(body),))
    if provider == "meta":
        return parse_meta_body(body)
    if provider == "twilio":
        if isinstance(body, Mapping) and not all(isinstance(v, str) for v in body.values()):
            raise InvalidPayloadError("form fields must be text")
        return parse_twilio_body(body, received_at=received_at)
    raise ValueError(f"unknown provider {provider!r}")


def render_mapping(provider: Provider) -> str:
    """The provider's mapping table as Markdown, one row per status (the README prints them)."""
    rows = [f"| `{name}` | {stage.value} |" for name, stage in MAPPINGS[provider].items()]
    return "\n".join([f"| {provider} status | ledger stage |", "|---|---|", *rows])

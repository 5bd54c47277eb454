"""Parsing Connectly ``delivery_status`` webhooks into status reports.

:func:`parse_delivery_status` turns a payload (``dict``, ``str`` or ``bytes``) into a
:class:`~ledger.reports.StatusReport`, or raises
:class:`~ledger.errors.InvalidPayloadError` naming the offending field.  Unknown
fields (``sender.name``, ``context``, future additions) are kept in the raw payload and
never break parsing.

The campaign is read from each place Connectly's public examples put it; when a body
carries several, the most specific wins (:data:`CAMPAIGN_PATHS`, first first):

1. ``statusUpdate.metadata.campaignName`` (what the ledger read before: unchanged),
2. ``statusUpdate.metadata.campaign_name`` (the status update's own, snake case),
3. ``metadata.campaign_name`` (the body's, top level).

A value that is not usable text (empty, too long, not storable) is skipped, so the next
place is tried.  Every value stays in the raw payload.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, NotRequired

from pydantic import BeforeValidator, Field, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from ledger.errors import InvalidPayloadError
from ledger.reports import DeliveryError, StatusReport
from ledger.status import Status

#: Largest accepted body, in bytes (webhooks are a few hundred bytes).
MAX_PAYLOAD_BYTES = 64 * 1024
#: Longest accepted identifier (message id, phone number, channel).
MAX_ID_LENGTH = 256

#: Connectly's status names and the stages they report.
STAGES = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.READ,
    "delivery_failed": Status.FAILED,
}

#: Where the campaign name is read from, the first usable one winning (see the module's docstring).
CAMPAIGN_PATHS: tuple[tuple[str, ...], ...] = (
    ("statusUpdate", "metadata", "campaignName"),
    ("statusUpdate", "metadata", "campaign_name"),
    ("metadata", "campaign_name"),
)

#: Longest accepted error text (message, titles, codes).
MAX_TEXT_LENGTH = 4096


def storable(value: str) -> str:
    """``value`` if every backend can store it as text: no NUL character, no unpaired surrogate."""
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("contains an unpaired surrogate (not valid Unicode)") from None
    return value


# Whether text is storable (``storable``) is checked after validation, once per payload
# (see ``_check_storable``): a Python validator per field cost a fifth of parsing.
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ID_LENGTH)]
Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_LENGTH)]


def _unix_seconds(value: object) -> object:
    """Accept Unix seconds as an integer or a string of digits; leave the rest to fail."""
    if isinstance(value, bool):
        return value  # bool is an int subclass; let the int check refuse it.
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


# 1970..9999: beyond that datetime cannot represent the moment.
UnixSeconds = Annotated[int, BeforeValidator(_unix_seconds), Field(strict=True, ge=0, le=253402300799)]


# The schema is a set of TypedDicts, validated by one TypeAdapter: pydantic-core then
# makes plain dicts, where models cost twice the validation itself (3 us against 6.5 us
# per webhook; parsing is a fifth of ingesting).  Unknown fields are left out of the
# validated dicts and kept in the raw payload.


class Party(TypedDict):
    """A sender or recipient: a phone number (or handle) on a channel."""

    id: Identifier
    channelType: NotRequired[Identifier | None]


class ConnectlyError(TypedDict, total=False):
    """The ``error`` object of a ``delivery_failed`` report."""

    message: Text | None
    type: Text | None
    code: Text | None
    userTitle: Text | None
    userMessage: Text | None
    cntTraceId: Identifier | int | None
    details: dict[str, Any] | None


class StatusUpdate(TypedDict):
    """The ``statusUpdate`` object: which message, and what happened to it."""

    id: Identifier
    status: Literal["sent", "delivered", "read", "delivery_failed"]
    error: NotRequired[ConnectlyError | None]
    metadata: NotRequired[dict[str, Any] | None]


class DeliveryStatusWebhook(TypedDict):
    """The whole ``delivery_status`` webhook body."""

    topic: Literal["delivery_status"]
    timestamp: UnixSeconds
    sender: Party
    recipient: Party
    statusUpdate: StatusUpdate
    metadata: NotRequired[dict[str, Any] | None]


#: Validates a ``delivery_status`` body (JSON text or decoded object) into a :class:`DeliveryStatusWebhook`.
WEBHOOK: TypeAdapter[DeliveryStatusWebhook] = TypeAdapter(DeliveryStatusWebhook)


def parse_delivery_status(payload: Mapping[str, Any] | str | bytes) -> StatusReport:
    """Validate a ``delivery_status`` payload and normalise it to a :class:`StatusReport`."""
    raw, webhook = _validate(payload)
    update = webhook["statusUpdate"]
    sender = webhook["sender"]
    recipient = webhook["recipient"]
    status = update["status"]
    # Positional, in the order StatusReport declares its fields: 1.7 us against 2.2 with
    # keywords (tests/unit/test_connectly.py's spec examples and campaign test pin each field).
    return StatusReport(
        update["id"],
        STAGES[status],
        datetime.fromtimestamp(webhook["timestamp"], tz=UTC),
        sender["id"],
        recipient["id"],
        recipient.get("channelType") or sender.get("channelType"),
        _error(update.get("error")) if status == "delivery_failed" else None,
        _campaign_of(webhook),
        raw,
    )


def _campaign_of(webhook: DeliveryStatusWebhook) -> str | None:
    """The first usable campaign name along :data:`CAMPAIGN_PATHS` (most bodies have none: two lookups)."""
    update_metadata = webhook["statusUpdate"].get("metadata")
    body_metadata = webhook.get("metadata")
    if not update_metadata and not body_metadata:
        return None
    for path in CAMPAIGN_PATHS:
        value: object = webhook
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        campaign = _campaign(value)
        if campaign is not None:
            return campaign
    return None


def _campaign(value: object) -> str | None:
    """The campaign name if it is usable text; an odd one is left in the raw payload only."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        return None
    try:
        return storable(value)
    except ValueError:
        return None


def _validate(payload: Mapping[str, Any] | str | bytes) -> tuple[str, DeliveryStatusWebhook]:
    """The payload as text (kept for audit) and as a validated webhook."""
    if isinstance(payload, Mapping):
        try:
            raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        except (TypeError, ValueError, RecursionError) as error:
            raise InvalidPayloadError(f"not JSON-serialisable: {error}") from None
        _check_unicode(raw)
        return raw, _check_storable(_validated(payload))
    text = _text(payload)
    try:
        # Most bodies are valid: pydantic's own JSON parser validates them in one pass.
        webhook = WEBHOOK.validate_json(text)
    except ValidationError:
        pass  # Decode again the slow way, for an error message that names the problem.
    else:
        # The text is valid Unicode (``_text``): only a \u escape or a NUL character can
        # put what a database cannot store into a decoded string.
        return text, _check_storable(webhook) if "\\u" in text or "\x00" in text else webhook
    try:
        document = json.loads(text)
    except RecursionError:
        raise InvalidPayloadError("body is nested too deeply") from None
    except ValueError as error:
        raise InvalidPayloadError(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidPayloadError(f"body must be a JSON object, got {type(document).__name__}")
    return text, _check_storable(_validated(document))


def _validated(document: object) -> DeliveryStatusWebhook:
    try:
        return WEBHOOK.validate_python(document)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or None
        raise InvalidPayloadError(first["msg"], field=field) from None


#: The webhook's fields that are stored as text of their own (the rest stays in the raw payload).
_STORED_TEXT = tuple(
    tuple(path.split("."))
    for path in (
        "sender.id",
        "sender.channelType",
        "recipient.id",
        "recipient.channelType",
        "statusUpdate.id",
        "statusUpdate.error.message",
        "statusUpdate.error.type",
        "statusUpdate.error.code",
        "statusUpdate.error.userTitle",
        "statusUpdate.error.userMessage",
        "statusUpdate.error.cntTraceId",
    )
)


def _check_storable(webhook: DeliveryStatusWebhook) -> DeliveryStatusWebhook:
    """``webhook`` if every field stored as text is :func:`storable`; else name the first that is not."""
    for path in _STORED_TEXT:
        value: object = webhook
        for name in path:
            value = value.get(name) if isinstance(value, dict) else None
        if isinstance(value, str):
            try:
                storable(value)
            except ValueError as error:
                raise InvalidPayloadError(str(error), field=".".join(path)) from None
    return webhook


def _text(payload: object) -> str:
    """A text or bytes body as checked text: within the size limit, valid UTF-8 and Unicode."""
    if isinstance(payload, bytes | bytearray | memoryview):
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise InvalidPayloadError(f"body is {len(payload)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
        try:
            payload = bytes(payload).decode("utf-8")
        except UnicodeDecodeError as error:
            raise InvalidPayloadError(f"body is not UTF-8 text: {error.reason} at byte {error.start}") from None
    if not isinstance(payload, str):
        raise InvalidPayloadError(f"expected a JSON object, str or bytes, got {type(payload).__name__}")
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidPayloadError(f"body is {len(payload)} characters; the limit is {MAX_PAYLOAD_BYTES}")
    _check_unicode(payload)
    return payload


def _check_unicode(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InvalidPayloadError(f"body is not valid Unicode text: {error.reason} at {error.start}") from None


def _error(error: ConnectlyError | None) -> DeliveryError:
    if error is None:
        return DeliveryError()
    trace_id = error.get("cntTraceId")
    return DeliveryError(
        code=error.get("code"),
        type=error.get("type"),
        message=error.get("message"),
        user_title=error.get("userTitle"),
        user_message=error.get("userMessage"),
        trace_id=None if trace_id is None else str(trace_id),
        details=error.get("details") or {},
    )

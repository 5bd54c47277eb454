"""Parsing Meta WhatsApp Cloud API webhooks into status reports.

A body is ``{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
"messages", "value": {...}}]}]}``; each ``value`` may carry ``statuses`` (about our
messages), ``messages`` (inbound: counted, not refused) and other fields (kept in the
raw body only).  Each status becomes one item of :class:`~ledger.reports.BodyReports`,
in order: a :class:`~ledger.reports.StatusReport` when :data:`STATUSES` maps its
``status``, a :class:`~ledger.reports.SkippedReport` when it does not, or the
``InvalidPayloadError`` of that status alone.  A body that is not a Cloud API webhook at
all raises :class:`~ledger.errors.InvalidPayloadError`.

Each report's ``raw`` is a one-status Cloud API body (the status with its entry id and
``value.metadata``): it parses back to the same report, and keeps the status's
``conversation``, ``pricing``, ``errors`` and ``biz_opaque_callback_data`` as sent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NotRequired

from pydantic import TypeAdapter, ValidationError
from typing_extensions import TypedDict  # pydantic needs this one before Python 3.12

from ledger.connectly.parse import Identifier, Text, UnixSeconds, storable
from ledger.errors import InvalidPayloadError
from ledger.reports import BodyReports, DeliveryError, SkippedReport, StatusReport
from ledger.status import Status

#: Largest accepted body, in bytes: Meta batches several statuses in one body.
MAX_BODY_BYTES = 1024 * 1024

#: Ledger message ids of Meta messages are ``PREFIX + wamid`` (see :mod:`ledger.providers`).
PREFIX = "meta:"

#: Meta's status names and the ledger's stages they report.  A status not listed here
#: (``deleted``, ``warning``, ``played``, a future one) is kept as an ``unmapped`` rejection.
STATUSES: Mapping[str, Status] = MappingProxyType(
    {
        "sent": Status.SENT,
        "delivered": Status.DELIVERED,
        "read": Status.READ,
        "failed": Status.FAILED,
    }
)


class MetaError(TypedDict, total=False):
    """One item of a status's ``errors``."""

    code: int | str | None
    title: Text | None
    message: Text | None
    error_data: dict[str, Any] | None
    href: Text | None


class MetaStatus(TypedDict):
    """One item of ``value.statuses``: what happened to one of our messages."""

    id: Identifier
    status: Identifier
    timestamp: UnixSeconds
    recipient_id: NotRequired[Identifier | None]
    errors: NotRequired[list[MetaError] | None]


_STATUS: TypeAdapter[MetaStatus] = TypeAdapter(MetaStatus)


def parse_meta_body(body: Mapping[str, Any] | str | bytes) -> BodyReports:
    """Every status report of a Cloud API webhook body, in order (see the module's docstring)."""
    document = _document(body)
    items: list[StatusReport | SkippedReport | InvalidPayloadError] = []
    inbound = 0
    for entry in _list(document, "entry"):
        for change in _list(entry, "changes"):
            value = change.get("value")
            if change.get("field") != "messages" or not isinstance(value, dict):
                inbound += 1  # Another webhook field (account updates, templates): not ours to decide.
                continue
            statuses = value.get("statuses")
            if not statuses:
                inbound += len(value.get("messages") or ()) or 1
                continue
            if not isinstance(statuses, list):
                items.append(InvalidPayloadError("must be a list", field="entry.changes.value.statuses"))
                continue
            inbound += len(value.get("messages") or ())
            items.extend(_item(entry, value, status) for status in statuses)
    return BodyReports(tuple(items), inbound)


def _item(
    entry: Mapping[str, Any], value: Mapping[str, Any], status: object
) -> StatusReport | SkippedReport | InvalidPayloadError:
    """One status as a report, a skipped report, or why it is malformed."""
    try:
        checked = _STATUS.validate_python(status)
        for text in (checked["id"], checked["status"], checked.get("recipient_id")):
            if text is not None:
                storable(text)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        field = ".".join(("statuses", *(str(part) for part in first["loc"])))
        return InvalidPayloadError(first["msg"], field=field)
    except ValueError as error:
        return InvalidPayloadError(str(error), field="statuses")
    try:
        raw = _one_status_body(entry, value, status)
    except (TypeError, ValueError, RecursionError) as error:  # only a Python object given directly can fail here
        return InvalidPayloadError(f"not JSON-serialisable: {error}", field="statuses")
    message_id = PREFIX + checked["id"]
    stage = STATUSES.get(checked["status"])
    if stage is None:
        return SkippedReport(message_id, "meta", checked["status"], None, raw)
    metadata = value.get("metadata")
    business = metadata.get("display_phone_number") if isinstance(metadata, dict) else None
    return StatusReport(
        message_id,
        stage,
        datetime.fromtimestamp(checked["timestamp"], tz=UTC),
        _phone(business),
        _phone(checked.get("recipient_id")),
        "whatsapp",
        _error(checked.get("errors")) if stage is Status.FAILED else None,
        None,
        raw,
        _facts(status),
    )


def _facts(status: object) -> dict[str, str] | None:
    """The status's pricing and conversation as :data:`~ledger.reports.FACTS` (text); ``None`` if it has none."""
    if not isinstance(status, Mapping):
        return None
    pricing, conversation = status.get("pricing"), status.get("conversation")
    pricing = pricing if isinstance(pricing, Mapping) else {}
    conversation = conversation if isinstance(conversation, Mapping) else {}
    origin = conversation.get("origin")
    billable = pricing.get("billable")
    found = {
        "pricing_category": pricing.get("category"),
        "pricing_model": pricing.get("pricing_model"),
        "billable": None if not isinstance(billable, bool) else str(billable).lower(),
        "conversation_id": conversation.get("id"),
        "conversation_origin": origin.get("type") if isinstance(origin, Mapping) else None,
        "conversation_expires_at": conversation.get("expiration_timestamp"),
    }
    facts = {name: text for name, value in found.items() if (text := _fact(value)) is not None}
    return facts or None


def _fact(value: object) -> str | None:
    """A fact as short storable text, else ``None`` (it stays in the raw body)."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value)
    if not 0 < len(text) <= 256:
        return None
    return _text(text)


def _phone(value: object) -> str | None:
    """A phone number as the other providers write it (E.164 with ``+``); other ids as they are."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text or len(text) > 256:
        return None
    try:
        storable(text)
    except ValueError:
        return None
    return "+" + text if text.isdigit() else text


def _error(errors: list[MetaError] | None) -> DeliveryError:
    """The first error, normalised: code as text, title as type; the rest of Meta's fields in ``details``."""
    if not errors:
        return DeliveryError()
    first = errors[0]
    code = first.get("code")
    details: dict[str, Any] = {}
    if first.get("error_data"):
        details["error_data"] = first.get("error_data")
    if first.get("href"):
        details["href"] = first.get("href")
    if len(errors) > 1:
        details["more_errors"] = list(errors[1:])
    return DeliveryError(
        code=None if code is None else _text(str(code)),
        type=_text(first.get("title")),
        message=_text(first.get("message")),
        details=details,
    )


def _text(value: str | None) -> str | None:
    """``value`` if a backend can store it as text; else ``None`` (it stays in the raw body)."""
    if value is None:
        return None
    try:
        return storable(value)
    except ValueError:
        return None


def _one_status_body(entry: Mapping[str, Any], value: Mapping[str, Any], status: object) -> str:
    """The body Meta would have sent for this status alone (kept as the report's raw text)."""
    one_value: dict[str, Any] = {"statuses": [status]}
    for name in ("messaging_product", "metadata"):
        if name in value:
            one_value[name] = value[name]
    one_entry: dict[str, Any] = {"changes": [{"field": "messages", "value": one_value}]}
    if "id" in entry:
        one_entry = {"id": entry["id"], **one_entry}
    one = {"object": "whatsapp_business_account", "entry": [one_entry]}
    # ASCII escapes: whatever the body held (a NUL, a lone surrogate), the text is storable.
    return json.dumps(one, separators=(",", ":"))


def _document(body: Mapping[str, Any] | str | bytes) -> Mapping[str, Any]:
    """The body decoded and checked to be a Cloud API webhook; ``InvalidPayloadError`` if not."""
    if isinstance(body, Mapping):
        document: object = body
    elif not isinstance(body, str | bytes | bytearray | memoryview):
        raise InvalidPayloadError(f"expected a JSON object, str or bytes, got {type(body).__name__}")
    else:
        if len(body) > MAX_BODY_BYTES:
            raise InvalidPayloadError(f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
        try:
            document = json.loads(body)
        except RecursionError:
            raise InvalidPayloadError("body is nested too deeply") from None
        except ValueError as error:
            raise InvalidPayloadError(f"body is not JSON: {error}") from None
    if not isinstance(document, Mapping):
        raise InvalidPayloadError(f"body must be a JSON object, got {type(document).__name__}")
    if document.get("object") != "whatsapp_business_account":
        raise InvalidPayloadError("must be 'whatsapp_business_account'", field="object")
    if not isinstance(document.get("entry"), list):
        raise InvalidPayloadError("must be a list", field="entry")
    return document


def _list(document: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    """The objects of ``document[name]`` (a missing list is empty; non-objects are skipped)."""
    items = document.get(name)
    return [item for item in items if isinstance(item, Mapping)] if isinstance(items, list) else []

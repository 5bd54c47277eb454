"""The signed POST routes: the provider's delivery_status webhook and the send API's answer.

Both are answered only after what they carry is committed, by the group-commit writer
(:mod:`ledger.batching`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from ledger.application import Ledger
from ledger.connectly import MAX_ID_LENGTH
from ledger.http import openapi, problems
from ledger.http.bodies import signed_body
from ledger.http.problems import AsciiJSON, RequestRefusedError
from ledger.http.settings import ServerSettings
from ledger.http.state import runtime_of
from ledger.views import IngestOutcome, MessageView

# What the schema can say about identifiers; the ledger also refuses blank text and
# unpaired surrogates, which JSON Schema cannot express (400 then).
_Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern="^[^\\x00]*$")]

#: The errors every signed POST can be answered with.
POSTED = problems.responses("unsigned", "bad_signature", "too_large", "unavailable")

SignedBody = Annotated[bytes, Depends(signed_body)]


class SentMessage(BaseModel):
    """The send API's answer (``id``) and what was sent: the arguments of ``Ledger.record_sent``."""

    model_config = ConfigDict(extra="forbid")

    id: _Identifier
    recipient: _Identifier
    sender: _Identifier | None = None
    channel: _Identifier = "whatsapp"
    template: _Identifier | None = None
    campaign: _Identifier | None = None
    sent_at: AwareDatetime | None = None


async def delivery_status(request: Request) -> AsciiJSON:
    """A delivery_status webhook, answered after its report is committed."""
    writer = runtime_of(request).writer  # Before the body: a receiver not running reads none.
    outcome = await asyncio.wrap_future(writer.ingest(await signed_body(request)))
    if outcome.malformed:
        reason = outcome.reason or "not a delivery_status report"
        return problems.problem("invalid_payload", reason, outcome=outcome.to_dict())
    return AsciiJSON(outcome.to_dict())


async def message_sent(request: Request, body: SignedBody) -> AsciiJSON:
    """Record the send API's answer: the message starts as accepted; repeating it changes nothing."""
    try:
        sent = SentMessage.model_validate_json(body)
        sent_at = None if sent.sent_at is None else sent.sent_at.astimezone(UTC)
    except ValidationError as error:
        raise RequestRefusedError("invalid_request", problems.first_error(error.errors(include_url=False))) from None
    except OverflowError:
        raise RequestRefusedError("invalid_request", "sent_at: out of range in UTC") from None

    def record(ledger: Ledger) -> MessageView:
        fields = sent.model_dump(include={"sender", "recipient", "channel", "template", "campaign"})
        return ledger.record_sent(sent.id, sent_at=sent_at, **fields)

    view = await asyncio.wrap_future(runtime_of(request).writer.run(record))
    return AsciiJSON(view.to_dict())


def router(settings: ServerSettings) -> APIRouter:
    """The signed routes, at the settings' webhook path, documented as signed if a secret is set."""
    signed = settings.secret is not None
    routes = APIRouter()
    routes.add_api_route(
        settings.webhook_path,
        delivery_status,
        methods=["POST"],
        responses={
            200: {"model": IngestOutcome, "description": "The outcome (a contradiction too: it is kept)."},
            **problems.responses("invalid_payload"),
            **POSTED,
        },
        openapi_extra=openapi.body_docs("DeliveryStatusWebhook", signed=signed, text=True),
    )
    routes.add_api_route(
        "/messages/sent",
        message_sent,
        methods=["POST"],
        responses={
            200: {"model": MessageView, "description": "The message as it stands."},
            **problems.responses("invalid_request", "conflict"),
            **POSTED,
        },
        openapi_extra=openapi.body_docs("SentMessage", signed=signed),
    )
    return routes

"""The POST routes: the provider's signed delivery_status webhook, and the host's record of a send.

Both are answered only after what they carry is committed, by the group-commit writer
(:mod:`ledger.batching`).  The webhook is signed by the provider with the webhook secret;
``POST /messages/sent`` comes from the host's own service and, like the reads, needs the
API token (the host does not hold the provider's secret).
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from ledger.connectly import MAX_ID_LENGTH, WEBHOOK
from ledger.http import openapi, problems
from ledger.http.bodies import read_body, signed_body
from ledger.http.metrics import count_ingested
from ledger.http.problems import AsciiJSON, ProblemRoute, RequestRefusedError
from ledger.http.reads import require_token
from ledger.http.settings import ServerSettings
from ledger.http.state import runtime_of, settings_of
from ledger.views import IngestOutcome, MessageView

# What the schema can say about identifiers; the ledger also refuses blank text and
# unpaired surrogates, which JSON Schema cannot express (400 then).
_Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern="^[^\\x00]*$")]

#: The errors every signed POST can be answered with.
POSTED = problems.responses("unsigned", "bad_signature", "too_large", "unavailable")
#: The errors ``POST /messages/sent`` can be answered with.
RECORDED = problems.responses("invalid_request", "conflict", "unauthorized", "too_large", "unavailable")


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
    ledger = runtime_of(request).ledger  # Before the body: a receiver not running reads none.
    outcome = await ledger.ingest(await signed_body(request))
    count_ingested(request, "connectly", [outcome])
    if outcome.malformed:
        reason = outcome.reason or "not a delivery_status report"
        return problems.problem("invalid_payload", reason, outcome=outcome.to_dict())
    return AsciiJSON(outcome.to_dict())


async def message_sent(request: Request) -> AsciiJSON:
    """Record the send API's answer: the message starts as accepted; repeating it changes nothing."""
    body = await read_body(request, settings_of(request).max_body)
    try:
        sent = SentMessage.model_validate_json(body)
        sent_at = None if sent.sent_at is None else sent.sent_at.astimezone(UTC)
    except ValidationError as error:
        raise RequestRefusedError("invalid_request", problems.first_error(error.errors(include_url=False))) from None
    except OverflowError:
        raise RequestRefusedError("invalid_request", "sent_at: out of range in UTC") from None

    ledger = runtime_of(request).ledger
    view = await ledger.record_sent(
        sent.id,
        recipient=sent.recipient,
        sender=sent.sender,
        channel=sent.channel,
        template=sent.template,
        campaign=sent.campaign,
        sent_at=sent_at,
    )
    return AsciiJSON(view.to_dict())


def router(settings: ServerSettings) -> APIRouter:
    """The webhook at the settings' webhook path (documented as signed if a secret is set), and the send record."""
    signed = settings.secret is not None
    routes = APIRouter(route_class=ProblemRoute)
    routes.add_api_route(
        settings.webhook_path,
        delivery_status,
        methods=["POST"],
        responses={
            200: {"model": IngestOutcome, "description": "The outcome (a contradiction too: it is kept)."},
            **problems.responses("invalid_payload"),
            **POSTED,
        },
        openapi_extra=openapi.body_docs(openapi.webhook_schema(WEBHOOK), signed=signed, text=True),
    )
    routes.add_api_route(
        "/messages/sent",
        message_sent,
        methods=["POST"],
        responses={
            200: {"model": MessageView, "description": "The message as it stands."},
            **RECORDED,
        },
        dependencies=[Depends(require_token)] if settings.api_token else None,
        openapi_extra=openapi.body_docs(openapi.inline_schema(TypeAdapter(SentMessage)), signed=False),
    )
    return routes

"""The other providers' webhooks: Meta's WhatsApp Cloud API and Twilio, each with its own signature.

Served only when configured (see :class:`~ledger.http.settings.ServerSettings`): a route
that would take unsigned bodies from anyone is not served at all.  Each checks its
provider's signature on the raw body before anything is parsed (401 and nothing stored
otherwise), then applies every status report in the body and answers once they are
committed: 200 with one outcome per report (:class:`~ledger.ingestion.BodyOutcome`), or
400 when the body as a whole is not the provider's webhook (kept in the rejection store).
A status the mapping does not know is kept as an ``unmapped`` rejection and never fails
the body's other statuses.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from ledger.http import problems
from ledger.http.bodies import read_body
from ledger.http.metrics import count_ingested
from ledger.http.problems import AsciiJSON, ProblemRoute, RequestRefusedError
from ledger.http.settings import ServerSettings
from ledger.http.state import runtime_of, settings_of
from ledger.ingestion import BodyOutcome
from ledger.meta import signature as meta
from ledger.twilio import signature as twilio

META_PATH = "/webhooks/meta"
TWILIO_PATH = "/webhooks/twilio"

#: The errors a provider's POST can be answered with.
POSTED = problems.responses("invalid_payload", "unsigned", "bad_signature", "too_large", "unavailable")


async def meta_webhook(request: Request) -> AsciiJSON:
    """A Meta webhook body: every status report in it, answered once committed."""
    settings = settings_of(request)
    ledger = runtime_of(request).ledger  # Before the body: a receiver not running reads none.
    body = await read_body(request, settings.max_body)
    header = request.headers.get(meta.SIGNATURE_HEADER)
    _check(meta.SIGNATURE_HEADER, meta.verify_signature(str(settings.meta_app_secret), body, header), header)
    return _answer(request, await ledger.ingest_body(body, provider="meta"))


async def meta_subscription(request: Request) -> PlainTextResponse:
    """Meta's subscription handshake: the challenge as text when the verify token matches, 403 otherwise."""
    params = dict(request.query_params)
    challenge = meta.verify_subscription(params, str(settings_of(request).meta_verify_token))
    if challenge is None:
        raise RequestRefusedError(
            "forbidden", "hub.mode is not subscribe, or hub.verify_token is not the configured one"
        )
    return PlainTextResponse(challenge)


async def twilio_webhook(request: Request) -> AsciiJSON:
    """A Twilio status callback (form-encoded), answered once committed."""
    settings = settings_of(request)
    ledger = runtime_of(request).ledger
    body = await read_body(request, settings.max_body)
    try:
        params = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        params = []  # Not signed by Twilio, whatever the header says: refused below.
    header = request.headers.get(twilio.SIGNATURE_HEADER)
    valid = bool(params) and twilio.verify_signature(
        str(settings.twilio_auth_token), str(settings.twilio_url), params, header
    )
    _check(twilio.SIGNATURE_HEADER, valid, header)
    return _answer(request, await ledger.ingest_body(body, provider="twilio"))


def _check(header_name: str, valid: bool, header: str | None) -> None:
    if header is None:
        raise RequestRefusedError("unsigned", f"the {header_name} header is missing")
    if not valid:
        raise RequestRefusedError("bad_signature", f"the {header_name} header does not match the body")


def _answer(request: Request, outcome: BodyOutcome) -> AsciiJSON:
    count_ingested(request, outcome.provider, outcome.outcomes)
    if outcome.malformed:
        reason = outcome.outcomes[0].reason or "not the provider's webhook"
        return problems.problem("invalid_payload", reason, outcome=outcome.to_dict())
    return AsciiJSON(outcome.to_dict())


def router(settings: ServerSettings) -> APIRouter:
    """The routes the settings configure (none, when no other provider is)."""
    routes = APIRouter(route_class=ProblemRoute)
    answers = {200: {"description": "One outcome per status report in the body."}, **POSTED}
    form = {"application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": True}}}
    json_body = {"application/json": {"schema": {"type": "object", "description": "Meta's webhook body."}}}
    if settings.meta_app_secret is not None:
        routes.add_api_route(
            META_PATH,
            meta_webhook,
            methods=["POST"],
            responses=answers,
            openapi_extra={"requestBody": {"required": True, "content": json_body}},
        )
    if settings.meta_verify_token is not None:
        routes.add_api_route(
            META_PATH,
            meta_subscription,
            methods=["GET"],
            response_class=PlainTextResponse,
            responses=problems.responses("forbidden"),
        )
    if settings.twilio_auth_token is not None:
        routes.add_api_route(
            TWILIO_PATH,
            twilio_webhook,
            methods=["POST"],
            responses=answers,
            openapi_extra={"requestBody": {"required": True, "content": form}},
        )
    return routes

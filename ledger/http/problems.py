"""The HTTP receiver's error answers: RFC 9457 problem details, one shape for every error.

Part of the HTTP shell (:mod:`ledger.http`).  Every error, the receiver's own and those of
routing (404, 405), request validation (400) and unexpected failures (500), is answered
with ``application/problem+json``::

    {"type": "tag:delivery-ledger,2026:problems/bad_signature", "title": "Bad signature",
     "status": 401, "detail": "the x-connectly-hmac-sha256 header does not match the body",
     "error": "bad_signature"}

``error`` is the short code earlier versions answered (beside ``detail``), so clients that
read those two keep working; ``type`` is :data:`TYPE_PREFIX` followed by it.  The codes are
data (:data:`PROBLEMS`); routing and unexpected failures say nothing more than their status,
so their ``type`` is ``about:blank`` (:data:`PLAIN_CODES`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ledger.errors import ContradictionError, InvalidPayloadError, LedgerError, MessageNotFoundError, StorageError
from ledger.views import IngestOutcome

logger = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
#: A tag URI (RFC 4151) names each problem type: RFC 9457 allows a type URI that is not a
#: link, and this receiver has no documentation site of its own to point at.
TYPE_PREFIX = "tag:delivery-ledger,2026:problems/"
#: How long a client should wait before retrying a 503, in seconds.
RETRY_AFTER = "5"


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One kind of problem: its status, its title, and when it happens (for API users)."""

    status: int
    title: str
    when: str


PROBLEMS: dict[str, ProblemType] = {
    "invalid_payload": ProblemType(
        400,
        "Not a delivery_status report",
        "The webhook body is not a usable report; it is kept in the rejection store and `outcome` says so.",
    ),
    "invalid_request": ProblemType(
        400, "Invalid request", "A send record or query parameter is not valid; nothing was stored."
    ),
    "disconnected": ProblemType(400, "Incomplete body", "The client went away before the end of the body."),
    "unsigned": ProblemType(401, "Missing signature", "The signature header is missing; nothing was stored."),
    "bad_signature": ProblemType(
        401, "Bad signature", "The signature does not match the body or secret; nothing was stored."
    ),
    "unauthorized": ProblemType(
        401, "Missing or wrong API token", "A read without the right `Authorization: Bearer <token>`."
    ),
    "forbidden": ProblemType(
        403, "Subscription refused", "The handshake's mode or verify token is not the configured one."
    ),
    "not_found": ProblemType(404, "Unknown message", "No message with that id was recorded or reported."),
    "conflict": ProblemType(
        409, "Contradicts the record", "The message was recorded with another sender, recipient or channel."
    ),
    "too_large": ProblemType(413, "Body too large", "The body is over the size limit; nothing was stored."),
    "unavailable": ProblemType(
        503, "Database unavailable", "Nothing was stored or read: retry after `Retry-After` seconds."
    ),
}
#: The codes of problems whose ``type`` is ``about:blank``, by status.
PLAIN_CODES: dict[int, str] = {404: "no_route", 405: "method_not_allowed", 500: "internal"}


#: What a :class:`ProblemRoute` tells of each answer: the route's path template, the method,
#: the status code and the error answered (``None`` for a success).
Observer = Callable[[str, str, int, Exception | None], None]
#: The name on ``request.state`` of the :data:`Observer` of the request's answer, if any (the
#: receiver's metrics; put there by its ``attach`` dependency).
OBSERVER_KEY = "delivery_ledger_observer"


class RequestRefusedError(Exception):
    """A request refused with one of :data:`PROBLEMS`; answered by :func:`install`'s handler."""

    def __init__(self, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.headers = code, detail, headers


class Problem(BaseModel):
    """An error answer: RFC 9457 problem details, as ``application/problem+json``."""

    type: str = Field(description="The problem type: a tag URI ending with `error`, or about:blank.")
    title: str = Field(description="The problem type in a few words; the same for each occurrence.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What was wrong with this request.")
    error: str = Field(description="The problem type's short code, e.g. `bad_signature`.")
    outcome: IngestOutcome | None = Field(
        default=None, description="On `invalid_payload` only: the webhook's outcome (rejected)."
    )


class AsciiJSON(JSONResponse):
    """JSON in ASCII: a string that is not valid Unicode (a lone surrogate) is escaped, not an error."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii")


class ProblemJSON(AsciiJSON):
    """A :class:`Problem`, as ``application/problem+json``."""

    media_type = MEDIA_TYPE


def problem(code: str, detail: str, *, headers: Mapping[str, str] | None = None, **extensions: Any) -> ProblemJSON:
    """The answer for one of :data:`PROBLEMS`; ``extensions`` are added members (``outcome``)."""
    kind = PROBLEMS[code]
    body = {"type": TYPE_PREFIX + code, "title": kind.title, "status": kind.status, "detail": detail, "error": code}
    if kind.status == 503:
        headers = {"Retry-After": RETRY_AFTER, **(headers or {})}
    return ProblemJSON(body | extensions, status_code=kind.status, headers=headers)


def plain_problem(status: int, detail: str, *, headers: Mapping[str, str] | None = None) -> ProblemJSON:
    """An answer that says nothing more than its status: ``about:blank``, titled with the status phrase."""
    phrase = HTTPStatus(status).phrase
    code = PLAIN_CODES.get(status) or phrase.lower().replace(" ", "_").replace("-", "_")
    body = {"type": "about:blank", "title": phrase, "status": status, "detail": detail, "error": code}
    return ProblemJSON(body, status_code=status, headers=headers)


def first_error(errors: Sequence[Any]) -> str:
    """The first of pydantic's validation errors as ``where: what`` (``query.limit: ...``)."""
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return f"{where}: {first['msg']}"


class ProblemRoute(APIRoute):
    """A route that answers its own errors with problem details, in whatever application includes it.

    The answers are those :func:`install` gives, so a host application that includes the
    receiver's router (and installs nothing) still answers as the receiver does.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def answer(request: Request) -> Response:
            response, error = await _answer(handle, request)
            observe: Observer | None = getattr(request.state, OBSERVER_KEY, None)
            if observe is not None:
                observe(self.path_format, request.method, response.status_code, error)
            return response

        return answer


async def _answer(
    handle: Callable[[Request], Coroutine[Any, Any, Response]], request: Request
) -> tuple[Response, Exception | None]:
    """The route's answer, and the error it answers if any."""
    try:
        return await handle(request), None
    except RequestRefusedError as error:
        return await _refusal(request, error), error
    except RequestValidationError as error:
        return await _validation_error(request, error), error
    except LedgerError as error:
        return await _ledger_error(request, error), error
    except HTTPException:
        raise  # The application's to answer, as for a route it does not have.
    except Exception as error:
        logger.error("%s %s failed", request.method, request.url.path, exc_info=error)
        return await _unexpected_error(request, error), error


def install(app: FastAPI) -> None:
    """Answer refusals, routing, validation, ledger and unexpected errors with problem details."""
    app.add_exception_handler(RequestRefusedError, _refusal)
    app.add_exception_handler(HTTPException, _routing_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(LedgerError, _ledger_error)
    app.add_exception_handler(Exception, _unexpected_error)


def responses(*codes: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI responses for these codes, by status: a :class:`Problem` and when each happens."""
    documented: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        kind = PROBLEMS[code]
        when = f"`{code}`: {kind.when}"
        if kind.status in documented:
            when = f"{documented[kind.status]['description']} {when}"
        documented[kind.status] = {"model": Problem, "description": when}
    return documented


def as_problem_json(document: dict[str, Any]) -> None:
    """Say ``application/problem+json`` where FastAPI documents a Problem as ``application/json``.

    FastAPI documents the 422 of its own validation errors too: they are answered 400 here,
    ``invalid_request``, like every other invalid request, so those entries go.
    """
    reference = "#/components/schemas/Problem"
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            answers = operation.get("responses", {})
            answers.pop("422", None)
            for answer in answers.values():
                content = answer.get("content", {})
                if content.get("application/json", {}).get("schema", {}).get("$ref") == reference:
                    content[MEDIA_TYPE] = content.pop("application/json")
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def describe() -> str:
    """The problem types as a Markdown list, for the API description."""
    lines = [f"- `{code}` ({kind.status}, {kind.title}): {kind.when}" for code, kind in PROBLEMS.items()]
    plain = ", ".join(f"`{code}` ({status})" for status, code in PLAIN_CODES.items())
    lines.append(f"- {plain}: `type` is `about:blank`; the status says it all.")
    return "\n".join(lines)


async def _refusal(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestRefusedError)
    return problem(error.code, error.detail, headers=error.headers)


async def _routing_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    headers = error.headers
    if error.status_code == 404:
        detail = f"nothing is served at {request.url.path}"
    elif error.status_code == 405:
        allowed = (headers or {}).get("Allow", "")
        detail = f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"
    else:
        detail = str(error.detail)
    return plain_problem(error.status_code, detail, headers=headers)


async def _validation_error(_: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError)
    return problem("invalid_request", first_error(error.errors()))


# The answer to each of the ledger's errors; any other is a 500 (an unreadable database).
_LEDGER_ERRORS: tuple[tuple[type[LedgerError], str], ...] = (
    (MessageNotFoundError, "not_found"),
    (ContradictionError, "conflict"),
    (InvalidPayloadError, "invalid_request"),
    (StorageError, "unavailable"),
)


async def _ledger_error(_: Request, error: Exception) -> Response:
    code = next((code for kind, code in _LEDGER_ERRORS if isinstance(error, kind)), None)
    return plain_problem(500, str(error)) if code is None else problem(code, str(error))


async def _unexpected_error(_: Request, __: Exception) -> Response:
    # Starlette logs the exception after this answer; its text may hold data that is not
    # the client's to see, so the answer does not repeat it.
    return plain_problem(500, "the receiver failed to answer; the failure is in its log")

"""The HTTP receiver: Connectly webhooks in, the ledger's answers out (DESIGN §5).

A thin shell over the public API, like ``cli.py``: :func:`create_app` builds the ASGI
application from :class:`ServerSettings`; ``ledger serve`` runs it with uvicorn.

Webhooks are signed by the provider (``x-connectly-hmac-sha256``: base64 of the
HMAC-SHA256 of the raw body) and answered only after their report is committed, by
the group-commit writer (:mod:`ledger.batching`): 200 with the outcome (a
contradiction too: a retry cannot fix it), 400 for a malformed body (kept in the
rejection store), 401 for a bad signature, 413 for a body over the limit, 503 when the
database is unavailable (the provider retries); every error body is an RFC 9457 problem
(:mod:`ledger.problems`).  Reads show phone numbers: they need
``Authorization: Bearer <token>`` when a token is set.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import hashlib
import hmac
import ipaddress
import socket
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy
import uvicorn
from fastapi import Depends, FastAPI, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from ledger import openapi, problems
from ledger.application import Ledger
from ledger.batching import GroupCommitWriter
from ledger.connectly import MAX_ID_LENGTH, MAX_PAYLOAD_BYTES, WEBHOOK
from ledger.errors import StorageError
from ledger.problems import AsciiJSON
from ledger.sql import storage_errors
from ledger.status import Outcome
from ledger.urls import database_url
from ledger.views import HistoryEntry, IngestOutcome, MessageView
from projections import Failure, FailureGroup, FunnelRow, ProjectionConflictError, Projections
from projections.failure_report import GroupBy
from projections.funnel import FunnelBy

WEBHOOK_PATH = "/webhooks/connectly/delivery-status"
SIGNATURE_HEADER = openapi.SIGNATURE_HEADER
#: Served with ``benchmark_baseline`` only: the webhook's body handling, without the database.
BASELINE_PATH = "/benchmark/baseline"


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """How the receiver runs.

    ``url`` ``None`` reads ``LEDGER_DATABASE_URL``, else uses the default file.  ``secret``
    checks request signatures (``None``: unchecked); ``api_token`` guards the reads
    (``None``: open); ``max_batch`` and ``max_wait`` (seconds) bound one group commit.
    """

    url: str | None = None
    secret: str | None = None
    api_token: str | None = None
    webhook_path: str = WEBHOOK_PATH
    max_body: int = MAX_PAYLOAD_BYTES
    max_batch: int = 500
    max_wait: float = 0.002
    benchmark_baseline: bool = False

    def __post_init__(self) -> None:
        if not self.webhook_path.startswith("/"):
            raise ValueError(f"the webhook path must start with '/': {self.webhook_path!r}")
        url = sqlalchemy.make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and (url.database in (None, "", ":memory:") or "mode=memory" in str(url)):
            raise ValueError("an in-memory database loses what the server acknowledged; give a file or PostgreSQL")

    @property
    def database_url(self) -> str:
        """The URL the ledger opens."""
        return database_url(self.url)

    @property
    def display_url(self) -> str:
        """The URL the ledger opens, with any password hidden."""
        return sqlalchemy.make_url(self.database_url).render_as_string(hide_password=True)


def sign(secret: str, body: bytes) -> str:
    """The provider's signature of ``body``: base64(HMAC-SHA256(secret, body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


def exposure_notes(settings: ServerSettings, host: str, *, insecure_public: bool = False) -> list[str]:
    """What to tell the operator at start-up; ``ValueError`` when it would expose the ledger.

    Without an API token anyone who can connect reads phone numbers; without a webhook
    secret anyone who can connect posts forged statuses.  So either is allowed on a
    loopback ``host`` only, unless ``insecure_public`` says so: then a note says what it allowed.
    """
    # For each thing missing: its option, what is then open, and what anyone can then do.
    missing = []
    if settings.api_token is None:
        missing.append(("an API token", "--api-token", "reads need no token", "read phone numbers"))
    if settings.secret is None:
        missing.append(("a webhook secret", "--secret", "webhook signatures are not checked", "post forged statuses"))
    loopback = host == "localhost" or _is_loopback(host)
    if missing and not (loopback or insecure_public):
        things = " or ".join(f"{thing} ({option})" for thing, option, _, _ in missing)
        risks = " and ".join(risk for *_, risk in missing)
        raise ValueError(
            f"refusing to listen on {host} without {things}: anyone who can connect could {risks} "
            f"(set {'them' if len(missing) > 1 else 'it'}, listen on 127.0.0.1, or pass --insecure-public)"
        )
    where = "" if loopback else f" on {host}, allowed by --insecure-public"
    return [f"{state} (no {option}){where}: anyone who can connect can {risk}" for _, option, state, risk in missing]


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` and listening; ``OSError`` when the OS refuses.

    (The address is in use, is not this machine's, or needs privileges; ``host`` is unknown.)
    """
    found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    # A name with both (localhost) is served on IPv4, which every client tries.
    family, kind, protocol, _, address = min(found, key=lambda entry: entry[0] != socket.AF_INET)
    listener = socket.socket(family, kind, protocol)
    try:
        # As uvicorn does: a port left in TIME_WAIT by the last run can be bound again at once.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(2048)
    except BaseException:
        listener.close()
        raise
    return listener


def run(
    settings: ServerSettings,
    listener: socket.socket,
    *,
    access_log: bool = True,
    announce: Callable[[], object] | None = None,
) -> None:
    """Open the ledgers, ``announce()``, then serve on ``listener`` until SIGINT or SIGTERM.

    A database that cannot be opened raises :class:`StorageError` before anything is served
    (not a traceback from the application's start-up).  On SIGINT or SIGTERM, requests in
    flight finish and the writer drains.
    """
    runtime = _Runtime(settings)
    try:
        app = _application(settings, runtime)
        config = uvicorn.Config(app, access_log=access_log, server_header=False)
        if announce is not None:
            announce()
        uvicorn.Server(config).run(sockets=[listener])
    finally:
        runtime.close()  # Closed by the lifespan already, unless uvicorn failed before it.


# What the schema can say about identifiers; the ledger also refuses blank text and
# unpaired surrogates, which JSON Schema cannot express (400 then).
_Identifier = Annotated[str, Field(min_length=1, max_length=MAX_ID_LENGTH, pattern="^[^\\x00]*$")]


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


class Readiness(BaseModel):
    """Whether the database answers and the writer runs; what the writer has committed."""

    status: Literal["ready", "unavailable"]
    detail: str | None
    pending: int
    batches: int
    reports: int


class _HTTPError(Exception):
    """A request refused with one of :data:`problems.PROBLEMS`; never leaves the application."""

    def __init__(self, code: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.code, self.detail, self.headers = code, detail, headers


class _Runtime:
    """What runs with the application: the writer's ledger, and a second one for reads and views."""

    def __init__(self, settings: ServerSettings) -> None:
        url = settings.database_url
        self.writer = GroupCommitWriter(Ledger.open(url), max_batch=settings.max_batch, max_wait=settings.max_wait)
        try:
            self.reader = Ledger.open(url)
        except BaseException:
            self.writer.close()
            raise
        try:
            self.views = Projections(self.reader, owns_ledger=True)
        except BaseException:
            self.writer.close()
            self.reader.close()
            raise
        self._catching_up = threading.Lock()
        self._closed = False
        self.writer.start()

    def caught_up(self) -> Projections:
        """The views with every committed event applied: a report is never stale."""
        with self._catching_up:
            for _ in range(10):
                try:
                    self.views.catch_up()
                except ProjectionConflictError:
                    continue  # Another runner (`ledger project`) moved first: go on from there.
                return self.views
        raise StorageError("the views are busy with another runner")

    def close(self) -> None:
        """Drain the writer and close the ledgers; again, nothing happens."""
        if self._closed:
            return
        self._closed = True
        self.writer.close()
        self.views.close()


_BEARER = HTTPBearer(auto_error=False, description="The API token (ledger serve --api-token).")
_POSTED = problems.responses("unsigned", "bad_signature", "too_large", "unavailable")
_READ_ERRORS = problems.responses("unauthorized", "unavailable")
_QUERY_ERRORS = problems.responses("invalid_request", "unauthorized", "unavailable")


def create_app(settings: ServerSettings) -> FastAPI:
    """The receiver as an ASGI application; its ledgers open and close with the lifespan."""
    return _application(settings, None)


def _application(settings: ServerSettings, opened: _Runtime | None) -> FastAPI:
    """The application; its lifespan runs ``opened`` (else ledgers it opens) and closes it."""
    running: dict[str, _Runtime] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        running["runtime"] = await asyncio.to_thread(_Runtime, settings) if opened is None else opened
        # What is loaded by now (modules, SQLAlchemy, pydantic) lives as long as the process:
        # keep it out of the cyclic collector's full collections, which otherwise stop every
        # request in flight for 60-80 ms (measured under load).
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()
            await asyncio.to_thread(running.pop("runtime").close)

    def runtime() -> _Runtime:
        if "runtime" not in running:
            raise StorageError("the receiver is not running")
        return running["runtime"]

    app = FastAPI(title="delivery-ledger receiver", version="1", lifespan=lifespan, default_response_class=AsciiJSON)
    problems.install(app)
    app.add_exception_handler(_HTTPError, _refusal)
    reads = [Depends(_token_check(settings.api_token))] if settings.api_token else []
    signed = settings.secret is not None

    async def signed_body(request: Request) -> bytes:
        body = await _read_body(request, settings.max_body)
        _check_signature(settings.secret, request, body)
        return body

    @app.post(
        settings.webhook_path,
        responses={
            200: {"model": IngestOutcome, "description": "The outcome (a contradiction too: it is kept)."},
            **problems.responses("invalid_payload"),
            **_POSTED,
        },
        openapi_extra=openapi.body_docs("DeliveryStatusWebhook", signed=signed, text=True),
    )
    async def delivery_status(request: Request) -> AsciiJSON:
        """A delivery_status webhook, answered after its report is committed."""
        outcome = await asyncio.wrap_future(runtime().writer.ingest(await signed_body(request)))
        if outcome.kind is Outcome.REJECTED and outcome.status is None:
            # No usable message: the body itself is malformed (a contradiction has a status).
            reason = outcome.reason or "not a delivery_status report"
            return problems.problem("invalid_payload", reason, outcome=outcome.to_dict())
        return AsciiJSON(outcome.to_dict())

    @app.post(
        "/messages/sent",
        responses={
            200: {"model": MessageView, "description": "The message as it stands."},
            **problems.responses("invalid_request", "conflict"),
            **_POSTED,
        },
        openapi_extra=openapi.body_docs("SentMessage", signed=signed),
    )
    async def message_sent(request: Request) -> AsciiJSON:
        """Record the send API's answer: the message starts as accepted; repeating it changes nothing."""
        try:
            sent = SentMessage.model_validate_json(await signed_body(request))
            sent_at = None if sent.sent_at is None else sent.sent_at.astimezone(UTC)
        except ValidationError as error:
            raise _HTTPError("invalid_request", problems.first_error(error.errors(include_url=False))) from None
        except OverflowError:
            raise _HTTPError("invalid_request", "sent_at: out of range in UTC") from None

        def record(ledger: Ledger) -> MessageView:
            fields = sent.model_dump(include={"sender", "recipient", "channel", "template", "campaign"})
            return ledger.record_sent(sent.id, sent_at=sent_at, **fields)

        view = await asyncio.wrap_future(runtime().writer.run(record))
        return AsciiJSON(view.to_dict())

    @app.get(
        "/messages/{message_id}",
        dependencies=reads,
        responses={200: {"model": MessageView}, **problems.responses("not_found"), **_READ_ERRORS},
    )
    def message(message_id: str) -> AsciiJSON:
        """Where a message stands."""
        return AsciiJSON(runtime().reader.message(message_id).to_dict())

    @app.get(
        "/messages/{message_id}/history",
        dependencies=reads,
        responses={200: {"model": list[HistoryEntry]}, **problems.responses("not_found"), **_READ_ERRORS},
    )
    def history(message_id: str) -> AsciiJSON:
        """A message's audit trail, oldest first."""
        return AsciiJSON([entry.to_dict() for entry in runtime().reader.history(message_id)])

    @app.get(
        "/reports/failures",
        dependencies=reads,
        responses={200: {"model": list[FailureGroup] | list[Failure]}, **_QUERY_ERRORS},
    )
    def failures(
        since: Annotated[datetime | None, Query(description="From this time, inclusive (UTC if no zone).")] = None,
        until: Annotated[datetime | None, Query(description="Until this time, exclusive (UTC if no zone).")] = None,
        by: Annotated[GroupBy, Query(description="Group the failures by this.")] = "code",
        details: Annotated[bool, Query(description="List each failure instead of groups.")] = False,
        limit: Annotated[int, Query(ge=1, le=100_000, description="With details: at most this many.")] = 1000,
    ) -> AsciiJSON:
        """The failure report: failures grouped by code, type, campaign, recipient or day, or each one."""
        start, end = _utc(since), _utc(until)
        report = runtime().caught_up().failure_report
        with storage_errors("read the failure report"):
            if details:
                return AsciiJSON([row.to_dict() for row in report.failures(since=start, until=end, limit=limit)])
            return AsciiJSON([group.to_dict() for group in report.summary(by=by, since=start, until=end)])

    @app.get("/reports/summary", dependencies=reads, responses={200: {"model": list[FunnelRow]}, **_QUERY_ERRORS})
    def summary(
        by: Annotated[FunnelBy | None, Query(description="Also one row per campaign or day.")] = None,
    ) -> AsciiJSON:
        """The delivery funnel: counts, delivery and read rates, latency percentiles."""
        funnel = runtime().caught_up().funnel
        with storage_errors("read the funnel"):
            return AsciiJSON([row.to_dict() for row in funnel.summary(by=by)])

    @app.get("/healthz", responses={200: {"model": dict[str, str]}})
    async def healthz() -> AsciiJSON:
        """The process is up."""
        return AsciiJSON({"status": "ok"})

    @app.get("/readyz", responses={200: {"model": Readiness}, 503: {"model": Readiness}})
    def readyz() -> AsciiJSON:
        """The database answers and the writer runs; 503 otherwise."""
        current = running.get("runtime")
        problem = None
        try:
            if current is None or not current.writer.alive:
                raise StorageError("the ledger writer is not running")
            with storage_errors("reach the database"), current.reader.engine.connect() as connection:
                connection.execute(sqlalchemy.text("SELECT 1"))
        except StorageError as error:
            problem = str(error)
        writer = current.writer if current else None
        answer = {
            "status": "unavailable" if problem else "ready",
            "detail": problem,
            "pending": writer.pending if writer else 0,
            "batches": writer.batches if writer else 0,
            "reports": writer.reports if writer else 0,
        }
        return AsciiJSON(answer, status_code=503 if problem else 200)

    if settings.benchmark_baseline:
        # For benchmarks/load.py only: not part of the API its users read.
        @app.post(BASELINE_PATH, include_in_schema=False)
        async def baseline(request: Request) -> AsciiJSON:
            """The webhook's body handling (size limit, signature) without the ledger; for benchmarks."""
            await signed_body(request)
            return AsciiJSON({"kind": "baseline"})

    openapi.install(app, {"DeliveryStatusWebhook": WEBHOOK, "SentMessage": TypeAdapter(SentMessage)})
    return app


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, read no further than ``limit`` bytes whatever Content-Length claims."""
    too_large = _HTTPError("too_large", f"the body is over {limit} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise too_large
            chunks.append(chunk)
    except ClientDisconnect:
        raise _HTTPError("disconnected", "the client went away before the end of the body") from None
    return b"".join(chunks)


def _check_signature(secret: str | None, request: Request, body: bytes) -> None:
    if secret is None:
        return
    given = request.headers.get(SIGNATURE_HEADER)
    if given is None:
        raise _HTTPError("unsigned", f"the {SIGNATURE_HEADER} header is missing")
    # Starlette decodes header values as latin-1: encoding them back gives the bytes sent.
    if not hmac.compare_digest(given.encode("latin-1"), sign(secret, body).encode("ascii")):
        raise _HTTPError("bad_signature", f"the {SIGNATURE_HEADER} header does not match the body")


def _token_check(token: str) -> Callable[..., Coroutine[Any, Any, None]]:
    expected = token.encode()

    async def check(credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]) -> None:
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), expected):
            headers = {"WWW-Authenticate": "Bearer"}
            raise _HTTPError("unauthorized", "these reads need 'Authorization: Bearer <token>'", headers)

    return check


async def _refusal(_: Request, error: Exception) -> Response:
    assert isinstance(error, _HTTPError)
    return problems.problem(error.code, error.detail, headers=error.headers)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # The shift leaves the calendar: the first or last instant it has.
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

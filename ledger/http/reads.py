"""The read routes: messages (one, a page of them, a history), rejections, the failure report, the funnel
and activity over time.

They show recipients' phone numbers: with an API token set, each needs
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.http import problems
from ledger.http.problems import AsciiJSON, ProblemRoute, RequestRefusedError
from ledger.http.state import runtime_of, settings_of
from ledger.readmodels import (
    ActivityBucket,
    BucketSize,
    Failure,
    FailureGroup,
    FunnelBy,
    FunnelRow,
    GroupBy,
    StatusPage,
)
from ledger.status import Status
from ledger.views import HistoryEntry, MessageView, Rejection

_BEARER = HTTPBearer(auto_error=False, description="The API token (ledger serve --api-token).")
_READ_ERRORS = problems.responses("unauthorized", "unavailable")
_QUERY_ERRORS = problems.responses("invalid_request", "unauthorized", "unavailable")


async def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
) -> None:
    """A dependency: refuse the request unless it carries the settings' API token."""
    token = settings_of(request).api_token
    if token is None:
        return
    if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
        headers = {"WWW-Authenticate": "Bearer"}
        raise RequestRefusedError("unauthorized", "this route needs 'Authorization: Bearer <token>'", headers)


def router() -> APIRouter:
    """The read routes (the receiver guards them with :func:`require_token` when it has a token)."""
    routes = APIRouter(route_class=ProblemRoute)
    routes.add_api_route("/messages", messages, responses={200: {"model": StatusPage}, **_QUERY_ERRORS})
    routes.add_api_route(
        "/messages/{message_id}",
        message,
        responses={200: {"model": MessageView}, **problems.responses("not_found"), **_QUERY_ERRORS},
    )
    routes.add_api_route(
        "/messages/{message_id}/history",
        history,
        responses={200: {"model": list[HistoryEntry]}, **problems.responses("not_found"), **_QUERY_ERRORS},
    )
    routes.add_api_route("/rejections", rejections, responses={200: {"model": list[Rejection]}, **_QUERY_ERRORS})
    routes.add_api_route(
        "/reports/failures", failures, responses={200: {"model": list[FailureGroup] | list[Failure]}, **_QUERY_ERRORS}
    )
    routes.add_api_route("/reports/summary", summary, responses={200: {"model": list[FunnelRow]}, **_QUERY_ERRORS})
    routes.add_api_route(
        "/reports/activity", activity, responses={200: {"model": list[ActivityBucket]}, **_QUERY_ERRORS}
    )
    return routes


Since = Annotated[datetime | None, Query(description="From this time, inclusive (UTC if no zone).")]
AsOf = Annotated[
    datetime | None,
    Query(description="As the ledger knew it then: by received time, inclusive (UTC if no zone)."),
]
Until = Annotated[datetime | None, Query(description="Until this time, exclusive (UTC if no zone).")]
AtPosition = Annotated[int | None, Query(ge=0, description="As the log stood at this notification id.")]
Campaign = Annotated[str | None, Query(description="Only this campaign's messages.")]
#: The largest id a database's BIGINT holds: a larger ``before`` is refused (400), not sent on.
MAX_ID = 2**63 - 1


async def messages(
    request: Request,
    status: Annotated[Status | None, Query(description="Only messages in this status.")] = None,
    campaign: Annotated[str | None, Query(description="Only this campaign's messages.")] = None,
    recipient: Annotated[str | None, Query(description="Only messages to this recipient.")] = None,
    since: Annotated[datetime | None, Query(description="Last changed from this time, inclusive.")] = None,
    until: Annotated[datetime | None, Query(description="Last changed before this time.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many (a page).")] = 100,
    after: Annotated[str | None, Query(description="The previous page's next_cursor.")] = None,
) -> AsciiJSON:
    """Messages by last change, oldest first, a page at a time: pass ``next_cursor`` back as ``after``."""
    runtime = runtime_of(request)
    try:
        page = await runtime.ledger.messages(
            status=status,
            campaign=campaign,
            recipient=recipient,
            since=_utc(since),
            until=_utc(until),
            limit=limit,
            after=after,
            fresh=runtime.fresh,
        )
    except ValueError as error:
        raise RequestRefusedError("invalid_request", f"after: {error}") from None
    return AsciiJSON(page.to_dict())


async def message(
    message_id: str,
    request: Request,
    as_of: AsOf = None,
    at_position: AtPosition = None,
) -> AsciiJSON:
    """Where a message stands, or stood ``as_of`` a past time or ``at_position`` (404 if it had not arrived)."""
    ledger = runtime_of(request).ledger
    try:
        view = await ledger.message(message_id, as_of=_utc(as_of), at_position=at_position)
    except ValueError as error:
        raise RequestRefusedError("invalid_request", str(error)) from None
    return AsciiJSON(view.to_dict())


async def history(
    message_id: str,
    request: Request,
    until: Annotated[
        datetime | None, Query(description="Only what was received by this time, inclusive (UTC if no zone).")
    ] = None,
    at_position: AtPosition = None,
) -> AsciiJSON:
    """A message's audit trail, oldest first; with ``until`` or ``at_position``, what had arrived by then."""
    ledger = runtime_of(request).ledger
    try:
        entries = await ledger.history(message_id, until=_utc(until), at_position=at_position)
    except ValueError as error:
        raise RequestRefusedError("invalid_request", str(error)) from None
    return AsciiJSON([entry.to_dict() for entry in entries])


async def rejections(
    request: Request,
    since: Since = None,
    message_id: Annotated[str | None, Query(description="Only what named this message.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="At most this many.")] = 100,
    before: Annotated[
        int | None,
        Query(
            ge=1, le=MAX_ID, description="Only ids below this one: the previous page's last id (400 if not 1..2^63-1)."
        ),
    ] = None,
    order: Annotated[
        Literal["oldest", "newest"], Query(description="Oldest first (by id), or newest first (400 otherwise).")
    ] = "oldest",
) -> AsciiJSON:
    """Refused input, oldest first (or newest, ``order=newest``): malformed bodies and contradictions,
    with reasons and the raw body as text.

    For the next page newest first, pass the last one's ``id`` as ``before``; oldest first,
    its newest ``received_at`` as ``since``.
    """
    ledger = runtime_of(request).ledger
    found = await ledger.rejections(
        limit=limit, since=_utc(since), message_id=message_id, before=before, newest_first=order == "newest"
    )
    return AsciiJSON([rejection.to_dict() for rejection in found])


async def failures(
    request: Request,
    since: Since = None,
    until: Until = None,
    by: Annotated[GroupBy, Query(description="Group the failures by this.")] = "code",
    details: Annotated[bool, Query(description="List each failure instead of groups.")] = False,
    limit: Annotated[int, Query(ge=1, le=100_000, description="With details: at most this many.")] = 1000,
    as_of: AsOf = None,
) -> AsciiJSON:
    """The failure report: failures grouped by code, type, campaign, recipient or day, or each one.

    With ``as_of``, the report as the ledger knew it then, rebuilt from the log (a full read of it).
    """
    runtime = runtime_of(request)
    start, end, fresh, moment = _utc(since), _utc(until), runtime.fresh, _utc(as_of)
    if details:
        found = await runtime.ledger.failures(since=start, until=end, limit=limit, fresh=fresh, as_of=moment)
        return AsciiJSON([row.to_dict() for row in found])
    groups = await runtime.ledger.failure_summary(by=by, since=start, until=end, fresh=fresh, as_of=moment)
    return AsciiJSON([group.to_dict() for group in groups])


async def summary(
    request: Request,
    by: Annotated[
        FunnelBy | None, Query(description="One row per campaign, day, provider or pricing category.")
    ] = None,
    campaign: Campaign = None,
    since: Annotated[
        datetime | None, Query(description="Messages first known from this time, inclusive (UTC if no zone).")
    ] = None,
    until: Annotated[
        datetime | None, Query(description="Messages first known before this time, exclusive (UTC if no zone).")
    ] = None,
    as_of: AsOf = None,
) -> AsciiJSON:
    """The delivery funnel: counts, delivery and read rates, latency percentiles (``as_of``: as of then).

    ``campaign``, ``since`` and ``until`` narrow it to one campaign's messages first known
    (earliest send or report time) in ``[since, until)``.
    """
    runtime = runtime_of(request)
    rows = await runtime.ledger.summary(
        by=by, campaign=campaign, since=_utc(since), until=_utc(until), fresh=runtime.fresh, as_of=_utc(as_of)
    )
    return AsciiJSON([row.to_dict() for row in rows])


async def activity(
    request: Request,
    bucket: Annotated[BucketSize, Query(description="One bucket per UTC hour or day (400 otherwise).")] = "day",
    since: Since = None,
    until: Until = None,
    campaign: Campaign = None,
    as_of: AsOf = None,
) -> AsciiJSON:
    """Stage reports (by status) and failures (by error code) per UTC hour or day, oldest first.

    Counted from the read models: each stage time of a message is one report (duplicates
    and rejected reports are not counted; ``accepted``: sends recorded); failures are those
    applied, by code (``(none)`` without one).  Buckets with nothing in them are left out.
    With ``as_of``, counted from what the ledger had received then, rebuilt from the log
    (a full read of it).
    """
    runtime = runtime_of(request)
    buckets = await runtime.ledger.activity(
        bucket=bucket, since=_utc(since), until=_utc(until), campaign=campaign, fresh=runtime.fresh, as_of=_utc(as_of)
    )
    return AsciiJSON([each.to_dict() for each in buckets])


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # The shift leaves the calendar: the first or last instant it has.
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)

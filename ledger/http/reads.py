"""The read routes: a message, its history, the failure report and the funnel (JSON).

They show recipients' phone numbers: with an API token set, each needs
``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ledger.http import problems
from ledger.http.problems import AsciiJSON, RequestRefusedError
from ledger.http.state import runtime_of, settings_of
from ledger.sql import storage_errors
from ledger.views import HistoryEntry, MessageView
from projections import Failure, FailureGroup, FunnelRow
from projections.failure_report import GroupBy
from projections.funnel import FunnelBy

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
        raise RequestRefusedError("unauthorized", "these reads need 'Authorization: Bearer <token>'", headers)


# create_app guards these with require_token when the settings have a token (and only then
# documents the bearer scheme).
router = APIRouter()


@router.get(
    "/messages/{message_id}",
    responses={200: {"model": MessageView}, **problems.responses("not_found"), **_READ_ERRORS},
)
def message(message_id: str, request: Request) -> AsciiJSON:
    """Where a message stands."""
    return AsciiJSON(runtime_of(request).reader.message(message_id).to_dict())


@router.get(
    "/messages/{message_id}/history",
    responses={200: {"model": list[HistoryEntry]}, **problems.responses("not_found"), **_READ_ERRORS},
)
def history(message_id: str, request: Request) -> AsciiJSON:
    """A message's audit trail, oldest first."""
    return AsciiJSON([entry.to_dict() for entry in runtime_of(request).reader.history(message_id)])


@router.get("/reports/failures", responses={200: {"model": list[FailureGroup] | list[Failure]}, **_QUERY_ERRORS})
def failures(
    request: Request,
    since: Annotated[datetime | None, Query(description="From this time, inclusive (UTC if no zone).")] = None,
    until: Annotated[datetime | None, Query(description="Until this time, exclusive (UTC if no zone).")] = None,
    by: Annotated[GroupBy, Query(description="Group the failures by this.")] = "code",
    details: Annotated[bool, Query(description="List each failure instead of groups.")] = False,
    limit: Annotated[int, Query(ge=1, le=100_000, description="With details: at most this many.")] = 1000,
) -> AsciiJSON:
    """The failure report: failures grouped by code, type, campaign, recipient or day, or each one."""
    start, end = _utc(since), _utc(until)
    report = runtime_of(request).caught_up().failure_report
    with storage_errors("read the failure report"):
        if details:
            return AsciiJSON([row.to_dict() for row in report.failures(since=start, until=end, limit=limit)])
        return AsciiJSON([group.to_dict() for group in report.summary(by=by, since=start, until=end)])


@router.get("/reports/summary", responses={200: {"model": list[FunnelRow]}, **_QUERY_ERRORS})
def summary(
    request: Request,
    by: Annotated[FunnelBy | None, Query(description="Also one row per campaign or day.")] = None,
) -> AsciiJSON:
    """The delivery funnel: counts, delivery and read rates, latency percentiles."""
    funnel = runtime_of(request).caught_up().funnel
    with storage_errors("read the funnel"):
        return AsciiJSON([row.to_dict() for row in funnel.summary(by=by)])


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # The shift leaves the calendar: the first or last instant it has.
        return (datetime.min if moment.year == 1 else datetime.max).replace(tzinfo=UTC)

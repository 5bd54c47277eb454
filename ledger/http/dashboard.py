"""The dashboard's pages: server-rendered HTML over the same queries as the JSON reads.

``/`` (overview: funnel, rates, latency; by campaign and time range), ``/dashboard/activity``
(reports and failures per hour or day), ``/dashboard/failures`` (the failure report, each
group listing its failures, each linking to its message), ``/dashboard/message`` (a
message and its timeline) and ``/dashboard/rejections`` (what was refused, newest first).
With an API token set they need signing in (:mod:`ledger.http.session`).  They are not in
the OpenAPI schema: they are pages, not API.  Every answer forbids scripts outright
(``Content-Security-Policy``): the pages have none, so even text that escaped escaping
could not run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ledger.dashboard.charts import STAGE_COLOURS
from ledger.dashboard.forms import PageInputError, day, field, text, window
from ledger.dashboard.render import PAGES, Chrome, render
from ledger.dashboard.timeline import timeline
from ledger.errors import MessageNotFoundError
from ledger.http import session
from ledger.http.state import runtime_of
from ledger.readmodels import GROUP_BY, BucketSize, FunnelRow, Latency
from ledger.status import Status

#: What every page answer carries: no script, no plugin, no framing, forms to this server only.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
#: Rejections per page, and failures listed under a group at most.
REJECTIONS_PER_PAGE = 50
FAILURES_LISTED = 500
#: Each group of the failure report lists its failures by this filter of ``Ledger.failures``.
_FILTERS = {"code": "code", "type": "type", "campaign": "campaign", "recipient": "recipient"}


def router() -> APIRouter:
    """The pages (the receiver includes them unless ``ServerSettings.dashboard`` is off)."""
    routes = APIRouter(include_in_schema=False)
    routes.add_api_route("/", overview, name="dashboard_overview")
    routes.add_api_route("/dashboard/activity", activity, name="dashboard_activity")
    routes.add_api_route("/dashboard/failures", failures, name="dashboard_failures")
    routes.add_api_route("/dashboard/message", message, name="dashboard_message")
    routes.add_api_route("/dashboard/rejections", rejections, name="dashboard_rejections")
    routes.add_api_route("/dashboard/login", login_form, name="dashboard_login")
    routes.add_api_route("/dashboard/login", sign_in, methods=["POST"], name="dashboard_sign_in")
    routes.add_api_route("/dashboard/logout", sign_out, methods=["POST"], name="dashboard_sign_out")
    return routes


async def overview(request: Request) -> Response:
    """The funnel, rates and latency percentiles, for a campaign and a time range."""
    if (refused := _refuse(request)) is not None:
        return refused
    runtime = runtime_of(request)
    try:
        campaign, (since, until) = text(request.query_params, "campaign"), window(request.query_params)
    except PageInputError as error:
        return _page(request, "overview.html", 400, title="Overview", error=str(error), **_empty_overview())
    ledger, fresh = runtime.ledger, runtime.fresh
    rows = await ledger.summary(campaign=campaign, since=since, until=until, fresh=fresh)
    campaigns = await ledger.campaigns(fresh=False)
    return _page(
        request,
        "overview.html",
        title="Overview",
        funnel=rows[0],
        campaigns=campaigns,
        campaign=campaign,
        since_text=field(since),
        until_text=field(until),
    )


async def activity(request: Request) -> Response:
    """Reports per stage and failures per code, per hour or day."""
    if (refused := _refuse(request)) is not None:
        return refused
    runtime = runtime_of(request)
    bucket: BucketSize = "hour" if request.query_params.get("bucket") == "hour" else "day"
    try:
        if request.query_params.get("bucket", bucket) != bucket:
            raise PageInputError(f"per: choose hour or day, not {request.query_params['bucket']!r}")
        campaign, (since, until) = text(request.query_params, "campaign"), window(request.query_params)
    except PageInputError as error:
        return _page(request, "activity.html", 400, title="Over time", error=str(error), **_empty_activity())
    found = await runtime.ledger.activity(
        bucket=bucket, since=since, until=until, campaign=campaign, fresh=runtime.fresh
    )
    pattern = "%Y-%m-%d %H:00" if bucket == "hour" else "%Y-%m-%d"
    buckets = [
        {
            "label": row.start.astimezone(UTC).strftime(pattern),
            "reports": {status.value: count for status, count in row.reports.items()},
            "failures": dict(row.failures),
        }
        for row in found
    ]
    context = {**_empty_activity(), "buckets": buckets, "bucket": bucket, "campaign": campaign}
    context["campaigns"] = await runtime.ledger.campaigns(fresh=False)
    context.update(since_text=field(since), until_text=field(until))
    return _page(request, "activity.html", title="Over time", **context)


async def failures(request: Request) -> Response:
    """The failure report grouped one way; with a group chosen, its failures, each linking to its message."""
    if (refused := _refuse(request)) is not None:
        return refused
    runtime = runtime_of(request)
    by = request.query_params.get("by") or "code"
    context: dict[str, Any] = {"title": "Failures", "by": by, "group_by": GROUP_BY, "groups": [], "listing": None}
    selected = request.query_params.get(by) if by in _FILTERS or by == "day" else None
    try:
        if by not in GROUP_BY:
            raise PageInputError(f"group by: choose one of {', '.join(GROUP_BY)}, not {by!r}")
        since, until = window(request.query_params)
        filters: dict[str, Any] = day(selected) if by == "day" and selected is not None else {}
    except PageInputError as error:
        context.update(since_text="", until_text="", by="code", **_failure_links(request, "code"))
        return _page(request, "failures.html", 400, error=str(error), **context)
    context.update(since_text=field(since), until_text=field(until), **_failure_links(request, by))
    ledger, fresh = runtime.ledger, runtime.fresh
    context["groups"] = await ledger.failure_summary(by=by, since=since, until=until, fresh=fresh)
    if selected is not None:
        if by != "day":
            filters = {"since": since, "until": until, _FILTERS[by]: selected}
        context["listing"] = await ledger.failures(**filters, limit=FAILURES_LISTED, fresh=False)
        context.update(selected=selected, listing_limit=FAILURES_LISTED)
    return _page(request, "failures.html", **context)


async def message(request: Request) -> Response:
    """Search a message by id: its state and the timeline of every report it received."""
    if (refused := _refuse(request)) is not None:
        return refused
    message_id = request.query_params.get("id") or None
    context: dict[str, Any] = {"title": "Message", "message_id": message_id, "view": None, "timeline": []}
    context["message_link"] = _message_link(request)
    if message_id is None:
        return _page(request, "message.html", **context)
    ledger = runtime_of(request).ledger
    try:
        view = await ledger.message(message_id)
    except MessageNotFoundError:
        return _page(request, "message.html", 404, error=f"no message {message_id!r} in the ledger", **context)
    entries = await ledger.history(message_id)
    refused_input = await ledger.rejections(message_id=message_id, limit=1000)
    return _page(request, "message.html", **{**context, "view": view, "timeline": timeline(entries, refused_input)})


async def rejections(request: Request) -> Response:
    """What was refused and why, newest first, a page at a time (``before``: the last id shown)."""
    if (refused := _refuse(request)) is not None:
        return refused
    before_text = request.query_params.get("before") or None
    context: dict[str, Any] = {"title": "Rejections", "message_link": _message_link(request), "rejections": []}
    context.update(newer=None, older=None)
    if before_text is not None and not before_text.isdigit():
        return _page(request, "rejections.html", 400, error=f"before: not a rejection id: {before_text!r}", **context)
    before = None if before_text is None else int(before_text)
    found = await runtime_of(request).ledger.rejections(limit=REJECTIONS_PER_PAGE, newest_first=True, before=before)
    page_url = str(request.url_for("dashboard_rejections").path)
    context["rejections"] = found
    if before is not None:
        context["newer"] = page_url
    if len(found) == REJECTIONS_PER_PAGE:
        context["older"] = f"{page_url}?{urlencode({'before': found[-1].id})}"
    return _page(request, "rejections.html", **context)


async def login_form(request: Request) -> Response:
    """The sign-in form (straight to the overview when there is nothing to sign in to)."""
    home = str(request.url_for("dashboard_overview").path)
    if session.signed_in(request) and not session.has_session(request):
        return RedirectResponse(home, status_code=303, headers=SECURITY_HEADERS)
    return _login_page(request, session.safe_next(request.query_params.get("next"), home), None)


async def sign_in(request: Request) -> Response:
    """Check the token posted by the form; if right, set the session cookie and go on."""
    home = str(request.url_for("dashboard_overview").path)
    form = await session.read_form(request)
    target = session.safe_next(form.get("next"), home)
    if not session.token_matches(request, form.get("token", "")):
        return _login_page(request, target, "That is not this server's API token.", status=401)
    answer = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    value = session.session_value(form["token"])  # the token itself: it matched
    answer.set_cookie(
        session.COOKIE, value, path=home, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return answer


async def sign_out(request: Request) -> Response:
    """Forget the session cookie."""
    home = str(request.url_for("dashboard_overview").path)
    answer = RedirectResponse(str(request.url_for("dashboard_login").path), status_code=303, headers=SECURITY_HEADERS)
    answer.delete_cookie(session.COOKIE, path=home, httponly=True, samesite="strict")
    return answer


def _refuse(request: Request) -> Response | None:
    """A redirect to the sign-in form when the request may not see the pages; else None."""
    if session.signed_in(request):
        return None
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    login = str(request.url_for("dashboard_login").path)
    return RedirectResponse(f"{login}?{urlencode({'next': target})}", status_code=303, headers=SECURITY_HEADERS)


def _page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("error", None)
    context.setdefault("current", f"dashboard_{template.removesuffix('.html')}")
    html = render(template, _chrome(request), **context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _login_page(request: Request, target: str, error: str | None, status: int = 200) -> HTMLResponse:
    action = str(request.url_for("dashboard_sign_in").path)
    html = render("login.html", Chrome(static=True), title="Sign in", action=action, next=target, error=error)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


def _chrome(request: Request) -> Chrome:
    links = {name: str(request.url_for(name).path) for name, _ in PAGES}
    logout = str(request.url_for("dashboard_sign_out").path) if session.has_session(request) else None
    return Chrome(links=links, logout=logout)


def _message_link(request: Request) -> Callable[[str], str]:
    base = str(request.url_for("dashboard_message").path)
    return lambda message_id: f"{base}?{urlencode({'id': message_id})}"


def _failure_links(request: Request, by: str) -> dict[str, Any]:
    base = str(request.url_for("dashboard_failures").path)
    query = {name: value for name, value in request.query_params.items() if name in ("since", "until") and value}
    if by not in _FILTERS and by != "day":
        return {"group_link": None, "message_link": _message_link(request)}
    return {
        "group_link": lambda key: f"{base}?{urlencode({**query, 'by': by, by: key})}",
        "message_link": _message_link(request),
    }


def _empty_overview() -> dict[str, Any]:
    none = Latency(count=0, p50=None, p90=None, p99=None)
    empty = FunnelRow(None, 0, 0, dict.fromkeys(Status, 0), 0.0, 0.0, 0.0, none, none)
    return {"funnel": empty, "campaigns": [], "campaign": None, "since_text": "", "until_text": ""}


def _empty_activity() -> dict[str, Any]:
    stages = [status.value for status in Status]
    context: dict[str, Any] = {"buckets": [], "bucket": "day", "campaign": None, "campaigns": []}
    context.update(since_text="", until_text="")
    return {**context, "stages": stages, "stage_colours": [STAGE_COLOURS[stage] for stage in stages]}

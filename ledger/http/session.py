"""Signing in to the dashboard: the API token given once in a form, then a cookie; never in a URL.

With an API token set, the pages need the same token as the reads.  A browser cannot send
an ``Authorization`` header from a link, so the sign-in form posts the token once and the
answer sets a session cookie: ``HttpOnly`` (no script reads it), ``SameSite=Strict`` (no
other site's page sends it), ``Secure`` over HTTPS, and lasting the browser session.  Its
value is an HMAC of the token, not the token: the cookie opens the pages, never the API,
and changing the token (restarting with another) signs every browser out.  A request with
``Authorization: Bearer <token>`` is let in as the reads are.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs

from fastapi import Request

from ledger.http.state import settings_of

#: The session cookie's name.
COOKIE = "ledger_dashboard_session"
_CONTEXT = b"delivery-ledger dashboard session v1"
#: The largest sign-in form read (a token and a path).
MAX_FORM_BYTES = 8192


def session_value(token: str) -> str:
    """The cookie's value for ``token``: HMAC-SHA-256 of a fixed context, keyed by the token."""
    return hmac.new(token.encode("utf-8"), _CONTEXT, hashlib.sha256).hexdigest()


def signed_in(request: Request) -> bool:
    """Whether ``request`` may see the pages: no token set, its session cookie, or the bearer token."""
    token = settings_of(request).api_token
    if token is None:
        return True
    cookie = request.cookies.get(COOKIE)
    if cookie is not None and hmac.compare_digest(cookie.encode(), session_value(token).encode()):
        return True
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(credentials.encode(), token.encode())


def has_session(request: Request) -> bool:
    """Whether ``request`` came with a session cookie (so the pages offer to sign out)."""
    return settings_of(request).api_token is not None and COOKIE in request.cookies


def token_matches(request: Request, given: str) -> bool:
    """Whether ``given`` is the API token (compared in constant time)."""
    token = settings_of(request).api_token
    return token is not None and hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


async def read_form(request: Request) -> dict[str, str]:
    """A small ``application/x-www-form-urlencoded`` body as fields (the first of each); {} if too large."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return {}
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def safe_next(path: str | None, default: str) -> str:
    """Where to go after signing in: a path on this server only (no other host, no scheme)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return default
    return path

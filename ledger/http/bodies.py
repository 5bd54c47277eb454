"""Request bodies as the provider signs them: raw bytes, read within the size limit, signature checked.

The provider signs the raw body (``x-connectly-hmac-sha256``: base64 of the HMAC-SHA256
of the bytes sent), so the handlers read bytes, never a parsed model.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from fastapi import Request
from starlette.requests import ClientDisconnect

from ledger.http.problems import RequestRefusedError
from ledger.http.state import settings_of

SIGNATURE_HEADER = "x-connectly-hmac-sha256"


def sign(secret: str, body: bytes) -> str:
    """The provider's signature of ``body``: base64(HMAC-SHA256(secret, body))."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode("ascii")


async def signed_body(request: Request) -> bytes:
    """A dependency: the raw body, within the settings' size limit, its signature checked if a secret is set."""
    settings = settings_of(request)
    body = await read_body(request, settings.max_body)
    check_signature(settings.secret, request, body)
    return body


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, read no further than ``limit`` bytes whatever Content-Length claims."""
    too_large = RequestRefusedError("too_large", f"the body is over {limit} bytes")
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
        raise RequestRefusedError("disconnected", "the client went away before the end of the body") from None
    return b"".join(chunks)


def check_signature(secret: str | None, request: Request, body: bytes) -> None:
    """Refuse ``body`` unless its signature header matches (``secret`` ``None``: no check)."""
    if secret is None:
        return
    given = request.headers.get(SIGNATURE_HEADER)
    if given is None:
        raise RequestRefusedError("unsigned", f"the {SIGNATURE_HEADER} header is missing")
    # Starlette decodes header values as latin-1: encoding them back gives the bytes sent.
    if not hmac.compare_digest(given.encode("latin-1"), sign(secret, body).encode("ascii")):
        raise RequestRefusedError("bad_signature", f"the {SIGNATURE_HEADER} header does not match the body")

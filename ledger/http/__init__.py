"""The HTTP receiver: Connectly webhooks in, the ledger's answers out (DESIGN §5).

A thin shell over the public API, like :mod:`ledger.cli`: :class:`Receiver` holds the
routes as one ``APIRouter`` that a host FastAPI application includes (with their
lifespan); :func:`create_app` builds the receiver's own application from
:class:`ServerSettings`; :func:`run` serves it with uvicorn (``ledger serve``).  It needs
the ``server`` extra (FastAPI, uvicorn).

Webhooks are signed by the provider (``x-connectly-hmac-sha256``: base64 of the
HMAC-SHA256 of the raw body) and answered only after their report is committed, by
the group-commit writer (:mod:`ledger.batching`): 200 with the outcome (a
contradiction too: a retry cannot fix it), 400 for a malformed body (kept in the
rejection store), 401 for a bad signature, 413 for a body over the limit, 503 when the
database is unavailable (the provider retries); every error body is an RFC 9457 problem
(:mod:`ledger.http.problems`).  Reads show phone numbers: they, and ``POST
/messages/sent`` (the host's own record of a send), need ``Authorization: Bearer
<token>`` when a token is set.

Modules: ``receiver`` (the routers and their lifespan), ``app`` (the receiver's own
application), ``webhooks``, ``reads``, ``health`` and ``metrics`` (one router each), ``bodies`` (size
limit and signature), ``settings``, ``runtime`` (what the lifespan opens), ``state``,
``problems``, ``openapi``, ``docs`` (the API docs pages, their assets in ``static/``) and ``serve``.
"""

from ledger.http.app import create_app
from ledger.http.bodies import SIGNATURE_HEADER, sign
from ledger.http.receiver import Receiver
from ledger.http.serve import listen, run
from ledger.http.settings import WEBHOOK_PATH, ServerSettings, exposure_notes

__all__ = [
    "SIGNATURE_HEADER",
    "WEBHOOK_PATH",
    "Receiver",
    "ServerSettings",
    "create_app",
    "exposure_notes",
    "listen",
    "run",
    "sign",
]

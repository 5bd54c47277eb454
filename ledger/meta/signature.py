"""Meta's webhook checks, as pure functions: the body's signature and the subscription handshake.

Meta signs each POST with ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body,
key = the app secret>``.  Before it sends anything it makes a ``GET`` with
``hub.mode=subscribe``, ``hub.verify_token`` (the token you gave it) and ``hub.challenge``:
the endpoint answers the challenge as plain text when the token matches, 403 otherwise.
Both comparisons are constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

#: The header that carries the body's signature.
SIGNATURE_HEADER = "X-Hub-Signature-256"


def sign(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends with ``body``: ``sha256=`` and the hex digest."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(app_secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` is Meta's signature of the raw ``body`` (False when it is missing)."""
    if not header:
        return False
    return hmac.compare_digest(sign(app_secret, body).encode("ascii"), header.strip().encode("utf-8", "replace"))


def verify_subscription(params: Mapping[str, str], verify_token: str) -> str | None:
    """The challenge to answer for the handshake's query ``params``, or ``None`` (answer 403).

    ``None`` unless ``hub.mode`` is ``subscribe`` and ``hub.verify_token`` is ``verify_token``.
    """
    if params.get("hub.mode") != "subscribe":
        return None
    token = params.get("hub.verify_token")
    if token is None or not hmac.compare_digest(token.encode("utf-8", "replace"), verify_token.encode("utf-8")):
        return None
    return params.get("hub.challenge")

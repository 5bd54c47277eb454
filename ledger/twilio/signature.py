"""Twilio's request signature, as a pure function.

``X-Twilio-Signature`` is base64(HMAC-SHA1(key = the auth token, message = the full public
URL of the webhook followed by every POST parameter's name and value, sorted by name)).
The URL is the one Twilio was given: behind a proxy the server cannot know it, so it is
configured, never read from the request.  The comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping

#: The header that carries the signature.
SIGNATURE_HEADER = "X-Twilio-Signature"

#: POST parameters: a mapping, or name/value pairs (a name may repeat).
Params = Mapping[str, str] | Iterable[tuple[str, str]]


def sign(auth_token: str, url: str, params: Params) -> str:
    """The ``X-Twilio-Signature`` of a POST of ``params`` to ``url``.

    Names are sorted; a repeated name contributes each distinct value, in sorted order
    (as Twilio's own helper libraries do).
    """
    pairs = params.items() if isinstance(params, Mapping) else params
    values: dict[str, set[str]] = {}
    for name, value in pairs:
        values.setdefault(name, set()).add(value)
    message = url + "".join(name + value for name in sorted(values) for value in sorted(values[name]))
    digest = hmac.new(auth_token.encode("utf-8"), message.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_signature(auth_token: str, url: str, params: Params, header: str | None) -> bool:
    """Whether ``header`` is Twilio's signature of ``params`` posted to ``url`` (False when missing)."""
    if not header:
        return False
    expected = sign(auth_token, url, params).encode("ascii")
    return hmac.compare_digest(expected, header.strip().encode("utf-8", "replace"))

"""The receiver's OpenAPI document: what API users read at ``/openapi.json``.

Part of the HTTP shell (:mod:`ledger.http`).  The handlers read raw bodies (the signature
covers the bytes), so FastAPI cannot infer their schemas: :func:`body_docs` declares them
and :func:`install` adds them, with a description written for API users.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import TypeAdapter

from ledger.http import problems
from ledger.http.bodies import SIGNATURE_HEADER

DESCRIPTION = f"""\
Receives Connectly's `delivery_status` webhooks for WhatsApp messages, keeps every report in
an append-only ledger, and answers reads: where a message stands, its history, the failure
report and the delivery funnel.

## Authentication

- **Webhooks**, when the receiver has a webhook secret, must be signed by the provider: the
  `{SIGNATURE_HEADER}` header holds base64(HMAC-SHA256(secret, raw body)).  A missing or
  wrong signature is answered 401 and nothing is stored.
- **Meta and Twilio webhooks**, served when configured, are checked with each provider's own
  scheme: `X-Hub-Signature-256` (`sha256=` and the hex HMAC-SHA256 of the raw body, key = the
  app secret) and `X-Twilio-Signature` (base64 HMAC-SHA1 of the configured public URL followed
  by the sorted parameters, key = the auth token).
- **Reads** (`/messages...`, `/rejections`, `/reports/...`) and **`POST /messages/sent`** (your
  own service recording what it sent), when the receiver has an API token, need
  `Authorization: Bearer <token>`; reads show recipients' phone numbers.

A webhook is answered once its report is stored: 200 with what the report did (a report that
contradicts the message's history too: it is kept, and sending it again changes nothing).
After a 503 nothing was stored: send it again after `Retry-After` seconds.

## Errors

Every error is answered with problem details (RFC 9457, `application/problem+json`): `type`,
`title`, `status`, `detail` (what was wrong with this request) and `error`, a short code.
`type` is `{problems.TYPE_PREFIX}` followed by the code: a name for the problem, not a link.
The codes:

{problems.describe()}
"""


def inline_schema(adapter: TypeAdapter[Any]) -> dict[str, Any]:
    """``adapter``'s JSON schema with its definitions written in place, so it needs no components.

    (A host application that includes the receiver's router gets whole schemas in its own
    document.)  The models have no recursive definitions.
    """
    schema = adapter.json_schema(ref_template="#/$defs/{model}")
    definitions = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            reference = node.get("$ref", "")
            if reference.startswith("#/$defs/"):
                return resolve(definitions[reference.removeprefix("#/$defs/")])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def webhook_schema(adapter: TypeAdapter[Any]) -> dict[str, Any]:
    """The delivery_status webhook's schema, its timestamp described as it is accepted."""
    schema = inline_schema(adapter)
    # A validator turns Unix seconds given as text into an integer before the schema's
    # check, so the generated schema says integer only: say both.
    schema["properties"]["timestamp"] = {
        "anyOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "integer", "minimum": 0}],
        "description": "Unix seconds, as a string (an integer is accepted too).",
    }
    return schema


def body_docs(schema: dict[str, Any], *, signed: bool, text: bool = False) -> dict[str, Any]:
    """The OpenAPI request body of ``schema``, and the signature header if ``signed``."""
    content: dict[str, Any] = {"application/json": {"schema": schema}}
    if text:
        content["text/plain"] = {"schema": {"type": "string", "description": "The same JSON document, as text."}}
    docs: dict[str, Any] = {"requestBody": {"required": True, "content": content}}
    if signed:
        description = "base64(HMAC-SHA256(secret, raw body))"
        docs["parameters"] = [
            {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"}}
            | {"description": description}
        ]
    return docs


def install(app: FastAPI) -> None:
    """Serve the document with :data:`DESCRIPTION` and problem details."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
            problems.as_problem_json(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

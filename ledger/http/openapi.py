"""The receiver's OpenAPI document: what API users read at ``/openapi.json``.

Part of the HTTP shell (:mod:`ledger.http`).  The handlers read raw bodies (the signature
covers the bytes), so FastAPI cannot infer their schemas: :func:`body_docs` declares them
and :func:`install` adds them, with a description written for API users.
"""

from __future__ import annotations

from collections.abc import Mapping
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

- **Webhooks and `POST /messages/sent`**, when the receiver has a webhook secret, must be
  signed: the `{SIGNATURE_HEADER}` header holds base64(HMAC-SHA256(secret, raw body)).  A
  missing or wrong signature is answered 401 and nothing is stored.
- **Reads** (`/messages/...`, `/reports/...`), when the receiver has an API token, need
  `Authorization: Bearer <token>`; they show recipients' phone numbers.

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


def body_docs(schema: str, *, signed: bool, text: bool = False) -> dict[str, Any]:
    """The OpenAPI request body ``schema`` (a component), and the signature header if ``signed``."""
    content: dict[str, Any] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}
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


def install(app: FastAPI, bodies: Mapping[str, TypeAdapter[Any]]) -> None:
    """Serve the document with :data:`DESCRIPTION`, the request ``bodies`` and problem details."""
    schemas: dict[str, Any] = {}
    for name, adapter in bodies.items():
        schema = adapter.json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[name] = schema
    if "DeliveryStatusWebhook" in schemas:
        # A validator turns Unix seconds given as text into an integer before the schema's
        # check, so the generated schema says integer only: say both.
        schemas["DeliveryStatusWebhook"]["properties"]["timestamp"] = {
            "anyOf": [{"type": "string", "pattern": "^[0-9]+$"}, {"type": "integer", "minimum": 0}],
            "description": "Unix seconds, as a string (an integer is accepted too).",
        }

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(title=app.title, version=app.version, description=DESCRIPTION, routes=app.routes)
            document.setdefault("components", {}).setdefault("schemas", {}).update(schemas)
            problems.as_problem_json(document)
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

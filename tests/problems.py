"""What every error answer of the HTTP receiver must be: RFC 9457 problem details."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import httpx

from ledger.http.problems import PLAIN_CODES, PROBLEMS, TYPE_PREFIX


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """``response`` is the problem ``code`` with ``status``, in the documented shape; its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert {"type", "title", "status", "detail", "error"} <= body.keys()
    assert (body["status"], body["error"]) == (status, code)
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if PLAIN_CODES.get(status) == code:
        assert (body["type"], body["title"]) == ("about:blank", HTTPStatus(status).phrase)
    else:
        assert (body["type"], body["title"]) == (TYPE_PREFIX + code, PROBLEMS[code].title)
        assert PROBLEMS[code].status == status
    return body

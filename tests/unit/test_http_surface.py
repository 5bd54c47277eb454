"""The HTTP receiver's surface, in process and without a database: error answers are
problem details, the OpenAPI document is written for API users, and ``ledger serve``
refuses to expose a ledger by default.

The application's lifespan (which opens the ledgers) is not run: a handler that needs
the ledger answers 503, and everything decided before it is answered as in production.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

import ledger
from benchmarks.baseline_server import BASELINE_PATH, baseline
from ledger.cli import app as cli
from ledger.http import SIGNATURE_HEADER, WEBHOOK_PATH, ServerSettings, create_app, exposure_notes, sign
from ledger.http.problems import MEDIA_TYPE, install
from tests.problems import assert_problem

SECRET = "webhook-secret"
TOKEN = "api-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
# Never opened: the lifespan does not run here.
UNOPENED = "sqlite:///never-opened.db"


def call(app: FastAPI, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request to ``app`` in process, its exceptions answered as a server would."""

    async def request() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(request())


@pytest.fixture(scope="module")
def receiver() -> FastAPI:
    return create_app(ServerSettings(url=UNOPENED, secret=SECRET, api_token=TOKEN))


def test_an_unknown_route_is_a_404_problem_that_says_only_its_status(receiver: FastAPI) -> None:
    body = assert_problem(call(receiver, "GET", "/nowhere"), 404, "no_route")
    assert "/nowhere" in body["detail"]


def test_a_wrong_method_is_a_405_problem_and_keeps_the_allow_header(receiver: FastAPI) -> None:
    response = call(receiver, "DELETE", "/healthz")
    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "GET"
    assert_problem(call(receiver, "GET", WEBHOOK_PATH), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("query", "named"),
    [("limit=0", "query.limit"), ("by=planet", "query.by"), ("since=yesterday", "query.since")],
)
def test_an_invalid_query_parameter_is_a_400_problem_naming_it(receiver: FastAPI, query: str, named: str) -> None:
    body = assert_problem(call(receiver, "GET", f"/reports/failures?{query}", headers=AUTH), 400, "invalid_request")
    assert body["detail"].startswith(f"{named}: ")


def test_an_invalid_send_record_is_a_400_problem_naming_the_field(receiver: FastAPI) -> None:
    response = call(receiver, "POST", "/messages/sent", content=b'{"id": "m-1"}', headers=AUTH)
    assert assert_problem(response, 400, "invalid_request")["detail"].startswith("recipient: ")


def test_signature_and_token_failures_are_401_problems() -> None:
    # The webhook needs the ledger before it reads a body; the benchmark's route reads
    # and checks the body with the same dependency, and needs no ledger.
    receiver = create_app(ServerSettings(url=UNOPENED, secret=SECRET, api_token=TOKEN), routers=[baseline])
    body = b'{"delivery_status": {}}'
    unsigned = call(receiver, "POST", BASELINE_PATH, content=body)
    forged = call(receiver, "POST", BASELINE_PATH, content=body, headers={SIGNATURE_HEADER: sign("other", body)})
    assert_problem(unsigned, 401, "unsigned")
    assert_problem(forged, 401, "bad_signature")
    for method, path in (("GET", "/reports/summary"), ("GET", "/messages"), ("GET", "/rejections")):
        no_token = call(receiver, method, path)
        assert_problem(no_token, 401, "unauthorized")
        assert no_token.headers["www-authenticate"] == "Bearer"


def test_the_send_record_needs_the_api_token_not_the_providers_signature(receiver: FastAPI) -> None:
    body = b'{"id": "m-1", "recipient": "+15550000000"}'
    signed = {SIGNATURE_HEADER: sign(SECRET, body)}
    assert_problem(call(receiver, "POST", "/messages/sent", content=body, headers=signed), 401, "unauthorized")
    wrong = {"Authorization": "Bearer not-the-token"}
    assert_problem(call(receiver, "POST", "/messages/sent", content=body, headers=wrong), 401, "unauthorized")
    # With the token, the request passes the guard and reaches the ledger (not running here).
    assert_problem(call(receiver, "POST", "/messages/sent", content=body, headers=AUTH), 503, "unavailable")


def test_a_body_over_the_limit_is_a_413_problem(receiver: FastAPI) -> None:
    body = b"x" * (ServerSettings().max_body + 1)
    response = call(receiver, "POST", "/messages/sent", content=body, headers=AUTH)
    assert_problem(response, 413, "too_large")


def test_a_ledger_that_is_not_running_is_a_503_problem_with_retry_after(receiver: FastAPI) -> None:
    response = call(receiver, "GET", "/messages/m-1", headers=AUTH)
    assert_problem(response, 503, "unavailable")
    assert response.headers["retry-after"] == "5"


def test_an_unexpected_failure_is_a_500_problem_that_does_not_repeat_the_exception() -> None:
    app = FastAPI()
    install(app)

    @app.get("/fails")
    def fails() -> None:
        raise RuntimeError("internal state +15550000000")

    body = assert_problem(call(app, "GET", "/fails"), 500, "internal")
    assert "+15550000000" not in body["detail"]


def test_the_openapi_document_describes_the_api_for_its_users(receiver: FastAPI) -> None:
    document = call(receiver, "GET", "/openapi.json").json()
    description = document["info"]["description"]
    for words in ("Authorization: Bearer", SIGNATURE_HEADER, "application/problem+json", "tag:delivery-ledger"):
        assert words in description
    # Written for API users: no module docstring, no internal design documents.
    assert "DESIGN" not in description
    assert ":mod:" not in description


def test_every_documented_error_is_one_problem_model_as_problem_json(receiver: FastAPI) -> None:
    document = call(receiver, "GET", "/openapi.json").json()
    errors = 0
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert "422" not in operation["responses"]
            for status, answer in operation["responses"].items():
                if int(status) < 400 or path == "/readyz":  # /readyz's 503 is its status report.
                    continue
                errors += 1
                assert answer["content"] == {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    assert errors >= 15
    problem = document["components"]["schemas"]["Problem"]
    assert problem["required"] == ["type", "title", "status", "detail", "error"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


def test_the_library_serves_no_benchmark_route(receiver: FastAPI) -> None:
    body = json.dumps({"topic": "delivery_status"}).encode()
    response = call(receiver, "POST", BASELINE_PATH, content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)})
    assert_problem(response, 404, "no_route")
    assert not [route for route in receiver.routes if "benchmark" in getattr(route, "path", "")]


def test_the_benchmark_adds_its_baseline_route_outside_the_api_document() -> None:
    app = create_app(ServerSettings(url=UNOPENED, secret=SECRET, api_token=TOKEN), routers=[baseline])
    body = json.dumps({"topic": "delivery_status"}).encode()
    response = call(app, "POST", BASELINE_PATH, content=body, headers={SIGNATURE_HEADER: sign(SECRET, body)})
    assert (response.status_code, response.json()) == (200, {"kind": "baseline"})
    assert_problem(call(app, "POST", BASELINE_PATH, content=body), 401, "unsigned")
    assert BASELINE_PATH not in call(app, "GET", "/openapi.json").json()["paths"]


def test_serve_help_does_not_offer_the_benchmark_option() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert "--insecure-public" in result.output
    assert "benchmark" not in result.output.lower()
    refused = CliRunner().invoke(cli, ["serve", "--benchmark-baseline"], terminal_width=200)
    assert refused.exit_code == 2
    assert "No such option: --benchmark-baseline" in refused.output


@pytest.mark.parametrize(
    ("token", "secret", "missing"),
    [
        (None, None, "without an API token (--api-token) or a webhook secret (--secret)"),
        (TOKEN, None, "without a webhook secret (--secret): anyone who can connect could post forged statuses"),
        (None, SECRET, "without an API token (--api-token): anyone who can connect could read phone numbers"),
    ],
)
def test_a_public_address_needs_both_a_token_and_a_secret(token: str | None, secret: str | None, missing: str) -> None:
    settings = ServerSettings(url=UNOPENED, api_token=token, secret=secret)
    for host in ("0.0.0.0", "192.0.2.1", "::"):
        with pytest.raises(ValueError, match="refusing to listen") as refused:
            exposure_notes(settings, host)
        assert missing in str(refused.value)
    assert exposure_notes(ServerSettings(url=UNOPENED, api_token=TOKEN, secret=SECRET), "0.0.0.0") == []


def test_the_override_notes_each_thing_it_allowed_and_loopback_notes_them_too() -> None:
    settings = ServerSettings(url=UNOPENED)
    overridden = exposure_notes(settings, "0.0.0.0", insecure_public=True)
    assert len(overridden) == 2
    assert all("allowed by --insecure-public" in note for note in overridden)
    assert "read phone numbers" in overridden[0]
    assert "post forged statuses" in overridden[1]
    for host in ("127.0.0.1", "localhost", "::1"):
        local = exposure_notes(settings, host)
        assert len(local) == 2
        assert not any("--insecure-public" in note for note in local)


def test_without_the_server_extra_serve_says_what_to_install_with_its_brackets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As without the extra: the receiver is imported afresh and FastAPI cannot be.
    for name in [name for name in sys.modules if name == "ledger.http" or name.startswith("ledger.http.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fastapi", None)
    monkeypatch.delattr(ledger, "http", raising=False)
    result = CliRunner().invoke(cli, ["serve"], terminal_width=200)
    assert result.exit_code == 2
    assert result.output == "error: ledger serve needs the server extra: pip install 'delivery-ledger[server]'\n"

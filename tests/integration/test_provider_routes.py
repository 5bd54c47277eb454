"""Meta's and Twilio's webhooks against a real ``ledger serve``, each with its own signature.

The routes are served when configured (``--meta-app-secret``, ``--meta-verify-token``,
``--twilio-auth-token`` with ``--twilio-url``); each checks its provider's signature on the
raw body before anything is parsed, and a Meta body of many statuses of which one is
unknown applies the others and keeps the unknown one as an ``unmapped`` rejection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ledger import Status
from ledger.http import ServerSettings, create_app
from ledger.meta import sign as meta_sign
from ledger.meta.payloads import status_body
from ledger.twilio.payloads import callback_body
from ledger.twilio.signature import sign as twilio_sign
from tests.problems import assert_problem
from tests.servers import Server, serving

META_SECRET = "meta-app-secret"
VERIFY_TOKEN = "meta-verify-token"
TWILIO_TOKEN = "twilio-auth-token"
# What Twilio was given (behind a proxy): the server never reads its own address for it.
TWILIO_URL = "https://hooks.example.com/ledger/webhooks/twilio"
OPTIONS = (
    *("--meta-app-secret", META_SECRET, "--meta-verify-token", VERIFY_TOKEN),
    *("--twilio-auth-token", TWILIO_TOKEN, "--twilio-url", TWILIO_URL),
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("providers")
    with serving(f"sqlite:///{tmp / 'ledger.db'}", tmp / "serve.log", *OPTIONS) as running:
        yield running


def meta_body(*statuses: tuple[str, str]) -> bytes:
    """One Meta body holding every (wamid, status) given, in order."""
    body = status_body("w-0", Status.SENT, timestamp=1_767_000_000)
    template = body["entry"][0]["changes"][0]["value"]["statuses"][0]
    body["entry"][0]["changes"][0]["value"]["statuses"] = [
        template | {"id": wamid, "status": status} for wamid, status in statuses
    ]
    return json.dumps(body).encode()


def post_meta(server: Server, body: bytes, signature: str | None = "sign") -> httpx.Response:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = meta_sign(META_SECRET, body) if signature == "sign" else signature
    return server.http.post("/webhooks/meta", content=body, headers=headers)


def post_twilio(server: Server, body: str, signature: str | None = "sign") -> httpx.Response:
    headers = {"content-type": "application/x-www-form-urlencoded"}
    if signature is not None:
        params = httpx.QueryParams(body).multi_items()
        headers["X-Twilio-Signature"] = (
            twilio_sign(TWILIO_TOKEN, TWILIO_URL, params) if signature == "sign" else signature
        )
    return server.http.post("/webhooks/twilio", content=body.encode(), headers=headers)


def test_a_meta_body_of_many_statuses_one_unknown_applies_the_others(server: Server) -> None:
    body = meta_body(("m-1", "sent"), ("m-2", "delivered"), ("m-1", "deleted"), ("m-1", "read"))
    answer = post_meta(server, body)
    assert answer.status_code == 200, answer.text
    outcome = answer.json()
    assert outcome["provider"] == "meta"
    assert [o["kind"] for o in outcome["outcomes"]] == ["applied", "applied", "rejected", "applied"]
    assert "'deleted'" in outcome["outcomes"][2]["reason"]
    assert server.get("/messages/meta:m-1").json()["status"] == "read"
    assert server.get("/messages/meta:m-2").json()["status"] == "delivered"
    [kept] = server.get("/rejections", message_id="meta:m-1").json()
    assert kept["kind"] == "unmapped"
    # Sent again (the provider's retry): nothing new, the same rejection stays one.
    again = post_meta(server, body).json()
    assert [o["kind"] for o in again["outcomes"]] == ["duplicate", "duplicate", "rejected", "duplicate"]


@pytest.mark.parametrize(
    ("signature", "code"),
    [(None, "unsigned"), ("sha256=" + "0" * 64, "bad_signature"), ("garbage", "bad_signature")],
)
def test_a_meta_body_without_its_signature_is_refused_and_nothing_stored(
    server: Server, signature: str | None, code: str
) -> None:
    answer = post_meta(server, meta_body(("m-unsigned", "sent")), signature)
    assert_problem(answer, 401, code)
    assert server.get("/messages/meta:m-unsigned").status_code == 404


def test_a_meta_body_with_inbound_messages_only_is_counted(server: Server) -> None:
    body = json.loads(meta_body(("m-x", "sent")))
    value = body["entry"][0]["changes"][0]["value"]
    del value["statuses"]
    value["messages"] = [{"from": "16505551234", "id": "wamid.in", "timestamp": "1767000000", "type": "text"}]
    raw = json.dumps(body).encode()
    answer = post_meta(server, raw)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["outcomes"], answer.json()["inbound"]) == ([], 1)


def test_the_meta_handshake_answers_the_challenge_to_the_right_token_only(server: Server) -> None:
    params: dict[str, Any] = {"hub.mode": "subscribe", "hub.challenge": "1158201444"}
    answer = server.http.get("/webhooks/meta", params={**params, "hub.verify_token": VERIFY_TOKEN})
    assert (answer.status_code, answer.text) == (200, "1158201444")
    assert answer.headers["content-type"].startswith("text/plain")
    assert_problem(server.http.get("/webhooks/meta", params={**params, "hub.verify_token": "nope"}), 403, "forbidden")
    assert_problem(server.http.get("/webhooks/meta", params=params), 403, "forbidden")


def test_a_twilio_callback_signed_for_the_configured_url_is_applied(server: Server) -> None:
    answer = post_twilio(server, callback_body("SM1", Status.DELIVERED))
    assert answer.status_code == 200, answer.text
    assert [o["kind"] for o in answer.json()["outcomes"]] == ["applied"]
    assert server.get("/messages/twilio:SM1").json()["status"] == "delivered"
    failed = post_twilio(server, callback_body("SM2", Status.FAILED))
    assert failed.json()["outcomes"][0]["status"] == "failed"
    assert server.get("/messages/twilio:SM2").json()["error"]["code"] == "63016"


@pytest.mark.parametrize(("signature", "code"), [(None, "unsigned"), ("AAAA", "bad_signature")])
def test_a_twilio_callback_without_its_signature_is_refused(server: Server, signature: str | None, code: str) -> None:
    assert_problem(post_twilio(server, callback_body("SM3", Status.SENT), signature), 401, code)
    assert server.get("/messages/twilio:SM3").status_code == 404


def test_a_twilio_callback_signed_for_another_url_is_refused(server: Server) -> None:
    body = callback_body("SM4", Status.SENT)
    signature = twilio_sign(TWILIO_TOKEN, server.base_url + "/webhooks/twilio", httpx.QueryParams(body).multi_items())
    assert_problem(post_twilio(server, body, signature), 401, "bad_signature")


def test_routes_of_providers_not_configured_are_not_served(tmp_path: Path) -> None:
    app = create_app(ServerSettings(url=f"sqlite:///{tmp_path / 'ledger.db'}"))
    paths = app.openapi()["paths"]
    assert "post" in paths["/webhooks/connectly/delivery-status"]
    assert not {"/webhooks/meta", "/webhooks/twilio"} & set(paths)
    with pytest.raises(ValueError, match="auth token and its public URL"):
        ServerSettings(url=f"sqlite:///{tmp_path / 'ledger.db'}", twilio_auth_token="t")

"""Meta WhatsApp Cloud API webhooks: bodies of several statuses, inbound bodies, errors, signatures.

Public examples used as fixtures (5):

- ``DOCS_ERRORS``: Meta's "Errors messages webhooks reference", example, verbatim:
  https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/errors
- ``DOCS_STATUS``: Meta's "Status messages webhooks reference" syntax
  (https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/),
  its placeholders filled with the example values the reference pages give (phone number
  15550783881, ids 106540352242922 and 102290129340398, error 131026).
- ``TELEPIE_DELIVERED``: a delivered status with ``biz_opaque_callback_data``, verbatim from
  https://docs.telepie.com/api-reference/campaigns/whatsapp/message-api/sending-custom-parameters
- ``CAPTURED_SENT`` and ``CAPTURED_DELIVERED``: real Cloud API bodies published at
  http://playnow.my/WAWeb/data.txt (sent with conversation and pricing; delivered), verbatim.
- ``DASHBOARD_INBOUND``: the inbound text message Meta's App Dashboard sends as a test
  (same capture), verbatim.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import InvalidPayloadError, Ledger, Outcome, Status
from ledger.meta import STATUSES, parse_meta_body, sign, verify_signature, verify_subscription
from ledger.reports import SkippedReport, StatusReport

DOCS_ERRORS = (
    '{ "object": "whatsapp_business_account", "entry": [ { "id": "102290129340398", "changes": [ { "value": '
    '{ "messaging_product": "whatsapp", "metadata": { "display_phone_number": "15550783881", "phone_number_id": '
    '"106540352242922" }, "errors": [ { "code": 130429, "title": "Rate limit hit", "message": "Rate limit hit", '
    '"error_data": { "details": "Message failed to send because there were too many messages sent from this phone '
    'number in a short period of time" }, "href": "/documentation/business-messaging/whatsapp/support/error-codes" } ] '
    '}, "field": "messages" } ] } ] }'
)

DOCS_STATUS = """{ "object": "whatsapp_business_account", "entry": [ { "id": "102290129340398", "changes": [ {
"value": { "messaging_product": "whatsapp", "metadata": { "display_phone_number": "15550783881",
"phone_number_id": "106540352242922" }, "statuses": [ { "id": "wamid.docs1", "status": "failed",
"timestamp": "1750857384", "recipient_id": "16505551234", "biz_opaque_callback_data": "campaign-7",
"errors": [ { "code": 131026, "title": "Message undeliverable", "message": "Message undeliverable",
"error_data": { "details": "Message Undeliverable." }, "href": "/docs/whatsapp/cloud-api/support/error-codes/" } ]
} ] }, "field": "messages" } ] } ] }"""

TELEPIE_DELIVERED = """{"object": "whatsapp_business_account", "entry": [{"id": "112365665238904", "changes": [{
"value": {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "91XXXXXXXXXX",
"phone_number_id": "10XXXXXXXXXXXXXX"}, "statuses": [{"id":
"wamid.HBgMOTE3NTA3MDY2MzMxFQIAERgSQzZGNUVFOTgxMUUyMkI3MzVBAA==", "status": "delivered", "timestamp": "1709295133",
"recipient_id": "91XXXXXXXXXX", "biz_opaque_callback_data":
"{\\"source\\":\\"api\\",\\"date\\":\\"2024-03-01\\",\\"uuid\\":\\"fuif-0deu-dgyu-5674-jcur-jdu9-89eu\\"}",
"conversation": {"id": "a34a10abd87c7badad4d1fc5bafadd71", "origin": {"type": "marketing"}},
"pricing": {"billable": true, "pricing_model": "CBP", "category": "marketing"}}]}, "field": "messages"}]}]}"""

CAPTURED_SENT = (
    '{"object":"whatsapp_business_account","entry":[{"id":"122951744235903","changes":[{"value":{"messaging_product":'
    '"whatsapp","metadata":{"display_phone_number":"15550984277","phone_number_id":"114896151713920"},"statuses":[{"id":'
    '"wamid.HBgLNjAxNzM1MjYyMzMVAgARGBJCNkY5NTBENEU3ODYxQTM3RUQA","status":"sent","timestamp":"1694492482",'
    '"recipient_id":"60173526233","conversation":{"id":"f5fdae3920125a39a1e6a23e5f877c16","expiration_timestamp":'
    '"1694505360","origin":{"type":"utility"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"utility"}}]},'
    '"field":"messages"}]}]}'
)
CAPTURED_DELIVERED = (
    '{"object":"whatsapp_business_account","entry":[{"id":"122951744235903","changes":[{"value":{"messaging_product":'
    '"whatsapp","metadata":{"display_phone_number":"15550984277","phone_number_id":"114896151713920"},"statuses":[{"id":'
    '"wamid.HBgLNjAxNzM1MjYyMzMVAgARGBJCNkY5NTBENEU3ODYxQTM3RUQA","status":"delivered","timestamp":"1694492484",'
    '"recipient_id":"60173526233","conversation":{"id":"f5fdae3920125a39a1e6a23e5f877c16","origin":{"type":"utility"}},'
    '"pricing":{"billable":true,"pricing_model":"CBP","category":"utility"}}]},"field":"messages"}]}]}'
)
DASHBOARD_INBOUND = (
    '{"object":"whatsapp_business_account","entry":[{"id":"0","changes":[{"field":"messages","value":{"messaging_product":'
    '"whatsapp","metadata":{"display_phone_number":"16505551111","phone_number_id":"123456123"},"contacts":[{"profile":'
    '{"name":"test user name"},"wa_id":"16315551181"}],"messages":[{"from":"16315551181","id":"ABGGFlA5Fpa",'
    '"timestamp":"1504902988","type":"text","text":{"body":"this is a text message"}}]}}]}]}'
)

CAPTURED_ID = "meta:wamid.HBgLNjAxNzM1MjYyMzMVAgARGBJCNkY5NTBENEU3ODYxQTM3RUQA"


def body(*statuses: dict[str, Any], entries: int = 1) -> dict[str, Any]:
    """A Cloud API body whose every entry carries ``statuses``."""
    value = {"messaging_product": "whatsapp", "metadata": {"display_phone_number": "15550783881"}}
    change = {"field": "messages", "value": {**value, "statuses": list(statuses)}}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": str(i), "changes": [change]} for i in range(entries)],
    }


def status(wamid: str, name: str, timestamp: int = 1750857384, **extra: Any) -> dict[str, Any]:
    return {"id": wamid, "status": name, "timestamp": str(timestamp), "recipient_id": "16505551234", **extra}


def test_a_captured_sent_status_is_read_with_its_pricing_and_conversation_kept() -> None:
    (report,) = parse_meta_body(CAPTURED_SENT).items
    assert isinstance(report, StatusReport)
    assert (report.message_id, report.stage, report.occurred_at) == (
        CAPTURED_ID,
        Status.SENT,
        datetime(2023, 9, 12, 4, 21, 22, tzinfo=UTC),
    )
    assert (report.sender, report.recipient, report.channel) == ("+15550984277", "+60173526233", "whatsapp")
    kept = json.loads(report.raw)["entry"][0]["changes"][0]["value"]["statuses"][0]
    assert kept["pricing"] == {"billable": True, "pricing_model": "CBP", "category": "utility"}
    assert kept["conversation"]["expiration_timestamp"] == "1694505360"


def test_a_reports_raw_body_parses_back_to_the_same_report() -> None:
    (report,) = parse_meta_body(DOCS_STATUS).items
    assert isinstance(report, StatusReport)
    assert parse_meta_body(report.raw).items == (report,)


def test_a_failed_status_has_its_error_normalised() -> None:
    (report,) = parse_meta_body(DOCS_STATUS).items
    assert isinstance(report, StatusReport)
    assert report.error is not None
    assert (report.stage, report.error.code, report.error.type, report.error.message) == (
        Status.FAILED,
        "131026",
        "Message undeliverable",
        "Message undeliverable",
    )
    assert report.error.details == {
        "error_data": {"details": "Message Undeliverable."},
        "href": "/docs/whatsapp/cloud-api/support/error-codes/",
    }
    assert json.loads(report.raw)["entry"][0]["changes"][0]["value"]["statuses"][0]["biz_opaque_callback_data"] == (
        "campaign-7"
    )


def test_an_id_that_is_not_a_phone_number_is_kept_as_it_is() -> None:
    (report,) = parse_meta_body(TELEPIE_DELIVERED).items
    assert isinstance(report, StatusReport)
    assert (report.stage, report.recipient, report.sender) == (Status.DELIVERED, "91XXXXXXXXXX", "91XXXXXXXXXX")


@pytest.mark.parametrize(("example", "inbound"), [(DASHBOARD_INBOUND, 1), (DOCS_ERRORS, 1)])
def test_a_body_without_statuses_is_counted_not_refused(example: str, inbound: int) -> None:
    parsed = parse_meta_body(example)
    assert (parsed.items, parsed.inbound) == ((), inbound)
    with Ledger.in_memory() as ledger:
        outcome = ledger.ingest_body(example, provider="meta")
        assert (outcome.outcomes, outcome.inbound, outcome.malformed) == ((), inbound, False)
        assert ledger.rejections() == []


def test_several_entries_and_statuses_give_one_report_each_in_order() -> None:
    parsed = parse_meta_body(body(status("w1", "sent"), status("w2", "read"), entries=2))
    assert [(item.message_id, item.stage) for item in parsed.items if isinstance(item, StatusReport)] == [
        ("meta:w1", Status.SENT),
        ("meta:w2", Status.READ),
        ("meta:w1", Status.SENT),
        ("meta:w2", Status.READ),
    ]


@pytest.mark.parametrize("name", sorted(STATUSES))
def test_every_row_of_the_mapping_table_reaches_its_stage(name: str) -> None:
    with Ledger.in_memory() as ledger:
        (outcome,) = ledger.ingest_body(body(status("w1", name)), provider="meta").outcomes
        assert (outcome.kind, outcome.status) == (Outcome.APPLIED, STATUSES[name])
        assert ledger.message("meta:w1").status is STATUSES[name]


def test_an_unknown_status_is_kept_and_fails_none_of_the_others() -> None:
    many = body(status("w1", "sent"), status("w1", "deleted"), status("w2", "delivered"), status("w1", "read"))
    with Ledger.in_memory() as ledger:
        result = ledger.ingest_body(many, provider="meta")
        assert [o.kind for o in result.outcomes] == [
            Outcome.APPLIED,
            Outcome.REJECTED,
            Outcome.APPLIED,
            Outcome.APPLIED,
        ]
        assert "'deleted' is not in its mapping table" in (result.outcomes[1].reason or "")
        assert (ledger.message("meta:w1").status, ledger.message("meta:w2").status) == (Status.READ, Status.DELIVERED)
        (kept,) = ledger.rejections()
        assert (kept.kind, kept.message_id) == ("unmapped", "meta:w1")
        assert json.loads(kept.raw)["entry"][0]["changes"][0]["value"]["statuses"][0]["status"] == "deleted"


def test_an_unknown_status_is_a_skipped_report_naming_it() -> None:
    (item,) = parse_meta_body(body(status("w1", "warning"))).items
    assert isinstance(item, SkippedReport)
    assert (item.message_id, item.provider_status, item.stage) == ("meta:w1", "warning", None)


def test_a_malformed_status_is_refused_alone() -> None:
    broken = body(status("w1", "sent"), {"status": "read", "timestamp": "1"}, status("w2", "sent"))
    with Ledger.in_memory() as ledger:
        result = ledger.ingest_body(broken, provider="meta")
        assert [(o.kind, o.malformed) for o in result.outcomes] == [
            (Outcome.APPLIED, False),
            (Outcome.REJECTED, True),
            (Outcome.APPLIED, False),
        ]
        assert [r.kind for r in ledger.rejections()] == ["malformed"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ("not json", "body is not JSON"),
        ("[]", "must be a JSON object"),
        ('{"object": "page", "entry": []}', "object: must be 'whatsapp_business_account'"),
        ('{"object": "whatsapp_business_account"}', "entry: must be a list"),
    ],
)
def test_a_body_that_is_not_a_cloud_api_webhook_is_refused_and_kept(payload: str, reason: str) -> None:
    with pytest.raises(InvalidPayloadError, match=reason):
        parse_meta_body(payload)
    with Ledger.in_memory() as ledger:
        result = ledger.ingest_body(payload, provider="meta")
        assert result.malformed
        assert [(r.kind, r.raw) for r in ledger.rejections()] == [("malformed", payload.encode())]


def test_the_signature_is_the_hex_hmac_sha256_of_the_raw_body() -> None:
    # Computed independently: printf '%s' '{"a":1}' | openssl dgst -sha256 -hmac secret
    assert sign("secret", b'{"a":1}') == "sha256=aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
    header = sign("app-secret", CAPTURED_SENT.encode())
    assert verify_signature("app-secret", CAPTURED_SENT.encode(), header)
    assert not verify_signature("other-secret", CAPTURED_SENT.encode(), header)
    assert not verify_signature("app-secret", CAPTURED_SENT.encode() + b" ", header)
    assert not verify_signature("app-secret", CAPTURED_SENT.encode(), None)
    assert not verify_signature("app-secret", CAPTURED_SENT.encode(), header.removeprefix("sha256="))


def test_the_handshake_answers_the_challenge_only_to_the_right_token() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert verify_subscription(params, "tok") == "1158201444"
    assert verify_subscription(params, "other") is None
    assert verify_subscription({**params, "hub.mode": "unsubscribe"}, "tok") is None
    assert verify_subscription({"hub.mode": "subscribe", "hub.challenge": "1"}, "tok") is None


def test_pricing_and_conversation_are_kept_on_the_message() -> None:
    with Ledger.in_memory() as ledger:
        ledger.ingest_body(CAPTURED_DELIVERED, provider="meta")
        ledger.ingest_body(CAPTURED_SENT, provider="meta")  # late: fills in what delivered lacked
        facts = ledger.message(CAPTURED_ID).facts
        assert facts == {
            "pricing_category": "utility",
            "pricing_model": "CBP",
            "billable": "true",
            "conversation_id": "f5fdae3920125a39a1e6a23e5f877c16",
            "conversation_origin": "utility",
            "conversation_expires_at": "1694505360",
        }
        assert ledger.message(CAPTURED_ID).to_dict()["facts"] == facts


def test_a_status_without_pricing_has_no_facts() -> None:
    (report,) = parse_meta_body(body(status("w1", "read"))).items
    assert isinstance(report, StatusReport)
    assert report.facts is None


@pytest.mark.parametrize("payload", [None, 7, ["x"], b"\xff"])
def test_odd_python_values_are_refused_not_raised(payload: object) -> None:
    with Ledger.in_memory() as ledger:
        assert ledger.ingest_body(payload, provider="meta").malformed  # type: ignore[arg-type]


def test_a_status_with_an_unserialisable_python_value_is_refused_alone() -> None:
    odd = body(status("w1", "sent"))
    odd["entry"][0]["changes"][0]["value"]["metadata"]["x"] = {1, 2}
    with Ledger.in_memory() as ledger:
        (outcome,) = ledger.ingest_body(odd, provider="meta").outcomes
        assert (outcome.kind, outcome.malformed) == (Outcome.REJECTED, True)
        assert "not JSON-serialisable" in (outcome.reason or "")

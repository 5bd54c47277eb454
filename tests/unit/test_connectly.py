"""Parsing Connectly delivery_status payloads into provider-neutral reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from ledger import DeliveryError, InvalidPayloadError, Payload, Status, parse_delivery_status
from ledger.connectly import MAX_PAYLOAD_BYTES, delivery_status_payload

# The two examples of the provider's documentation, verbatim.
SPEC_DELIVERED = """{
  "topic": "delivery_status",
  "timestamp": "1641513098",
  "sender": {"id": "+16044441111", "channelType": "whatsapp"},
  "recipient": {"id": "+16044551234", "channelType": "whatsapp"},
  "statusUpdate": {"id": "01FRRWW2ZAHD9GJ1SWY4VF2GBD", "status": "delivered", "error": null}
}"""
SPEC_FAILED = """{
  "topic": "delivery_status",
  "timestamp": "1641512856",
  "sender": {"id": "+16044441111", "channelType": "whatsapp"},
  "recipient": {"id": "+60445551234", "channelType": "whatsapp"},
  "statusUpdate": {
    "id": "01FRRWMSAMKNFZAMBPQ65CA7DD",
    "status": "delivery_failed",
    "error": {
      "message": "Message template inputs invalid",
      "type": "ERROR_TYPE_INVALID_REQUEST",
      "code": "ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID",
      "userTitle": "Message template inputs invalid",
      "userMessage": "Pass along the connectly trace id 'cnct_trace_id' to the team for more information.",
      "cntTraceId": "10827968052975079261",
      "details": {}
    }
  }
}"""


def test_parses_the_spec_delivered_example() -> None:
    report = parse_delivery_status(SPEC_DELIVERED)
    assert report.message_id == "01FRRWW2ZAHD9GJ1SWY4VF2GBD"
    assert report.stage is Status.DELIVERED
    assert report.occurred_at == datetime(2022, 1, 6, 23, 51, 38, tzinfo=UTC)
    assert (report.sender, report.recipient, report.channel) == ("+16044441111", "+16044551234", "whatsapp")
    assert report.error is None
    assert report.raw == SPEC_DELIVERED


def test_parses_the_spec_failure_example_with_its_error_object() -> None:
    report = parse_delivery_status(SPEC_FAILED.encode())
    assert report.stage is Status.FAILED
    assert report.error == DeliveryError(
        code="ERROR_CODE_MESSAGE_TEMPLATE_INPUT_INVALID",
        type="ERROR_TYPE_INVALID_REQUEST",
        message="Message template inputs invalid",
        user_title="Message template inputs invalid",
        user_message="Pass along the connectly trace id 'cnct_trace_id' to the team for more information.",
        trace_id="10827968052975079261",
        details={},
    )


@pytest.mark.parametrize("form", [dict, str, bytes])
def test_accepts_a_dict_text_or_bytes(form: type) -> None:
    document = json.loads(SPEC_DELIVERED)
    forms: dict[type, Payload] = {dict: document, str: SPEC_DELIVERED, bytes: SPEC_DELIVERED.encode()}
    payload = forms[form]
    assert parse_delivery_status(payload).message_id == "01FRRWW2ZAHD9GJ1SWY4VF2GBD"


def test_accepts_an_integer_timestamp() -> None:
    document = json.loads(SPEC_DELIVERED) | {"timestamp": 1641513098}
    assert parse_delivery_status(document).occurred_at == datetime(2022, 1, 6, 23, 51, 38, tzinfo=UTC)


def test_keeps_unknown_fields_and_reads_the_campaign_name() -> None:
    document = json.loads(SPEC_DELIVERED)
    document["metadata"] = {"source": "api"}
    document["statusUpdate"]["metadata"] = {"campaignName": "black-friday"}
    document["futureField"] = [1, 2, 3]
    report = parse_delivery_status(document)
    assert report.campaign == "black-friday"
    assert json.loads(report.raw)["futureField"] == [1, 2, 3]


def test_a_failure_without_an_error_object_has_an_empty_error() -> None:
    document = json.loads(SPEC_FAILED)
    document["statusUpdate"]["error"] = None
    assert parse_delivery_status(document).error == DeliveryError()


def test_an_integer_trace_id_becomes_text() -> None:
    document = json.loads(SPEC_FAILED)
    document["statusUpdate"]["error"]["cntTraceId"] = 10827968052975079261
    report = parse_delivery_status(document)
    assert report.error is not None
    assert report.error.trace_id == "10827968052975079261"


def _without(path: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SPEC_DELIVERED)
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    del node[last]
    return document


def _with(path: str, value: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(SPEC_DELIVERED)
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    node[last] = value
    return document


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        (_without("statusUpdate.id"), "statusUpdate.id"),
        (_with("statusUpdate.id", ""), "statusUpdate.id"),
        (_with("statusUpdate.id", "x" * 257), "statusUpdate.id"),
        (_with("statusUpdate.status", "bounced"), "statusUpdate.status"),
        (_with("topic", "message"), "topic"),
        (_with("timestamp", "yesterday"), "timestamp"),
        (_with("timestamp", -5), "timestamp"),
        (_with("timestamp", True), "timestamp"),
        (_with("timestamp", 1.5), "timestamp"),
        (_without("recipient"), "recipient"),
        (_with("sender", "+1604"), "sender"),
        (_with("statusUpdate.error", "oops"), "statusUpdate.error"),
    ],
)
def test_malformed_payloads_name_the_offending_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        parse_delivery_status(payload)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b"\xff\xfe", "not UTF-8"),
        ("{not json", "not JSON"),
        ("[1, 2]", "JSON object"),
        ("", "not JSON"),
        (b"x" * (MAX_PAYLOAD_BYTES + 1), "limit"),
        ("[" * 100_000 + "]" * 100_000, "limit"),
        (42, "expected a JSON object"),
    ],
)
def test_undecodable_bodies_are_invalid_payloads(payload: Any, words: str) -> None:
    with pytest.raises(InvalidPayloadError, match=words):
        parse_delivery_status(payload)


def test_the_payload_builder_round_trips() -> None:
    error = DeliveryError(code="ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT", type="ERROR_TYPE_UNSPECIFIED", trace_id="7")
    payload = delivery_status_payload("m-9", Status.FAILED, timestamp=1641513098, error=error, campaign="c")
    report = parse_delivery_status(payload)
    assert (report.message_id, report.stage, report.campaign) == ("m-9", Status.FAILED, "c")
    assert report.error == error


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ('"m\\u0000-1"', "statusUpdate.id", "NUL"),
        ('"m\\ud800-1"', "statusUpdate.id", "(?i)unicode|surrogate"),
    ],
)
def test_identifiers_no_database_can_store_are_refused(text: str, field: str, words: str) -> None:
    body = SPEC_DELIVERED.replace('"01FRRWW2ZAHD9GJ1SWY4VF2GBD"', text)
    with pytest.raises(InvalidPayloadError, match=words) as caught:
        parse_delivery_status(body)
    assert caught.value.field == field


def test_a_dict_with_an_unpaired_surrogate_is_refused() -> None:
    document = json.loads(SPEC_DELIVERED)
    document["statusUpdate"]["id"] = "m\ud800"
    with pytest.raises(InvalidPayloadError, match="not valid Unicode"):
        parse_delivery_status(document)


def test_an_odd_campaign_name_is_left_in_the_raw_payload() -> None:
    document = json.loads(SPEC_DELIVERED)
    document["statusUpdate"]["metadata"] = {"campaignName": "bad\u0000name"}
    report = parse_delivery_status(document)
    assert report.campaign is None
    assert "bad\\u0000name" in report.raw

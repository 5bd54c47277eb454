"""Twilio status callbacks for WhatsApp: form bodies, the mapping table, and Twilio's signature.

Public examples used as fixtures:

- the signature's worked example (URL ``https://mycompany.com/myapp.php?foo=1&bar=2``, auth
  token ``12345``, five POST parameters, signature ``RSOYDt4T1cUTdK1PDd93/VVr8B8=``) and its
  repeated-parameter variant (``IK+Dwps556ElfBT0I3Rgjkr1wJU=``), from Twilio's own helper
  library tests, https://github.com/twilio/twilio-python/blob/main/tests/unit/test_request_validator.py
  (the example of Twilio's security docs, https://www.twilio.com/docs/usage/security);
- the callback's fields: the property table of "Track the message status of outbound messages",
  https://www.twilio.com/docs/messaging/guides/track-outbound-message-status (no verbatim body
  is published there; ``CALLBACK`` is written from that table).
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest

from ledger import InvalidPayloadError, Ledger, Outcome, Status
from ledger.reports import SkippedReport, StatusReport
from ledger.twilio import STATUSES, parse_twilio_body, sign, status_callback_body, verify_signature

WORKED_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
WORKED_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
WORKED_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="

CALLBACK = (
    "MessageSid=SM1342fe1b2c904d1ab04f0fc7a58abca9&SmsSid=SM1342fe1b2c904d1ab04f0fc7a58abca9"
    "&AccountSid=AC00000000000000000000000000000000&MessagingServiceSid=MG00000000000000000000000000000000"
    "&From=whatsapp%3A%2B14155238886&To=whatsapp%3A%2B15017122661&MessageStatus=delivered&SmsStatus=delivered"
    "&ChannelToAddress=%2B15017122661&ChannelPrefix=whatsapp&ApiVersion=2010-04-01"
)
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def callback(status: str, **fields: str) -> str:
    base = dict(parse_qsl(CALLBACK))
    return status_callback_body({**base, "MessageStatus": status, "SmsStatus": status, **fields})


def test_the_worked_example_of_twilios_docs_is_signed_as_documented() -> None:
    assert sign("12345", WORKED_URL, WORKED_PARAMS) == WORKED_SIGNATURE
    assert verify_signature("12345", WORKED_URL, WORKED_PARAMS, WORKED_SIGNATURE)


def test_a_repeated_parameter_signs_each_value_in_order() -> None:
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert sign("12345", WORKED_URL, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


@pytest.mark.parametrize(
    ("token", "url", "params", "header"),
    [
        ("54321", WORKED_URL, WORKED_PARAMS, WORKED_SIGNATURE),
        ("12345", "https://mycompany.com/myapp.php", WORKED_PARAMS, WORKED_SIGNATURE),
        ("12345", WORKED_URL, {**WORKED_PARAMS, "Digits": "1235"}, WORKED_SIGNATURE),
        ("12345", WORKED_URL, WORKED_PARAMS, None),
        ("12345", WORKED_URL, WORKED_PARAMS, ""),
        ("12345", WORKED_URL, WORKED_PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8"),
    ],
)
def test_any_other_token_url_parameter_or_header_fails(
    token: str, url: str, params: dict[str, str], header: str | None
) -> None:
    assert not verify_signature(token, url, params, header)


def test_a_callback_is_read_with_its_whatsapp_addresses() -> None:
    (report,) = parse_twilio_body(CALLBACK, received_at=AT).items
    assert isinstance(report, StatusReport)
    assert (report.message_id, report.stage, report.occurred_at) == (
        "twilio:SM1342fe1b2c904d1ab04f0fc7a58abca9",
        Status.DELIVERED,
        AT,
    )
    assert (report.sender, report.recipient, report.channel) == ("+14155238886", "+15017122661", "whatsapp")
    assert report.raw == CALLBACK


@pytest.mark.parametrize("status", ["undelivered", "failed"])
def test_a_failure_keeps_twilios_error_code_and_message(status: str) -> None:
    body = callback(status, ErrorCode="63016", ErrorMessage="Failed to send freeform message")
    (report,) = parse_twilio_body(body.encode(), received_at=AT).items
    assert isinstance(report, StatusReport)
    assert report.error is not None
    assert (report.stage, report.error.code, report.error.message) == (
        Status.FAILED,
        "63016",
        "Failed to send freeform message",
    )


@pytest.mark.parametrize("status", sorted(STATUSES))
def test_every_row_of_the_mapping_table_is_decided_as_it_says(status: str) -> None:
    with Ledger.in_memory(clock=lambda: AT) as ledger:
        (outcome,) = ledger.ingest_body(callback(status), provider="twilio").outcomes
        stage = STATUSES[status]
        if stage is Status.ACCEPTED:
            assert (outcome.kind, outcome.status) == (Outcome.DUPLICATE, None)
            assert f"{status!r} means accepted" in (outcome.reason or "")
        else:
            assert (outcome.kind, outcome.status) == (Outcome.APPLIED, stage)
            assert ledger.message("twilio:SM1342fe1b2c904d1ab04f0fc7a58abca9").status is stage


def test_an_unknown_status_is_kept_as_an_unmapped_rejection() -> None:
    with Ledger.in_memory() as ledger:
        (outcome,) = ledger.ingest_body(callback("partially_delivered"), provider="twilio").outcomes
        assert (outcome.kind, outcome.malformed) == (Outcome.REJECTED, False)
        (kept,) = ledger.rejections()
        assert (kept.kind, kept.message_id, kept.text) == (
            "unmapped",
            "twilio:SM1342fe1b2c904d1ab04f0fc7a58abca9",
            callback("partially_delivered"),
        )


def test_an_unknown_status_is_a_skipped_report() -> None:
    (item,) = parse_twilio_body(callback("Paused"), received_at=AT).items
    assert isinstance(item, SkippedReport)
    assert (item.provider_status, item.stage) == ("paused", None)


def test_an_inbound_message_is_counted() -> None:
    parsed = parse_twilio_body(callback("received"), received_at=AT)
    assert (parsed.items, parsed.inbound) == ((), 1)


def test_a_number_without_a_channel_prefix_is_sms() -> None:
    (report,) = parse_twilio_body(callback("sent", To="+15017122661"), received_at=AT).items
    assert isinstance(report, StatusReport)
    assert (report.recipient, report.channel) == ("+15017122661", "sms")


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("MessageStatus=sent", "MessageSid: is required"),
        ("MessageSid=SM1", "MessageStatus: is required"),
        ("MessageSid=SM1%00&MessageStatus=sent", "MessageSid: contains a NUL character"),
        (b"MessageSid=\xff", "not UTF-8"),
    ],
)
def test_a_malformed_callback_is_refused(body: str | bytes, reason: str) -> None:
    with pytest.raises(InvalidPayloadError, match=reason):
        parse_twilio_body(body, received_at=AT)
    with Ledger.in_memory() as ledger:
        assert ledger.ingest_body(body, provider="twilio").malformed
        assert [r.kind for r in ledger.rejections()] == ["malformed"]


@pytest.mark.parametrize(
    "body", [{"MessageSid": "SM\ud800", "MessageStatus": "sent"}, None, 7, ["MessageSid=SM1"], {"MessageSid": 1}]
)
def test_odd_python_values_are_refused_not_raised(body: object) -> None:
    with Ledger.in_memory() as ledger:
        result = ledger.ingest_body(body, provider="twilio")  # type: ignore[arg-type]
        assert result.malformed
        assert [r.kind for r in ledger.rejections()] == ["malformed"]

"""Every shape of Connectly's public delivery_status examples, and where the campaign is read from.

Public examples used as fixtures (besides the two of ../shared/spec, in test_connectly.py):

- ``README_DELIVERED`` and ``README_FAILED``: "Webhook Payload", Connectly's API reference,
  https://connectly.readme.io/reference/webhook-payload ("Payload delivery status" puts
  ``metadata.campaign_name`` at the top level; "Payload delivery status error" puts it inside
  ``statusUpdate``, beside ``error``).  Verbatim but for whitespace.
- ``DOCS_DELIVERED``: the same page on https://docs.connectly.ai/message-api/webhook-api/webhook-payload,
  whose parties carry a ``name`` (the excerpt stored for us stops inside the recipient; the rest
  follows the readme.io example).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ledger import Ledger, Status, parse_delivery_status
from ledger.connectly import CAMPAIGN_PATHS, delivery_status_payload

README_DELIVERED = """{
  "topic": "delivery_status",
  "timestamp": "1641513098",
  "sender": {"id": "+16044441111", "channelType": "whatsapp"},
  "recipient": {"id": "+16044551234", "channelType": "whatsapp"},
  "statusUpdate": {"id": "01FRRWW2ZAHD9GJ1SWY4VF2GBD", "status": "delivered", "error": null},
  "metadata": {"campaign_name": "<YOUR_CAMPAIGN_NAME>"}
}"""
README_FAILED = """{
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
    },
    "metadata": {"campaign_name": "<YOUR_CAMPAIGN_NAME>"}
  }
}"""
DOCS_DELIVERED = """{
  "topic": "delivery_status",
  "timestamp": "1641513098",
  "sender": {"id": "+16044441234", "channelType": "whatsapp", "name": "connectlyai"},
  "recipient": {"id": "+16315555500", "channelType": "whatsapp", "name": "Vasi from Connectly"},
  "statusUpdate": {"id": "01FRRWW2ZAHD9GJ1SWY4VF2GBD", "status": "delivered", "error": null},
  "metadata": {"campaign_name": "<YOUR_CAMPAIGN_NAME>"}
}"""

#: The public examples above (the spec's two are in test_connectly.py).
PUBLIC_EXAMPLES = {"readme_delivered": README_DELIVERED, "readme_failed": README_FAILED, "docs": DOCS_DELIVERED}


def test_the_top_level_campaign_name_of_the_public_example_is_read() -> None:
    report = parse_delivery_status(README_DELIVERED)
    assert (report.message_id, report.stage, report.campaign) == (
        "01FRRWW2ZAHD9GJ1SWY4VF2GBD",
        Status.DELIVERED,
        "<YOUR_CAMPAIGN_NAME>",
    )


def test_the_campaign_name_inside_the_status_update_of_the_public_example_is_read() -> None:
    report = parse_delivery_status(README_FAILED)
    assert report.error is not None
    assert (report.stage, report.campaign, report.error.trace_id) == (
        Status.FAILED,
        "<YOUR_CAMPAIGN_NAME>",
        "10827968052975079261",
    )


def test_named_parties_are_tolerated_and_kept_in_the_raw_payload() -> None:
    report = parse_delivery_status(DOCS_DELIVERED)
    assert (report.sender, report.recipient, report.channel) == ("+16044441234", "+16315555500", "whatsapp")
    assert json.loads(report.raw)["recipient"]["name"] == "Vasi from Connectly"


@pytest.mark.parametrize("name", sorted(PUBLIC_EXAMPLES))
def test_every_public_example_is_applied_by_the_ledger(name: str) -> None:
    with Ledger.in_memory() as ledger:
        outcome = ledger.ingest(PUBLIC_EXAMPLES[name])
        assert (outcome.kind.value, outcome.malformed) == ("applied", False)
        assert ledger.message(outcome.message_id or "").campaign == "<YOUR_CAMPAIGN_NAME>"


def _with_campaigns(**places: str) -> dict[str, Any]:
    """A delivered body with a campaign name at each place named (camel, snake, top)."""
    body = delivery_status_payload("m-1", Status.DELIVERED, timestamp=1641513098)
    update_metadata: dict[str, str] = {}
    if "camel" in places:
        update_metadata["campaignName"] = places["camel"]
    if "snake" in places:
        update_metadata["campaign_name"] = places["snake"]
    if update_metadata:
        body["statusUpdate"]["metadata"] = update_metadata
    if "top" in places:
        body["metadata"] = {"campaign_name": places["top"]}
    return body


@pytest.mark.parametrize(
    ("places", "expected"),
    [
        ({"camel": "a", "snake": "b", "top": "c"}, "a"),
        ({"snake": "b", "top": "c"}, "b"),
        ({"camel": "a", "top": "c"}, "a"),
        ({"top": "c"}, "c"),
        ({}, None),
        # An unusable value at a more specific place gives way to the next one.
        ({"camel": "", "snake": "b"}, "b"),
        ({"camel": "x" * 300, "top": "c"}, "c"),
        ({"snake": "bad\u0000name", "top": "c"}, "c"),
    ],
)
def test_the_most_specific_usable_campaign_name_wins(places: dict[str, str], expected: str | None) -> None:
    body = _with_campaigns(**places)
    assert parse_delivery_status(body).campaign == expected
    assert parse_delivery_status(json.dumps(body)).campaign == expected


def test_the_campaign_paths_are_documented_most_specific_first() -> None:
    assert CAMPAIGN_PATHS == (
        ("statusUpdate", "metadata", "campaignName"),
        ("statusUpdate", "metadata", "campaign_name"),
        ("metadata", "campaign_name"),
    )


def test_a_campaign_name_that_is_not_text_is_skipped() -> None:
    body = _with_campaigns(top="c")
    body["statusUpdate"]["metadata"] = {"campaignName": 7, "campaign_name": {"x": 1}}
    assert parse_delivery_status(body).campaign == "c"

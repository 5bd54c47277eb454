"""One ledger for every provider: ids kept apart, the mapping tables, and ``ingest_body``."""

from __future__ import annotations

import pytest

from ledger import Ledger, Outcome, Status
from ledger.connectly import delivery_status_payload
from ledger.providers import MAPPINGS, PROVIDERS, check_provider, message_key, provider_of, render_mapping
from ledger.twilio import status_callback_body


def meta_body(wamid: str, status: str) -> dict[str, object]:
    value = {"statuses": [{"id": wamid, "status": status, "timestamp": "1641513098", "recipient_id": "16044551234"}]}
    return {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]}


@pytest.mark.parametrize(
    ("provider", "provider_id", "key"),
    [
        ("connectly", "01FRRWW2ZAHD9GJ1SWY4VF2GBD", "01FRRWW2ZAHD9GJ1SWY4VF2GBD"),
        ("meta", "wamid.X", "meta:wamid.X"),
        ("twilio", "SM123", "twilio:SM123"),
    ],
)
def test_a_message_knows_its_provider_from_its_ledger_id(provider: str, provider_id: str, key: str) -> None:
    assert message_key(check_provider(provider), provider_id) == key
    assert provider_of(key) == provider


def test_an_id_two_providers_share_names_two_messages() -> None:
    with Ledger.in_memory() as ledger:
        ledger.ingest_body(delivery_status_payload("X1", Status.READ, timestamp=1641513098), provider="connectly")
        ledger.ingest_body(meta_body("X1", "failed"), provider="meta")
        ledger.ingest_body(status_callback_body({"MessageSid": "X1", "MessageStatus": "sent"}), provider="twilio")
        statuses = [ledger.message(key).status for key in ("X1", "meta:X1", "twilio:X1")]
        assert statuses == [Status.READ, Status.FAILED, Status.SENT]
        assert ledger.rejections() == []


def test_a_connectly_body_gives_the_outcome_ingest_gives() -> None:
    payload = delivery_status_payload("m-1", Status.DELIVERED, timestamp=1641513098, campaign="c")
    with Ledger.in_memory() as one, Ledger.in_memory() as other:
        assert one.ingest_body(payload).outcomes == (other.ingest(payload),)
        assert one.message("m-1") == other.message("m-1")
        assert one.ingest_body("not json").outcomes == (other.ingest("not json"),)


def test_bodies_of_one_call_are_decided_in_order_in_one_batch() -> None:
    with Ledger.in_memory() as ledger:
        results = ledger.ingest_bodies([meta_body("w", "read"), meta_body("w", "delivered")], provider="meta")
        assert [r.outcomes[0].kind for r in results] == [Outcome.APPLIED, Outcome.LATE]
        assert ledger.message("meta:w").version == 3


def test_an_unknown_provider_is_refused_before_anything_is_stored() -> None:
    with Ledger.in_memory() as ledger:
        with pytest.raises(ValueError, match="unknown provider 'sinch'; expected one of connectly, meta, twilio"):
            ledger.ingest_body("{}", provider="sinch")
        assert ledger.rejections() == []


def test_every_provider_has_a_mapping_table_that_names_only_ledger_stages() -> None:
    assert set(MAPPINGS) == set(PROVIDERS)
    for table in MAPPINGS.values():
        assert set(table.values()) <= set(Status)
        assert {Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED} <= set(table.values())


def test_a_mapping_table_renders_one_markdown_row_per_status() -> None:
    rendered = render_mapping("twilio").splitlines()
    assert rendered[:2] == ["| twilio status | ledger stage |", "|---|---|"]
    assert "| `undelivered` | failed |" in rendered
    assert len(rendered) == 2 + len(MAPPINGS["twilio"])

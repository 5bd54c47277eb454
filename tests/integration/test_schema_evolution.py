"""Old logs stay readable: events written by version 1 are read by every later version."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from ledger import Ledger, Message, Outcome, Status, message_uuid
from ledger.connectly import delivery_status_payload
from tests.unit.test_meta import CAPTURED_ID, CAPTURED_SENT

FIXTURE = Path(__file__).parents[1] / "fixtures" / "events_v1.jsonl"


def stored_events() -> list[StoredEvent]:
    lines = FIXTURE.read_text(encoding="utf-8").splitlines()
    return [
        StoredEvent(
            originator_id=UUID(record["originator_id"]),
            originator_version=record["originator_version"],
            topic=record["topic"],
            state=record["state"].encode("utf-8"),
        )
        for record in map(json.loads, lines)
    ]


@pytest.fixture
def ledger(sqlite_database: str) -> Any:
    with Ledger.open(sqlite_database) as ledger:
        ledger.recorder.insert_events(stored_events())
        yield ledger


def test_the_fixture_covers_every_event_class() -> None:
    topics = {event.topic.rpartition(".")[2] for event in stored_events()}
    assert topics == {"Opened", "SendRecorded", "StageReported", "StageReportedLate", "ReportRejected"}


def test_version_1_events_rebuild_the_messages_they_describe(ledger: Ledger) -> None:
    view = ledger.message("fixture-1")
    assert (view.status, view.campaign, view.conflicts, view.version) == (Status.READ, "c", 1, 5)
    assert view.accepted_at == datetime(2022, 1, 6, 23, 0, tzinfo=UTC)
    assert view.delivered_at == datetime(2022, 1, 6, 23, 51, 40, tzinfo=UTC)
    assert [(h.event, h.outcome) for h in ledger.history("fixture-1")][2:] == [
        ("stage_reported", Outcome.APPLIED),
        ("stage_reported_late", Outcome.LATE),
        ("report_rejected", Outcome.REJECTED),
    ]
    failed = ledger.message("fixture-2")
    assert failed.error is not None
    assert (failed.status, failed.error.code, failed.error.trace_id) == (
        Status.FAILED,
        "ERROR_CODE_MESSAGE_CUSTOMER_OPTED_OUT",
        "7",
    )


def test_version_1_reports_are_upcast_to_version_2_without_facts(ledger: Ledger) -> None:
    """Version 2 of StageReported added ``facts``: version 1 events read with ``facts=None``."""
    reported = [e for e in stored_events() if e.topic.endswith((".StageReported", ".StageReportedLate"))]
    events = [ledger.mapper.to_domain_event(e) for e in reported]
    assert [e.facts for e in events] == [None] * len(reported)  # type: ignore[attr-defined]
    assert ledger.message("fixture-1").facts == {}


def test_a_new_event_version_upcasts_the_old_events(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend version 3 of StageReported renamed ``raw`` to ``body``: old events are upgraded on read, in steps."""

    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["body"] = state.pop("raw")

    monkeypatch.setattr(Message.StageReported, "class_version", 3)
    monkeypatch.setattr(Message.StageReported, "upcast_v2_v3", staticmethod(upcast_v2_v3), raising=False)
    reported = [e for e in stored_events() if e.topic.endswith(".StageReported")]
    events = [ledger.mapper.to_domain_event(e) for e in reported]
    assert all(json.loads(e.body)["topic"] == "delivery_status" for e in events)  # type: ignore[attr-defined]
    assert all("raw" not in vars(e) and e.facts is None for e in events)  # type: ignore[attr-defined]


def test_version_1_messages_are_connectly_messages_and_keep_their_ids(ledger: Ledger) -> None:
    """Ledgers written before other providers existed: ids, aggregate ids and providers unchanged."""
    for message_id in ("fixture-1", "fixture-2"):
        view = ledger.message(message_id)
        assert (view.message_id, view.provider) == (message_id, "connectly")
    ids = {event.originator_id for event in stored_events()}
    assert ids == {message_uuid("fixture-1"), message_uuid("fixture-2")}


def test_version_1_messages_take_reports_of_any_provider_as_before(ledger: Ledger) -> None:
    """A Connectly body through ``ingest_body`` meets the old history as ``ingest`` would."""
    late = delivery_status_payload("fixture-1", Status.SENT, timestamp=1641513000, channel="whatsapp")
    (outcome,) = ledger.ingest_body(late, provider="connectly").outcomes
    assert (outcome.kind, outcome.status) == (Outcome.LATE, Status.READ)
    # The same id from Meta is another message: the old one is not touched.
    meta = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "changes": [
                    {
                        "field": "messages",
                        "value": {"statuses": [{"id": "fixture-1", "status": "delivered", "timestamp": "1641513100"}]},
                    }
                ]
            }
        ],
    }
    (other,) = ledger.ingest_body(meta, provider="meta").outcomes
    assert (other.kind, other.message_id) == (Outcome.APPLIED, "meta:fixture-1")
    assert ledger.message("fixture-1").version == 6


def test_version_2_reports_keep_their_facts_in_the_database(ledger: Ledger) -> None:
    ledger.ingest_body(CAPTURED_SENT, provider="meta")
    ledger.store.forget([CAPTURED_ID])  # read it back from the events, not the cache
    assert ledger.message(CAPTURED_ID).facts["pricing_category"] == "utility"
    (stored,) = [e for e in ledger.store.events_of(CAPTURED_ID) if isinstance(e, Message.StageReported)]
    assert stored.facts is not None
    assert stored.facts["billable"] == "true"

"""One logical history, written in each provider's format, ends in the same message state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from hypothesis import given

from ledger import DeliveryError, Ledger, MessageView, Status
from ledger.connectly import delivery_status_payload
from ledger.providers import message_key
from ledger.translate import translate
from tests.strategies import logical_histories

NOW = datetime(2026, 1, 1, tzinfo=UTC)
History = list[tuple[Status, datetime, DeliveryError | None]]


def connectly_bodies(message_id: str, history: History) -> list[dict[str, Any]]:
    return [
        delivery_status_payload(message_id, stage, timestamp=moment, error=error) for stage, moment, error in history
    ]


def state(view: MessageView) -> tuple[Any, ...]:
    """What every provider's format must agree on (Twilio gives no times, so not the times)."""
    reported = {s for s in Status if getattr(view, f"{s.value}_at", None) is not None}
    return (view.status, reported, view.conflicts, view.error is None, view.sender, view.recipient, view.channel)


@given(logical_histories())
def test_one_history_in_every_format_ends_in_the_same_state(history: History) -> None:
    bodies = connectly_bodies("X", history)
    with Ledger.in_memory(clock=lambda: NOW) as ledger:
        outcomes = {}
        for provider in ("connectly", "meta", "twilio"):
            results = [ledger.ingest_body(translate(b, provider), provider=provider) for b in bodies]
            outcomes[provider] = [(o.kind, o.status) for r in results for o in r.outcomes]
        views = {p: ledger.message(message_key(p, "X")) for p in ("connectly", "meta", "twilio")}
        assert state(views["meta"]) == state(views["connectly"])
        assert state(views["twilio"]) == state(views["connectly"])
        assert outcomes["meta"] == outcomes["twilio"] == outcomes["connectly"]
        # Meta's and Connectly's reports carry the provider's time: the times agree too.
        times = [(v.sent_at, v.delivered_at, v.read_at, v.failed_at) for v in (views["meta"], views["connectly"])]
        assert times[0] == times[1]
        kept = [message_key(p, "X") for p in ("connectly", "meta", "twilio")]
        counts = [len(ledger.rejections(limit=1000, message_id=key)) for key in kept]
        assert counts[0] == counts[1] == counts[2]


@given(logical_histories())
def test_a_meta_body_of_many_statuses_equals_one_body_per_status(history: History) -> None:
    # Each valid Connectly body becomes Meta's one-status body (a dict).
    single = [cast(dict[str, Any], translate(b, "meta")) for b in connectly_bodies("X", history)]
    statuses = [s for body in single for s in body["entry"][0]["changes"][0]["value"]["statuses"]]
    value = {**single[0]["entry"][0]["changes"][0]["value"], "statuses": statuses}
    many = {"object": "whatsapp_business_account", "entry": [{"changes": [{"field": "messages", "value": value}]}]}
    with Ledger.in_memory(clock=lambda: NOW) as one_by_one, Ledger.in_memory(clock=lambda: NOW) as together:
        expected = [o for body in single for o in one_by_one.ingest_body(body, provider="meta").outcomes]
        assert list(together.ingest_body(many, provider="meta").outcomes) == expected
        assert together.message("meta:X") == one_by_one.message("meta:X")

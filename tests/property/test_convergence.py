"""Order independence: whatever the arrival order and retries, a message ends in one state."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import Ledger, Message, Outcome, Status
from ledger.connectly import delivery_status_payload
from ledger.reports import StatusReport
from tests.strategies import Report, arrivals, consistent_histories, report_streams

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def expected_status(history: list[Report]) -> Status:
    return max((stage for stage, _ in history), key=lambda s: s.rank)


@given(st.data(), consistent_histories())
def test_any_order_with_any_retries_converges_and_loses_nothing(data: st.DataObject, history: list[Report]) -> None:
    message = Message.open("m", sender="+1", recipient="+2", channel="whatsapp", at=NOW)
    outcomes = [
        message.report(StatusReport("m", stage, moment), at=NOW) for stage, moment in data.draw(arrivals(history))
    ]

    assert message.status is expected_status(history)
    assert message.stage_times == dict(history)
    assert Outcome.REJECTED not in outcomes
    recorded = [e for e in message.collect_events() if isinstance(e, Message.StageReported)]
    assert sorted(e.stage for e in recorded) == sorted(stage.value for stage, _ in history)


@settings(max_examples=40, deadline=None)
@given(st.data(), report_streams())
def test_ingest_one_by_one_equals_ingest_many_in_batches(data: st.DataObject, payloads: list[dict[str, Any]]) -> None:
    cuts = sorted(data.draw(st.sets(st.integers(min_value=1, max_value=max(1, len(payloads) - 1)), max_size=5)))
    batches = [payloads[a:b] for a, b in zip([0, *cuts], [*cuts, len(payloads)], strict=True)]

    with Ledger.open("sqlite://") as single, Ledger.open("sqlite://") as batched:
        singly = [single.ingest(p) for p in payloads]
        in_batches = [o for batch in batches for o in batched.ingest_many(batch)]
        assert singly == in_batches
        ids = {p["statusUpdate"]["id"] for p in payloads}
        for message_id in ids:
            assert single.message(message_id) == batched.message(message_id)
            assert [_fact(h) for h in single.history(message_id)] == [_fact(h) for h in batched.history(message_id)]
        assert [(r.kind, r.reason, r.raw) for r in single.rejections(limit=10_000)] == [
            (r.kind, r.reason, r.raw) for r in batched.rejections(limit=10_000)
        ]


def _fact(entry: Any) -> tuple[Any, ...]:
    """A history entry without the time the ledger received it (the two ledgers differ there)."""
    return (entry.version, entry.event, entry.stage, entry.outcome, entry.occurred_at, entry.reason, entry.raw)


@settings(max_examples=30, deadline=None)
@given(st.data(), consistent_histories())
def test_the_ledger_converges_like_the_aggregate(data: st.DataObject, history: list[Report]) -> None:
    order = data.draw(arrivals(history))
    with Ledger.open("sqlite://") as ledger:
        ledger.ingest_many([delivery_status_payload("m", s, timestamp=t) for s, t in order])
        view = ledger.message("m")
        stages = [h.stage for h in ledger.history("m") if h.event.startswith("stage_reported")]
    assert view.status is expected_status(history)
    times = {Status.SENT: view.sent_at, Status.DELIVERED: view.delivered_at, Status.READ: view.read_at}
    times[Status.FAILED] = view.failed_at
    assert {s: t for s, t in times.items() if t is not None} == dict(history)
    assert sorted(s.value for s in stages if s) == sorted(s.value for s, _ in history)

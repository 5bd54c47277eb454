"""Time travel: a message as of any moment, or at any log position, and the views as of any moment,
are what a ledger that stopped then holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import HistoryEntry, Ledger, MessageNotFoundError, MessageView
from projections import Projections
from projections.past import rebuild_as_of
from tests.strategies import report_streams

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def ticking() -> Callable[[], datetime]:
    """A clock a second further at each reading: payload n is received at T0 + n seconds."""
    seconds = iter(range(10_000))
    return lambda: T0 + timedelta(seconds=next(seconds))


def message_or_none(ledger: Ledger, message_id: str, **when: Any) -> MessageView | None:
    try:
        return ledger.message(message_id, **when)
    except MessageNotFoundError:
        return None


def history_or_none(ledger: Ledger, message_id: str, **when: Any) -> list[HistoryEntry] | None:
    try:
        return ledger.history(message_id, **when)
    except MessageNotFoundError:
        return None


@settings(max_examples=60, deadline=None)
@given(st.data(), report_streams())
def test_the_past_of_a_ledger_is_the_present_of_one_that_stopped_then(
    data: st.DataObject, payloads: list[dict[str, Any]]
) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(payloads)), label="payloads received by then")
    with Ledger.in_memory(clock=ticking()) as ledger, Ledger.in_memory(clock=ticking()) as stopped:
        for payload in payloads:
            ledger.ingest(payload)
        for payload in payloads[:cut]:
            stopped.ingest(payload)
        moment = T0 + timedelta(seconds=cut - 1)  # when the last of the first ``cut`` arrived
        ids = sorted({payload["statusUpdate"]["id"] for payload in payloads})
        known = {message_id: message_or_none(stopped, message_id) for message_id in ids}
        # The stopped ledger's log is the first events of the whole one: its length is the position.
        position = sum(view.version for view in known.values() if view is not None)
        for message_id in ids:
            assert message_or_none(ledger, message_id, as_of=moment) == known[message_id]
            assert message_or_none(ledger, message_id, at_position=position) == known[message_id]
            assert history_or_none(ledger, message_id, until=moment) == history_or_none(stopped, message_id)
            assert history_or_none(ledger, message_id, at_position=position) == history_or_none(stopped, message_id)


@settings(max_examples=25, deadline=None)
@given(st.data(), report_streams(max_messages=5))
def test_the_views_as_of_any_moment_are_those_of_a_ledger_that_stopped_then(
    data: st.DataObject, payloads: list[dict[str, Any]]
) -> None:
    cut = data.draw(st.integers(min_value=0, max_value=len(payloads)), label="payloads received by then")
    with Ledger.open("sqlite://", clock=ticking()) as ledger, Ledger.open("sqlite://", clock=ticking()) as stopped:
        for payload in payloads:
            ledger.ingest(payload)
        for payload in payloads[:cut]:
            stopped.ingest(payload)
        moment = T0 + timedelta(seconds=cut - 1)
        live = Projections(stopped)
        live.catch_up()
        with rebuild_as_of(ledger, moment, page_size=data.draw(st.integers(1, 7), label="page size")) as past:
            assert past.messages(limit=1000) == live.messages(limit=1000)
            assert past.failures() == live.failures()
            assert past.summary(by="campaign") == live.summary(by="campaign")
            assert past.summary() == live.summary()

"""Fuzzing ingest: no input crashes it; every refusal is stored with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings

from ledger import Ledger, Outcome
from tests.strategies import hostile_payloads


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    with Ledger.open("sqlite://") as ledger:
        yield ledger


@settings(max_examples=300, deadline=None)
@given(payload=hostile_payloads())
def test_ingest_never_raises_and_keeps_every_refusal(ledger: Ledger, payload: Any) -> None:
    before = len(ledger.rejections(limit=1_000_000))
    outcome = ledger.ingest(payload)
    stored = ledger.rejections(limit=1_000_000)[before:]
    if outcome.kind is Outcome.REJECTED:
        assert outcome.reason
        assert [r.reason for r in stored] == [outcome.reason]
    else:
        assert stored == []
        assert outcome.message_id is not None
        # Whatever was accepted can be read back, even values shaped like the store's own encodings.
        assert ledger.message(outcome.message_id).status is outcome.status
        assert ledger.history(outcome.message_id)[-1].raw is not None

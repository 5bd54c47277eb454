"""Fuzzing ingest_body for Meta and Twilio: no input crashes it; every refusal is stored with its reason."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings

from ledger import Ledger, Outcome
from tests.strategies import hostile_meta_bodies, hostile_twilio_bodies


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    with Ledger.open("sqlite://") as ledger:
        yield ledger


def check(ledger: Ledger, body: Any, provider: str) -> None:
    before = len(ledger.rejections(limit=1_000_000))
    result = ledger.ingest_body(body, provider=provider)
    stored = ledger.rejections(limit=1_000_000)[before:]
    refused = [o for o in result.outcomes if o.kind is Outcome.REJECTED]
    assert all(o.reason for o in result.outcomes if o.kind is Outcome.REJECTED)
    # Every refusal is kept once (a contradiction on the message too); nothing else is.
    assert sorted(r.reason for r in stored) == sorted(o.reason or "" for o in refused)
    for outcome in result.outcomes:
        if outcome.kind in (Outcome.APPLIED, Outcome.LATE):
            assert outcome.message_id is not None
            assert ledger.message(outcome.message_id).status is outcome.status


@settings(max_examples=200, deadline=None)
@given(body=hostile_meta_bodies())
def test_a_hostile_meta_body_never_raises_and_every_refusal_is_kept(ledger: Ledger, body: Any) -> None:
    check(ledger, body, "meta")


@settings(max_examples=200, deadline=None)
@given(body=hostile_twilio_bodies())
def test_a_hostile_twilio_body_never_raises_and_every_refusal_is_kept(ledger: Ledger, body: Any) -> None:
    check(ledger, body, "twilio")

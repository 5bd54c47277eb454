"""The fast parsing path (pydantic's JSON parser) accepts nothing the slow path would read differently."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.connectly import WEBHOOK, parse_delivery_status
from ledger.connectly.parse import _validated
from ledger.errors import InvalidPayloadError
from tests.strategies import hostile_payloads, report_streams


def as_text(payload: Any) -> str | None:
    if isinstance(payload, bytes):
        try:
            return payload.decode("utf-8")
        except UnicodeDecodeError:
            return None
    return payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)


@settings(max_examples=400, deadline=None)
@given(st.one_of(hostile_payloads(), report_streams(max_messages=1).map(lambda ps: ps[0])))
def test_whatever_the_fast_path_accepts_the_slow_path_reads_the_same(payload: Any) -> None:
    text = as_text(payload)
    if text is None:
        return
    try:
        fast = WEBHOOK.validate_json(text)
    except ValueError:
        return  # refused by the fast path: the slow path decides, and names the problem
    document = json.loads(text)
    try:
        slow = _validated(document)
    except InvalidPayloadError as error:
        raise AssertionError(f"the fast path accepted what the slow path refuses: {error}") from None
    assert fast == slow


def outcome(payload: Any) -> Any:
    try:
        report = parse_delivery_status(payload)
    except InvalidPayloadError:
        return "refused"
    return dataclasses.replace(report, raw="")


@settings(max_examples=400, deadline=None)
@given(st.one_of(hostile_payloads(), report_streams(max_messages=1).map(lambda ps: ps[0])))
def test_a_body_and_its_decoded_object_are_read_alike(payload: Any) -> None:
    # The object path checks every stored field; the text path only when the text could
    # hold what a database cannot store (NUL, unpaired surrogates).
    text = as_text(payload)
    if text is None:
        return
    try:
        document = json.loads(text)
        json.dumps(document, allow_nan=False)  # NaN and Infinity: an object the ledger cannot store as JSON
    except (ValueError, RecursionError):
        return
    if isinstance(document, dict):
        assert outcome(text) == outcome(document)

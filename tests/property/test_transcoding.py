"""The ledger's transcoder writes exactly what eventsourcing's JSONTranscoder writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, Transcoding, UUIDAsHex
from hypothesis import given, settings
from hypothesis import strategies as st

import ledger.persistence.transcoder
from ledger.persistence import LedgerTranscoder


def registered(transcoder: JSONTranscoder) -> JSONTranscoder:
    """``transcoder`` with the transcodings an eventsourcing Application registers."""
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


STOCK, OURS = registered(JSONTranscoder()), registered(LedgerTranscoder())

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities included: both write them the same way
    st.text(),
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),  # naive
    st.uuids(),
    st.decimals(allow_nan=False),
)
states = st.dictionaries(
    st.text(), st.recursive(scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=12)
)


# Top-level keys the encoder turns into text (numbers, booleans, None) take the general path.
top_level_keys = st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))


@settings(max_examples=300, deadline=None)
@given(st.one_of(states, st.dictionaries(top_level_keys, scalars)))
def test_the_bytes_are_eventsourcings(state: dict[Any, Any]) -> None:
    encoded = OURS.encode(state)
    assert encoded == STOCK.encode(state)
    assert OURS.encode(OURS.decode(encoded)) == STOCK.encode(STOCK.decode(encoded))


@settings(max_examples=300, deadline=None)
@given(st.one_of(states.map(STOCK.encode), st.binary()), st.sampled_from([b"", b" ", b"\n", b"x", b"}"]))
def test_any_bytes_decode_or_fail_as_with_eventsourcing(data: bytes, padding: bytes) -> None:
    for candidate in (data, padding + data, data + padding):
        try:
            expected = STOCK.encode(STOCK.decode(candidate))
        except ValueError as error:  # JSONDecodeError and UnicodeDecodeError
            with pytest.raises(type(error)):
                OURS.decode(candidate)
        else:
            assert OURS.encode(OURS.decode(candidate)) == expected


def test_an_event_state_round_trips() -> None:
    state = {
        "timestamp": datetime(2026, 11, 25, tzinfo=UTC),
        "id": UUID(int=7),
        "amount": Decimal("1.5"),
        "raw": '{"a": "é"}',
    }
    assert OURS.decode(OURS.encode(state)) == state


class DatetimeAsTimestamp(Transcoding):
    type = datetime
    name = "datetime_ts"

    def encode(self, obj: datetime) -> float:
        return obj.timestamp()

    def decode(self, data: float) -> datetime:
        return datetime.fromtimestamp(data, tz=UTC)


def test_another_datetime_transcoding_is_used_when_registered() -> None:
    stock, ours = registered(JSONTranscoder()), registered(LedgerTranscoder())
    for transcoder in (stock, ours):
        transcoder.register(DatetimeAsTimestamp())
    state = {"timestamp": datetime(2026, 11, 25, tzinfo=UTC), "raw": "x"}
    expected = b'{"timestamp":{"_type_":"datetime_ts","_data_":1795564800.0},"raw":"x"}'
    assert ours.encode(state) == stock.encode(state) == expected
    assert ours.decode(ours.encode(state)) == state


def test_unregistered_types_are_refused_alike() -> None:
    for transcoder in (STOCK, OURS):
        with pytest.raises(TypeError, match="not serializable"):
            transcoder.encode({"x": object()})
        with pytest.raises(TypeError, match="not serializable"):
            transcoder.encode({"x": "text", "y": object()})


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.datetimes(timezones=st.just(UTC)), st.datetimes()), min_size=1, max_size=4),
    st.lists(st.tuples(st.sampled_from(["timestamp", "occurred_at", "x"]), st.integers(0, 3)), max_size=30),
)
def test_moments_written_again_are_written_alike(moments: list[datetime], picks: list[tuple[str, int]]) -> None:
    # The transcoder keeps the text of the last moment written under each key (a batch's
    # events share their receipt time): the same objects, written again and again.
    ours = registered(LedgerTranscoder())
    for key, index in picks:
        state = {key: moments[index % len(moments)], "raw": "x"}
        assert ours.encode(state) == STOCK.encode(state)


ZONES = [UTC, timezone(timedelta(hours=2)), timezone(timedelta(0), "Z"), None]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.datetimes(timezones=st.just(UTC)), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 5), st.sampled_from(ZONES)), max_size=40),
)
def test_equal_moments_in_any_zone_are_written_alike(moments: list[datetime], picks: list[tuple[int, Any]]) -> None:
    # The transcoder keeps the text of UTC moments it wrote lately (a dict by moment, at
    # most _MAX_MOMENTS, here 4 so that it also forgets): new objects of equal moments,
    # and the same instants in other zones (equal, but written with their own offset).
    ours = registered(LedgerTranscoder())
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ledger.persistence.transcoder, "_MAX_MOMENTS", 4)
        for index, zone in picks:
            moment = moments[index % len(moments)]
            copy = moment.replace(tzinfo=None) if zone is None else moment.astimezone(zone)
            state = {"occurred_at": copy + timedelta(0), "raw": "x"}
            assert ours.encode(state) == STOCK.encode(state)

"""UTCDateTime: what it stores on each backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite

from ledger.sql import UTCDateTime

SQLITE = sqlite.dialect()
offsets = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
aware = st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets)


@given(aware)
def test_sqlite_text_is_what_sqlalchemys_datetime_stores_for_the_utc_time(value: datetime) -> None:
    ours = UTCDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    theirs = DateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert ours is not None
    assert theirs is not None
    assert ours(value) == theirs(value.astimezone(UTC).replace(tzinfo=None))
    assert ours(None) is None


@pytest.mark.parametrize("dialect", [SQLITE, postgresql.dialect()], ids=["sqlite", "postgresql"])
def test_naive_datetimes_are_refused(dialect: object) -> None:
    processor = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)  # type: ignore[arg-type]
    assert processor is not None
    with pytest.raises(ValueError, match="naive datetime"):
        processor(datetime(2026, 1, 1))

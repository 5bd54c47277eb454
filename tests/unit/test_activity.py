"""The activity buckets' time arithmetic, without a database: the text each dialect groups by
names the bucket's first instant, for every time the views can store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from ledger.sql import UTCDateTime
from projections.activity import bucket_of, bucket_start
from projections.funnel import funnel_table

utc_times = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from([UTC])
).map(lambda moment: moment.astimezone(UTC))


def stored_on_sqlite(moment: datetime) -> str:
    """The text a UTCDateTime column holds on SQLite."""
    process = UTCDateTime().bind_processor(sqlite.dialect())
    assert process is not None
    text = process(moment)
    assert isinstance(text, str)
    return text


@given(utc_times)
def test_the_sqlite_prefix_of_a_stored_time_names_its_hour_and_day(moment: datetime) -> None:
    text = stored_on_sqlite(moment)
    hour = bucket_start(text[:13], "hour")
    day = bucket_start(text[:10], "day")
    assert hour == moment.replace(minute=0, second=0, microsecond=0)
    assert day == moment.replace(hour=0, minute=0, second=0, microsecond=0)
    assert hour <= moment < hour + timedelta(hours=1)
    assert hour.tzinfo is UTC


@given(utc_times)
def test_the_postgresql_format_names_the_same_bucket(moment: datetime) -> None:
    # to_char(... 'YYYY-MM-DD HH24') and 'YYYY-MM-DD' pad the year to four digits, as here.
    hour = bucket_start(f"{moment.year:04d}-{moment:%m-%d %H}", "hour")
    assert hour == moment.replace(minute=0, second=0, microsecond=0)
    assert bucket_start(f"{moment.year:04d}-{moment:%m-%d}", "day").date() == moment.date()


def test_each_dialect_groups_by_its_own_expression() -> None:
    column = funnel_table.c.sent_at
    on_sqlite = str(bucket_of(column, "hour").compile(dialect=sqlite.dialect()))
    on_postgres = str(bucket_of(column, "day").compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    assert on_sqlite == "substr(view_funnel.sent_at, 1, 13)"
    assert on_postgres == "to_char((view_funnel.sent_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"

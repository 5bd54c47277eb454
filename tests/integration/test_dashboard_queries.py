"""The queries a dashboard needs, on every backend: the funnel of one campaign and time range,
activity per hour or day, and rejections newest first a page at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from ledger import DeliveryError, Ledger, Status
from ledger.aio import AsyncLedger
from ledger.readmodels import NO_CODE, ActivityBucket
from projections import Projections
from tests.integration.contract import OPTED_OUT, RECIPIENT, SENDER, T0, webhook

NO_CODE_ERROR = DeliveryError(message="no code given", trace_id="7")
HOUR = timedelta(hours=1)
MIDNIGHT = datetime(2022, 1, 7, tzinfo=UTC)  # T0 is 2022-01-06 23:00 UTC


def traffic(ledger: Ledger) -> None:
    """Four messages over three UTC hours (two days), with a duplicate and a contradiction.

    m-1 spring: accepted 23:00, sent 23:00:10, delivered 23:00:20 (twice), read 00:01:40;
      then a failure that contradicts the read (rejected).
    m-2 fall: accepted 23:30, failed 23:31:40 (opted out).
    m-3 (no campaign): delivered 01:00, its first time.
    m-4 fall: accepted 00:00, failed 00:01 with no error code.
    """
    ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, campaign="spring", sent_at=T0)
    for stage, seconds in ((Status.SENT, 10), (Status.DELIVERED, 20), (Status.DELIVERED, 20), (Status.READ, 3700)):
        ledger.ingest(webhook("m-1", stage, seconds, recipient=RECIPIENT))
    ledger.ingest(webhook("m-1", Status.FAILED, 3800, recipient=RECIPIENT, error=OPTED_OUT))
    ledger.record_sent("m-2", sender=SENDER, recipient=RECIPIENT, campaign="fall", sent_at=T0 + timedelta(minutes=30))
    ledger.ingest(webhook("m-2", Status.FAILED, 1900, recipient=RECIPIENT, error=OPTED_OUT))
    ledger.ingest(webhook("m-3", Status.DELIVERED, 7200, recipient=RECIPIENT))
    ledger.record_sent("m-4", sender=SENDER, recipient=RECIPIENT, campaign="fall", sent_at=MIDNIGHT)
    ledger.ingest(webhook("m-4", Status.FAILED, 3660, recipient=RECIPIENT, error=NO_CODE_ERROR))


def reports(**counts: int) -> dict[Status, int]:
    return {status: counts.get(status.value, 0) for status in Status}


def bucket(start: datetime, failures: dict[str, int] | None = None, **counts: int) -> ActivityBucket:
    return ActivityBucket(start=start, reports=reports(**counts), failures=failures or {})


class DashboardContract:
    """Subclasses provide ``url``: a SQLAlchemy URL (a string) of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        with Ledger.open(url) as opened:
            traffic(opened)
            yield opened

    def test_the_funnel_without_filters_counts_every_message(self, ledger: Ledger) -> None:
        [row] = ledger.summary()
        assert (row.total, row.counts) == (4, reports(read=1, failed=2, delivered=1))

    def test_the_campaigns_are_listed_once_each_in_order(self, ledger: Ledger) -> None:
        assert ledger.campaigns() == ["fall", "spring"]
        assert [row.key for row in ledger.summary(by="campaign") if row.key is not None] == ledger.campaigns()

    def test_the_funnel_of_one_campaign_counts_only_its_messages(self, ledger: Ledger) -> None:
        [row] = ledger.summary(campaign="fall")
        assert (row.total, row.counts, row.failure_rate) == (2, reports(failed=2), 1.0)
        by_day = ledger.summary(by="day", campaign="fall")
        assert [(r.key, r.total) for r in by_day] == [("2022-01-06", 1), ("2022-01-07", 1)]
        assert ledger.summary(by="campaign", campaign="winter") == []
        [nothing] = ledger.summary(campaign="winter")
        assert nothing.total == 0

    def test_the_funnel_of_a_time_range_counts_messages_by_their_first_known_time(self, ledger: Ledger) -> None:
        [later] = ledger.summary(since=MIDNIGHT)  # m-3 (first known 01:00) and m-4 (00:00)
        assert (later.total, later.counts) == (2, reports(delivered=1, failed=1))
        [earlier] = ledger.summary(until=MIDNIGHT)  # m-1 (read after midnight, first known 23:00) and m-2
        assert (earlier.total, earlier.counts) == (2, reports(read=1, failed=1))
        [hour] = ledger.summary(since=MIDNIGHT, until=MIDNIGHT + HOUR, campaign="fall")
        assert (hour.total, hour.counts) == (1, reports(failed=1))
        [row] = ledger.summary(since=T0, until=T0)
        assert row.total == 0

    def test_a_time_without_a_zone_is_refused(self, ledger: Ledger) -> None:
        with pytest.raises(ValueError, match="since needs a time zone"):
            ledger.summary(since=datetime(2022, 1, 7))
        with pytest.raises(ValueError, match="until needs a time zone"):
            ledger.activity(until=datetime(2022, 1, 7))
        with pytest.raises(ValueError, match="bucket must be one of hour, day"):
            ledger.activity(bucket="week")  # type: ignore[arg-type]

    def test_activity_per_hour_counts_each_stage_time_once_and_applied_failures_by_code(self, ledger: Ledger) -> None:
        assert ledger.activity(bucket="hour") == [
            bucket(T0, {OPTED_OUT.code or "": 1}, accepted=2, sent=1, delivered=1, failed=1),
            bucket(MIDNIGHT, {NO_CODE: 1}, accepted=1, read=1, failed=1),
            bucket(MIDNIGHT + HOUR, delivered=1),
        ]

    def test_activity_per_day_filtered_by_time_and_campaign(self, ledger: Ledger) -> None:
        assert ledger.activity() == [
            bucket(
                datetime(2022, 1, 6, tzinfo=UTC), {OPTED_OUT.code or "": 1}, accepted=2, sent=1, delivered=1, failed=1
            ),
            bucket(MIDNIGHT, {NO_CODE: 1}, accepted=1, read=1, failed=1, delivered=1),
        ]
        assert ledger.activity(bucket="hour", campaign="fall") == [
            bucket(T0, {OPTED_OUT.code or "": 1}, accepted=1, failed=1),
            bucket(MIDNIGHT, {NO_CODE: 1}, accepted=1, failed=1),
        ]
        assert ledger.activity(bucket="hour", since=MIDNIGHT + timedelta(minutes=1), until=MIDNIGHT + HOUR) == [
            bucket(MIDNIGHT, {NO_CODE: 1}, read=1, failed=1),
        ]
        assert ledger.activity(since=MIDNIGHT + 2 * HOUR) == []

    def test_activity_as_json(self, ledger: Ledger) -> None:
        first = ledger.activity(bucket="hour")[0].to_dict()
        assert first == {
            "start": "2022-01-06T23:00:00+00:00",
            "reports": {"accepted": 2, "sent": 1, "delivered": 1, "read": 0, "failed": 1},
            "failures": {OPTED_OUT.code: 1},
        }

    def test_the_async_ledger_asks_the_same(self, url: str, ledger: Ledger) -> None:
        async def ask() -> tuple[list[ActivityBucket], int]:
            async with AsyncLedger.open(url, create=False) as reader:
                activity = await reader.activity(bucket="hour", campaign="fall")
                [row] = await reader.summary(campaign="fall", since=MIDNIGHT)
                newest = await reader.rejections(newest_first=True, limit=1)
                return activity, row.total + len(newest)

        activity, total = asyncio.run(ask())
        assert activity == ledger.activity(bucket="hour", campaign="fall")
        assert total == 2

    def test_rejections_newest_first_a_page_at_a_time(self, ledger: Ledger) -> None:
        for n in range(4):
            ledger.ingest({"topic": "delivery_status", "n": n})
        oldest_first = ledger.rejections()
        assert [r.kind for r in oldest_first] == ["contradiction"] + ["malformed"] * 4
        ids = [r.id for r in oldest_first]
        first = ledger.rejections(newest_first=True, limit=2)
        assert [r.id for r in first] == ids[::-1][:2]
        second = ledger.rejections(newest_first=True, limit=2, before=first[-1].id)
        assert [r.id for r in second] == ids[::-1][2:4]
        third = ledger.rejections(newest_first=True, limit=2, before=second[-1].id)
        assert [r.id for r in third] == ids[:1]
        assert ledger.rejections(newest_first=True, before=ids[0]) == []
        assert [r.id for r in ledger.rejections(before=ids[2])] == ids[:2]
        assert [r.kind for r in ledger.rejections(newest_first=True, message_id="m-1")] == ["contradiction"]

    def test_a_funnel_table_without_first_at_is_rebuilt_and_filters(self, url: str, ledger: Ledger) -> None:
        assert ledger.summary()[0].total == 4  # the views exist, and are current
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.begin() as connection:  # the version before had no first_at
                connection.execute(sqlalchemy.text("DROP INDEX ix_view_funnel_first_at"))
                connection.execute(sqlalchemy.text("ALTER TABLE view_funnel DROP COLUMN first_at"))
        finally:
            engine.dispose()
        with Projections.open(url) as views:
            assert views.positions()["funnel"] == 0
            views.catch_up()
            [row] = views.summary(since=MIDNIGHT)
            assert row.total == 2


def test_rejections_in_memory_page_newest_first() -> None:
    ledger = Ledger.in_memory()
    for n in range(3):
        ledger.ingest({"topic": "delivery_status", "n": n})
    ids = [r.id for r in ledger.rejections()]
    assert [r.id for r in ledger.rejections(newest_first=True, limit=2)] == ids[::-1][:2]
    assert [r.id for r in ledger.rejections(newest_first=True, before=ids[1])] == ids[:1]


class TestSQLite(DashboardContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestPostgres(DashboardContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database

"""The failure report and the funnel as of a past moment (``projections.past``), on every backend:
built from the events received by then, in throwaway views, with the ledger's own views untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy

from ledger import Ledger, Status
from projections import ActivityBucket, Projections
from projections.past import rebuild_as_of
from tests.integration.contract import OPTED_OUT, RECIPIENT, SENDER, webhook

#: When each batch reached the ledger: an hour apart.
R1, R2, R3 = (datetime(2022, 1, 7, hour, tzinfo=UTC) for hour in (1, 2, 3))
SECOND = timedelta(seconds=1)


def write(url: str) -> None:
    """At R1 m-1 and m-2 are sent; at R2 m-1 is delivered and m-2 fails; at R3 m-1 is read and m-3 sent."""
    received = iter((R1, R1, R2, R3, R3))
    with Ledger.open(url, clock=lambda: next(received)) as ledger:
        ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, campaign="fall")
        ledger.record_sent("m-2", sender=SENDER, recipient=RECIPIENT, campaign="fall")
        ledger.ingest_many(
            [
                webhook("m-1", Status.DELIVERED, 10, recipient=RECIPIENT),
                webhook("m-2", Status.FAILED, 10, recipient=RECIPIENT, error=OPTED_OUT),
            ]
        )
        ledger.ingest(webhook("m-1", Status.READ, 20, recipient=RECIPIENT))
        ledger.record_sent("m-3", sender=SENDER, recipient=RECIPIENT, campaign="spring")


class PastViewsContract:
    """Subclasses provide ``url``: a SQLAlchemy URL (a string) of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        write(url)
        with Ledger.open(url, create=False) as reader:
            yield reader

    def test_the_funnel_as_of_a_moment_counts_what_had_arrived_by_then(self, ledger: Ledger) -> None:
        with rebuild_as_of(ledger, R2 - SECOND) as views:
            [funnel] = views.summary()
            assert (funnel.total, funnel.counts[Status.ACCEPTED], funnel.reached) == (2, 2, 0)
        with rebuild_as_of(ledger, R2) as views:
            [funnel] = views.summary()
            assert (funnel.total, funnel.counts[Status.DELIVERED], funnel.counts[Status.FAILED]) == (2, 1, 1)
            assert (views.processed, views.read) == (6, 9)
        with rebuild_as_of(ledger, R3) as views:
            assert views.summary() == ledger.summary()

    def test_the_failure_report_as_of_a_moment_lists_the_failures_received_by_then(self, ledger: Ledger) -> None:
        with rebuild_as_of(ledger, R2 - SECOND) as views:
            assert views.failures() == []
        with rebuild_as_of(ledger, R2) as views:
            [failure] = views.failures()
            assert (failure.message_id, failure.code, failure.campaign) == ("m-2", OPTED_OUT.code, "fall")
            [group] = views.failure_summary(by="campaign")
            assert (group.key, group.count) == ("fall", 1)

    def test_the_activity_as_of_a_moment_counts_the_reports_received_by_then(self, ledger: Ledger) -> None:
        def total(buckets: list[ActivityBucket], status: Status) -> int:
            return sum(bucket.reports[status] for bucket in buckets)

        then = ledger.activity(bucket="hour", as_of=R2 - SECOND)
        assert (total(then, Status.ACCEPTED), total(then, Status.DELIVERED)) == (2, 0)
        assert [bucket.failures for bucket in then if bucket.failures] == []
        at = ledger.activity(bucket="hour", as_of=R2)
        assert (total(at, Status.ACCEPTED), total(at, Status.DELIVERED), total(at, Status.READ)) == (2, 1, 0)
        assert [bucket.failures for bucket in at if bucket.failures] == [{OPTED_OUT.code: 1}]
        assert ledger.activity(bucket="hour", as_of=R3) == ledger.activity(bucket="hour")
        assert total(ledger.activity(), Status.READ) == 1

    def test_the_ledgers_own_views_are_neither_read_nor_written(self, ledger: Ledger, url: str) -> None:
        with Projections.open(url, create=False) as live:
            assert set(live.positions().values()) == {0}
            with rebuild_as_of(ledger, R3) as views:
                assert views.summary()[0].total == 3
            assert set(live.positions().values()) == {0}
            with live.ledger.engine.connect() as connection:
                funnel_rows = connection.execute(sqlalchemy.text("SELECT count(*) FROM view_funnel")).scalar()
            assert funnel_rows == 0

    def test_an_event_stamped_earlier_than_the_one_before_it_counts_only_from_that_one(self, url: str) -> None:
        # A writer whose clock ran behind recorded m-1's failure (version 4) with a time before version 3's.
        received = iter((R1, R3, R2))
        with Ledger.open(url, clock=lambda: next(received)) as ledger:
            ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT)
            ledger.ingest(webhook("m-1", Status.SENT, 10, recipient=RECIPIENT))
            ledger.ingest(webhook("m-1", Status.FAILED, 20, recipient=RECIPIENT, error=OPTED_OUT))
            with rebuild_as_of(ledger, R2) as views:
                assert views.failures() == []
                assert views.summary()[0].counts[Status.ACCEPTED] == 1
            with rebuild_as_of(ledger, R3) as views:
                assert [failure.message_id for failure in views.failures()] == ["m-1"]
                assert views.summary()[0].counts[Status.FAILED] == 1

    def test_the_ledgers_report_queries_take_a_moment_and_leave_the_live_views_alone(
        self, ledger: Ledger, url: str
    ) -> None:
        [funnel] = ledger.summary(as_of=R2)
        assert (funnel.total, funnel.counts[Status.DELIVERED], funnel.counts[Status.FAILED]) == (2, 1, 1)
        assert ledger.failures(as_of=R2 - SECOND) == []
        assert [failure.message_id for failure in ledger.failures(as_of=R2)] == ["m-2"]
        [group] = ledger.failure_summary(by="campaign", as_of=R2)
        assert (group.key, group.count) == ("fall", 1)
        with Projections.open(url, create=False) as live:
            assert set(live.positions().values()) == {0}
        assert ledger.summary()[0].total == 3

    def test_a_moment_without_a_time_zone_is_refused(self, ledger: Ledger) -> None:
        with pytest.raises(ValueError, match="time zone"):
            rebuild_as_of(ledger, datetime(2022, 1, 7, 2))


class TestSQLite(PastViewsContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestPostgres(PastViewsContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database

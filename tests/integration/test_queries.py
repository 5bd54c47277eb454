"""The ledger's queries over its read models (``messages``, ``failures``, ``failure_summary``,
``summary``), on every backend: each sees every event committed before it, by any ledger,
without the caller catching the views up; ``fresh=False`` reads them as they are.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from ledger import Ledger, Status
from ledger.readmodels import StatusPage
from projections import Projections
from tests.integration.contract import OPTED_OUT, RECIPIENT, SENDER, webhook

OTHER = "+15550000001"


@pytest.fixture
def ledger(url: str) -> Iterator[Ledger]:
    with Ledger.open(url) as opened:
        yield opened


def record(ledger: Ledger, count: int) -> None:
    for n in range(count):
        recipient = RECIPIENT if n % 2 else OTHER
        ledger.record_sent(f"m-{n}", sender=SENDER, recipient=recipient, campaign="fall" if n % 3 else "spring")


class QueriesContract:
    """Subclasses provide ``url``: a SQLAlchemy URL (a string) of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    def test_a_query_sees_what_was_just_written_without_catching_up_by_hand(self, ledger: Ledger) -> None:
        assert ledger.messages().rows == []
        ledger.record_sent("m-1", sender=SENDER, recipient=RECIPIENT, campaign="fall")
        ledger.ingest(webhook("m-1", Status.FAILED, 30, recipient=RECIPIENT, error=OPTED_OUT))
        [row] = ledger.messages().rows
        assert (row.message_id, row.status, row.campaign) == ("m-1", Status.FAILED, "fall")
        [failure] = ledger.failures()
        assert (failure.message_id, failure.code, failure.trace_id) == ("m-1", OPTED_OUT.code, OPTED_OUT.trace_id)
        [group] = ledger.failure_summary(by="campaign")
        assert (group.key, group.count) == ("fall", 1)
        [funnel] = ledger.summary()
        assert (funnel.total, funnel.counts[Status.FAILED]) == (1, 1)

    def test_a_query_sees_what_another_ledger_committed(self, ledger: Ledger, url: str) -> None:
        assert ledger.summary()[0].total == 0
        with Ledger.open(url) as other:
            record(other, 3)
        assert ledger.summary()[0].total == 3

    def test_messages_are_filtered_and_paged_by_keyset(self, ledger: Ledger) -> None:
        record(ledger, 7)
        ledger.ingest(webhook("m-3", Status.DELIVERED, 10, recipient=RECIPIENT))
        pages: list[StatusPage] = [ledger.messages(limit=3)]
        while pages[-1].next_cursor is not None:
            pages.append(ledger.messages(limit=3, after=pages[-1].next_cursor))
        listed = [row.message_id for page in pages for row in page.rows]
        assert sorted(listed) == [f"m-{n}" for n in range(7)]
        assert len(listed) == len(set(listed))
        assert len(pages) == 3
        assert listed[-1] == "m-3"  # changed last
        assert [row.message_id for row in ledger.messages(status=Status.DELIVERED).rows] == ["m-3"]
        mine = ledger.messages(recipient=RECIPIENT, campaign="fall").rows
        assert sorted(row.message_id for row in mine) == ["m-1", "m-5"]
        future = datetime(2100, 1, 1, tzinfo=UTC)
        assert ledger.messages(since=future).rows == []
        assert len(ledger.messages(until=future).rows) == 7

    def test_bad_arguments_are_refused_clearly(self, ledger: Ledger) -> None:
        with pytest.raises(ValueError, match="not a cursor"):
            ledger.messages(after="yesterday")
        with pytest.raises(ValueError, match="limit must be >= 1"):
            ledger.messages(limit=0)
        with pytest.raises(ValueError, match="by must be one of"):
            ledger.failure_summary(by="planet")  # type: ignore[arg-type]

    def test_fresh_false_reads_the_views_as_a_projector_left_them(self, ledger: Ledger, url: str) -> None:
        record(ledger, 2)
        assert ledger.summary()[0].total == 2
        record(ledger, 4)  # m-0 and m-1 again (no change), and two new messages
        assert ledger.summary(fresh=False)[0].total == 2
        with Projections.open(url) as projector:  # the separate process that keeps them current
            projector.catch_up()
        assert ledger.summary(fresh=False)[0].total == 4

    def test_the_read_models_are_named_by_a_topic_built_once_and_closed_with_the_ledger(self, url: str) -> None:
        with CountingLedger.open(url) as ledger:
            record(ledger, 1)
            assert ledger.summary()[0].total == len(ledger.messages().rows) == 1
            views = ledger.read_models()
            assert isinstance(views, CountedProjections)
            assert views.closed == 0
            assert CountedProjections.built == 1
        assert views.closed == 1


class CountedProjections(Projections):
    """The read models, counting how often they are built and closed."""

    built = 0

    def __init__(self, ledger: Ledger) -> None:
        super().__init__(ledger)
        CountedProjections.built += 1
        self.closed = 0

    def close(self) -> None:
        self.closed += 1
        super().close()


class CountingLedger(Ledger):
    read_models_topic = f"{__name__}:CountedProjections"


@pytest.fixture(autouse=True)
def _count_from_zero() -> None:
    CountedProjections.built = 0


def test_an_in_memory_ledger_has_no_read_models_and_says_so() -> None:
    with pytest.raises(AttributeError, match="in-memory ledger has no database"):
        Ledger.in_memory().messages()


class TestSQLite(QueriesContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestPostgres(QueriesContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database

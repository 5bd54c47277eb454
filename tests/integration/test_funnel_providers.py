"""The funnel by provider and by pricing category (Meta's), with the billable count, on every
backend; and views created by an older version (without those columns) rebuilt from the log.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy

from ledger import Ledger, Status
from ledger.meta.payloads import PRICING, status_body
from ledger.twilio.payloads import callback_body
from projections import Projections
from tests.integration.contract import RECIPIENT, SENDER, webhook

UTILITY = {"billable": False, "pricing_model": "PMP", "category": "utility"}


def mixed_traffic(ledger: Ledger) -> None:
    """Two Connectly messages, three Meta messages (two marketing, one billable late), one Twilio."""
    for n in range(2):
        ledger.record_sent(f"c-{n}", sender=SENDER, recipient=RECIPIENT)
        ledger.ingest(webhook(f"c-{n}", Status.DELIVERED, 10 + n, recipient=RECIPIENT))
    meta = [
        status_body("w-1", Status.SENT, timestamp=1_767_000_000, pricing=PRICING),
        status_body("w-1", Status.READ, timestamp=1_767_000_060),
        status_body("w-2", Status.SENT, timestamp=1_767_000_000, pricing=PRICING),
        status_body("w-3", Status.DELIVERED, timestamp=1_767_000_090, pricing=UTILITY),
        # A late "sent" with other pricing fills in nothing that is already known.
        status_body("w-3", Status.SENT, timestamp=1_767_000_030, pricing=PRICING),
    ]
    ledger.ingest_bodies(meta, provider="meta")
    ledger.ingest_body(callback_body("SM1", Status.FAILED), provider="twilio")


class FunnelContract:
    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        with Ledger.open(url) as opened:
            mixed_traffic(opened)
            yield opened

    def test_the_funnel_by_provider_counts_each_providers_messages(self, ledger: Ledger) -> None:
        rows = {row.key: row for row in ledger.summary(by="provider")}
        assert {key: row.total for key, row in rows.items()} == {"connectly": 2, "meta": 3, "twilio": 1}
        assert rows["twilio"].counts[Status.FAILED] == 1
        assert rows["meta"].counts[Status.READ] == 1
        assert [row.total for row in ledger.summary()] == [6]

    def test_the_funnel_by_pricing_category_counts_billable_messages(self, ledger: Ledger) -> None:
        rows = {row.key: (row.total, row.billable) for row in ledger.summary(by="pricing_category")}
        assert rows == {None: (3, 0), "marketing": (2, 2), "utility": (1, 0)}
        [overall] = ledger.summary()
        assert overall.billable == 2
        assert overall.to_dict()["billable"] == 2

    def test_an_unknown_grouping_is_refused(self, ledger: Ledger) -> None:
        with pytest.raises(ValueError, match="pricing_category"):
            ledger.summary(by="colour")  # type: ignore[arg-type]

    def test_views_an_older_version_created_are_rebuilt_with_the_new_columns(self, url: str, ledger: Ledger) -> None:
        expected = [row.to_dict() for row in ledger.summary(by="provider")]
        engine = sqlalchemy.create_engine(url)
        try:
            with engine.begin() as connection:  # the funnel table as the version before had it
                connection.execute(sqlalchemy.text("DROP TABLE view_funnel"))
                connection.execute(
                    sqlalchemy.text(
                        "CREATE TABLE view_funnel (aggregate_id VARCHAR(32) PRIMARY KEY, campaign VARCHAR(256),"
                        " day VARCHAR(10), status VARCHAR(16) NOT NULL, accepted_at VARCHAR(40),"
                        " sent_at VARCHAR(40), delivered_at VARCHAR(40), read_at VARCHAR(40),"
                        " failed_at VARCHAR(40), sent_to_delivered FLOAT, delivered_to_read FLOAT)"
                    )
                )
                connection.execute(
                    sqlalchemy.text("INSERT INTO view_funnel (aggregate_id, status) VALUES ('stale', 'read')")
                )
        finally:
            engine.dispose()
        with Projections.open(url) as views:
            assert views.positions()["funnel"] == 0  # emptied, to be rebuilt
            assert views.positions()["current_status"] > 0  # the others are left as they were
            views.catch_up()
            assert [row.to_dict() for row in views.funnel.summary(by="provider")] == expected


class TestSQLite(FunnelContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


@pytest.mark.postgres
class TestPostgres(FunnelContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database

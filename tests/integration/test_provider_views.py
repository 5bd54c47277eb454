"""The read models over several providers' messages: failures grouped by provider, on each backend."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ledger import Ledger, Status
from ledger.connectly import delivery_status_payload
from ledger.meta import status_body
from ledger.twilio import callback_body


class ProviderViewsContract:
    """Written once; subclassed per backend (``url`` is the backend's database)."""

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        with Ledger.open(url) as ledger:
            yield ledger

    def test_failures_group_by_provider(self, ledger: Ledger) -> None:
        ledger.ingest_body(delivery_status_payload("c-1", Status.FAILED, timestamp=1641513098))
        for n in range(2):
            ledger.ingest_body(status_body(f"w-{n}", Status.FAILED, timestamp=1641513098), provider="meta")
        for n in range(3):
            ledger.ingest_body(callback_body(f"S_{n}", Status.FAILED), provider="twilio")
        groups = ledger.failure_summary(by="provider")
        assert [(g.key, g.count) for g in groups] == [("twilio", 3), ("meta", 2), ("connectly", 1)]

    def test_a_connectly_id_that_merely_looks_prefixed_is_connectly(self, ledger: Ledger) -> None:
        ledger.ingest_body(delivery_status_payload("meta_x", Status.FAILED, timestamp=1641513098))
        assert [(g.key, g.count) for g in ledger.failure_summary(by="provider")] == [("connectly", 1)]


class TestSQLiteFile(ProviderViewsContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database


class TestPostgreSQL(ProviderViewsContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database

"""Database faults: PostgreSQL unreachable or restarted during ingest.

The ledger must answer with a clear ``StorageError``, leave nothing half-written, and
work again once the database is back, without restarting the process.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy.engine import make_url

from ledger import Ledger, Outcome, Status, StorageError
from ledger.connectly import delivery_status_payload
from tests.faults import CuttableProxy

pytestmark = pytest.mark.postgres


def batch(name: str, size: int = 20) -> list[dict[str, Any]]:
    return [delivery_status_payload(f"{name}-{n}", Status.SENT, timestamp=1_700_000_000 + n) for n in range(size)]


def stored_events(url: str) -> int:
    engine = sqlalchemy.create_engine(url)
    with engine.connect() as connection:
        count = connection.execute(sqlalchemy.text("SELECT count(*) FROM ledger_events")).scalar_one()
    engine.dispose()
    return int(count)


@pytest.fixture
def proxy(postgres_database: str) -> Iterator[CuttableProxy]:
    url = make_url(postgres_database)
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    yield proxy
    proxy.close()


@pytest.fixture
def proxied(postgres_database: str, proxy: CuttableProxy) -> str:
    return make_url(postgres_database).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)


def test_an_unreachable_database_is_a_storage_error_then_ingest_recovers(
    postgres_database: str, proxied: str, proxy: CuttableProxy
) -> None:
    with Ledger.open(proxied) as ledger:
        ledger.ingest_many(batch("before"))
        proxy.cut()
        with pytest.raises(StorageError, match="could not"):
            ledger.ingest_many(batch("during"))
        assert stored_events(postgres_database) == 40  # nothing of the failed batch
        proxy.restore()
        outcomes = ledger.ingest_many(batch("during"))  # the same ledger: no restart
        assert {o.kind for o in outcomes} == {Outcome.APPLIED}
        assert ledger.message("during-0").status is Status.SENT
    assert stored_events(postgres_database) == 80


def test_a_database_restart_is_survived_without_restarting_the_process(postgres_database: str) -> None:
    with Ledger.open(postgres_database) as ledger:
        ledger.ingest_many(batch("before"))
        # What a restart does to clients: every server process of theirs goes away.
        engine = sqlalchemy.create_engine(postgres_database)
        with engine.connect() as connection:
            killed = connection.execute(
                sqlalchemy.text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
        engine.dispose()
        assert killed >= 1
        outcomes = ledger.ingest_many(batch("after"))
        assert {o.kind for o in outcomes} == {Outcome.APPLIED}
        assert ledger.message("after-19").status is Status.SENT

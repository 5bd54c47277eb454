"""PostgreSQL's contention, made for real: a deadlock, a serialization failure, a lock not granted.

Each is classified by its SQLSTATE (``ledger.sql.storage_error``), and the ledger retries
what PostgreSQL ended in favour of another transaction (``ledger.retry``), however long
that transaction had waited.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sqlalchemy
from sqlalchemy.engine import Connection, Engine, make_url

from ledger import (
    Ledger,
    Outcome,
    Status,
    StorageBusyError,
    StorageError,
    StorageUnavailableError,
    TransactionConflictError,
)
from ledger.connectly import delivery_status_payload
from ledger.rejections import rejections_table
from ledger.sql import storage_errors
from tests.servers import poll

pytestmark = pytest.mark.postgres


@pytest.fixture
def engine(postgres_database: str) -> Iterator[Engine]:
    engine = sqlalchemy.create_engine(postgres_database)
    yield engine
    engine.dispose()


def waiting_for(engine: Engine, table: str) -> bool:
    """Whether a connection to this test's database waits for a lock on ``table``."""
    with engine.connect() as watcher:
        waiting = watcher.exec_driver_sql(
            "SELECT count(*) FROM pg_locks JOIN pg_class ON pg_class.oid = pg_locks.relation"
            " WHERE pg_class.relname = %s AND NOT pg_locks.granted"
            " AND pg_locks.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (table,),
        ).scalar_one()
    return bool(waiting)


def test_a_deadlock_under_ingest_many_is_retried_and_the_whole_batch_stored(
    postgres_database: str, engine: Engine
) -> None:
    # PostgreSQL looks for a deadlock once, deadlock_timeout after a wait begins, in the
    # waiting backend, which then ends its own transaction.  The ledger looks after 3 s
    # (time enough for the other connection to close the cycle), the other not for 30 s:
    # the ledger's transaction is the one ended.  (Setting deadlock_timeout takes a superuser,
    # as the tests' PostgreSQL role is.)
    url = make_url(postgres_database).update_query_dict({"options": "-c deadlock_timeout=3s"})
    with Ledger.open(url) as ledger, engine.connect() as other, ThreadPoolExecutor(1) as pool:
        events = ledger.recorder.events_table.name
        other.exec_driver_sql("SET deadlock_timeout = '30s'")
        other.exec_driver_sql(f"LOCK TABLE {rejections_table.name} IN ACCESS EXCLUSIVE MODE")
        # The ledger locks the events table, writes its events, then waits to write its rejection.
        batch: list[Any] = [delivery_status_payload("m-1", Status.SENT, timestamp=1641513098), "not json"]
        ingesting = pool.submit(ledger.ingest_many, batch)
        poll(lambda: waiting_for(engine, rejections_table.name), "the ledger to wait for the rejections table")
        other.exec_driver_sql(f"LOCK TABLE {events} IN EXCLUSIVE MODE")  # the cycle: granted once the ledger's ends
        other.commit()
        outcomes = ingesting.result(timeout=120)
        assert [outcome.kind for outcome in outcomes] == [Outcome.APPLIED, Outcome.REJECTED]
        assert ledger.locks_retried == 1
        assert ledger.message("m-1").status is Status.SENT
        assert [rejection.kind for rejection in ledger.rejections()] == ["malformed"]
        # The ended attempt left nothing behind: one copy of the message's events, one rejection.
        with engine.connect() as reader:
            stored = reader.exec_driver_sql(f"SELECT count(*) FROM {events}").scalar_one()
        assert stored == ledger.message("m-1").version


def conflict(engine: Engine, first: Connection, second: Connection) -> None:
    """Make ``second``'s transaction conflict with ``first``'s on one row (both open)."""
    first.exec_driver_sql("UPDATE counters SET n = n + 1 WHERE id = 1")
    second.exec_driver_sql("SELECT n FROM counters WHERE id = 1").scalar_one()  # its snapshot is taken
    first.commit()
    second.exec_driver_sql("UPDATE counters SET n = n + 1 WHERE id = 1")  # a row changed since the snapshot


def test_postgresqls_contention_errors_are_classified_by_sqlstate(engine: Engine) -> None:
    with engine.begin() as setup:
        setup.exec_driver_sql("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)")
        setup.exec_driver_sql("INSERT INTO counters VALUES (1, 0)")
    repeatable = engine.execution_options(isolation_level="REPEATABLE READ")
    # serialization_failure (40001): a row changed since a REPEATABLE READ snapshot.
    with repeatable.connect() as first, repeatable.connect() as second:
        with pytest.raises(StorageError) as raised, storage_errors("save"):
            conflict(engine, first, second)
        assert type(raised.value) is TransactionConflictError
        assert "could not serialize access" in str(raised.value)
    # lock_not_available (55P03): NOWAIT on a table another transaction holds.
    with engine.connect() as holder, engine.connect() as impatient:
        holder.exec_driver_sql("LOCK TABLE counters IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StorageError) as raised, storage_errors("save"):
            impatient.exec_driver_sql("LOCK TABLE counters IN ACCESS EXCLUSIVE MODE NOWAIT")
        assert type(raised.value) is StorageBusyError
    # Not contention: a statement PostgreSQL cancelled on its statement_timeout (57014).
    with engine.connect() as slow:
        slow.exec_driver_sql("SET statement_timeout = '1ms'")
        with pytest.raises(StorageError) as raised, storage_errors("read"):
            slow.exec_driver_sql("SELECT pg_sleep(1)")
        assert type(raised.value) is StorageUnavailableError

"""Database failures become members of the error tree, from the drivers' real errors."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import eventsourcing.persistence
import pytest
import sqlalchemy
import sqlalchemy.exc

from ledger import (
    DataRefusedError,
    Ledger,
    Outcome,
    Status,
    StorageBusyError,
    StorageError,
    StorageUnavailableError,
    VersionConflictError,
)
from ledger.connectly import delivery_status_payload
from ledger.sql import storage_error, storage_errors


def webhook(message_id: str, stage: Status) -> dict[str, Any]:
    return delivery_status_payload(message_id, stage, timestamp=1641513098)


def driver_error(connection: sqlite3.Connection, sql: str) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as raised:
        connection.execute(sql)
    return raised.value


def as_sqlalchemy_raises_it(error: sqlite3.Error) -> sqlalchemy.exc.DBAPIError:
    # A DBAPI error (an instance of dbapi_base_err) is always wrapped in a DBAPIError subclass.
    return cast(sqlalchemy.exc.DBAPIError, sqlalchemy.exc.DBAPIError.instance("SQL", {}, error, sqlite3.Error))


def as_eventsourcing_raises_it(error: sqlite3.Error) -> eventsourcing.persistence.PersistenceError:
    # eventsourcing-sqlalchemy's Transaction.__exit__ re-raises SQLAlchemy's errors as
    # eventsourcing's classes of the same name, SQLAlchemy's as the cause.
    wrapped = as_sqlalchemy_raises_it(error)
    outer: type[eventsourcing.persistence.PersistenceError] = getattr(eventsourcing.persistence, type(wrapped).__name__)
    try:
        raise outer(wrapped) from wrapped
    except eventsourcing.persistence.PersistenceError as caught:
        return caught


# The ledger's code never sees a driver's error bare: SQLAlchemy wraps every one.
WRAPPINGS: list[Callable[[sqlite3.Error], BaseException]] = [as_sqlalchemy_raises_it, as_eventsourcing_raises_it]
WRAPPING_IDS = ["sqlalchemy", "eventsourcing"]


@pytest.fixture
def locked_file(tmp_path: Path) -> Iterator[str]:
    """A SQLite file whose write lock another connection holds."""
    path = str(tmp_path / "locked.db")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x INTEGER)")
    holder.execute("BEGIN IMMEDIATE")
    yield path
    holder.close()


@pytest.mark.parametrize("wrap", WRAPPINGS, ids=WRAPPING_IDS)
def test_a_sqlite_file_locked_by_another_connection_is_busy_in_any_wrapper(
    locked_file: str, wrap: Callable[[sqlite3.Error], BaseException]
) -> None:
    busy = driver_error(sqlite3.connect(locked_file, timeout=0), "INSERT INTO t VALUES (1)")
    assert busy.sqlite_errorname == "SQLITE_BUSY"
    error = storage_error(wrap(busy), "save")
    assert isinstance(error, StorageBusyError)
    assert str(error).startswith("could not save: ")
    assert str(error).endswith("database is locked")


@pytest.mark.parametrize("wrap", WRAPPINGS, ids=WRAPPING_IDS)
def test_sqlites_integrity_errors_are_version_conflicts_only_when_unique(
    wrap: Callable[[sqlite3.Error], BaseException],
) -> None:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE events (id TEXT, version INTEGER NOT NULL, PRIMARY KEY (id, version))")
    connection.execute("INSERT INTO events VALUES ('a', 1)")
    taken = driver_error(connection, "INSERT INTO events VALUES ('a', 1)")
    missing = driver_error(connection, "INSERT INTO events VALUES ('a', NULL)")
    assert isinstance(storage_error(wrap(taken), "save"), VersionConflictError)
    assert isinstance(storage_error(wrap(missing), "save"), DataRefusedError)


@pytest.mark.parametrize("wrap", WRAPPINGS, ids=WRAPPING_IDS)
def test_a_missing_table_is_storage_unavailable(wrap: Callable[[sqlite3.Error], BaseException]) -> None:
    gone = driver_error(sqlite3.connect(":memory:"), "SELECT * FROM ledger_events")
    assert type(storage_error(wrap(gone), "load messages")) is StorageUnavailableError


def test_errors_outside_the_database_pass_through_unchanged() -> None:
    with pytest.raises(KeyError), storage_errors("save"):
        raise KeyError("a bug")


def test_a_sqlite_file_locked_under_ingest_many_is_retried(sqlite_database: str) -> None:
    # eventsourcing-sqlalchemy 1.0.1 re-raises "database is locked" as eventsourcing's
    # OperationalError when the batch's transaction ends: it must still be retried.
    path = sqlite_database.removeprefix("sqlite:///")
    with Ledger.open(sqlite_database) as ledger:
        ledger.ingest(webhook("m-1", Status.SENT))
        ledger.engine.dispose()
        # Refuse at once instead of waiting for the lock (the contention worth a retry).
        sqlalchemy.event.listen(
            ledger.engine, "connect", lambda connection, _: connection.execute("PRAGMA busy_timeout = 0")
        )
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        refusals: list[str] = []

        def release_the_lock(context: sqlalchemy.engine.ExceptionContext) -> None:
            refusals.append(getattr(context.original_exception, "sqlite_errorname", "?"))
            if holder.in_transaction:
                holder.execute("ROLLBACK")

        sqlalchemy.event.listen(ledger.engine, "handle_error", release_the_lock)
        outcomes = ledger.ingest_many([webhook("m-1", Status.DELIVERED), webhook("m-2", Status.SENT)])
        holder.close()
        assert [o.kind for o in outcomes] == [Outcome.APPLIED, Outcome.APPLIED]
        assert (refusals, ledger.locks_retried, ledger.conflicts_retried) == (["SQLITE_BUSY"], 1, 0)
        assert (ledger.message("m-1").version, ledger.message("m-2").version) == (3, 2)


@pytest.mark.postgres
def test_postgresqls_refusals_are_classified_by_sqlstate(postgres_database: str) -> None:
    engine = sqlalchemy.create_engine(postgres_database)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE events (id TEXT, version INTEGER NOT NULL, PRIMARY KEY (id, version))"
            )
            connection.exec_driver_sql("INSERT INTO events VALUES ('a', 1)")
        for sql, parameters, expected in [
            ("INSERT INTO events VALUES ('a', 1)", (), VersionConflictError),
            ("INSERT INTO events VALUES ('a', NULL)", (), DataRefusedError),
            ("INSERT INTO events VALUES (%s, 2)", ("nul \x00 here",), DataRefusedError),
            ("SELECT * FROM ledger_events", (), DataRefusedError),  # PEP 249: a ProgrammingError
        ]:
            with pytest.raises(StorageError) as raised, storage_errors("save"), engine.begin() as connection:
                connection.exec_driver_sql(sql, parameters)
            assert type(raised.value) is expected, sql
    finally:
        engine.dispose()

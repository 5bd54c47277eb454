"""UTCDateTime: what it stores on each backend."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta, timezone

import eventsourcing.persistence
import pytest
import sqlalchemy.exc
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import DateTime
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from ledger.errors import (
    DataRefusedError,
    StorageBusyError,
    StorageError,
    StorageUnavailableError,
    TransactionConflictError,
    UnreadableDataError,
    VersionConflictError,
)
from ledger.sql import UTCDateTime, storage_error, storage_errors

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


@pytest.mark.parametrize(
    "dialect",
    [SQLITE, postgresql.dialect()],  # type: ignore[no-untyped-call]  # SQLAlchemy's psycopg2 dialect is unannotated
    ids=["sqlite", "postgresql"],
)
def test_naive_datetimes_are_refused(dialect: Dialect) -> None:
    processor = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    with pytest.raises(ValueError, match="naive datetime"):
        processor(datetime(2026, 1, 1))


def _refused(error: BaseException) -> BaseException:
    """``error`` as eventsourcing-sqlalchemy re-raises it when a transaction ends."""
    outer: type[eventsourcing.persistence.PersistenceError] = getattr(eventsourcing.persistence, type(error).__name__)
    try:
        raise outer(error) from error
    except eventsourcing.persistence.PersistenceError as caught:
        return caught


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (sqlalchemy.exc.OperationalError("INSERT", {}, Exception("disk I/O error")), StorageUnavailableError),
        (sqlalchemy.exc.InterfaceError("SELECT", {}, Exception("connection closed")), StorageUnavailableError),
        (sqlalchemy.exc.DataError("INSERT", {}, ValueError("NUL")), DataRefusedError),
        (sqlalchemy.exc.ProgrammingError("INSERT", {}, TypeError("cannot adapt")), DataRefusedError),
        (sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key")), VersionConflictError),
        (sqlalchemy.exc.InternalError("INSERT", {}, Exception("internal")), StorageError),
        (ConnectionRefusedError("refused"), StorageUnavailableError),
    ],
    ids=["operational", "interface", "data", "programming", "integrity", "internal", "os"],
)
@pytest.mark.parametrize("wrapped", [False, True], ids=["sqlalchemy", "eventsourcing"])
def test_each_database_failure_is_one_class_of_the_error_tree(
    error: BaseException, expected: type[StorageError], wrapped: bool
) -> None:
    if wrapped and isinstance(error, sqlalchemy.exc.SQLAlchemyError):
        error = _refused(error)
    with pytest.raises(StorageError) as raised, storage_errors("save"):
        raise error
    assert type(raised.value) is expected
    assert raised.value.__cause__ is error
    assert str(raised.value).startswith("could not save: ")


def test_a_sqlite_busy_code_is_busy_whatever_the_message_says() -> None:
    locked = sqlite3.OperationalError("some wording a later SQLite may choose")
    locked.sqlite_errorcode = sqlite3.SQLITE_BUSY | (2 << 8)  # SQLITE_BUSY_SNAPSHOT
    locked_message = sqlite3.OperationalError("database is locked")  # the message alone says nothing
    assert isinstance(
        storage_error(_refused(sqlalchemy.exc.OperationalError("INSERT", {}, locked)), "save"), StorageBusyError
    )
    assert (
        type(storage_error(sqlalchemy.exc.OperationalError("INSERT", {}, locked_message), "save"))
        is StorageUnavailableError
    )


class _PostgresError(Exception):
    """A PostgreSQL driver's error: psycopg 3 names its SQLSTATE ``sqlstate``, psycopg2 ``pgcode``."""

    def __init__(self, message: str, *, sqlstate: str | None = None, pgcode: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate
        self.pgcode = pgcode


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("40P01", TransactionConflictError),  # deadlock_detected
        ("40001", TransactionConflictError),  # serialization_failure
        ("55P03", StorageBusyError),  # lock_not_available
        ("57014", StorageUnavailableError),  # query_canceled: PEP 249's class decides
    ],
)
@pytest.mark.parametrize("attribute", ["sqlstate", "pgcode"])
@pytest.mark.parametrize("wrapped", [False, True], ids=["sqlalchemy", "eventsourcing"])
def test_postgresqls_contention_is_known_by_its_sqlstate_from_either_driver(
    code: str, expected: type[StorageError], attribute: str, wrapped: bool
) -> None:
    driver = _PostgresError("some wording", **{attribute: code})
    error: BaseException = sqlalchemy.exc.OperationalError("INSERT", {}, driver)
    if wrapped:
        error = _refused(error)
    assert type(storage_error(error, "save")) is expected


def test_undecodable_stored_data_is_unreadable_and_other_errors_pass_through() -> None:
    with pytest.raises(UnreadableDataError, match="LEDGER_CIPHER_KEY"), storage_errors("load messages"):
        raise eventsourcing.persistence.MapperDeserialisationError("Invalid cipher tag")
    with pytest.raises(KeyError), storage_errors("save"):
        raise KeyError("a bug is not a storage failure")

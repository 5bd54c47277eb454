"""SQL helpers shared by the ledger's stores and the projections (no domain logic).

Also the one place where a database failure becomes a member of the ledger's error
tree (:func:`storage_errors`, :func:`storage_error`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from eventsourcing import persistence
from eventsourcing.persistence import MapperDeserialisationError, PersistenceError
from sqlalchemy import DateTime, inspect
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.types import TypeDecorator

from ledger.errors import (
    DataRefusedError,
    LedgerError,
    StorageBusyError,
    StorageError,
    StorageUnavailableError,
    TransactionConflictError,
    UnreadableDataError,
    VersionConflictError,
)
from ledger.extras import needs

DEFAULT_URL = "sqlite:///ledger.db"

#: The databases the ledger runs on (SQLAlchemy backend names).
BACKENDS = ("sqlite", "postgresql")


def normalise_url(url: str) -> str:
    """Select the psycopg 3 driver for bare PostgreSQL URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def checked_url(url: str) -> str:
    """``url``, normalised, if it names a database the ledger runs on with its driver installed.

    Raises ``ValueError`` otherwise, without repeating the URL (it may hold a password).
    """
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except (sqlalchemy.exc.ArgumentError, ValueError):
        raise ValueError("not a database URL; give sqlite:///FILE or postgresql://USER@HOST/DATABASE") from None
    backend = parsed.get_backend_name()
    if backend not in BACKENDS:
        raise ValueError(f"unsupported database {backend!r}: the ledger runs on SQLite and PostgreSQL")
    try:
        # Import the driver now: a missing one would otherwise surface as an ImportError
        # from deep inside the first connection.
        parsed.get_dialect().import_dbapi()
    except (ImportError, sqlalchemy.exc.NoSuchModuleError):
        driver = parsed.get_driver_name()
        missing = f"the database driver {driver!r} is not installed"
        if driver == "psycopg":  # the driver the postgres extra installs
            missing += f"; {needs('PostgreSQL', 'postgres')}"
        raise ValueError(missing) from None
    return url


def sqlite_file(url: URL) -> Path | None:
    """The file a SQLite ``url`` names; ``None`` for other databases and in-memory ones."""
    database = url.database
    if url.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if url.query.get("uri") == "true" and database.startswith("file:"):
        if url.query.get("mode") == "memory":
            return None
        database = database.removeprefix("file:")
    return Path(database)


def has_tables(engine: Engine, tables: Iterable[tuple[str | None, str]]) -> bool:
    """Whether every ``(schema, table)`` of ``tables`` exists in ``engine``'s database.

    A SQLite file that does not exist has none, and is not created by asking.
    """
    path = sqlite_file(engine.url)
    if path is not None and not path.exists():
        return False  # Connecting would create an empty file.
    inspector = inspect(engine)
    return all(inspector.has_table(table, schema=schema) for schema, table in tables)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use a timezone-aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        """On SQLite, text as SQLAlchemy's DATETIME stores it, made by C code (views write many)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetime given; use a timezone-aware UTC datetime")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@contextmanager
def storage_errors(doing: str) -> Iterator[None]:
    """Raise a database failure in the block as the member of the error tree it is (cause kept).

    See :func:`storage_error`; ``doing`` completes "could not ..." in the message.
    """
    try:
        yield
    except (PersistenceError, MapperDeserialisationError, sqlalchemy.exc.SQLAlchemyError, OSError) as error:
        raise storage_error(error, doing) from error


#: SQLite's primary result codes for a lock held by another connection; extended codes
#: (SQLITE_BUSY_SNAPSHOT, say) keep them in their low byte.
_SQLITE_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
#: SQLite's extended codes for a unique (or primary key) constraint: the events table's
#: unique (originator id, version) index refusing a second writer's event.
_SQLITE_UNIQUE_CODES = frozenset({sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY})
#: PostgreSQL's SQLSTATE for unique_violation.
_POSTGRES_UNIQUE = "23505"
#: PostgreSQL's SQLSTATEs for a transaction it ended in favour of a concurrent one:
#: serialization_failure and deadlock_detected.
_POSTGRES_CONFLICTS = frozenset({"40001", "40P01"})
#: PostgreSQL's SQLSTATE for a lock not granted (lock_timeout ran out, or NOWAIT).
_POSTGRES_LOCK_NOT_AVAILABLE = "55P03"

#: PEP 249's classes of error caused by the values sent, as SQLAlchemy and eventsourcing
#: spell them (integrity errors are looked at more closely: most are version conflicts).
_DATA_ERRORS = (
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.ProgrammingError,
    persistence.DataError,
    persistence.ProgrammingError,
)
_INTEGRITY_ERRORS = (sqlalchemy.exc.IntegrityError, persistence.IntegrityError)
_UNAVAILABLE_ERRORS = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    persistence.OperationalError,
    persistence.InterfaceError,
    OSError,
)


def storage_error(error: BaseException, doing: str) -> LedgerError:
    """The member of the error tree a driver's, SQLAlchemy's or eventsourcing's ``error`` is.

    The driver's own error decides where it says enough (SQLite's result code, PostgreSQL's
    SQLSTATE), whichever wrapper it arrives in: eventsourcing-sqlalchemy re-raises errors
    leaving a transaction as eventsourcing's classes, with SQLAlchemy's (and the driver's)
    as causes.  Otherwise PEP 249's class decides.  Undecodable stored data is an
    :class:`~ledger.errors.UnreadableDataError`.
    """
    if isinstance(error, MapperDeserialisationError):
        return UnreadableDataError(
            f"could not {doing}: stored data cannot be decrypted or decoded; is LEDGER_CIPHER_KEY "
            "set to the key it was written with?"
        )
    detail = str(error).splitlines()[0] if str(error) else type(error).__name__
    return _storage_class(error)(f"could not {doing}: {detail}")


def _storage_class(error: BaseException) -> type[StorageError]:
    chain = list(_chain(error))
    driver = chain[-1]
    code = getattr(driver, "sqlite_errorcode", None)
    if isinstance(driver, sqlite3.Error) and isinstance(code, int) and code & 0xFF in _SQLITE_BUSY_CODES:
        return StorageBusyError
    # psycopg 3 says sqlstate, psycopg2 (a host's engine) pgcode.
    sqlstate = getattr(driver, "sqlstate", None) or getattr(driver, "pgcode", None)
    if sqlstate in _POSTGRES_CONFLICTS:
        return TransactionConflictError
    if sqlstate == _POSTGRES_LOCK_NOT_AVAILABLE:
        return StorageBusyError
    if any(isinstance(each, _INTEGRITY_ERRORS) for each in chain):
        if code is None and sqlstate is None:
            return VersionConflictError  # the driver says no more: the likeliest by far
        unique = code in _SQLITE_UNIQUE_CODES or sqlstate == _POSTGRES_UNIQUE
        return VersionConflictError if unique else DataRefusedError
    if any(isinstance(each, _DATA_ERRORS) for each in chain):
        return DataRefusedError
    if any(isinstance(each, _UNAVAILABLE_ERRORS) for each in chain):
        return StorageUnavailableError
    return StorageError


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error``, then what it wraps (SQLAlchemy's ``orig``, else the cause), the driver's last."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        wrapped = current.orig if isinstance(current, sqlalchemy.exc.DBAPIError) else None
        current = wrapped if isinstance(wrapped, BaseException) else current.__cause__

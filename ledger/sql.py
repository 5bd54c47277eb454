"""SQL helpers shared by the rejection store and the projections (no domain logic)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from eventsourcing.persistence import MapperDeserialisationError, PersistenceError
from sqlalchemy import DateTime, inspect
from sqlalchemy.engine import URL, Dialect, Engine, make_url
from sqlalchemy.types import TypeDecorator

from ledger.errors import StorageError, UnreadableDataError

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
        raise ValueError(f"the database driver {parsed.get_driver_name()!r} is not installed") from None
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
    """Translate database failures into :class:`StorageError` (the cause is kept)."""
    try:
        yield
    except MapperDeserialisationError as error:
        raise UnreadableDataError(
            f"could not {doing}: stored data cannot be decrypted or decoded; is LEDGER_CIPHER_KEY "
            "set to the key it was written with?"
        ) from error
    except (PersistenceError, sqlalchemy.exc.SQLAlchemyError, OSError) as error:
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise StorageError(f"could not {doing}: {detail}") from error

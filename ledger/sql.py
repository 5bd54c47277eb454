"""SQL helpers shared by the rejection store and the projections (no domain logic)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy.exc
from eventsourcing.persistence import MapperDeserialisationError, PersistenceError
from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ledger.errors import StorageError, UnreadableDataError

DEFAULT_URL = "sqlite:///ledger.db"


def normalise_url(url: str) -> str:
    """Select the psycopg 3 driver for bare PostgreSQL URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


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

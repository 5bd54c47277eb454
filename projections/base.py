"""What every projection shares: the table metadata, the projection protocol, small SQL helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence, Set
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar
from uuid import UUID

from sqlalchemy import MetaData, Table, delete, insert
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

#: All read-model tables (and the projections' tracking table) live in this metadata.
metadata = MetaData()

#: Opens a read-only connection for a query (``engine.connect``).
Connect = Callable[[], AbstractContextManager[Connection]]

T = TypeVar("T")


class Projection(Protocol):
    """A read model: tables it owns, and how a page of events changes them."""

    @property
    def name(self) -> str:
        """The projection's name, its key in the tracking table."""

    @property
    def tables(self) -> Sequence[Table]:
        """The tables the projection owns."""

    def process(self, session: Session, events: Sequence[Any]) -> None:
        """Apply ``events`` (oldest first) to the view inside the caller's transaction."""

    def clear(self, session: Session) -> None:
        """Delete every row of the view inside the caller's transaction."""


def chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size`` (bound parameter lists stay small)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def replace_rows(
    session: Session, table: Table, key: str, rows: Sequence[dict[str, Any]], *, new: Set[str] = frozenset()
) -> None:
    """Write ``rows`` keyed by column ``key``: delete the old versions, insert the new ones.

    Keys in ``new`` are known not to be stored yet (their message was opened in this
    page), so no delete is spent on them.  Portable across SQLite and PostgreSQL, and
    one executemany per chunk.
    """
    column = table.c[key]
    stale = [row[key] for row in rows if row[key] not in new]
    for part in chunks(stale):
        session.execute(delete(table).where(column.in_(part)))
    for rows_part in chunks(rows, 5000):
        session.execute(insert(table), list(rows_part))


def opened_in(events: Sequence[Any]) -> set[str]:
    """Keys of the messages whose first event is among ``events`` (nothing of them is stored yet)."""
    return {aggregate_key(e.originator_id) for e in events if e.originator_version == 1}


def aggregate_key(originator_id: UUID) -> str:
    """The text form of an aggregate id used as a view key."""
    return originator_id.hex

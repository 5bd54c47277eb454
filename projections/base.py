"""What every projection shares: the table metadata, the projection protocol, small SQL helpers."""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol, TypeVar, cast
from uuid import UUID

from eventsourcing.persistence import Mapper, Notification
from sqlalchemy import MetaData, Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

from ledger.message import MessageEvent

#: All read-model tables (and the projections' tracking table) live in this metadata.
metadata = MetaData()

#: Opens a read-only connection for a query (``engine.connect``).
Connect = Callable[[], AbstractContextManager[Connection]]

#: A view row as a dict of column values.
Row = dict[str, Any]

#: A one-row-per-message view's logic: the message's row after an event (``None``: no row yet).
Fold = Callable[[Row | None, MessageEvent], Row]

T = TypeVar("T")


class RowCache:
    """View rows by aggregate key, as the runner's transactions wrote them, least recently used out first.

    The runner makes one per projection for each run and drops it when the run ends
    (normally or by an exception), so it never outlives the transactions it describes.
    A row found here is not read back from the database before it changes again.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError("the row cache size must be >= 0")
        self.maxsize = maxsize
        self._rows: OrderedDict[str, Row] = OrderedDict()

    def get(self, key: str) -> Row | None:
        """The row of ``key``, now the most recently used; ``None`` if absent."""
        row = self._rows.get(key)
        if row is not None:
            self._rows.move_to_end(key)
        return row

    def update(self, rows: Iterable[Row], key: str = "aggregate_id") -> None:
        """Keep ``rows`` (keyed by their column ``key``) as the most recently used."""
        for row in rows:
            self._rows[row[key]] = row
            self._rows.move_to_end(row[key])
        while len(self._rows) > self.maxsize:
            self._rows.popitem(last=False)


class Projection(Protocol):
    """A read model: tables it owns, and how a page of events changes them."""

    @property
    def name(self) -> str:
        """The projection's name, its key in the tracking table."""

    @property
    def tables(self) -> Sequence[Table]:
        """The tables the projection owns."""

    def process(self, session: Session, events: Sequence[MessageEvent], cache: RowCache) -> None:
        """Apply ``events`` (oldest first) to the view inside the caller's transaction.

        ``cache`` holds rows this projection wrote or read earlier in the same run; the
        projection keeps it current with what it writes.
        """

    def clear(self, session: Session) -> None:
        """Delete every row of the view inside the caller's transaction."""


def decode(mapper: Mapper[UUID], notifications: Sequence[Notification]) -> list[tuple[int, MessageEvent]]:
    """Each notification's id and its event, in the log's order."""
    events = [(n.id, mapper.to_domain_event(n)) for n in notifications]
    # The mapper's type cannot say which class a topic names, but the ledger records
    # only Message's events (its own replay relies on it too): checking each event
    # again would add work per event to every rebuild for what is already known.
    return cast("list[tuple[int, MessageEvent]]", events)


def chunks(items: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """``items`` in slices of at most ``size`` (bound parameter lists stay small)."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def current_rows(
    session: Session, table: Table, cache: RowCache, keys: Iterable[str], *, new: set[str]
) -> dict[str, Row]:
    """The stored rows of ``keys`` by aggregate key: from ``cache``, else read (keys in ``new`` are not stored)."""
    rows: dict[str, Row] = {}
    missing: list[str] = []
    for key in keys:
        if key in new:
            continue
        row = cache.get(key)
        if row is None:
            missing.append(key)
        else:
            rows[key] = row
    column = table.c.aggregate_id
    for part in chunks(sorted(missing)):
        for stored in session.execute(select(table).where(column.in_(part))).mappings():
            rows[stored["aggregate_id"]] = dict(stored)
    return rows


def fold_rows(
    session: Session,
    table: Table,
    cache: RowCache,
    events: Sequence[MessageEvent],
    fold: Fold,
    *,
    fixed: tuple[str, ...] = (),
) -> None:
    """A one-row-per-message view: ``fold`` each event into its message's row, then write the changed rows."""
    keys = {aggregate_key(e.originator_id) for e in events}
    rows = current_rows(session, table, cache, keys, new=opened_in(events))
    for event in events:
        key = aggregate_key(event.originator_id)
        rows[key] = fold(rows.get(key), event)
    changed = list(rows.values())
    upsert(session, table, changed, fixed=fixed)
    cache.update(changed)


def upsert(session: Session, table: Table, rows: Sequence[Row], *, fixed: tuple[str, ...] = ()) -> None:
    """Insert ``rows``, or overwrite the stored row with the same primary key.

    ``fixed`` names columns besides the key that never change once written (their
    indexes are left alone).  ``INSERT ... ON CONFLICT DO UPDATE`` on SQLite (3.24 and
    later) and PostgreSQL.
    """
    dialect = session.get_bind().dialect.name
    insert = sqlite.insert(table) if dialect == "sqlite" else postgresql.insert(table)
    keys = [column.name for column in table.primary_key]
    changing = {c.name: insert.excluded[c.name] for c in table.columns if c.name not in keys and c.name not in fixed}
    execute_many(session, insert.on_conflict_do_update(index_elements=keys, set_=changing), rows)


def execute_many(session: Session, statement: Insert, rows: Sequence[Row]) -> None:
    """Execute ``statement`` once per row of ``rows`` (dicts of every column of its table).

    The rows go to the driver's executemany (psycopg pipelines it), each value converted
    by its column type's bind processor: SQLAlchemy's own per-row parameter handling cost
    more than the database's insert.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    compiled = statement.compile(dialect=dialect)
    names = list(compiled.positiontup or []) if dialect.positional else list(compiled.params)
    columns = statement.table.columns
    assert sorted(names) == sorted(column.key for column in columns), "every column is a parameter, once"
    values_of = operator.itemgetter(*names)
    processors = [(i, columns[name].type.dialect_impl(dialect).bind_processor(dialect)) for i, name in enumerate(names)]
    processing = [(i, process) for i, process in processors if process is not None]
    parameters: list[Any] = []
    for row in rows:
        values = list(values_of(row))
        for i, process in processing:
            values[i] = process(values[i])
        parameters.append(tuple(values) if dialect.positional else dict(zip(names, values, strict=True)))
    session.connection().exec_driver_sql(str(compiled), parameters)


def opened_in(events: Sequence[MessageEvent]) -> set[str]:
    """Keys of the messages whose first event is among ``events`` (nothing of them is stored yet)."""
    return {aggregate_key(e.originator_id) for e in events if e.originator_version == 1}


def aggregate_key(originator_id: UUID) -> str:
    """The text form of an aggregate id used as a view key."""
    return originator_id.hex

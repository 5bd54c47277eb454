"""What the ledger's recorders share: batch loads by originator id, the log's tail, the last id.

eventsourcing picks one recorder per database (``eventsourcing.sqlite``,
``eventsourcing.postgres``); so does the ledger's factory, between
:class:`~ledger.persistence.sqlite.SQLiteLedgerRecorder` and
:class:`~ledger.persistence.postgres.PostgreSQLLedgerRecorder`.  This base class holds
what is written once for both, and declares what each writes its own way.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Table, func, select, type_coerce
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from ledger.persistence.chain import ChainedRow, Head, add_chain_column, chain_batch, chain_table, has_chain_column

#: Most aggregate ids in one ``IN (...)`` list: under every SQLite's limit of bound
#: parameters (999 before version 3.32) and PostgreSQL's (65,535).
MAX_IDS_PER_SELECT = 500

#: Most chain heads a recorder keeps between batches (16 bytes of id, 32 of hash each).
MAX_CACHED_HEADS = 100_000

T = TypeVar("T")

#: A row of the chain as :meth:`LedgerRecorder.read_chain` gives it: notification id,
#: originator id (16 bytes), version, topic, state as stored, chain hash (None: unchained).
ChainRow = tuple[int, bytes, int, str, bytes, bytes | None]


class LedgerRecorder(SQLAlchemyApplicationRecorder):
    """``SQLAlchemyApplicationRecorder`` with batch inserts and batch loads (one subclass per database).

    Every event it inserts carries its chain hash (see :mod:`ledger.persistence.chain`),
    computed from the previous event's stored hash, read in one query per batch.
    """

    def __init__(
        self, datastore: SQLAlchemyDatastore, *, events_table_name: str, schema_name: str | None = None
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name, schema_name=schema_name)
        #: The events table with its chain column, for the recorder's Core statements.
        self.chain_table = chain_table(self.events_table)
        #: Whether the database's table has the chain column (a ledger that predates it,
        #: opened not to create tables, has not: its events are then stored unchained).
        self.chained = True
        #: Chain heads (version, hash) of messages whose events this recorder inserted, as
        #: committed; and those of the transaction in progress (see :meth:`begin_heads`).
        #: Keyed by the originator id's int (a UUID hashes in Python, an int in C).
        self._heads: dict[int, Head] = {}
        self._staged: dict[int, Head] = {}

    def begin_heads(self) -> None:
        """A batch's transaction begins: forget the heads staged by any earlier one."""
        self._staged.clear()

    def commit_heads(self) -> None:
        """The batch's transaction committed: its heads are known to be stored.

        A stored event never changes, so a head (version v, hash h) stays right for as
        long as it is the one before the next event: the next batch of that message then
        needs no query, whoever else writes to the database (another writer that appended
        first makes our insert of version v + 1 conflict, and the retry reads it).
        """
        if len(self._heads) + len(self._staged) > MAX_CACHED_HEADS:
            self._heads.clear()
        self._heads.update(self._staged)
        self._staged.clear()

    def create_table(self) -> None:
        """Create the tables (eventsourcing's), and add the chain column to a table that predates it."""
        super().create_table()
        add_chain_column(self.sql_engine, self.events_table)
        self.chained = True

    def detect_chain(self) -> bool:
        """Look whether the table has the chain column (for a ledger opened not to create tables)."""
        self.chained = has_chain_column(self.sql_engine, self.events_table)
        return self.chained

    @property
    def sql_engine(self) -> Engine:
        """The datastore's engine (the ledger's own, or a host's)."""
        engine = self.datastore.engine
        assert isinstance(engine, Engine)
        return engine

    @property
    def events_table(self) -> Table:
        """The stored events table (notification id, originator id and version, topic, state)."""
        table: Table = self.events_record_cls.__table__
        return table

    @abstractmethod
    def _insert_stored_events(self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        """Insert ``stored_events`` in ``session``'s transaction; their notification ids, in order.

        The parent class adds one ORM object per event and flushes, which cost more than
        encoding the events: each database's recorder inserts many rows in one statement.
        """

    def chained_rows(self, session: Session, stored_events: Sequence[StoredEvent]) -> list[ChainedRow]:
        """Each of ``stored_events`` (a batch about to be inserted) as a row with its chain hash, in order.

        An event whose previous version is stored without a hash (the ledger predates the
        chain and is not sealed yet) is left unchained too: ``ledger seal`` chains it.
        """
        # Usually every previous hash is known (a new message, an earlier event of the
        # batch, or a head this recorder committed): one pass, no query.  What is left is
        # under 2 us an event, 0.5 of them SHA-256 itself over ~500 bytes (benchmarks/audit.py).
        chained = chain_batch(stored_events, self._heads, None)
        if chained is None:
            wanted = list(
                {
                    (as_uuid(e.originator_id), e.originator_version - 1): None
                    for e in stored_events
                    if e.originator_version > 1
                }
            )
            chained = chain_batch(stored_events, self._heads, self._select_chain_hashes(session, wanted))
            assert chained is not None  # every previous hash is now known, or absent from the table
        rows, heads = chained
        self._staged.update(heads)
        return rows

    @abstractmethod
    def _select_chain_hashes(
        self, session: Session, keys: list[tuple[UUID, int]]
    ) -> dict[tuple[UUID, int], bytes | None]:
        """The stored chain hash of each stored event among ``(originator id, version)`` ``keys``."""

    @abstractmethod
    def read_chain(self, session: Session, after: int, limit: int) -> list[ChainRow]:
        """The first ``limit`` events after notification id ``after`` with their chain hashes, by id."""

    def select_chain_of(self, session: Session, originator_id: UUID) -> list[tuple[int, int, str, bytes, bytes | None]]:
        """``(id, version, topic, state, chain hash)`` of every event of one message, in version order."""
        table = self.chain_table
        query = (
            # As stored, without SQLAlchemy's binary processing: a tampered value may be of another type.
            select(
                table.c.id,
                table.c.originator_version,
                table.c.topic,
                type_coerce(table.c.state, NullType()),
                type_coerce(table.c.chain_hash, NullType()),
            )
            .where(table.c.originator_id == originator_id)
            .order_by(table.c.originator_version)
        )
        return [
            (n, version, str(topic), _as_bytes(state), None if chained is None else _as_bytes(chained))
            for n, version, topic, state, chained in session.execute(query)
        ]

    def select_events_of(self, session: Session, originator_ids: Iterable[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The stored events of each of ``originator_ids`` that has any, in version order."""
        found: dict[UUID, list[StoredEvent]] = {}
        for chunk in chunks(list(originator_ids), MAX_IDS_PER_SELECT):
            for originator_id, version, topic, state in self._select_rows(session, chunk):
                found.setdefault(originator_id, []).append(StoredEvent(originator_id, version, topic, state))
        return found

    @abstractmethod
    def _select_rows(self, session: Session, originator_ids: list[UUID]) -> list[tuple[UUID, int, str, bytes]]:
        """``(originator id, version, topic, state)`` of every event of ``originator_ids``, in version order."""

    @abstractmethod
    def select_versions_after(self, session: Session, notification_id: int, limit: int) -> list[tuple[int, UUID, int]]:
        """``(notification id, originator id, version)`` of the first ``limit`` events after ``notification_id``."""

    @abstractmethod
    def read_log(self, after: int, limit: int) -> list[Notification]:
        """The first ``limit`` notifications after id ``after``, oldest first.

        The same as ``select_notifications(after, limit, inclusive_of_start=False)``,
        without building an ORM object per row (that cost three times the query).
        """

    def select_version_at(self, session: Session, originator_id: UUID, position: int) -> int:
        """The last version of ``originator_id`` among the events up to notification id ``position`` (0: none)."""
        table = self.events_table
        query = select(func.max(table.c.originator_version)).where(
            table.c.originator_id == originator_id, table.c.id <= position
        )
        version: int | None = session.execute(query).scalar()
        return version or 0

    def select_max_notification_id(self, session: Session) -> int:
        """The last notification id (0 when nothing is stored), in the caller's transaction."""
        last: int | None = session.execute(select(func.max(self.events_table.c.id))).scalar()
        return last or 0


def chunks(items: list[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _as_bytes(value: object) -> bytes:
    """A stored value as bytes, also when it was edited to another type (SQLite keeps any type)."""
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def as_uuid(originator_id: UUID | str) -> UUID:
    """An originator id as a UUID (a stored event may carry it as a string)."""
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)

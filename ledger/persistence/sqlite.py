"""The ledger's recorder on SQLite: statements sent to the driver as SQLite stores the rows.

Also the pragmas every SQLite connection of the ledger gets (:data:`SQLITE_PRAGMAS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from sqlalchemy import Table, insert
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from ledger.persistence.chain import CHAIN_COLUMN
from ledger.persistence.recorders import MAX_IDS_PER_SELECT, ChainRow, LedgerRecorder, as_uuid, chunks

#: Set on every SQLite connection of the ledger.  None changes what is stored or how
#: durably (``synchronous`` stays FULL).  A batch of random aggregate ids dirties about a
#: thousand pages of the events index (4 MiB).  With SQLite's defaults, a 2 MiB page
#: cache and a checkpoint every 1,000 WAL pages, those pages were read back from the
#: file and copied into the database after nearly every batch.  Checkpointing every
#: 10,000 pages copies a page once for several batches (the WAL file is cut back to
#: 64 MiB afterwards); 16 MiB of cache keeps the index's upper levels in memory.
SQLITE_PRAGMAS = (
    "PRAGMA cache_size = -16384",  # KiB: 16 MiB per connection
    "PRAGMA wal_autocheckpoint = 10000",  # pages
    "PRAGMA journal_size_limit = 67108864",  # bytes
)


class SQLiteLedgerRecorder(LedgerRecorder):
    """The ledger's recorder on SQLite: rows go to and come from the driver as they are stored.

    SQLite has neither ``LOCK TABLE`` nor ``NOTIFY``, so the parent's ``_lock_table()``
    and ``_notify_channel()``, which do nothing here, are not called: the datastore's
    write lock and SQLite's database lock serialise writers.
    """

    def __init__(
        self, datastore: SQLAlchemyDatastore, *, events_table_name: str, schema_name: str | None = None
    ) -> None:
        super().__init__(datastore, events_table_name=events_table_name, schema_name=schema_name)
        engine = self.datastore.engine
        assert engine is not None  # the factory picks this class by the engine's dialect
        self._statements = _SQLiteStatements(self.events_table, engine.dialect)

    def _insert_stored_events(self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        if not stored_events:
            return []
        # SQLite cannot return the ids of many rows in row order (SQLAlchemy would send one
        # INSERT per row) and does not need to: a new row gets the largest rowid plus one,
        # and no other connection writes while this transaction holds the write lock, so
        # the ids of one executemany are consecutive and end at last_insert_rowid().  The
        # rows go to the driver as they are stored (UUIDType keeps 16 bytes on SQLite):
        # SQLAlchemy's per-row parameter processing cost more than SQLite's insert.
        connection = session.connection()
        if self.chained:
            connection.exec_driver_sql(self._statements.insert_chained, self.chained_rows(session, stored_events))
        else:
            rows = [(as_uuid(e.originator_id).bytes, e.originator_version, e.topic, e.state) for e in stored_events]
            connection.exec_driver_sql(self._statements.insert, rows)
        last: int = connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
        return list(range(last - len(stored_events) + 1, last + 1))

    def _select_rows(self, session: Session, originator_ids: list[UUID]) -> list[tuple[UUID, int, str, bytes]]:
        # Read the rows as stored and reuse the caller's UUID objects: making a UUID from
        # 16 bytes per row cost more than the query itself.
        by_bytes = {originator_id.bytes: originator_id for originator_id in originator_ids}
        sql = self._statements.select_events_of(len(by_bytes))
        rows = _fetch_all(session, sql, tuple(by_bytes))
        return [(by_bytes[raw_id], version, topic, state) for raw_id, version, topic, state in rows]

    def select_versions_after(self, session: Session, notification_id: int, limit: int) -> list[tuple[int, UUID, int]]:
        # Called before every batch and every lookup: skip SQLAlchemy's statement
        # processing, which costs more than SQLite's index scan.
        rows = _fetch_all(session, self._statements.versions_after, (notification_id, limit))
        return [(n, UUID(bytes=raw_id), version) for n, raw_id, version in rows]

    def _select_chain_hashes(
        self, session: Session, keys: list[tuple[UUID, int]]
    ) -> dict[tuple[UUID, int], bytes | None]:
        # One query per few hundred keys, looked up through the (originator_id,
        # originator_version) unique index, rows as SQLite stores them.
        by_bytes = {originator_id.bytes: originator_id for originator_id, _ in keys}
        found: dict[tuple[UUID, int], bytes | None] = {}
        for chunk in chunks(keys, MAX_IDS_PER_SELECT):
            parameters = tuple(value for originator_id, version in chunk for value in (originator_id.bytes, version))
            for raw_id, version, chained in _fetch_all(session, self._statements.chain_hashes(len(chunk)), parameters):
                found[by_bytes[raw_id], version] = chained
        return found

    def read_chain(self, session: Session, after: int, limit: int) -> list[ChainRow]:
        return _fetch_all(session, self._statements.read_chain, (after, limit))

    def read_log(self, after: int, limit: int) -> list[Notification]:
        with self.transaction(commit=False) as session:
            rows = _fetch_all(session, self._statements.read_log, (after, limit))
            # One UUID per aggregate of the page: making one from 16 bytes is slow.
            ids = {raw_id: UUID(bytes=raw_id) for raw_id in {row[1] for row in rows}}
            return [
                Notification(id=n, originator_id=ids[raw_id], originator_version=v, topic=t, state=s)
                for n, raw_id, v, t, s in rows
            ]


class _SQLiteStatements:
    """The recorder's statements as SQLite's driver takes them (no SQLAlchemy processing)."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        columns = ["originator_id", "originator_version", "topic", "state"]
        self.insert = str(insert(table).compile(dialect=dialect, column_keys=columns))
        self._table = dialect.identifier_preparer.format_table(table)
        self.read_log = (
            "SELECT id, originator_id, originator_version, topic, state"
            f" FROM {self._table} WHERE id > ? ORDER BY id LIMIT ?"
        )
        self.insert_chained = (
            f"INSERT INTO {self._table} (originator_id, originator_version, topic, state, {CHAIN_COLUMN})"
            " VALUES (?, ?, ?, ?, ?)"
        )
        self.read_chain = (
            f"SELECT id, originator_id, originator_version, topic, state, {CHAIN_COLUMN}"
            f" FROM {self._table} WHERE id > ? ORDER BY id LIMIT ?"
        )
        self.versions_after = (
            f"SELECT id, originator_id, originator_version FROM {self._table} WHERE id > ? ORDER BY id LIMIT ?"
        )

    def select_events_of(self, count: int) -> str:
        """Every event of ``count`` originator ids, given as 16 bytes each."""
        return (
            "SELECT originator_id, originator_version, topic, state"
            f" FROM {self._table} WHERE originator_id IN ({', '.join('?' * count)})"
            " ORDER BY originator_id, originator_version"
        )

    def chain_hashes(self, count: int) -> str:
        """The chain hashes of ``count`` events, each given as originator id (16 bytes) and version."""
        keys = ", ".join(["(?, ?)"] * count)
        return (
            f"WITH wanted(originator_id, originator_version) AS (VALUES {keys})"
            f" SELECT e.originator_id, e.originator_version, e.{CHAIN_COLUMN} FROM wanted"
            f" JOIN {self._table} AS e ON e.originator_id = wanted.originator_id"
            " AND e.originator_version = wanted.originator_version"
        )


def tune_sqlite_connection(dbapi_connection: Any, _: Any) -> None:
    """Set :data:`SQLITE_PRAGMAS` on a new connection (a SQLAlchemy ``connect`` listener)."""
    for pragma in SQLITE_PRAGMAS:
        dbapi_connection.execute(pragma)


def _fetch_all(session: Session, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Every row of ``sql`` as the driver returns it, in the session's transaction.

    Straight from the DB-API cursor: SQLAlchemy's result rows cost more than SQLite's
    query.  Driver errors are raised as SQLAlchemy raises them (``OperationalError`` for
    "database is locked", say), so callers handle one kind.
    """
    connection = session.connection()
    driver_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return list(cursor.fetchall())
    except driver_error as error:
        raise sqlalchemy.exc.DBAPIError.instance(sql, parameters, error, driver_error) from error
    finally:
        cursor.close()

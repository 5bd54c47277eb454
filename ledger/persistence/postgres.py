"""The ledger's recorder on PostgreSQL: multi-row ``INSERT ... RETURNING`` and Core selects."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from sqlalchemy import insert, select, tuple_
from sqlalchemy.orm import Session

from ledger.persistence.chain import CHAIN_COLUMN
from ledger.persistence.recorders import MAX_IDS_PER_SELECT, ChainRow, LedgerRecorder, chunks


class PostgreSQLLedgerRecorder(LedgerRecorder):
    """The ledger's recorder on PostgreSQL: rows in SQLAlchemy Core statements, no ORM objects."""

    def _insert_stored_events(self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        # As the parent class does: serialise writers so that notification ids are
        # committed in the order they are assigned (followers never skip one), and tell
        # listeners (subscriptions) that there is something new.
        self._lock_table(session)
        ids = self._insert_rows(session, stored_events) if stored_events else []
        self._notify_channel(session)
        return ids

    def _insert_rows(self, session: Session, stored_events: Sequence[StoredEvent]) -> list[int]:
        # "insertmanyvalues": a few multi-row INSERT ... RETURNING statements, the ids
        # sorted as the rows were given (the event store's Recordings rely on it).
        table = self.chain_table if self.chained else self.events_table
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        rows: list[dict[str, object]] = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for e in stored_events
        ]
        if self.chained:
            for row, chained_row in zip(rows, self.chained_rows(session, stored_events), strict=True):
                row[CHAIN_COLUMN] = chained_row[4]
        return list(session.execute(statement, rows).scalars())

    def _select_chain_hashes(
        self, session: Session, keys: list[tuple[UUID, int]]
    ) -> dict[tuple[UUID, int], bytes | None]:
        table = self.chain_table
        found: dict[tuple[UUID, int], bytes | None] = {}
        for chunk in chunks(keys, MAX_IDS_PER_SELECT):
            query = select(table.c.originator_id, table.c.originator_version, table.c.chain_hash).where(
                tuple_(table.c.originator_id, table.c.originator_version).in_(chunk)
            )
            for originator_id, version, chained in session.execute(query):
                found[originator_id, version] = None if chained is None else bytes(chained)
        return found

    def read_chain(self, session: Session, after: int, limit: int) -> list[ChainRow]:
        table = self.chain_table
        query = (
            select(
                table.c.id,
                table.c.originator_id,
                table.c.originator_version,
                table.c.topic,
                table.c.state,
                table.c.chain_hash,
            )
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(limit)
        )
        return [
            (n, o.bytes, v, t, bytes(s), None if h is None else bytes(h)) for n, o, v, t, s, h in session.execute(query)
        ]

    def _select_rows(self, session: Session, originator_ids: list[UUID]) -> list[tuple[UUID, int, str, bytes]]:
        table = self.events_table
        query = (
            select(table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
            .where(table.c.originator_id.in_(originator_ids))
            .order_by(table.c.originator_id, table.c.originator_version)
        )
        # psycopg returns bytea as memoryview; the mapper wants bytes.
        return [(originator_id, v, topic, bytes(state)) for originator_id, v, topic, state in session.execute(query)]

    def select_versions_after(self, session: Session, notification_id: int, limit: int) -> list[tuple[int, UUID, int]]:
        table = self.events_table
        query = (
            select(table.c.id, table.c.originator_id, table.c.originator_version)
            .where(table.c.id > notification_id)
            .order_by(table.c.id)
            .limit(limit)
        )
        return [(n, originator_id, version) for n, originator_id, version in session.execute(query)]

    def read_log(self, after: int, limit: int) -> list[Notification]:
        with self.transaction(commit=False) as session:
            table = self.events_table
            query = (
                select(table.c.id, table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
                .where(table.c.id > after)
                .order_by(table.c.id)
                .limit(limit)
            )
            return [
                Notification(id=n, originator_id=o, originator_version=v, topic=t, state=bytes(s))
                for n, o, v, t, s in session.execute(query)
            ]

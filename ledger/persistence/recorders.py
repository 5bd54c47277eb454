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
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

#: Most aggregate ids in one ``IN (...)`` list: under every SQLite's limit of bound
#: parameters (999 before version 3.32) and PostgreSQL's (65,535).
MAX_IDS_PER_SELECT = 500


class LedgerRecorder(SQLAlchemyApplicationRecorder):
    """``SQLAlchemyApplicationRecorder`` with batch inserts and batch loads (one subclass per database)."""

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

    def select_events_of(self, session: Session, originator_ids: Iterable[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The stored events of each of ``originator_ids`` that has any, in version order."""
        found: dict[UUID, list[StoredEvent]] = {}
        for chunk in _chunks(list(originator_ids), MAX_IDS_PER_SELECT):
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

    def select_max_notification_id(self, session: Session) -> int:
        """The last notification id (0 when nothing is stored), in the caller's transaction."""
        last: int | None = session.execute(select(func.max(self.events_table.c.id))).scalar()
        return last or 0


def _chunks(items: list[UUID], size: int) -> Iterator[list[UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

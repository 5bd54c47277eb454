"""What the ledger needs from storage: the message store, as a Protocol.

:class:`~ledger.application.Ledger` decides (the domain: which report does what) and
leaves the rest to a :class:`MessageStore`: loading many messages at once, committing a
batch of messages and rejections in one transaction, keeping messages in memory between
calls if it likes.  Two stores implement it:

- :class:`ledger.sqlstore.SQLMessageStore`: eventsourcing's machinery on a SQLite file
  or PostgreSQL (what :meth:`Ledger.open` builds);
- :class:`ledger.memory.InMemoryMessageStore`: dicts and lists, for unit tests and
  demos (what :meth:`Ledger.in_memory` builds), as cosmicpython's fake repository.

The Protocol is for typing only: nothing checks it at run time (an ``isinstance``
against a Protocol is slow on Python 3.11, and the ledger calls the store per batch).

A store reports failures as members of the error tree (:mod:`ledger.errors`): a
:class:`~ledger.errors.VersionConflictError` when another writer appended to a message
first and :class:`~ledger.errors.StorageBusyError` when the database was locked (the
ledger retries both), other :class:`~ledger.errors.StorageError` subclasses otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Protocol

from ledger.message import Message, MessageEvent
from ledger.views import NewRejection, Rejection


class MessageStore(Protocol):
    """Messages (as their events) and rejected input, stored for a :class:`~ledger.application.Ledger`.

    The ledger calls a store from one thread at a time.
    """

    def load(self, message_ids: Iterable[str]) -> dict[str, Message]:
        """The stored messages among ``message_ids`` by id, as committed (unknown ids left out).

        The ledger changes the messages it gets in place: it calls :meth:`commit` with
        them, or :meth:`forget` if it fails before.
        """
        ...

    def commit(self, messages: Sequence[Message], rejections: Sequence[NewRejection]) -> None:
        """Store the new events of ``messages`` and ``rejections`` together, or nothing.

        Raises :class:`~ledger.errors.VersionConflictError` if another writer appended
        to one of the messages since it was loaded.
        """
        ...

    def forget(self, message_ids: Iterable[str]) -> None:
        """Drop any copy kept of ``message_ids``: they may hold changes that were not stored."""
        ...

    def events_of(self, message_id: str) -> Sequence[MessageEvent]:
        """Every stored event of ``message_id``, oldest first (none for an unknown id)."""
        ...

    def version_at(self, message_id: str, position: int) -> int:
        """How many events ``message_id`` had when the log ended at ``position`` (a notification id); 0: none."""
        ...

    def rejections(
        self,
        *,
        limit: int,
        since: datetime | None,
        message_id: str | None,
        before: int | None = None,
        newest_first: bool = False,
    ) -> list[Rejection]:
        """Rejected input, oldest (``newest_first``: newest) first, at most ``limit``.

        Only what was received at or after ``since``, named ``message_id`` and has an id below ``before``.
        """
        ...

    def dry_run(self) -> AbstractContextManager[None]:
        """A block whose writes (and reads of them) are all undone at its end.

        Raises ``RuntimeError`` if the store cannot undo them (inside another
        transaction, say).
        """
        ...

    def close(self) -> None:
        """Release what the store holds (connections, caches)."""
        ...


@contextmanager
def uncommitted(store: MessageStore, messages: Iterable[Message]) -> Iterator[None]:
    """If the block fails, ``store`` forgets ``messages``: they may hold changes not stored."""
    try:
        yield
    except BaseException:
        store.forget([message.message_id for message in messages])
        raise

"""The message store in memory: the ledger's use cases without a database.

:class:`InMemoryMessageStore` keeps each message's events in a list and the rejections
in another, as eventsourcing's POPO recorder keeps its records.  It is the fake of
:class:`~ledger.store.MessageStore` (cosmicpython's ``FakeRepository``): the unit tests
run ``ingest_many``, ``record_sent``, retries and dry runs on it, and
:meth:`ledger.Ledger.in_memory` opens a ledger on it for demos.  Nothing outlives the
process.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import cast

from ledger.errors import VersionConflictError
from ledger.message import Message, MessageEvent
from ledger.views import NewRejection, Rejection


class InMemoryMessageStore:
    """Messages as their events, and rejections, in lists; committed all or nothing.

    Like the SQL store, it refuses an event whose version another writer already took
    (:class:`~ledger.errors.VersionConflictError`): two ledgers sharing one store
    collide as two processes sharing a database would.
    """

    def __init__(self) -> None:
        self._events: dict[str, list[MessageEvent]] = {}
        self._rejections: list[Rejection] = []
        #: (message id, version) of every event in commit order: the notification log, positions from 1.
        self._log: list[tuple[str, int]] = []

    def load(self, message_ids: Iterable[str]) -> dict[str, Message]:
        """The stored messages among ``message_ids``, each replayed from its events."""
        found: dict[str, Message] = {}
        for message_id in set(message_ids):
            events = self._events.get(message_id)
            if events:
                found[message_id] = _replay(events)
        return found

    def commit(self, messages: Sequence[Message], rejections: Sequence[NewRejection]) -> None:
        """Append the messages' new events and ``rejections``; nothing if a version was taken."""
        pending = [(message, message.pending_events) for message in messages if message.pending_events]
        for message, events in pending:
            stored = len(self._events.get(message.message_id, ()))
            if events[0].originator_version != stored + 1:
                raise VersionConflictError(
                    f"could not save: message {message.message_id!r} has {stored} events; "
                    f"this write's first is version {events[0].originator_version}"
                )
        for message, _ in pending:
            committed = cast("list[MessageEvent]", message.collect_events())
            self._events.setdefault(message.message_id, []).extend(committed)
            self._log.extend((message.message_id, event.originator_version) for event in committed)
        first_id = len(self._rejections) + 1
        self._rejections.extend(
            Rejection(first_id + n, r.received_at, r.kind, r.message_id, r.reason, r.raw)
            for n, r in enumerate(rejections)
        )

    def forget(self, message_ids: Iterable[str]) -> None:
        """Nothing to forget: every load replays the stored events."""

    def events_of(self, message_id: str) -> Sequence[MessageEvent]:
        """The stored events of ``message_id``, oldest first."""
        return list(self._events.get(message_id, ()))

    def version_at(self, message_id: str, position: int) -> int:
        """How many events ``message_id`` had among the first ``position`` of the log."""
        return max((version for named, version in self._log[: max(position, 0)] if named == message_id), default=0)

    def rejections(
        self,
        *,
        limit: int = 100,
        since: datetime | None = None,
        message_id: str | None = None,
        before: int | None = None,
        newest_first: bool = False,
    ) -> list[Rejection]:
        """Rejections oldest (or newest) first, received at or after ``since``, ids below ``before``."""
        chosen = (
            r
            for r in (reversed(self._rejections) if newest_first else self._rejections)
            if (since is None or r.received_at >= since)
            and (message_id is None or r.message_id == message_id)
            and (before is None or r.id < before)
        )
        return [r for _, r in zip(range(limit), chosen, strict=False)]

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """Undo the block's commits at its end: the lists are put back as they were."""
        events = {message_id: list(stored) for message_id, stored in self._events.items()}
        rejections, log = copy.copy(self._rejections), list(self._log)
        try:
            yield
        finally:
            self._events, self._rejections, self._log = events, rejections, log

    def close(self) -> None:
        """Nothing to release."""


def _replay(events: list[MessageEvent]) -> Message:
    aggregate: Message | None = None
    for event in events:
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Message)
    return aggregate

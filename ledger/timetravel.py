"""Time travel: a message as the ledger knew it at a past moment, rebuilt from its events.

What the ledger knew at ``T`` is decided by **received time**: the moment the ledger
recorded each event (its ``timestamp``, a history entry's ``received_at``, read from the
ledger's ``clock``), never the provider's ``occurred_at``.  A report that happened
before ``T`` but arrived after it was not known at ``T``.  ``T`` is inclusive: an event
received exactly at ``T`` is known at ``T``.

A message's events are kept in the order they were recorded (their versions), so what
was known at ``T`` is the longest run of them from the first whose received times are all
at or before ``T``.  Should a writer's clock have run behind another's, a later version
can carry an earlier time; it is not counted as known before the versions that precede
it (a message is never rebuilt with a gap in its history).

The message is rebuilt by eventsourcing's documented replay, ``event.mutate(aggregate)``
from the first event on (what ``Repository.get(id, version=N)`` does), so it is exactly
the message the ledger held after that many events.

The log position (the notification id) is the other clock a ledger has, and the one
that orders all messages together (a checkpoint names one): ``at_position=N`` answers with
the message's events whose notification ids are at most ``N``.  It is exact where
received times are not (writers' clocks may differ), but it means nothing outside the
database.  :class:`LedgerHistory` (a mixin of :class:`~ledger.Ledger`) holds ``message``
and ``history``, now and in the past.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from ledger.errors import MessageNotFoundError
from ledger.message import Message
from ledger.views import HistoryEntry, MessageView, history_of

if TYPE_CHECKING:
    from ledger.message import MessageEvent
    from ledger.store import MessageStore


class LedgerHistory:
    """``message`` and ``history`` of :class:`~ledger.Ledger`, as they stand or stood (a mixin of it)."""

    store: MessageStore
    _lock: threading.RLock

    def message(self, message_id: str, *, as_of: datetime | None = None, at_position: int | None = None) -> MessageView:
        """The message as it stands; :class:`~ledger.errors.MessageNotFoundError` if unknown.

        ``as_of`` (a time with a zone): the message as the ledger knew it then, rebuilt
        from the events it had received by then, inclusive (by received time, not the
        provider's; see :mod:`ledger.timetravel`).  ``at_position``: from its events up
        to that notification id instead.  ``MessageNotFoundError`` if it had none by
        then; ``ValueError`` for both at once.
        """
        if as_of is None and at_position is None:
            with self._lock:
                message = self.store.load([message_id]).get(message_id)
            if message is None:
                raise MessageNotFoundError(message_id=message_id)
            return MessageView.of(message)
        replayed: Message | None = None
        for event in self._past_events(message_id, as_of, at_position):
            replayed = event.mutate(replayed)
        assert isinstance(replayed, Message)
        return MessageView.of(replayed)

    def history(
        self, message_id: str, *, until: datetime | None = None, at_position: int | None = None
    ) -> list[HistoryEntry]:
        """The audit trail of ``message_id``, oldest first: every fact the ledger recorded.

        ``until`` (a time with a zone): only the facts received by then, inclusive, as
        :meth:`message`'s ``as_of``; ``at_position`` as :meth:`message`'s.
        """
        if until is None and at_position is None:
            events = self.store.events_of(message_id)
            if not events:
                raise MessageNotFoundError(message_id=message_id)
            return history_of(events)
        return history_of(self._past_events(message_id, until, at_position))

    def _past_events(self, message_id: str, as_of: datetime | None, at_position: int | None) -> list[MessageEvent]:
        """The events of ``message_id`` known ``as_of`` or ``at_position``; ``MessageNotFoundError`` if none."""
        if as_of is not None and at_position is not None:
            raise ValueError("ask as of a time or at a log position, not both")
        if as_of is not None:
            known = known_at(self.store.events_of(message_id), as_of)
        else:
            assert at_position is not None  # the callers ask about the past
            if at_position < 0:
                raise ValueError(f"a log position is >= 0; got {at_position}")
            # The version first: every event up to it is stored before the events are read.
            version = self.store.version_at(message_id, at_position)
            known = list(self.store.events_of(message_id)[:version])
        if not known:
            raise MessageNotFoundError(message_id=message_id, as_of=as_of, at_position=at_position)
        return known


def known_at(events: Iterable[MessageEvent], moment: datetime) -> list[MessageEvent]:
    """The events of one message (oldest first) that the ledger had received by ``moment``, inclusive.

    ``moment`` must carry a time zone (``ValueError`` otherwise): received times are UTC.
    """
    if moment.tzinfo is None:
        raise ValueError(f"a moment in the past needs a time zone (UTC, say); got {moment.isoformat()}")
    known: list[MessageEvent] = []
    for event in events:
        if event.timestamp > moment:
            break  # Later versions were recorded after this one: they were not known either.
        known.append(event)
    return known

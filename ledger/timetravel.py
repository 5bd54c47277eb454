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
that orders all messages together; these queries do not take it.  To see the whole log
as it stood at a position, read its notifications up to there (``ledger.recorder``'s
``select_notifications(start, limit, stop=position)``): each event is there with its
received time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from ledger.errors import MessageNotFoundError
from ledger.message import Message
from ledger.views import HistoryEntry, MessageView, history_of

if TYPE_CHECKING:
    from ledger.message import MessageEvent


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


def message_as_of(message_id: str, events: Sequence[MessageEvent], moment: datetime) -> MessageView:
    """The view of ``message_id`` as its ``events`` received by ``moment`` made it.

    :class:`~ledger.errors.MessageNotFoundError` if none had been received by then.
    """
    message: Message | None = None
    for event in known_at(events, moment):
        message = event.mutate(message)
    if message is None:
        raise MessageNotFoundError(message_id=message_id, as_of=moment)
    assert isinstance(message, Message)
    return MessageView.of(message)


def history_until(message_id: str, events: Sequence[MessageEvent], moment: datetime) -> list[HistoryEntry]:
    """The audit trail of ``message_id`` as it stood at ``moment``: its entries received by then.

    :class:`~ledger.errors.MessageNotFoundError` if none had been received by then.
    """
    known = known_at(events, moment)
    if not known:
        raise MessageNotFoundError(message_id=message_id, as_of=moment)
    return history_of(known)

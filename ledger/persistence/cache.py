"""The ledger's message cache: committed messages by provider id, least recently used out first."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from ledger.message import Message


class MessageCache:
    """At most ``maxsize`` messages by provider message id, the least recently used out first.

    The ledger puts messages in it only as they are committed (see
    :class:`ledger.application.Ledger`); it is not thread-safe on its own.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0")
        self.maxsize = maxsize
        self._messages: OrderedDict[str, Message] = OrderedDict()
        # Other writers' events name aggregate ids, which cannot be turned back into
        # message ids: keep the way back.
        self._message_ids: dict[UUID, str] = {}

    def __len__(self) -> int:
        return len(self._messages)

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._messages

    def get(self, message_id: str) -> Message | None:
        """The message, now the most recently used; ``None`` if absent."""
        message = self._messages.get(message_id)
        if message is not None:
            self._messages.move_to_end(message_id)
        return message

    def put(self, message: Message) -> None:
        """Keep ``message`` as the most recently used; drop the least recently used beyond ``maxsize``."""
        self._messages[message.message_id] = message
        self._messages.move_to_end(message.message_id)
        self._message_ids[message.id] = message.message_id
        while len(self._messages) > self.maxsize:
            _, dropped = self._messages.popitem(last=False)
            del self._message_ids[dropped.id]

    def discard(self, message_ids: Iterable[str]) -> None:
        """Forget ``message_ids`` (absent ones are ignored)."""
        for message_id in message_ids:
            message = self._messages.pop(message_id, None)
            if message is not None:
                del self._message_ids[message.id]

    def discard_older(self, aggregate_id: UUID, version: int) -> None:
        """Forget the message of ``aggregate_id`` if the cached one is older than ``version``."""
        message_id = self._message_ids.get(aggregate_id)
        if message_id is not None and self._messages[message_id].version < version:
            self.discard([message_id])

    def clear(self) -> None:
        """Forget everything."""
        self._messages.clear()
        self._message_ids.clear()

"""The Ledger: the domain composed with persistence (eventsourcing + SQLAlchemy).

>>> with Ledger.open("sqlite:///ledger.db") as ledger:     # doctest: +SKIP
...     ledger.record_sent("01FRR...", sender="+1604...", recipient="+1604...")
...     ledger.ingest(webhook_body).kind
<Outcome.APPLIED: 'applied'>
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ledger import rejections as store
from ledger.connectly import MAX_ID_LENGTH, parse_delivery_status
from ledger.errors import ContradictionError, InvalidPayloadError, MessageNotFoundError, StorageError
from ledger.message import Message, message_uuid
from ledger.rejections import NewRejection, Rejection
from ledger.reports import StatusReport
from ledger.sql import DEFAULT_URL, normalise_url, storage_errors
from ledger.status import STRICT, Outcome, TransitionTable
from ledger.views import HistoryEntry, IngestOutcome, MessageView, history_of

#: What ``ingest`` accepts: a decoded JSON object, or the body as text or bytes.
Payload = Mapping[str, Any] | str | bytes

T = TypeVar("T")

#: How often a batch is retried after another writer changed one of its messages.
MAX_CONFLICT_RETRIES = 10


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class _VersionConflictError(Exception):
    """Another writer appended to a message this batch changed; reload and retry."""


class Ledger(Application[UUID]):
    """An event-sourced ledger of message delivery statuses.

    Open it with :meth:`open`; it is a context manager.  Every public method is safe to
    call with hostile input: bad reports come back as ``rejected`` outcomes and are kept
    in the rejection store; only :class:`~ledger.errors.StorageError` (infrastructure)
    escapes :meth:`ingest` and :meth:`ingest_many`.
    """

    name = "Ledger"
    env: ClassVar[dict[str, str]] = {"PERSISTENCE_MODULE": "eventsourcing_sqlalchemy"}

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        transitions: TransitionTable = STRICT,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.transitions = transitions
        self._clock = clock
        with storage_errors("open the ledger"):
            super().__init__(env)
            if not isinstance(self.recorder, SQLAlchemyApplicationRecorder):
                raise TypeError("the Ledger needs the eventsourcing_sqlalchemy persistence module")
            self._sql: SQLAlchemyApplicationRecorder = self.recorder
            store.create_table(self.engine)

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        transitions: TransitionTable = STRICT,
        clock: Callable[[], datetime] = utc_now,
    ) -> Self:
        """Open (and on first use create) the ledger at a SQLAlchemy ``url``.

        ``None`` reads ``LEDGER_DATABASE_URL``, else uses ``sqlite:///ledger.db``.
        ``postgresql://`` URLs use psycopg 3.  ``transitions`` replaces the state
        machine's policy (see :mod:`ledger.status`); ``clock`` gives received times.
        """
        url = normalise_url(url or os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_URL)
        return cls({"SQLALCHEMY_URL": url}, transitions=transitions, clock=clock)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the ledger's database (for read models and tools)."""
        engine = self._sql.datastore.engine
        assert isinstance(engine, Engine)
        return engine

    def session(self, *, commit: bool = True) -> AbstractContextManager[Session]:
        """A transaction on the ledger's database, shared with the event recorder.

        Work done in it (by projections, say) commits or rolls back together with any
        events saved inside it.
        """
        return self._sql.transaction(commit=commit)

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    def record_sent(
        self,
        message_id: str,
        *,
        sender: str | None,
        recipient: str,
        channel: str = "whatsapp",
        template: str | None = None,
        campaign: str | None = None,
        sent_at: datetime | None = None,
    ) -> MessageView:
        """Record the send API's answer: the provider accepted ``message_id``.

        ``sent_at`` (our time of sending, default now) becomes the view's
        ``accepted_at``.  Repeating the call changes nothing.  Raises
        :class:`~ledger.errors.IdentityMismatchError` if a webhook already named a
        different sender, recipient or channel for this id.
        """
        _check_message_id(message_id)
        if sent_at is not None and sent_at.tzinfo is None:
            raise ValueError("sent_at must be timezone-aware")
        at = self._clock()

        def attempt() -> Message:
            message = self._load({message_id}).get(message_id) or Message.open(
                message_id, sender=sender, recipient=recipient, channel=channel, at=at
            )
            message.record_send(
                sender=sender,
                recipient=recipient,
                channel=channel,
                template=template,
                campaign=campaign,
                accepted_at=sent_at or at,
                at=at,
            )
            self._commit([message], [])
            return message

        return MessageView.of(self._retrying(attempt))

    def ingest(self, payload: Payload) -> IngestOutcome:
        """Apply one webhook payload in its own transaction; never raises on bad input."""
        return self.ingest_many([payload])[0]

    def ingest_many(self, payloads: Iterable[Payload]) -> list[IngestOutcome]:
        """Apply payloads in order, in one transaction; one outcome per payload.

        Each touched message is loaded once and every changed message is saved in one
        ``save()``.  A bad item is rejected on its own; an infrastructure failure
        raises :class:`~ledger.errors.StorageError` and stores nothing of the batch.
        """
        received = [(payload, self._clock()) for payload in payloads]
        parsed = [_parse(payload) for payload, _ in received]
        return self._retrying(lambda: self._apply(received, parsed))

    def message(self, message_id: str) -> MessageView:
        """The message as it stands; :class:`~ledger.errors.MessageNotFoundError` if unknown."""
        return MessageView.of(self._get(message_id))

    def history(self, message_id: str) -> list[HistoryEntry]:
        """The audit trail of ``message_id``, oldest first: every fact the ledger recorded."""
        with storage_errors("read the history"):
            events = list(self.events.get(message_uuid(message_id)))
        if not events:
            raise MessageNotFoundError(message_id=message_id)
        return history_of(events)

    def rejections(
        self, *, limit: int = 100, since: datetime | None = None, message_id: str | None = None
    ) -> list[Rejection]:
        """Refused input, oldest first: malformed bodies and contradictions, with reasons."""
        with storage_errors("read the rejections"), self.session(commit=False) as session:
            return store.select_rejections(session, limit=limit, since=since, message_id=message_id)

    def close(self) -> None:
        """Release the database connections (the pool is disposed)."""
        super().close()
        recorder = getattr(self, "_sql", None)  # absent when opening failed
        if recorder is not None and recorder.datastore.engine is not None:
            recorder.datastore.engine.dispose()

    def _apply(
        self, received: list[tuple[Payload, datetime]], parsed: list[StatusReport | InvalidPayloadError]
    ) -> list[IngestOutcome]:
        messages = self._load({item.message_id for item in parsed if isinstance(item, StatusReport)})
        outcomes: list[IngestOutcome] = []
        refused: list[NewRejection] = []
        for (payload, at), item in zip(received, parsed, strict=True):
            if isinstance(item, InvalidPayloadError):
                reason = f"invalid payload: {item}"
                outcomes.append(IngestOutcome(Outcome.REJECTED, _message_id_hint(payload), None, reason))
                refused.append(NewRejection(at, "malformed", _message_id_hint(payload), reason, _raw_bytes(payload)))
                continue
            message = messages.get(item.message_id)
            if message is None:
                message = messages[item.message_id] = Message.open(
                    item.message_id, sender=item.sender, recipient=item.recipient, channel=item.channel, at=at
                )
            try:
                outcome = message.report(item, at=at, table=self.transitions)
            except ContradictionError as error:
                message.reject(item, reason=str(error), at=at)
                outcomes.append(IngestOutcome(Outcome.REJECTED, item.message_id, message.status, str(error)))
                refused.append(NewRejection(at, "contradiction", item.message_id, str(error), item.raw.encode()))
            else:
                outcomes.append(IngestOutcome(outcome, item.message_id, message.status))
        self._commit(list(messages.values()), refused)
        return outcomes

    def _load(self, message_ids: Iterable[str]) -> dict[str, Message]:
        """The stored messages among ``message_ids`` (unknown ids are left out)."""
        found: dict[str, Message] = {}
        with storage_errors("load messages"):
            for message_id in message_ids:
                try:
                    found[message_id] = self.repository.get(message_uuid(message_id))
                except AggregateNotFoundError:
                    continue
        return found

    def _get(self, message_id: str) -> Message:
        message = self._load([message_id]).get(message_id)
        if message is None:
            raise MessageNotFoundError(message_id=message_id)
        return message

    def _commit(self, messages: list[Message], refused: list[NewRejection]) -> None:
        """Save new events and rejections in one transaction, or nothing at all."""
        changed = [m for m in messages if m.pending_events]
        if not changed and not refused:
            return
        try:
            with storage_errors("save"), self.session() as session:
                if changed:
                    self.save(*changed)
                store.insert_rejections(session, refused)
        except StorageError as error:
            if isinstance(error.__cause__, IntegrityError | sqlalchemy.exc.IntegrityError):
                raise _VersionConflictError from error
            raise

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` again (it reloads) when another writer won a version race."""
        for _ in range(MAX_CONFLICT_RETRIES):
            try:
                return attempt()
            except _VersionConflictError:
                continue
        raise StorageError(f"gave up after {MAX_CONFLICT_RETRIES} version conflicts with other writers")


def _parse(payload: Payload) -> StatusReport | InvalidPayloadError:
    try:
        return parse_delivery_status(payload)
    except InvalidPayloadError as error:
        return error


def _check_message_id(message_id: str) -> None:
    if not isinstance(message_id, str) or not message_id.strip() or len(message_id) > MAX_ID_LENGTH:
        raise InvalidPayloadError(
            f"must be a non-empty string of at most {MAX_ID_LENGTH} characters", field="message_id"
        )


def _raw_bytes(payload: object) -> bytes:
    """The payload as received, for the rejection store."""
    if isinstance(payload, bytes | bytearray | memoryview):
        return bytes(payload)
    if isinstance(payload, str):
        return payload.encode("utf-8", errors="surrogatepass")
    try:
        return json.dumps(payload, default=repr, ensure_ascii=False).encode("utf-8", errors="surrogatepass")
    except (TypeError, ValueError, RecursionError):
        return repr(payload).encode("utf-8", errors="replace")


def _message_id_hint(payload: object) -> str | None:
    """The message id a malformed payload seems to name, if it names one plainly."""
    document: object = payload
    if isinstance(payload, str | bytes) and len(payload) <= 64 * 1024:
        try:
            document = json.loads(payload)
        except (ValueError, RecursionError):
            return None
    if isinstance(document, Mapping):
        update = document.get("statusUpdate")
        if isinstance(update, Mapping):
            hint = update.get("id")
            if isinstance(hint, str) and 0 < len(hint) <= MAX_ID_LENGTH:
                return hint
    return None

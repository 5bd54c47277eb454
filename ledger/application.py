"""The Ledger: the domain composed with persistence (eventsourcing + SQLAlchemy).

>>> with Ledger.open("sqlite:///ledger.db") as ledger:     # doctest: +SKIP
...     ledger.record_sent("01FRR...", sender="+1604...", recipient="+1604...")
...     ledger.ingest(webhook_body).kind
<Outcome.APPLIED: 'applied'>
"""

from __future__ import annotations

import base64
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar, cast
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate, DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, PersistenceError, Recording, StoredEvent
from eventsourcing.utils import Environment, EnvType, strtobool
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ledger import rejections as store
from ledger.connectly import MAX_ID_LENGTH, parse_delivery_status, storable
from ledger.errors import (
    ContradictionError,
    InvalidPayloadError,
    LedgerNotFoundError,
    MessageNotFoundError,
    StorageError,
)
from ledger.gcpause import gc_paused
from ledger.message import Message, message_uuid
from ledger.persistence import LedgerFactory, LedgerRecorder, MessageCache
from ledger.rejections import NewRejection, Rejection
from ledger.reports import StatusReport
from ledger.sql import DEFAULT_URL, checked_url, has_tables, storage_errors
from ledger.status import STRICT, Outcome, TransitionTable
from ledger.views import HistoryEntry, IngestOutcome, MessageView, history_of

#: What ``ingest`` accepts: a decoded JSON object, or the body as text or bytes.
Payload = Mapping[str, Any] | str | bytes

T = TypeVar("T")

#: How often a batch is retried after another writer changed one of its messages.
MAX_CONFLICT_RETRIES = 30

#: How many messages a ledger keeps in memory between calls, by default (about 1.5 KB
#: each).  Reports of one message arrive within minutes to hours of each other; a
#: message found in the cache is not read from the database again.
MESSAGE_CACHE_MAXSIZE = 20_000


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

    A ledger keeps the messages it used last in memory, as committed (at most
    ``MESSAGE_CACHE_MAXSIZE``, 20,000 unless the environment says otherwise; 0 turns
    it off).  Before each write and each :meth:`message` it reads which events were
    added since it last looked, so changes by other writers (processes or ledgers) are
    never missed.  Those calls, from several threads, run one at a time.
    """

    name = "Ledger"
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "ledger.persistence:LedgerFactory",
        "TRANSCODER_TOPIC": "ledger.persistence:LedgerTranscoder",
        "MAPPER_TOPIC": "ledger.persistence:LedgerMapper",
    }
    #: Environment variable: how many messages to keep in memory (0: none).
    MESSAGE_CACHE_MAXSIZE = "MESSAGE_CACHE_MAXSIZE"
    #: Whether :meth:`ingest_many` pauses Python's cyclic garbage collector while it runs
    #: (see :func:`ledger.gcpause.gc_paused`); a subclass may say no.
    pause_gc_during_batches: ClassVar[bool] = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # eventsourcing names an application's tables after its class; a subclass (for
        # instrumentation, say) must keep using the ledger's tables unless it names itself.
        if "name" not in cls.__dict__:
            cls.name = Ledger.name
        super().__init_subclass__(**kwargs)

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        transitions: TransitionTable = STRICT,
        clock: Callable[[], datetime] = utc_now,
        create: bool = True,
    ) -> None:
        self.transitions = transitions
        self._clock = clock
        # Writes (and cached reads) of one ledger run one at a time: a batch changes the
        # cached messages in place until it commits.
        self._lock = threading.RLock()
        #: How many times a write was retried because another writer changed the same
        #: message first (optimistic concurrency); for monitoring and tests.
        self.conflicts_retried = 0
        #: How many times a write was retried because a SQLite file was locked by another process.
        self.locks_retried = 0
        self._create = create
        #: True inside :meth:`dry_run` (whose thread holds ``_lock``).
        self._dry_run = False
        with storage_errors("open the ledger"):
            super().__init__(env)
            if not isinstance(self.recorder, LedgerRecorder):
                raise TypeError("the Ledger needs its persistence module, ledger.persistence:LedgerFactory")
            self._sql: LedgerRecorder = self.recorder
            try:
                self._prepare_tables()
            except BaseException:
                self.close()
                raise
        maxsize = int(self.env.get(self.MESSAGE_CACHE_MAXSIZE) or MESSAGE_CACHE_MAXSIZE)
        if self._sql.datastore.scoped_session is not None:
            maxsize = 0  # The caller commits a scoped session: we never know what is committed.
        # Messages as committed, and the notification id up to which they are known to be
        # current: events after it may come from other writers (see _catch_up).
        self._cache = MessageCache(maxsize)
        self._horizon: int | None = None

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        transitions: TransitionTable = STRICT,
        clock: Callable[[], datetime] = utc_now,
        cipher_key: str | None = None,
        create: bool = True,
    ) -> Self:
        """Open (and on first use create) the ledger at a SQLAlchemy ``url``.

        ``None`` reads ``LEDGER_DATABASE_URL``, else uses ``sqlite:///ledger.db``.
        ``postgresql://`` URLs use psycopg 3; a URL of another database, a malformed
        one or one whose driver is missing raises ``ValueError``.  ``transitions``
        replaces the state machine's policy (see :mod:`ledger.status`); ``clock``
        gives received times.  ``cipher_key`` (else ``LEDGER_CIPHER_KEY``; make one
        with ``ledger keygen``) encrypts stored events and rejected bodies with
        AES-GCM: phone numbers are personal data.  ``create=False`` opens only a
        ledger that exists: where there is none it raises
        :class:`~ledger.errors.LedgerNotFoundError` and creates nothing (not even a
        SQLite file).
        """
        url = checked_url(url or os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_URL)
        env = {"SQLALCHEMY_URL": url}
        key = cipher_key or os.environ.get("LEDGER_CIPHER_KEY")
        if key:
            env |= {"CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher", "CIPHER_KEY": _checked_key(key)}
        return cls(env, transitions=transitions, clock=clock, create=create)

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """eventsourcing's environment; with ``create=False`` it says not to create tables."""
        environment = super().construct_env(name, env)
        if not self._create:
            # Every spelling eventsourcing reads (LEDGER_CREATE_TABLE first), so that no
            # variable in the process environment overrides the caller.
            for key in environment.create_keys(LedgerFactory.CREATE_TABLE):
                environment[key] = "no"
        return environment

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
        for field, value in (
            ("message_id", message_id),
            ("sender", sender),
            ("recipient", recipient),
            ("channel", channel),
            ("template", template),
            ("campaign", campaign),
        ):
            _check_text(field, value, required=field in ("message_id", "recipient", "channel"))
        if sent_at is not None:
            if sent_at.tzinfo is None:
                raise ValueError("sent_at must be timezone-aware")
            try:
                sent_at = sent_at.astimezone(UTC)
            except (OverflowError, ValueError):
                raise ValueError(f"sent_at is out of range: {sent_at!r}") from None
        at = self._clock()

        def attempt() -> Message:
            loaded = self._load({message_id})
            with self._uncommitted(loaded.values()):
                message = loaded.get(message_id) or Message.open(
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
        The batch is received at one moment (one reading of the clock) for all its items.
        """
        with gc_paused(self.pause_gc_during_batches):
            # The batch's reports, events and rows are freed as _ingest_many returns, before
            # the collector resumes: left alive, they would set off a collection at once.
            return self._ingest_many(payloads)

    def _ingest_many(self, payloads: Iterable[Payload]) -> list[IngestOutcome]:
        at = self._clock()
        received = [(payload, at) for payload in payloads]
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

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """Decide everything done in the block as usual, then roll it all back.

        The block's calls (``ingest_many``, ``record_sent``, reads) run in one
        transaction and see each other's effects; at the end of the block, or at an
        exception, it is rolled back: nothing is stored and the cached messages are
        those committed before.  The transaction holds the database's write lock from
        its first write to its end (a SQLite file; the events table on PostgreSQL),
        and other calls on this ledger wait for the block.  A write that collides
        with another writer's raises :class:`~ledger.errors.StorageError` instead of
        being retried, since retrying would need the whole block again.
        """
        if self._sql.datastore.scoped_session is not None:
            raise RuntimeError("a dry run cannot roll back a caller's scoped session")
        with self._lock:
            try:
                transaction: Any = self._sql.transaction(commit=True)
            except PersistenceError:  # eventsourcing refuses: a caller's read-only transaction is open
                transaction = None
            if transaction is None or transaction.nested_level:
                raise RuntimeError("a dry run cannot run inside another transaction of the ledger")
            self._dry_run = True
            try:
                with transaction:
                    yield
                    # Leave the transaction by an exception: only that rolls back a
                    # transaction opened to write (and the block wrote in it).
                    raise _RolledBackError
            except _RolledBackError:
                pass
            except PersistenceError as error:
                raise StorageError(f"could not roll back the dry run: {error}") from error
            finally:
                self._dry_run = False
        # _load and _commit leave the cache alone inside a caller's transaction, and
        # forget the messages the block changed: the cache holds only committed state.

    def rejections(
        self, *, limit: int = 100, since: datetime | None = None, message_id: str | None = None
    ) -> list[Rejection]:
        """Refused input, oldest first: malformed bodies and contradictions, with reasons."""
        with storage_errors("read the rejections"), self.session(commit=False) as session:
            return store.select_rejections(
                session, limit=limit, since=since, message_id=message_id, cipher=self.mapper.cipher
            )

    def _prepare_tables(self) -> None:
        """Create the rejection table, or, when not creating tables, make sure the ledger's exist."""
        if strtobool(self.env.get(LedgerFactory.CREATE_TABLE) or "yes"):
            store.create_table(self.engine)
        elif not has_tables(
            self.engine, [(self._sql.schema_name, self._sql.events_table_name), (None, store.rejections_table.name)]
        ):
            raise LedgerNotFoundError(url=self.url)

    def close(self) -> None:
        """Release the database connections (the pool is disposed)."""
        super().close()
        recorder = getattr(self, "_sql", None)  # absent when opening failed
        if recorder is not None and recorder.datastore.engine is not None:
            recorder.datastore.engine.dispose()
        cache = getattr(self, "_cache", None)
        if cache is not None:
            cache.clear()

    def save(
        self, *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None, **kwargs: Any
    ) -> list[Recording[UUID]]:
        """Store the pending events of ``objs`` (as ``Application.save`` does)."""
        if not all(isinstance(obj, Message) for obj in objs):
            return super().save(*objs, **kwargs)
        # Application.save() collects events through ProcessingEvent.collect_events(),
        # whose runtime Protocol isinstance checks cost more than encoding the events on
        # Python 3.11.  Messages are known to be aggregates: collect their events directly,
        # then record exactly as Application.save() does.
        processing_event = ProcessingEvent[UUID]()
        for message in cast("tuple[Message, ...]", objs):
            processing_event.events.extend(message.collect_events())
            processing_event.aggregates[message.id] = message
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # eventsourcing's deprecated hook, still called by save()
        return recordings

    def _apply(
        self, received: list[tuple[Payload, datetime]], parsed: list[StatusReport | InvalidPayloadError]
    ) -> list[IngestOutcome]:
        messages = self._load({item.message_id for item in parsed if isinstance(item, StatusReport)})
        with self._uncommitted(messages.values()):
            return self._decide(messages, received, parsed)

    def _decide(
        self,
        messages: dict[str, Message],
        received: list[tuple[Payload, datetime]],
        parsed: list[StatusReport | InvalidPayloadError],
    ) -> list[IngestOutcome]:
        """Apply each report to its message (opening unknown ones), then commit the batch."""
        outcomes: list[IngestOutcome] = []
        refused: list[NewRejection] = []
        for (payload, at), item in zip(received, parsed, strict=True):
            if isinstance(item, InvalidPayloadError):
                reason = f"invalid payload: {item}"
                outcomes.append(
                    IngestOutcome(Outcome.REJECTED, _message_id_hint(payload), None, reason, malformed=True)
                )
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
        """The stored messages among ``message_ids`` (unknown ids are left out).

        Cached messages that no other writer has changed are used as they are; the others
        are read with one query per few hundred ids and replayed.
        """
        found: dict[str, Message] = {}
        with storage_errors("load messages"):
            transaction = self._sql.transaction(commit=False)
            # Inside a caller's transaction (Ledger.session) we may read changes that
            # will yet be rolled back: then leave the cache alone.
            use_cache = self._cache.maxsize > 0 and transaction.nested_level == 0
            with transaction as session:
                if use_cache:
                    self._catch_up(session)
                missing: dict[UUID, str] = {}
                for message_id in set(message_ids):
                    message = self._cache.get(message_id) if use_cache else None
                    if message is None:
                        missing[message_uuid(message_id)] = message_id
                    else:
                        found[message_id] = message
                for aggregate_id, stored in self._sql.select_events_of(session, missing).items():
                    message = found[missing[aggregate_id]] = self._replay(stored)
                    if use_cache:
                        self._cache.put(message)
        return found

    def _catch_up(self, session: Session) -> None:
        """Forget the cached messages that other writers changed since we last looked.

        Notification ids are committed in order (SQLite has one writer at a time; on
        PostgreSQL the recorder locks the table), so the events after ``_horizon`` are
        all that can have changed since.  Normally there are none but our own.
        """
        if self._horizon is None or not len(self._cache):
            # Nothing cached, nothing to check: watch from the end of the log on.
            self._horizon = self._sql.select_max_notification_id(session)
            return
        changes = self._sql.select_versions_after(session, self._horizon, limit=self._cache.maxsize + 1)
        if len(changes) > self._cache.maxsize:
            # Other writers changed more than we hold: checking each costs more than reloading.
            self._cache.clear()
            self._horizon = self._sql.select_max_notification_id(session)
            return
        for _, aggregate_id, version in changes:
            self._cache.discard_older(aggregate_id, version)
        if changes:
            self._horizon = changes[-1][0]

    def _replay(self, stored: list[StoredEvent]) -> Message:
        """The message made by its stored events, oldest first."""
        aggregate: Message | None = None
        for event in map(self.mapper.to_domain_event, stored):
            # What eventsourcing's project_aggregate() does, without its runtime Protocol
            # isinstance check per event (slow on Python 3.11).
            aggregate = cast("Aggregate.Event", event).mutate(aggregate)
        assert isinstance(aggregate, Message)
        return aggregate

    def _get(self, message_id: str) -> Message:
        with self._lock:
            message = self._load([message_id]).get(message_id)
        if message is None:
            raise MessageNotFoundError(message_id=message_id)
        return message

    def _commit(self, messages: list[Message], refused: list[NewRejection]) -> None:
        """Save new events and rejections in one transaction, or nothing at all.

        Then ``messages``, as committed, are the most recently used in the cache.
        """
        changed = [m for m in messages if m.pending_events]
        if not changed and not refused:
            return  # Nothing new: _load cached what it read (unless in a caller's transaction).
        recordings: list[Recording[UUID]] = []
        try:
            with storage_errors("save"):
                transaction = self._sql.transaction(commit=True)
                # Inside a caller's transaction nothing is committed yet (see _load).
                committed = transaction.nested_level == 0
                with transaction as session:
                    if changed:
                        recordings = self.save(*changed)
                    store.insert_rejections(session, refused, self.mapper.cipher)
        except StorageError as error:
            if isinstance(error.__cause__, IntegrityError | sqlalchemy.exc.IntegrityError):
                raise _VersionConflictError from error
            raise
        if not committed:
            self._cache.discard(message.message_id for message in messages)
            return
        if recordings and self._horizon is not None:
            first, last = recordings[0].notification.id, recordings[-1].notification.id
            # Our events directly follow the horizon, with nobody else's among them: the
            # cache stays current without reading them back.
            if first == self._horizon + 1 and last - first == len(recordings) - 1:
                self._horizon = last
        for message in messages:
            # Loaded and cached ones are already the most recently used; add the new ones.
            if message.message_id not in self._cache:
                self._cache.put(message)

    @contextmanager
    def _uncommitted(self, messages: Iterable[Message]) -> Iterator[None]:
        """If the block fails, forget ``messages``: they may hold changes that were not stored."""
        try:
            yield
        except BaseException:
            self._cache.discard([message.message_id for message in messages])
            raise

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` again (it reloads) when another writer won a version race.

        A SQLite file shared by several processes can also answer "database is locked"
        when a reader's snapshot went stale under another writer; that is contention too,
        and is retried the same way.  Attempts of one ledger run one at a time: they change
        cached messages in place.
        """
        with self._lock:
            if self._dry_run:
                return self._once(attempt)
            for attempt_number in range(MAX_CONFLICT_RETRIES):
                started = time.monotonic()
                try:
                    return attempt()
                except _VersionConflictError:
                    self.conflicts_retried += 1
                except StorageError as error:
                    # Only an immediate refusal is contention worth retrying; a lock held past
                    # SQLite's busy timeout is an outage, reported at once.
                    if not _is_sqlite_lock_contention(error) or time.monotonic() - started > 1.0:
                        raise
                    self.locks_retried += 1
                # Writers that collided on the same messages would collide again if they
                # retried in lockstep: wait a random, growing moment (capped at 50 ms).
                time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt_number)))
        raise StorageError(f"gave up after {MAX_CONFLICT_RETRIES} conflicts with other writers")

    def _once(self, attempt: Callable[[], T]) -> T:
        """Run ``attempt`` in a dry run: a collision with another writer is not retried."""
        try:
            return attempt()
        except _VersionConflictError as error:
            raise StorageError("another writer changed a message during the dry run; run it again") from error


class _RolledBackError(Exception):
    """Ends a dry run's transaction (see Ledger.dry_run); never escapes it."""


def _is_sqlite_lock_contention(error: StorageError) -> bool:
    cause = error.__cause__
    return isinstance(cause, sqlalchemy.exc.OperationalError) and "database is locked" in str(cause)


def _parse(payload: Payload) -> StatusReport | InvalidPayloadError:
    try:
        return parse_delivery_status(payload)
    except InvalidPayloadError as error:
        return error


def _check_text(field: str, value: object, *, required: bool) -> None:
    """Refuse identifiers a backend could not store (empty, too long, NUL, bad Unicode)."""
    if value is None and not required:
        return
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_ID_LENGTH:
        raise InvalidPayloadError(f"must be a non-empty string of at most {MAX_ID_LENGTH} characters", field=field)
    try:
        storable(value)
    except ValueError as error:
        raise InvalidPayloadError(str(error), field=field) from None


def _checked_key(key: str) -> str:
    """``key`` if it is base64 of 16, 24 or 32 bytes (an AES key)."""
    try:
        size = len(base64.b64decode(key, validate=True))
    except ValueError:
        size = -1
    if size not in (16, 24, 32):
        raise ValueError("the cipher key must be base64 of 16, 24 or 32 bytes; make one with `ledger keygen`")
    return key


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
                try:
                    return storable(hint)
                except ValueError:
                    return None
    return None

"""The message store on a SQLite file or PostgreSQL, on eventsourcing's Application machinery.

:class:`SQLMessageStore` is what :meth:`ledger.Ledger.open` builds.  It loads the
messages of a batch with one query per few hundred ids, keeps the messages it used last
in memory as committed, and commits a batch's events and rejections in one transaction.
It is an eventsourcing ``Application`` named ``Ledger``, so the tables, the environment
variables (``LEDGER_CREATE_TABLE``...) and the stored events are those of the ledger
before the store was a class of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any, ClassVar, cast
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import InfrastructureFactory, PersistenceError, Recording, StoredEvent
from eventsourcing.utils import Environment, EnvType, strtobool
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ledger import rejections as rejection_store
from ledger.errors import LedgerNotFoundError
from ledger.message import Message, MessageEvent, message_uuid
from ledger.persistence import LedgerFactory, LedgerRecorder, MessageCache, replay_message
from ledger.sql import has_tables, storage_error, storage_errors
from ledger.views import NewRejection, Rejection

#: How many messages a store keeps in memory between calls, by default (about 1.5 KB
#: each).  Reports of one message arrive within minutes to hours of each other; a
#: message found in the cache is not read from the database again.
MESSAGE_CACHE_MAXSIZE = 20_000


class SQLMessageStore(Application[UUID]):
    """Messages and rejections in a SQL database (see :mod:`ledger.store` for the contract).

    The cache holds at most ``MESSAGE_CACHE_MAXSIZE`` messages (20,000 unless the
    environment says otherwise; 0 turns it off).  Before each load it reads which events
    were added since it last looked, so changes by other writers (processes or
    ledgers) are never missed.  Not thread-safe: the ledger calls it one thread at a time.
    """

    # eventsourcing names an application's tables and environment variables after it.
    name = "Ledger"
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "ledger.persistence:LedgerFactory",
        "TRANSCODER_TOPIC": "ledger.persistence:LedgerTranscoder",
        "MAPPER_TOPIC": "ledger.persistence:LedgerMapper",
    }
    #: Environment variable: how many messages to keep in memory (0: none).
    MESSAGE_CACHE_MAXSIZE = "MESSAGE_CACHE_MAXSIZE"

    def __init__(
        self, env: Mapping[str, str] | None = None, *, create: bool = True, engine: Engine | None = None
    ) -> None:
        self._create = create
        #: A host application's engine to run on (else the env's URL makes one of our own).
        self._host_engine = engine
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
        #: Messages as committed; and the notification id up to which they are known to be
        #: current: events after it may come from other writers (see _catch_up).
        self.cache = MessageCache(maxsize)
        self._horizon: int | None = None

    def construct_env(self, name: str, env: EnvType | None = None) -> Environment:
        """eventsourcing's environment; with ``create=False`` it says not to create tables."""
        environment = super().construct_env(name, env)
        if not self._create:
            # Every spelling eventsourcing reads (LEDGER_CREATE_TABLE first), so that no
            # variable in the process environment overrides the caller.
            for key in environment.create_keys(LedgerFactory.CREATE_TABLE):
                environment[key] = "no"
        return environment

    def construct_factory(self, env: Environment) -> InfrastructureFactory[Any]:
        """eventsourcing's factory; on a host's engine, ours, handed the engine (see LedgerFactory)."""
        if self._host_engine is None:
            return super().construct_factory(env)
        return LedgerFactory(env, engine=self._host_engine)

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the database."""
        engine = self._sql.datastore.engine
        assert isinstance(engine, Engine)
        return engine

    def session(self, *, commit: bool = True) -> AbstractContextManager[Session]:
        """A transaction on the database, shared with the event recorder (nested calls join it)."""
        return self._sql.transaction(commit=commit)

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def ledger_recorder(self) -> LedgerRecorder:
        """``recorder``, typed as the ledger's (batch loads, the log's tail)."""
        return self._sql

    def load(self, message_ids: Iterable[str]) -> dict[str, Message]:
        """The stored messages among ``message_ids`` (unknown ids are left out).

        Cached messages that no other writer has changed are used as they are; the others
        are read with one query per few hundred ids and replayed.
        """
        found: dict[str, Message] = {}
        with storage_errors("load messages"):
            transaction = self._sql.transaction(commit=False)
            # Inside a caller's transaction (Ledger.session) we may read changes that
            # will yet be rolled back: then leave the cache alone.
            use_cache = self.cache.maxsize > 0 and transaction.nested_level == 0
            with transaction as session:
                if use_cache:
                    self._catch_up(session)
                missing: dict[UUID, str] = {}
                for message_id in set(message_ids):
                    message = self.cache.get(message_id) if use_cache else None
                    if message is None:
                        missing[message_uuid(message_id)] = message_id
                    else:
                        found[message_id] = message
                for aggregate_id, stored in self._sql.select_events_of(session, missing).items():
                    message = found[missing[aggregate_id]] = self._replay(stored)
                    if use_cache:
                        self.cache.put(message)
        return found

    def commit(self, messages: Sequence[Message], rejections: Sequence[NewRejection]) -> None:
        """Save new events and rejections in one transaction, or nothing at all.

        Then ``messages``, as committed, are the most recently used in the cache.
        """
        changed = [m for m in messages if m.pending_events]
        if not changed and not rejections:
            return  # Nothing new: load() cached what it read (unless in a caller's transaction).
        recordings: list[Recording[UUID]] = []
        self._sql.begin_heads()
        with storage_errors("save"):
            transaction = self._sql.transaction(commit=True)
            # Inside a caller's transaction nothing is committed yet (see load).
            committed = transaction.nested_level == 0
            with transaction as session:
                if changed:
                    recordings = self.save(*changed)
                rejection_store.insert_rejections(session, rejections, self.mapper.cipher)
        if not committed:
            self.cache.discard(message.message_id for message in messages)
            return
        self._sql.commit_heads()
        if recordings and self._horizon is not None:
            first, last = recordings[0].notification.id, recordings[-1].notification.id
            # Our events directly follow the horizon, with nobody else's among them: the
            # cache stays current without reading them back.
            if first == self._horizon + 1 and last - first == len(recordings) - 1:
                self._horizon = last
        for message in messages:
            # Loaded and cached ones are already the most recently used; add the new ones.
            if message.message_id not in self.cache:
                self.cache.put(message)

    def forget(self, message_ids: Iterable[str]) -> None:
        """Drop ``message_ids`` from the cache."""
        self.cache.discard(message_ids)

    def events_of(self, message_id: str) -> Sequence[MessageEvent]:
        """Every stored event of ``message_id``, oldest first."""
        with storage_errors("read the history"):
            return cast("list[MessageEvent]", list(self.events.get(message_uuid(message_id))))

    def version_at(self, message_id: str, position: int) -> int:
        """How many events ``message_id`` had up to notification id ``position``."""
        with storage_errors("read the log"), self.session(commit=False) as session:
            return self._sql.select_version_at(session, message_uuid(message_id), position)

    def rejections(
        self,
        *,
        limit: int = 100,
        since: datetime | None = None,
        message_id: str | None = None,
        before: int | None = None,
        newest_first: bool = False,
    ) -> list[Rejection]:
        """Refused input, oldest (or newest) first: malformed bodies and contradictions, with reasons."""
        with storage_errors("read the rejections"), self.session(commit=False) as session:
            return rejection_store.select_rejections(
                session,
                limit=limit,
                since=since,
                message_id=message_id,
                before=before,
                newest_first=newest_first,
                cipher=self.mapper.cipher,
            )

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """One transaction for the block, rolled back at its end (see ``Ledger.dry_run``)."""
        if self._sql.datastore.scoped_session is not None:
            raise RuntimeError("a dry run cannot roll back a caller's scoped session")
        try:
            transaction: Any = self._sql.transaction(commit=True)
        except PersistenceError:  # eventsourcing refuses: a caller's read-only transaction is open
            transaction = None
        if transaction is None or transaction.nested_level:
            raise RuntimeError("a dry run cannot run inside another transaction of the ledger")
        try:
            with transaction:
                yield
                # Leave the transaction by an exception: only that rolls back a
                # transaction opened to write (and the block wrote in it).
                raise _RolledBackError
        except _RolledBackError:
            pass
        except PersistenceError as error:
            raise storage_error(error, "roll back the dry run") from error

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

    def close(self) -> None:
        """Release the database connections (our own pool is disposed, a host's is left) and the cache."""
        super().close()
        recorder = getattr(self, "_sql", None)  # absent when opening failed
        if recorder is not None and recorder.datastore.engine is not None and self._host_engine is None:
            recorder.datastore.engine.dispose()
        cache = getattr(self, "cache", None)
        if cache is not None:
            cache.clear()

    def _prepare_tables(self) -> None:
        """Create the rejection table, or, when not creating tables, make sure the ledger's exist."""
        if strtobool(self.env.get(LedgerFactory.CREATE_TABLE) or "yes"):
            rejection_store.create_table(self.engine)
        else:
            events = (self._sql.schema_name, self._sql.events_table_name)
            if not has_tables(self.engine, [events, (None, rejection_store.rejections_table.name)]):
                raise LedgerNotFoundError(url=self.url)
            self._sql.detect_chain()  # a ledger that predates the chain is read (and written) as it is

    def _catch_up(self, session: Session) -> None:
        """Forget the cached messages that other writers changed since we last looked.

        Notification ids are committed in order (SQLite has one writer at a time; on
        PostgreSQL the recorder locks the table), so the events after ``_horizon`` are
        all that can have changed since.  Normally there are none but our own.
        """
        if self._horizon is None or not len(self.cache):
            # Nothing cached, nothing to check: watch from the end of the log on.
            self._horizon = self._sql.select_max_notification_id(session)
            return
        changes = self._sql.select_versions_after(session, self._horizon, limit=self.cache.maxsize + 1)
        if len(changes) > self.cache.maxsize:
            # Other writers changed more than we hold: checking each costs more than reloading.
            self.cache.clear()
            self._horizon = self._sql.select_max_notification_id(session)
            return
        for _, aggregate_id, version in changes:
            self.cache.discard_older(aggregate_id, version)
        if changes:
            self._horizon = changes[-1][0]

    def _replay(self, stored: list[StoredEvent]) -> Message:
        """The message made by its stored events, oldest first (as ``Repository.get`` makes it)."""
        return replay_message(map(self.mapper.to_domain_event, stored))


class _RolledBackError(Exception):
    """Ends a dry run's transaction (see SQLMessageStore.dry_run); never escapes it."""

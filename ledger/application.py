"""The Ledger: the commands and queries of the ledger, composed with a message store.

>>> with Ledger.open("sqlite:///ledger.db") as ledger:     # doctest: +SKIP
...     ledger.record_sent("01FRR...", sender="+1604...", recipient="+1604...")
...     ledger.ingest(webhook_body).kind
<Outcome.APPLIED: 'applied'>
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar, Self, TypeVar

from ledger.databases import Database, LedgerDatabase, open_sql_store
from ledger.decisions import Payload as Payload
from ledger.decisions import check_send, decide_batch, parse
from ledger.errors import InvalidPayloadError
from ledger.gcpause import gc_paused
from ledger.hosted import joined
from ledger.ingestion import LedgerBodies
from ledger.memory import InMemoryMessageStore
from ledger.message import Message
from ledger.queries import LedgerQueries
from ledger.reports import StatusReport
from ledger.retry import MAX_CONFLICT_RETRIES as MAX_CONFLICT_RETRIES
from ledger.retry import Retrying
from ledger.sqlstore import MESSAGE_CACHE_MAXSIZE as MESSAGE_CACHE_MAXSIZE
from ledger.sqlstore import SQLMessageStore
from ledger.status import STRICT, TransitionTable
from ledger.store import MessageStore, uncommitted
from ledger.timetravel import LedgerHistory
from ledger.views import IngestOutcome, MessageView, Rejection

if TYPE_CHECKING:
    from types import TracebackType

    from sqlalchemy.orm import Session

T = TypeVar("T")


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


class Ledger(LedgerDatabase, LedgerHistory, LedgerQueries, LedgerBodies):
    """An event-sourced ledger of message delivery statuses.

    Open it with :meth:`open`; it is a context manager.  Every public method is safe to
    call with hostile input: bad reports come back as ``rejected`` outcomes and are kept
    in the rejection store; only :class:`~ledger.errors.StorageError` (infrastructure)
    escapes :meth:`ingest` and :meth:`ingest_many`.  Writes that collide with another
    writer's are retried (see :mod:`ledger.retry`).  Calls from several threads run one
    at a time: a batch changes the store's cached messages in place until it commits.

    The ledger decides what each report does; a :class:`~ledger.store.MessageStore` loads
    and commits the messages.  ``Ledger(env)`` opens the SQL store
    (:class:`~ledger.sqlstore.SQLMessageStore`) with eventsourcing's settings ``env``;
    ``Ledger(store=...)`` runs on any store, :meth:`in_memory` on the in-memory one.
    """

    #: eventsourcing's settings of the SQL store (persistence, transcoder and mapper topics).
    env: ClassVar[Mapping[str, str]] = SQLMessageStore.env
    #: Environment variable: how many messages the SQL store keeps in memory (0: none).
    MESSAGE_CACHE_MAXSIZE = SQLMessageStore.MESSAGE_CACHE_MAXSIZE
    #: Whether :meth:`ingest_many` pauses Python's cyclic garbage collector while it runs
    #: (see :func:`ledger.gcpause.gc_paused`); a subclass may say no.
    pause_gc_during_batches: ClassVar[bool] = True

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        transitions: TransitionTable = STRICT,
        clock: Callable[[], datetime] = utc_now,
        create: bool = True,
        store: MessageStore | None = None,
    ) -> None:
        if store is not None and env is not None:
            raise ValueError("give the ledger a store or the settings of its SQL store, not both")
        self.transitions = transitions
        self._clock = clock
        self._lock = threading.RLock()
        self._read_models_lock = threading.Lock()
        self._retrying = Retrying()
        #: True inside :meth:`dry_run` and :meth:`joined` (whose thread holds ``_lock``).
        self._dry_run = False
        #: Where the messages and rejections are kept.
        self.store: MessageStore = SQLMessageStore(env, create=create) if store is None else store
        # The store's database, when it has one (the projections share it).
        self._sql = self.store if isinstance(self.store, SQLMessageStore) else None

    @classmethod
    def open(
        cls,
        url: Database = None,
        *,
        transitions: TransitionTable = STRICT,
        clock: Callable[[], datetime] = utc_now,
        cipher_key: str | None = None,
        create: bool = True,
    ) -> Self:
        """Open (and on first use create) the ledger at a SQLAlchemy ``url`` (a string or ``URL``) or ``Engine``.

        ``None`` reads ``LEDGER_DATABASE_URL``, else uses ``sqlite:///ledger.db``.
        ``postgresql://`` URLs use psycopg 3; a URL of another database, a malformed
        one or one whose driver is missing raises ``ValueError``.  A host's engine is
        used as it is and never disposed (see :mod:`ledger.databases`).  ``transitions``
        replaces the state machine's policy (see :mod:`ledger.status`); ``clock``
        gives received times.  ``cipher_key`` (else ``LEDGER_CIPHER_KEY``; make one
        with ``ledger keygen``) encrypts stored events and rejected bodies with
        AES-GCM: phone numbers are personal data.  ``create=False`` opens only a
        ledger that exists: where there is none it raises
        :class:`~ledger.errors.LedgerNotFoundError` and creates nothing (not even a
        SQLite file).
        """
        store = open_sql_store(url, cipher_key=cipher_key, create=create)
        return cls(store=store, transitions=transitions, clock=clock)

    @classmethod
    def in_memory(cls, *, transitions: TransitionTable = STRICT, clock: Callable[[], datetime] = utc_now) -> Self:
        """A ledger whose messages and rejections live in this process only (for tests and demos)."""
        return cls(store=InMemoryMessageStore(), transitions=transitions, clock=clock)

    @property
    def conflicts_retried(self) -> int:
        """How many writes were retried because another writer changed the same message first."""
        return self._retrying.conflicts

    @property
    def locks_retried(self) -> int:
        """How many writes were retried because another connection held a lock (a SQLite file's), or
        PostgreSQL ended them for a concurrent transaction (a deadlock, a serialization failure)."""
        return self._retrying.busy

    def record_sent(
        self,
        message_id: str,
        *,
        recipient: str,
        sender: str | None = None,
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
        identifiers = {"message_id": message_id, "sender": sender, "recipient": recipient}
        identifiers |= {"channel": channel, "template": template, "campaign": campaign}
        sent_at = check_send(identifiers, sent_at)
        at = self._clock()

        def attempt() -> Message:
            loaded = self.store.load({message_id})
            with uncommitted(self.store, loaded.values()):
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
                self.store.commit([message], [])
            return message

        return MessageView.of(self._retried(attempt))

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
        parsed = [parse(payload) for payload, _ in received]
        return self._retried(lambda: self._apply(received, parsed))

    def rejections(
        self,
        *,
        limit: int = 100,
        since: datetime | None = None,
        message_id: str | None = None,
        before: int | None = None,
        newest_first: bool = False,
    ) -> list[Rejection]:
        """Refused input, oldest first (``newest_first``: by id, newest first): malformed bodies and
        contradictions, with reasons.  ``before``: only ids below it (pass a page's last id for the next).
        """
        return self.store.rejections(
            limit=limit, since=since, message_id=message_id, before=before, newest_first=newest_first
        )

    def dry_run(self) -> AbstractContextManager[None]:
        """Decide everything done in the block as usual, then roll it all back.

        The block's calls run in one transaction and see each other's effects; at its
        end, or at an exception, it is rolled back: nothing is stored and the cache
        keeps only committed messages.  The transaction holds the database's write lock
        from its first write to its end; other calls on this ledger wait for the block.
        A collision with another writer raises :class:`~ledger.errors.VersionConflictError`
        instead of being retried (that would need the whole block again).
        """
        return self._once(self.store.dry_run())

    def joined(self, session: Session) -> AbstractContextManager[None]:
        """The block's calls write and read in the host's ``session``, which commits or rolls them back.

        The host's rows and the ledger's events and rejections are stored together or not
        at all; the cache keeps nothing from the block.  As in :meth:`dry_run`, other calls
        wait and a collision raises ``VersionConflictError`` (see :mod:`ledger.hosted`).
        """
        return self._once(joined(self._database("joined"), session))

    def close(self) -> None:
        """Release the read models and the store (a database's connection pool is disposed)."""
        self._close_read_models()
        self.store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def _apply(
        self, received: list[tuple[Payload, datetime]], parsed: list[StatusReport | InvalidPayloadError]
    ) -> list[IngestOutcome]:
        """Apply a batch to its messages as stored now, then commit it (one attempt)."""
        messages = self.store.load({item.message_id for item in parsed if isinstance(item, StatusReport)})
        with uncommitted(self.store, messages.values()):
            outcomes, refused = decide_batch(messages, received, parsed, self.transitions)
            self.store.commit(list(messages.values()), refused)
        return outcomes

    @contextmanager
    def _once(self, transaction: AbstractContextManager[None]) -> Iterator[None]:
        """``transaction`` around the block, whose writes are tried once (see _retried)."""
        with self._lock, transaction:
            self._dry_run = True
            try:
                yield
            finally:
                self._dry_run = False

    def _retried(self, attempt: Callable[[], T]) -> T:
        """``attempt()`` (which reloads), retried after contention, unless in one transaction's block."""
        with self._lock:
            return Retrying.once(attempt) if self._dry_run else self._retrying(attempt)

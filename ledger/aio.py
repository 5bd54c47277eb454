"""The ledger for asyncio applications: every command and query an awaitable.

>>> async with AsyncLedger.open("sqlite:///ledger.db") as ledger:   # doctest: +SKIP
...     await ledger.record_sent("01FRR...", recipient="+1604...")
...     outcome = await ledger.ingest(webhook_body)

Nothing blocks the event loop.  Writes go to one writer thread, the group-commit writer
(:mod:`ledger.batching`): reports awaited at the same moment are committed together, in
one transaction, and each await returns once its report is committed.  Reads run on a
small pool of threads (``read_threads``) over a second ledger on the same database, so a
slow read never delays a write.  Concurrent awaits lose nothing: a cancelled await still
has its report stored (it was received), like a client that hung up.

It runs on asyncio (as FastAPI, Starlette and uvicorn do).  Reads see every write whose
await has returned, as the synchronous :class:`~ledger.Ledger`'s do.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Self, TypeVar

from ledger.application import Ledger, Payload, utc_now
from ledger.batching import GroupCommitWriter
from ledger.databases import Database
from ledger.ingestion import BodyOutcome
from ledger.providers import Body
from ledger.readmodels import (
    ActivityBucket,
    BucketSize,
    Failure,
    FailureGroup,
    FunnelBy,
    FunnelRow,
    GroupBy,
    StatusPage,
)
from ledger.status import STRICT, Status, TransitionTable
from ledger.views import HistoryEntry, IngestOutcome, MessageView, Rejection

if TYPE_CHECKING:
    from types import TracebackType

T = TypeVar("T")


class AsyncLedger:
    """A :class:`~ledger.Ledger` whose commands and queries are awaited (see the module docstring).

    Open it with :meth:`open` (it is an async context manager), or wrap two ledgers of one
    database: ``writer`` is owned by the writer thread from then on, ``reader`` serves the
    reads; :meth:`aclose` closes both.
    """

    def __init__(
        self,
        writer: Ledger,
        reader: Ledger,
        *,
        max_batch: int = 500,
        max_wait: float = 0.002,
        max_pending: int = 10_000,
        read_threads: int = 4,
    ) -> None:
        if read_threads < 1:
            raise ValueError(f"read_threads must be >= 1; got {read_threads}")
        self.writer = GroupCommitWriter(writer, max_batch=max_batch, max_wait=max_wait, max_pending=max_pending)
        #: The ledger the reads run on (its ``engine``, ``session()`` and views are the database's).
        self.reader = reader
        self._reads = ThreadPoolExecutor(read_threads, thread_name_prefix="ledger-read")
        self._closed = False
        self.writer.start()

    @classmethod
    def open(
        cls,
        url: Database = None,
        *,
        transitions: TransitionTable = STRICT,
        clock: Callable[[], datetime] = utc_now,
        cipher_key: str | None = None,
        create: bool = True,
        max_batch: int = 500,
        max_wait: float = 0.002,
        max_pending: int = 10_000,
        read_threads: int = 4,
    ) -> Self:
        """Open the ledger at ``url`` (as :meth:`Ledger.open <ledger.Ledger.open>` does) and start its writer.

        Opening connects to the database: call it at start-up (a FastAPI lifespan, say),
        or through ``asyncio.to_thread``.  ``max_batch`` and ``max_wait`` (seconds) bound
        one group commit; beyond ``max_pending`` waiting writes, a write raises
        :class:`~ledger.errors.WriterUnavailableError` at once.
        """
        opening = partial(Ledger.open, url, transitions=transitions, clock=clock, cipher_key=cipher_key)
        writer = opening(create=create)
        try:
            reader = opening(create=False)
        except BaseException:
            writer.close()
            raise
        return cls(
            writer, reader, max_batch=max_batch, max_wait=max_wait, max_pending=max_pending, read_threads=read_threads
        )

    async def ingest(self, payload: Payload) -> IngestOutcome:
        """Apply one webhook payload; returns once it is committed (with others awaited meanwhile)."""
        return await asyncio.wrap_future(self.writer.ingest(payload))

    async def ingest_many(self, payloads: Iterable[Payload]) -> list[IngestOutcome]:
        """Apply payloads in order, in one transaction, as ``Ledger.ingest_many`` does."""
        batch = list(payloads)
        return await self._write(lambda ledger: ledger.ingest_many(batch))

    async def ingest_body(self, body: Body, *, provider: str = "connectly") -> BodyOutcome:
        """Apply one webhook body of ``provider``, as ``Ledger.ingest_body`` does; returns once it is committed.

        Concurrent bodies of one provider are group-committed, as :meth:`ingest`'s reports are.
        """
        return await asyncio.wrap_future(self.writer.ingest_body(body, provider))

    async def record_sent(
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
        """Record the send API's answer, as ``Ledger.record_sent`` does."""
        record = partial(Ledger.record_sent, message_id=message_id, recipient=recipient, sender=sender)
        return await self._write(
            partial(record, channel=channel, template=template, campaign=campaign, sent_at=sent_at)
        )

    async def message(
        self, message_id: str, *, as_of: datetime | None = None, at_position: int | None = None
    ) -> MessageView:
        """The message as it stands (or stood, as ``Ledger.message``); ``MessageNotFoundError`` if unknown."""
        return await self._read(partial(self.reader.message, message_id, as_of=as_of, at_position=at_position))

    async def history(
        self, message_id: str, *, until: datetime | None = None, at_position: int | None = None
    ) -> list[HistoryEntry]:
        """The audit trail of ``message_id``, oldest first (up to a time or position, as ``Ledger.history``)."""
        return await self._read(partial(self.reader.history, message_id, until=until, at_position=at_position))

    async def rejections(
        self,
        *,
        limit: int = 100,
        since: datetime | None = None,
        message_id: str | None = None,
        before: int | None = None,
        newest_first: bool = False,
    ) -> list[Rejection]:
        """Refused input, oldest (or newest) first, as ``Ledger.rejections`` gives it."""
        query = partial(self.reader.rejections, limit=limit, since=since, message_id=message_id)
        return await self._read(partial(query, before=before, newest_first=newest_first))

    async def messages(
        self,
        *,
        status: Status | None = None,
        campaign: str | None = None,
        recipient: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        after: str | None = None,
        fresh: bool = True,
    ) -> StatusPage:
        """One page of messages, as ``Ledger.messages`` gives it."""
        query = partial(self.reader.messages, status=status, campaign=campaign, recipient=recipient)
        return await self._read(partial(query, since=since, until=until, limit=limit, after=after, fresh=fresh))

    async def failures(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        code: str | None = None,
        type: str | None = None,
        campaign: str | None = None,
        recipient: str | None = None,
        limit: int = 1000,
        fresh: bool = True,
        as_of: datetime | None = None,
    ) -> list[Failure]:
        """Each failure, as ``Ledger.failures`` gives them."""
        query = partial(self.reader.failures, code=code, type=type, campaign=campaign, recipient=recipient)
        return await self._read(partial(query, since=since, until=until, limit=limit, fresh=fresh, as_of=as_of))

    async def failure_summary(
        self,
        *,
        by: GroupBy = "code",
        since: datetime | None = None,
        until: datetime | None = None,
        fresh: bool = True,
        as_of: datetime | None = None,
    ) -> list[FailureGroup]:
        """The failures grouped, as ``Ledger.failure_summary`` gives them."""
        query = partial(self.reader.failure_summary, by=by, since=since, until=until)
        return await self._read(partial(query, fresh=fresh, as_of=as_of))

    async def summary(
        self,
        *,
        by: FunnelBy | None = None,
        campaign: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        fresh: bool = True,
        as_of: datetime | None = None,
    ) -> list[FunnelRow]:
        """The delivery funnel, as ``Ledger.summary`` gives it."""
        query = partial(self.reader.summary, by=by, campaign=campaign, since=since, until=until)
        return await self._read(partial(query, fresh=fresh, as_of=as_of))

    async def campaigns(self, *, fresh: bool = True) -> list[str]:
        """Every campaign a message names, as ``Ledger.campaigns`` gives them."""
        return await self._read(partial(self.reader.campaigns, fresh=fresh))

    async def activity(
        self,
        *,
        bucket: BucketSize = "day",
        since: datetime | None = None,
        until: datetime | None = None,
        campaign: str | None = None,
        fresh: bool = True,
        as_of: datetime | None = None,
    ) -> list[ActivityBucket]:
        """Reports and failures per hour or day, as ``Ledger.activity`` gives them."""
        query = partial(self.reader.activity, bucket=bucket, since=since, until=until, campaign=campaign)
        return await self._read(partial(query, fresh=fresh, as_of=as_of))

    async def aclose(self) -> None:
        """Finish the writes queued, then close both ledgers (in a thread: it waits for the database)."""
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """As :meth:`aclose`, blocking (for synchronous code); again, nothing happens."""
        if self._closed:
            return
        self._closed = True
        self.writer.close()
        self._reads.shutdown(wait=True)
        self.reader.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.aclose()

    async def _write(self, call: Callable[[Ledger], T]) -> T:
        future: Future[T] = self.writer.run(call)
        return await asyncio.wrap_future(future)

    async def _read(self, call: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._reads, call)

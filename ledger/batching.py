"""Group commit: one writer thread owns a Ledger and commits concurrent reports in batches.

Callers on any thread (the HTTP receiver's request handlers) hand a report to
:meth:`GroupCommitWriter.ingest` and get a future.  The writer takes the first waiting
report, gathers whatever else arrives within ``max_wait`` seconds (at most
``max_batch`` in all), applies them with one ``Ledger.ingest_many`` call — one
transaction — and only then completes each future with its own outcome.  So an answer
is never given before its report is committed, and a busy receiver pays for one commit
per batch instead of one per request::

    writer = GroupCommitWriter(Ledger.open(url))
    writer.start()
    outcome = writer.ingest(body).result()      # after the commit
    writer.close()                              # drains the queue, closes the ledger

A batch that fails fails only its own futures (with the error).  When the failure may
come from one of its reports rather than from the database (a bug, or a value the
database refuses), each report of the batch is retried on its own, so one poisonous
request cannot fail its neighbours over and over.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from itertools import groupby
from typing import Any, TypeVar

from ledger.application import Ledger, Payload
from ledger.errors import DataRefusedError, StorageError, WriterUnavailableError
from ledger.ingestion import BodyOutcome
from ledger.providers import Body, check_provider
from ledger.views import IngestOutcome

T = TypeVar("T")

logger = logging.getLogger(__name__)

__all__ = ["GroupCommitWriter", "WriterUnavailableError"]


@dataclass(slots=True, eq=False)
class _Job:
    """One piece of work: a report for ``ingest_many``, a provider's body for ``ingest_bodies``
    (``provider`` set), or another write run on its own."""

    future: Future[Any]
    payload: Payload | None = None
    call: Callable[[Ledger], Any] | None = None
    provider: str | None = None
    wanted: bool = field(default=True)


_STOP = object()


class GroupCommitWriter:
    """The only writer of ``ledger``: commits what callers submit, in batches, on its own thread.

    The writer owns the ledger from :meth:`start` on and closes it in :meth:`close`.
    ``max_pending`` bounds the queue: beyond it, submitting raises
    :class:`WriterUnavailableError` at once instead of letting latency grow without end.
    """

    def __init__(
        self, ledger: Ledger, *, max_batch: int = 500, max_wait: float = 0.002, max_pending: int = 10_000
    ) -> None:
        if max_batch < 1 or max_pending < 1 or max_wait < 0:
            raise ValueError("max_batch and max_pending must be >= 1 and max_wait >= 0")
        self.ledger = ledger
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.max_pending = max_pending
        #: Committed batches and the reports in them, for monitoring.
        self.batches = 0
        self.reports = 0
        #: Told of each committed batch: its size and how long its commit took, in seconds (the
        #: receiver's metrics).  Called on the writer thread once the batch is answered: keep it quick
        #: (what it raises is logged).
        self.observer: Callable[[int, float], None] | None = None
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="ledger-writer", daemon=True)

    @property
    def alive(self) -> bool:
        """Whether the writer thread is running."""
        return self._thread.is_alive()

    @property
    def pending(self) -> int:
        """How many submissions wait for the writer (approximately)."""
        return self._queue.qsize()

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def ingest(self, payload: Payload) -> Future[IngestOutcome]:
        """Queue a webhook payload; the future's result is its outcome, set after the commit."""
        future: Future[IngestOutcome] = Future()
        self._submit(_Job(future, payload=payload))
        return future

    def ingest_body(self, body: Body, provider: str) -> Future[BodyOutcome]:
        """Queue a webhook body of ``provider``; the future's result is its outcome, set after the commit.

        Bodies of one provider that arrive together are committed by one ``ingest_bodies`` call.
        """
        check_provider(provider)
        future: Future[BodyOutcome] = Future()
        self._submit(_Job(future, payload=body, provider=provider))
        return future

    def run(self, call: Callable[[Ledger], T]) -> Future[T]:
        """Queue another write (``call(ledger)``, e.g. ``record_sent``), run on the writer in order."""
        future: Future[T] = Future()
        self._submit(_Job(future, call=call))
        return future

    def close(self, timeout: float | None = 60.0) -> None:
        """Refuse new work, finish what is queued, then close the ledger."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(_STOP)
        if self._thread.is_alive():
            self._thread.join(timeout)
        if self._thread.is_alive():
            # The database hangs: leave the ledger to the (daemon) thread rather than close
            # it under a running transaction.
            logger.error("the ledger writer is still busy after %s s; not closing the ledger", timeout)
            return
        self.ledger.close()

    def _submit(self, job: _Job) -> None:
        with self._lock:
            if self._closed:
                raise WriterUnavailableError("the ledger writer is shutting down")
            if self._queue.qsize() >= self.max_pending:
                raise WriterUnavailableError(f"{self.max_pending} reports are already waiting to be stored")
            self._queue.put(job)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            jobs, stopping = self._next_batch()
            if jobs:
                self._process(jobs)

    def _next_batch(self) -> tuple[list[_Job], bool]:
        """The next jobs (waiting for the first, then up to ``max_wait`` more); and whether to stop."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        jobs: list[_Job] = [first]
        deadline = time.monotonic() + self.max_wait
        while len(jobs) < self.max_batch:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is _STOP:
                return jobs, True
            jobs.append(job)
        return jobs, False

    def _process(self, jobs: list[_Job]) -> None:
        for job in jobs:
            # A caller that gave up still had its report stored: it was received.
            job.wanted = job.future.set_running_or_notify_cancel()
        run: list[_Job] = []
        for job in jobs:
            if job.call is None:
                run.append(job)
                continue
            self._ingest(run)
            run = []
            self._call(job)
        self._ingest(run)

    def _ingest(self, jobs: list[_Job]) -> None:
        """Commit ``jobs`` in order: each run of Connectly reports by one ``ingest_many``, each run
        of one provider's bodies by one ``ingest_bodies``."""
        for _, run in groupby(jobs, key=lambda job: job.provider):
            self._commit(list(run))

    def _commit(self, jobs: list[_Job]) -> None:
        """One transaction for ``jobs`` (all of one kind), then each future settled."""
        provider = jobs[0].provider
        payloads = [b"" if job.payload is None else job.payload for job in jobs]
        started = time.perf_counter()
        try:
            if provider is None:
                outcomes: list[Any] = self.ledger.ingest_many(payloads)
            else:
                outcomes = self.ledger.ingest_bodies(payloads, provider=provider)
        except Exception as error:
            if len(jobs) > 1 and _maybe_caused_by_input(error):
                logger.warning("a batch of %d reports failed (%s); storing each on its own", len(jobs), error)
                for job in jobs:
                    self._commit([job])
                return
            logger.warning("%d reports were not stored: %s", len(jobs), error)
            for job in jobs:
                _settle(job, error=error)
            return
        self.batches += 1
        self.reports += len(jobs)
        for job, outcome in zip(jobs, outcomes, strict=True):
            _settle(job, result=outcome)
        if self.observer is not None:
            self._observe(len(jobs), time.perf_counter() - started)

    def _observe(self, size: int, seconds: float) -> None:
        assert self.observer is not None
        try:
            self.observer(size, seconds)
        except Exception:
            # The batch is committed and answered: a failing observer must not stop the writer.
            logger.exception("the writer's observer failed")

    def _call(self, job: _Job) -> None:
        assert job.call is not None
        try:
            result = job.call(self.ledger)
        except Exception as error:
            _settle(job, error=error)
        else:
            _settle(job, result=result)


def _settle(job: _Job, *, result: object = None, error: BaseException | None = None) -> None:
    if not job.wanted:
        return
    if error is not None:
        job.future.set_exception(error)
    else:
        job.future.set_result(result)


def _maybe_caused_by_input(error: BaseException) -> bool:
    """Whether retrying the reports one by one may succeed for most of them.

    Not for an unreachable or locked database (every retry would wait for it again),
    but for a bug or a value the database refuses (PostgreSQL refuses NUL characters).
    """
    return isinstance(error, DataRefusedError) or not isinstance(error, StorageError)

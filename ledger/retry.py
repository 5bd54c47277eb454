"""The ledger's retry policy: run a write again when another writer got in its way.

These failures are contention rather than outage, and retrying (which reloads the
messages) usually succeeds: a :class:`~ledger.errors.VersionConflictError` (another
writer appended to the same message first), a :class:`~ledger.errors.TransactionConflictError`
(PostgreSQL ended the transaction to break a deadlock or a serialization conflict, after
however long a wait) and a :class:`~ledger.errors.StorageBusyError` that came at once (a
SQLite file locked by another process when this transaction's snapshot went stale).  A
busy error after a long wait is SQLite's busy timeout (or PostgreSQL's ``lock_timeout``)
running out: an outage, reported at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from ledger.errors import StorageBusyError, StorageError, TransactionConflictError, VersionConflictError

T = TypeVar("T")

#: How often a write is retried after another writer changed one of its messages.
MAX_CONFLICT_RETRIES = 30

#: A busy refusal that took longer than this (seconds) waited out SQLite's busy timeout.
BUSY_IS_CONTENTION_WITHIN = 1.0


class Retrying:
    """Runs attempts, again after contention; counts the retries (for monitoring and tests)."""

    def __init__(self) -> None:
        #: Retries after a version conflict (optimistic concurrency).
        self.conflicts = 0
        #: Retries after another connection held a lock (a SQLite file's; PostgreSQL's deadlocks
        #: and serialization failures).
        self.busy = 0

    def __call__(self, attempt: Callable[[], T]) -> T:
        """``attempt()``'s result, after at most :data:`MAX_CONFLICT_RETRIES` retries.

        Then the last contention is raised (a version conflict, or busy).
        """
        failure: type[StorageError] = VersionConflictError
        for attempt_number in range(MAX_CONFLICT_RETRIES):
            started = time.monotonic()
            try:
                return attempt()
            except VersionConflictError:
                self.conflicts += 1
                failure = VersionConflictError
            except StorageBusyError as error:
                waited_out = time.monotonic() - started > BUSY_IS_CONTENTION_WITHIN
                if waited_out and not isinstance(error, TransactionConflictError):
                    raise
                self.busy += 1
                failure = type(error)  # given up on, a deadlock stays a TransactionConflictError
            # Writers that collided on the same messages would collide again if they
            # retried in lockstep: wait a random, growing moment (capped at 50 ms).
            time.sleep(random.uniform(0, min(0.05, 0.001 * 2**attempt_number)))
        raise failure(f"gave up after {MAX_CONFLICT_RETRIES} conflicts with other writers")

    @staticmethod
    def once(attempt: Callable[[], T]) -> T:
        """``attempt()``'s result, not retried (in a dry run or a host's transaction: a retry needs the whole block)."""
        try:
            return attempt()
        except VersionConflictError as error:
            raise VersionConflictError(
                "another writer changed a message during the block (a dry run or a host's transaction); run it again"
            ) from error

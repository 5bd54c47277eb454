"""Errors raised by the ledger and its projections: one tree.

The tree::

    LedgerError
    ├── InvalidPayloadError       input that is not a usable delivery_status report
    ├── ContradictionError        a report that contradicts a message's history
    │   ├── InvalidTransitionError    the stage cannot follow the current status
    │   └── IdentityMismatchError     sender, recipient or channel differs from the record
    ├── MessageNotFoundError      no message with that id
    ├── StorageError              the database failed, refused or could not be reached
    │   ├── StorageUnavailableError   it could not be reached or failed (connection, disk, missing table)
    │   ├── StorageBusyError          another connection held the lock of a SQLite file (SQLITE_BUSY)
    │   ├── VersionConflictError      another writer appended to a message first
    │   ├── DataRefusedError          the database refused the values sent (a NUL in PostgreSQL text, say)
    │   ├── LedgerNotFoundError       the database holds no ledger (opened with create=False)
    │   └── WriterUnavailableError    the group-commit writer takes no more work now
    ├── UnreadableDataError       stored data cannot be decrypted or decoded (wrong key?)
    ├── NotSealedError            the ledger holds events without chain hashes (run ``ledger seal``)
    └── ProjectionConflictError   another projection runner processed the same page first

``Ledger.ingest`` never raises the first two: it answers ``rejected`` and keeps the
input in the rejection store.  Only ``StorageError`` (infrastructure) escapes it.

A failure of the database, of its driver, of SQLAlchemy or of eventsourcing is
classified once, where it is caught (:func:`ledger.sql.storage_errors`): callers
branch on these classes, never on messages or causes.  The ledger retries
``VersionConflictError`` and ``StorageBusyError`` itself (reloading the messages);
they escape only when retrying did not help, or in a dry run.  ``WriterUnavailableError``
is importable from :mod:`ledger.batching` and ``ProjectionConflictError`` from
:mod:`projections` too, where they are raised.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime

    from ledger.status import Status


class LedgerError(Exception):
    """Root of every error the ledger raises on purpose."""


class InvalidPayloadError(LedgerError):
    """The input is malformed; ``field`` names the offending field (``None``: the whole body)."""

    def __init__(self, reason: str, *, field: str | None = None) -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class ContradictionError(LedgerError):
    """A report contradicts what the ledger already knows about ``message_id``."""

    def __init__(self, message: str, *, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(message)


class InvalidTransitionError(ContradictionError):
    """The reported ``stage`` cannot follow ``status`` under the transition table."""

    def __init__(self, *, message_id: str, status: Status, stage: Status) -> None:
        self.status = status
        self.stage = stage
        super().__init__(
            f"message {message_id!r} is {status}; a {stage!s} report contradicts it", message_id=message_id
        )


class IdentityMismatchError(ContradictionError):
    """The report names a different ``field`` value (sender, recipient or channel) than recorded."""

    def __init__(self, *, message_id: str, field: str, recorded: str | None, reported: str | None) -> None:
        self.field = field
        self.recorded = recorded
        self.reported = reported
        super().__init__(
            f"message {message_id!r} has {field} {recorded!r}; the report says {reported!r}", message_id=message_id
        )


class MessageNotFoundError(LedgerError, LookupError):
    """No message with ``message_id`` was recorded or reported (by ``as_of``, when given)."""

    def __init__(self, *, message_id: str, as_of: datetime | None = None, at_position: int | None = None) -> None:
        self.message_id = message_id
        #: The moment or log position asked about, for a question about the past (see :mod:`ledger.timetravel`).
        self.as_of = as_of
        self.at_position = at_position
        when = "" if as_of is None else f" as of {as_of.isoformat()}"
        where = "" if at_position is None else f" at log position {at_position}"
        super().__init__(f"no message with id {message_id!r}{when}{where}")


class StorageError(LedgerError):
    """The database failed, refused or could not be reached; the operation had no effect."""


class StorageUnavailableError(StorageError):
    """The database could not be reached, or failed (lost connection, disk error, missing table)."""


class StorageBusyError(StorageError):
    """Another connection held a lock: a SQLite file's (SQLITE_BUSY or SQLITE_LOCKED), or a
    PostgreSQL lock not granted (``lock_not_available``, 55P03: ``lock_timeout`` or NOWAIT).

    Contention, worth a retry when the refusal came at once (a reader's snapshot went
    stale under another process's write); a lock held past the busy timeout is an outage.
    """


class TransactionConflictError(StorageBusyError):
    """PostgreSQL ended the transaction in favour of a concurrent one: a deadlock
    (``deadlock_detected``, 40P01) or a serialization failure (``serialization_failure``,
    40001, under REPEATABLE READ or SERIALIZABLE isolation).

    Nothing was stored, and the other transaction can now finish: always worth a retry,
    however long the transaction waited before PostgreSQL chose it.
    """


class VersionConflictError(StorageError):
    """Another writer appended to a message this write changed (optimistic concurrency).

    The ledger reloads the message and retries; this escapes only after many retries,
    or from a dry run (whose retry would need the whole block again).
    """


class DataRefusedError(StorageError):
    """The database refused the values sent (PEP 249's data, integrity or programming errors).

    Caused by the input rather than by the database's health: PostgreSQL refuses a NUL
    character in text, say.  Other writes may still succeed.
    """


class LedgerNotFoundError(StorageError):
    """The database at ``url`` holds no ledger, and it was opened not to create one.

    ``url`` is shown with any password hidden.
    """

    def __init__(self, *, url: str) -> None:
        self.url = url
        super().__init__(f"no ledger at {url}: its tables do not exist")


class WriterUnavailableError(StorageError):
    """The writer takes no more work now (its queue is full, or it is shutting down); retry later."""


class UnreadableDataError(LedgerError):
    """Stored events or rejections cannot be decrypted or decoded.

    Usually the cipher key (``LEDGER_CIPHER_KEY``) is missing or is not the key the data
    was written with.
    """


class NotSealedError(LedgerError):
    """The ledger predates the hash chain and was not sealed: ``unchained`` events carry no chain hash.

    A checkpoint needs every message's chain head; ``ledger seal`` chains the history once.
    """

    def __init__(self, *, unchained: int) -> None:
        self.unchained = unchained
        super().__init__(
            f"the ledger is not sealed ({unchained:,} chain heads without a hash): run `ledger seal` first"
        )


class ProjectionConflictError(LedgerError):
    """Another runner moved a projection's position first; this page was not applied."""

    def __init__(self, *, name: str, expected: int) -> None:
        self.name = name
        self.expected = expected
        super().__init__(f"projection {name!r} is no longer at position {expected}: another runner processed it")


class WorkerExitedError(LedgerError):
    """A receiver worker process ended by itself (``ledger serve --workers``); the others were stopped."""

"""Errors raised by the ledger.

The tree::

    LedgerError
    ├── InvalidPayloadError       input that is not a usable delivery_status report
    ├── ContradictionError        a report that contradicts a message's history
    │   ├── InvalidTransitionError    the stage cannot follow the current status
    │   └── IdentityMismatchError     sender, recipient or channel differs from the record
    ├── MessageNotFoundError      no message with that id
    ├── StorageError              the database failed or could not be reached
    │   └── LedgerNotFoundError       the database holds no ledger (opened with create=False)
    └── UnreadableDataError       stored data cannot be decrypted or decoded (wrong key?)

``Ledger.ingest`` never raises the first two: it answers ``rejected`` and keeps the
input in the rejection store.  Only ``StorageError`` (infrastructure) escapes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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
    """No message with ``message_id`` was recorded or reported."""

    def __init__(self, *, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(f"no message with id {message_id!r}")


class StorageError(LedgerError):
    """The database failed, refused or could not be reached; the operation had no effect."""


class LedgerNotFoundError(StorageError):
    """The database at ``url`` holds no ledger, and it was opened not to create one.

    ``url`` is shown with any password hidden.
    """

    def __init__(self, *, url: str) -> None:
        self.url = url
        super().__init__(f"no ledger at {url}: its tables do not exist")


class UnreadableDataError(LedgerError):
    """Stored events or rejections cannot be decrypted or decoded.

    Usually the cipher key (``LEDGER_CIPHER_KEY``) is missing or is not the key the data
    was written with.
    """

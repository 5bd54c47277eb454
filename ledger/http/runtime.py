"""What runs with the receiver: the ledger, awaited (its group-commit writer and its readers).

The receiver's lifespan (:class:`~ledger.http.receiver.Receiver`) opens a :class:`Runtime`
unless :func:`ledger.http.serve.run` opened one already, and closes it at shutdown.
"""

from __future__ import annotations

from ledger.aio import AsyncLedger
from ledger.batching import GroupCommitWriter
from ledger.http.settings import ServerSettings


class Runtime:
    """The receiver's ledger (an :class:`~ledger.aio.AsyncLedger`) and how its reads see the views."""

    def __init__(self, settings: ServerSettings) -> None:
        self.ledger = AsyncLedger.open(
            settings.database, max_batch=settings.max_batch, max_wait=settings.max_wait, read_threads=4
        )
        #: Whether each read of the views catches them up first (else a projector keeps them current).
        self.fresh = settings.catch_up

    @property
    def writer(self) -> GroupCommitWriter:
        """The group-commit writer."""
        return self.ledger.writer

    def close(self) -> None:
        """Drain the writer and close the ledgers; again, nothing happens."""
        self.ledger.close()

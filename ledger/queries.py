"""The ledger's queries over its read models: messages, failures and the funnel.

Each query first brings the read models up to date (``fresh=True``, the default): it
sees every event committed before the call, by any process — what this process just
wrote included.  Catching up when nothing is new costs three small queries.  Where a
separate process keeps the views current (``ledger project --follow``), ``fresh=False``
reads them as they are, which is at most that process's lag behind the log.

The read models are named by a topic (:attr:`LedgerQueries.read_models_topic`), built
over the ledger on first use and closed with it; the ledger never imports them (see
:mod:`ledger.readmodels`).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import ClassVar

from eventsourcing.utils import resolve_topic

from ledger.errors import ProjectionConflictError, StorageError
from ledger.readmodels import Failure, FailureGroup, FunnelBy, FunnelRow, GroupBy, ReadModels, StatusPage
from ledger.status import Status

#: How many times a query's catch-up starts again after another runner moved first.
CATCH_UP_ATTEMPTS = 10


class LedgerQueries:
    """The queries of :class:`~ledger.Ledger` over the read models (a mixin of it)."""

    #: What builds the read models over the ledger: ``topic(ledger)`` (eventsourcing's topic syntax).
    read_models_topic: ClassVar[str] = "projections:Projections"

    _read_models: ReadModels | None = None
    _read_models_lock: threading.Lock

    def messages(
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
        """Messages whose last change is in ``[since, until)``, oldest change first, ``limit`` a page.

        Filters combine.  Pass the page's ``next_cursor`` as ``after`` for the next page
        (keyset pagination: stable while messages change).  ``ValueError`` for a cursor
        not from this listing or a ``limit`` below 1.
        """
        if limit < 1:
            raise ValueError(f"limit must be >= 1; got {limit}")
        return self.read_models(fresh=fresh).messages(
            status=status, campaign=campaign, recipient=recipient, since=since, until=until, limit=limit, after=after
        )

    def failures(
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
    ) -> list[Failure]:
        """Each failure report in ``[since, until)`` (by failure time), oldest first; filters combine.

        A failure rejected as a contradiction is listed with ``conflict`` set.
        """
        if limit < 1:
            raise ValueError(f"limit must be >= 1; got {limit}")
        return self.read_models(fresh=fresh).failures(
            since=since, until=until, code=code, type=type, campaign=campaign, recipient=recipient, limit=limit
        )

    def failure_summary(
        self, *, by: GroupBy = "code", since: datetime | None = None, until: datetime | None = None, fresh: bool = True
    ) -> list[FailureGroup]:
        """The failures in ``[since, until)`` grouped by code, type, campaign, recipient, day or provider.

        Largest first.
        """
        return self.read_models(fresh=fresh).failure_summary(by=by, since=since, until=until)

    def summary(self, *, by: FunnelBy | None = None, fresh: bool = True) -> list[FunnelRow]:
        """The delivery funnel: one row for the whole ledger (``by=None``), or one per campaign, day,
        provider or pricing category (Meta's); ``billable`` counts what the provider said is billable."""
        return self.read_models(fresh=fresh).summary(by=by)

    def read_models(self, *, fresh: bool = True) -> ReadModels:
        """The read models over this ledger, brought up to date first when ``fresh``."""
        with self._read_models_lock:
            if self._read_models is None:
                self._read_models = resolve_topic(self.read_models_topic)(self)
            views = self._read_models
            if fresh:
                _catch_up(views)
        return views

    def _close_read_models(self) -> None:
        with self._read_models_lock:
            views, self._read_models = self._read_models, None
        if views is not None:
            views.close()


def _catch_up(views: ReadModels) -> None:
    for _ in range(CATCH_UP_ATTEMPTS):
        try:
            views.catch_up()
        except ProjectionConflictError:
            continue  # Another runner (`ledger project`, another receiver) moved first: go on from there.
        return
    raise StorageError(f"other runners kept moving the views first ({CATCH_UP_ATTEMPTS} attempts)")

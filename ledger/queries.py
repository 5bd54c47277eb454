"""The ledger's queries over its read models: messages, failures and the funnel.

Each query first brings the read models up to date (``fresh=True``, the default): it
sees every event committed before the call, by any process — what this process just
wrote included.  Catching up when nothing is new costs three small queries.  Where a
separate process keeps the views current (``ledger project --follow``), ``fresh=False``
reads them as they are, which is at most that process's lag behind the log.

The read models are named by a topic (:attr:`LedgerQueries.read_models_topic`), built
over the ledger on first use and closed with it; the ledger never imports them (see
:mod:`ledger.readmodels`).

``as_of=T`` (a time with a zone) asks the failure queries, the funnel and the activity what the ledger
knew at ``T`` instead: the views are rebuilt apart from the events received by ``T``
(:attr:`LedgerQueries.past_read_models_topic`, ``projections.past``), read, and dropped;
the live ones are not touched.  That reads the whole log: it costs a rebuild.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import ClassVar

from eventsourcing.utils import resolve_topic

from ledger.errors import ProjectionConflictError, StorageError
from ledger.readmodels import (
    ActivityBucket,
    BucketSize,
    Failure,
    FailureGroup,
    FunnelBy,
    FunnelRow,
    GroupBy,
    ReadModels,
    StatusPage,
)
from ledger.status import Status

#: How many times a query's catch-up starts again after another runner moved first.
CATCH_UP_ATTEMPTS = 10


class LedgerQueries:
    """The queries of :class:`~ledger.Ledger` over the read models (a mixin of it)."""

    #: What builds the read models over the ledger: ``topic(ledger)`` (eventsourcing's topic syntax).
    read_models_topic: ClassVar[str] = "projections:Projections"
    #: What rebuilds them apart as of a past moment: ``topic(ledger, moment)``, closed after use.
    past_read_models_topic: ClassVar[str] = "projections.past:rebuild_as_of"

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
        as_of: datetime | None = None,
    ) -> list[Failure]:
        """Each failure report in ``[since, until)`` (by failure time), oldest first; filters combine.

        A failure rejected as a contradiction is listed with ``conflict`` set.  ``as_of``:
        the failures the ledger had received by then (see the module docstring).
        """
        if limit < 1:
            raise ValueError(f"limit must be >= 1; got {limit}")
        with self._views(fresh=fresh, as_of=as_of) as views:
            return views.failures(
                since=since, until=until, code=code, type=type, campaign=campaign, recipient=recipient, limit=limit
            )

    def failure_summary(
        self,
        *,
        by: GroupBy = "code",
        since: datetime | None = None,
        until: datetime | None = None,
        fresh: bool = True,
        as_of: datetime | None = None,
    ) -> list[FailureGroup]:
        """The failures in ``[since, until)`` grouped by code, type, campaign, recipient, day or provider.

        Largest first; ``as_of`` as :meth:`failures`.
        """
        with self._views(fresh=fresh, as_of=as_of) as views:
            return views.failure_summary(by=by, since=since, until=until)

    def summary(
        self,
        *,
        by: FunnelBy | None = None,
        campaign: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        fresh: bool = True,
        as_of: datetime | None = None,
    ) -> list[FunnelRow]:
        """The delivery funnel: one row for the whole ledger (``by=None``), or one per campaign, day,
        provider or pricing category (Meta's); ``billable`` counts what the provider said is billable.

        ``campaign``: only that campaign's messages.  ``since``/``until`` (with a zone;
        ``ValueError`` otherwise): only messages whose first known time — the earliest of
        their send and stage times, the moment their ``day`` is taken from — is in
        ``[since, until)``; a message with no time known yet is then left out.
        ``as_of``: the funnel of what the ledger had received by then (see the module docstring).
        """
        _check_window(since, until)
        with self._views(fresh=fresh, as_of=as_of) as views:
            return views.summary(by=by, campaign=campaign, since=since, until=until)

    def campaigns(self, *, fresh: bool = True) -> list[str]:
        """Every campaign a message names, in order (to offer as a filter)."""
        return self.read_models(fresh=fresh).campaigns()

    def activity(
        self,
        *,
        bucket: BucketSize = "day",
        since: datetime | None = None,
        until: datetime | None = None,
        campaign: str | None = None,
        fresh: bool = True,
        as_of: datetime | None = None,
    ) -> list[ActivityBucket]:
        """Stage reports and failures per UTC hour or day, oldest bucket first; empty buckets left out.

        Counted from the read models: ``reports[status]`` is how many messages reached
        (or had filled in late) that stage in the bucket — one per stage time, so
        duplicates and rejected reports are not counted (``accepted``: sends recorded);
        ``failures[code]`` how many failure reports the ledger applied in the bucket,
        by error code (``"(none)"`` for none; contradictions left out).  Only times in
        ``[since, until)`` (with a zone; ``ValueError`` otherwise) and, with ``campaign``,
        only its messages.  ``ValueError`` for a ``bucket`` not ``hour`` or ``day``.
        ``as_of``: counted from what the ledger had received by then (see the module docstring).
        """
        _check_window(since, until)
        with self._views(fresh=fresh, as_of=as_of) as views:
            return views.activity(bucket=bucket, since=since, until=until, campaign=campaign)

    def read_models(self, *, fresh: bool = True) -> ReadModels:
        """The read models over this ledger, brought up to date first when ``fresh``."""
        with self._read_models_lock:
            if self._read_models is None:
                self._read_models = resolve_topic(self.read_models_topic)(self)
            views = self._read_models
            if fresh:
                _catch_up(views)
        return views

    @contextmanager
    def _views(self, *, fresh: bool, as_of: datetime | None) -> Iterator[ReadModels]:
        """The live read models (``as_of`` None), or throwaway ones rebuilt as of ``as_of``."""
        if as_of is None:
            yield self.read_models(fresh=fresh)
            return
        past: ReadModels = resolve_topic(self.past_read_models_topic)(self, as_of)
        try:
            yield past
        finally:
            past.close()

    def _close_read_models(self) -> None:
        with self._read_models_lock:
            views, self._read_models = self._read_models, None
        if views is not None:
            views.close()


def _check_window(since: datetime | None, until: datetime | None) -> None:
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise ValueError(f"{name} needs a time zone (UTC, say); got {moment.isoformat()}")


def _catch_up(views: ReadModels) -> None:
    for _ in range(CATCH_UP_ATTEMPTS):
        try:
            views.catch_up()
        except ProjectionConflictError:
            continue  # Another runner (`ledger project`, another receiver) moved first: go on from there.
        return
    raise StorageError(f"other runners kept moving the views first ({CATCH_UP_ATTEMPTS} attempts)")

"""The read models as of a past moment: the log up to then, folded into throwaway views.

:func:`rebuild_as_of` reads a ledger's whole notification log and gives each projection
(current status, failure report, funnel) only the events the ledger had **received** by
the moment asked about, inclusive (each event's ``timestamp``, as
:mod:`ledger.timetravel` counts them: per message, the run of versions from the first
whose received times are all at or before the moment).  The views are built in a new
in-memory SQLite database that lives as long as the :class:`PastViews` made over it: the
ledger's own read models (``view_*``) and their positions are never read or written.

The whole log is read, whatever the moment: it is ordered by position, not by received
time (writers' clocks differ), so an event received before the moment may follow one
received after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Self
from uuid import UUID

from sqlalchemy import StaticPool, create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from ledger.application import Ledger
from ledger.gcpause import gc_paused
from ledger.message import MessageEvent
from ledger.sql import storage_errors
from projections.activity import ActivityView
from projections.base import Projection, RowCache, decode, metadata
from projections.current_status import CurrentStatusProjection, CurrentStatusView
from projections.failure_report import FailureReportProjection, FailureReportView
from projections.funnel import FunnelProjection, FunnelView
from projections.queries import ViewQueries
from projections.runner import REBUILD_PAGE_SIZE, ROW_CACHE_SIZE, Progress, ProgressCallback


class PastViews(ViewQueries):
    """The three views as of ``moment``, in their own in-memory database; a context manager.

    ``processed`` counts the events folded in (those received by ``moment``) and
    ``read`` every event of the log read to find them.
    """

    def __init__(self, engine: Engine, moment: datetime, *, processed: int, read: int) -> None:
        self.moment = moment
        self.processed = processed
        self.read = read
        self._engine = engine
        self.current_status = CurrentStatusView(engine.connect)
        self.failure_report = FailureReportView(engine.connect)
        self.funnel = FunnelView(engine.connect)
        self.activity_view = ActivityView(engine.connect)

    def catch_up(self) -> int:
        """Nothing to apply: these views show a moment that is past (0)."""
        return 0

    def close(self) -> None:
        """Drop the views (the in-memory database goes with its connection)."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def rebuild_as_of(
    ledger: Ledger,
    moment: datetime,
    *,
    page_size: int = REBUILD_PAGE_SIZE,
    on_progress: ProgressCallback | None = None,
) -> PastViews:
    """The views of ``ledger`` as they would have stood with the events received by ``moment``.

    ``moment`` needs a time zone (``ValueError`` otherwise).  ``ledger`` must have a
    database (an in-memory ledger has no log: ``AttributeError``); ``on_progress`` is
    called after each page, as ``Projections.rebuild`` calls it.
    """
    if moment.tzinfo is None:
        raise ValueError(f"a moment in the past needs a time zone (UTC, say); got {moment.isoformat()}")
    # One connection for every user of the engine: an in-memory SQLite database exists
    # once per connection, so a pool of several would show each an empty database.
    engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
    try:
        metadata.create_all(engine)
        processed, read = _fold_log(ledger, engine, moment, page_size, on_progress)
    except BaseException:
        engine.dispose()
        raise
    return PastViews(engine, moment, processed=processed, read=read)


def _fold_log(
    ledger: Ledger, engine: Engine, moment: datetime, page_size: int, on_progress: ProgressCallback | None
) -> tuple[int, int]:
    """Fold the events of ``ledger``'s log received by ``moment`` into the views in ``engine``."""
    projections: list[Projection] = [CurrentStatusProjection(), FailureReportProjection(), FunnelProjection()]
    caches = {projection.name: RowCache(ROW_CACHE_SIZE) for projection in projections}
    recorder, mapper = ledger.recorder, ledger.mapper
    head = _head(ledger)
    # Messages with an event received after the moment: none of their later events counts.
    cut: set[UUID] = set()
    position = processed = read = 0
    while True:
        with gc_paused():
            with storage_errors("read the notification log"):
                notifications = recorder.read_log(position, page_size)
            if not notifications:
                break
            with storage_errors("decode the notification log"):
                events = [event for _, event in decode(mapper, notifications)]
            known = _known(events, moment, cut)
            with Session(engine) as session, session.begin():
                for projection in projections:
                    projection.process(session, known, caches[projection.name])
        position, read, processed = notifications[-1].id, read + len(events), processed + len(known)
        if on_progress is not None:
            on_progress(Progress(processed=read, position=position, head=max(head, position)))
    return processed, read


def _known(events: Sequence[MessageEvent], moment: datetime, cut: set[UUID]) -> list[MessageEvent]:
    """The events received by ``moment`` whose earlier versions all were; ``cut`` grows with the others."""
    known: list[MessageEvent] = []
    for event in events:
        if event.originator_id in cut:
            continue
        if event.timestamp > moment:
            cut.add(event.originator_id)
            continue
        known.append(event)
    return known


def _head(ledger: Ledger) -> int:
    with storage_errors("read the notification log"):
        return ledger.recorder.max_notification_id() or 0

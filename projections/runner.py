"""Running the projections: catch up, follow, rebuild — each view exactly once.

Every projection keeps its position in the ledger's notification log in
``view_tracking``.  A page of events and the new position are written in the same
transaction, and the position moves by compare-and-set (``UPDATE ... WHERE position =
old``): a crash between the two is impossible, and a second runner that processed the
same page concurrently is refused (its transaction rolls back).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any, Self

import sqlalchemy
import sqlalchemy.exc
from sqlalchemy import BigInteger, Column, Integer, String, Table, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from ledger.application import Ledger
from ledger.databases import Database
from ledger.errors import ProjectionConflictError as ProjectionConflictError  # raised here, and re-exported
from ledger.gcpause import gc_paused
from ledger.persistence import LedgerRecorder
from ledger.sql import storage_errors
from projections.activity import ActivityView
from projections.base import Projection, RowCache, decode, metadata
from projections.current_status import CurrentStatusProjection, CurrentStatusView
from projections.failure_report import FailureReportProjection, FailureReportView
from projections.funnel import FunnelProjection, FunnelView
from projections.queries import ViewQueries

tracking_table = Table(
    "view_tracking",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("position", BigInteger().with_variant(Integer(), "sqlite"), nullable=False),
)

#: How many notifications one transaction processes.
PAGE_SIZE = 1000

#: How many notifications one transaction of a rebuild processes: a message's events
#: are usually a few thousand notifications apart, so large pages write most rows once.
REBUILD_PAGE_SIZE = 20_000

#: How many rows of each view one run (catch-up or rebuild) keeps in memory between its
#: pages, so that a message's next event does not read its row back (about 1 KB each).
ROW_CACHE_SIZE = 20_000


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a catch-up or rebuild stands: ``position`` of ``head`` in the log."""

    processed: int
    position: int
    head: int

    def to_dict(self) -> dict[str, int]:
        """JSON-ready fields."""
        return {"processed": self.processed, "position": self.position, "head": self.head}


ProgressCallback = Callable[[Progress], None]


class Projections(ViewQueries):
    """The read models of one ledger database, and the runner that keeps them current.

    >>> with Projections.open("sqlite:///ledger.db") as views:  # doctest: +SKIP
    ...     views.catch_up()
    ...     views.funnel.summary()
    """

    def __init__(self, ledger: Ledger, *, owns_ledger: bool = False, row_cache_size: int = ROW_CACHE_SIZE) -> None:
        self.ledger = ledger
        if row_cache_size < 0:
            raise ValueError("row_cache_size must be >= 0")
        #: How many rows of each view a run keeps in memory between its pages.
        self.row_cache_size = row_cache_size
        self._owns_ledger = owns_ledger
        projections: list[Projection] = [CurrentStatusProjection(), FailureReportProjection(), FunnelProjection()]
        self._projections = {p.name: p for p in projections}
        engine = self._engine
        with storage_errors("create the projection tables"):
            metadata.create_all(engine, checkfirst=True)
            self._ensure_tracking_rows()
            self._rebuild_outdated(engine)
            _create_indexes(engine)
        self.current_status = CurrentStatusView(engine.connect)
        self.failure_report = FailureReportView(engine.connect)
        self.funnel = FunnelView(engine.connect)
        self.activity_view = ActivityView(engine.connect)

    @classmethod
    def open(cls, url: Database = None, *, create: bool = True) -> Self:
        """Open the projections of the ledger at ``url`` (same rules as ``Ledger.open``).

        ``url`` is a URL (a string or ``sqlalchemy.URL``) or a host's ``Engine``, whose
        pool the views then share and which :meth:`close` leaves undisposed.

        ``create=False`` needs the ledger to exist (else
        :class:`~ledger.errors.LedgerNotFoundError`); the views' own tables are still
        created in it on first use, as catching up writes to them anyway.
        """
        ledger = Ledger.open(url, create=create)
        try:
            return cls(ledger, owns_ledger=True)
        except BaseException:
            ledger.close()
            raise

    @property
    def names(self) -> tuple[str, ...]:
        """The projections' names: ``current_status``, ``failure_report``, ``funnel``."""
        return tuple(self._projections)

    def positions(self) -> dict[str, int]:
        """Each projection's position in the notification log (0: nothing processed)."""
        with self._engine.connect() as connection:
            return {row.name: row.position for row in connection.execute(select(tracking_table))}

    def head(self) -> int:
        """The id of the newest notification in the log (0 when empty)."""
        with storage_errors("read the notification log"):
            return self.ledger.recorder.max_notification_id() or 0

    def catch_up(self, *, page_size: int = PAGE_SIZE, on_progress: ProgressCallback | None = None) -> int:
        """Process everything new, one transaction per page; return how many events were processed."""
        return self._run(self.names, page_size=page_size, on_progress=on_progress)

    def rebuild(
        self,
        name: str | None = None,
        *,
        page_size: int = REBUILD_PAGE_SIZE,
        on_progress: ProgressCallback | None = None,
    ) -> int:
        """Empty one view (or all) and its position, then replay the whole log into it.

        Pages are separate transactions, so readers see the view fill up; a crash leaves
        a consistent, partly rebuilt view that the next ``catch_up`` completes.
        """
        names = self.names if name is None else (name,)
        for each in names:
            if each not in self._projections:
                raise ValueError(f"no projection named {each!r}; choose from {', '.join(self.names)}")
        with storage_errors("clear the views"), self._transaction() as session:
            for each in names:
                self._projections[each].clear(session)
                session.execute(update(tracking_table).where(tracking_table.c.name == each).values(position=0))
        return self._run(names, page_size=page_size, on_progress=on_progress)

    def follow(
        self,
        *,
        stop: threading.Event | None = None,
        poll_interval: float = 0.2,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        """Keep the views current until ``stop`` is set.

        On PostgreSQL the ledger's LISTEN/NOTIFY subscription wakes the runner when
        events are recorded; on SQLite it polls every ``poll_interval`` seconds.
        """
        stop = stop or threading.Event()
        self.catch_up(on_progress=on_progress)
        if self._engine.dialect.name == "postgresql":
            self._follow_notifications(stop, on_progress)
        else:
            while not stop.wait(poll_interval):
                self.catch_up(on_progress=on_progress)

    def close(self) -> None:
        """Release the connections (and the ledger, if this object opened it)."""
        if self._owns_ledger:
            self.ledger.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _follow_notifications(self, stop: threading.Event, on_progress: ProgressCallback | None) -> None:
        position = min(self.positions().values())
        subscription = self.ledger.recorder.subscribe(gt=position)

        def stop_when_asked() -> None:
            stop.wait()
            subscription.stop()

        threading.Thread(target=stop_when_asked, daemon=True).start()
        with subscription:
            for notification in subscription:
                # The subscription is the wake-up call; catch_up reads whole pages itself.
                if notification.id > min(self.positions().values()):
                    self.catch_up(on_progress=on_progress)
                if stop.is_set():
                    break

    def _run(self, names: Sequence[str], *, page_size: int, on_progress: ProgressCallback | None) -> int:
        recorder = self.ledger.recorder
        assert isinstance(recorder, LedgerRecorder)  # Ledger.__init__ makes sure
        mapper = self.ledger.mapper
        positions = {name: position for name, position in self.positions().items() if name in names}
        head = self.head()
        processed = 0
        # Rows written or read by this run's committed pages; dropped with the run.
        caches = {name: RowCache(self.row_cache_size) for name in names}
        while True:
            start = min(positions.values())
            # A page's notifications, events and rows all die with it (see gc_paused).
            with gc_paused():
                with storage_errors("read the notification log"):
                    notifications = recorder.read_log(start, page_size)
                if not notifications:
                    break
                last = notifications[-1].id
                with storage_errors("decode the notification log"):
                    events = decode(mapper, notifications)
                with storage_errors("update the views"), self._transaction() as session:
                    for name, position in positions.items():
                        # Claim the page first: a concurrent runner blocks here, then is refused.
                        # A view already past this page (the others are catching up with it,
                        # after an interrupted rebuild say) stays where it is.
                        _advance(session, name, expected=position, to=max(position, last))
                        page = [event for notification_id, event in events if notification_id > position]
                        if page:
                            self._projections[name].process(session, page, caches[name])
            positions = {name: max(position, last) for name, position in positions.items()}
            processed += len(events)
            if on_progress is not None:
                on_progress(Progress(processed=processed, position=last, head=max(head, last)))
        return processed

    @property
    def _engine(self) -> Engine:
        return self.ledger.engine

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with self.ledger.session() as session:
            yield session

    def _rebuild_outdated(self, engine: Engine) -> None:
        """Views whose tables an older version created are emptied and rebuilt from the log on the next run.

        Their tables are created anew and their positions set back to 0 in one transaction
        (the views are derived: nothing is lost; the next catch-up replays the log).
        """
        outdated = _outdated_tables(engine)
        stale = [p for p in self._projections.values() if outdated & {t.name for t in p.tables}]
        if not stale:
            return
        with engine.begin() as connection:
            for projection in stale:
                for table in projection.tables:
                    table.drop(connection, checkfirst=True)
                    table.create(connection)
                _reset(connection, projection.name)

    def _ensure_tracking_rows(self) -> None:
        with self._engine.begin() as connection:
            known = set(connection.execute(select(tracking_table.c.name)).scalars())
            missing = [{"name": name, "position": 0} for name in self.names if name not in known]
            if missing:
                # Another runner may create them at the same moment; theirs are as good.
                with suppress(sqlalchemy.exc.IntegrityError):
                    connection.execute(insert(tracking_table), missing)


def _advance(session: Session | Connection, name: str, *, expected: int, to: int) -> None:
    """Move ``name`` from ``expected`` to ``to``, or refuse if another runner moved it."""
    result: Any = session.execute(
        update(tracking_table)
        .where(tracking_table.c.name == name, tracking_table.c.position == expected)
        .values(position=to)
    )
    if result.rowcount != 1:
        raise ProjectionConflictError(name=name, expected=expected)


def _reset(connection: Connection, name: str) -> None:
    """Set ``name``'s position back to 0, whatever it was (its view was emptied)."""
    connection.execute(update(tracking_table).where(tracking_table.c.name == name).values(position=0))


def _outdated_tables(engine: Engine) -> set[str]:
    """The views' tables created by an older version: a column of ours is missing."""
    inspector = sqlalchemy.inspect(engine)
    return {
        table.name
        for table in metadata.sorted_tables
        if {column.name for column in table.columns} - {column["name"] for column in inspector.get_columns(table.name)}
    }


def _create_indexes(engine: Engine) -> None:
    """The views' indexes that tables created by an older version lack (create_all adds only tables)."""
    for table in metadata.sorted_tables:
        for index in table.indexes:
            index.create(engine, checkfirst=True)

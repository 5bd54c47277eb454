"""The ledger's infrastructure factory: the recorder of its database, and a tuned engine.

Named by the ledger's environment (``PERSISTENCE_MODULE``), as eventsourcing expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from eventsourcing.persistence import AggregateRecorder, EventStore, Mapper
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ledger.persistence.postgres import PostgreSQLLedgerRecorder
from ledger.persistence.recorders import LedgerRecorder
from ledger.persistence.records import LedgerEventStore
from ledger.persistence.sqlite import SQLiteLedgerRecorder, tune_sqlite_connection


class LedgerFactory(SQLAlchemyFactory):
    """The ``eventsourcing_sqlalchemy`` factory, building the ledger's recorder for its database.

    The application recorder is the one :attr:`recorders` names for the engine's dialect,
    as eventsourcing has one module (and recorder) per database.
    """

    #: The ledger's recorder for each database it runs on, by SQLAlchemy dialect name.
    recorders: ClassVar[Mapping[str, type[LedgerRecorder]]] = {
        "postgresql": PostgreSQLLedgerRecorder,
        "sqlite": SQLiteLedgerRecorder,
    }

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        engine = self.datastore.engine
        if engine is None:
            # A missing setting is an EnvironmentError in eventsourcing (its SQLite factory
            # without a database name); the Ledger reports it as a StorageError.
            raise OSError(f"no database URL: set {self.SQLALCHEMY_URL}")
        dialect = engine.dialect.name
        if dialect not in self.recorders:
            raise ValueError(f"unsupported database {dialect!r}: the ledger runs on SQLite and PostgreSQL")
        self.application_recorder_class = self.recorders[dialect]
        if isinstance(engine, Engine) and dialect == "sqlite":
            event.listen(engine, "connect", tune_sqlite_connection)
        elif isinstance(engine, Engine):
            # After a database restart the pool holds dead connections: test each one as it
            # is checked out, so the first call after the restart works instead of failing.
            # (The datastore builds the engine without a way to pass ``pool_pre_ping``.)
            engine.pool._pre_ping = True

    def event_store(
        self, mapper: Mapper[Any] | None = None, recorder: AggregateRecorder | None = None
    ) -> EventStore[Any]:
        """A :class:`LedgerEventStore` (``InfrastructureFactory.event_store`` builds an ``EventStore``)."""
        return LedgerEventStore(mapper=mapper or self.mapper(), recorder=recorder or self.application_recorder())

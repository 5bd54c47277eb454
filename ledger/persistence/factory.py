"""The ledger's infrastructure factory: a tuned engine, and the recorder of its database.

Named by the ledger's environment (``PERSISTENCE_MODULE``), as eventsourcing expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from eventsourcing.persistence import AggregateRecorder, EventStore, Mapper
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from ledger.persistence.postgres import PostgreSQLLedgerRecorder
from ledger.persistence.recorders import LedgerRecorder
from ledger.persistence.records import LedgerEventStore
from ledger.persistence.sqlite import SQLiteLedgerRecorder, tune_sqlite_connection


class LedgerDatastore(SQLAlchemyDatastore):
    """``SQLAlchemyDatastore``, its engine tuned for the ledger's database.

    On a server, each pooled connection is tested as it is checked out (SQLAlchemy's
    ``pool_pre_ping`` engine argument): after a database restart the pool holds dead
    connections, and the first call after it would fail instead of working.  A SQLite
    connection has no server to lose, and a test per checkout would cost on every call.
    On SQLite, each connection's caches are sized for an event store (see
    :data:`~ledger.persistence.sqlite.SQLITE_PRAGMAS`).
    """

    def __init__(self, *, url: str | None = None, **kwargs: Any) -> None:
        if url and make_url(url).get_backend_name() != "sqlite":
            kwargs.setdefault("pool_pre_ping", True)  # passed on to create_engine()
        super().__init__(url=url, **kwargs)
        if isinstance(self.engine, Engine) and self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", tune_sqlite_connection)


class LedgerFactory(SQLAlchemyFactory):
    """The ``eventsourcing_sqlalchemy`` factory, building the ledger's recorder for its database.

    The application recorder is the one :attr:`recorders` names for the engine's dialect,
    as eventsourcing has one module (and recorder) per database.
    """

    datastore_class = LedgerDatastore
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

    def event_store(
        self, mapper: Mapper[Any] | None = None, recorder: AggregateRecorder | None = None
    ) -> EventStore[Any]:
        """A :class:`LedgerEventStore` (``InfrastructureFactory.event_store`` builds an ``EventStore``)."""
        return LedgerEventStore(mapper=mapper or self.mapper(), recorder=recorder or self.application_recorder())

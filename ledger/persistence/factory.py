"""The ledger's infrastructure factory: a tuned engine, and the recorder of its database.

Named by the ledger's environment (``PERSISTENCE_MODULE``), as eventsourcing expects.
"""

from __future__ import annotations

from collections.abc import Mapping
from threading import Semaphore
from typing import Any, ClassVar

from eventsourcing.persistence import AggregateRecorder, EventStore, Mapper
from eventsourcing.utils import Environment, strtobool
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import sessionmaker

from ledger.persistence.postgres import PostgreSQLLedgerRecorder
from ledger.persistence.recorders import LedgerRecorder
from ledger.persistence.records import LedgerEventStore
from ledger.persistence.sqlite import SQLiteLedgerRecorder, tune_sqlite_connection


class LedgerDatastore(SQLAlchemyDatastore):
    """``SQLAlchemyDatastore``, its engine tuned for the ledger's database, or a host's engine as it is.

    From a ``url``, the datastore makes its own engine.  On a server, each pooled
    connection is tested as it is checked out (SQLAlchemy's ``pool_pre_ping`` engine
    argument): after a database restart the pool holds dead connections, and the first
    call after it would fail instead of working.  A SQLite connection has no server to
    lose, and a test per checkout would cost on every call.  On SQLite, each connection's
    caches are sized for an event store (see :data:`~ledger.persistence.sqlite.SQLITE_PRAGMAS`).

    Given a host application's ``engine`` instead, it runs on that engine's pool and
    changes nothing about it: no listener, no pragma, no journal mode (and the store
    never disposes it).
    """

    def __init__(self, *, url: str | None = None, engine: Engine | None = None, **kwargs: Any) -> None:
        if engine is not None:
            # SQLAlchemyDatastore's own way to run on an engine made elsewhere: a session
            # maker bound to it (its engine is then the maker's bind).
            super().__init__(session_maker=sessionmaker(bind=engine, autoflush=kwargs.get("autoflush", True)))
            self._serialise_sqlite_access(engine)
            return
        if url and make_url(url).get_backend_name() != "sqlite":
            kwargs.setdefault("pool_pre_ping", True)  # passed on to create_engine()
        super().__init__(url=url, **kwargs)
        if isinstance(self.engine, Engine) and self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", tune_sqlite_connection)

    def _serialise_sqlite_access(self, engine: Engine) -> None:
        """The locks ``SQLAlchemyDatastore`` takes for a SQLite URL, for a host's SQLite engine.

        An in-memory database is one connection: every transaction takes it in turn.  A
        file has one writer at a time: this process's writers queue here rather than
        meet SQLite's lock.  (The journal mode is the host's: WAL is not switched on.)
        """
        if engine.dialect.name != "sqlite":
            return
        database = engine.url.database
        if not database or database == ":memory:" or engine.url.query.get("mode") == "memory":
            self.access_lock = Semaphore()
        else:
            self.write_lock = Semaphore()


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

    def __init__(self, env: Environment, *, engine: Engine | None = None) -> None:
        if engine is None:
            super().__init__(env)
        else:
            # SQLAlchemyFactory makes its datastore from the URL setting, and offers no way
            # to hand it an engine.  So the URL is left out of its settings (no engine of
            # our own is made, whatever the process environment says), and the datastore
            # is replaced by one on the host's engine.
            url_keys = env.create_keys(self.SQLALCHEMY_URL)
            super().__init__(Environment(env.name, {k: v for k, v in env.items() if k not in url_keys}))
            autoflush = strtobool(self.env.get(self.SQLALCHEMY_AUTOFLUSH) or "True")
            self.datastore = self.datastore_class(engine=engine, autoflush=autoflush)
        bound = self.datastore.engine
        if bound is None:
            # A missing setting is an EnvironmentError in eventsourcing (its SQLite factory
            # without a database name); the Ledger reports it as a StorageError.
            raise OSError(f"no database URL: set {self.SQLALCHEMY_URL}")
        dialect = bound.dialect.name
        if dialect not in self.recorders:
            raise ValueError(f"unsupported database {dialect!r}: the ledger runs on SQLite and PostgreSQL")
        self.application_recorder_class = self.recorders[dialect]

    def event_store(
        self, mapper: Mapper[Any] | None = None, recorder: AggregateRecorder | None = None
    ) -> EventStore[Any]:
        """A :class:`LedgerEventStore` (``InfrastructureFactory.event_store`` builds an ``EventStore``)."""
        return LedgerEventStore(mapper=mapper or self.mapper(), recorder=recorder or self.application_recorder())

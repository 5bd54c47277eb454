"""eventsourcing's own contract test cases, run against the ledger's recorders, factory and transcoder.

eventsourcing ships them (``eventsourcing.tests.persistence``) for anyone who writes a
recorder, an infrastructure factory or a transcoder: its SQLite and PostgreSQL modules,
and eventsourcing_sqlalchemy, pass them.  Here they run on a SQLite file and on
PostgreSQL, each test on a fresh database from our fixtures, with the skips upstream
uses for its own ``JSONTranscoder`` (and no others).
"""

from __future__ import annotations

import importlib
import json
import threading
from typing import TYPE_CHECKING
from unittest import TestCase

import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    JSONTranscoder,
    ProcessRecorder,
    TrackingRecorder,
    Transcoder,
    UUIDAsHex,
)
from eventsourcing.utils import Environment
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyProcessRecorder,
    SQLAlchemyTrackingRecorder,
)
from sqlalchemy.engine import Engine

from ledger.persistence import (
    LedgerFactory,
    LedgerRecorder,
    LedgerTranscoder,
    PostgreSQLLedgerRecorder,
    SQLiteLedgerRecorder,
)

# Kept as a module, not imported by name: pytest collects every TestCase class in a test
# module's namespace, and the abstract contracts cannot run on their own.
if TYPE_CHECKING:
    from eventsourcing.tests import persistence as contracts
else:
    contracts = importlib.import_module("eventsourcing.tests.persistence")

#: Seconds a contract's thread may take to end after it was told to stop (a reader's
#: last query); far beyond what it takes, so that only a hung thread fails the test.
THREAD_JOIN_TIMEOUT = 60

#: The ledger's factory as its environment names it (``Ledger.env``).
LEDGER_FACTORY_TOPIC = "ledger.persistence:LedgerFactory"


class SQLiteFile:
    """Each test on a new SQLite file; the ledger's recorder there."""

    url: str
    recorder_class: type[LedgerRecorder] = SQLiteLedgerRecorder

    @pytest.fixture(autouse=True)
    def _database(self, sqlite_database: str) -> None:
        self.url = sqlite_database  # before the contract's setUp


class PostgreSQL:
    """Each test on an empty PostgreSQL database; the ledger's recorder there."""

    url: str
    recorder_class: type[LedgerRecorder] = PostgreSQLLedgerRecorder

    @pytest.fixture(autouse=True)
    def _database(self, postgres_database: str) -> None:
        self.url = postgres_database  # before the contract's setUp


class LedgerRecorders(TestCase):
    """``create_recorder`` for the recorder contracts: the factory's, on the class's database."""

    url: str
    recorder_class: type[LedgerRecorder]
    _engines: list[Engine]
    _threads_before: set[threading.Thread]

    def create_recorder(self) -> LedgerRecorder:
        factory = LedgerFactory(Environment("Ledger", {"SQLALCHEMY_URL": self.url}))
        engine = factory.datastore.engine
        assert isinstance(engine, Engine)
        self._engines.append(engine)
        recorder = factory.application_recorder()
        assert type(recorder) is self.recorder_class  # the factory picked it by the dialect
        return recorder

    def setUp(self) -> None:
        self._engines = []
        self._threads_before = set(threading.enumerate())
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        # test_concurrent_no_conflicts tells its reader threads to stop but does not wait
        # for them: one may still hold a connection, which would go back to a disposed
        # pool and be closed only by the garbage collector, in a later test (psycopg warns).
        for thread in set(threading.enumerate()) - self._threads_before:
            if not thread.daemon:
                thread.join(timeout=THREAD_JOIN_TIMEOUT)
                assert not thread.is_alive(), f"{thread.name} of the contract is still running"
        for engine in self._engines:
            engine.dispose()  # eventsourcing_sqlalchemy leaves its pool open


class TestSQLiteFileApplicationRecorder(
    SQLiteFile, LedgerRecorders, contracts.ApplicationRecorderTestCase[LedgerRecorder]
):
    """``ApplicationRecorderTestCase``, its concurrency tests included, on a SQLite file."""


@pytest.mark.postgres
class TestPostgreSQLApplicationRecorder(
    PostgreSQL, LedgerRecorders, contracts.ApplicationRecorderTestCase[LedgerRecorder]
):
    """``ApplicationRecorderTestCase`` on PostgreSQL, with the subscription test upstream runs there."""

    def test_insert_subscribe(self) -> None:
        """Subscribers get the events inserted before and after they subscribed (LISTEN/NOTIFY)."""
        self.optional_test_insert_subscribe()


class TestSQLiteFileNonInterleavingNotificationIds(
    SQLiteFile,
    LedgerRecorders,
    contracts.NonInterleavingNotificationIDsBaseCase,
):
    """Two batches inserted at once get notification ids that do not interleave (SQLite file)."""


@pytest.mark.postgres
class TestPostgreSQLNonInterleavingNotificationIds(
    PostgreSQL,
    LedgerRecorders,
    contracts.NonInterleavingNotificationIDsBaseCase,
):
    """Two batches inserted at once get notification ids that do not interleave (PostgreSQL)."""


class SQLAlchemyTrackingRecorderSubclass(SQLAlchemyTrackingRecorder):
    """A tracking recorder class named by argument or topic in the factory contract."""


class LedgerFactoryContract(TestCase):
    """The expectations of ``InfrastructureFactoryTestCase`` for the ledger's factory."""

    url: str
    recorder_class: type[LedgerRecorder]
    env: Environment
    factory: LedgerFactory  # set by the contract's setUp

    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = LEDGER_FACTORY_TOPIC
        self.env[LedgerFactory.SQLALCHEMY_URL] = self.url
        super().setUp()

    def tearDown(self) -> None:
        super().tearDown()
        engine = self.factory.datastore.engine
        assert isinstance(engine, Engine)
        engine.dispose()  # eventsourcing_sqlalchemy leaves its pool open

    def expected_factory_class(self) -> type[LedgerFactory]:
        return LedgerFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLAlchemyAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return self.recorder_class

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLAlchemyTrackingRecorder

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return SQLAlchemyTrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return SQLAlchemyProcessRecorder


class TestSQLiteFileInfrastructureFactory(
    SQLiteFile, LedgerFactoryContract, contracts.InfrastructureFactoryTestCase[LedgerFactory]
):
    """``InfrastructureFactoryTestCase`` for the ledger's factory on a SQLite file."""


@pytest.mark.postgres
class TestPostgreSQLInfrastructureFactory(
    PostgreSQL, LedgerFactoryContract, contracts.InfrastructureFactoryTestCase[LedgerFactory]
):
    """``InfrastructureFactoryTestCase`` for the ledger's factory on PostgreSQL."""


class TestLedgerTranscoder(contracts.TranscoderTestCase):
    """``TranscoderTestCase`` for the ledger's transcoder.

    Upstream skips six of its cases for its own ``JSONTranscoder``, which turns tuples into
    lists and subclasses of dict, list, str and int into their base types.  The ledger's
    transcoder must write what ``JSONTranscoder`` writes, byte for byte, so instead of
    skipping them, those cases check it does exactly what ``JSONTranscoder`` does.
    """

    def construct_transcoder(self) -> Transcoder:
        return _with_contract_transcodings(LedgerTranscoder())

    def assert_as_json_transcoder(self, obj: object) -> None:
        reference = _with_contract_transcodings(JSONTranscoder())
        expected = reference.encode(obj)
        data = self.transcoder.encode(obj)
        assert expected == data
        assert reference.decode(expected) == self.transcoder.decode(data)

    def test_tuple(self) -> None:
        for obj in [(), ((),), ((1,),), (1, "a"), ((1, 2), [3, (4,)])]:
            self.assert_as_json_transcoder(obj)
            assert self.transcoder.decode(self.transcoder.encode(obj)) == json.loads(json.dumps(obj))

    def test_mixed(self) -> None:
        for obj in [[(1, "a"), {"b": 2}], ([1, "a"], {"b": 2}), {"a": (1, 2), "b": [3, 4]}]:
            self.assert_as_json_transcoder(obj)

    def test_dict_subclass(self) -> None:
        self.assert_as_json_transcoder(contracts.Mydict({"a": 1}))

    def test_list_subclass(self) -> None:
        self.assert_as_json_transcoder(contracts.MyList((("a", 1),)))

    def test_str_subclass(self) -> None:
        self.assert_as_json_transcoder(contracts.MyStr("a"))

    def test_int_subclass(self) -> None:
        self.assert_as_json_transcoder(contracts.MyInt(3))


def _with_contract_transcodings(transcoder: JSONTranscoder) -> JSONTranscoder:
    """``transcoder`` with the custom types the contract's cases use, and UUIDs."""
    transcoder.register(contracts.CustomType1AsDict())
    transcoder.register(contracts.CustomType2AsDict())
    transcoder.register(UUIDAsHex())
    return transcoder

"""The ledger's persistence (ledger.persistence): what it stores, what it caches, on each backend."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, cast
from uuid import UUID, uuid4

import eventsourcing.persistence
import psycopg
import pytest
import sqlalchemy
from eventsourcing.application import Application
from eventsourcing.persistence import (
    JSONTranscoder,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
)
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy.engine import Engine, make_url

import ledger.persistence.records
from ledger import Ledger, Message, MessageNotFoundError, MessageView, Status, StorageError, message_uuid
from ledger import rejections as rejection_store
from ledger.audit import verify
from ledger.connectly import delivery_status_payload, parse_delivery_status
from ledger.persistence import MAX_IDS_PER_SELECT, LedgerEventStore, LedgerMapper, LedgerRecorder, MessageCache
from ledger.persistence.postgres import PostgreSQLLedgerRecorder
from ledger.simulate import Traffic
from ledger.sqlstore import SQLMessageStore
from tests.property.test_transcoding import registered

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def webhook(message_id: str, stage: Status, seconds: int = 0) -> dict[str, Any]:
    return delivery_status_payload(message_id, stage, timestamp=T0 + timedelta(seconds=seconds))


class StockLedger(Application[UUID]):
    """The same tables, read with eventsourcing_sqlalchemy's own recorder and mapper."""

    name = "Ledger"
    env: ClassVar[dict[str, str]] = {"PERSISTENCE_MODULE": "eventsourcing_sqlalchemy"}

    def close(self) -> None:
        super().close()
        engine = cast(SQLAlchemyFactory, self.factory).datastore.engine
        assert isinstance(engine, Engine)
        engine.dispose()  # eventsourcing_sqlalchemy leaves its pool open


def simulated(ledger: Ledger, messages: int = 120) -> list[str]:
    """Record the sends of a simulated stream, ingest its webhooks in batches; the message ids."""
    traffic = Traffic(messages, seed=11)
    sends = list(traffic.sends())
    for send in sends[: messages // 2]:  # the other half is opened by webhooks
        ledger.record_sent(send.message_id, sender=send.sender, recipient=send.recipient, sent_at=send.sent_at)
    payloads = list(traffic.webhooks())
    for start in range(0, len(payloads), 100):
        ledger.ingest_many(payloads[start : start + 100])
    return [send.message_id for send in sends]


class PersistenceContract:
    """Subclasses provide ``url``: a SQLAlchemy URL of an empty database."""

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def ledger(self, url: str) -> Iterator[Ledger]:
        with Ledger.open(url) as ledger:
            yield ledger

    def test_the_stored_events_are_what_eventsourcing_writes_and_reads(self, url: str, ledger: Ledger) -> None:
        message_ids = simulated(ledger)
        notifications = ledger.recorder.select_notifications(start=1, limit=100_000)
        first = notifications[0].id
        assert [n.id for n in notifications] == list(range(first, first + len(notifications)))
        transcoder = registered(JSONTranscoder())
        for notification in notifications:
            assert notification.topic.startswith("ledger.message:Message.")
            # Byte for byte what eventsourcing's own transcoder makes of the same state.
            assert transcoder.encode(transcoder.decode(notification.state)) == notification.state
        stock = StockLedger({"SQLALCHEMY_URL": url})
        try:
            for message_id in message_ids:
                message: Message = stock.repository.get(message_uuid(message_id))
                assert MessageView.of(message) == ledger.message(message_id)
        finally:
            stock.close()

    def test_a_replayed_message_is_the_one_eventsourcing_gets(self, url: str, ledger: Ledger) -> None:
        # The store replays stored events through ledger.persistence.replay_message, which
        # takes shortcuts past Created.mutate and Event.mutate: every message it loads must
        # be what eventsourcing's own Repository.get makes of the same events, in order.
        message_ids = simulated(ledger)
        with Ledger({"SQLALCHEMY_URL": url, "MESSAGE_CACHE_MAXSIZE": "0"}) as fresh:
            assert isinstance(fresh.store, SQLMessageStore)
            loaded = fresh.store.load(message_ids)
            assert sorted(loaded) == sorted(message_ids)
            kinds = {type(e).__name__ for m in message_ids for e in fresh.store.events_of(m)}
            assert kinds == {"Opened", "SendRecorded", "StageReported", "StageReportedLate", "ReportRejected"}
            for message_id in message_ids:
                theirs: Message = fresh.store.repository.get(message_uuid(message_id))
                assert list(vars(loaded[message_id]).items()) == list(vars(theirs).items())

    def test_a_batch_gets_notification_ids_in_the_order_of_its_events(self, ledger: Ledger) -> None:
        assert isinstance(ledger.recorder, LedgerRecorder)
        ids = [uuid4() for _ in range(3)]
        events = [StoredEvent(i, v, "topic", json.dumps([str(i), v]).encode()) for v in (1, 2) for i in ids]
        notification_ids = ledger.recorder.insert_events(events)
        assert notification_ids is not None
        stored = ledger.recorder.select_notifications(start=1, limit=10)
        assert [n.id for n in stored] == list(notification_ids)
        assert [(n.originator_id, n.originator_version, n.state) for n in stored] == [
            (e.originator_id, e.originator_version, e.state) for e in events
        ]

    def test_read_log_pages_give_what_select_notifications_gives(self, ledger: Ledger) -> None:
        assert isinstance(ledger.recorder, LedgerRecorder)
        simulated(ledger)
        everything = ledger.recorder.select_notifications(start=1, limit=100_000)
        assert len(everything) > 20
        pages, after = [], 0
        while page := ledger.recorder.read_log(after, 7):
            assert len(page) <= 7
            pages.extend(page)
            after = page[-1].id
        assert pages == everything
        assert all(type(n.originator_id) is UUID and type(n.state) is bytes for n in pages)
        assert ledger.recorder.read_log(everything[3].id, 2) == everything[4:6]

    def test_many_messages_are_loaded_in_several_queries(self, url: str, ledger: Ledger) -> None:
        count = MAX_IDS_PER_SELECT + 10
        ledger.ingest_many([webhook(f"m-{n}", Status.SENT) for n in range(count)])
        with Ledger.open(url) as fresh:
            outcomes = fresh.ingest_many([webhook(f"m-{n}", Status.DELIVERED, 5) for n in range(count)])
            assert {o.kind.value for o in outcomes} == {"applied"}
            assert fresh.message(f"m-{count - 1}").version == 3

    def test_a_cached_message_shows_what_another_writer_added(self, url: str, ledger: Ledger) -> None:
        ledger.ingest(webhook("m-1", Status.SENT, 1))
        assert ledger.message("m-1").status is Status.SENT  # now cached
        with Ledger.open(url) as other:
            other.ingest(webhook("m-1", Status.DELIVERED, 2))
        view = ledger.message("m-1")
        assert (view.status, view.version) == (Status.DELIVERED, 3)
        assert ledger.ingest(webhook("m-1", Status.READ, 3)).kind.value == "applied"
        assert ledger.message("m-1").version == 4

    def test_a_failed_batch_leaves_nothing_behind_in_the_cache(
        self, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        ledger.ingest(webhook("m-1", Status.SENT, 1))

        def failing_insert(*args: Any) -> None:
            raise sqlalchemy.exc.OperationalError("insert", {}, Exception("disk I/O error"))

        monkeypatch.setattr(rejection_store, "insert_rejections", failing_insert)
        with pytest.raises(StorageError):
            ledger.ingest_many([webhook("m-1", Status.DELIVERED, 2), webhook("m-2", Status.SENT, 2)])
        monkeypatch.undo()
        assert (ledger.message("m-1").status, ledger.message("m-1").version) == (Status.SENT, 2)
        with pytest.raises(MessageNotFoundError):
            ledger.message("m-2")
        assert ledger.ingest(webhook("m-1", Status.DELIVERED, 2)).kind.value == "applied"
        assert ledger.message("m-1").version == 3

    def test_work_in_a_callers_transaction_that_rolls_back_is_not_cached(self, ledger: Ledger) -> None:
        ledger.ingest(webhook("m-1", Status.SENT, 1))

        def change_then_roll_back() -> None:
            with ledger.session():
                ledger.ingest(webhook("m-1", Status.DELIVERED, 2))
                ledger.ingest(webhook("m-1", Status.DELIVERED, 2))  # a duplicate: nothing to save
                ledger.ingest(webhook("m-2", Status.SENT, 2))
                raise RuntimeError("the caller changes its mind")

        with pytest.raises(RuntimeError):
            change_then_roll_back()
        assert (ledger.message("m-1").status, ledger.message("m-1").version) == (Status.SENT, 2)
        with pytest.raises(MessageNotFoundError):
            ledger.message("m-2")
        assert ledger.ingest(webhook("m-1", Status.DELIVERED, 2)).kind.value == "applied"
        assert [entry.version for entry in ledger.history("m-1")] == [1, 2, 3]

    def test_the_cache_holds_at_most_its_size_and_can_be_turned_off(self, url: str) -> None:
        for size in (0, 2):
            with Ledger({"SQLALCHEMY_URL": url, "MESSAGE_CACHE_MAXSIZE": str(size)}) as ledger:
                ledger.ingest_many([webhook(f"m-{size}-{n}", Status.SENT) for n in range(5)])
                ledger.ingest_many([webhook(f"m-{size}-{n}", Status.READ, 9) for n in range(5)])
                assert isinstance(ledger.store, SQLMessageStore)
                assert len(ledger.store.cache) <= size
                assert [ledger.message(f"m-{size}-{n}").version for n in range(5)] == [3] * 5

    def test_a_batch_resumes_the_garbage_collector_it_paused(self, ledger: Ledger) -> None:
        assert gc.isenabled()
        ledger.ingest_many([webhook("m-1", Status.SENT), b"junk"])
        assert gc.isenabled()
        gc.disable()
        try:
            ledger.ingest_many([webhook("m-1", Status.DELIVERED, 1)])
            assert not gc.isenabled()  # the caller's choice is left alone
        finally:
            gc.enable()


class TestSQLiteFile(PersistenceContract):
    @pytest.fixture
    def url(self, sqlite_database: str) -> str:
        return sqlite_database

    def test_connections_get_the_ledgers_pragmas(self, ledger: Ledger) -> None:
        with ledger.engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL, as by default

    def test_driver_errors_on_the_fast_read_paths_are_translated(self, ledger: Ledger) -> None:
        # Those reads bypass SQLAlchemy's result objects, not its error translation: the
        # recorder's and the ledger's error handling know SQLAlchemy's errors, not sqlite3's.
        assert isinstance(ledger.recorder, LedgerRecorder)
        with ledger.engine.begin() as connection:
            connection.exec_driver_sql("DROP TABLE ledger_events")
        with pytest.raises(eventsourcing.persistence.OperationalError, match="no such table") as raised:
            ledger.recorder.read_log(0, 10)
        assert isinstance(raised.value.__cause__, sqlalchemy.exc.OperationalError)
        with pytest.raises(StorageError, match="no such table"):
            ledger.ingest_many([webhook("m-1", Status.SENT)])


@pytest.mark.postgres
class TestPostgreSQL(PersistenceContract):
    @pytest.fixture
    def url(self, postgres_database: str) -> str:
        return postgres_database

    def test_inserts_still_lock_the_table_and_notify_listeners(self, url: str, ledger: Ledger) -> None:
        statements: list[str] = []
        sqlalchemy.event.listen(
            ledger.engine, "before_cursor_execute", lambda *args: statements.append(args[2]), named=False
        )
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as listener:
            listener.execute("LISTEN ledger_events")
            ledger.ingest_many([webhook("m-1", Status.SENT), webhook("m-2", Status.SENT)])
            notifies = listener.notifies(timeout=5, stop_after=1)
            assert [n.channel for n in notifies] == ["ledger_events"]
        assert any(s.startswith("LOCK TABLE ledger_events IN EXCLUSIVE MODE") for s in statements)

    def test_a_version_written_twice_by_copy_is_eventsourcings_integrity_error(self, ledger: Ledger) -> None:
        # The COPY goes to the driver directly: its refusal must reach eventsourcing (and the
        # ledger's classifier) as a statement's would, and leave nothing of the batch behind.
        message = uuid4()
        ledger.recorder.insert_events([StoredEvent(message, 1, "topic", b"{}")])
        with pytest.raises(eventsourcing.persistence.IntegrityError) as raised:
            ledger.recorder.insert_events(
                [StoredEvent(uuid4(), 1, "topic", b"{}"), StoredEvent(message, 1, "t", b"{}")]
            )
        assert isinstance(raised.value.__cause__, sqlalchemy.exc.IntegrityError)
        assert isinstance(raised.value.__cause__.orig, psycopg.errors.UniqueViolation)
        assert [n.originator_id for n in ledger.recorder.select_notifications(start=1, limit=10)] == [message]

    def test_other_drivers_statements_write_what_copy_writes(self, ledger: Ledger) -> None:
        # Another driver (psycopg2, pg8000: a host's engine) has no COPY from Python objects:
        # the recorder sends multi-row INSERT ... RETURNING instead, with the same result.
        ids = [uuid4() for _ in range(3)]
        events = [StoredEvent(i, v, "topic", json.dumps([str(i), v]).encode()) for v in (1, 2) for i in ids]
        recorder = ledger.recorder
        assert isinstance(recorder, PostgreSQLLedgerRecorder)
        assert recorder.copies  # psycopg 3, the ledger's own driver
        copied = recorder.insert_events(events[:3])
        recorder.copies = False
        inserted = ledger.recorder.insert_events(events[3:])
        assert copied is not None
        assert inserted is not None
        stored = ledger.recorder.select_notifications(start=1, limit=10)
        assert [n.id for n in stored] == [*copied, *inserted]
        assert [(n.originator_id, n.originator_version, n.state) for n in stored] == [
            (e.originator_id, e.originator_version, e.state) for e in events
        ]
        assert verify(ledger.recorder).ok  # both wrote the chain


def test_a_ledgers_mapper_decodes_with_eventsourcings_mapper() -> None:
    with Ledger.open("sqlite://") as ledger:
        simulated(ledger, messages=40)
        stock = Mapper[UUID](transcoder=registered(JSONTranscoder()))
        for notification in ledger.recorder.select_notifications(start=1, limit=10_000):
            assert vars(stock.to_domain_event(notification)) == vars(ledger.mapper.to_domain_event(notification))


@pytest.mark.parametrize("directly", [True, False], ids=["records built directly", "eventsourcing's constructors"])
def test_a_ledgers_records_are_eventsourcings(directly: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # LedgerMapper and LedgerEventStore fill in StoredEvent, Notification and Recording
    # without their constructors: the objects must be the constructors', fields in order.
    assert ledger.persistence.records._BUILD_RECORDS_DIRECTLY  # eventsourcing still declares the fields we fill in
    monkeypatch.setattr(ledger.persistence.records, "_BUILD_RECORDS_DIRECTLY", directly)
    with Ledger.open("sqlite://") as app:
        assert isinstance(app.mapper, LedgerMapper)
        assert isinstance(app.events, LedgerEventStore)
        message = Message.open("m-1", sender=None, recipient=None, channel=None, at=T0)
        for payload in (webhook("m-1", Status.READ, 9), webhook("m-1", Status.SENT, 1)):
            message.report(parse_delivery_status(payload), at=T0)
        events = message.collect_events()
        stock = Mapper[UUID](transcoder=registered(JSONTranscoder()))
        expected = [stock.to_stored_event(event) for event in events]
        assert [list(vars(app.mapper.to_stored_event(e)).items()) for e in events] == [
            list(vars(stored).items()) for stored in expected
        ]
        recordings = app.events.put(events)
        notifications = [
            Notification(s.originator_id, s.originator_version, s.topic, s.state, id=recording.notification.id)
            for s, recording in zip(expected, recordings, strict=True)
        ]
        assert recordings == [Recording(e, n) for e, n in zip(events, notifications, strict=True)]
        in_order = [list(vars(n).items()) for n in notifications]
        assert [list(vars(r.notification).items()) for r in recordings] == in_order
        assert [r.notification for r in recordings] == app.recorder.select_notifications(start=1, limit=10)


def test_the_message_cache_drops_the_least_recently_used() -> None:
    messages = {n: Message.open(f"m-{n}", sender=None, recipient=None, channel=None, at=T0) for n in range(3)}
    cache = MessageCache(maxsize=2)
    cache.put(messages[0])
    cache.put(messages[1])
    assert cache.get("m-0") is messages[0]  # m-1 is now the least recently used
    cache.put(messages[2])
    assert ("m-0" in cache, "m-1" in cache, "m-2" in cache) == (True, False, True)
    cache.discard_older(messages[2].id, version=1)  # not older: kept
    assert "m-2" in cache
    cache.discard_older(messages[2].id, version=2)
    assert "m-2" not in cache
    cache.discard(["m-0", "unknown"])
    assert len(cache) == 0

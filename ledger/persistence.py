"""The ledger's event store on SQLAlchemy: batch inserts, batch loads and a message cache.

The stored events are exactly those of ``eventsourcing_sqlalchemy`` (same table, same
topics, same JSON state, same notification ids); only the way they are written and read
in bulk differs:

- :class:`LedgerRecorder` inserts a batch of events with one statement executed for
  many rows (``INSERT ... RETURNING id`` on PostgreSQL, the driver's executemany on
  SQLite) instead of one ORM object per event and a flush.  On PostgreSQL it still
  takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` first (so notification ids commit in
  order) and still sends ``NOTIFY``.
- It loads the events of many aggregates with one ``SELECT ... WHERE originator_id IN
  (...)`` instead of one query per aggregate, and reads the tail of the notification
  log, which tells a cache what other writers changed.
- :class:`MessageCache` keeps recently used messages in their committed state, bounded
  in size, least recently used out first.

:class:`LedgerFactory` is the infrastructure factory that builds the recorder and
tunes SQLite connections (:data:`SQLITE_PRAGMAS`).
"""

from __future__ import annotations

import json
import json.encoder
import json.scanner
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import fields
from datetime import datetime
from functools import cached_property
from typing import Any, cast
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    AggregateRecorder,
    DatetimeAsISO,
    EventStore,
    JSONTranscoder,
    Mapper,
    Notification,
    Recording,
    StoredEvent,
    Transcoding,
)
from eventsourcing.utils import Environment, get_topic
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Table, event, func, insert, select
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.orm import Session

from ledger.message import Message

#: Most aggregate ids in one ``IN (...)`` list: under every SQLite's limit of bound
#: parameters (999 before version 3.32) and PostgreSQL's (65,535).
MAX_IDS_PER_SELECT = 500


class LedgerRecorder(SQLAlchemyApplicationRecorder):
    """``SQLAlchemyApplicationRecorder`` with batch inserts and batch loads."""

    @property
    def events_table(self) -> Table:
        """The stored events table (notification id, originator id and version, topic, state)."""
        table: Table = self.events_record_cls.__table__
        return table

    @cached_property
    def _sqlite(self) -> _SQLiteStatements | None:
        engine = self.datastore.engine
        assert engine is not None
        return _SQLiteStatements(self.events_table, engine.dialect) if engine.dialect.name == "sqlite" else None

    def _insert_stored_events(self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        # As the parent class does: on PostgreSQL, serialise writers so that notification
        # ids are committed in the order they are assigned (followers never skip one).
        self._lock_table(session)
        ids = self._insert_rows(session, stored_events) if stored_events else []
        self._notify_channel(session)
        return ids

    def _insert_rows(self, session: Session, stored_events: Sequence[StoredEvent]) -> list[int]:
        """Insert with one statement for many rows; the ids in the order of ``stored_events``.

        The parent class adds one ORM object per event and flushes, which cost more than
        encoding the events.
        """
        if self._sqlite is None:
            # "insertmanyvalues": a few multi-row INSERT ... RETURNING statements, the ids
            # sorted as the rows were given (the event store's Recordings rely on it).
            table = self.events_table
            statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
            rows = [
                {
                    "originator_id": e.originator_id,
                    "originator_version": e.originator_version,
                    "topic": e.topic,
                    "state": e.state,
                }
                for e in stored_events
            ]
            return list(session.execute(statement, rows).scalars())
        # SQLite cannot return the ids of many rows in row order (SQLAlchemy would send one
        # INSERT per row) and does not need to: a new row gets the largest rowid plus one,
        # and no other connection writes while this transaction holds the write lock, so
        # the ids of one executemany are consecutive and end at last_insert_rowid().  The
        # rows go to the driver as they are stored (UUIDType keeps 16 bytes on SQLite):
        # SQLAlchemy's per-row parameter processing cost more than SQLite's insert.
        connection = session.connection()
        rows_as_stored = [(_uuid(e.originator_id).bytes, e.originator_version, e.topic, e.state) for e in stored_events]
        connection.exec_driver_sql(self._sqlite.insert, rows_as_stored)
        last: int = connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
        return list(range(last - len(stored_events) + 1, last + 1))

    def select_events_of(self, session: Session, originator_ids: Iterable[UUID]) -> dict[UUID, list[StoredEvent]]:
        """The stored events of each of ``originator_ids`` that has any, in version order."""
        found: dict[UUID, list[StoredEvent]] = {}
        for chunk in _chunks(list(originator_ids), MAX_IDS_PER_SELECT):
            for originator_id, version, topic, state in self._select_rows(session, chunk):
                found.setdefault(originator_id, []).append(StoredEvent(originator_id, version, topic, state))
        return found

    def _select_rows(self, session: Session, originator_ids: list[UUID]) -> list[tuple[UUID, int, str, bytes]]:
        if self._sqlite is None:
            table = self.events_table
            query = (
                select(table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
                .where(table.c.originator_id.in_(originator_ids))
                .order_by(table.c.originator_id, table.c.originator_version)
            )
            # psycopg returns bytea as memoryview; the mapper wants bytes.
            return [
                (originator_id, v, topic, bytes(state)) for originator_id, v, topic, state in session.execute(query)
            ]
        # On SQLite, read the rows as stored and reuse the caller's UUID objects: making a
        # UUID from 16 bytes per row cost more than the query itself.
        by_bytes = {originator_id.bytes: originator_id for originator_id in originator_ids}
        sql = self._sqlite.select_events_of(len(by_bytes))
        rows = _fetch_all(session, sql, tuple(by_bytes))
        return [(by_bytes[raw_id], version, topic, state) for raw_id, version, topic, state in rows]

    def select_versions_after(self, session: Session, notification_id: int, limit: int) -> list[tuple[int, UUID, int]]:
        """``(notification id, originator id, version)`` of the first ``limit`` events after ``notification_id``."""
        if self._sqlite is not None:
            # Called before every batch and every lookup: skip SQLAlchemy's statement
            # processing, which costs more than SQLite's index scan.
            rows = _fetch_all(session, self._sqlite.versions_after, (notification_id, limit))
            return [(n, UUID(bytes=raw_id), version) for n, raw_id, version in rows]
        table = self.events_table
        query = (
            select(table.c.id, table.c.originator_id, table.c.originator_version)
            .where(table.c.id > notification_id)
            .order_by(table.c.id)
            .limit(limit)
        )
        return [(n, originator_id, version) for n, originator_id, version in session.execute(query)]

    def read_log(self, after: int, limit: int) -> list[Notification]:
        """The first ``limit`` notifications after id ``after``, oldest first.

        The same as ``select_notifications(after, limit, inclusive_of_start=False)``,
        without building an ORM object per row (that cost three times the query).
        """
        with self.transaction(commit=False) as session:
            if self._sqlite is not None:
                rows = _fetch_all(session, self._sqlite.read_log, (after, limit))
                # One UUID per aggregate of the page: making one from 16 bytes is slow.
                ids = {raw_id: UUID(bytes=raw_id) for raw_id in {row[1] for row in rows}}
                return [
                    Notification(id=n, originator_id=ids[raw_id], originator_version=v, topic=t, state=s)
                    for n, raw_id, v, t, s in rows
                ]
            table = self.events_table
            query = (
                select(table.c.id, table.c.originator_id, table.c.originator_version, table.c.topic, table.c.state)
                .where(table.c.id > after)
                .order_by(table.c.id)
                .limit(limit)
            )
            return [
                Notification(id=n, originator_id=o, originator_version=v, topic=t, state=bytes(s))
                for n, o, v, t, s in session.execute(query)
            ]

    def select_max_notification_id(self, session: Session) -> int:
        """The last notification id (0 when nothing is stored), in the caller's transaction."""
        last: int | None = session.execute(select(func.max(self.events_table.c.id))).scalar()
        return last or 0


class LedgerFactory(SQLAlchemyFactory):
    """The ``eventsourcing_sqlalchemy`` factory, building a :class:`LedgerRecorder`.

    On SQLite it also sizes each connection's caches for an event store (see
    :data:`SQLITE_PRAGMAS`).
    """

    application_recorder_class = LedgerRecorder

    def event_store(
        self, mapper: Mapper[Any] | None = None, recorder: AggregateRecorder | None = None
    ) -> EventStore[Any]:
        """A :class:`LedgerEventStore` (``InfrastructureFactory.event_store`` builds an ``EventStore``)."""
        return LedgerEventStore(mapper=mapper or self.mapper(), recorder=recorder or self.application_recorder())

    def __init__(self, env: Environment) -> None:
        super().__init__(env)
        engine = self.datastore.engine
        if isinstance(engine, Engine) and engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _tune_sqlite_connection)
        elif isinstance(engine, Engine):
            # After a database restart the pool holds dead connections: test each one as it
            # is checked out, so the first call after the restart works instead of failing.
            # (The datastore builds the engine without a way to pass ``pool_pre_ping``.)
            engine.pool._pre_ping = True


class LedgerMapper(Mapper[UUID]):
    """eventsourcing's ``Mapper``, making the same ``StoredEvent`` without its constructor.

    eventsourcing's records are frozen dataclasses, which set each field with
    ``object.__setattr__``: for a few fields that cost as much as the rest of mapping.
    """

    def to_stored_event(self, domain_event: DomainEventProtocol[UUID]) -> StoredEvent:
        """The stored form of ``domain_event``, as ``Mapper.to_stored_event`` makes it."""
        if not _BUILD_RECORDS_DIRECTLY:
            return super().to_stored_event(domain_event)
        event_state = dict(vars(domain_event))
        originator_id = event_state.pop("originator_id")
        originator_version = event_state.pop("originator_version")
        event_class = type(domain_event)
        class_version = getattr(event_class, "class_version", 1)
        if class_version > 1:
            event_state["class_version"] = class_version
        stored_state = self.transcoder.encode(event_state)
        if self.compressor:
            stored_state = self.compressor.compress(stored_state)
        if self.cipher:
            stored_state = self.cipher.encrypt(stored_state)
        stored: StoredEvent = object.__new__(StoredEvent)
        stored.__dict__.update(
            originator_id=originator_id,
            originator_version=originator_version,
            topic=get_topic(event_class),
            state=stored_state,
        )
        return stored


class LedgerEventStore(EventStore[UUID]):
    """eventsourcing's ``EventStore``, making the same ``Recording`` objects without their constructors."""

    def put(self, domain_events: Sequence[DomainEventProtocol[UUID]], **kwargs: Any) -> list[Recording[UUID]]:
        """Store ``domain_events`` as ``EventStore.put`` does; their recordings, in order."""
        if not _BUILD_RECORDS_DIRECTLY:
            return super().put(domain_events, **kwargs)
        stored_events = list(map(self.mapper.to_stored_event, domain_events))
        notification_ids = self.recorder.insert_events(stored_events, **kwargs)
        if not notification_ids:
            return []
        if len(notification_ids) != len(stored_events):
            raise AssertionError(f"{len(notification_ids)} notification ids for {len(stored_events)} events")
        recordings: list[Recording[UUID]] = []
        new = object.__new__
        for domain_event, stored, notification_id in zip(domain_events, stored_events, notification_ids, strict=True):
            notification: Notification = new(Notification)
            notification.__dict__.update(stored.__dict__, id=notification_id)
            recording: Recording[UUID] = new(Recording)
            recording.__dict__.update(domain_event=domain_event, notification=notification)
            recordings.append(recording)
        return recordings


#: Build StoredEvent, Notification and Recording objects by filling in their fields (see
#: LedgerMapper), while eventsourcing declares exactly the fields we fill in.
_BUILD_RECORDS_DIRECTLY = (
    [f.name for f in fields(StoredEvent)] == ["originator_id", "originator_version", "topic", "state"]
    and [f.name for f in fields(Notification)] == ["originator_id", "originator_version", "topic", "state", "id"]
    and [f.name for f in fields(Recording)] == ["domain_event", "notification"]
    and not any("__post_init__" in vars(cls) for cls in (*StoredEvent.__mro__, *Notification.__mro__, Recording))
)


class LedgerTranscoder(JSONTranscoder):
    """eventsourcing's ``JSONTranscoder``, byte for byte, encoding and decoding faster.

    ``JSONEncoder.encode`` builds a new C encoder for every call and tracks every
    container it enters to detect reference cycles (event states have none): this one
    builds its C encoder once, without the cycle check (about 40% faster).  An event's
    state is a flat dict of text, times and ``None``: those values are written here
    directly, so the encoder's Python hook is not called for each datetime (it cost
    more than the rest of the state).  Decoding calls the decoder's C scanner directly,
    skipping two whitespace scans (about 15%); anything that is not exactly one JSON
    document goes the standard way, to its error.
    """

    def __init__(self) -> None:
        super().__init__()
        make_encoder = getattr(json.encoder, "c_make_encoder", None)  # None without the C accelerator
        self._encode_once = (
            None
            if make_encoder is None
            else make_encoder(None, self._encode_obj, _json_string, None, ":", ",", False, False, True)
        )
        # The decoder's own C scanner (typeshed misdeclares make_scanner's argument).
        self._scan: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(cast(Any, self.decoder))
        # '"key":' of the keys seen (event states have a few dozen keys in all).
        self._key_prefixes: dict[str, str] = {}
        # The last datetime written under each of those keys, and its isoformat().
        self._last_iso: dict[str, tuple[datetime, str]] = {}
        # '{"_type_":"datetime_iso","_data_":"' while datetimes are written as eventsourcing's
        # DatetimeAsISO writes them (None if another transcoding took its place).
        self._datetime_prefix: str | None = None

    def register(self, transcoding: Transcoding) -> None:
        """Register ``transcoding`` as ``JSONTranscoder.register`` does."""
        super().register(transcoding)
        registered = self.types.get(datetime)
        self._datetime_prefix = (
            '{"_type_":' + _json_string(registered.name) + ',"_data_":"' if type(registered) is DatetimeAsISO else None
        )

    def encode(self, obj: Any) -> bytes:
        """Encode ``obj`` as ``JSONTranscoder.encode`` does."""
        if self._encode_once is None or isinstance(obj, str):
            return super().encode(obj)
        if type(obj) is dict:
            text = self._encode_flat(obj)
            if text is not None:
                return text.encode("utf8")
        return "".join(self._encode_once(obj, 0)).encode("utf8")

    def _encode_flat(self, state: dict[Any, Any]) -> str | None:
        """``state`` as JSON text, its str, datetime and None values written here; None if a key is not text."""
        assert self._encode_once is not None
        datetime_prefix = self._datetime_prefix
        key_prefixes = self._key_prefixes
        last_iso = self._last_iso
        items = []
        for key, value in state.items():
            if type(key) is not str:
                return None  # the encoder turns numbers and None into text keys: let it
            prefix = key_prefixes.get(key)
            if prefix is None:
                prefix = _json_string(key) + ":"
                if len(key_prefixes) < _MAX_KEY_PREFIXES:
                    key_prefixes[key] = prefix
            kind = type(value)
            if kind is str:
                items.append(prefix + _json_string(value))
            elif value is None:
                items.append(prefix + "null")
            elif kind is datetime and datetime_prefix is not None:
                # What DatetimeAsISO writes: isoformat() needs no escaping.  The events of a
                # batch share their receipt time: its text is made once per key and moment.
                last = last_iso.get(key)
                if last is not None and last[0] is value:
                    iso = last[1]
                else:
                    iso = value.isoformat()
                    if len(last_iso) < _MAX_KEY_PREFIXES:
                        last_iso[key] = (value, iso)  # one tuple: safe for concurrent encoders
                items.append(prefix + datetime_prefix + iso + '"}')
            else:
                items.append(prefix + "".join(self._encode_once(value, 0)))
        return "{" + ",".join(items) + "}"

    def decode(self, data: bytes) -> Any:
        """Decode ``data`` as ``JSONTranscoder.decode`` does."""
        text = data.decode("utf8")
        try:
            obj, end = self._scan(text, 0)
        except StopIteration:
            end = -1
        return obj if end == len(text) else super().decode(data)


#: JSON text of a Python str, as the encoder writes it with ``ensure_ascii=False``.
_json_string: Callable[[str], str] = json.encoder.encode_basestring
#: Most distinct keys whose '"key":' the transcoder keeps (states have a few dozen).
_MAX_KEY_PREFIXES = 1024


class MessageCache:
    """At most ``maxsize`` messages by provider message id, the least recently used out first.

    The ledger puts messages in it only as they are committed (see
    :class:`ledger.application.Ledger`); it is not thread-safe on its own.
    """

    def __init__(self, maxsize: int) -> None:
        if maxsize < 0:
            raise ValueError("maxsize must be >= 0")
        self.maxsize = maxsize
        self._messages: OrderedDict[str, Message] = OrderedDict()
        # Other writers' events name aggregate ids, which cannot be turned back into
        # message ids: keep the way back.
        self._message_ids: dict[UUID, str] = {}

    def __len__(self) -> int:
        return len(self._messages)

    def __contains__(self, message_id: str) -> bool:
        return message_id in self._messages

    def get(self, message_id: str) -> Message | None:
        """The message, now the most recently used; ``None`` if absent."""
        message = self._messages.get(message_id)
        if message is not None:
            self._messages.move_to_end(message_id)
        return message

    def put(self, message: Message) -> None:
        """Keep ``message`` as the most recently used; drop the least recently used beyond ``maxsize``."""
        self._messages[message.message_id] = message
        self._messages.move_to_end(message.message_id)
        self._message_ids[message.id] = message.message_id
        while len(self._messages) > self.maxsize:
            _, dropped = self._messages.popitem(last=False)
            del self._message_ids[dropped.id]

    def discard(self, message_ids: Iterable[str]) -> None:
        """Forget ``message_ids`` (absent ones are ignored)."""
        for message_id in message_ids:
            message = self._messages.pop(message_id, None)
            if message is not None:
                del self._message_ids[message.id]

    def discard_older(self, aggregate_id: UUID, version: int) -> None:
        """Forget the message of ``aggregate_id`` if the cached one is older than ``version``."""
        message_id = self._message_ids.get(aggregate_id)
        if message_id is not None and self._messages[message_id].version < version:
            self.discard([message_id])

    def clear(self) -> None:
        """Forget everything."""
        self._messages.clear()
        self._message_ids.clear()


class _SQLiteStatements:
    """The recorder's statements as SQLite's driver takes them (no SQLAlchemy processing)."""

    def __init__(self, table: Table, dialect: Dialect) -> None:
        columns = ["originator_id", "originator_version", "topic", "state"]
        self.insert = str(insert(table).compile(dialect=dialect, column_keys=columns))
        self._table = dialect.identifier_preparer.format_table(table)
        self.read_log = (
            "SELECT id, originator_id, originator_version, topic, state"
            f" FROM {self._table} WHERE id > ? ORDER BY id LIMIT ?"
        )
        self.versions_after = (
            f"SELECT id, originator_id, originator_version FROM {self._table} WHERE id > ? ORDER BY id LIMIT ?"
        )

    def select_events_of(self, count: int) -> str:
        """Every event of ``count`` originator ids, given as 16 bytes each."""
        return (
            "SELECT originator_id, originator_version, topic, state"
            f" FROM {self._table} WHERE originator_id IN ({', '.join('?' * count)})"
            " ORDER BY originator_id, originator_version"
        )


#: Set on every SQLite connection of the ledger.  None changes what is stored or how
#: durably (``synchronous`` stays FULL).  A batch of random aggregate ids dirties about a
#: thousand pages of the events index (4 MiB).  With SQLite's defaults, a 2 MiB page
#: cache and a checkpoint every 1,000 WAL pages, those pages were read back from the
#: file and copied into the database after nearly every batch.  Checkpointing every
#: 10,000 pages copies a page once for several batches (the WAL file is cut back to
#: 64 MiB afterwards); 16 MiB of cache keeps the index's upper levels in memory.
SQLITE_PRAGMAS = (
    "PRAGMA cache_size = -16384",  # KiB: 16 MiB per connection
    "PRAGMA wal_autocheckpoint = 10000",  # pages
    "PRAGMA journal_size_limit = 67108864",  # bytes
)


def _tune_sqlite_connection(dbapi_connection: Any, _: Any) -> None:
    for pragma in SQLITE_PRAGMAS:
        dbapi_connection.execute(pragma)


def _fetch_all(session: Session, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Every row of ``sql`` as the driver returns it, in the session's transaction.

    Straight from the DB-API cursor: SQLAlchemy's result rows cost more than SQLite's
    query.  Driver errors are raised as SQLAlchemy raises them (``OperationalError`` for
    "database is locked", say), so callers handle one kind.
    """
    connection = session.connection()
    driver_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.cursor()
    try:
        cursor.execute(sql, parameters)
        return list(cursor.fetchall())
    except driver_error as error:
        raise sqlalchemy.exc.DBAPIError.instance(sql, parameters, error, driver_error) from error
    finally:
        cursor.close()


def _uuid(originator_id: UUID | str) -> UUID:
    return originator_id if isinstance(originator_id, UUID) else UUID(originator_id)


def _chunks(items: list[UUID], size: int) -> Iterator[list[UUID]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]

"""What ``Ledger.ingest_many`` is compared with, each fed the same webhook bodies.

- (a) :class:`CrudStatusTable`: no event sourcing.  A SQLAlchemy Core table of each
  message's current status, upserted per report (moving forward by rank only), and an
  append-only history table; batches of the same size, one transaction each.
- (b) :class:`StraightforwardLedger`: event sourcing done the obvious way on the same
  stack: per report ``repository.get``, the same ``Message`` aggregate, ``save``;
  eventsourcing_sqlalchemy's own recorder, one transaction per report.
- (c) :func:`raw_executemany` (SQLite) and :func:`raw_copy` (PostgreSQL): the floor:
  the reports appended as rows to one table by the driver alone, with no parsing and no
  decisions (``sqlite3.executemany``; psycopg's ``COPY``).

(a) and (b) validate bodies with the ledger's own parser, as any version of this
service must; malformed bodies are skipped (the ledger keeps them, which costs it more).
(a) also gets the ledger's SQLite settings and garbage-collector pause, so that the
ratio compares the designs, not their tuning.
"""

from __future__ import annotations

import gc
import json
import sqlite3
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, cast
from uuid import UUID

import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, create_engine, event, insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine, make_url

from ledger.connectly import parse_delivery_status
from ledger.errors import ContradictionError, InvalidPayloadError
from ledger.message import Message, message_uuid
from ledger.persistence import SQLITE_PRAGMAS
from ledger.simulate import Send

_metadata = MetaData()

current_status = Table(
    "crud_current_status",
    _metadata,
    Column("message_id", String(256), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("rank", Integer, nullable=False),
    Column("sender", String(256)),
    Column("recipient", String(256)),
    Column("updated_at", DateTime, nullable=False),
)

status_history = Table(
    "crud_status_history",
    _metadata,
    Column("id", Integer, primary_key=True),
    Column("message_id", String(256), nullable=False, index=True),
    Column("status", String(16), nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("raw", Text, nullable=False),
)


class CrudStatusTable:
    """Baseline (a): current status upserted per report plus a history table (SQLite or PostgreSQL)."""

    def __init__(self, url: str) -> None:
        self.engine = create_engine(url)
        if self.engine.dialect.name == "sqlite":
            # The ledger's SQLite settings, so that the ratio compares code, not configuration.
            event.listen(self.engine, "connect", _with_ledger_pragmas)
            with self.engine.begin() as connection:
                connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        _metadata.create_all(self.engine)
        dialect_insert = sqlite_insert if self.engine.dialect.name == "sqlite" else postgresql_insert
        excluded = dialect_insert(current_status).excluded
        self._upsert = dialect_insert(current_status).on_conflict_do_update(
            index_elements=[current_status.c.message_id],
            set_={"status": excluded.status, "rank": excluded.rank, "updated_at": excluded.updated_at},
            where=current_status.c.rank < excluded.rank,
        )

    def record_sent(self, sends: Iterable[Send]) -> None:
        """Our side: each send becomes a row in ``accepted`` (not timed)."""
        rows = [
            {
                "message_id": s.message_id,
                "status": "accepted",
                "rank": 0,
                "sender": s.sender,
                "recipient": s.recipient,
                "updated_at": s.sent_at.replace(tzinfo=None),
            }
            for s in sends
        ]
        with self.engine.begin() as connection:
            connection.execute(insert(current_status), rows)

    def ingest_many(self, bodies: list[str]) -> None:
        """Parse each body, then one upsert and one history row per report, one transaction.

        Like the ledger's ``ingest_many``, it pauses the cyclic garbage collector meanwhile.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._ingest_many(bodies)
        finally:
            if collecting:
                gc.enable()

    def _ingest_many(self, bodies: list[str]) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        upserts: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        for body in bodies:
            try:
                report = parse_delivery_status(body)
            except InvalidPayloadError:
                continue
            occurred_at = report.occurred_at.replace(tzinfo=None)
            upserts.append(
                {
                    "message_id": report.message_id,
                    "status": report.stage.value,
                    "rank": report.stage.rank,
                    "sender": report.sender,
                    "recipient": report.recipient,
                    "updated_at": now,
                }
            )
            history.append(
                {
                    "message_id": report.message_id,
                    "status": report.stage.value,
                    "occurred_at": occurred_at,
                    "received_at": now,
                    "raw": report.raw,
                }
            )
        with self.engine.begin() as connection:
            if upserts:
                connection.execute(self._upsert, upserts)
                connection.execute(insert(status_history), history)

    def close(self) -> None:
        self.engine.dispose()


class StraightforwardLedger(Application[UUID]):
    """Baseline (b): ``repository.get`` and ``save`` per report, eventsourcing_sqlalchemy's recorder.

    Named ``Ledger`` so that it uses the same table as the ledger (and finds its sends).
    """

    name = "Ledger"
    env: ClassVar[dict[str, str]] = {"PERSISTENCE_MODULE": "eventsourcing_sqlalchemy"}

    def close(self) -> None:
        super().close()
        engine = cast(SQLAlchemyFactory, self.factory).datastore.engine
        assert isinstance(engine, Engine)
        engine.dispose()  # eventsourcing_sqlalchemy leaves its pool open

    def ingest(self, body: str) -> None:
        try:
            report = parse_delivery_status(body)
        except InvalidPayloadError:
            return
        at = datetime.now(UTC)
        try:
            message: Message = self.repository.get(message_uuid(report.message_id))
        except AggregateNotFoundError:
            message = Message.open(
                report.message_id, sender=report.sender, recipient=report.recipient, channel=report.channel, at=at
            )
        try:
            message.report(report, at=at)
        except ContradictionError as error:
            message.reject(report, reason=str(error), at=at)
        self.save(message)


def _with_ledger_pragmas(dbapi_connection: Any, _: Any) -> None:
    for pragma in SQLITE_PRAGMAS:
        dbapi_connection.execute(pragma)


def raw_rows(bodies: Iterable[str]) -> list[tuple[str | None, str | None, str]]:
    """``(message id, status, body)`` per report, for :func:`raw_executemany` (not timed)."""
    rows: list[tuple[str | None, str | None, str]] = []
    for body in bodies:
        try:
            document = json.loads(body)
            update = document["statusUpdate"]
            rows.append((update.get("id"), update.get("status"), body))
        except (ValueError, KeyError, TypeError, AttributeError):
            rows.append((None, None, body))
    return rows


def raw_executemany(path: Path, rows: list[tuple[str | None, str | None, str]]) -> float:
    """Baseline (c): append ``rows`` to one table with one executemany; the seconds it took."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE reports (id INTEGER PRIMARY KEY, message_id TEXT, status TEXT, body TEXT)")
    start = time.perf_counter()
    with connection:
        connection.executemany("INSERT INTO reports (message_id, status, body) VALUES (?, ?, ?)", rows)
    seconds = time.perf_counter() - start
    connection.close()
    return seconds


def raw_copy(url: str, rows: list[tuple[str | None, str | None, str]]) -> tuple[int, float]:
    """Baseline (c) on PostgreSQL: ``COPY`` ``rows`` into one table; (rows written, seconds).

    Rows whose body holds a NUL character are left out: PostgreSQL text cannot store one.
    """
    storable = [row for row in rows if "\x00" not in row[2]]
    target = make_url(url)
    with psycopg.connect(
        host=target.host, port=target.port, user=target.username, password=target.password, dbname=target.database
    ) as connection:
        connection.execute("DROP TABLE IF EXISTS raw_reports")
        connection.execute(
            "CREATE TABLE raw_reports (id BIGSERIAL PRIMARY KEY, message_id TEXT, status TEXT, body TEXT)"
        )
        connection.commit()
        start = time.perf_counter()
        with (
            connection.cursor() as cursor,
            cursor.copy("COPY raw_reports (message_id, status, body) FROM STDIN") as copy,
        ):
            for row in storable:
                copy.write_row(row)
        connection.commit()
        return len(storable), time.perf_counter() - start

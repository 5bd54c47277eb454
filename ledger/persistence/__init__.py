"""The ledger's event store on SQLAlchemy: batch inserts, batch loads and a message cache.

The stored events are exactly those of ``eventsourcing_sqlalchemy`` (same table, same
topics, same JSON state, same notification ids); only the way they are written and read
in bulk differs.  As eventsourcing lays out its own persistence, one module per concern:

- :mod:`~ledger.persistence.recorders`: :class:`LedgerRecorder`, what the recorders
  share.  It loads the events of many aggregates with one ``SELECT ... WHERE
  originator_id IN (...)`` instead of one query per aggregate, and reads the tail of
  the notification log, which tells a cache what other writers changed.
- :mod:`~ledger.persistence.sqlite` and :mod:`~ledger.persistence.postgres`: one
  recorder per database, inserting a batch of events with one statement executed for
  many rows (the driver's executemany on SQLite, ``INSERT ... RETURNING id`` on
  PostgreSQL) instead of one ORM object per event and a flush.  On PostgreSQL it still
  takes ``LOCK TABLE ... IN EXCLUSIVE MODE`` first (so notification ids commit in
  order) and still sends ``NOTIFY``.
- :mod:`~ledger.persistence.factory`: :class:`LedgerFactory`, the infrastructure factory
  that picks the recorder by the engine's dialect, and :class:`LedgerDatastore`, which
  tunes the engine (:data:`SQLITE_PRAGMAS` on SQLite, ``pool_pre_ping`` on a server).
- :mod:`~ledger.persistence.records`: :class:`LedgerMapper` and
  :class:`LedgerEventStore`, building eventsourcing's records without their constructors.
- :mod:`~ledger.persistence.transcoder`: :class:`LedgerTranscoder`, eventsourcing's JSON
  byte for byte, faster.
- :mod:`~ledger.persistence.cache`: :class:`MessageCache`, recently used messages in
  their committed state, bounded in size, least recently used out first.
- :mod:`~ledger.persistence.replay`: :func:`replay_message`, a message rebuilt from its
  events as eventsourcing's ``Repository.get`` rebuilds it, faster.

The ledger's environment names ``ledger.persistence:LedgerFactory``,
``ledger.persistence:LedgerTranscoder`` and ``ledger.persistence:LedgerMapper``: those
topics resolve here.
"""

from __future__ import annotations

from ledger.persistence.cache import MessageCache
from ledger.persistence.factory import LedgerDatastore, LedgerFactory
from ledger.persistence.postgres import PostgreSQLLedgerRecorder
from ledger.persistence.recorders import MAX_IDS_PER_SELECT, LedgerRecorder
from ledger.persistence.records import LedgerEventStore, LedgerMapper
from ledger.persistence.replay import replay_message
from ledger.persistence.sqlite import SQLITE_PRAGMAS, SQLiteLedgerRecorder
from ledger.persistence.transcoder import LedgerTranscoder

__all__ = [
    "MAX_IDS_PER_SELECT",
    "SQLITE_PRAGMAS",
    "LedgerDatastore",
    "LedgerEventStore",
    "LedgerFactory",
    "LedgerMapper",
    "LedgerRecorder",
    "LedgerTranscoder",
    "MessageCache",
    "PostgreSQLLedgerRecorder",
    "SQLiteLedgerRecorder",
    "replay_message",
]

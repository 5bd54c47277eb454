"""What :meth:`ledger.Ledger.open` opens: a URL, a ``sqlalchemy.URL``, or a host's ``Engine``.

A URL (a string or SQLAlchemy's ``URL``) makes the ledger an engine of its own, tuned for
it and disposed when it is closed.  A host application's ``Engine`` is used as it is:
the ledger runs on its pool, sets nothing on it (no pragma, no listener, no journal
mode) and never disposes it.  Here too: eventsourcing's settings for the store, the
cipher among them, and :class:`LedgerDatabase`, the accessors of the database a ledger
was opened on.
"""

from __future__ import annotations

import base64
import os
from contextlib import AbstractContextManager
from importlib import import_module
from typing import TYPE_CHECKING, TypeAlias

from eventsourcing.utils import Environment
from sqlalchemy.engine import URL, Engine

from ledger.extras import is_missing, needs
from ledger.sql import BACKENDS, checked_url
from ledger.sqlstore import SQLMessageStore
from ledger.urls import database_url

if TYPE_CHECKING:
    from uuid import UUID

    from eventsourcing.persistence import EventStore, Mapper
    from sqlalchemy.orm import Session

    from ledger.persistence import LedgerRecorder

#: What the ledger can be opened on (``None``: ``LEDGER_DATABASE_URL``, else ``sqlite:///ledger.db``).
Database: TypeAlias = str | URL | Engine | None

#: eventsourcing's AES-GCM cipher on the ``cryptography`` package (the ``crypto`` extra).
CIPHER_TOPIC = "eventsourcing.cryptography:AESCipher"


def open_sql_store(database: Database, *, cipher_key: str | None, create: bool) -> SQLMessageStore:
    """The SQL message store on ``database`` (see the module docstring).

    A URL of another database than SQLite or PostgreSQL, a malformed one, one whose
    driver is missing, or an engine of another database: ``ValueError``.
    """
    env = cipher_environment(cipher_key)
    if isinstance(database, Engine):
        if database.dialect.name not in BACKENDS:
            raise ValueError(
                f"unsupported database {database.dialect.name!r}: the ledger runs on SQLite and PostgreSQL"
            )
        return SQLMessageStore(env, create=create, engine=database)
    if isinstance(database, URL):
        database = database.render_as_string(hide_password=False)
    return SQLMessageStore(env | {"SQLALCHEMY_URL": checked_url(database_url(database))}, create=create)


def cipher_environment(cipher_key: str | None) -> dict[str, str]:
    """eventsourcing's cipher settings: AES-GCM when a key is given or ``LEDGER_CIPHER_KEY`` is set.

    The key is checked, and the cipher named (eventsourcing's default for a key alone is
    its PyCryptodome cipher, which the ledger does not install).
    """
    settings = Environment(SQLMessageStore.name, dict(os.environ))
    key = cipher_key or settings.get("CIPHER_KEY")
    if not key:
        return {}
    try:
        import_module(CIPHER_TOPIC.partition(":")[0])
    except ImportError as error:
        if not is_missing(error, "crypto"):
            raise
        raise ValueError(needs("encryption at rest (a cipher key)", "crypto")) from None
    # Every spelling eventsourcing reads (LEDGER_CIPHER_KEY first): the caller's key wins.
    env = dict.fromkeys(settings.create_keys("CIPHER_KEY"), _checked_key(key))
    if cipher_key or not settings.get("CIPHER_TOPIC"):
        env |= dict.fromkeys(settings.create_keys("CIPHER_TOPIC"), CIPHER_TOPIC)
    return env


def _checked_key(key: str) -> str:
    """``key`` if it is base64 of 16, 24 or 32 bytes (an AES key)."""
    try:
        size = len(base64.b64decode(key, validate=True))
    except ValueError:
        size = -1
    if size not in (16, 24, 32):
        raise ValueError("the cipher key must be base64 of 16, 24 or 32 bytes; make one with `ledger keygen`")
    return key


class LedgerDatabase:
    """The ledger's database, for read models and tools (a mixin of :class:`~ledger.Ledger`).

    Each accessor raises ``AttributeError`` on a ledger that has no database (``Ledger.in_memory()``).
    """

    #: The store's database, when it has one.
    _sql: SQLMessageStore | None

    @property
    def engine(self) -> Engine:
        """The SQLAlchemy engine of the ledger's database (for read models and tools)."""
        return self._database("engine").engine

    def session(self, *, commit: bool = True) -> AbstractContextManager[Session]:
        """A transaction on the ledger's database, shared with the event recorder.

        Work done in it (by projections, say) commits or rolls back together with any
        events saved inside it.
        """
        return self._database("session").session(commit=commit)

    @property
    def url(self) -> str:
        """The database URL, with any password hidden."""
        return self._database("url").url

    @property
    def recorder(self) -> LedgerRecorder:
        """eventsourcing's recorder of the ledger's database (the notification log)."""
        return self._database("recorder").ledger_recorder

    @property
    def mapper(self) -> Mapper[UUID]:
        """eventsourcing's mapper of stored events (transcoder and cipher)."""
        return self._database("mapper").mapper

    @property
    def events(self) -> EventStore[UUID]:
        """eventsourcing's event store of the ledger's database."""
        return self._database("events").events

    def _database(self, what: str) -> SQLMessageStore:
        if self._sql is None:
            raise AttributeError(f"an in-memory ledger has no database, so no {what}; open one with Ledger.open(url)")
        return self._sql

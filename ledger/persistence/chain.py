"""The per-message hash chain: its definition, its column and the seal table.

Every stored event carries ``chain_hash``, SHA-256 over the previous event's hash and
the event as stored (see :func:`link`, and ``docs/audit.md`` for the exact bytes).  The
first event of a message chains from :data:`GENESIS`.  A ledger written before the chain
existed gets the column (empty) when it is next opened to write; ``ledger seal`` fills it
in once, and ``ledger_seals`` records how many events predate the seal.  A new ledger is
sealed at position 0 when its column is made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from hashlib import sha256
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from sqlalchemy import BigInteger, Column, Integer, LargeBinary, MetaData, String, Table, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

#: The "previous hash" of a message's first event: 32 zero bytes.
GENESIS = bytes(32)
#: The column holding each event's chain hash (NULL: not chained yet, the ledger predates the seal).
CHAIN_COLUMN = "chain_hash"

seal_metadata = MetaData()
#: When the history was chained: ``position`` (the last notification id then) and how many
#: events were stored unchained before it (0 for a ledger made with the chain).
seals_table = Table(
    "ledger_seals",
    seal_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("position", BigInteger, nullable=False),
    Column("events_before", BigInteger, nullable=False),
    Column("sealed_at", String(40), nullable=False),
)


@lru_cache(maxsize=256)
def topic_bytes(topic: str) -> bytes:
    """A topic as :func:`link` hashes it: its UTF-8 length (4 bytes, big-endian), then its UTF-8 bytes."""
    encoded = topic.encode("utf-8")
    return len(encoded).to_bytes(4, "big") + encoded


def link(previous: bytes, originator_id: bytes, version: int, topic: str, state: bytes) -> bytes:
    """The chain hash of one stored event, given the previous event's (or :data:`GENESIS`).

    SHA-256 of: ``previous`` (32 bytes), the originator id (16 bytes, the UUID's bytes),
    the version (8 bytes, signed big-endian), the topic's UTF-8 length (4 bytes,
    big-endian) and bytes, then ``state`` exactly as stored (ciphertext when encrypted).
    """
    return sha256(
        b"".join((previous, originator_id, version.to_bytes(8, "big", signed=True), topic_bytes(topic), state))
    ).digest()


# Versions as hashed (8 bytes, signed big-endian), made once for the usual small ones.
_SMALL = 256
_VERSIONS = tuple(version.to_bytes(8, "big", signed=True) for version in range(_SMALL))

#: A message's chain head: its last version and that event's hash (None: unchained).
Head = tuple[int, bytes | None]
#: A row about to be inserted, as :func:`chain_batch` gives it: originator id (16 bytes),
#: version, topic, state as stored, chain hash (None: left unchained).
ChainedRow = tuple[bytes, int, str, bytes, bytes | None]


def chain_batch(
    stored_events: Sequence[StoredEvent],
    committed: Mapping[int, Head],
    stored: Mapping[tuple[UUID, int], bytes | None] | None,
) -> tuple[list[ChainedRow], dict[int, Head]] | None:
    """A batch's rows with their chain hashes, in order, and each message's new head.

    Each event chains from the batch's earlier event of its message, else from
    ``committed`` (heads keyed by the originator id's int), else :data:`GENESIS` for a
    version 1, else from ``stored`` (the table's hashes, None: not asked yet).  None when
    a previous hash is needed that none of these knows.  An event whose previous hash is
    None (stored unchained: the ledger is not sealed yet) is left unchained too.

    The hash is :func:`link`'s, written out: this loop runs for every event ingested
    (tests/unit/test_chain.py pins the two together).
    """
    heads: dict[int, Head] = {}  # keyed by the id's int: a UUID hashes in Python, an int in C
    rows: list[ChainedRow] = []
    append = rows.append
    for event in stored_events:
        originator_id = event.originator_id
        if not isinstance(originator_id, UUID):
            originator_id = UUID(originator_id)
        key = originator_id.int
        version = event.originator_version
        if version == 1:
            previous: bytes | None = GENESIS
        elif (head := heads.get(key) or committed.get(key)) is not None and head[0] == version - 1:
            previous = head[1]
        elif stored is not None:
            previous = stored.get((originator_id, version - 1), GENESIS)
        else:
            return None
        raw_id = key.to_bytes(16, "big")
        topic = event.topic
        state = event.state
        chained = (
            None
            if previous is None
            else sha256(
                b"".join(
                    (
                        previous,
                        raw_id,
                        _VERSIONS[version] if 0 <= version < _SMALL else version.to_bytes(8, "big", signed=True),
                        topic_bytes(topic),
                        state,
                    )
                )
            ).digest()
        )
        heads[key] = (version, chained)
        append((raw_id, version, topic, state, chained))
    return rows, heads


def chain_table(events: Table) -> Table:
    """A copy of the events table (in its own metadata) with the chain column, for Core statements.

    eventsourcing-sqlalchemy's record class is left as it is, so its own recorder still
    reads and writes the table (its rows then carry no chain hash, which ``verify`` names).
    """
    table = events.to_metadata(MetaData())
    table.append_column(Column(CHAIN_COLUMN, LargeBinary, nullable=True))
    return table


def has_chain_column(engine: Engine | Connection, events: Table) -> bool:
    """Whether the events table in the database has the chain column."""
    columns = inspect(engine).get_columns(events.name, schema=events.schema)
    return any(column["name"] == CHAIN_COLUMN for column in columns)


def add_chain_column(engine: Engine, events: Table) -> None:
    """Add the chain column when missing; a ledger made with it (an empty table) is sealed at 0.

    A table that already holds events predates the chain: it stays unsealed until
    ``ledger seal``.  Adding a nullable column rewrites no row on SQLite or PostgreSQL.
    """
    if has_chain_column(engine, events):
        seals_table.create(engine, checkfirst=True)
        return
    name = engine.dialect.identifier_preparer.format_table(events)
    binary = LargeBinary().compile(dialect=engine.dialect)
    exists = " IF NOT EXISTS" if engine.dialect.name == "postgresql" else ""
    try:
        with engine.begin() as connection:
            connection.execute(text(f"ALTER TABLE {name} ADD COLUMN{exists} {CHAIN_COLUMN} {binary}"))
            seals_table.create(connection, checkfirst=True)
            if connection.execute(select(events.c.id).limit(1)).first() is None:
                connection.execute(seals_table.insert().values(position=0, events_before=0, sealed_at=now_text()))
    except DBAPIError:
        # Another process added it first (SQLite has no ADD COLUMN IF NOT EXISTS), and the seal with it.
        if not has_chain_column(engine, events):
            raise
        seals_table.create(engine, checkfirst=True)


def now_text() -> str:
    """The current UTC time as stored in the audit tables (ISO-8601, microseconds)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")

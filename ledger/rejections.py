"""The rejection store's table: every input the ledger refused, with its reason.

Nothing is dropped silently: a malformed body (kind ``malformed``) or a report that
contradicts a message's history (kind ``contradiction``) is kept here with the raw
bytes as received, in the same transaction as the batch that refused it.  The values
read and written (:class:`~ledger.views.Rejection`, :class:`~ledger.views.NewRejection`)
are plain data in :mod:`ledger.views`, so the in-memory store needs no SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from eventsourcing.persistence import Cipher
from sqlalchemy import BigInteger, Boolean, Column, Integer, LargeBinary, MetaData, String, Table, Text, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from ledger.errors import UnreadableDataError
from ledger.sql import UTCDateTime
from ledger.views import NewRejection, Rejection

metadata = MetaData()

rejections_table = Table(
    "ledger_rejections",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime(), nullable=False, index=True),
    Column("kind", String(16), nullable=False),
    Column("message_id", String(256), nullable=True, index=True),
    Column("reason", Text(), nullable=False),
    Column("raw", LargeBinary(), nullable=False),
    # Rows written before a cipher key was set stay readable: each row says how it is stored.
    Column("encrypted", Boolean(), nullable=False),
)


def create_table(engine: Engine) -> None:
    """Create the rejection table if it does not exist."""
    metadata.create_all(engine, checkfirst=True)


def insert_rejections(
    session: Session | Connection, rejections: Sequence[NewRejection], cipher: Cipher | None = None
) -> None:
    """Add ``rejections`` inside the caller's transaction (bodies encrypted when a cipher is given)."""
    if rejections:
        session.execute(
            insert(rejections_table),
            [
                {
                    "received_at": r.received_at,
                    "kind": r.kind,
                    "message_id": r.message_id,
                    "reason": r.reason,
                    "raw": r.raw if cipher is None else cipher.encrypt(r.raw),
                    "encrypted": cipher is not None,
                }
                for r in rejections
            ],
        )


def select_rejections(
    connection: Session | Connection,
    *,
    limit: int = 100,
    since: datetime | None = None,
    message_id: str | None = None,
    before: int | None = None,
    newest_first: bool = False,
    cipher: Cipher | None = None,
) -> list[Rejection]:
    """Rejections oldest first (by id; ``newest_first``: newest first), at most ``limit``.

    Only those received at or after ``since``, naming ``message_id``, and with an id below
    ``before`` (the last id of the page before, for the next page newest first).
    """
    column = rejections_table.c.id
    query = select(rejections_table).order_by(column.desc() if newest_first else column).limit(limit)
    if before is not None:
        query = query.where(column < before)
    if since is not None:
        query = query.where(rejections_table.c.received_at >= since)
    if message_id is not None:
        query = query.where(rejections_table.c.message_id == message_id)
    return [
        Rejection(
            id=row.id,
            received_at=row.received_at,
            kind=row.kind,
            message_id=row.message_id,
            reason=row.reason,
            raw=_plaintext(bytes(row.raw), cipher) if row.encrypted else bytes(row.raw),
        )
        for row in connection.execute(query)
    ]


def _plaintext(raw: bytes, cipher: Cipher | None) -> bytes:
    if cipher is None:
        raise UnreadableDataError("rejected bodies are encrypted; set LEDGER_CIPHER_KEY to read them")
    try:
        return cipher.decrypt(raw)
    except ValueError:
        raise UnreadableDataError("rejected bodies cannot be decrypted: is LEDGER_CIPHER_KEY the right key?") from None

"""Checkpoints: a Merkle root over every message's chain head, chained to the checkpoint before.

A checkpoint at log position P is the RFC 6962 Merkle tree hash (:func:`merkle_root`) of
the chain hash of each message's last event with notification id <= P, those heads in
log order (by their notification ids).  Each checkpoint's ``hash`` covers the previous
checkpoint's hash and its own fields (see :func:`checkpoint_hash`), so a changed or
removed checkpoint breaks the ones after it.  Publish the printed line elsewhere: a
rewrite of the whole database after the last checkpoint published is only caught by it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from sqlalchemy import BigInteger, Column, LargeBinary, MetaData, String, Table, func, inspect, select
from sqlalchemy.orm import Session

from ledger.audit.merkle import merkle_root
from ledger.errors import NotSealedError
from ledger.persistence.chain import GENESIS, now_text, seals_table
from ledger.persistence.recorders import LedgerRecorder

#: The PostgreSQL advisory lock key that serialises checkpoint writers.
CHECKPOINT_LOCK = 0x1ED6E7

checkpoint_metadata = MetaData()
#: One row per checkpoint, numbered from 1 without gaps.
checkpoints_table = Table(
    "ledger_checkpoints",
    checkpoint_metadata,
    Column("sequence", BigInteger, primary_key=True, autoincrement=False),
    Column("position", BigInteger, nullable=False),
    Column("tree_size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    Column("previous", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
)


@dataclass(frozen=True)
class Checkpoint:
    """A recorded checkpoint: the log up to ``position`` had ``tree_size`` messages, Merkle root ``root``."""

    sequence: int
    position: int
    tree_size: int
    root: bytes
    recorded_at: str
    previous: bytes
    hash: bytes

    def to_dict(self) -> dict[str, Any]:
        """The checkpoint as JSON values (hashes in hex)."""
        return {
            "sequence": self.sequence,
            "position": self.position,
            "tree_size": self.tree_size,
            "root": self.root.hex(),
            "recorded_at": self.recorded_at,
            "previous": self.previous.hex(),
            "hash": self.hash.hex(),
        }


def checkpoint_hash(previous: bytes, sequence: int, position: int, tree_size: int, root: bytes, at: str) -> bytes:
    """SHA-256 of the previous checkpoint's hash (:data:`GENESIS` for the first), the
    sequence, position and tree size (8 bytes each, big-endian), the root (32 bytes) and
    the recording time's ISO-8601 text (UTF-8)."""
    numbers = b"".join(n.to_bytes(8, "big") for n in (sequence, position, tree_size))
    return sha256(previous + numbers + root + at.encode("utf-8")).digest()


def heads_at(session: Session, recorder: LedgerRecorder, position: int) -> list[tuple[bytes, int, bytes | None]]:
    """Each message's chain head as of ``position``: (originator id, version, hash), in log order."""
    table = recorder.chain_table
    last_ids = select(func.max(table.c.id)).where(table.c.id <= position).group_by(table.c.originator_id)
    query = (
        select(table.c.originator_id, table.c.originator_version, table.c.chain_hash)
        .where(table.c.id.in_(last_ids))
        .order_by(table.c.id)
    )
    return [
        (originator_id.bytes, version, None if head is None else bytes(head))
        for originator_id, version, head in session.execute(query)
    ]


def record_checkpoint(recorder: LedgerRecorder) -> Checkpoint:
    """Record a checkpoint of the whole log as it is now; it is returned.

    Raises :class:`~ledger.errors.NotSealedError` when the ledger holds events without
    chain hashes (it predates the chain: run ``ledger seal`` first).
    """
    engine = recorder.sql_engine
    checkpoints_table.create(engine, checkfirst=True)
    with recorder.transaction(commit=True) as session:
        if engine.dialect.name == "postgresql":
            # One checkpoint writer at a time, so sequences follow each other.
            session.execute(select(func.pg_advisory_xact_lock(CHECKPOINT_LOCK)))
        position = recorder.select_max_notification_id(session)
        heads = [head for _, _, head in heads_at(session, recorder, position)]
        unchained = sum(head is None for head in heads)
        if unchained or not _sealed(session):
            raise NotSealedError(unchained=unchained)
        root = merkle_root([head for head in heads if head is not None])
        last = session.execute(
            select(checkpoints_table.c.sequence, checkpoints_table.c.hash)
            .order_by(checkpoints_table.c.sequence.desc())
            .limit(1)
        ).first()
        sequence, previous = (1, GENESIS) if last is None else (last[0] + 1, bytes(last[1]))
        at = now_text()
        digest = checkpoint_hash(previous, sequence, position, len(heads), root, at)
        checkpoint = Checkpoint(sequence, position, len(heads), root, at, previous, digest)
        session.execute(checkpoints_table.insert().values(**vars(checkpoint)))
    return checkpoint


def read_checkpoints(session: Session) -> list[Checkpoint]:
    """Every recorded checkpoint, by sequence (none when the table was never made)."""
    if not inspect(session.connection()).has_table(checkpoints_table.name):
        return []
    rows = session.execute(select(checkpoints_table).order_by(checkpoints_table.c.sequence))
    return [
        Checkpoint(seq, pos, size, bytes(root), at, bytes(prev), bytes(digest))
        for seq, pos, size, root, at, prev, digest in rows
    ]


def _sealed(session: Session) -> bool:
    if not inspect(session.connection()).has_table(seals_table.name):
        return False
    return session.execute(select(seals_table.c.id).limit(1)).first() is not None


class CheckpointSchedule:
    """Records a checkpoint once ``every`` events or more were added since the last one, or
    ``every_seconds`` have passed since it and something was added (whichever comes first).

    For a process that follows the log (``ledger project --follow --checkpoint-every N``
    or ``--checkpoint-minutes M``): call :meth:`after` with the log position it reached.
    ``clock`` gives seconds (monotonic); a test may pass its own.
    """

    def __init__(
        self,
        recorder: LedgerRecorder,
        every: int | None = None,
        *,
        every_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if every is None and every_seconds is None:
            raise ValueError("a checkpoint schedule needs a number of events, a time, or both")
        if every is not None and every < 1:
            raise ValueError("a checkpoint needs at least one new event")
        if every_seconds is not None and not every_seconds > 0:
            raise ValueError("the time between checkpoints must be positive")
        self.recorder = recorder
        self.every = every
        self.every_seconds = every_seconds
        self.clock = clock
        with recorder.transaction(commit=False) as session:
            recorded = read_checkpoints(session)
        #: The position of the last checkpoint (0: none yet).
        self.position = recorded[-1].position if recorded else 0
        #: When the schedule started or last recorded one (``clock``'s time).
        self.last = clock()

    def after(self, position: int) -> Checkpoint | None:
        """A new checkpoint if the log reached ``position`` and one is due; else None."""
        added = position - self.position
        by_count = self.every is not None and added >= self.every
        by_time = self.every_seconds is not None and added > 0 and self.clock() - self.last >= self.every_seconds
        if not (by_count or by_time):
            return None
        checkpoint = record_checkpoint(self.recorder)
        self.position = checkpoint.position
        self.last = self.clock()
        return checkpoint

"""``seal``: chain, once, the history a ledger stored before the hash chain existed.

A ledger written before this version has no chain hashes.  Opened to write, its table
gets the (empty) column; events of messages that started before then stay unchained as
they come.  :func:`seal` walks the log in order, computes every missing hash as if the
chain had always been there, records the seal (its position and how many events
predate it) and a first checkpoint.  A sealed ledger is not sealed again.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ledger.audit.checkpoints import Checkpoint, record_checkpoint
from ledger.persistence.chain import GENESIS, add_chain_column, link, now_text, seals_table
from ledger.persistence.recorders import LedgerRecorder

#: Events read per query while sealing.
PAGE_SIZE = 5_000


@dataclass(frozen=True)
class Seal:
    """The ledger's seal: at log ``position``, ``events_before`` events were chained by it."""

    position: int
    events_before: int
    sealed_at: str
    #: False when the ledger was already sealed (nothing was done now).
    new: bool
    checkpoint: Checkpoint | None = None


def seal(recorder: LedgerRecorder) -> Seal:
    """Chain every unchained event and record the seal and a first checkpoint; or the existing seal."""
    engine = recorder.sql_engine
    add_chain_column(engine, recorder.events_table)
    recorder.chained = True
    with recorder.transaction(commit=True) as session:
        recorder._lock_table(session)  # PostgreSQL: no writer appends while the history is chained
        existing = session.execute(
            select(seals_table.c.position, seals_table.c.events_before, seals_table.c.sealed_at)
            .order_by(seals_table.c.id)
            .limit(1)
        ).first()
        if existing is not None:
            return Seal(int(existing[0]), int(existing[1]), str(existing[2]), new=False)
        chained = _chain_history(session, recorder)
        position = recorder.select_max_notification_id(session)
        at = now_text()
        session.execute(seals_table.insert().values(position=position, events_before=chained, sealed_at=at))
    return Seal(position, chained, at, new=True, checkpoint=record_checkpoint(recorder))


def _chain_history(session: Session, recorder: LedgerRecorder) -> int:
    """Fill in every missing chain hash, in log order; how many were filled in."""
    last: dict[bytes, bytes] = {}
    filled: list[dict[str, object]] = []
    after = 0
    while rows := recorder.read_chain(session, after, PAGE_SIZE):
        for n, originator_id, version, topic, state, stored in rows:
            previous = last.get(originator_id, GENESIS) if version > 1 else GENESIS
            if stored is None:
                stored = link(previous, originator_id, version, topic, state)
                filled.append({"row_id": n, "row_hash": stored})
            last[originator_id] = stored
        after = rows[-1][0]
    table = recorder.chain_table
    statement = update(table).where(table.c.id == bindparam("row_id")).values(chain_hash=bindparam("row_hash"))
    for start in range(0, len(filled), PAGE_SIZE):
        session.execute(statement, filled[start : start + PAGE_SIZE])
    return len(filled)


def unchained_events(session: Session, recorder: LedgerRecorder) -> int:
    """How many events carry no chain hash."""
    table = recorder.chain_table
    query = select(func.count()).select_from(table).where(table.c.chain_hash.is_(None))
    return int(session.execute(query).scalar_one())

"""``verify``: recompute every message's hash chain and every checkpoint; name what does not hold.

One pass over the log in notification-id order recomputes each event's chain hash from
the hash stored on the event before it, and each checkpoint's Merkle root from the chain
heads as of its position.  A message whose chain breaks is then read again in version
order and :func:`~ledger.audit.diagnose.diagnose` names its first problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from ledger.audit.checkpoints import Checkpoint, checkpoint_hash, heads_at, read_checkpoints
from ledger.audit.diagnose import Problem, ProblemKind, diagnose
from ledger.audit.merkle import merkle_root
from ledger.persistence.chain import GENESIS, link, seals_table
from ledger.persistence.recorders import LedgerRecorder

#: Events read per query.
PAGE_SIZE = 5_000


@dataclass(frozen=True)
class Verification:
    """What ``verify`` found: counts, the seal, and one :class:`Problem` per broken message or checkpoint."""

    events: int
    messages: int
    sealed: bool
    #: Events stored before the seal (chained by ``ledger seal``, not when written).
    events_before_seal: int
    #: Events without a chain hash in a ledger not sealed yet (not verified).
    unchained: int
    checkpoints: int
    problems: tuple[Problem, ...]
    #: Events up to this position were vouched for by a checkpoint's root only (``since``; 0: none).
    after: int = 0

    @property
    def ok(self) -> bool:
        """Whether every chain and checkpoint holds and every event is chained."""
        return self.sealed and not self.problems and not self.unchained

    def to_dict(self) -> dict[str, Any]:
        """The verification as JSON values."""
        return {
            "ok": self.ok,
            "events": self.events,
            "messages": self.messages,
            "sealed": self.sealed,
            "events_before_seal": self.events_before_seal,
            "unchained": self.unchained,
            "checkpoints": self.checkpoints,
            "after": self.after,
            "problems": [problem.to_dict() for problem in self.problems],
        }


@dataclass
class _Scan:
    """The state of the pass over the log."""

    sealed: bool
    pending: list[Checkpoint]
    events: int = 0
    unchained: int = 0

    def __post_init__(self) -> None:
        #: Each message's last event seen: (version, stored hash).
        self.last: dict[bytes, tuple[int, bytes | None]] = {}
        #: Each message's chain head, in log order (a message moves to the end when its head moves).
        self.heads: dict[bytes, bytes | None] = {}
        self.suspects: dict[bytes, None] = {}
        self.problems: list[Problem] = []

    def read(self, rows: list[tuple[int, bytes, int, str, bytes, bytes | None]]) -> None:
        """Check one page of the log."""
        last, heads, suspects = self.last, self.heads, self.suspects
        for n, originator_id, version, topic, state, stored in rows:
            while self.pending and n > self.pending[0].position:
                self.check_root(self.pending.pop(0))
            prior = last.get(originator_id)
            previous: bytes | None
            if prior is None:
                in_order, previous = version == 1, GENESIS
            else:
                in_order, previous = prior[0] == version - 1, prior[1]
            last[originator_id] = (version, stored)
            heads.pop(originator_id, None)
            heads[originator_id] = stored
            if stored is None:
                self.unchained += 1
                if self.sealed:
                    suspects[originator_id] = None
            elif not in_order or previous is None or not _links(previous, originator_id, version, topic, state, stored):
                suspects[originator_id] = None
        self.events += len(rows)

    def check_root(self, checkpoint: Checkpoint) -> None:
        """Compare a checkpoint's root with the one the log gives at its position."""
        heads = list(self.heads.values())
        root = merkle_root([head or b"" for head in heads])
        if root != checkpoint.root or len(heads) != checkpoint.tree_size:
            self.problems.append(
                Problem(
                    ProblemKind.CHECKPOINT_MISMATCH,
                    f"checkpoint {checkpoint.sequence} (position {checkpoint.position}, root"
                    f" {checkpoint.root.hex()}) no longer matches the log, which gives root {root.hex()}"
                    f" over {len(heads)} messages: an event up to that position was changed, removed or added",
                    checkpoint=checkpoint.sequence,
                )
            )


def verify(recorder: LedgerRecorder, *, since: int | None = None, page_size: int = PAGE_SIZE) -> Verification:
    """Recompute every chain and checkpoint of the ledger; what holds and what does not.

    ``since`` (a checkpoint's sequence) verifies incrementally: the checkpoints' own
    chain, that checkpoint's root recomputed from the chain heads at its position, and
    every event after it.  Events up to it are vouched for by its root only (an edit
    that leaves the stored hashes as they were is not seen).  An unknown checkpoint
    is a ``ValueError``.
    """
    with recorder.transaction(commit=False) as session:
        sealed, before_seal = _seal(session)
        checkpoints = read_checkpoints(session)
    problems, intact = _check_checkpoint_chain(checkpoints)
    start = _checkpoint(checkpoints, since)
    after = 0 if start is None else start.position
    scan = _Scan(sealed=sealed, pending=sorted((c for c in intact if c.position >= after), key=lambda c: c.position))
    _scan_log(recorder, scan, after, page_size)
    while scan.pending:
        scan.check_root(scan.pending.pop(0))
    found = [*problems, *scan.problems]
    with recorder.transaction(commit=False) as session:
        for originator_id in scan.suspects:
            problem = diagnose(originator_id, recorder.select_chain_of(session, _uuid(originator_id)), sealed=sealed)
            if problem is not None:
                found.append(problem)
    return Verification(
        events=scan.events,
        messages=len(scan.last),
        sealed=sealed,
        events_before_seal=before_seal,
        unchained=scan.unchained if not sealed else 0,
        checkpoints=len(checkpoints),
        problems=tuple(found),
        after=after,
    )


def _scan_log(recorder: LedgerRecorder, scan: _Scan, after: int, page_size: int) -> None:
    """Read the log after position ``after`` into ``scan`` (the chain heads there first, from the table)."""
    if after:
        with recorder.transaction(commit=False) as session:
            for originator_id, version, head in heads_at(session, recorder, after):
                scan.last[originator_id] = (version, head)
                scan.heads[originator_id] = head
    if not recorder.chained:
        with recorder.transaction(commit=False) as session:
            scan.unchained = scan.events = _count(session, recorder)
        return
    while True:
        with recorder.transaction(commit=False) as session:
            rows = recorder.read_chain(session, after, page_size)
        if not rows:
            return
        scan.read(rows)
        after = rows[-1][0]


def _links(previous: bytes, originator_id: bytes, version: int, topic: str, state: bytes, stored: bytes) -> bool:
    try:
        return link(previous, originator_id, version, topic, state) == stored
    except (TypeError, AttributeError):  # a value edited to another type (text in a SQLite blob column)
        return False


def _check_checkpoint_chain(checkpoints: list[Checkpoint]) -> tuple[list[Problem], list[Checkpoint]]:
    """Problems of the checkpoints' own chain; the checkpoints whose hash holds."""
    problems: list[Problem] = []
    intact: list[Checkpoint] = []
    previous, expected = GENESIS, 1
    for c in checkpoints:
        if c.sequence != expected:
            missing = f"{expected}" if c.sequence == expected + 1 else f"{expected} to {c.sequence - 1}"
            problems.append(
                Problem(ProblemKind.CHECKPOINT_DELETED, f"checkpoint {missing} was removed", checkpoint=expected)
            )
        elif c.hash != checkpoint_hash(c.previous, c.sequence, c.position, c.tree_size, c.root, c.recorded_at):
            problems.append(
                Problem(ProblemKind.CHECKPOINT_EDITED, f"checkpoint {c.sequence} was changed", checkpoint=c.sequence)
            )
        elif c.previous != previous:
            problems.append(
                Problem(
                    ProblemKind.CHECKPOINT_EDITED,
                    f"checkpoint {c.sequence} does not follow checkpoint {c.sequence - 1}: one of them was changed",
                    checkpoint=c.sequence,
                )
            )
        else:
            intact.append(c)
        previous, expected = c.hash, c.sequence + 1
    return problems, intact


def _checkpoint(checkpoints: list[Checkpoint], since: int | None) -> Checkpoint | None:
    """The checkpoint numbered ``since`` (None: verify everything)."""
    if since is None:
        return None
    for checkpoint in checkpoints:
        if checkpoint.sequence == since:
            return checkpoint
    raise ValueError(f"no checkpoint {since} is recorded")


def _seal(session: Session) -> tuple[bool, int]:
    """Whether the ledger is sealed, and how many events predate its seal."""
    if not inspect(session.connection()).has_table(seals_table.name):
        return False, 0
    row = session.execute(select(seals_table.c.events_before).order_by(seals_table.c.id).limit(1)).first()
    return (False, 0) if row is None else (True, int(row[0]))


def _count(session: Session, recorder: LedgerRecorder) -> int:
    return int(session.execute(select(func.count()).select_from(recorder.events_table)).scalar_one())


def _uuid(raw: bytes) -> UUID:
    return UUID(bytes=raw)

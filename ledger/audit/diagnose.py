"""What went wrong with one message's chain: the first problem, named.

``verify`` finds that a chain breaks in one pass over the log; :func:`diagnose` then reads
that message's events in version order and names the first problem:

- ``deleted``: a version is missing (an event was removed, and the later ones kept their versions);
- ``inserted``: an event carries no chain hash in a sealed ledger, or the chain goes on
  past it as if it were not there;
- ``reordered``: the event's stored hash is the one it had at another version (versions swapped);
- ``edited``: anything else that breaks the chain at that event (its bytes, topic or hash changed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from ledger.persistence.chain import GENESIS, link

#: One event as the diagnosis reads it: id, version, topic, state, stored chain hash.
EventRow = tuple[int, int, str, bytes, bytes | None]


class ProblemKind(StrEnum):
    """What ``verify`` can find."""

    EDITED = "edited"
    DELETED = "deleted"
    INSERTED = "inserted"
    REORDERED = "reordered"
    CHECKPOINT_EDITED = "checkpoint edited"
    CHECKPOINT_DELETED = "checkpoint deleted"
    CHECKPOINT_MISMATCH = "checkpoint mismatch"


@dataclass(frozen=True)
class Problem:
    """One problem: its kind, where (message and version, or checkpoint) and what was seen."""

    kind: ProblemKind
    detail: str
    #: The message's aggregate id (``message_uuid(message_id)``).
    originator_id: UUID | None = None
    version: int | None = None
    checkpoint: int | None = None

    def __str__(self) -> str:
        where = "" if self.originator_id is None else f" message {self.originator_id} version {self.version}:"
        return f"{self.kind}:{where} {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        """The problem as JSON values."""
        return {
            "kind": str(self.kind),
            "originator_id": None if self.originator_id is None else str(self.originator_id),
            "version": self.version,
            "checkpoint": self.checkpoint,
            "detail": self.detail,
        }


def diagnose(originator_id: bytes, rows: Sequence[EventRow], *, sealed: bool) -> Problem | None:
    """The first problem of one message's chain (``rows`` in version order), or None if it holds."""
    message = UUID(bytes=originator_id)
    known = {GENESIS, *(row[4] for row in rows if row[4] is not None)}
    previous: bytes | None = GENESIS
    expected = 1
    for index, (_, version, topic, state, stored) in enumerate(rows):
        # An event with no hash in a sealed ledger was put there by hand, whatever its version.
        if stored is None and sealed:
            return Problem(ProblemKind.INSERTED, "it carries no chain hash", message, version)
        if version != expected:
            missing = f"version {expected}" if version == expected + 1 else f"versions {expected} to {version - 1}"
            return Problem(ProblemKind.DELETED, f"{missing} missing before it", message, version)
        expected = version + 1
        if stored is None:
            previous = None  # the ledger predates the chain: unsealed history goes on unchained
            continue
        if previous is not None and link(previous, originator_id, version, topic, state) == stored:
            previous = stored
            continue
        return _broken(message, rows, index, previous, known)
    return None


def _broken(message: UUID, rows: Sequence[EventRow], index: int, previous: bytes | None, known: set[bytes]) -> Problem:
    """Name the break at ``rows[index]``, whose stored hash does not follow ``previous``."""
    _, version, topic, state, stored = rows[index]
    raw = message.bytes
    for other in (row[1] for row in rows if row[1] != version):
        if any(link(p, raw, other, topic, state) == stored for p in known):
            return Problem(
                ProblemKind.REORDERED, f"the event stored here was chained as version {other}", message, version
            )
    if index + 1 < len(rows) and previous is not None:
        _, later, next_topic, next_state, next_stored = rows[index + 1]
        if any(link(previous, raw, v, next_topic, next_state) == next_stored for v in (version, later)):
            return Problem(ProblemKind.INSERTED, "the chain goes on past it as if it were not there", message, version)
    return Problem(ProblemKind.EDITED, "its stored bytes no longer give its chain hash", message, version)

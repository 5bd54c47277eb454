"""The delivery state machine, kept as data.

A message moves through ranked statuses: ``accepted`` (we sent it, no report yet)
< ``sent`` < ``delivered`` < ``read``; ``failed`` is the terminal failure.  What a
report does to a message is one cell of a :data:`TransitionTable`, and
:func:`decide` is the only function that reads the table.

The default table, :data:`STRICT`, is DESIGN §3::

    current \\ report   sent       delivered  read       failed
    (none)             applied    applied    applied    applied
    accepted           applied    applied    applied    applied
    sent               duplicate  applied    applied    applied
    delivered          late       duplicate  applied    rejected
    read               late       late       duplicate  rejected
    failed             late       rejected   rejected   duplicate

A ``late`` cell fills in the timestamp of a stage that was skipped; when that stage
was already reported, the report is a ``duplicate`` instead.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TypeAlias


class Status(StrEnum):
    """Where a message stands.  ``accepted`` is ours; the others are provider stages."""

    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        """Progress order: accepted 0 < sent 1 < delivered 2 < read 3; failed is 4 (terminal)."""
        return _RANKS[self]

    @property
    def is_terminal(self) -> bool:
        """True for the statuses no report can move forward: ``read`` and ``failed``."""
        return self in (Status.READ, Status.FAILED)


_RANKS = {
    Status.ACCEPTED: 0,
    Status.SENT: 1,
    Status.DELIVERED: 2,
    Status.READ: 3,
    Status.FAILED: 4,
}

_BY_VALUE: dict[str, Status] = {status.value: status for status in Status}


def status_of(value: str) -> Status:
    """``Status(value)``: a dict lookup for the five values (the enum's call costs 4 times that)."""
    status = _BY_VALUE.get(value)
    return Status(value) if status is None else status


#: The stages a provider can report (everything but ``accepted``).
STAGES: tuple[Status, ...] = (Status.SENT, Status.DELIVERED, Status.READ, Status.FAILED)


class Outcome(StrEnum):
    """What one report did to a message."""

    APPLIED = "applied"
    LATE = "late"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


#: Rows are the current status (``None``: no message yet); columns the reported stage.
TransitionTable: TypeAlias = Mapping[Status | None, Mapping[Status, Outcome]]

_A, _L, _D, _R = Outcome.APPLIED, Outcome.LATE, Outcome.DUPLICATE, Outcome.REJECTED


def make_table(rows: Mapping[Status | None, tuple[Outcome, Outcome, Outcome, Outcome]]) -> TransitionTable:
    """Build a read-only table from rows of four cells in :data:`STAGES` order.

    Raises ``ValueError`` unless there is exactly one row per status and for ``None``,
    so a custom policy cannot leave a cell undecided.
    """
    expected = {None, *Status}
    if set(rows) != expected:
        missing = sorted(str(s) for s in expected - set(rows))
        extra = sorted(str(s) for s in set(rows) - expected)
        raise ValueError(f"a transition table needs one row per status; missing {missing}, unexpected {extra}")
    return MappingProxyType(
        {current: MappingProxyType(dict(zip(STAGES, cells, strict=True))) for current, cells in rows.items()}
    )


#: DESIGN §3: a delivered or read message cannot fail; a failed one cannot be delivered or read.
STRICT: TransitionTable = make_table(
    {
        None: (_A, _A, _A, _A),
        Status.ACCEPTED: (_A, _A, _A, _A),
        Status.SENT: (_D, _A, _A, _A),
        Status.DELIVERED: (_L, _D, _A, _R),
        Status.READ: (_L, _L, _D, _R),
        Status.FAILED: (_L, _R, _R, _D),
    }
)

#: For partners that report ``failed`` after ``delivered`` (multi-device users): the
#: failure is applied; a failed message still cannot be read.
FAILURE_AFTER_DELIVERY: TransitionTable = make_table(
    {
        None: (_A, _A, _A, _A),
        Status.ACCEPTED: (_A, _A, _A, _A),
        Status.SENT: (_D, _A, _A, _A),
        Status.DELIVERED: (_L, _D, _A, _A),
        Status.READ: (_L, _L, _D, _R),
        Status.FAILED: (_L, _L, _R, _D),
    }
)


@dataclass(frozen=True, slots=True)
class MessageState:
    """The part of a message's state the table looks at."""

    status: Status
    reported: Set[Status]


def decide(state: MessageState | None, stage: Status, table: TransitionTable = STRICT) -> Outcome:
    """What a report of ``stage`` does to a message in ``state`` (``None``: not known yet).

    Pure: it reads the table and the set of stages already reported, nothing else.
    """
    if stage is Status.ACCEPTED:
        raise ValueError("'accepted' is not a stage a provider reports")
    if state is None:
        return table[None][stage]
    outcome = table[state.status][stage]
    if outcome is Outcome.LATE and stage in state.reported:
        return Outcome.DUPLICATE
    return outcome


def render_table(table: TransitionTable = STRICT) -> str:
    """The table as aligned text, one row per current status, for docs and the CLI."""
    header = ["current \\ report", *(str(s) for s in STAGES)]
    rows = [header] + [
        ["(none)" if current is None else str(current), *(str(table[current][s]) for s in STAGES)]
        for current in (None, *Status)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)

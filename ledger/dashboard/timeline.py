"""A message's timeline as the message page shows it: every event, and the input refused for it.

The history (:class:`~ledger.views.HistoryEntry`) has what each report did: ``applied``,
``late`` (it filled in a stage the message had passed) or ``rejected`` (a contradiction,
kept with its reason).  A duplicate changes nothing and is not stored, so it cannot be
shown here (the receiver answers it ``duplicate``, and ``/metrics`` counts it).  Input
refused before it became a report (malformed, or of no message the ledger can name) is in
the rejection store; what named this message is listed too.  Oldest first, by received time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ledger.views import HistoryEntry, Rejection

_WHAT = {
    "opened": "first heard of",
    "send_recorded": "send recorded",
    "stage_reported": "report",
    "stage_reported_late": "late report",
    "report_rejected": "contradicting report",
}


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One line of the timeline; ``raw`` is the body as received (``None``: nothing was received)."""

    version: int | None
    what: str
    outcome: str | None
    occurred_at: datetime | None
    received_at: datetime
    detail: str | None
    raw: str | None


def timeline(entries: Sequence[HistoryEntry], rejections: Sequence[Rejection]) -> list[TimelineEntry]:
    """The message's events and the input refused for it (contradictions are events already), by received time."""
    lines = [_of_entry(entry) for entry in entries]
    lines += [_of_rejection(rejection) for rejection in rejections if rejection.kind != "contradiction"]
    return sorted(lines, key=lambda line: line.received_at)


def _of_entry(entry: HistoryEntry) -> TimelineEntry:
    what = _WHAT.get(entry.event, entry.event)
    if entry.stage is not None and entry.event != "send_recorded":
        what = f"{what}: {entry.stage.value}"
    details = [entry.reason] if entry.reason else []
    if entry.error is not None:
        details.append(" ".join(part for part in (entry.error.code, entry.error.message) if part))
    return TimelineEntry(
        version=entry.version,
        what=what,
        outcome=None if entry.outcome is None else entry.outcome.value,
        occurred_at=entry.occurred_at,
        received_at=entry.received_at,
        detail=" · ".join(details) or None,
        raw=entry.raw,
    )


def _of_rejection(rejection: Rejection) -> TimelineEntry:
    return TimelineEntry(
        version=None,
        what=f"refused input ({rejection.kind})",
        outcome="rejected",
        occurred_at=None,
        received_at=rejection.received_at,
        detail=rejection.reason,
        raw=rejection.text,
    )

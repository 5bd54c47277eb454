"""The read models' values, and the port through which the ledger queries them.

The read models (``projections``) are derived from the notification log, beside the
ledger; the ledger's core never imports them.  It names them by a topic instead
(:attr:`ledger.Ledger.read_models_topic`, as eventsourcing names its persistence
module), builds them over itself on first use, and queries them through
:class:`ReadModels`.  The values they answer with are defined here, so both sides share
them: each has a ``to_dict()`` of JSON-ready fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol, get_args

from ledger.status import Status

#: What the failure report can group by (``provider``: read from the message id, see ledger.providers).
GroupBy = Literal["code", "type", "campaign", "recipient", "day", "provider"]
GROUP_BY: tuple[GroupBy, ...] = get_args(GroupBy)
#: What the funnel can have one row per (besides the whole ledger).
FunnelBy = Literal["campaign", "day", "provider", "pricing_category"]
#: The same, as values.
FUNNEL_BY: tuple[FunnelBy, ...] = get_args(FunnelBy)
#: How long one bucket of :class:`ActivityBucket` is (UTC hours or days).
BucketSize = Literal["hour", "day"]
#: The same, as values.
BUCKET_SIZES: tuple[BucketSize, ...] = get_args(BucketSize)
#: The key of failures without an error code in :attr:`ActivityBucket.failures` (as the CLI shows them).
NO_CODE = "(none)"


@dataclass(frozen=True, slots=True)
class StatusRow:
    """One message in the ``current_status`` view."""

    message_id: str
    status: Status
    sender: str | None
    recipient: str | None
    channel: str | None
    template: str | None
    campaign: str | None
    accepted_at: datetime | None
    sent_at: datetime | None
    delivered_at: datetime | None
    read_at: datetime | None
    failed_at: datetime | None
    error_code: str | None
    error_type: str | None
    trace_id: str | None
    conflicts: int
    last_event_at: datetime
    version: int

    @classmethod
    def of(cls, row: Mapping[Any, Any]) -> StatusRow:
        fields = {k: v for k, v in row.items() if k != "aggregate_id"}
        fields["status"] = Status(fields["status"])
        return cls(**fields)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; times as ISO-8601 UTC strings."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        out["status"] = self.status.value
        return out


@dataclass(frozen=True, slots=True)
class StatusPage:
    """One page of a listing; pass ``next_cursor`` back as ``after`` for the next page."""

    rows: list[StatusRow]
    next_cursor: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields: the rows' ``to_dict()`` and the cursor."""
        return {"rows": [row.to_dict() for row in self.rows], "next_cursor": self.next_cursor}


@dataclass(frozen=True, slots=True)
class Failure:
    """One failure, with what support needs: the trace id."""

    message_id: str
    recipient: str | None
    campaign: str | None
    failed_at: datetime
    conflict: bool
    code: str | None
    type: str | None
    message: str | None
    user_title: str | None
    user_message: str | None
    trace_id: str | None
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; the time as an ISO-8601 UTC string."""
        out = {name: getattr(self, name) for name in self.__slots__}
        out["failed_at"] = self.failed_at.isoformat()
        return out


@dataclass(frozen=True, slots=True)
class FailureGroup:
    """Failures sharing one value of the grouping (``key``), in a time window.

    ``share`` is the group's part of all failures in the window; ``conflicts`` counts
    failure reports rejected as contradictions, which ``count`` does not include.
    """

    key: str | None
    count: int
    share: float
    conflicts: int
    first_at: datetime
    last_at: datetime
    trace_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; times as ISO-8601 UTC strings."""
        return {
            "key": self.key,
            "count": self.count,
            "share": self.share,
            "conflicts": self.conflicts,
            "first_at": self.first_at.isoformat(),
            "last_at": self.last_at.isoformat(),
            "trace_ids": list(self.trace_ids),
        }


@dataclass(frozen=True, slots=True)
class Latency:
    """Nearest-rank percentiles of a latency, in seconds (None when nothing was measured)."""

    count: int
    p50: float | None
    p90: float | None
    p99: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {"count": self.count, "p50": self.p50, "p90": self.p90, "p99": self.p99}


@dataclass(frozen=True, slots=True)
class FunnelRow:
    """The funnel of one group (``key`` is None for the whole ledger)."""

    key: str | None
    total: int
    reached: int  # messages known to have reached the phone (delivered or read)
    counts: dict[Status, int]
    delivery_rate: float
    read_rate: float
    failure_rate: float
    sent_to_delivered: Latency
    delivered_to_read: Latency
    billable: int = 0  # messages their provider said are billable (Meta's pricing)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "key": self.key,
            "total": self.total,
            "reached": self.reached,
            "counts": {status.value: count for status, count in self.counts.items()},
            "delivery_rate": self.delivery_rate,
            "read_rate": self.read_rate,
            "failure_rate": self.failure_rate,
            "sent_to_delivered": self.sent_to_delivered.to_dict(),
            "delivered_to_read": self.delivered_to_read.to_dict(),
            "billable": self.billable,
        }


@dataclass(frozen=True, slots=True)
class ActivityBucket:
    """What happened in one hour or day (UTC), from ``start`` on (see ``Ledger.activity``).

    ``reports``: stage reports by status (``accepted``: sends recorded), every status
    present; ``failures``: failures by error code (:data:`NO_CODE` for none), only codes seen.
    """

    start: datetime
    reports: dict[Status, int]
    failures: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields; ``start`` as an ISO-8601 UTC string."""
        return {
            "start": self.start.isoformat(),
            "reports": {status.value: count for status, count in self.reports.items()},
            "failures": dict(self.failures),
        }


class ReadModels(Protocol):
    """What :class:`~ledger.Ledger`'s queries need of the read models (``projections.Projections``)."""

    def catch_up(self) -> int:
        """Apply every event committed so far; how many were applied."""

    def messages(
        self,
        *,
        status: Status | None,
        campaign: str | None,
        recipient: str | None,
        since: datetime | None,
        until: datetime | None,
        limit: int,
        after: str | None,
    ) -> StatusPage:
        """One page of messages by last change."""

    def failures(
        self,
        *,
        since: datetime | None,
        until: datetime | None,
        code: str | None,
        type: str | None,
        campaign: str | None,
        recipient: str | None,
        limit: int,
    ) -> list[Failure]:
        """Each failure, oldest first."""

    def failure_summary(self, *, by: GroupBy, since: datetime | None, until: datetime | None) -> list[FailureGroup]:
        """The failures grouped, largest group first."""

    def summary(
        self, *, by: FunnelBy | None, campaign: str | None, since: datetime | None, until: datetime | None
    ) -> list[FunnelRow]:
        """The delivery funnel (of one campaign's messages first known in ``[since, until)``)."""

    def campaigns(self) -> list[str]:
        """Every campaign a message names, in order."""

    def activity(
        self, *, bucket: BucketSize, since: datetime | None, until: datetime | None, campaign: str | None
    ) -> list[ActivityBucket]:
        """Reports and failures per hour or day, oldest bucket first, empty buckets left out."""

    def close(self) -> None:
        """Release what they hold (not the ledger)."""

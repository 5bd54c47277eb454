"""The delivery ``funnel`` read model: counts, rates and latencies, overall, per campaign, per day.

One row per message holds its status, its stage times and two latencies
(sent → delivered, delivered → read).  Rates:

- ``delivery_rate``: messages known to have reached the phone (delivered or read) / all messages;
- ``read_rate``: messages read / messages that reached the phone;
- ``failure_rate``: failed messages / all messages.

A message's ``day`` is the UTC date of the earliest time known for it (send or report).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, assert_never

from sqlalchemy import Column, Float, String, Table, case, func, select
from sqlalchemy.orm import Session

from ledger.message import Message, MessageEvent
from ledger.readmodels import FunnelBy, FunnelRow, Latency
from ledger.sql import UTCDateTime
from ledger.status import Status
from projections.base import Connect, Row, RowCache, aggregate_key, fold_rows, metadata

PERCENTILES = (50, 90, 99)

funnel_table = Table(
    "view_funnel",
    metadata,
    Column("aggregate_id", String(32), primary_key=True),
    Column("campaign", String(256), index=True),
    Column("day", String(10), index=True),
    Column("status", String(16), nullable=False),
    Column("accepted_at", UTCDateTime()),
    Column("sent_at", UTCDateTime()),
    Column("delivered_at", UTCDateTime()),
    Column("read_at", UTCDateTime()),
    Column("failed_at", UTCDateTime()),
    Column("sent_to_delivered", Float),
    Column("delivered_to_read", Float),
)

_TIMES = ("accepted_at", "sent_at", "delivered_at", "read_at", "failed_at")


def fold(row: Row | None, event: MessageEvent) -> Row:
    """The message's funnel row after ``event`` (pure; ``row`` is not modified)."""
    if isinstance(event, Message.Opened):
        new: Row = {"aggregate_id": aggregate_key(event.originator_id), "campaign": None, "day": None}
        new |= dict.fromkeys(_TIMES) | {"status": Status.ACCEPTED.value}
    else:
        if row is None:
            raise ValueError(f"{type(event).__qualname__} for a message that was never opened: {event.originator_id}")
        new = dict(row)
        # An isinstance chain, not match (see current_status.fold).
        if isinstance(event, Message.SendRecorded):
            new["accepted_at"] = event.accepted_at
            new["campaign"] = new["campaign"] or event.campaign
        elif isinstance(event, Message.StageReported):  # and StageReportedLate, its subclass
            new[f"{event.stage}_at"] = event.occurred_at
            if not isinstance(event, Message.StageReportedLate):
                new["status"] = event.stage
            new["campaign"] = new["campaign"] or event.campaign
        elif isinstance(event, Message.ReportRejected):
            pass  # a rejected report moves nothing in the funnel
        else:
            # An event added to MessageEvent but not folded here fails mypy on this line.
            assert_never(event)
    known = [new[name] for name in _TIMES if new[name] is not None]
    new["day"] = min(known).date().isoformat() if known else None
    new["sent_to_delivered"] = _seconds(new["sent_at"], new["delivered_at"])
    new["delivered_to_read"] = _seconds(new["delivered_at"], new["read_at"])
    return new


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    return None if start is None or end is None else (end - start).total_seconds()


class FunnelProjection:
    """Maintains ``view_funnel`` from the ledger's events."""

    name = "funnel"
    tables = (funnel_table,)

    def process(self, session: Session, events: Sequence[MessageEvent], cache: RowCache) -> None:
        fold_rows(session, funnel_table, cache, events, fold)

    def clear(self, session: Session) -> None:
        session.execute(funnel_table.delete())


def percentiles(values: Sequence[float]) -> Latency:
    """Nearest-rank p50/p90/p99 of sorted ``values``."""
    if not values:
        return Latency(0, None, None, None)
    n = len(values)
    p50, p90, p99 = (values[max(0, math.ceil(p / 100 * n) - 1)] for p in PERCENTILES)
    return Latency(n, p50, p90, p99)


class FunnelView:
    """Queries over ``view_funnel``."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def summary(self, *, by: FunnelBy | None = None) -> list[FunnelRow]:
        """The funnel overall (``by=None``: one row), or one row per campaign or day."""
        if by not in (None, "campaign", "day"):
            raise ValueError(f"by must be None, 'campaign' or 'day'; got {by!r}")
        table = funnel_table
        key = table.c[by] if by else None
        reached = case((table.c.delivered_at.is_not(None) | table.c.read_at.is_not(None), 1), else_=0)
        read = case((table.c.read_at.is_not(None), 1), else_=0)
        key_columns = [key.label("key")] if key is not None else []
        counts_query = select(*key_columns, table.c.status, func.count(), func.sum(reached), func.sum(read)).group_by(
            *([key] if key is not None else []), table.c.status
        )
        groups: dict[str | None, dict[str, Any]] = {}
        latencies: dict[str | None, dict[str, list[float]]] = {}
        with self._connect() as connection:
            for row in connection.execute(counts_query):
                group_key = row[0] if key is not None else None
                status, count, reached_count, read_count = row[-4:]
                group = groups.setdefault(group_key, {"counts": dict.fromkeys(Status, 0), "reached": 0, "read": 0})
                group["counts"][Status(status)] += count
                group["reached"] += int(reached_count or 0)
                group["read"] += int(read_count or 0)
            for name in ("sent_to_delivered", "delivered_to_read"):
                column = table.c[name]
                query = select(*key_columns, column).where(column.is_not(None)).order_by(column)
                for row in connection.execute(query):
                    group_key = row[0] if key is not None else None
                    latencies.setdefault(group_key, {}).setdefault(name, []).append(row[-1])
        if not groups and by is None:
            groups[None] = {"counts": dict.fromkeys(Status, 0), "reached": 0, "read": 0}
        return [self._row(k, groups[k], latencies.get(k, {})) for k in sorted(groups, key=lambda k: k or "")]

    @staticmethod
    def _row(key: str | None, group: dict[str, Any], latency: dict[str, list[float]]) -> FunnelRow:
        counts: dict[Status, int] = group["counts"]
        total = sum(counts.values())
        return FunnelRow(
            key=key,
            total=total,
            reached=group["reached"],
            counts=counts,
            delivery_rate=group["reached"] / total if total else 0.0,
            read_rate=group["read"] / group["reached"] if group["reached"] else 0.0,
            failure_rate=counts[Status.FAILED] / total if total else 0.0,
            sent_to_delivered=percentiles(latency.get("sent_to_delivered", [])),
            delivered_to_read=percentiles(latency.get("delivered_to_read", [])),
        )

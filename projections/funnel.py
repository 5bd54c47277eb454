"""The delivery ``funnel`` read model: counts, rates and latencies, overall or per campaign, day,
provider or pricing category (Meta's), with the count of billable messages.

One row per message holds its status, its stage times and two latencies
(sent → delivered, delivered → read).  Rates:

- ``delivery_rate``: messages known to have reached the phone (delivered or read) / all messages;
- ``read_rate``: messages read / messages that reached the phone;
- ``failure_rate``: failed messages / all messages.

A message's ``day`` is the UTC date of the earliest time known for it (send or report); its
``provider`` is read from its id (:func:`ledger.providers.provider_of`); its pricing category
and whether it is billable are the newest its provider reported (a late report only fills in
what is missing, as on the message).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any, assert_never

from sqlalchemy import Column, Float, Integer, String, Table, and_, case, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from ledger.message import Message, MessageEvent
from ledger.providers import provider_of
from ledger.readmodels import FUNNEL_BY, FunnelBy, FunnelRow, Latency
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
    Column("provider", String(16), index=True),
    Column("pricing_category", String(64), index=True),
    Column("billable", Integer),  # 1 or 0 as the provider said; NULL when it said nothing
    # The earliest time known for the message (its day's moment): summary(since=, until=) filters on it.
    Column("first_at", UTCDateTime(), index=True),
)

_TIMES = ("accepted_at", "sent_at", "delivered_at", "read_at", "failed_at")


def fold(row: Row | None, event: MessageEvent) -> Row:
    """The message's funnel row after ``event`` (pure; ``row`` is not modified)."""
    if isinstance(event, Message.Opened):
        new: Row = {"aggregate_id": aggregate_key(event.originator_id), "campaign": None, "day": None}
        new |= dict.fromkeys(_TIMES) | {"status": Status.ACCEPTED.value, "provider": provider_of(event.message_id)}
        new |= {"pricing_category": None, "billable": None, "first_at": None}
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
            if event.facts:
                _pricing(new, event.facts, late=isinstance(event, Message.StageReportedLate))
        elif isinstance(event, Message.ReportRejected):
            pass  # a rejected report moves nothing in the funnel
        else:
            # An event added to MessageEvent but not folded here fails mypy on this line.
            assert_never(event)
    known = [new[name] for name in _TIMES if new[name] is not None]
    new["first_at"] = min(known) if known else None
    new["day"] = new["first_at"].date().isoformat() if known else None
    new["sent_to_delivered"] = _seconds(new["sent_at"], new["delivered_at"])
    new["delivered_to_read"] = _seconds(new["delivered_at"], new["read_at"])
    return new


def _pricing(row: Row, facts: dict[str, str], *, late: bool) -> None:
    """The report's pricing facts into ``row``: the newest win; a late report's only fill in."""
    category = facts.get("pricing_category")
    billable = {"true": 1, "false": 0}.get(facts.get("billable", ""))
    if category is not None and not (late and row["pricing_category"] is not None):
        row["pricing_category"] = category
    if billable is not None and not (late and row["billable"] is not None):
        row["billable"] = billable


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

    def summary(
        self,
        *,
        by: FunnelBy | None = None,
        campaign: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[FunnelRow]:
        """The funnel overall (``by=None``: one row), or one row per campaign, day, provider or pricing category.

        ``campaign``: only its messages; ``since``/``until``: only messages whose first known
        time (``first_at``, the moment their ``day`` is taken from) is in ``[since, until)``.
        """
        if by is not None and by not in FUNNEL_BY:
            raise ValueError(f"by must be None or one of {', '.join(FUNNEL_BY)}; got {by!r}")
        table = funnel_table
        key = table.c[by] if by else None
        chosen = funnel_filter(campaign=campaign, since=since, until=until)
        reached = case((table.c.delivered_at.is_not(None) | table.c.read_at.is_not(None), 1), else_=0)
        read = case((table.c.read_at.is_not(None), 1), else_=0)
        billable = case((table.c.billable == 1, 1), else_=0)
        key_columns = [key.label("key")] if key is not None else []
        sums = (func.count(), func.sum(reached), func.sum(read), func.sum(billable))
        counts_query = (
            select(*key_columns, table.c.status, *sums)
            .where(chosen)
            .group_by(*([key] if key is not None else []), table.c.status)
        )
        groups: dict[str | None, dict[str, Any]] = {}
        latencies: dict[str | None, dict[str, list[float]]] = {}
        with self._connect() as connection:
            for row in connection.execute(counts_query):
                group_key = row[0] if key is not None else None
                status, count, reached_count, read_count, billable_count = row[-5:]
                group = groups.setdefault(group_key, _empty_group())
                group["counts"][Status(status)] += count
                group["reached"] += int(reached_count or 0)
                group["read"] += int(read_count or 0)
                group["billable"] += int(billable_count or 0)
            for name in ("sent_to_delivered", "delivered_to_read"):
                column = table.c[name]
                query = select(*key_columns, column).where(chosen, column.is_not(None)).order_by(column)
                for row in connection.execute(query):
                    group_key = row[0] if key is not None else None
                    latencies.setdefault(group_key, {}).setdefault(name, []).append(row[-1])
        if not groups and by is None:
            groups[None] = _empty_group()
        return [self._row(k, groups[k], latencies.get(k, {})) for k in sorted(groups, key=lambda k: k or "")]

    def campaigns(self) -> list[str]:
        """Every campaign a message names, in order (one index scan; no funnel is computed)."""
        column = funnel_table.c.campaign
        query = select(column).where(column.is_not(None)).distinct().order_by(column)
        with self._connect() as connection:
            return [campaign for (campaign,) in connection.execute(query)]

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
            billable=group["billable"],
        )


def funnel_filter(
    *, campaign: str | None = None, since: datetime | None = None, until: datetime | None = None
) -> ColumnElement[bool]:
    """The ``view_funnel`` rows of ``campaign``'s messages first known in ``[since, until)`` (None: any)."""
    table = funnel_table
    conditions: list[ColumnElement[bool]] = []
    if campaign is not None:
        conditions.append(table.c.campaign == campaign)
    if since is not None:
        conditions.append(table.c.first_at >= since)
    if until is not None:
        conditions.append(table.c.first_at < until)
    return and_(True, *conditions)


def _empty_group() -> dict[str, Any]:
    return {"counts": dict.fromkeys(Status, 0), "reached": 0, "read": 0, "billable": 0}

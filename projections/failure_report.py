"""The ``failure_report`` read model: one row per failure, and grouped summaries of them.

A failure is a ``delivery_failed`` report the ledger applied.  A ``delivery_failed``
report the ledger rejected as a contradiction (say, after ``read``) is kept too, as a
row with ``conflict`` set, so the report counts conflicts instead of hiding them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, Integer, String, Table, Text, and_, case, func, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement, Select

from ledger.message import Message, MessageEvent
from ledger.providers import PROVIDERS, message_key
from ledger.readmodels import GROUP_BY, Failure, FailureGroup, GroupBy
from ledger.sql import UTCDateTime
from ledger.status import Status
from projections.base import Connect, RowCache, aggregate_key, current_rows, execute_many, metadata, opened_in, upsert

SAMPLE_TRACE_IDS = 5

# What the report needs to know about each message to describe its failures.
failure_messages_table = Table(
    "view_failure_messages",
    metadata,
    Column("aggregate_id", String(32), primary_key=True),
    Column("message_id", String(256), nullable=False),
    Column("recipient", String(256)),
    Column("campaign", String(256)),
    Column("failures", Integer, nullable=False),
)

failures_table = Table(
    "view_failures",
    metadata,
    Column("aggregate_id", String(32), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("message_id", String(256), nullable=False, index=True),
    Column("recipient", String(256)),
    Column("campaign", String(256)),
    Column("failed_at", UTCDateTime(), nullable=False, index=True),
    Column("day", String(10), nullable=False),
    Column("conflict", Boolean, nullable=False),
    Column("code", String(256)),
    Column("type", String(256)),
    Column("message", Text),
    Column("user_title", Text),
    Column("user_message", Text),
    Column("trace_id", String(256)),
    Column("reason", Text),
)


class FailureReportProjection:
    """Maintains ``view_failures`` (and its per-message context) from the ledger's events."""

    name = "failure_report"
    tables = (failure_messages_table, failures_table)

    def process(self, session: Session, events: Sequence[MessageEvent], cache: RowCache) -> None:
        keys = {aggregate_key(e.originator_id) for e in events}
        context = current_rows(session, failure_messages_table, cache, keys, new=opened_in(events))
        changed: set[str] = set()
        failures: list[dict[str, Any]] = []
        late_campaigns: dict[str, str] = {}
        for event in events:
            key = aggregate_key(event.originator_id)
            if isinstance(event, Message.Opened):
                context[key] = {
                    "aggregate_id": key,
                    "message_id": event.message_id,
                    "recipient": event.recipient,
                    "campaign": None,
                    "failures": 0,
                }
                changed.add(key)
                continue
            message = context[key]
            campaign = None if isinstance(event, Message.ReportRejected) else event.campaign
            if campaign and not message["campaign"]:
                # A campaign learned after a failure (the send answer came late) describes it too.
                message["campaign"] = campaign
                changed.add(key)
                if message["failures"]:
                    late_campaigns[key] = campaign
                    for row in failures:
                        if row["aggregate_id"] == key:
                            row["campaign"] = campaign
            if isinstance(event, Message.StageReported | Message.ReportRejected) and event.stage == Status.FAILED.value:
                failures.append(_failure_row(message, event))
                message["failures"] += 1
                changed.add(key)
        upsert(
            session, failure_messages_table, [context[k] for k in sorted(changed)], fixed=("message_id", "recipient")
        )
        cache.update(context.values())
        for key, campaign in late_campaigns.items():
            session.execute(
                update(failures_table)
                .where(failures_table.c.aggregate_id == key, failures_table.c.campaign.is_(None))
                .values(campaign=campaign)
            )
        execute_many(session, insert(failures_table), failures)

    def clear(self, session: Session) -> None:
        session.execute(failures_table.delete())
        session.execute(failure_messages_table.delete())


def _failure_row(message: Mapping[str, Any], event: Message.StageReported | Message.ReportRejected) -> dict[str, Any]:
    error = event.error or {}
    conflict, reason = (True, event.reason) if isinstance(event, Message.ReportRejected) else (False, None)
    return {
        "aggregate_id": message["aggregate_id"],
        "version": event.originator_version,
        "message_id": message["message_id"],
        "recipient": message["recipient"],
        "campaign": message["campaign"],
        "failed_at": event.occurred_at,
        "day": event.occurred_at.date().isoformat(),
        "conflict": conflict,
        "code": error.get("code"),
        "type": error.get("type"),
        "message": error.get("message"),
        "user_title": error.get("user_title"),
        "user_message": error.get("user_message"),
        "trace_id": error.get("trace_id"),
        "reason": reason,
    }


class FailureReportView:
    """Queries over ``view_failures``."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def summary(
        self, *, by: GroupBy = "code", since: datetime | None = None, until: datetime | None = None
    ) -> list[FailureGroup]:
        """Failures in ``[since, until)`` grouped ``by`` code, type, campaign, recipient, day or provider.

        Largest first.
        """
        if by not in GROUP_BY:
            raise ValueError(f"by must be one of {', '.join(GROUP_BY)}; got {by!r}")
        table = failures_table
        key = _provider(table.c.message_id) if by == "provider" else table.c[by]
        window = _window(since, until)
        real = case((table.c.conflict, 0), else_=1)
        groups_query = (
            select(
                key.label("key"),
                func.sum(real).label("failures"),
                func.count().label("reports"),
                func.min(table.c.failed_at).label("first_at"),
                func.max(table.c.failed_at).label("last_at"),
            )
            .where(window)
            .group_by(key)
        )
        samples_query = _latest_trace_ids(key, window)
        with self._connect() as connection:
            groups = list(connection.execute(groups_query))
            samples: dict[str | None, list[str]] = {}
            for group_key, trace_id in connection.execute(samples_query):
                samples.setdefault(group_key, []).append(trace_id)
        total = sum(int(g.failures) for g in groups)
        result = [
            FailureGroup(
                key=g.key,
                count=int(g.failures),
                share=int(g.failures) / total if total else 0.0,
                conflicts=int(g.reports) - int(g.failures),
                first_at=g.first_at,
                last_at=g.last_at,
                trace_ids=tuple(samples.get(g.key, ())),
            )
            for g in groups
        ]
        result.sort(key=lambda g: (-g.count, -g.conflicts, g.key or ""))
        return result

    def failures(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        code: str | None = None,
        type: str | None = None,
        campaign: str | None = None,
        recipient: str | None = None,
        conflicts: bool = True,
        limit: int = 1000,
    ) -> list[Failure]:
        """Individual failures in ``[since, until)``, oldest first, optionally filtered."""
        table = failures_table
        query = select(table).where(_window(since, until)).order_by(table.c.failed_at, table.c.message_id).limit(limit)
        for column, value in (("code", code), ("type", type), ("campaign", campaign), ("recipient", recipient)):
            if value is not None:
                query = query.where(table.c[column] == value)
        if not conflicts:
            query = query.where(table.c.conflict.is_(False))
        with self._connect() as connection:
            rows = connection.execute(query).mappings().all()
        return [
            Failure(**{name: row[name] for name in Failure.__slots__} | {"conflict": bool(row["conflict"])})
            for row in rows
        ]


def _window(since: datetime | None, until: datetime | None) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if since is not None:
        conditions.append(failures_table.c.failed_at >= since)
    if until is not None:
        conditions.append(failures_table.c.failed_at < until)
    return and_(True, *conditions)


def _provider(message_id: ColumnElement[Any]) -> ColumnElement[Any]:
    """The provider of a ledger message id, as :func:`ledger.providers.provider_of` reads it."""
    whens = [(message_id.startswith(message_key(p, ""), autoescape=True), p) for p in PROVIDERS if p != "connectly"]
    return case(*whens, else_="connectly")


def _latest_trace_ids(key: ColumnElement[Any], window: ColumnElement[bool]) -> Select[tuple[Any, Any]]:
    """(key, trace id) of each group's latest ``SAMPLE_TRACE_IDS`` real failures in the window."""
    table = failures_table
    ranked = (
        select(
            key.label("key"),
            table.c.trace_id,
            func.row_number()
            .over(partition_by=key, order_by=(table.c.failed_at.desc(), table.c.trace_id))
            .label("rank"),
        )
        .where(window, table.c.trace_id.is_not(None), table.c.conflict.is_(False))
        .subquery()
    )
    return select(ranked.c.key, ranked.c.trace_id).where(ranked.c.rank <= SAMPLE_TRACE_IDS)

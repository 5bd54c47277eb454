"""Activity over time: stage reports and failures per UTC hour or day, counted in SQL from the views.

What is counted in a bucket:

- ``reports[status]``: messages whose ``<status>_at`` in ``view_funnel`` falls in it.  Each
  stage time is the one report that advanced the message to that stage or filled it in
  late (``accepted``: the send recorded); a duplicate changes no time and a rejected report
  none either, so neither is counted.  A message counts at most once per stage.
- ``failures[code]``: failure reports the ledger applied (``view_failures``, contradictions
  left out) whose failure time falls in it, by error code (:data:`ledger.readmodels.NO_CODE`
  for none).

Times are grouped by their UTC hour or day in the database: SQLite keeps them as text
(``YYYY-MM-DD HH:MM:SS.ffffff``, see :class:`ledger.sql.UTCDateTime`), so a prefix of it is
the bucket; PostgreSQL keeps ``timestamptz``, formatted at UTC with ``to_char``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from ledger.readmodels import BUCKET_SIZES, NO_CODE, ActivityBucket, BucketSize
from ledger.status import Status
from projections.base import Connect
from projections.failure_report import failures_table
from projections.funnel import funnel_table

#: How a bucket's text reads, per size: the same on both databases.
_FORMATS: dict[BucketSize, str] = {"hour": "%Y-%m-%d %H", "day": "%Y-%m-%d"}


class _HourOf(FunctionElement[str]):
    """A UTC time's hour as text, ``YYYY-MM-DD HH``."""

    type = String()
    inherit_cache = True


class _DayOf(FunctionElement[str]):
    """A UTC time's day as text, ``YYYY-MM-DD``."""

    type = String()
    inherit_cache = True


@compiles(_HourOf, "sqlite")
def _sqlite_hour(element: _HourOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 13)"


@compiles(_DayOf, "sqlite")
def _sqlite_day(element: _DayOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"substr({compiler.process(element.clauses, **kw)}, 1, 10)"


@compiles(_HourOf, "postgresql")
def _postgres_hour(element: _HourOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24')"


@compiles(_DayOf, "postgresql")
def _postgres_day(element: _DayOf, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


def bucket_of(column: ColumnElement[Any], size: BucketSize) -> ColumnElement[str]:
    """The text of the UTC hour or day ``column`` (a :class:`~ledger.sql.UTCDateTime`) falls in."""
    return _HourOf(column) if size == "hour" else _DayOf(column)


def bucket_start(text: str, size: BucketSize) -> datetime:
    """The first instant (UTC) of the bucket ``bucket_of`` names ``text``."""
    return datetime.strptime(text, _FORMATS[size]).replace(tzinfo=UTC)


class ActivityView:
    """Queries over ``view_funnel`` and ``view_failures`` by time (see the module docstring)."""

    def __init__(self, connect: Connect) -> None:
        self._connect = connect

    def buckets(
        self,
        *,
        bucket: BucketSize = "day",
        since: datetime | None = None,
        until: datetime | None = None,
        campaign: str | None = None,
    ) -> list[ActivityBucket]:
        """Reports and failures per hour or day in ``[since, until)``, oldest first; empty buckets left out.

        ``campaign``: only its messages' reports and failures.
        """
        if bucket not in BUCKET_SIZES:
            raise ValueError(f"bucket must be one of {', '.join(BUCKET_SIZES)}; got {bucket!r}")
        reports: dict[str, dict[Status, int]] = {}
        failures: dict[str, dict[str, int]] = {}
        with self._connect() as connection:
            for status in Status:
                for key, count in connection.execute(_reports_query(status, bucket, since, until, campaign)):
                    reports.setdefault(key, dict.fromkeys(Status, 0))[status] = int(count)
            for key, code, count in connection.execute(_failures_query(bucket, since, until, campaign)):
                failures.setdefault(key, {})[NO_CODE if code is None else code] = int(count)
        return [
            ActivityBucket(
                start=bucket_start(key, bucket),
                reports=reports.get(key) or dict.fromkeys(Status, 0),
                failures=failures.get(key, {}),
            )
            for key in sorted(reports.keys() | failures.keys())
        ]


def _reports_query(
    status: Status, size: BucketSize, since: datetime | None, until: datetime | None, campaign: str | None
) -> Any:
    """(bucket, count) of the messages whose ``status`` time is in ``[since, until)``."""
    table = funnel_table
    column = table.c[f"{status.value}_at"]
    conditions = [column.is_not(None), *_window(column, since, until)]
    if until is not None:
        # Every stage time is at or after the message's first time: the index on it
        # skips the messages first known after the window.
        conditions.append(table.c.first_at < until)
    if campaign is not None:
        conditions.append(table.c.campaign == campaign)
    key = bucket_of(column, size)
    return select(key, func.count()).where(and_(*conditions)).group_by(key)


def _failures_query(size: BucketSize, since: datetime | None, until: datetime | None, campaign: str | None) -> Any:
    """(bucket, code, count) of the failures applied in ``[since, until)``."""
    table = failures_table
    conditions = [table.c.conflict.is_(False), *_window(table.c.failed_at, since, until)]
    if campaign is not None:
        conditions.append(table.c.campaign == campaign)
    key = bucket_of(table.c.failed_at, size)
    return select(key, table.c.code, func.count()).where(and_(*conditions)).group_by(key, table.c.code)


def _window(column: ColumnElement[Any], since: datetime | None, until: datetime | None) -> Iterable[Any]:
    if since is not None:
        yield column >= since
    if until is not None:
        yield column < until

"""The queries the ledger asks of its read models (the port :class:`ledger.readmodels.ReadModels`)."""

from __future__ import annotations

from datetime import datetime

from ledger.readmodels import (
    ActivityBucket,
    BucketSize,
    Failure,
    FailureGroup,
    FunnelBy,
    FunnelRow,
    GroupBy,
    StatusPage,
)
from ledger.status import Status
from projections.activity import ActivityView
from projections.current_status import CurrentStatusView
from projections.failure_report import FailureReportView
from projections.funnel import FunnelView


class ViewQueries:
    """The views' queries under the names :class:`~ledger.Ledger` uses (mixed into ``Projections``)."""

    activity_view: ActivityView
    current_status: CurrentStatusView
    failure_report: FailureReportView
    funnel: FunnelView

    def messages(
        self,
        *,
        status: Status | None = None,
        campaign: str | None = None,
        recipient: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        after: str | None = None,
    ) -> StatusPage:
        """Messages by last change, oldest first, keyset-paginated (see ``CurrentStatusView.list``)."""
        return self.current_status.list(
            status=status, campaign=campaign, recipient=recipient, since=since, until=until, after=after, limit=limit
        )

    def failures(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        code: str | None = None,
        type: str | None = None,
        campaign: str | None = None,
        recipient: str | None = None,
        limit: int = 1000,
    ) -> list[Failure]:
        """Each failure in ``[since, until)``, oldest first (see ``FailureReportView.failures``)."""
        return self.failure_report.failures(
            since=since, until=until, code=code, type=type, campaign=campaign, recipient=recipient, limit=limit
        )

    def failure_summary(
        self, *, by: GroupBy = "code", since: datetime | None = None, until: datetime | None = None
    ) -> list[FailureGroup]:
        """The failures in ``[since, until)`` grouped ``by``, largest first."""
        return self.failure_report.summary(by=by, since=since, until=until)

    def summary(
        self,
        *,
        by: FunnelBy | None = None,
        campaign: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[FunnelRow]:
        """The delivery funnel overall, or one row per campaign, day, provider or pricing category.

        Of ``campaign``'s messages first known in ``[since, until)`` (see ``FunnelView.summary``).
        """
        return self.funnel.summary(by=by, campaign=campaign, since=since, until=until)

    def campaigns(self) -> list[str]:
        """Every campaign a message names, in order."""
        return self.funnel.campaigns()

    def activity(
        self,
        *,
        bucket: BucketSize = "day",
        since: datetime | None = None,
        until: datetime | None = None,
        campaign: str | None = None,
    ) -> list[ActivityBucket]:
        """Reports and failures per hour or day, oldest first (see :mod:`projections.activity`)."""
        return self.activity_view.buckets(bucket=bucket, since=since, until=until, campaign=campaign)

"""Read models maintained from the ledger's notification log (see DESIGN §7).

>>> with Projections.open("sqlite:///ledger.db") as views:  # doctest: +SKIP
...     views.catch_up()
...     views.failure_report.summary(by="code")
"""

from ledger.readmodels import GROUP_BY, ActivityBucket, Failure, FailureGroup, FunnelRow, Latency, StatusPage, StatusRow
from projections.runner import Progress, ProjectionConflictError, Projections

__all__ = [
    "GROUP_BY",
    "ActivityBucket",
    "Failure",
    "FailureGroup",
    "FunnelRow",
    "Latency",
    "Progress",
    "ProjectionConflictError",
    "Projections",
    "StatusPage",
    "StatusRow",
]

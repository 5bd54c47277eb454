"""Read models maintained from the ledger's notification log (see DESIGN §7).

>>> with Projections.open("sqlite:///ledger.db") as views:  # doctest: +SKIP
...     views.catch_up()
...     views.failure_report.summary(by="code")
"""

from projections.current_status import StatusPage, StatusRow
from projections.failure_report import GROUP_BY, Failure, FailureGroup
from projections.funnel import FunnelRow, Latency
from projections.runner import Progress, ProjectionConflictError, Projections

__all__ = [
    "GROUP_BY",
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

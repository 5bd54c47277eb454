"""Prometheus metrics at ``GET /metrics``: what the receiver ingested, committed and answered.

Each :class:`~ledger.http.receiver.Receiver` has its own :class:`Metrics` and registry
(never prometheus-client's global one), so a host that includes several receivers, or a
test that builds many applications, sees each receiver's figures alone.  The route is
guarded like the reads: with an API token set it needs ``Authorization: Bearer <token>``
(the figures name no message, but the token rule is one rule for every route that is
not a probe or a provider's webhook).  Every label takes a bounded set of values: the
provider, the outcome, the route's path template (never the raw URL), the method, the
status code, the ledger's error class and the view's name.

Counted as they happen: reports by provider and outcome, rejections stored, committed
batches' sizes and commit times (the writer's observer), answers by route and status,
storage errors by class.  Read at scrape time: the writer's queue depth and each view's
lag behind the notification log.

Under ``ledger serve --workers N`` each worker counts into files of prometheus-client's
multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, which the supervisor sets to a directory
of its own), and a scrape, whichever worker answers it, sums every worker's counters and
histograms.  The queue depth is then the answering worker's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from ledger.errors import StorageError
from ledger.http import problems
from ledger.http.problems import ProblemRoute
from ledger.http.state import receiver_of
from ledger.status import Outcome
from ledger.views import IngestOutcome
from projections import Projections

if TYPE_CHECKING:
    from ledger.http.runtime import Runtime

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
#: prometheus-client's environment variable: where each process of several writes its figures.
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
#: The providers whose reports are counted; the label takes no other value.
PROVIDERS = ("connectly", "meta", "twilio")
#: A report's outcome label: its kind, or ``malformed`` for a body that was no report at all.
OUTCOMES = (*(outcome.value for outcome in Outcome), "malformed")
# Batch sizes up to the writer's default max_batch (500) and a little beyond.
_BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
# Commit times from a fast SQLite file (sub-millisecond) to a struggling database (seconds).
_COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """One receiver's metrics and their registry; ``runtime`` gives what runs now (or ``None``)."""

    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.reports = Counter(
            "ledger_reports_ingested",
            "Status reports ingested, by provider and outcome (malformed: a body that was no report).",
            ["provider", "outcome"],
            registry=self.registry,
        )
        self.rejections = Counter(
            "ledger_rejections_stored",
            "Reports refused into the rejection store (rejected or malformed), by provider; a provider's "
            "retry of an unmapped status counts again though the store keeps it once.",
            ["provider"],
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "ledger_writer_batch_reports",
            "Reports per batch the group-commit writer committed.",
            buckets=_BATCH_BUCKETS,
            registry=self.registry,
        )
        self.commit_seconds = Histogram(
            "ledger_writer_commit_duration_seconds",
            "How long each batch's ingest_many (one transaction) took.",
            buckets=_COMMIT_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "ledger_http_requests",
            "Answers by route (its path template), method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.storage_errors = Counter(
            "ledger_storage_errors",
            "Requests answered with a storage error (503 unavailable), by the ledger's error class.",
            ["error"],
            registry=self.registry,
        )
        for provider in PROVIDERS:
            self.rejections.labels(provider)
            for outcome in OUTCOMES:
                self.reports.labels(provider, outcome)
        scraped = _ScrapeCollector(runtime)
        self.registry.register(scraped)
        #: What a scrape shows: this registry, or in multiprocess mode every process's figures.
        self.exposed = self.registry
        directory = os.environ.get(MULTIPROCESS_DIRECTORY)
        if directory:
            # prometheus-client chose mmapped values when it was imported (by this variable).
            self.exposed = CollectorRegistry(auto_describe=True)
            MultiProcessCollector(self.exposed, path=directory)  # type: ignore[no-untyped-call]  # untyped upstream
            self.exposed.register(scraped)

    def ingested(self, provider: str, outcomes: Iterable[IngestOutcome]) -> None:
        """Count what one webhook's reports did."""
        for outcome in outcomes:
            label = "malformed" if outcome.malformed else outcome.kind.value
            self.reports.labels(provider, label).inc()
            if outcome.kind is Outcome.REJECTED:
                self.rejections.labels(provider).inc()

    def observe_batch(self, size: int, seconds: float) -> None:
        """The writer's observer: one committed batch."""
        self.batch_size.observe(size)
        self.commit_seconds.observe(seconds)

    def observe_answer(self, route: str, method: str, status: int, error: Exception | None) -> None:
        """A :class:`~ledger.http.problems.ProblemRoute`'s observer: one answer (and its error, if any)."""
        self.requests.labels(route, method, str(status)).inc()
        if isinstance(error, StorageError):
            self.storage_errors.labels(type(error).__name__).inc()

    def exposition(self) -> bytes:
        """Every metric, in Prometheus' text format."""
        return generate_latest(self.exposed)


class _ScrapeCollector(Collector):
    """The figures read when scraped: the writer's queue depth and each view's lag in events."""

    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self._runtime = runtime

    def describe(self) -> Iterator[Metric]:
        # Described without reading the database when the collector is registered.
        yield GaugeMetricFamily("ledger_writer_queue_depth", "Submissions waiting for the writer.")
        yield GaugeMetricFamily("ledger_projection_lag_events", "Events in the log a view has not processed yet.")

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily("ledger_writer_queue_depth", "Submissions waiting for the writer.")
        lag = GaugeMetricFamily(
            "ledger_projection_lag_events", "Events in the log a view has not processed yet.", labels=["view"]
        )
        running = self._runtime()
        if running is not None:
            depth.add_metric([], running.writer.pending)
            for view, behind in _lags(running).items():
                lag.add_metric([view], behind)
        yield depth
        yield lag


def _lags(running: Runtime) -> dict[str, int]:
    """Each view's lag (log head minus its position); none when the database does not answer."""
    try:
        views = running.ledger.reader.read_models(fresh=False)  # Opened on first use: it may fail too.
        if not isinstance(views, Projections):
            return {}
        head = views.head()
        return {name: max(0, head - position) for name, position in views.positions().items()}
    except Exception as error:  # A scrape still answers the in-memory figures.
        logger.warning("the views' positions could not be read: %s", error)
        return {}


def count_ingested(request: Request, provider: str, outcomes: Iterable[IngestOutcome]) -> None:
    """Count a webhook's outcomes in the metrics of the receiver serving ``request``, if it keeps any."""
    found = receiver_of(request).metrics
    if found is not None:
        found.ingested(provider, outcomes)


def metrics(request: Request) -> Response:
    """Every metric of this receiver, in Prometheus' text format (on a worker thread: it reads the views)."""
    found = receiver_of(request).metrics
    assert found is not None  # The route is served only with metrics on.
    return Response(found.exposition(), media_type=CONTENT_TYPE_LATEST)


def router() -> APIRouter:
    """The metrics route (the receiver guards it as it guards the reads)."""
    routes = APIRouter(route_class=ProblemRoute)
    routes.add_api_route(
        METRICS_PATH,
        metrics,
        response_class=Response,
        responses={
            200: {"description": "Prometheus' text format.", "content": {"text/plain": {}}},
            **problems.responses("unauthorized"),
        },
    )
    return routes

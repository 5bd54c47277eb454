"""The views as of a past moment beside a full rebuild: ``python -m benchmarks.timetravel [--quick]``.

One stream of webhook bodies is ingested in batches of 1,000, the ledger's clock moving a
second per batch; then, on that log:

- full rebuild: ``Projections.rebuild()`` of the three views (the baseline);
- as of the middle: ``projections.past.rebuild_as_of`` at the received time of the middle
  batch (what ``ledger summary --as-of`` and ``failures --as-of`` do), which reads the whole
  log and folds the half received by then into throwaway in-memory views.

Both are given in events read per second (the whole log, for both).  SQLite file by default;
``--postgres-url`` (a server: the run makes its own database there and drops it) runs the
same on PostgreSQL.  Only the calls named are timed.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import count, islice
from pathlib import Path

from benchmarks.aio import databases
from benchmarks.report import Figure, print_table
from benchmarks.workload import traffic_for, webhook_texts
from ledger import Ledger
from projections import Projections
from projections.past import rebuild_as_of

T0 = datetime(2026, 1, 1, tzinfo=UTC)
BATCH = 1000


def write(url: str, bodies: list[str]) -> datetime:
    """Ingest ``bodies`` a batch a second from ``T0``; the received time of the middle batch."""
    seconds = count()
    with Ledger.open(url, clock=lambda: T0 + timedelta(seconds=next(seconds))) as ledger:
        for first in range(0, len(bodies), BATCH):
            ledger.ingest_many(bodies[first : first + BATCH])
    batches = -(-len(bodies) // BATCH)
    return T0 + timedelta(seconds=batches // 2)


def measure(new_database: Callable[[str], str], bodies: list[str], backend: str) -> list[Figure]:
    """The full rebuild and the rebuild as of the middle, on one backend."""
    url = new_database("timetravel")
    middle = write(url, bodies)
    with Projections.open(url, create=False) as views:
        start = time.perf_counter()
        events = views.rebuild()
        full_seconds = time.perf_counter() - start
        start = time.perf_counter()
        with rebuild_as_of(views.ledger, middle) as past:
            past_seconds = time.perf_counter() - start
            if past.read != events or not 0 < past.processed < events:
                raise AssertionError(f"read {past.read} of {events} events, folded {past.processed}")
            folded = past.processed
    section = f"views as of a past moment ({backend}, {len(bodies):,} reports, {events:,} events)"
    full = "Projections.rebuild(), the whole log"
    return [
        Figure(section, full, events / full_seconds, "events/s"),
        Figure(
            section,
            "rebuild_as_of(the middle), the whole log read",
            events / past_seconds,
            "events/s",
            baseline=full,
            baseline_value=events / full_seconds,
            note=f"{folded:,} events folded",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few thousand reports: a smoke test")
    parser.add_argument("--reports", type=int, default=300_000, help="reports in the stream")
    parser.add_argument("--postgres-url", default=None, help="also run on this PostgreSQL server")
    args = parser.parse_args(argv)
    reports = 3000 if args.quick else args.reports
    bodies = list(islice(webhook_texts(traffic_for(reports, seed=7)), reports))
    with tempfile.TemporaryDirectory(prefix="ledger-bench-timetravel-") as directory:
        with databases(None, Path(directory)) as new_database:
            figures = measure(new_database, bodies, "SQLite file")
        if args.postgres_url:
            with databases(args.postgres_url, Path(directory)) as new_database:
                figures += measure(new_database, bodies, "PostgreSQL")
    print_table("The views as of a past moment beside a full rebuild", figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
